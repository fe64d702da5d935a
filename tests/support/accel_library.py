"""A small multiplier library built from EvoApprox netlists (test helper)."""
from __future__ import annotations

from pathlib import Path

from rtlgen.library.catalog import Catalog
from rtlgen.netlist.multiplier import read_multiplier

#: Multipliers the accelerator tests instantiate (exact and approximate, signed and unsigned).
NAMES = ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_17MJ", "mul8u_C67", "mul8u_GTR",
         "mul8s_1KV6", "mul8s_1L2J", "mul8s_1L2N")


def build_library(evoapprox_dir: Path, libdir: Path, names=NAMES) -> Catalog:
    cat = Catalog(libdir)
    for name in names:
        path = next(p for p in sorted(evoapprox_dir.rglob(f"{name}.v")))
        _, table, signed = read_multiplier(path)
        cat.add(table, signed, name, netlist=path, release="evoapproxlib-v2022")
    cat.save()
    return Catalog.open(libdir)
