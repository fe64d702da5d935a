"""Concurrent compute units on ResNet-8: cycles per inference and throughput with 1, 2 and 4 units.

    python benchmarks/bench_units.py [--rtl] [--inputs 8] [--out build/bench_units]

Model part (seconds): ``flows/accel_default.toml``'s shape (16 lanes) with 1, 2 and 4 units, every
unit carrying unit 0's bank, ResNet-8's images from ``rtlgen bitstream build`` (exact, and an
approximate point: mul8u_DG8 on layers 1, 4 and 7), its descriptors cut into one contiguous
stretch per unit (the cut with the fewest cycles for 16 inputs, over every cut), counted by
:func:`rtlgen.accel.schedule.batch_cycles` (the device's count, equal to the RTL's counters in
tests/accel/test_sequencer.py): one input's cycles, 16 inputs' in one START with as many
activation slots as the memory holds, the cycles between outputs at the end (steady state), and
inferences per second at 100 MHz. With 2 and 4 units also the other way to use them: every layer
with at least as many groups of lanes as units split by output channels over all the units
(:func:`rtlgen.accel.images.split_layer`, config.bin shares), the others on unit 0.

Energy (``--energy MODEL.json``, the per-component model of :mod:`rtlgen.accel.energy` that
``benchmarks/bench_accel_power.py --calibrate`` fits on gate-level runs): each row's energy per
inference in the steady state, the device's memories as sky130 SRAM macros
(:mod:`rtlgen.accel.memories`) in the total and printed apart: the cost flow's energy of every layer's
multiplications on its operand histograms (16 CIFAR-10 images, :func:`rtlgen.mapper.network.
layer_infos`, each layer's multiplier of the point), the descriptors' run cycles of one input
(active cycles) and the steady-state cycles per inference on ``units`` units, at ``--mhz``
(the Fmax quoted with it) and the inferences per second there.

RTL part (``--rtl``, minutes): the issue's contract on the default accelerator itself (2 units,
generated with ``--axi``): ResNet-8 with layers 0-3 on unit 0 and the rest on unit 1 (the same
exact multiplier, mul8u_1JJQ, in both banks), ``rtlgen hil`` on one CIFAR-10 image and on
``--inputs`` images in one START (table models of the multipliers), each output checked against
the emulation; prints both ``cycles_total`` and their ratio (the contract: at most 0.6 x eight
times the one-input figure). Needs ../shared/data (or RTLGEN_SHARED_DATA).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETLISTS = ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_C67", "mul8s_1KV6", "mul8s_1L2J", "mul8u_GTR")


def _library(out: Path, data: Path) -> Path:
    from rtlgen.cli import main as cli

    lib = out / "lib"
    if not (lib / "catalog.json").exists():
        src = out / "netlists"
        src.mkdir(parents=True, exist_ok=True)
        for name in NETLISTS:
            link = src / f"{name}.v"
            if not link.exists():
                link.symlink_to(sorted((data / "evoapproxlib-v2022").rglob(f"{name}.v"))[0])
        assert cli(["lib", "import", str(src), "--lib", str(lib)]) == 0
    return lib


def _moved(images, unit_of):
    """The images with layer descriptor j on unit ``unit_of(j)``, each select renamed to the slot
    of the same multiplier in the new unit's bank."""
    bs = images.config
    layers = []
    for j, layer in enumerate(bs.layers):
        u = unit_of(j)
        hashes = [m.hash for m in bs.units[u]]
        sel = tuple(hashes.index(bs.units[layer.unit][s].hash) for s in layer.selects)
        layers.append(replace(layer, unit=u, selects=sel))
    return replace(images, config=replace(bs, layers=tuple(layers)))


def _best_cut(files, config, units: int, slots: int):
    """The contiguous cut of the layer descriptors into ``units`` stretches with the fewest cycles
    for 16 inputs; returns (cut, one input, 16 inputs, its config.bin)."""
    from rtlgen.accel.schedule import batch_cycles
    from rtlgen.bitstream import format as bsm

    bs = bsm.decode(files["config.bin"])
    n = len(bs.layers)
    best = None
    for cut in itertools.combinations(range(1, n), units - 1):
        edges = (0, *cut, n)
        unit_of = {j: u for u in range(units) for j in range(edges[u], edges[u + 1])}
        layers = tuple(replace(layer, unit=unit_of[j]) for j, layer in enumerate(bs.layers))
        cfg = bsm.encode(replace(bs, layers=layers))
        many = batch_cycles(cfg, files["weights.bin"], config, batch=16, slots=slots)
        if best is None or many.total < best[2].total:
            best = (edges, batch_cycles(cfg, files["weights.bin"], config), many, cfg)
    return best


LAYER_KINDS = ("conv2d", "depthwise_conv2d", "fully_connected")


