"""``rtlgen verify``: exhaustive simulation of netlists against truth tables.

Exit status 0 only when every operand pair of every netlist matches; 1 when some differ (each
failing multiplier is printed with its mismatch count, first operands (a, b), expected and got
values); other errors (missing simulator, bad netlist) are reported by :mod:`rtlgen.cli`.
"""
from __future__ import annotations

import os
from pathlib import Path

from rtlgen.arrays import read_npy
from rtlgen.errors import ConfigError
from rtlgen.netlist.reader import read_netlist
from rtlgen.sim.simulators import SIMULATORS
from rtlgen.netlist.table import check_table
from rtlgen.sim.verify import DEFAULT_BATCH, Multiplier, VerificationReport, catalog_multipliers, verify
from rtlgen.cli._args import positive_int

DEFAULT_LIB = os.environ.get("RTLGEN_LIB", "build/lib")


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="simulate netlists over all 65,536 operand pairs and compare with their tables",
        description="Exhaustive verification by HDL simulation (cocotb). Either one NETLIST with --table, "
                    "or library entries with --lib (both netlists of each entry: generic and pdk45).",
    )
    p.add_argument("netlist", nargs="?", help="Verilog netlist of one multiplier (with --table)")
    p.add_argument("names", nargs="*", help="with --lib: entry names, aliases or hashes")
    p.add_argument("--table", help="expected table: .npy, int32 (256, 256), T[a, b] (see rtlgen.netlist.table)")
    p.add_argument("--lib", help=f"library folder: verify its entries (e.g. {DEFAULT_LIB})")
    p.add_argument("--all", action="store_true", help="with --lib: every entry")
    p.add_argument("--sim", choices=sorted(SIMULATORS), default="verilator", help="simulator (default: verilator)")
    sign = p.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_true", default=None,
                      help="operands and output are two's complement (default: from the name, mul8s_* signed)")
    sign.add_argument("--unsigned", dest="signed", action="store_false")
    p.add_argument("--top", help="top module of NETLIST (default: the file's top-most module)")
    p.add_argument("--build-dir", help="keep simulator builds here and reuse them (default: a temporary folder)")
    p.add_argument("--batch", type=positive_int, default=DEFAULT_BATCH,
                   help=f"multipliers per simulator build (default: {DEFAULT_BATCH})")
    p.add_argument("--jobs", type=positive_int, help="concurrent builds (default: CPU count, at most 2)")
    p.set_defaults(handler=run_verify)


def _multipliers(args) -> list[Multiplier]:
    if args.lib:
        names = ([args.netlist] if args.netlist else []) + list(args.names)
        if args.table or args.top or args.signed is not None:
            raise ConfigError("--table, --top, --signed and --unsigned apply to a NETLIST, not to --lib "
                              "(library entries carry their tables and signedness)")
        if args.all == bool(names):
            raise ConfigError("with --lib give either --all or entry NAMES (not both)")
        return catalog_multipliers(args.lib, None if args.all else names)
    if not args.netlist or args.names or args.all:
        raise ConfigError("give one NETLIST with --table T.npy, or --lib LIBDIR with --all or NAMES")
    if not args.table:
        raise ConfigError(f"--table T.npy is required to verify {args.netlist}")
    path = Path(args.netlist)
    # both inputs are read here, so that a bad one is reported before any simulator build
    read_netlist(path, top=args.top)
    table = read_npy(args.table, "expected a .npy file holding an int32 (256, 256) table T[a, b]")
    if args.signed is None:
        from rtlgen.netlist.multiplier import default_signedness

        signed = default_signedness(path.stem)
    else:
        signed = args.signed
    try:
        table = check_table(table, signed, what=f"table {args.table}")
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), file=args.table) from None
    return [Multiplier(path.stem, path, table, signed, args.top)]


def _print(report: VerificationReport) -> None:
    for r in report.results:
        if r.ok:
            print(f"ok    {r.name}: {r.pairs} pairs match")
        else:
            got = r.got if r.got is not None else f"X/Z (bits {r.got_bits})"
            a, b = r.first  # type: ignore[misc]
            print(f"FAIL  {r.name}: {r.mismatches} of {r.pairs} pairs differ; first (a, b) = ({a}, {b}): "
                  f"expected {r.expected}, got {got}  [{r.netlist}]")
    bad = len(report.failures)
    print(f"{report.simulator}: {len(report.results) - bad} of {len(report.results)} netlists match their tables "
          f"({report.builds} build(s), build {report.build_seconds:.1f} s, simulation {report.run_seconds:.1f} s)")


def run_verify(args) -> int:
    report = verify(_multipliers(args), simulator=args.sim, work_dir=args.build_dir, batch=args.batch, jobs=args.jobs)
    _print(report)
    return 0 if report.ok else 1
