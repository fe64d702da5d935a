"""Accelerator power per configuration: one ResNet-8 layer crop through the mapped gates.

Generates one unit x L lanes with a bank of M multipliers (default the four of
``flows/accel_default.toml``'s unit 0), the same without clock gating (``gen accel
--no-clock-gating``: the operand registers of the unselected multipliers held by an enable but
clocked) and the same unit with the exact multiplier alone, maps each to OSU018
(:func:`rtlgen.accel.synth.map_accelerator`), runs a crop of conv layer 0 of
ResNet-8 (one CIFAR-10 image, signmag, every lane on one slot) on the gates in Icarus once per
slot, checks every output byte against the emulator and prints power, energy per run and per
MAC and the breakdown (:mod:`rtlgen.accel.power`). Usage::

    python benchmarks/bench_accel_power.py --lib LIBDIR [--lanes 16] [--crop 8,8,4]
        [--out build/bench_accel_power]
    python benchmarks/bench_accel_power.py --lib LIBDIR --calibrate MODEL.json [--lanes 16]

``--calibrate`` fits the per-component energy model (:mod:`rtlgen.accel.energy`) instead: the
bank design (memories sized for conv layers 0-2) runs crops of ResNet-8's conv layers 0 (4x4
input pixels), 1 and 2 (2x2, 16 channels) with every lane on each slot in turn (12 gate-level runs, outputs checked);
each run's multiplication energy is the cost flow's on that layer's operand histograms (CIFAR-10
test image 0, signmag). It prints each layer's runs predicted by the model fitted on the other
two layers (the held-out error), then fits on all twelve and writes MODEL.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from rtlgen.accel.config import AccelConfig  # noqa: E402
from rtlgen.accel.generate import generate_accelerator  # noqa: E402
from rtlgen.accel.power import accelerator_power  # noqa: E402
from rtlgen.accel.synth import map_accelerator  # noqa: E402
from rtlgen.library.catalog import Catalog  # noqa: E402
from rtlgen.paths import REPO_ROOT, shared_data_dir  # noqa: E402

from accel_cases import first_mismatch, make_case  # noqa: E402

BANK = ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_C67")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--lanes", type=int, default=16)
    ap.add_argument("--crop", default="8,8,4", help="Y0,X0,SIZE of layer 0's 32x32 input")
    ap.add_argument("--out", default=str(REPO_ROOT / "build" / "bench_accel_power"))
    ap.add_argument("--calibrate", default=None, metavar="MODEL.json")
    args = ap.parse_args()
    data = Path(args.data) if args.data else shared_data_dir()
    catalog = Catalog.open(args.lib)
    if args.calibrate:
        return calibrate_model(args, data, catalog)
    y0, x0, size = (int(v) for v in args.crop.split(","))
    out = Path(args.out)
    groups = -(-16 // args.lanes)
    act = size * size * 3 + size * size * 16
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for key, bank, gated in (("bank", BANK, True), ("bank_ungated", BANK, False), ("alone", BANK[:1], True)):
        config = AccelConfig(units=1, lanes=args.lanes, multipliers=len(bank), activation_bytes=act,
                             weight_words=groups * 27, channels=16, unit_multipliers=(bank,),
                             name=f"power_{key}")
        t0 = time.perf_counter()
        design = generate_accelerator(config, catalog, out / key / "rtl", clock_gating=gated)
        mapped = map_accelerator(design)
        t1 = time.perf_counter()
        cases = [make_case(f"slot{s}", data, config, catalog, layer=0, unit=0, bank_slots=[s],
                           encoding="signmag", granularity="layer", crop=(y0, x0, size))
                 for s in range(len(bank))]
        power = accelerator_power(design, config, [(c.name, c.job) for c in cases],
                                  out / key / "work", mapped=mapped)
        t2 = time.perf_counter()
        print(f"\n{key}{'' if gated else ' (no clock gating)'}: 1 unit x {args.lanes} lanes x {len(bank)} ({', '.join(bank)}); memories "
              f"{act} activation bytes, {groups * 27} weight words, 16 channels; {power.cells:,} "
              f"cells, {power.area_um2 / 1e6:.2f} mm^2; {power.clamped_pins:,} pins' slews clamped "
              f"to {power.max_slew_ns} ns; map {t1 - t0:.0f} s, simulate + power {t2 - t1:.0f} s "
              f"(load average {os.getloadavg()[0]:.1f})")
        print("| selected | exact output | cycles | total mW | leakage mW | energy/run nJ | "
              "energy/MAC pJ | selected slot mW | other slots mW | memories mW | registers mW "
              "| logic mW | clock mW |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s, (case, result, run) in enumerate(zip(cases, power.results, power.runs)):
            slots = run.slots()
            sel = next(v for k, v in slots.items() if k.startswith(f"u0.s{s} "))
            other = sum(v.total_mw for k, v in slots.items() if not k.startswith(f"u0.s{s} "))
            mism = first_mismatch(case, result.output)
            b = run.breakdown
            print(f"| {bank[s]} | {'yes' if mism is None else mism} | {run.cycles} | "
                  f"{run.total_mw:.2f} | {run.leakage_mw:.4f} | {run.energy_pj / 1e3:.1f} | "
                  f"{run.energy_per_mac_pj:.1f} | {sel.total_mw:.3f} | {other:.5f} | "
                  f"{b['memories'].total_mw:.2f} | {b['registers'].total_mw:.2f} | "
                  f"{b['logic'].total_mw:.2f} | {b['clock'].total_mw if 'clock' in b else 0.0:.2f} |")
    return 0


def calibrate_model(args, data: Path, catalog) -> int:
    """``--calibrate``: 12 gate-level runs, held-out errors per layer, the model fitted on all."""
    from rtlgen.accel.energy import CalibrationRun, calibrate, errors, non_memory_energy_pj
    from rtlgen.cost.activity import ActivitySpec
    from rtlgen.cost.multiplier import catalog_costs

    from accel_cases import layer_operand_hists

    crops = {0: 4, 1: 2, 2: 2}        # input side per layer: about 500 cycles per run
    layers = tuple(crops)
    out = Path(args.out) / f"calibrate_{args.lanes}"
    act = max(s * s * (3 if layer == 0 else 16) + s * s * 16 for layer, s in crops.items())
    config = AccelConfig(units=1, lanes=args.lanes, multipliers=len(BANK), activation_bytes=act,
                         weight_words=-(-16 // args.lanes) * 144, channels=16, unit_multipliers=(BANK,),
                         name="energy_calibration")
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    t0 = time.perf_counter()
    design = generate_accelerator(config, catalog, out / "rtl")
    mapped = map_accelerator(design)
    cases, mul_pj = [], []
    for layer in layers:
        a, b = layer_operand_hists(data, layer, "signmag")
        spec = ActivitySpec.make(a, b, n_vectors=4096, seed=0)
        figs = catalog_costs(catalog, list(BANK), activity=spec)
        for s, name in enumerate(BANK):
            cases.append(make_case(f"layer{layer}-{name}", data, config, catalog, layer=layer, unit=0,
                                   bank_slots=[s], encoding="signmag", granularity="layer",
                                   crop=(8, 8, crops[layer])))
            mul_pj.append(figs[catalog.get(name).hash].energy_pj)
    power = accelerator_power(design, config, [(c.name, c.job) for c in cases], out / "work", mapped=mapped)
    runs = []
    for case, result, run, e in zip(cases, power.results, power.runs, mul_pj):
        mism = first_mismatch(case, result.output)
        if mism is not None:
            print(f"MISMATCH {mism}")
            return 1
        runs.append(CalibrationRun(run, run.macs * e))
    print(f"1 unit x {args.lanes} lanes x {len(BANK)} ({', '.join(BANK)}), {power.cells:,} cells, "
          f"{power.area_um2 / 1e6:.2f} mm^2; {len(runs)} runs, every output equal to the emulator's; "
          f"{time.perf_counter() - t0:.0f} s")
    print("| run | cycles | MACs | gate level nJ (memories excluded) | memories nJ | held-out model nJ | error |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for li, layer in enumerate(layers):
        held = runs[li * len(BANK):(li + 1) * len(BANK)]
        rest = [r for r in runs if r not in held]
        model = calibrate(rest, pdk="sky130hd", lanes=args.lanes)
        for r, err in zip(held, errors(model, held)):
            worst = max(worst, abs(err))
            mem = r.power.breakdown["memories"].total_mw * r.power.cycles * r.power.clock_ns
            print(f"| {r.power.name} | {r.power.cycles} | {r.power.macs:,} | {non_memory_energy_pj(r.power) / 1e3:.2f} "
                  f"| {mem / 1e3:.2f} | {model.run_energy_pj(r.power.cycles, r.mul_pj) / 1e3:.2f} | {100 * err:+.1f}% |")
    model = calibrate(runs, pdk="sky130hd", lanes=args.lanes)
    print(f"largest held-out error {100 * worst:.1f}%; fitted on all {len(runs)}: {model}")
    print("in-sample errors: " + ", ".join(f"{100 * e:+.1f}%" for e in errors(model, runs)))
    model.to_json(args.calibrate)
    print(f"wrote {args.calibrate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
