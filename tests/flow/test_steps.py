"""The flow's selection step (rtlgen/flow/steps.py: select_step) on hand-made fronts."""
from __future__ import annotations

import json

from rtlgen.flow.steps import select_step


def _front(tmp_path, rows):
    full = [dict({"id": f"p{i}", "search_accuracy": 0.9 - r["search_loss"], "test_accuracy": 0.9, "test_loss": 0.0,
                  "energy_saving": 1 - r["energy"], "bitstream": f"points/{i:02d}/config.bin", "mapping": {}}, **r)
            for i, r in enumerate(rows)]
    (tmp_path / "front.json").write_text(json.dumps({"front": full}))
    return str(tmp_path)


def test_least_multiplication_energy_without_an_accelerator_model(tmp_path):
    d = _front(tmp_path, [{"search_loss": 0.0, "energy": 1.0}, {"search_loss": 0.01, "energy": 0.5},
                          {"search_loss": 0.01, "energy": 0.6}])
    picked = select_step(d, [0.02])["points"]
    assert [p["id"] for p in picked] == ["p1"] and picked[0]["accel_energy_uj"] is None


def test_least_accelerator_energy_where_the_rows_have_it(tmp_path):
    """A point with more multiplication energy but fewer cycles can cost less per inference."""
    d = _front(tmp_path, [{"search_loss": 0.0, "energy": 1.0, "accel_energy_uj": 9.0, "accel_energy_saving": 0.0},
                          {"search_loss": 0.01, "energy": 0.5, "accel_energy_uj": 8.0, "accel_energy_saving": 0.11},
                          {"search_loss": 0.01, "energy": 0.6, "accel_energy_uj": 6.0, "accel_energy_saving": 0.33}])
    picked = select_step(d, [0.0, 0.02])["points"]
    assert [p["id"] for p in picked] == ["p0", "p2"]
    assert picked[1]["accel_energy_uj"] == 6.0 and picked[1]["accel_energy_saving"] == 0.33
