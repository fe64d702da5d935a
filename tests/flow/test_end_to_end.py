"""The digits flow end to end in reduced form (tests/data/flow/digits_tiny.toml), then reruns.

One run (module fixture) goes through every step, the hardware in the loop included; the tests
check what it wrote against independent readings of the same artifacts, and that a rerun reuses
the cache and a changed input reruns exactly the steps that depend on it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtlgen.bitstream.format import read_bitstream
from rtlgen.flow import load_flow, run_flow

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "flow" / "digits_tiny.toml"

pytestmark = [pytest.mark.sim, pytest.mark.slow]


@pytest.fixture(scope="module")
def flow_run(digits_flow_run):
    return digits_flow_run


def test_first_run_runs_every_step(flow_run) -> None:
    run, res = flow_run
    assert res.cached == []
    for step in ("model", "generate", "library", "verify", "cost", "search", "select", "report"):
        assert step in res.ran
    assert any(s.startswith("hil-") for s in res.ran)


def test_report_bitstream_and_hil_agree(flow_run) -> None:
    run, res = flow_run
    report = (run / "report" / "report.md").read_text()
    for png in ("pareto.png", "errors.png", "cost.png"):
        assert (run / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png})" in report
    points = res.outputs["select"]["points"]
    assert len(points) == 1
    p = points[0]
    pdir = run / "points" / p["tag"]
    manifest = json.loads((pdir / "accel" / "manifest.json").read_text())
    # the copied bitstream is the mapper's and belongs to the generated accelerator
    assert (pdir / "config.bin").read_bytes() == Path(p["bitstream"]).read_bytes()
    bs = read_bitstream(pdir / "config.bin", expect_accel=manifest["config_hash"])
    assert [[m.hash for m in u] for u in bs.units] == [[s["hash"] for s in u] for u in manifest["units"]]
    hil = json.loads((pdir / "hil.json").read_text())
    assert hil["agree"] is True and hil["images"] == 2
    assert hil["cycles_per_image"] > 0 and hil["layers"]
    # HIL predictions = the mapper's emulation from the same bitstream, on the same images
    em = np.load(Path(p["bitstream"]).parent / "emulation.npz")
    assert hil["pred"] == [int(v) for v in np.argmax(em["logits"][:2], axis=1)]
    from rtlgen.zoo.digits import load_digits_images

    _x, y = load_digits_images("test")
    assert hil["accuracy"] == pytest.approx(float(np.mean(np.asarray(hil["pred"]) == y[:2])))
    assert f"| {p['tag']} |" in report and "yes, bit for bit" in report
    # the digits accelerator (8 lanes, sky130hd) has a shipped energy model: the point's energy
    # per inference is the model's, and the report shows it
    assert p["accel_energy_uj"] > 0 and f"{p['accel_energy_uj']:.2f} uJ (" in report
    # the point's schedule on the device, counted from its two images
    from rtlgen.accel.config import load_config
    from rtlgen.accel.schedule import batch_cycles

    cycles = batch_cycles(Path(p["bitstream"]).read_bytes(), (Path(p["bitstream"]).parent / "weights.bin").read_bytes(),
                          load_config(pdir / "accel" / "accel.toml"))
    assert f"{cycles.total:,} cycles per inference from START to NET_DONE" in report
    png = f"schedule_{p['tag']}.png"
    assert (run / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"({png})" in report


def test_rerun_is_cached_and_changes_rerun_dependents(flow_run, tmp_path: Path) -> None:
    run, first = flow_run
    again = run_flow(TINY, out=run, quiet=True, progress=False)
    assert again.ran == [] and set(again.cached) == set(first.ran)
    # an edited flow file: only the HIL and the report depend on hil.images
    cfg = tmp_path / "digits_tiny.toml"
    shutil.copy(TINY.parent / "accel_test.toml", tmp_path / "accel_test.toml")
    cfg.write_text(TINY.read_text().replace("images = 2", "images = 1"))
    changed = run_flow(load_flow(cfg), out=run, quiet=True, progress=False)
    assert sorted(s.split("-")[0] for s in changed.ran) == ["hil", "report"]
    # an output damaged behind the flow's back is rebuilt; what depends on it is unaffected
    tag = first.outputs["select"]["points"][0]["tag"]
    (run / "points" / tag / "config.bin").write_bytes(b"garbage")
    repaired = run_flow(load_flow(cfg), out=run, quiet=True, progress=False)
    assert repaired.ran == [f"bitstream-{tag}"]
    assert read_bitstream(run / "points" / tag / "config.bin").layers


def test_a_new_tool_version_reruns_the_steps_that_run_it(flow_run, monkeypatch) -> None:
    from rtlgen.cost import sta

    run, _first = flow_run
    run_flow(TINY, out=run, quiet=True, progress=False)   # back to TINY whatever the tests above changed
    real = sta.sta_version()
    monkeypatch.setattr(sta, "sta_version", lambda: real + " (patched)")
    again = run_flow(TINY, out=run, quiet=True, progress=False)
    # OpenSTA times the candidates (cost); the report shows their costs; nothing else runs it
    assert again.ran == ["cost", "report"]


def test_report_schedule_lines_say_why_a_point_has_no_schedule(flow_run, tmp_path: Path) -> None:
    """A point whose config.bin has no activation-memory plan (the model did not fit): the device
    would stop at its first descriptor, and the report says so instead of drawing a schedule."""
    from dataclasses import replace

    from rtlgen.accel.config import load_config
    from rtlgen.accel.regmap import ErrorCode
    from rtlgen.accel.schedule import network_cycles
    from rtlgen.bitstream import format as bsm
    from rtlgen.flow.report import _schedule, _schedule_lines

    run, res = flow_run
    p = res.outputs["select"]["points"][0]
    point = {"tag": p["tag"], "bitstream_file": str(run / "points" / p["tag"] / "config.bin"),
             "bitstream": p["bitstream"], "accel": {"accel_dir": str(run / "points" / p["tag"] / "accel")}}
    cycles, n_units = _schedule(point)
    units = {d.unit for d in cycles.descriptors}
    assert cycles.stop is None and n_units == 2 and units - {None} <= {0, 1} and None in units  # ops: vector unit
    # the same point without its plan
    bs = bsm.decode(Path(p["bitstream"]).read_bytes())
    bare = replace(bs, layers=tuple(replace(d, in_base=0, out_base=0) for d in bs.layers),
                   ops=tuple(replace(d, in_base=0, out_base=0) for d in bs.ops))
    (tmp_path / "config.bin").write_bytes(bsm.encode(bare))
    shutil.copy(Path(p["bitstream"]).with_name("weights.bin"), tmp_path / "weights.bin")
    stopped, _ = _schedule({**point, "bitstream_file": str(tmp_path / "config.bin"),
                               "bitstream": str(tmp_path / "config.bin")})
    assert stopped.stop[0] == ErrorCode.NO_ACTIVATION_PLAN
    assert stopped == network_cycles((tmp_path / "config.bin").read_bytes(), (tmp_path / "weights.bin").read_bytes(),
                                     load_config(run / "points" / p["tag"] / "accel" / "accel.toml"))
    text = "\n".join(_schedule_lines(p["tag"], stopped, {}))
    assert "would stop with NO_ACTIVATION_PLAN at config.bin byte" in text and ".png" not in text
    assert "no weights.bin" in "\n".join(_schedule_lines(p["tag"], None, {}))
