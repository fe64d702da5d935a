"""The seed papers' experiments on MLPerf Tiny ResNet-8 / CIFAR-10 (issue 15, items 1 and 2).

Runs variants of two flow files, each in its own run folder (``build/paper/VARIANT``; the
variant equal to a flow file as shipped runs in that file's own ``out`` folder), then tabulates
per variant and loss bound the least-energy point selected on the search split: multiplication
energy saving against the exact multiplier, search loss, held-out loss with its 95% interval
(paired per image, :mod:`rtlgen.mapper.stats`), and the best single multiplier at that bound.

* MAx-DNN (Leon et al., arXiv 2506.21371), ``flows/maxdnn_resnet8.toml``: the ROUP family only,
  granularity layer / filter / kernel, unsigned ROUP + signmag and signed ROUP + raw, no weight
  tuning, and histogram weight tuning at filter granularity.
* ALWANN (Mrazek et al., ICCAD 2019), ``flows/alwann_resnet8.toml``: the unsigned EvoApprox
  v2022 multipliers, layer granularity, 1..4 tiles (``flows/accel_tiles{1,2,3,4}.toml``),
  uniform (ALWANN's) and histogram (ours) weight tuning.

Rerunning reuses every finished step (:mod:`rtlgen.flow.cache`), so the script can be stopped
and restarted; ``--table`` only collects what has finished. A variant's run folder starts from
the records of the first variant of the same flow file (model, library and cost steps: their
keys do not depend on the variant), so the variants share that variant's library folder and
with it the per-layer multiplier energies cached in its entries (``CatalogEnergy``): computed
once per flow file instead of once per variant.

    python benchmarks/paper_resnet8.py [--only NAME ...] [--table] [--md OUT.md]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rtlgen.flow import load_flow
from rtlgen.flow.run import run_flow
from rtlgen.mapper.stats import select_points
from rtlgen.paths import REPO_ROOT

FLOWS = REPO_ROOT / "flows"
BOUNDS = (0.006, 0.02, 0.04)


@dataclass(frozen=True)
class Variant:
    name: str
    paper: str
    flow: str
    #: FlowConfig fields that differ from the flow file
    changes: tuple[tuple[str, Any], ...] = ()

    def label(self) -> str:
        parts = [f"tiles={Path(v).stem.replace('accel_tiles', '')}" if k == "accel" else f"{k}={v}"
                 for k, v in self.changes if k != "candidates"]
        return ", ".join(parts) or "as shipped"


def _variants() -> list[Variant]:
    """Most informative first (what runs when time is short): MAx-DNN's three levels with
    unsigned ROUP, ALWANN's 1..4 tiles with its own tuning, what histogram tuning adds to each,
    then signed ROUP and the remaining histogram-tuned tile counts."""
    roup = {"u": (("encoding", "signmag"), ("candidates", ("mul8u_roup_*",))),
            "s": (("encoding", "raw"), ("candidates", ("mul8s_roup_*",)))}

    def maxdnn(sign: str, gran: str, tuning: str = "none") -> Variant:
        ch = roup[sign] + (("granularity", gran),) + ((("weight_tuning", tuning),) if tuning != "none" else ())
        return Variant(f"maxdnn_{sign}_{gran}" + ("_hist" if tuning == "histogram" else ""), "MAx-DNN",
                       "maxdnn_resnet8.toml", ch)

    def alwann(tiles: int, tuning: str) -> Variant:
        ch = (("accel", FLOWS / f"accel_tiles{tiles}.toml"),) + ((("weight_tuning", tuning),) if tuning != "uniform" else ())
        return Variant(f"alwann_t{tiles}_{'hist' if tuning == 'histogram' else tuning}", "ALWANN",
                       "alwann_resnet8.toml", ch)

    return ([maxdnn("u", g) for g in ("filter", "layer", "kernel")]
            + [alwann(t, "uniform") for t in (4, 1, 2, 3)]
            + [maxdnn("u", "filter", "histogram"), alwann(4, "histogram")]
            + [maxdnn("s", g) for g in ("filter", "layer", "kernel")]
            + [maxdnn("s", "filter", "histogram")]
            + [alwann(t, "histogram") for t in (1, 2, 3)])


VARIANTS = _variants()


def _config(v: Variant):
    cfg = load_flow(FLOWS / v.flow)
    changed = {k: val for k, val in v.changes if getattr(cfg, k) != val}
    if not changed:
        return cfg
    return replace(cfg, name=v.name, out=REPO_ROOT / "build" / "paper" / v.name, **changed)


#: the steps whose records a variant takes over from the first variant of its flow file
_SHARED_STEPS = ("model", "generate", "library", "cost")


def _seed(run: Path, first: Path) -> None:
    """Start ``run`` from ``first``'s shared step records (a no-op once ``run`` has its own)."""
    import shutil

    if run == first or (run / ".flow").exists() or not (first / ".flow" / "library.json").is_file():
        return
    (run / ".flow").mkdir(parents=True)
    for step in _SHARED_STEPS:
        rec = first / ".flow" / f"{step}.json"
        if rec.is_file():
            shutil.copy(rec, run / ".flow" / rec.name)
    if (first / "cost.json").is_file():
        shutil.copy(first / "cost.json", run / "cost.json")


