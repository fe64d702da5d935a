"""NSGA-II mapping of MLPerf Tiny ResNet-8 (CIFAR-10) onto the default accelerator shape.

Runs ``rtlgen map`` on the shared data (search images 0-499, held-out test 500-1016), then prints
the energy saving reached within 0.6% and 2% top-1 loss (selected on the search split, with the
loss measured on the test split) and the configuration that reaches it. Re-running resumes.

    python benchmarks/map_resnet8.py --lib LIBDIR --out RUN/ [--generations G --pop N --seed S]
        [--granularity filter|kernel|layer] [--weight-tuning none|uniform|histogram]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rtlgen.cli import main as rtlgen_main
from rtlgen.paths import REPO_ROOT, shared_data_dir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--accel", default=str(REPO_ROOT / "flows" / "accel_default.toml"))
    ap.add_argument("--generations", type=int, default=20)
    ap.add_argument("--pop", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--granularity", default="filter")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--candidates", nargs="+")
    ap.add_argument("--weight-tuning", default="none", choices=("none", "uniform", "histogram"))
    ap.add_argument("--engine", default="fast", choices=("fast", "native", "reference"))
    args = ap.parse_args()
    data = shared_data_dir()
    argv = ["map", "--model", str(data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"),
            "--images", str(data / "cifar10" / "cifar10_test_first1017.npz"), "--accel", args.accel,
            "--lib", args.lib, "--out", args.out, "--search", "0:500", "--test", "500:1017",
            "--generations", str(args.generations), "--pop", str(args.pop), "--seed", str(args.seed),
            "--granularity", args.granularity, "--weight-tuning", args.weight_tuning, "--engine", args.engine]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    if args.candidates:
        argv += ["--candidates", *args.candidates]
    t0 = time.time()
    rc = rtlgen_main(argv)
    print(f"wall time {time.time() - t0:.0f} s")
    if rc:
        return rc
    print_summary(Path(args.out))
    return 0


def print_summary(out: Path, quality: str = "top-1") -> None:
    """The reference quality and, per loss bound, the points each rule selects (``rtlgen map``'s
    summary.json and front.json in ``out``)."""
    summary = json.loads((out / "summary.json").read_text())
    front = {r["id"]: r for r in json.loads((out / "front.json").read_text())["front"]}
    print(f"reference {quality}: search {100 * summary['reference_search_accuracy']:.2f}%, "
          f"test {100 * summary['reference_test_accuracy']:.2f}%; {summary['evaluations']} mappings evaluated")
    for loss, entry in summary["within_loss"].items():
        for name in ("mapper", "layerwise", "uniform"):
            for how in ("selected_on_search", "best_on_test"):
                sel = entry[name][how]
                if sel is None:
                    print(f"  <= {100 * float(loss):.1f}% loss, {name}, {how}: none")
                    continue
                print(f"  <= {100 * float(loss):.1f}% loss, {name}, {how}: saving {100 * sel['energy_saving']:.1f}%, "
                      f"search loss {100 * sel['search_loss']:.2f}%, test loss {100 * sel['test_loss']:.2f}%"
                      + (f", {sel['multiplier']}" if sel.get("multiplier") else "")
                      + (f", {sel['bitstream']}" if sel.get("bitstream") else ""))
                if name == "mapper" and how == "selected_on_search" and sel["id"] in front:
                    print("    configuration:", json.dumps(front[sel["id"]]["mapping"]))


if __name__ == "__main__":
    raise SystemExit(main())
