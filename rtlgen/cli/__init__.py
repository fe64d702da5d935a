"""The ``rtlgen`` command line: a thin layer over the library API.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function ``(args) -> int``. Handlers call into the
library; the library raises :class:`rtlgen.errors.RtlgenError`, and only this module prints it and
exits non-zero (``--traceback`` shows the whole trace).

Exit statuses (the same for every command; :data:`EXIT_STATUSES`, shown by ``rtlgen --help``):

* 0: success;
* 1: an error in an input file, a tool or a check (one line on stderr: ``rtlgen COMMAND: error:
  FILE[:LINE]: what was found, what was expected``), or a failed verification;
* 2: a usage error (unknown option, bad value such as ``--limit -1``), one line on stderr;
* 130: interrupted (Ctrl-C).

Nothing is left half-written on an error: files are written atomically, folders into a
temporary sibling renamed into place at the end.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rtlgen import __version__
from rtlgen.errors import RtlgenError

__all__ = ["main", "build_parser", "EXIT_STATUSES"]

#: Subcommand modules, in the order ``rtlgen --help`` lists them. Every module of this package
#: with a ``register`` function is a subcommand; those not listed here follow alphabetically.
ORDER = ["table", "lib", "verify", "cost", "gen", "emulate", "map", "bitstream", "hil", "accel", "flow", "demo"]

#: Exit status -> meaning, for every command.
EXIT_STATUSES = {
    0: "success",
    1: "error in an input file, a tool or a check (one line on stderr naming the file)",
    2: "usage error: unknown option or bad value (one line on stderr)",
    130: "interrupted",
}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (argparse prints the whole usage first), so that
    every error of every command is exactly one line on stderr."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _subcommand_modules() -> list[str]:
    import pkgutil

    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rtlgen",
        description="Approximate-multiplier DNN accelerator co-design: netlists, tables, RTL, mapping.",
        epilog="exit status: " + "; ".join(f"{k} {v}" for k, v in EXIT_STATUSES.items())
               + ". Add --traceback (before COMMAND) for the full Python trace of an error.",
    )
    parser.add_argument("--traceback", action="store_true", help="show the full Python traceback on errors")
    parser.add_argument("--version", action="version", version=f"rtlgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _subcommand_modules():
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _message(exc: BaseException) -> str:
    """One line: an OSError by its file name and reason (``str()`` shows ``[Errno 2] ...``)."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        files = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else f"{exc.filename}"
        return f"{files}: {exc.strerror}"
    text = str(exc) or type(exc).__name__
    return text


class _StderrLine(logging.Handler):
    """A library notice as one plain line on the *current* ``sys.stderr`` (looked up per record,
    so a redirected stream is honoured)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _notices_to_stderr() -> None:
    """The library's INFO notices a user should see (which emulation engine ``auto`` chose and
    why, :func:`rtlgen.emulate.engines.get_engine`) go to stderr, once the work reaches them:
    after the inputs are checked, so a bad input still gets exactly one line."""
    logger = logging.getLogger("rtlgen.emulate")
    if not any(isinstance(h, _StderrLine) for h in logger.handlers):
        logger.addHandler(_StderrLine())
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (:data:`EXIT_STATUSES`). A usage error raises
    ``SystemExit(2)`` as argparse does, after printing its one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _notices_to_stderr()
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:  # e.g. `rtlgen lib list | head`
        return 0
    except KeyboardInterrupt:
        print("rtlgen: interrupted", file=sys.stderr)
        return 130
    except (RtlgenError, ValueError, TypeError, OSError) as exc:
        if args.traceback:
            raise
        print(f"rtlgen {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line, and the way to the trace
        if args.traceback:
            raise
        print(f"rtlgen {args.command}: internal error: {type(exc).__name__}: {_message(exc)} "
              "(rerun with 'rtlgen --traceback ...' and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
