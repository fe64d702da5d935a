"""rtlgen.flow.run without running the steps: what it checks before the first one."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rtlgen.errors import LibertyError, ToolError
from rtlgen.flow import load_flow, run_flow

TINY = Path(__file__).resolve().parents[1] / "data" / "flow" / "digits_tiny.toml"


def test_a_missing_liberty_file_stops_the_flow_before_any_step(tmp_path, monkeypatch) -> None:
    # osu018 comes from the system (or $RTLGEN_LIBERTY): a wrong one fails before any step
    cfg = dataclasses.replace(load_flow(TINY), pdk="osu018")
    monkeypatch.setenv("RTLGEN_LIBERTY", str(tmp_path / "missing.lib"))
    with pytest.raises(ToolError, match=r"^\$RTLGEN_LIBERTY is '.*missing\.lib', which is not a file"):
        run_flow(cfg, out=tmp_path / "run", quiet=True, progress=False)
    assert not (tmp_path / "run" / ".flow").exists()


def test_a_pdk_without_its_liberty_files_stops_the_flow_before_any_step(tmp_path, monkeypatch) -> None:
    from rtlgen.cost import pdk

    def no_shared_data():
        raise FileNotFoundError("no shared data")

    cfg = dataclasses.replace(load_flow(TINY), pdk="gf180mcu", pdk_dirs=())
    monkeypatch.delenv("RTLGEN_PDK_PATH", raising=False)
    monkeypatch.setattr(pdk, "shared_data_dir", no_shared_data)
    with pytest.raises(LibertyError, match=r"^liberty file gf180mcu\S+ of PDK gf180mcu not found; .*--pdk-dir"):
        run_flow(cfg, out=tmp_path / "run", quiet=True, progress=False)
    assert not (tmp_path / "run" / ".flow").exists()
