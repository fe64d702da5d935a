"""Cost of all 50 EvoApprox v2022 8x8 multipliers, and how it ranks against EvoApprox's PDK45 power.

Run: PYTHONPATH=. python benchmarks/bench_cost.py [--data DIR] [--jobs N] [--pdk NAME|all ...]
     [--pdk-dir DIR] [--generated] [--plot benchmarks/cost_vs_pdk45.png]

For each PDK (rtlgen.cost.pdk; default sky130hd, ``all`` = every registered one), synthesizes
each generic netlist to its cells (Yosys), times it (OpenSTA), simulates a uniform random
operand stream through the synthesized netlist and sums power (rtlgen.cost.multiplier); then compares our
power, area and energy with the figures EvoApprox publishes for PDK45 (the ``// PDK45_PWR`` header
of each netlist, cross-checked against meta.json): Spearman rank correlation, scatter plot, timings.
``--generated`` also costs every shipped generated netlist (rtlgen/data/netlists/generated) and
reports how many cost and the exact array multipliers' figures. The last lines summarize every
PDK in one table (the one in benchmarks/RESULTS.md). ``--accel`` also synthesizes the default
accelerator (flows/accel_default.toml: its units, lanes and multiplier banks) on each PDK and
times it (rtlgen.accel.synth.accelerator_timing: cells, area, Fmax; mapped with ABC's buffering and
sizing, ``--accel-unbuffered`` without), with the memories shrunk to
``--accel-memory`` bytes/words/channels (memories become flip-flops: the synthesis maps no SRAM macros, whose area and energy
rtlgen.accel.memories models apart; the full 32 KiB would not synthesize in reasonable time on a small machine). ``--accel-units N``
takes N units (the default's banks in turn) and ``--accel-device`` the device form (``gen accel
--axi``: one engine per unit, the sequencer's walkers and vector units, the AXI front end with its
configuration memory and a 256-byte weights store).
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rtlgen.cost.activity import ActivitySpec  # noqa: E402
from rtlgen.cost.multiplier import hardware_cost  # noqa: E402
from rtlgen.cost.pdk import get_pdk, pdk_names  # noqa: E402
from rtlgen.resources import GENERATED_NETLISTS  # noqa: E402
from rtlgen.paths import shared_data_dir  # noqa: E402

_HEADER = re.compile(r"^//\s*PDK45_(PWR|AREA|DELAY)\s*=\s*([0-9.]+)", re.M)


def published(path: Path) -> dict[str, float]:
    return {k.lower(): float(v) for k, v in _HEADER.findall(path.read_text(errors="replace"))}


def circuits(data: Path) -> dict[str, Path]:
    """One generic netlist per circuit name (the 129 files hold 50 circuits)."""
    found: dict[str, Path] = {}
    for p in sorted(data.rglob("mul8*.v")):
        if not p.stem.endswith("_pdk45"):
            found.setdefault(p.stem, p)
    return found


def meta_power(data: Path) -> dict[str, float]:
    out: dict[str, float] = {}

    def walk(x):
        if isinstance(x, dict):
            if "name" in x and "params" in x:
                out[x["name"]] = float(x["params"]["pwr"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads((data / "meta.json").read_text()))
    return out


def _one(args):
    name, path, n_vectors, pdk = args
    t = time.perf_counter()
    fig = hardware_cost(path, activity=ActivitySpec.make(n_vectors=n_vectors), name=name, pdk=pdk)
    return fig, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="evoapproxlib-v2022 folder")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--vectors", type=int, default=16384)
    ap.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent / "cost_vs_pdk45.png")
    ap.add_argument("--json", type=Path, default=None, help="write all figures here ({pdk} in the name: one per PDK)")
    ap.add_argument("--pdk", action="append", default=None, choices=pdk_names() + ["all"],
                    help="process (repeatable; default sky130hd; all = every registered PDK)")
    ap.add_argument("--pdk-dir", action="append", default=[], help="folder of liberty files (gf180mcu, asap7)")
    ap.add_argument("--generated", action="store_true", help="also cost the shipped generated netlists")
    ap.add_argument("--accel", action="store_true", help="also synthesize and time the default accelerator")
    ap.add_argument("--accel-memory", default="64,16,16", help="activation bytes, weight words, channels")
    ap.add_argument("--accel-units", type=int, default=None,
                    help="with --accel: this many units, the default's banks in turn (default: its 2)")
    ap.add_argument("--accel-device", action="store_true",
                    help="with --accel: the device (gen accel --axi: one engine per unit, the sequencer's walkers, "
                         "the AXI front end with its weights store shrunk to 256 bytes)")
    ap.add_argument("--accel-timeout", type=float, default=1200,
                    help="with --accel: seconds Yosys may take to map the accelerator")
    ap.add_argument("--no-multipliers", action="store_true", help="skip the multipliers (with --accel)")
    ap.add_argument("--accel-no-clock-gating", action="store_true",
                    help="generate the accelerator with gen accel --no-clock-gating (with --accel)")
    ap.add_argument("--accel-unbuffered", action="store_true",
                    help="map the accelerator without ABC's buffering and sizing (the power flow's netlist)")
    args = ap.parse_args(argv)
    names = args.pdk or ["sky130hd"]
    names = pdk_names() if "all" in names else names
    summary_rows, accel_rows = [], []
    for i, name in enumerate(names):
        pdk = get_pdk(name).with_search(args.pdk_dir or [shared_data_dir() / "liberty"])
        print(f"\n=== {pdk.name}: {pdk.title}")
        plot = args.plot if i == 0 and str(args.plot) not in ("", ".") else None  # --plot '': none
        if not args.no_multipliers:
            summary_rows.append(run_pdk(args, pdk, plot=plot))
        if args.accel:
            accel_rows.append(run_accel(args, pdk))
    print("\n| PDK | exact mul8u_1JJQ: cells, um^2, ns, pJ | mul8s_1KV6: cells, um^2, ns, pJ | "
          "Spearman power / area / delay vs PDK45 | generated netlists costed | wall s |")
    print("|---|---|---|---|---|---|")
    for row in summary_rows:
        print(row)
    if accel_rows:
        print("\n| PDK | cells | area mm^2 | critical path ns | Fmax MHz | critical path (start -> end register) "
              "| max fanout: on the path / any net but clk | synthesis + STA s |")
        print("|---|---|---|---|---|---|---|---|")
        for row in accel_rows:
            print(row)
    return 0


def run_accel(args, pdk) -> str:
    import tempfile
    from dataclasses import replace

    from rtlgen.accel.config import load_config
    from rtlgen.accel.generate import generate_accelerator
    from rtlgen.accel.synth import FMAX_CLOCK_TARGET_NS, accelerator_timing, map_accelerator
    from rtlgen.library.catalog import Catalog
    from rtlgen.netlist.multiplier import read_multiplier

    data = args.data or shared_data_dir() / "evoapproxlib-v2022"
    act, words, channels = (int(v) for v in args.accel_memory.split(","))
    config = load_config(Path(__file__).resolve().parent.parent / "flows" / "accel_default.toml")
    config = replace(config, activation_bytes=act, weight_words=words, channels=channels)
    if args.accel_units:
        banks = config.unit_multipliers
        config = replace(config, units=args.accel_units,
                         unit_multipliers=tuple(banks[u % len(banks)] for u in range(args.accel_units)))
    if args.accel_device:
        config = replace(config, weights_store_bytes=256)
    circ = circuits(data)
    with tempfile.TemporaryDirectory(prefix="bench-accel-") as tmp:
        cat = Catalog(Path(tmp) / "lib")
        for name in sorted({n for bank in config.unit_multipliers for n in bank}):
            _, table, signed = read_multiplier(circ[name])
            cat.add(table, signed, name, netlist=circ[name])
        cat.save()
        design = generate_accelerator(config, cat, Path(tmp) / "rtl", clock_gating=not args.accel_no_clock_gating,
                                      axi=args.accel_device)
        t = time.perf_counter()
        target = None if args.accel_unbuffered else FMAX_CLOCK_TARGET_NS
        mapped = map_accelerator(design, pdk=pdk, clock_target_ns=target, timeout=args.accel_timeout)
        timing = accelerator_timing(design, pdk=pdk, mapped=mapped)
        dt = time.perf_counter() - t
    # the fanout of every net (the clock aside: it is ideal) and of the nets along the critical path
    module, lib = mapped.module, mapped.library
    clock = set(module["ports"]["clk"]["bits"])
    loads: dict[int, int] = {}
    for cell in module["cells"].values():
        ins = set(lib.cell(cell["type"]).inputs)
        for pin, bits in cell["connections"].items():
            if pin in ins and isinstance(bits[0], int) and bits[0] not in clock:
                loads[bits[0]] = loads.get(bits[0], 0) + 1
    fanouts, n_cells = [], 0
    for point in timing.critical_path:
        cname, _, pin = point.partition("/")
        cell = module["cells"].get(cname)
        if cell is not None and pin in lib.cell(cell["type"]).outputs:
            fanouts.append(loads.get(cell["connections"][pin][0], 0))
            n_cells += 1
    names: dict[int, str] = {}
    for net, info in sorted(module["netnames"].items(), key=lambda kv: (kv[1].get("hide_name", 0), "$" in kv[0])):
        for i, bit in enumerate(info["bits"]):
            names.setdefault(bit, f"{net}[{i}]" if len(info["bits"]) > 1 else net)

    def register(point: str) -> str:
        """A path end point as a register (the flip-flop's Q net) or a port."""
        cname, _, _ = point.partition("/")
        cell = module["cells"].get(cname)
        if cell is None:
            return point
        q = next(bits[0] for p, bits in cell["connections"].items() if p in lib.cell(cell["type"]).outputs)
        return names.get(q, point)

    ends = (f"{register(timing.critical_path[0])} -> {register(timing.critical_path[-1])}"
            if timing.critical_path else "-")
    print(f"critical path: {ends}, {n_cells} cells, fanouts of its nets {fanouts}; "
          f"largest fanout of any net but the clock: {max(loads.values())}")
    print(f"accelerator {config.units}x{config.lanes}x{config.multipliers}{' device' if args.accel_device else ''} "
          f"(memories {args.accel_memory}) on "
          f"{pdk.name}{' (unbuffered)' if target is None else ''}: {timing.cells:,} cells, "
          f"{timing.area_um2 / 1e6:.3f} mm^2, {timing.delay_ns:.2f} ns, Fmax {timing.fmax_mhz:.0f} MHz ({dt:.0f} s)")
    return (f"| {pdk.name} | {timing.cells:,} | {timing.area_um2 / 1e6:.3f} | {timing.delay_ns:.2f} | "
            f"{timing.fmax_mhz:.0f} | `{ends}`, {n_cells} cells | {max(fanouts, default=0)} / {max(loads.values())} "
            f"| {dt:.0f} |")


def run_pdk(args, pdk, plot) -> str:
    data = args.data or shared_data_dir() / "evoapproxlib-v2022"
    circ = circuits(data)
    meta = meta_power(data)
    pub = {n: published(p) for n, p in circ.items()}
    for n in circ:
        if n in meta and abs(meta[n] - pub[n].get("pwr", meta[n])) > 1e-9:
            print(f"note: {n}: header PDK45_PWR {pub[n]['pwr']} != meta.json pwr {meta[n]}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_one, [(n, p, args.vectors, pdk) for n, p in circ.items()]))
        generated = {}
        if args.generated:
            gen = {p.stem: p for p in sorted(GENERATED_NETLISTS.glob("mul8*.v"))}
            for (f, _), n in zip(pool.map(_one, [(n, p, args.vectors, pdk) for n, p in gen.items()]), gen):
                generated[n] = f
    wall = time.perf_counter() - t0
    figs = {f.name: f for f, _ in results}
    per = [dt for _, dt in results]
    names = sorted(circ, key=lambda n: pub[n]["pwr"])
    print(f"{'name':12s} {'cells':>5s} {'area um2':>9s} {'delay ns':>8s} {'P mW':>8s} {'E pJ':>7s} {'STA mW':>8s} | "
          f"{'PDK45 mW':>8s} {'um2':>7s} {'ns':>5s}")
    for n in names:
        f, p = figs[n], pub[n]
        print(f"{n:12s} {f.cells:5d} {f.area_um2:9.0f} {f.delay_ns:8.3f} {f.power_mw:8.4f} {f.energy_pj:7.3f} "
              f"{f.sta_power_mw:8.4f} | {p['pwr']:8.4f} {p['area']:7.1f} {p['delay']:5.2f}")
    ref = np.array([pub[n]["pwr"] for n in names])
    rows = {
        "power (ours, simulated activity) vs PDK45 power": [figs[n].power_mw for n in names],
        "OpenSTA power (propagated) vs PDK45 power": [figs[n].sta_power_mw for n in names],
        "area vs PDK45 power": [figs[n].area_um2 for n in names],
        "area vs PDK45 area": ([figs[n].area_um2 for n in names], [pub[n]["area"] for n in names]),
        "delay vs PDK45 delay": ([figs[n].delay_ns for n in names], [pub[n]["delay"] for n in names]),
    }
    print()
    summary = {}
    for label, val in rows.items():
        x, y = (val if isinstance(val, tuple) else (val, ref))
        rho = spearmanr(x, y).statistic
        summary[label] = float(rho)
        print(f"Spearman {label}: {rho:.4f}")
    print(f"\n{len(circ)} circuits, {args.vectors} vectors each, {args.jobs} jobs: {wall:.1f} s wall, "
          f"{np.mean(per):.2f} s mean per circuit (synthesis + STA + simulation)")
    # The mapper's use: one circuit under many operand histograms (synthesis is kept in-process).
    exact = circ.get("mul8u_1JJQ")
    if exact is not None:
        rng = np.random.default_rng(0)
        hardware_cost(exact, activity=ActivitySpec.make(n_vectors=args.vectors), pdk=pdk)
        t = time.perf_counter()
        energies = []
        for _ in range(5):
            h = rng.exponential(size=256) * np.exp(-np.arange(256) / 32.0)
            energies.append(hardware_cost(exact, activity=ActivitySpec.make(h, h[::-1].copy(), n_vectors=args.vectors),
                                          pdk=pdk).energy_pj)
        dt = (time.perf_counter() - t) / 5
        print(f"mul8u_1JJQ under 5 random histograms: {dt:.2f} s each after the first "
              f"(energies {', '.join(f'{e:.2f}' for e in energies)} pJ; uniform {figs['mul8u_1JJQ'].energy_pj:.2f} pJ)")
    print(f"machine: {platform.node()} {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    if generated:
        for n in ("mul8u_array", "mul8s_baugh_wooley"):
            if n in generated:
                f = generated[n]
                print(f"generated {n}: {f.cells} cells, {f.area_um2:.1f} um^2, {f.delay_ns:.3f} ns, {f.energy_pj:.3f} pJ")
        print(f"generated netlists costed: {len(generated)}")
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        for signed, marker in ((False, "o"), (True, "^")):
            sel = [n for n in names if n.startswith("mul8s") == signed]
            ax.scatter([pub[n]["pwr"] for n in sel], [figs[n].power_mw for n in sel], marker=marker,
                       label=("signed" if signed else "unsigned") + f" ({len(sel)})")
        ax.set_xlabel("EvoApprox published power, PDK45 (mW)")
        ax.set_ylabel(f"rtlgen power, {pdk.name} @ 100 MHz, uniform operands (mW)")
        ax.set_title(f"50 EvoApprox 8x8 multipliers: Spearman rho = {summary[next(iter(rows))]:.3f}")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=120)
        print(f"plot: {plot}")
    if args.json:
        out = Path(str(args.json).replace("{pdk}", pdk.name))
        out.write_text(json.dumps({"pdk": pdk.name, "figures": {n: figs[n].to_json() for n in names},
                                   "generated": {n: f.to_json() for n, f in generated.items()},
                                   "published": pub, "spearman": summary}, indent=1))

    def ex(n: str) -> str:
        f = figs.get(n)
        return f"{f.cells}, {f.area_um2:,.0f}, {f.delay_ns:.2f}, {f.energy_pj:.3g}" if f else "-"

    rho = [summary[k] for k in ("power (ours, simulated activity) vs PDK45 power", "area vs PDK45 area",
                                "delay vs PDK45 delay")]
    return (f"| {pdk.name} | {ex('mul8u_1JJQ')} | {ex('mul8s_1KV6')} | {' / '.join(f'{r:.3f}' for r in rho)} | "
            f"{len(generated) if args.generated else '-'} | {wall:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
