from __future__ import annotations

import re

import pytest

from rtlgen.cost.sta import StaConfig, run_sta, sta_version
from rtlgen.errors import ToolError
from rtlgen.cost.synth import synthesize


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
    # delay_only: the same path, no slews and no power (what accelerator timing asks for)
    bare = run_sta(mapped, delay_only=True)
    assert (bare.delay_ns, bare.critical_path) == (report.delay_ns, report.critical_path)
    assert bare.slews_ns == {} and bare.sta_power_mw == {}


def test_input_activity_reaches_opensta(evoapprox_dir):
    mapped = synthesize(next(evoapprox_dir.rglob("mul8u_17MN.v")))
    quiet = {f"{p}[{i}]": (0.0, 0.5) for p in "AB" for i in range(8)}
    assert run_sta(mapped, input_activity=quiet).sta_power_mw["internal"] == 0.0


def test_constant_design_has_no_path(evoapprox_dir):
    report = run_sta(synthesize(next(evoapprox_dir.rglob("mul8u_TD3.v"))))
    assert report.delay_ns == 0.0 and report.critical_path == () and report.slews_ns == {}


def test_our_tables_and_slews_reproduce_openstas_internal_power(tmp_path):
    """One AND2X1 with random inputs. OpenSTA 2.0.17 computes internal power as
    sum over arcs of (E_rise + E_fall) x P(output sensitive to the arc's input) x transition
    density of the output, at its slews; our liberty reading must give the same number. (Our cost
    model itself averages rise/fall per actual transition instead: see rtlgen.cost.multiplier.)"""
    from rtlgen.netlist.liberty import read_liberty
    from rtlgen.paths import liberty_path

    path = tmp_path / "tiny.v"
    path.write_text("module tiny(A, B, O); input [7:0] A; input [7:0] B; output [15:0] O;\n"
                    "assign O = {15'b0, A[0] & B[0]}; endmodule\n")
    mapped = synthesize(path, liberty=liberty_path())  # OSU018's AND2X1, as this build was checked on
    (cname,) = mapped.module["cells"]
    config = StaConfig(clock_ns=10.0, output_load_pf=0.01)
    report = run_sta(mapped, config)  # inputs: 0.5 toggles per cycle, duty 0.5
    and2 = read_liberty(liberty_path()).cell("AND2X1")
    density = 0.5 * 0.5 + 0.5 * 0.5  # D(Y) = P(B) D(A) + P(A) D(B)
    energy = 0.0
    for arc in and2.pins["Y"].internal_power:
        rise_slew, fall_slew = report.slews_ns[f"{cname}/{arc.related_pin}"]
        energy += (arc.rise(0.01, rise_slew) + arc.fall(0.01, fall_slew)) * 0.5  # P(other input = 1)
    assert report.sta_power_mw["internal"] == pytest.approx(energy * density / config.clock_ns, rel=1e-5)


def _tiny_and(tmp_path):
    path = tmp_path / "tiny.v"
    path.write_text("module tiny(A, B, O); input [7:0] A; input [7:0] B; output [15:0] O;\n"
                    "assign O = {15'b0, A[0] & B[0]}; endmodule\n")
    return synthesize(path)


def test_sta_writes_nothing_into_the_callers_folder(tmp_path, monkeypatch):
    # OpenSTA keeps its command history (.history_sta) in its working folder: that must be the
    # run's temporary folder, never where rtlgen was started
    mapped = _tiny_and(tmp_path)
    caller = tmp_path / "caller"
    caller.mkdir()
    monkeypatch.chdir(caller)
    report = run_sta(mapped)
    sta_version()
    assert report.delay_ns > 0
    assert list(caller.iterdir()) == []


def test_sta_version():
    assert re.fullmatch(r"OpenSTA \d+\.\d+\.\d+\S*", sta_version())


def test_missing_sta_is_a_tool_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RTLGEN_STA", str(tmp_path / "no-sta"))
    with pytest.raises(ToolError, match=r"^sta not found: \$RTLGEN_STA is '.*no-sta', which is not an executable$"):
        sta_version()


# An OpenSTA 2.0.17 report of a path into a flip-flop clocked on the falling edge (a clock-gating
# enable of the accelerator; Yosys clocks it through an inverter, hence ``vclk'`` rising at 5).
_HALF_CYCLE = """Startpoint: c37259 (rising edge-triggered flip-flop clocked by vclk)
Endpoint: c39467 (rising edge-triggered flip-flop clocked by vclk')
Path Group: vclk
Path Type: max

   Delay     Time   Description
-----------------------------------------------------------
   0.000    0.000   clock vclk (rise edge)
   0.000    0.000   clock network delay (ideal)
   0.000    0.000 ^ c37259/CLK (sky130_fd_sc_hd__dfxtp_1)
   0.283    0.283 v c37259/Q (sky130_fd_sc_hd__dfxtp_1)
   1.620    1.903 ^ c7238/Y (sky130_fd_sc_hd__nor2_1)
   0.003    1.906 ^ c39467/D (sky130_fd_sc_hd__dfxtp_1)
            1.906   data arrival time

   5.000    5.000   clock vclk' (rise edge)
   0.000    5.000   clock network delay (ideal)
            5.000 ^ c39467/CLK (sky130_fd_sc_hd__dfxtp_1)
  -0.069    4.931   library setup time
            4.931   data required time
-----------------------------------------------------------
            4.931   data required time
           -1.906   data arrival time
-----------------------------------------------------------
            3.025   slack (MET)
"""


def test_a_half_cycle_path_counts_at_the_full_cycle_it_needs():
    from rtlgen.cost.sta import _path

    delay, pins = _path(_HALF_CYCLE, "t", period=10.0)
    assert delay == pytest.approx(2 * 1.906)
    assert pins == ("c37259/CLK", "c37259/Q", "c7238/Y", "c39467/D")
    full = _HALF_CYCLE.replace("   5.000    5.000   clock vclk' (rise edge)", "  10.000   10.000   clock vclk (rise edge)")
    assert _path(full, "t", period=10.0)[0] == pytest.approx(1.906)
    assert _path("No paths found.\n", "t", period=10.0) == (0.0, ())
    with pytest.raises(ToolError, match=r"^cannot read OpenSTA's path report for t"):
        _path("garbage\n", "t", period=10.0)
