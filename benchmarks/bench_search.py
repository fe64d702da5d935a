"""Wall time of the ResNet-8 split search alone (what `rtlgen map` spends most of its time on).

The NSGA-II split search of ``benchmarks/map_resnet8.py`` (every unsigned multiplier of LIB
and the exact one, `flows/accel_default.toml`'s shape, filter split, 8 levels, encoding auto,
histogram weight tuning, seed 1, search images 0..N-1) without the baselines, the layer-wise
search and the held-out evaluations. The energy table comes from the catalog's cost flow (slow
the first time for a new LIB or N, cached in the catalog after). Prints one JSON line: wall
time of the search, evaluations, load average, and the accuracy of every mapping evaluated
goes to ``OUT.accs.json`` (to check that two runs agree).

    python benchmarks/bench_search.py --lib LIB --out RUN [--generations 3 --pop 24 --images 500
        --workers 2 --prefix-cache-mb MB]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time


def main() -> int:
    import numpy as np

    from rtlgen.accel.config import load_config
    from rtlgen.cost.multiplier import exact_entry
    from rtlgen.cost.pdk import get_pdk
    from rtlgen.emulate.emulator import Emulator
    from rtlgen.library.catalog import Catalog
    from rtlgen.mapper.executors import make_executor
    from rtlgen.mapper.job import CatalogEnergy
    from rtlgen.mapper.network import EmulatorAccuracy, layer_infos
    from rtlgen.mapper.objectives import EnergyTable
    from rtlgen.mapper.search import SearchSettings, run_search
    from rtlgen.mapper.space import Candidate, SearchSpace
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.paths import REPO_ROOT, shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--pop", type=int, default=24)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--prefix-cache-mb", type=int, default=None)
    args = ap.parse_args()
    data = shared_data_dir()
    graph = load_tflite(data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    z = np.load(data / "cifar10" / "cifar10_test_first1017.npz")
    x, y = z["x"][:args.images], z["y"][:args.images]
    catalog = Catalog.open(args.lib)
    entries = list({e.hash: e for e in [exact_entry(catalog, False)] + [e for e in catalog.entries if not e.signed]}.values())
    cands = [Candidate.from_table(e.name, catalog.table(e.hash), e.signed) for e in entries]
    accel = load_config(REPO_ROOT / "flows" / "accel_default.toml")
    space = SearchSpace(layer_infos(graph, x, encoding="auto", signed=False), cands, n_units=accel.units,
                        slots_per_unit=accel.multipliers, granularity="filter", split_levels=8, encoding="signmag",
                        weight_tuning="histogram")
    model = EmulatorAccuracy(graph, x, y, {c.hash: c.table for c in cands},
                             act_hists=Emulator(graph).activation_histograms(x),
                             prefix_cache_bytes=None if args.prefix_cache_mb is None else args.prefix_cache_mb << 20)
    model.exact_outcomes  # once here, not in every worker
    table = EnergyTable(space, CatalogEnergy(catalog, jobs=args.workers, n_vectors=4096, pdk=get_pdk("sky130hd")))
    shutil.rmtree(args.out, ignore_errors=True)
    executor = make_executor("serial") if args.workers == 1 else make_executor("local", workers=args.workers)
    t0 = time.time()
    res = run_search(space, model, table, SearchSettings(generations=args.generations, pop_size=args.pop, seed=1),
                     args.out, executor=executor, progress=False)
    wall = time.time() - t0
    print(json.dumps({"wall_s": round(wall, 1), "evaluations": len(res.points), "generations": args.generations,
                      "pop": args.pop, "images": args.images, "workers": args.workers,
                      "prefix_cache_mb": args.prefix_cache_mb, "load_avg": os.getloadavg(),
                      "front": [(p.accuracy, round(p.energy, 4)) for p in res.front]}))
    with open(str(args.out).rstrip("/") + ".accs.json", "w") as f:
        json.dump({p.key: p.accuracy for p in res.points}, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
