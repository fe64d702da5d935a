"""``rtlgen gen``: generate multiplier netlists.

``rtlgen gen FAMILY --PARAM N ... (--signed|--unsigned) --out FILE.v`` writes one netlist;
``rtlgen gen accel --config ACCEL.toml --lib LIBDIR --out DIR`` writes the accelerator's Verilog
(:mod:`rtlgen.accel`); ``rtlgen gen sweep --out DIR`` regenerates the shipped set (``netlists/generated``). Each action
is a sub-subcommand of ``gen`` registered by a ``_register_*`` function below, so further ones
(e.g. ``gen accel``) slot in beside them.
"""
from __future__ import annotations

import argparse
import sys

from rtlgen.gen import FAMILIES, get_family, make_spec, write_netlist
from rtlgen import resources
from rtlgen.cli._args import positive_int

__all__ = ["register"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gen", help="generate multiplier netlists (ROUP, array, Baugh-Wooley, truncated, BAM)",
        description="Generate gate-level Verilog netlists of 8x8 multipliers.")
    sub = parser.add_subparsers(dest="gen_command", metavar="ACTION", required=True)
    _register_families(sub)
    _register_sweep(sub)
    _register_accel(sub)


def _register_families(sub) -> None:
    for name, cls in FAMILIES.items():
        p = sub.add_parser(name, help=cls.title, description=cls.title)
        for param in cls.params:
            if param.flag:
                p.add_argument(f"--{param.name}", action="store_true", help=param.help)
            else:
                ranges = (f"{param.lo}..{param.hi_unsigned} unsigned, "
                          f"{param.lo}..{param.hi_signed} signed")
                p.add_argument(f"--{param.name}", type=int, required=True, metavar="N",
                               help=f"{param.help} ({ranges})")
        if len(cls.signedness) > 1:
            sign = p.add_mutually_exclusive_group(required=True)
            sign.add_argument("--signed", dest="signed", action="store_true", default=None,
                              help="two's complement operands and output")
            sign.add_argument("--unsigned", dest="signed", action="store_false",
                              help="unsigned operands and output")
        else:
            only = cls.signedness[0]
            p.add_argument("--signed" if only else "--unsigned", dest="signed",
                           action="store_const", const=only, default=only,
                           help=f"{'signed' if only else 'unsigned'} (the only kind)")
        p.add_argument("--out", required=True, metavar="FILE.v", help="netlist to write")
        p.set_defaults(handler=_generate, family=name)


def _register_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="regenerate the shipped set of generated netlists",
                       description="Generate every shipped multiplier, check each against its "
                                   "reference model, and write the manifest.")
    p.add_argument("--out", default=str(resources.GENERATED_NETLISTS), metavar="DIR",
                   help="folder to write (default: netlists/generated of the checkout)")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="parallel generators")
    p.add_argument("--no-cost", dest="cost", action="store_false",
                   help="leave hardware cost out of the manifest (faster)")
    p.set_defaults(handler=_sweep)


def _generate(args: argparse.Namespace) -> int:
    family = get_family(args.family)
    values = {p.name: int(getattr(args, p.name)) for p in family.params}
    try:
        spec = make_spec(args.family, args.signed, **values)
    except ValueError as exc:
        print(f"rtlgen gen {args.family}: error: {exc}", file=sys.stderr)
        return 2
    path = write_netlist(spec, args.out)
    for note in spec.notes:     # after the write: an error is then the only line on stderr
        print(f"note: {note}", file=sys.stderr)
    print(f"{path}: {spec.describe()} (module {spec.module_name})")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from rtlgen.gen.sweep import generate_set

    manifest = generate_set(args.out, jobs=args.jobs, cost=args.cost)
    print(f"{args.out}: {len(manifest['netlists'])} netlists and manifest.json")
    return 0


def _register_accel(sub) -> None:
    p = sub.add_parser("accel", help="generate the accelerator's Verilog from a configuration",
                       description="Elaborate the Amaranth accelerator for ACCEL.toml, with the "
                                   "library's multiplier netlists instantiated as they are, and "
                                   "write synthesizable Verilog, a file list, lint waivers and a "
                                   "manifest to the output folder.")
    p.add_argument("--config", required=True, metavar="ACCEL.toml",
                   help="accelerator configuration (see flows/accel_default.toml)")
    p.add_argument("--lib", required=True, metavar="LIBDIR", help="multiplier library (catalog)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--axi", action="store_true",
                   help="embed the AXI front end (s_axil_*, s_axis_*: registers, bitstream checker) in the top")
    p.add_argument("--no-clock-gating", dest="clock_gating", action="store_false",
                   help="clock the multipliers' operand registers on clk with an enable instead of gated "
                        "clocks (same function; for before/after power measurements)")
    p.set_defaults(handler=_accel)


def _accel(args: argparse.Namespace) -> int:
    from rtlgen.accel.config import load_config
    from rtlgen.accel.generate import generate_accelerator
    from rtlgen.library.catalog import Catalog

    design = generate_accelerator(load_config(args.config), Catalog.open(args.lib), args.out, axi=args.axi,
                                  clock_gating=args.clock_gating)
    print(f"{design.top}: top {design.top.stem}, {len(design.netlists)} multiplier netlists, "
          f"config hash {design.config_hash}{'' if args.clock_gating else ', no clock gating'}")
    print(f"{design.out_dir / 'regs.md'}, {design.out_dir / 'rtlgen_accel_regs.h'}: register map; "
          f"{design.out_dir / 'device' / 'rtlgen_accel_device.v'}: AXI front end")
    return 0
