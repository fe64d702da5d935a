"""NSGA-II mapping of the MLPerf Tiny models that come without labelled inputs: the anomaly
autoencoder (quality: reconstruction error relative to the exact model's) and the VWW MobileNet
(quality: top-1 agreement with the exact model). Issue 15, item 4.

The inputs are seeded random int8 codes (``../shared/data`` has the models only), so the quality
figures say how far each mapping moves the model's outputs on such inputs, not how it scores on
real audio or images. Runs ``rtlgen map`` per model (search inputs 0-199, held-out 200-399, the
default accelerator's banks, encoding ``auto``), then prints what each selection rule picks at
the mapper's reporting bounds (a "loss" of 0.6% and 2%: the disagreement rate for VWW, the relative
increase of the mean squared reconstruction error for the autoencoder).

    python benchmarks/map_unlabelled.py --lib LIBDIR --out DIR [--models ad,vww] [--generations 4 --pop 12]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from map_resnet8 import print_summary
from rtlgen.cli import main as rtlgen_main
from rtlgen.nn.tflite import load_tflite
from rtlgen.paths import REPO_ROOT, shared_data_dir

MODELS = {"ad": ("mlperf_tiny_ad/ad01_int8.tflite", "reconstruction"),
          "vww": ("mlperf_tiny_vww/vww_96_int8.tflite", "agreement")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="ad,vww")
    ap.add_argument("--accel", default=str(REPO_ROOT / "flows" / "accel_default.toml"))
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--pop", type=int, default=12)
    ap.add_argument("--inputs", type=int, default=400)
    args = ap.parse_args()
    data, out = shared_data_dir(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        rel, quality = MODELS[name]
        model = data / rel
        shape = load_tflite(model).input.shape[1:]
        x = np.random.default_rng(1).integers(-128, 128, (args.inputs, *shape)).astype(np.int8)
        np.savez(out / f"{name}_inputs.npz", x=x)
        half = args.inputs // 2
        argv = ["map", "--model", str(model), "--images", str(out / f"{name}_inputs.npz"), "--accel", args.accel,
                "--lib", args.lib, "--out", str(out / name), "--search", f"0:{half}", "--test", f"{half}:{args.inputs}",
                "--generations", str(args.generations), "--pop", str(args.pop), "--seed", "1", "--quality", quality,
                "--encoding", "auto", "--granularity", "filter", "--no-layerwise", "--energy-vectors", "1024",
                "--workers", "2", "--quiet"]
        t0 = time.time()
        rc = rtlgen_main(argv)
        print(f"{name}: wall time {time.time() - t0:.0f} s")
        if rc:
            return rc
        print_summary(out / name, quality)
        if quality == "agreement":
            # agreement says little when the exact model gives every input the same class
            from rtlgen.emulate.api import emulator_for

            logits = np.asarray(emulator_for(load_tflite(model)).run(x).logits).reshape(len(x), -1)
            print(f"{name}: the exact model's classes on these inputs: {np.bincount(logits.argmax(1)).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
