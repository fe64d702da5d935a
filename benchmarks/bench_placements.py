"""Where ResNet-8's layers go on 2 and 4 units: the mapper's placement space with and without
layer splitting (``rtlgen map --split-layers``), in cycles per inference and latency.

    python benchmarks/bench_placements.py [--out build/bench_units] [--restarts 40]

``flows/accel_default.toml``'s shape (16 lanes), every unit with unit 0's bank, every layer on
the exact multiplier. The mapper's cycle model (:mod:`rtlgen.mapper.throughput`, equal to
:func:`rtlgen.accel.schedule.batch_cycles` and so to the RTL's counters) gives each placement's
steady-state cycles per inference (a slot per input) and one input's latency. Per unit count,
the placements of whole layers and those where a layer may also be split over every unit (the
unit value ``U``): with 2 units every placement (2^10 whole, 11,664 with splits), with 4 the
best of a coordinate descent (each layer's unit changed in turn while the objective drops)
from the best stretch cut and from ``--restarts`` random placements. For each, the placement
with the fewest cycles per inference (ties: the lower latency) and the one with the lowest
latency (ties: the fewer cycles per inference).

Each split placement found is then written as the mapper writes a point (``space.bitstream`` +
the activation plan + ``weights.bin``) and counted by ``batch_cycles`` for one input (asserted
equal to the model's latency) and for 16 inputs in one START with as many slots as the activation
memory holds. Seconds; needs ../shared/data.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _descend(model, space, x, hi, key, evaluations):
    """Coordinate descent of ``key(Cycles)`` over the layers' unit variables (at most ``hi``)."""
    um = space.n_units * space.slots_per_unit
    best = key(model.evaluate(space.decode(x)))
    better = True
    while better:
        better = False
        for li in range(len(space.layers)):
            for v in range(min(hi, int(space.bounds()[1][um + li])) + 1):
                if v == x[um + li]:
                    continue
                y = x.copy()
                y[um + li] = v
                c = key(model.evaluate(space.decode(y)))
                evaluations[0] += 1
                if c < best:
                    best, x, better = c, y, True
    return x, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "bench_units"))
    ap.add_argument("--restarts", type=int, default=40, help="random starts of the descent with 4 units")
    args = ap.parse_args()

    from rtlgen.accel.config import load_config
    from rtlgen.accel.images import build_images, with_plan
    from rtlgen.accel.schedule import batch_cycles
    from rtlgen.bitstream import format as bsm
    from rtlgen.bitstream.opdesc import op_descriptors
    from rtlgen.library.catalog import Catalog
    from rtlgen.mapper import CycleModel, SearchSpace
    from rtlgen.mapper.network import layer_infos
    from rtlgen.mapper.space import Candidate
    from rtlgen.netlist.table import exact_table
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.paths import shared_data_dir

    from bench_units import _library

    data = shared_data_dir()
    catalog = Catalog.open(_library(Path(args.out), data))
    graph = load_tflite(data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    x16 = np.load(data / "cifar10" / "cifar10_test_first1017.npz")["x"][:16]
    infos = layer_infos(graph, x16)
    exact = Candidate.from_table("mul8u_1JJQ", exact_table(False), False)
    base = load_config(ROOT / "flows" / "accel_default.toml")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs")
    print("| units | placement | cycles per inference | latency (one input) | per layer (unit; s = split) |")
    print("|---:|---|---:|---:|---|")
    for units in (2, 4):
        t0 = time.perf_counter()
        config = replace(base, units=units, unit_multipliers=(base.unit_multipliers[0],) * units,
                         name=f"bench_placements_{units}")
        space = SearchSpace(infos, [exact], n_units=units, slots_per_unit=1, granularity="layer",
                            split_layers=True, lanes=config.lanes)
        model = CycleModel(space, lanes=config.lanes, ops=op_descriptors(graph))
        um = units
        n = len(infos)
        evaluations = [0]

        def row(name, x):
            m = space.decode(x)
            c = model.evaluate(m)
            where = " ".join(f"{'s' if m.is_split(li) else m.layer_unit[li]}" for li in range(n))
            print(f"| {units} | {name} | {c.per_inference:,} | {c.latency:,} | {where} |")
            return c

        stretch = None
        for cut in itertools.combinations(range(1, n), units - 1):
            edges = (0, *cut, n)
            x = space.uniform_point(0)
            for u in range(units):
                x[um + edges[u]:um + edges[u + 1]] = u
            c = model.evaluate(space.decode(x))
            evaluations[0] += 1
            if stretch is None or (c.per_inference, c.latency) < stretch[1]:
                stretch = (x, (c.per_inference, c.latency))
        row("stretches (best cut)", stretch[0])
        throughput = lambda c: (c.per_inference, c.latency)     # noqa: E731
        latency = lambda c: (c.latency, c.per_inference)        # noqa: E731
        rng = np.random.default_rng(0)
        for label, hi in (("whole layers", units - 1), ("with splits", units)):
            for goal, key in (("fewest cycles per inference", throughput), ("lowest latency", latency)):
                if units == 2:          # every placement
                    his = [min(hi, int(h)) for h in space.bounds()[1][um:um + n]]
                    found = []
                    for u in itertools.product(*[range(h + 1) for h in his]):
                        x = space.uniform_point(0)
                        x[um:um + n] = u
                        found.append((key(model.evaluate(space.decode(x))), x))
                        evaluations[0] += 1
                    best = min(found, key=lambda t: t[0])[1]
                else:                   # descent from the stretches and random starts
                    starts = [stretch[0]]
                    for _ in range(args.restarts):
                        x = space.uniform_point(0)
                        x[um:um + n] = [rng.integers(0, min(hi, int(h)) + 1) for h in space.bounds()[1][um:um + n]]
                        starts.append(x)
                    runs = [_descend(model, space, x, hi, key, evaluations) for x in starts]
                    best = min(runs, key=lambda t: t[1])[0]
                c = row(f"{label}, {goal}", best)
                if hi < units:
                    continue
                # the device's own count of that point's images, as the mapper writes them
                images = build_images(graph, config, catalog, None)
                stream = with_plan(space.bitstream(space.decode(best), images.config.accel_hash,
                                                   model_hash=images.config.model_hash), graph, config.activation_bytes)
                cfg = bsm.encode(stream)
                weights = images.files()["weights.bin"]
                slots = max(1, min(16, config.activation_bytes // stream.activation_span))
                one = batch_cycles(cfg, weights, config)
                many = batch_cycles(cfg, weights, config, batch=16, slots=slots)
                assert one.total == c.latency, (one.total, c.latency)
                print(f"  device count of its images: one input {one.total:,} (= the model's latency), 16 inputs "
                      f"with {slots} slots {many.total:,}, steady state {many.interval:,.0f} cycles per inference")
        print(f"  {evaluations[0]:,} placements evaluated in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
