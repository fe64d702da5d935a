"""Benchmark: exhaustive verification of the whole EvoApprox v2022 catalog by simulation.

Imports ``../shared/data/evoapproxlib-v2022`` into a temporary library (or uses ``--lib``), then
verifies every netlist of every entry (generic and ``_pdk45``: 64 netlists) over all 65,536
operand pairs, per simulator, from a cold build folder: Yosys flattening, simulator builds
(Verilator: C++ compilation, including its runtime library) and simulation all count.

    PYTHONPATH=. python benchmarks/bench_verify.py [--sim verilator icarus] [--lib LIBDIR] [--generated]

``--generated`` verifies the 68 shipped generated netlists (``netlists/generated``) instead.

Prints one line per simulator; the goal (issue 3) is under 2 minutes for Verilator on the
2-core reference machine. The load average is printed too: on a shared machine it explains
outliers.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rtlgen.library.importer import import_folder  # noqa: E402
from rtlgen.paths import REPO_ROOT, shared_data_dir  # noqa: E402
from rtlgen.sim.simulators import get_simulator  # noqa: E402
from rtlgen.sim.verify import DEFAULT_BATCH, catalog_multipliers, verify  # noqa: E402


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes: Yosys, compilers, simulators."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", nargs="+", default=["verilator", "icarus"])
    ap.add_argument("--lib", help="existing library (default: import the shared EvoApprox v2022 folder)")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--generated", action="store_true", help="the shipped generated netlists, not EvoApprox")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        folder = REPO_ROOT / "netlists" / "generated" if args.generated else shared_data_dir() / "evoapproxlib-v2022"
        lib = args.lib or import_folder(folder, Path(tmp) / "lib").catalog
        items = catalog_multipliers(lib)
        print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
              f"{len(items)} netlists")
        for sim in args.sim:
            backend = get_simulator(sim)
            load0 = os.getloadavg()[0]
            cpu0 = _children_cpu()
            start = time.perf_counter()
            report = verify(items, simulator=sim, work_dir=Path(tmp) / f"work-{sim}", batch=args.batch,
                            jobs=args.jobs)
            wall = time.perf_counter() - start
            cpu = _children_cpu() - cpu0
            load1 = os.getloadavg()[0]
            print(f"{sim} ({backend.version.splitlines()[0]}): {len(report.results)} netlists, "
                  f"{len(report.failures)} mismatching, {report.builds} builds; wall {wall:.1f} s "
                  f"(summed over concurrent builds: build {report.build_seconds:.1f} s, "
                  f"simulation {report.run_seconds:.1f} s); CPU time of tools {cpu:.1f} s; "
                  f"load average {load0:.1f} -> {load1:.1f}")
            for r in report.failures:
                print("  " + r.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
