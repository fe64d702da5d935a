"""Hardware-in-the-loop speed: MLPerf Tiny ResNet-8 images through the generated accelerator's RTL.

    python benchmarks/bench_hil.py [--images 10] [--workers 2] [--out build/bench_hil]

Builds (or reuses) the default-shaped accelerator (2 units x 16 lanes x 4 multipliers,
flows/accel_default.toml's memories) with eight of the shipped generated unsigned multipliers,
writes a bitstream that runs all nine ResNet-8 conv layers on it (layer i on unit i % 2, filter
granularity, filter c on slot c % 4, signmag), runs N CIFAR-10 images through the RTL with
rtlgen.hil.host (every conv layer output checked against the emulation bit for bit) and prints
accuracy, cycles per image, simulated cycles per second and images per minute, plus the build
and start-up times. Needs ../shared/data (or RTLGEN_SHARED_DATA).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BANKS = [["mul8u_array", "mul8u_roup_p0_r4", "mul8u_bam_h2_v6", "mul8u_truncated_k6_compensate1"],
         ["mul8u_array", "mul8u_roup_p1_r5", "mul8u_roup_p0_r6", "mul8u_bam_h3_v9"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "build" / "bench_hil"))
    args = ap.parse_args()

    from rtlgen.accel.config import load_config
    from rtlgen.accel.generate import generate_accelerator
    from rtlgen.bitstream.format import write_bitstream
    from rtlgen.library.catalog import Catalog
    from rtlgen.accel.compose import accel_bitstream, conv_descriptor
    from rtlgen.hil import HilJob, run_hil
    from rtlgen.library.importer import import_folder
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.paths import shared_data_dir

    out = Path(args.out)
    data = shared_data_dir()
    model = data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    images = data / "cifar10" / "cifar10_test_first1017.npz"
    lib = out / "lib"
    if not (lib / "catalog.json").exists():
        import_folder(ROOT / "netlists" / "generated", lib)
    config = load_config(ROOT / "flows" / "accel_default.toml").with_multipliers(BANKS)
    accel = out / "accel"
    t = time.perf_counter()
    design = generate_accelerator(config, Catalog.open(lib), accel)
    gen_s = time.perf_counter() - t
    graph = load_tflite(model)
    descs = []
    for i, op in enumerate(graph.conv_ops()):
        oc = graph.tensors[op.outputs[0]].shape[-1]
        descs.append(conv_descriptor(graph, i, unit=i % 2, granularity="filter", selects=[c % 4 for c in range(oc)]))
    bs = out / "resnet8.bin"
    write_bitstream(bs, accel_bitstream(accel, descs))
    rep = run_hil(HilJob(accel=accel, bitstream=bs, model=model, images=images, limit=args.images,
                         workers=args.workers, work_dir=out / "hil-work"))
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(f"accelerator: {config.units} units x {config.lanes} lanes x {config.multipliers} multipliers "
          f"(config hash {design.config_hash}); generated in {gen_s:.1f} s")
    print(rep.summary())
    for layer in rep.layers:
        print(f"  layer {layer['layer']}: {layer['cycles_per_image']:,.0f} cycles/image "
              f"(documented estimate {layer['estimate']:,}), {layer['seconds']:.1f} s")
    (out / "bench_hil.json").write_text(json.dumps(rep.to_dict(), indent=1))


if __name__ == "__main__":
    main()
