"""Whole networks on the device: cycles per inference, image load cycles, RTL images per minute.

    python benchmarks/bench_device.py [--models resnet8,dscnn,ad,digits,vww] [--images 4] [--workers 2]
                                      [--multipliers netlist,table] [--out build/bench_device]

For each model: a library of the EvoApprox multipliers that ``flows/accel_default.toml`` names,
that configuration (2 units x 16 lanes x 4 multipliers; memories grown where a model needs it:
the table says so) generated with its front end and sequencer (``rtlgen gen accel --axi``),
``rtlgen bitstream build`` (exact everywhere, each layer's operand encoding chosen as the mapper's
``auto`` does), then ``rtlgen hil --config --batch 1`` on N real inputs (one input per START) (CIFAR-10 for ResNet-8, kws01 for
DS-CNN, the digits test set; seeded random int8 codes for the autoencoder and VWW): the device
loads both images over AXI and runs every layer on chip, each output compared byte for byte with
the emulation. Each model runs once per multiplier model (``rtlgen hil --multipliers``: the
gate-level netlists as generated, or their table models, the rest of the RTL unchanged), on
``--workers`` simulator processes. Prints one Markdown row per model and multiplier model:
RUN_CYCLES per inference, the load cycles of config.bin and weights.bin, images per minute through
the RTL (over the per-image loop, and over the whole wall time with the simulators' start-up:
imports, both images loaded, the emulator's kernels compiled), the Verilator build time. Needs
../shared/data (or RTLGEN_SHARED_DATA).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NETLISTS = ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_C67", "mul8s_1KV6", "mul8s_1L2J", "mul8u_GTR")


def _random_codes(model: Path, name: str, out: Path, n: int) -> Path:
    """Seeded random int8 inputs for a model without test inputs (the autoencoder's from its
    input zero point up, so the signmag layers see x - z >= 0)."""
    from rtlgen.nn.tflite import load_tflite

    g = load_tflite(model)
    lo = int(g.input.zero_point) if name == "ad" else -128
    x = np.random.default_rng(1).integers(lo, 128, (n, *g.input.shape[1:])).astype(np.int8)
    path = out / f"{name}_inputs.npz"
    np.savez(path, x=x)
    return path


def _models(data: Path) -> dict[str, tuple[Path, Path | None, dict]]:
    """name -> (model, test inputs .npz or None (random codes; the digits test set for digits),
    memory overrides of accel_default)."""
    from rtlgen.resources import DIGITS_MODEL

    return {
        "resnet8": (data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite",
                    data / "cifar10" / "cifar10_test_first1017.npz", {}),
        "dscnn": (data / "mlperf_tiny_kws" / "kws_ref_model.tflite", data / "mlperf_tiny_kws" / "kws01_test1000.npz",
                  {}),
        "digits": (DIGITS_MODEL, None, {}),
        "ad": (data / "mlperf_tiny_ad" / "ad01_int8.tflite", None,
               {"weight_words": 8192, "channels": 640, "weights_store_bytes": 1 << 19}),
        "vww": (data / "mlperf_tiny_vww" / "vww_96_int8.tflite", None,
                {"weights_store_bytes": 1 << 19}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet8,dscnn,digits,ad")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="simulator processes (rtlgen hil --workers)")
    ap.add_argument("--multipliers", default="netlist,table", help="multiplier models (rtlgen hil --multipliers)")
    ap.add_argument("--out", default=str(ROOT / "build" / "bench_device"))
    args = ap.parse_args()

    from dataclasses import replace

    from rtlgen.accel.config import load_config
    from rtlgen.cli import main as cli
    from rtlgen.paths import shared_data_dir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = shared_data_dir()
    lib = out / "lib"
    if not (lib / "catalog.json").exists():
        src = out / "netlists"
        src.mkdir(exist_ok=True)
        for name in NETLISTS:
            found = sorted((data / "evoapproxlib-v2022").rglob(f"{name}.v"))
            link = src / f"{name}.v"
            if not link.exists():
                link.symlink_to(found[0])
        assert cli(["lib", "import", str(src), "--lib", str(lib)]) == 0
    models = _models(data)
    base = load_config(ROOT / "flows" / "accel_default.toml")
    rows = []
    for name in args.models.split(","):
        model, images, grow = models[name]
        if images is None and name == "digits":
            from rtlgen.zoo.digits import save_images_npz

            images = save_images_npz(out / "digits_test.npz", "test")
        elif images is None:
            images = _random_codes(model, name, out, args.images)
        work = out / name
        work.mkdir(exist_ok=True)
        config = replace(base, name=f"accel_default_{name}", **grow)
        (work / "accel.toml").write_text(config.to_toml())
        t = time.perf_counter()
        accel = work / "accel"
        if not (accel / "manifest.json").exists():
            assert cli(["gen", "accel", "--config", str(work / "accel.toml"), "--lib", str(lib), "--out", str(accel),
                        "--axi"]) == 0
        gen_s = time.perf_counter() - t
        assert cli(["bitstream", "build", "--model", str(model), "--accel", str(work / "accel.toml"), "--lib", str(lib),
                    "--out", str(work / "images")]) == 0
        for mults in args.multipliers.split(","):
            rep_file = work / f"hil-{mults}.json"
            assert cli(["hil", "--accel", str(accel), "--config", str(work / "images"), "--model", str(model),
                        "--images", str(images), "--limit", str(args.images), "--workers", str(args.workers),
                        "--multipliers", mults, "--batch", "1", "--json", str(rep_file)]) == 0
            rep = json.loads(rep_file.read_text())
            rows.append({"model": name, "multipliers": mults, "grow": grow, "run_cycles": rep["run_cycles"],
                         "config_cycles": rep["device"]["config"]["cycles"],
                         "config_bytes": rep["device"]["config"]["bytes"],
                         "weights_cycles": rep["device"]["weights"]["cycles"],
                         "weights_bytes": rep["device"]["weights"]["bytes"],
                         "images_per_minute": rep["images_per_minute"],
                         "wall_images_per_minute": 60.0 * rep["images"] / rep["wall_seconds"],
                         "cycles_per_second": rep["cycles_per_second"], "workers": rep["workers"],
                         "build_seconds": rep["build_seconds"], "build_reused": rep["build_reused"],
                         "gen_seconds": gen_s, "images": rep["images"]})
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, {args.images} inputs per model, {args.workers} simulator processes")
    print("| model | multipliers | cycles per inference | config.bin load (bytes / cycles) "
          "| weights.bin load (bytes / cycles) | simulated cycles/s (per process) | images/min (loop) "
          "| images/min (wall, with start-up) | Verilator build (s) | memories grown |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        cyc = sorted(set(r["run_cycles"]))
        print(f"| {r['model']} | {r['multipliers']} | {', '.join(f'{c:,}' for c in cyc)} "
              f"| {r['config_bytes']:,} / {r['config_cycles']:,} | {r['weights_bytes']:,} / {r['weights_cycles']:,} "
              f"| {r['cycles_per_second']:,.0f} | {r['images_per_minute']:.1f} | {r['wall_images_per_minute']:.1f} "
              f"| {r['build_seconds']:.0f}{' (reused)' if r['build_reused'] else ''} "
              f"| {', '.join(f'{k} {v}' for k, v in r['grow'].items()) or '-'} |")


if __name__ == "__main__":
    main()
