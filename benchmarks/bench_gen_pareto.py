"""Error vs energy per multiplication of the generated multipliers beside EvoApprox's, and how much
energy ROUP(P, R) saves against the exact radix-4 Booth multiplier ROUP(0, 0).

Run: PYTHONPATH=. python benchmarks/bench_gen_pareto.py [--data DIR] [--jobs N]
        [--plot benchmarks/gen_pareto.png] [--cache build/gen_pareto_cost]

Generated multipliers: figures from ``netlists/generated/manifest.json`` (``rtlgen gen sweep``).
EvoApprox v2022: each generic netlist's table (rtlgen.netlist.multiplier), error metrics (rtlgen.netlist.metrics) and
cost (rtlgen.cost.multiplier, same liberty, operand stream and environment as the manifest's, cached per
circuit in the folder ``--cache``). Prints the ROUP savings table (markdown) and writes the plot.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rtlgen.cost.multiplier import JsonCostCache, hardware_cost  # noqa: E402
from rtlgen.gen.sweep import read_manifest  # noqa: E402
from rtlgen.netlist.multiplier import netlist_table  # noqa: E402
from rtlgen.netlist.metrics import error_metrics  # noqa: E402
from rtlgen.paths import REPO_ROOT, shared_data_dir  # noqa: E402

FAMILY_STYLE = {"roup": ("tab:red", "o"), "array": ("tab:green", "s"),
                "baugh_wooley": ("tab:green", "s"), "truncated": ("tab:blue", "v"),
                "bam": ("tab:purple", "D"), "drum": ("tab:orange", "P")}


def evoapprox_circuits(data: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(data.rglob("mul8*.v")):
        if not p.stem.endswith("_pdk45"):
            found.setdefault(p.stem, p)
    return found


def _evo_one(args):
    name, path, cache = args
    signed = name.startswith("mul8s")
    table = netlist_table(path, signed)
    cost = hardware_cost(path, signed=signed, name=name, cache=JsonCostCache(cache))
    return {"name": name, "signed": signed, "metrics": error_metrics(table, signed).as_dict(),
            "energy_pj": cost.energy_pj, "area_um2": cost.area_um2}


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (lower is better)."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="evoapproxlib-v2022 folder")
    ap.add_argument("--generated", type=Path, default=REPO_ROOT / "netlists" / "generated")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent / "gen_pareto.png")
    ap.add_argument("--cache", type=Path, default=REPO_ROOT / "build" / "gen_pareto_cost")
    args = ap.parse_args(argv)
    manifest = read_manifest(args.generated)
    gen = [e for e in manifest["netlists"] if "cost" in e]
    if len(gen) != len(manifest["netlists"]):
        raise SystemExit("the manifest lacks cost figures: run 'rtlgen gen sweep' (with cost)")
    data = args.data or shared_data_dir() / "evoapproxlib-v2022"
    circ = evoapprox_circuits(data)
    t0 = time.perf_counter()
    # one cache file per circuit: worker processes never write the same file
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        evo = list(pool.map(_evo_one, [(n, p, args.cache / f"{n}.json") for n, p in circ.items()]))
    wall = time.perf_counter() - t0

    # ---- ROUP savings against the exact Booth multiplier --------------------------------------
    print("## ROUP(P, R) energy against the exact radix-4 Booth multiplier ROUP(0, 0)\n")
    print("| signedness | P | R | energy pJ | saving | area um2 | area saving | MAE % | WCE % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for signed in (False, True):
        roup = [e for e in gen if e["family"] == "roup" and e["signed"] == signed]
        base = next(e for e in roup if e["params"] == {"p": 0, "r": 0})["cost"]
        for e in roup:
            c, m = e["cost"], e["metrics"]
            print(f"| {'signed' if signed else 'unsigned'} | {e['params']['p']} | {e['params']['r']} | "
                  f"{c['energy_pj']:.2f} | {100 * (1 - c['energy_pj'] / base['energy_pj']):.1f} % | "
                  f"{c['area_um2']:.0f} | {100 * (1 - c['area_um2'] / base['area_um2']):.1f} % | "
                  f"{m['mae_pct']:.4f} | {m['wce_pct']:.3f} |")
    print("\n## Other generated multipliers\n")
    print("| name | energy pJ | area um2 | MAE % | WCE % |")
    print("|---|---|---|---|---|")
    for e in gen:
        if e["family"] != "roup":
            print(f"| {e['name']} | {e['cost']['energy_pj']:.2f} | {e['cost']['area_um2']:.0f} | "
                  f"{e['metrics']['mae_pct']:.4f} | {e['metrics']['wce_pct']:.3f} |")

    # ---- who is on the Pareto front ------------------------------------------------------------
    print("\n## Pareto front (MAE %, energy) per signedness, generated and EvoApprox together\n")
    for signed in (False, True):
        pts = [(e["metrics"]["mae_pct"], e["cost"]["energy_pj"], e["name"], True) for e in gen
               if e["signed"] == signed]
        pts += [(e["metrics"]["mae_pct"], e["energy_pj"], e["name"], False) for e in evo
                if e["signed"] == signed]
        front = [pts[i] for i in pareto([(p[0], p[1]) for p in pts])]
        n_gen = sum(1 for p in front if p[3])
        print(f"- {'signed' if signed else 'unsigned'}: {len(front)} points on the front, {n_gen} generated: "
              + ", ".join(f"{p[2]} ({p[0]:.4f} %, {p[1]:.2f} pJ)" for p in front))
    print(f"\nEvoApprox: {len(evo)} circuits tabulated and costed in {wall:.1f} s wall ({args.jobs} jobs, "
          f"cached figures reused); machine: {platform.node()} {platform.machine()} python {platform.python_version()}")

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=False)
        for ax, signed in zip(axes, (False, True)):
            ev = [e for e in evo if e["signed"] == signed]
            ax.scatter([e["metrics"]["mae_pct"] for e in ev], [e["energy_pj"] for e in ev], c="0.55",
                       marker="x", label=f"EvoApprox v2022 ({len(ev)})")
            for fam, (color, marker) in FAMILY_STYLE.items():
                sel = [e for e in gen if e["signed"] == signed and e["family"] == fam]
                if sel:
                    ax.scatter([e["metrics"]["mae_pct"] for e in sel], [e["cost"]["energy_pj"] for e in sel],
                               c=color, marker=marker, label=f"{fam} ({len(sel)})", alpha=0.8)
            for e in gen:
                if e["signed"] == signed and e["family"] == "roup":
                    ax.annotate(f"{e['params']['p']},{e['params']['r']}",
                                (e["metrics"]["mae_pct"], e["cost"]["energy_pj"]), fontsize=6,
                                xytext=(2, 2), textcoords="offset points")
            ax.set_xscale("symlog", linthresh=1e-4)
            ax.set_xlim(left=0)
            ax.set_xlabel("MAE (% of 2^16); exact = 0")
            ax.set_ylabel("energy per multiplication (pJ), OSU018, uniform operands")
            ax.set_title(f"{'signed' if signed else 'unsigned'} 8x8 multipliers (ROUP labelled P,R)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