def _uniform_rows(map_dir: Path) -> list[dict[str, Any]]:
    """The one-multiplier-everywhere baselines as rows select_points reads."""
    rows = []
    with open(map_dir / "baselines.csv") as f:
        for r in csv.DictReader(f):
            if r["kind"] != "uniform":
                continue
            row = {k: float(r[k]) for k in ("search_accuracy", "test_accuracy", "search_loss", "test_loss", "energy",
                                            "energy_saving")}
            row["multiplier"] = r["multiplier"]
            if r.get("search_loss_high"):
                row["search_ci"] = {"high": float(r["search_loss_high"]), "low": float(r["search_loss_low"])}
                row["test_ci"] = {"high": float(r["test_loss_high"]), "low": float(r["test_loss_low"])}
            rows.append(row)
    return rows


def exact_circuits(v: Variant) -> dict[str, Any] | None:
    """The two exact circuits of one sign under ResNet-8's operands: ROUP(0, 0), radix-4 Booth
    (MAx-DNN's reference and, through the pattern, the mapper's: rtlgen.mapper.job), and the
    library entry's default netlist, the array (Baugh-Wooley) multiplier. Per layer, the energy
    per multiplication from the cost flow under that layer's operand histograms exactly as the
    mapper's energy model takes them (``CatalogEnergy``); ``ratio`` = MAC-weighted sum for the
    array over the same for Booth. Cached per reference netlist in build/paper/."""
    cfg = _config(v)
    run = Path(cfg.out)
    e_file = run / "map" / "energy_per_mult.json"
    lib_rec = run / ".flow" / "library.json"
    if not e_file.is_file() or not lib_rec.is_file():
        return None
    doc = json.loads(e_file.read_text())
    booth = doc["candidates"][0]        # the mapper's exact (candidates are ordered exact first)
    cache = REPO_ROOT / "build" / "paper" / f"exact_circuits_{booth}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    import numpy as np

    from rtlgen.cost.activity import ActivitySpec
    from rtlgen.cost.multiplier import implementation_costs
    from rtlgen.cost.pdk import get_pdk
    from rtlgen.emulate.encoding import TABLE_SIGNED
    from rtlgen.library.catalog import Catalog
    from rtlgen.mapper.network import layer_infos, load_images, parse_split
    from rtlgen.nn.tflite import load_tflite

    catalog = Catalog.open(json.loads(lib_rec.read_text())["outputs"]["lib"])
    array = catalog.get(booth).name
    x, _ = load_images(cfg.images_path, labels=False)
    layers = layer_infos(load_tflite(cfg.model_path), x[parse_split(cfg.search_split, len(x))],
                         encoding=cfg.encoding, signed=TABLE_SIGNED[cfg.encoding])
    e_booth, e_array = [], []
    for layer in layers:
        spec = ActivitySpec.make(layer.act_hist / layer.act_hist.sum(), layer.weight_hist / layer.weight_hist.sum(),
                                 n_vectors=cfg.energy_vectors, seed=0)
        (_, _, fb), (_, _, fa) = implementation_costs(catalog, [booth, array], activity=spec, pdk=get_pdk(cfg.pdk))
        e_booth.append(fb.energy_pj)
        e_array.append(fa.energy_pj)
    macs = np.asarray(doc["macs"], dtype=float)
    out = {"booth": booth, "array": array, "e_booth_pj": e_booth, "e_array_pj": e_array,
           "mapper_exact_pj": np.asarray(doc["energy"])[0].tolist(),
           "ratio": float(macs @ np.asarray(e_array) / (macs @ np.asarray(e_booth)))}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out, indent=1) + "\n")
    return out


