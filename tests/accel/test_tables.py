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


def test_table_models_hold_each_netlists_table_at_a_times_256_plus_b(evoapprox_dir: Path, tmp_path: Path) -> None:
    """A table model looks its output up at ``{A, B}``: entry a*256 + b is T[a, b] as a 16-bit
    pattern (two's complement for a signed multiplier), under the netlist's module and ports."""
    import re

    import numpy as np

    from rtlgen.accel.tables import table_models

    lib = build_library(evoapprox_dir, tmp_path / "lib", names=("mul8s_1KV6", "mul8u_DG8"))
    config = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=256, weight_words=16, channels=4,
                         unit_multipliers=(("mul8s_1KV6", "mul8u_DG8"),), name="tables_test")
    accel = tmp_path / "accel"
    generate_accelerator(config, lib, accel)
    paths = table_models(accel, tmp_path / "models")
    assert sorted(p.name for p in paths) == ["mul8s_1KV6.v", "mul8u_DG8.v"]
    for path in paths:
        name = path.stem
        text = path.read_text()
        assert re.search(rf"^module {name} \(A, B, O\);", text, re.M) and "assign O = T[{A, B}];" in text
        body = text[text.index("'{") + 2:text.index("};")]
        words = np.array([int(w.strip()[2:], 16) for w in body.split(",")])
        want = lib.table(name).astype(np.int64).ravel() & 0xFFFF
        assert words.shape == (65536,) and (words == want).all(), name
        # the table is not symmetric: the order is a's row then b's column
        t = lib.table(name)
        if not (t == t.T).all():
            a, b = map(int, np.argwhere(t != t.T)[0])
            assert words[a * 256 + b] == int(t[a, b]) & 0xFFFF != words[b * 256 + a]
