"""Import the whole EvoApprox v2022 folder (parse, tabulate, metrics) and print the time.

    python benchmarks/bench_import.py [--data ../shared/data] [--repeat 3]

Prints wall time per import (best and median of --repeat runs, each into a fresh library) and
the per-file parse+tabulate time measured single-process.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rtlgen.library.importer import import_folder
from rtlgen.netlist.multiplier import read_multiplier
from rtlgen.paths import shared_data_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    src = (args.data or shared_data_dir()) / "evoapproxlib-v2022"
    times = []
    for _ in range(args.repeat):
        lib = Path(tempfile.mkdtemp())
        t = time.perf_counter()
        report = import_folder(src, lib)
        times.append(time.perf_counter() - t)
        shutil.rmtree(lib)
    files = sorted(src.rglob("*.v"))
    t = time.perf_counter()
    for f in files:
        read_multiplier(f)
    per_file = (time.perf_counter() - t) / len(files)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"import {src.name}: {report.files} files, {report.unique_texts} distinct, {report.circuits} circuits")
    print(f"  wall time: best {min(times):.2f} s, median {statistics.median(times):.2f} s over {len(times)} runs")
    print(f"  single process parse+tabulate: {per_file * 1000:.1f} ms per file")


if __name__ == "__main__":
    main()
