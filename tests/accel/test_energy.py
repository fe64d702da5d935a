"""The per-component energy model's arithmetic and file form (its fit to gate-level runs:
``tests/accel/test_power.py::test_energy_model_predicts_a_run_it_was_not_fitted_on``)."""
from __future__ import annotations

import json

import pytest

from rtlgen.accel.energy import CalibrationRun, EnergyModel, calibrate, errors, non_memory_energy_pj
from rtlgen.accel.power import CategoryPower, LayerPower
from rtlgen.errors import ConfigError


def _run(cycles: int, mul_mw: float, logic_mw: float, regs_mw: float, mem_mw: float = 5.0) -> LayerPower:
    return LayerPower(name="r", cycles=cycles, macs=4 * cycles, clock_ns=10.0, breakdown={
        "u0.s0 mul8u_1JJQ": CategoryPower(mul_mw, 0.0, 0.01),
        "logic": CategoryPower(logic_mw, 0.0, 0.02),
        "registers": CategoryPower(regs_mw * 0.75, regs_mw * 0.25, 0.03),
        "clock": CategoryPower(0.0, 0.0, 0.0),
        "memories": CategoryPower(mem_mw, 0.0, 0.5)})


def test_calibration_is_ratios_of_sums_and_reproduces_its_runs():
    runs = [CalibrationRun(_run(100, 2.0, 3.0, 4.0), mul_pj=1000.0),
            CalibrationRun(_run(300, 1.0, 3.0, 4.0), mul_pj=1500.0)]
    m = calibrate(runs, pdk="sky130hd", lanes=4)
    # slots: 2 mW x 100 x 10 ns + 1 mW x 300 x 10 ns = 5000 pJ over 2500 pJ of E_mul
    assert m.mul_scale == pytest.approx(2.0)
    assert m.logic_pj == pytest.approx(30.0) and m.clocked_pj == pytest.approx(40.0)
    assert m.memories_pj == pytest.approx(50.0)
    assert m.leakage_mw == pytest.approx(0.06)
    # both runs reproduced exactly: their multiplier energy per pJ is the same
    assert errors(m, runs) == pytest.approx([0.0, 0.0], abs=1e-12)
    assert non_memory_energy_pj(runs[0].power) == pytest.approx((2 + 3 + 4 + 0.06) * 100 * 10)


def test_inference_energy_charges_idle_units_their_flip_flops_and_leakage():
    m = EnergyModel(mul_scale=1.5, logic_pj=10.0, clocked_pj=20.0, leakage_mw=0.1, memories_pj=7.0,
                    clock_ns=10.0, lanes=16, pdk="sky130hd", runs=3)
    e = m.inference(mul_pj=1000.0, active_cycles=800, cycles=500, units=2, clock_ns=20.0)
    assert (e.multipliers_pj, e.logic_pj, e.clocked_pj) == (1500.0, 8000.0, 20000.0)
    assert e.leakage_pj == pytest.approx(0.1 * 2 * 500 * 20.0)
    assert e.total_pj == pytest.approx(1500 + 8000 + 20000 + 2000)
    assert e.inferences_per_s == pytest.approx(1e9 / (500 * 20.0))
    assert e.power_mw == pytest.approx(e.total_pj / (500 * 20.0))


def test_energy_model_file_round_trip_and_bad_files(tmp_path):
    m = EnergyModel(mul_scale=1.0, logic_pj=1.0, clocked_pj=1.0, leakage_mw=0.0, memories_pj=0.0,
                    clock_ns=10.0, lanes=16, pdk="sky130hd", runs=1)
    m.to_json(tmp_path / "m.json")
    assert EnergyModel.from_json(tmp_path / "m.json") == m
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mul_scale": 1.0}))
    with pytest.raises(ConfigError, match=r"bad\.json: energy model keys \['mul_scale'\]; expected \["):
        EnergyModel.from_json(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match="cannot read the energy model"):
        EnergyModel.from_json(bad)


def test_calibration_rejects_mixed_clocks_and_no_runs():
    a = CalibrationRun(_run(100, 2.0, 3.0, 4.0), 1000.0)
    b = CalibrationRun(LayerPower("r", 100, 400, 5.0, a.power.breakdown), 1000.0)
    with pytest.raises(ValueError, match="different clocks"):
        calibrate([a, b], pdk="sky130hd", lanes=4)
    with pytest.raises(ValueError, match="at least one"):
        calibrate([], pdk="sky130hd", lanes=4)
