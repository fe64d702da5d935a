"""The report's lines and figures of the mapper's cycle model (rtlgen/flow/report.py), from a
point's schedule.json as the mapper writes it; the rest of the report is checked end to end
(tests/flow/test_end_to_end.py)."""
from __future__ import annotations

import json
from pathlib import Path

from mapper_standins import synthetic_layers, truncated_candidates
from rtlgen.flow.report import _model_lines
from rtlgen.mapper import CycleSpec, SearchSpace
from rtlgen.mapper.flow import _schedule_json

PNG = b"\x89PNG\r\n\x1a\n"


def test_model_lines_and_gantt_chart(tmp_path: Path) -> None:
    space = SearchSpace(synthetic_layers(), truncated_candidates(), n_units=2, slots_per_unit=3, split_levels=4)
    model = CycleSpec(lanes=4).model(space)
    x = space.uniform_point(1)
    x[6:9] = [0, 0, 1]
    c = model.evaluate(space.decode(x))
    (tmp_path / "schedule.json").write_text(_schedule_json(model, x))
    lines, figs = _model_lines("sel0", {"schedule": str(tmp_path / "schedule.json")}, tmp_path)
    assert figs == ["concurrent_sel0.png"] and (tmp_path / "concurrent_sel0.png").read_bytes()[:8] == PNG
    text = "\n".join(lines)
    assert f"{c.per_inference:,} cycles per inference in steady state" in text
    assert f"unit 0 {c.busy[0]:,}, unit 1 {c.busy[1]:,}" in text and f"latency {c.latency:,} cycles" in text
    assert "![concurrent schedule sel0](concurrent_sel0.png)" in text
    doc = json.loads((tmp_path / "schedule.json").read_text())
    assert {(b["input"], b["phase"]) for b in doc["bars"]} == {(0, "prepare"), (0, "run"), (1, "prepare"), (1, "run")}
    # a run of the mapper from before the cycle model: nothing to say, nothing drawn
    assert _model_lines("sel1", {}, tmp_path) == ([], [])
    assert _model_lines("sel1", {"schedule": str(tmp_path / "missing.json")}, tmp_path) == ([], [])
