"""rtlgen.flow.run without running the steps: what it checks before the first one."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen.errors import ToolError
from rtlgen.flow import run_flow

TINY = Path(__file__).resolve().parent / "data" / "flow" / "digits_tiny.toml"


def test_a_missing_liberty_file_stops_the_flow_before_any_step(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RTLGEN_LIBERTY", str(tmp_path / "missing.lib"))
    with pytest.raises(ToolError, match=r"^\$RTLGEN_LIBERTY is '.*missing\.lib', which is not a file"):
        run_flow(TINY, out=tmp_path / "run", quiet=True, progress=False)
    assert not (tmp_path / "run" / ".flow").exists()
