"""The one host-side cocotb runner: builds and test runs in both simulators, and every failure
(a build error, a failing cocotb test, a missing source or module) as one clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen.errors import ToolError
from rtlgen.sim import runner
from rtlgen.sim.simulators import IcarusBackend, VerilatorBackend

MODULE = "sim_runner_cases"   # tests/support/sim_runner_cases.py, on sys.path under pytest

DESIGN = """\
`timescale 1ns/1ps
module runner_case(
    input  wire [7:0] a /*verilator public_flat_rw*/,
    output wire [7:0] y /*verilator public_flat_rw*/,
    output reg  [7:0] p /*verilator public_flat_rw*/);
  wire [7:0] internal = a + 8'd1;
  assign y = internal;
  reg [8*256-1:0] vcd;
  initial begin
    if (!$value$plusargs("p=%d", p)) p = 0;
    if ($value$plusargs("vcd=%s", vcd)) begin $dumpfile(vcd); $dumpvars(1, runner_case); end
  end
endmodule
"""


def _design(tmp_path: Path) -> Path:
    src = tmp_path / "runner_case.v"
    src.write_text(DESIGN)
    return src


@pytest.mark.sim
def test_icarus_build_and_passing_test(tmp_path):
    log = runner.build("icarus", [_design(tmp_path)], "runner_case", tmp_path / "build")
    assert log == (tmp_path / "build" / "build.log").resolve()
    results = runner.test("icarus", MODULE, "runner_case", tmp_path / "build", tmp_path / "run",
                          env={"RUNNER_CASE_P": "7"}, plusargs=["+p=7"])
    assert results == (tmp_path / "run" / "results.xml").resolve() and results.is_file()
    assert "adds_one_and_reads_the_plusarg" in results.read_text()
    assert (tmp_path / "run" / "sim.log").is_file()


@pytest.mark.sim
def test_failing_cocotb_test_names_the_log_and_quotes_it(tmp_path):
    runner.build("icarus", [_design(tmp_path)], "runner_case", tmp_path / "build")
    with pytest.raises(ToolError, match=r"^icarus simulation of sim_runner_cases on runner_case in \S+/run: 1 of 1 "
                                        r"cocotb tests failed \(see \S+/run/results\.xml\); end of \S+/run/sim\.log:\n"
                       ) as exc:
        runner.test("icarus", MODULE, "runner_case", tmp_path / "build", tmp_path / "run",
                    env={"RUNNER_CASE_P": "8"}, plusargs=["+p=7"])
    assert "p is 7, the host announced 8" in str(exc.value)   # the log's tail holds the assertion


@pytest.mark.sim
def test_build_error_names_the_source_and_line(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module runner_case(input wire a);\n  assign y = ;\nendmodule\n")
    with pytest.raises(ToolError, match=r"^icarus build of runner_case in \S+/build failed \(Command failed with return "
                                        r"code: \d+\); end of \S+/build/build\.log:\n") as exc:
        runner.build("icarus", [bad], "runner_case", tmp_path / "build")
    assert f"{bad}:2: syntax error" in str(exc.value)


def test_missing_source_and_unknown_module_are_refused_before_running(tmp_path):
    with pytest.raises(ToolError, match=r"^icarus build of top in \S+: source \S+/nothere\.v does not exist$"):
        runner.build("icarus", [tmp_path / "nothere.v"], "top", tmp_path / "build")
    with pytest.raises(ValueError, match=r"^cocotb test module 'no_such_cocotb_module' cannot be imported; expected "
                                         r"the dotted name of a module on sys\.path"):
        runner.test("icarus", "no_such_cocotb_module", "top", tmp_path / "build", tmp_path / "run")
    with pytest.raises(ValueError, match=r"^unknown simulator 'vcs'; valid: verilator, icarus$"):
        runner.build("vcs", [], "top", tmp_path / "build")


@pytest.mark.sim
def test_icarus_dumps_vcd_only_when_the_backend_says_so(tmp_path):
    src = _design(tmp_path)
    for dump in ("none", "vcd"):
        sim = IcarusBackend(dump=dump)
        runner.build(sim, [src], "runner_case", tmp_path / dump)
        vcd = tmp_path / dump / "nets.vcd"
        runner.test(sim, MODULE, "runner_case", tmp_path / dump, tmp_path / dump, env={"RUNNER_CASE_P": "0"},
                    plusargs=[f"+vcd={vcd}"])
        if dump == "vcd":
            assert "$var" in vcd.read_text() and " internal " in vcd.read_text()
        else:
            assert not vcd.exists() or "$var" not in vcd.read_text()


@pytest.mark.sim
@pytest.mark.slow
def test_verilator_build_without_public_flat_rw_and_with_the_backends_optimisation(tmp_path):
    sim = VerilatorBackend(small_design=True, opt_fast="-Os")
    cache = sim.runtime_dir(tmp_path)
    log = runner.build(sim, [_design(tmp_path)], "runner_case", tmp_path / "build", build_args=sim.build_args(),
                       runtime_cache=cache)
    verilated = (tmp_path / "build" / "Vtop__verFiles.dat").read_text()
    assert "--public-flat-rw" not in verilated and "--vpi" in verilated
    assert " -Os " in log.read_text()          # OPT_FAST reached make's command line
    assert sim.runtime_cached(cache)           # the runtime objects were kept for the next build
    runner.test(sim, MODULE, "runner_case", tmp_path / "build", tmp_path / "run", env={"RUNNER_CASE_P": "3"},
                plusargs=["+p=3"])
    with pytest.raises(ToolError, match=r"^verilator simulation of sim_runner_cases on runner_case in \S+: 1 of 1 "
                                        r"cocotb tests failed"):
        runner.test(sim, MODULE, "runner_case", tmp_path / "build", tmp_path / "run", env={"RUNNER_CASE_P": "4"},
                    plusargs=["+p=3"])