def _ci(row: dict[str, Any], split: str) -> str:
    ci = row.get(f"{split}_ci")
    loss = 100 * row[f"{split}_loss"]
    return f"{loss:.2f}" if ci is None else f"{loss:.2f} [{100 * ci['low']:.2f}, {100 * ci['high']:.2f}]"


def collect(v: Variant) -> dict[str, Any] | None:
    cfg = _config(v)
    mdir = Path(cfg.out) / "map"
    if not (mdir / "summary.json").is_file():
        return None
    summary = json.loads((mdir / "summary.json").read_text())
    front = json.loads((mdir / "front.json").read_text())["front"]
    uniform = _uniform_rows(mdir)
    rows = []
    for b in BOUNDS:
        plain = select_points(front, b, "plain")
        conf = select_points(front, b, "confident")
        uni = select_points(uniform, b, "plain")
        rows.append({"bound": b, "plain": plain, "confident": conf, "uniform": uni})
    exact = exact_circuits(v) if v.paper == "MAx-DNN" else None
    return {"variant": v, "summary": summary, "rows": rows, "candidates": len(uniform), "exact": exact}


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| paper | variant | bound | energy saving | search loss [95% CI] | held-out loss [95% CI] | "
             "confident rule: saving, held-out loss | best one multiplier: saving, held-out loss |",
             "|---|---|---|---|---|---|---|---|"]
    for res in results:
        v = res["variant"]
        for r in res["rows"]:
            p, c, u = r["plain"], r["confident"], r["uniform"]
            cells = [v.paper, f"`{v.name}`", f"{100 * r['bound']:.1f}%"]
            if p is None:
                cells += ["no point", "-", "-"]
            else:
                cells += [f"{100 * p['energy_saving']:.1f}%", _ci(p, "search"), _ci(p, "test")]
            cells.append("none" if c is None else f"{100 * c['energy_saving']:.1f}%, {_ci(c, 'test')}")
            cells.append("none" if u is None else
                         f"{100 * u['energy_saving']:.1f}% ({u['multiplier']}), {_ci(u, 'test')}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants: "
                    + ", ".join(v.name for v in VARIANTS))
    ap.add_argument("--table", action="store_true", help="only tabulate the variants that have finished")
    ap.add_argument("--md", default=str(REPO_ROOT / "build" / "paper" / "paper_resnet8.md"))
    args = ap.parse_args(argv)
    known = {v.name: v for v in VARIANTS}
    unknown = [n for n in args.only or () if n not in known]
    if unknown:
        print(f"paper_resnet8: unknown variant {unknown[0]}; valid: {', '.join(known)}", file=sys.stderr)
        return 2
    todo = [known[n] for n in args.only] if args.only else VARIANTS
    times = {}
    if not args.table:
        for v in todo:
            t = time.time()
            print(f"== {v.name} ({v.paper}: {v.label()})", file=sys.stderr, flush=True)
            first = next(f for f in VARIANTS if f.flow == v.flow)
            _seed(Path(_config(v).out), Path(_config(first).out))
            run_flow(_config(v), progress=False)
            times[v.name] = time.time() - t
            print(f"== {v.name}: {times[v.name]:.0f} s", file=sys.stderr, flush=True)
    results = [r for r in (collect(v) for v in VARIANTS) if r is not None]
    md = table(results)
    missing = [v.name for v in VARIANTS if v.name not in {r["variant"].name for r in results}]
    info = []
    for r in results:
        s = r["summary"]
        info.append(f"- `{r['variant'].name}`: {r['variant'].label()}; {r['candidates']} candidates incl. exact, "
                    f"{s['units']} unit x {s['slots_per_unit']} slots, {s['evaluations']} mappings evaluated, "
                    f"exact model {100 * s['reference_search_accuracy']:.2f}% search / "
                    f"{100 * s['reference_test_accuracy']:.2f}% held out"
                    + (f", {times[r['variant'].name]:.0f} s" if r["variant"].name in times else ""))
    for e in {r["exact"]["booth"]: r["exact"] for r in results if r["exact"]}.values():
        info.append(f"- exact circuits: {e['array']} costs {e['ratio']:.2f}x the energy of {e['booth']} (the energy "
                    "reference) on ResNet-8's operands (MAC-weighted per-layer energies)")
    text = md + "\n" + "\n".join(info) + "\n" + (f"\nNot run: {', '.join(missing)}\n" if missing else "")
    Path(args.md).parent.mkdir(parents=True, exist_ok=True)
    Path(args.md).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
