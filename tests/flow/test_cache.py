"""Step keys of the flow cache (rtlgen/flow/cache.py): tool versions and their reading."""
from __future__ import annotations

import pytest

import rtlgen
from rtlgen.cost import sta
from rtlgen.errors import ToolError
from rtlgen.flow.cache import ABSENT, ToolVersions, step_key


def _cost_key(versions: ToolVersions) -> str:
    # as rtlgen.flow.run keys the cost step
    return step_key("cost", {"names": ["m"]}, [], ["k_lib"], versions("rtlgen", "yosys", "sta"))


def test_a_new_tool_version_changes_the_keys_of_the_steps_that_run_it(monkeypatch) -> None:
    monkeypatch.setattr(sta, "sta_version", lambda: "OpenSTA 2.0.17")
    old = ToolVersions()
    old_cost, old_search = _cost_key(old), step_key("search", {}, [], [], old("rtlgen"))
    monkeypatch.setattr(sta, "sta_version", lambda: "OpenSTA 2.0.18")
    new = ToolVersions()
    assert _cost_key(new) != old_cost
    assert _cost_key(old) == old_cost       # an instance keeps what it read
    # a step that does not run OpenSTA keeps its key
    assert step_key("search", {}, [], [], new("rtlgen")) == old_search


def test_rtlgen_version_is_part_of_every_key(monkeypatch) -> None:
    key = step_key("search", {}, [], [], ToolVersions()("rtlgen"))
    monkeypatch.setattr(rtlgen, "__version__", "99.0.0")
    assert step_key("search", {}, [], [], ToolVersions()("rtlgen")) != key


def test_versions_are_read_once_per_instance() -> None:
    calls = []
    versions = ToolVersions({"yosys": lambda: calls.append(1) or "Yosys 0.23"})
    assert versions("yosys") == {"yosys": "Yosys 0.23"}
    assert versions("yosys") == {"yosys": "Yosys 0.23"}
    assert len(calls) == 1
    assert len(ToolVersions({"yosys": lambda: calls.append(1) or "Yosys 0.23"})("yosys")) == 1
    assert len(calls) == 2


def test_a_missing_tool_reads_absent(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RTLGEN_STA", str(tmp_path / "no-sta"))
    monkeypatch.setenv("YOSYS", str(tmp_path / "no-yosys"))
    versions = ToolVersions()
    assert versions("sta", "yosys") == {"sta": ABSENT, "yosys": ABSENT}
    assert _cost_key(versions) == _cost_key(ToolVersions())  # stable: the key is still computable


def test_real_versions_name_the_installed_tools() -> None:
    v = ToolVersions()("rtlgen", "yosys", "sta", "icarus", "verilator")
    assert v["rtlgen"] == rtlgen.__version__
    assert v["yosys"].startswith("Yosys ") and v["sta"].startswith("OpenSTA ")
    assert v["icarus"].startswith("Icarus Verilog") and v["verilator"].startswith("Verilator 5.")


def test_a_probe_that_fails_otherwise_is_not_hidden() -> None:
    def broken() -> str:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match=r"^bug$"):
        ToolVersions({"sta": broken})("sta")
    with pytest.raises(ValueError, match=r"^no version probe for tool 'xsim'; known: sta$"):
        ToolVersions({"sta": broken})("xsim")


def test_tool_error_reads_absent_from_any_probe() -> None:
    def missing() -> str:
        raise ToolError("sta not found on PATH")

    assert ToolVersions({"sta": missing})("sta") == {"sta": ABSENT}
