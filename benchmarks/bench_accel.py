"""Accelerator RTL on ResNet-8: cycles and lane utilisation per conv layer, simulation speed.

Generates the accelerator of a configuration (default ``flows/accel_default.toml``), builds it
with Verilator (cocotb runner), runs every conv layer of ResNet-8 on one CIFAR-10 image with the
exact multiplier of unit 0 (signmag), checks each output byte against the emulator, and prints
per layer: products per lane, cycles, utilisation = products / (lanes x cycles), and the
documented estimate. Usage::

    python benchmarks/bench_accel.py --lib LIBDIR [--config ACCEL.toml] [--data SHARED_DATA]
        [--layers 0,1,...] [--out build/bench_accel]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from rtlgen.accel.config import load_config  # noqa: E402
from rtlgen.accel.generate import generate_accelerator  # noqa: E402
from rtlgen.accel.rtlsim import VerilatorAccel  # noqa: E402
from rtlgen.library.catalog import Catalog  # noqa: E402
from rtlgen.paths import REPO_ROOT, shared_data_dir  # noqa: E402

from accel_cases import first_mismatch, make_case  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO_ROOT / "flows" / "accel_default.toml"))
    ap.add_argument("--lib", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--layers", default="0,1,2,3,4,5,6,7,8")
    ap.add_argument("--out", default=str(REPO_ROOT / "build" / "bench_accel"))
    args = ap.parse_args()
    data = Path(args.data) if args.data else shared_data_dir()
    config = load_config(args.config)
    catalog = Catalog.open(args.lib)
    out = Path(args.out)
    t0 = time.perf_counter()
    design = generate_accelerator(config, catalog, out / "rtl")
    t1 = time.perf_counter()
    sim = VerilatorAccel(design, out / "sim", config)
    sim.build()
    t2 = time.perf_counter()
    layers = [int(v) for v in args.layers.split(",")]
    cases = [make_case(f"L{i}", data, config, catalog, layer=i, unit=0, bank_slots=[0],
                       encoding="signmag", granularity="layer") for i in layers]
    t3 = time.perf_counter()
    results = sim.run([(c.name, c.job) for c in cases])
    t4 = time.perf_counter()
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}")
    print(f"config {config.name}: {config.units} units x {config.lanes} lanes x "
          f"{config.multipliers} multipliers; generate {t1 - t0:.1f} s, Verilator build "
          f"{t2 - t1:.1f} s")
    print("| layer | in | weights | K | products/lane | cycles | estimate | utilisation | exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    total_cycles = total_products = 0
    for case, r in zip(cases, results):
        d = case.job.descriptor
        mism = first_mismatch(case, r.output)
        util = r.issued * min(d.out_c, config.lanes) / (config.lanes * r.cycles)
        total_cycles += r.cycles
        total_products += r.issued * min(d.out_c, config.lanes)
        print(f"| {case.layer_index} | {d.in_h}x{d.in_w}x{d.in_c} | {d.out_c}x{d.kh}x{d.kw}x{d.in_c}"
              f" s{d.stride_h} | {d.products} | {r.issued} | {r.cycles} | "
              f"{case.job.cycle_estimate(config.lanes)} | {100 * util:.1f}% | "
              f"{'yes' if mism is None else mism} |")
    print(f"total: {total_cycles} cycles per image ({total_cycles / 1e5:.2f} ms at 100 MHz), "
          f"utilisation {100 * total_products / (config.lanes * total_cycles):.1f}%")
    print(f"simulation (host loads, {total_cycles} compute cycles, host reads): {t4 - t3:.1f} s, "
          f"{total_cycles / (t4 - t3):.0f} compute cycles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
