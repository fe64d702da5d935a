"""``rtlgen flow run FLOW.toml``: the whole flow from a TOML file (format: rtlgen/flow/config.py)."""
from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from rtlgen.flow import run_flow

    res = run_flow(args.config, out=args.out, quiet=args.quiet)
    print(f"flow finished: ran {', '.join(res.ran) or 'nothing'}; cached {', '.join(res.cached) or 'nothing'}")
    print(f"report: {res.report}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("flow", help="run the end-to-end flow of a TOML file", description=__doc__)
    sub = p.add_subparsers(dest="flow_command", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="run (or resume) a flow; cached steps are reused")
    r.add_argument("config", metavar="FLOW.toml")
    r.add_argument("--out", metavar="RUN/", help="run folder (default: the file's [flow] out)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.set_defaults(handler=_run)
