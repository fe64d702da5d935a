"""``rtlgen cost``: area, delay, power and energy per multiplication of multipliers.

``rtlgen cost --lib LIBDIR [NAMES...]`` costs catalog entries (default: all) and gives each
figure also relative to the library's exact multiplier of the same signedness;
``rtlgen cost NETLIST.v`` costs one file (relative figures too when ``--lib`` is given).
``--pdk NAME`` chooses the process (:mod:`rtlgen.cost.pdk`, default sky130hd), ``--pdk-dir`` where
its liberty files are when they do not ship; ``--liberty FILE`` costs on a file of one's own.
"""
from __future__ import annotations

import json
import math
import os
import sys

from rtlgen.cost.activity import ActivitySpec
from rtlgen.library.catalog import Catalog
from rtlgen.cost.multiplier import CostFigures, catalog_costs, exact_entry, hardware_cost, implementation_costs, relative_to
from rtlgen.arrays import read_npy
from rtlgen.errors import CatalogError, ConfigError
from rtlgen.cost.pdk import DEFAULT_PDK, PDKS, get_pdk, pdk_names
from rtlgen.cost.sta import StaConfig
from rtlgen.cli._args import positive_float, positive_int

DEFAULT_LIB = os.environ.get("RTLGEN_LIB", "build/lib")


def register(sub) -> None:
    p = sub.add_parser(
        "cost", help="hardware cost: area, delay, power, energy per multiplication (Yosys + OpenSTA)",
        description="Synthesize multipliers to a standard-cell library with Yosys, time them with "
                    "OpenSTA and compute power from switching activity simulated through the "
                    "synthesized netlist. Units: area um^2, delay ns, power mW, energy pJ per "
                    "multiplication (one per clock cycle).")
    p.add_argument("netlist", nargs="?", help="one gate-level Verilog file (instead of --lib NAMES)")
    p.add_argument("names", nargs="*", help="with --lib: entries to cost (default: all)")
    p.add_argument("--lib", help=f"library folder (e.g. {DEFAULT_LIB})")
    p.add_argument("--kind", default="generic", help="which netlist of an entry to synthesize (default generic)")
    process = p.add_mutually_exclusive_group()  # argparse: giving both is a usage error
    process.add_argument("--pdk", choices=pdk_names(), default=None,
                   help=f"process: {', '.join(f'{n} ({PDKS[n].title})' for n in pdk_names())}; default {DEFAULT_PDK}")
    p.add_argument("--pdk-dir", action="append", default=[], metavar="DIR",
                   help="folder holding the PDK's liberty files when they do not ship with rtlgen "
                        "(gf180mcu, asap7; repeatable; also $RTLGEN_PDK_PATH)")
    process.add_argument("--liberty", help="a liberty file of one's own instead of a PDK (timed with INVX1 drive "
                                     "or 0.1 ns input transitions and 0.01 pF loads)")
    p.add_argument("--clock-ns", type=positive_float, default=StaConfig.clock_ns, help="clock period in ns (default 10)")
    p.add_argument("--vectors", type=positive_int, default=16384, help="operand pairs simulated (default 16384)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--a-hist", help=".npy with 256 probabilities of port A's bit patterns (default uniform)")
    p.add_argument("--b-hist", help=".npy with 256 probabilities of port B's bit patterns (default uniform)")
    p.add_argument("--jobs", type=positive_int, default=1, help="parallel processes for --lib (default 1)")
    p.add_argument("--json", help="also write all figures to this JSON file")
    p.add_argument("--signed", dest="signed", action="store_const", const=True, help="(single file) signed")
    p.add_argument("--unsigned", dest="signed", action="store_const", const=False, help="(single file) unsigned")
    p.set_defaults(handler=run)


def _hist(path: str | None):
    if path is None:
        return None
    return read_npy(path, "expected a .npy file with 256 probabilities of an operand's bit patterns")


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"


def run(args) -> int:
    a_hist, b_hist = _hist(args.a_hist), _hist(args.b_hist)
    try:
        activity = ActivitySpec.make(a_hist, b_hist, n_vectors=args.vectors, seed=args.seed)
    except ValueError as exc:
        given = ", ".join(f"{o} {p}" for o, p in (("--a-hist", args.a_hist), ("--b-hist", args.b_hist)) if p)
        raise ConfigError(f"{exc}" + (f" (given {given})" if given else "")) from None
    pdk = None
    if args.liberty is not None:
        liberty, config, process = args.liberty, StaConfig(clock_ns=args.clock_ns), f"liberty {args.liberty}"
    else:
        pdk = get_pdk(args.pdk).with_search(args.pdk_dir)
        liberty, config, process = None, pdk.sta_config(clock_ns=args.clock_ns), f"pdk {pdk.name}"
        pdk.liberty()  # a missing file is reported before any work
    catalog = Catalog.open(args.lib) if args.lib else None
    names = list(args.names)
    figures: list[CostFigures] = []
    if args.netlist and (catalog is None or os.path.isfile(args.netlist)):
        if names:
            print("rtlgen cost: error: give one NETLIST.v, or --lib LIBDIR with names", file=sys.stderr)
            return 2
        figures.append(hardware_cost(args.netlist, signed=args.signed, liberty=liberty, pdk=pdk,
                                     activity=activity, config=config))
    elif catalog is not None:
        if args.netlist:
            names.insert(0, args.netlist)
        # one row per netlist: two names of one function may be two circuits (rtlgen.library.catalog)
        figures = [f for _, _, f in implementation_costs(catalog, names or None, kind=args.kind, activity=activity,
                                                         config=config, liberty=liberty, pdk=pdk, jobs=args.jobs)]
    else:
        print("rtlgen cost: error: give a NETLIST.v or --lib LIBDIR", file=sys.stderr)
        return 2
    references: dict[bool, CostFigures | None] = {}
    notes = []
    if catalog is not None:
        for signed in sorted({f.signed for f in figures}):
            try:
                exact = exact_entry(catalog, signed)
            except CatalogError as exc:
                references[signed] = None
                notes.append(str(exc))
                continue
            references[signed] = catalog_costs(catalog, [exact.hash], kind=args.kind, activity=activity,
                                               config=config, liberty=liberty, pdk=pdk)[exact.hash]
        catalog.save()  # keep the cached figures
    rows = [("name", "cells", "area_um2", "delay_ns", "power_mW", "energy_pJ", "area/x", "delay/x",
             "power/x", "energy/x", "exact")]
    doc = []
    for f in sorted(figures, key=lambda f: f.energy_pj):
        ref = references.get(f.signed) if catalog is not None else None
        rel = relative_to(f, ref) if ref is not None else {}
        rows.append((f.name, str(f.cells), _fmt(f.area_um2, 6), _fmt(f.delay_ns), _fmt(f.power_mw),
                     _fmt(f.energy_pj), _fmt(rel.get("area"), 3), _fmt(rel.get("delay"), 3),
                     _fmt(rel.get("power"), 3), _fmt(rel.get("energy"), 3), ref.name if ref else "-"))
        doc.append({**f.to_json(), "relative_to_exact": rel, "exact": ref.name if ref else None})
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    print(f"# {process}, clock {config.clock_ns:g} ns, activity {activity.key}; "
          "x = relative to the exact multiplier of the same signedness")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        from rtlgen.paths import atomic_write_text
        atomic_write_text(args.json, json.dumps(doc, indent=1))
    return 0