def _split_row(graph, config, catalog, assignment, point: str, units: int, slots: int) -> dict:
    """Every layer with at least ``units`` groups of lanes split over all the units, the others on
    unit 0: one input's cycles, 16 inputs' and the steady state (batch_cycles)."""
    from rtlgen.accel.images import build_images, split_layer
    from rtlgen.accel.schedule import batch_cycles

    images = build_images(graph, config, catalog, assignment)
    images = _moved(images, lambda j: 0)
    keys = [d.key for d in images.config.layers if -(-d.geometry.out_c // config.lanes) >= units]
    for key in keys:
        images = split_layer(images, key, tuple(range(units)))
    files = images.files()
    one = batch_cycles(files["config.bin"], files["weights.bin"], config)
    many = batch_cycles(files["config.bin"], files["weights.bin"], config, batch=16, slots=slots)
    return {"units": units, "point": point, "split": keys, "one": one.total, "many": many.total, "slots": slots,
            "interval": many.interval}, many, files["config.bin"]


def _energy(energy, many, mul_pj: float, units: int, mhz: float, memories=None) -> dict:
    """The energy model's steady-state energy per inference of ``many`` (a BatchCycles), printed;
    active cycles: the last input's descriptor runs on the units, added up (two shares running
    at once count twice: each unit's datapath works); ``memories``: the SRAM macros'
    (:class:`rtlgen.accel.memories.InferenceMemories`), in the total."""
    last = many.batch - 1
    active = sum(r.end - r.start + 1 for r in many.runs if r.input == last and r.kind in LAYER_KINDS)
    # the engines' gated clocks: every input clocks them alike (ENGINE_CLOCKS / inputs)
    clocked = many.engine_clocks / many.batch
    e = energy.inference(mul_pj=mul_pj, active_cycles=active, cycles=many.interval, units=units,
                         clocked_cycles=clocked, clock_ns=1e3 / mhz, memories=None if memories is None else memories.energy)
    print(f"  energy at {mhz:g} MHz: {e.total_pj / 1e6:.3f} uJ per inference (multipliers "
          f"{e.multipliers_pj / 1e6:.3f}, logic {e.logic_pj / 1e6:.3f}, flip-flops {e.clocked_pj / 1e6:.3f}, "
          f"leakage {e.leakage_pj / 1e6:.4f}, SRAM memories {e.memories_pj / 1e6:.3f}; without them "
          f"{(e.total_pj - e.memories_pj) / 1e6:.3f}); {e.inferences_per_s:.1f} inferences/s, {e.power_mw:.1f} mW; "
          f"active cycles {active:,}, engines clocked after {clocked:,.0f} cycles (of {units * many.interval:,.0f})")
    if memories is not None:
        part = memories.device.parts(cycles=many.interval, traffic=memories.traffic, clock_ns=1e3 / mhz)
        r = memories.traffic.reads
        walkers = memories.device.reads_pj({k: r[k] for k in ("configuration", "weights store")})
        print(f"  SRAM memories: reads "
              f"{part['reads'] / 1e6:.3f} (the walkers' {r['configuration']:,} configuration and "
              f"{r['weights store']:,} weights-store reads: {walkers / 1e6:.3f}), writes {part['writes'] / 1e6:.3f}, "
              f"leakage {part['leakage'] / 1e6:.3f}")
    return e.to_dict()


def _multiplication_energy(graph, data: Path, catalog, approx_layers: dict[str, str]) -> dict[str, float]:
    """The cost flow's energy (pJ) of one inference's multiplications: sum over the MAC layers of
    MACs x E(multiplier, the layer's operand histograms on 16 CIFAR-10 images)."""
    import numpy as np

    from rtlgen.cost.activity import ActivitySpec
    from rtlgen.cost.multiplier import catalog_costs
    from rtlgen.mapper.network import layer_infos

    x = np.load(data / "cifar10" / "cifar10_test_first1017.npz")["x"][:16]
    infos = layer_infos(graph, x)
    out = {"exact": 0.0, "approximate": 0.0}
    for info in infos:
        spec = ActivitySpec.make(info.act_hist, info.weight_hist, n_vectors=4096, seed=0)
        names = {"exact": "mul8u_1JJQ", "approximate": approx_layers.get(info.key, "mul8u_1JJQ")}
        figs = catalog_costs(catalog, sorted(set(names.values())), activity=spec)
        for point, name in names.items():
            out[point] += info.macs * figs[catalog.get(name).hash].energy_pj
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rtl", action="store_true", help="also run the contract through the RTL (minutes)")
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--out", default=str(ROOT / "build" / "bench_units"))
    ap.add_argument("--energy", default=None, help="an energy model JSON (bench_accel_power.py --calibrate)")
    ap.add_argument("--mhz", type=float, default=72.0, help="the clock energy per inference is quoted at")
    args = ap.parse_args()

    from rtlgen.accel.config import load_config
    from rtlgen.accel.images import build_images
    from rtlgen.accel.memories import InferenceMemories, device_memories
    from rtlgen.emulate.assignment import parse_assignment
    from rtlgen.library.catalog import Catalog
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.paths import shared_data_dir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = shared_data_dir()
    lib = _library(out, data)
    catalog = Catalog.open(lib)
    model = data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    graph = load_tflite(model)
    base = load_config(ROOT / "flows" / "accel_default.toml")
    approx_layers = {"1": "mul8u_DG8", "4": "mul8u_DG8", "7": "mul8u_DG8"}
    approx = parse_assignment({"layers": approx_layers}, "<bench>")
    mul_pj = _multiplication_energy(graph, data, catalog, approx_layers) if args.energy else None
    energy = None
    if args.energy:
        from rtlgen.accel.energy import EnergyModel

        energy = EnergyModel.from_json(args.energy)
        print(f"energy model {args.energy}: {energy}")
        print(f"multiplication energy per inference (cost flow, pJ): exact {mul_pj['exact']:,.0f}, "
              f"approximate {mul_pj['approximate']:,.0f}")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs")
    print("| units | point | layers per unit (descriptor cut) | cycles, one input | cycles, 16 inputs "
          "(slots) | steady state, cycles per inference | inferences/s at 100 MHz |")
    print("|---:|---|---|---:|---:|---:|---:|")
    rows = []
    for units in (1, 2, 4):
        config = replace(base, units=units, unit_multipliers=(base.unit_multipliers[0],) * units,
                         name=f"bench_units_{units}")
        device = device_memories(config, "sky130hd")
        print(f"{units} unit(s): memories on sky130 SRAM macros: {device.macros:,} macros, {device.area_mm2:.1f} mm^2, "
              f"leakage {device.leakage_mw:.2f} mW "
              f"(every macro clocked every cycle: {device.ungated_pj_per_cycle:,.0f} pJ/cycle)\n{device.table()}")
        for point, assignment in (("exact", None), ("approximate (DG8 on 1, 4, 7)", approx)):
            files = build_images(graph, config, catalog, assignment).files()
            from rtlgen.bitstream import format as bsm

            span = bsm.decode(files["config.bin"]).activation_span
            slots = max(1, min(16, config.activation_bytes // span))
            edges, one, many, cut_cfg = _best_cut(files, config, units, slots)
            row = {"units": units, "point": point, "cut": edges, "one": one.total, "many": many.total,
                   "slots": slots, "interval": many.interval}
            print(f"| {units} | {point} | {list(edges)} | {one.total:,} | {many.total:,} ({slots}) "
                  f"| {many.interval:,.0f} | {1e8 / many.interval:,.1f} |")
            mul = None if mul_pj is None else mul_pj["exact" if assignment is None else "approximate"]
            memories = InferenceMemories.from_config_bin(device, cut_cfg, config.lanes, units)
            if energy is not None:
                row["energy"] = _energy(energy, many, mul, units, args.mhz, memories)
            rows.append(row)
            if units > 1:
                row, many, split_cfg = _split_row(graph, config, catalog, assignment, point, units, slots)
                memories = InferenceMemories.from_config_bin(device, split_cfg, config.lanes, units)
                print(f"| {units} | {point} | layers {', '.join(row['split'])} split over the {units} units, "
                      f"the rest on unit 0 | {row['one']:,} | {row['many']:,} ({slots}) | {row['interval']:,.0f} "
                      f"| {1e8 / row['interval']:,.1f} |")
                if energy is not None:
                    row["energy"] = _energy(energy, many, mul, units, args.mhz, memories)
                rows.append(row)
    (out / "model.json").write_text(json.dumps(rows, indent=1) + "\n")
    if not args.rtl:
        return

    # --- the contract through the RTL: the default accelerator, layers 0-3 on unit 0 ----------------
    from rtlgen.cli import main as cli

    work = out / "contract"
    work.mkdir(exist_ok=True)
    (work / "accel.toml").write_text(base.to_toml())
    accel = work / "accel"
    if not (accel / "manifest.json").exists():
        assert cli(["gen", "accel", "--config", str(work / "accel.toml"), "--lib", str(lib), "--out", str(accel),
                    "--axi"]) == 0
    images = _moved(build_images(graph, base, catalog, None), lambda j: 0 if j < 4 else 1)
    folder = work / "images"
    folder.mkdir(exist_ok=True)
    for name, blob in images.files().items():
        (folder / name).write_bytes(blob)
    cifar = data / "cifar10" / "cifar10_test_first1017.npz"
    totals = {}
    for n in (1, args.inputs):
        rep_file = work / f"hil-{n}.json"
        t = time.perf_counter()
        assert cli(["hil", "--accel", str(accel), "--config", str(folder), "--model", str(model), "--images",
                    str(cifar), "--limit", str(n), "--batch", str(n), "--multipliers", "table",
                    "--json", str(rep_file)]) == 0
        rep = json.loads(rep_file.read_text())
        totals[n] = rep["cycles_total"]
        print(f"RTL: {n} input(s) in one START on {rep['units']} units ({rep['slots']} slots): "
              f"cycles_total {rep['cycles_total']:,} ({time.perf_counter() - t:.0f} s)")
    ratio = totals[args.inputs] / (args.inputs * totals[1])
    print(f"contract: {args.inputs} inputs {totals[args.inputs]:,} cycles = {ratio:.3f} x {args.inputs} x one input "
          f"({totals[1]:,}); at most 0.6 asked")


if __name__ == "__main__":
    main()
