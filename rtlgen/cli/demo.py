"""``rtlgen demo``: the main job on the embedded default, ``rtlgen flow run flows/digits_default.toml``.

The digits CNN (rtlgen.zoo) on the shipped generated multipliers: import and verify the library,
cost the candidates, search, generate the accelerator of each selected point, write its
bitstream, run hardware in the loop and write the report. No data files are needed.
"""
from __future__ import annotations

import argparse

from rtlgen import resources

DEFAULT_FLOW = resources.DEFAULT_FLOW


def _run(args: argparse.Namespace) -> int:
    from rtlgen.errors import ConfigError
    from rtlgen.flow import run_flow

    if not DEFAULT_FLOW.is_file():
        raise ConfigError("the default flow file is missing (run rtlgen demo from a checkout of the repository)",
                          file=str(DEFAULT_FLOW))
    res = run_flow(DEFAULT_FLOW, out=args.out, quiet=args.quiet)
    print(f"demo finished: ran {', '.join(res.ran) or 'nothing'}; cached {', '.join(res.cached) or 'nothing'}")
    print(f"report: {res.report}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the default flow (digits model, shipped netlists)", description=__doc__)
    p.add_argument("--out", metavar="RUN/", help="run folder (default build/flows/digits_default)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=_run)
