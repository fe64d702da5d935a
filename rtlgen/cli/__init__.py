"""The ``rtlgen`` command line: a thin layer over the library API.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args) -> int``. Handlers call into the
library; the library raises :class:`rtlgen.errors.RtlgenError`, and only this module prints it and
exits non-zero (``--traceback`` shows the whole trace).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from rtlgen import __version__
from rtlgen.errors import RtlgenError

__all__ = ["main"]

#: Subcommand modules, in the order ``rtlgen --help`` lists them. Every module of this package
#: with a ``register`` function is a subcommand; those not listed here follow alphabetically.
ORDER = ["table", "lib", "verify", "cost", "gen", "emulate", "map", "bitstream", "hil", "accel", "flow", "demo"]


def _subcommand_modules() -> list[str]:
    import pkgutil

    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtlgen",
        description="Approximate-multiplier DNN accelerator co-design: netlists, tables, RTL, mapping.",
    )
    parser.add_argument("--traceback", action="store_true", help="show the full Python traceback on errors")
    parser.add_argument("--version", action="version", version=f"rtlgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _subcommand_modules():
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # e.g. `rtlgen lib list | head`
        return 0
    except (RtlgenError, ValueError, TypeError, OSError) as exc:
        if args.traceback:
            raise
        print(f"rtlgen {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rtlgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
