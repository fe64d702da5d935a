"""The multipliers of a generated accelerator tabulated from its own folder (rtlgen/accel/tables.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.generate import generate_accelerator
from rtlgen.accel.tables import accel_tables
from rtlgen.netlist.table import table_hash

from accel_library import build_library

pytestmark = [pytest.mark.data]


def test_tables_of_netlists_whose_helpers_live_in_another_file(evoapprox_dir: Path, tmp_path: Path) -> None:
    """The generator writes a helper module shared by several EvoApprox netlists once, in the first
    file (by name) that has it: mul8u_1JJQ's half adders are in mul8s_1KV6.v. Each multiplier must
    still tabulate to its catalog table."""
    lib = build_library(evoapprox_dir, tmp_path / "lib", names=("mul8s_1KV6", "mul8u_1JJQ"))
    config = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=256, weight_words=16, channels=4,
                         unit_multipliers=(("mul8s_1KV6", "mul8u_1JJQ"),), name="tables_test")
    accel = tmp_path / "accel"
    generate_accelerator(config, lib, accel)
    own = (accel / "netlists" / "mul8u_1JJQ.v").read_text()
    assert "// rtlgen: module PDKGENHAX1 defined in netlists/mul8s_1KV6.v" in own
    tables = accel_tables(accel)
    for name in ("mul8s_1KV6", "mul8u_1JJQ"):
        entry = lib.get(name)
        assert table_hash(tables[entry.hash], entry.signed) == entry.hash
        assert (tables[entry.hash] == lib.table(name)).all()
