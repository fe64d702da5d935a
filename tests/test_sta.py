from __future__ import annotations

import pytest

from rtlgen.sta import StaConfig, run_sta
from rtlgen.synth import synthesize


def test_config_validates():
    with pytest.raises(ValueError, match=r"^clock_ns must be a positive number of ns, not 0"):
        StaConfig(clock_ns=0)
    assert StaConfig().key != StaConfig(output_load_pf=0.02).key


def test_delay_path_and_slews(evoapprox_dir):
    mapped = synthesize(next(evoapprox_dir.rglob("mul8u_17MN.v")))
    report = run_sta(mapped)
    assert 0.05 < report.delay_ns < 1.0
    assert report.critical_path[0][:2] in ("A[", "B[") and report.critical_path[-1].startswith("O[")
    cells = mapped.module["cells"]
    lib = mapped.library
    expected = {f"{c}/{p}" for c, cell in cells.items() for p in lib.cell(cell["type"]).inputs}
    assert set(report.slews_ns) == expected
    assert all(r > 0 and f > 0 for r, f in report.slews_ns.values())
    # a longer clock lowers OpenSTA's power estimate, delay stays
    slow = run_sta(mapped, StaConfig(clock_ns=20.0))
    assert slow.delay_ns == pytest.approx(report.delay_ns)
    assert slow.sta_power_mw["internal"] == pytest.approx(report.sta_power_mw["internal"] / 2, rel=1e-3)


def test_input_activity_reaches_opensta(evoapprox_dir):
    mapped = synthesize(next(evoapprox_dir.rglob("mul8u_17MN.v")))
    quiet = {f"{p}[{i}]": (0.0, 0.5) for p in "AB" for i in range(8)}
    assert run_sta(mapped, input_activity=quiet).sta_power_mw["internal"] == 0.0


def test_constant_design_has_no_path(evoapprox_dir):
    report = run_sta(synthesize(next(evoapprox_dir.rglob("mul8u_TD3.v"))))
    assert report.delay_ns == 0.0 and report.critical_path == () and report.slews_ns == {}
