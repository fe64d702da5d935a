"""Lookups outside the package (rtlgen/paths.py): the liberty file and the checkout."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen import paths
from rtlgen.errors import ToolError


def test_this_tree_is_a_checkout() -> None:
    assert paths.checkout_root() == Path(__file__).resolve().parents[1]


def test_rtlgen_liberty_wins(tmp_path, monkeypatch) -> None:
    lib = tmp_path / "my.lib"
    lib.write_text("library (x) { }\n")
    monkeypatch.setenv("RTLGEN_LIBERTY", str(lib))
    assert paths.liberty_path() == lib


def test_a_wrong_rtlgen_liberty_is_an_error_not_a_fallback(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RTLGEN_LIBERTY", str(tmp_path / "missing.lib"))
    with pytest.raises(ToolError, match=r"^\$RTLGEN_LIBERTY is '.*missing\.lib', which is not a file; expected "):
        paths.liberty_path()


def test_without_a_checkout_or_system_library_the_error_says_what_to_do(tmp_path, monkeypatch) -> None:
    # an installed package: REPO_ROOT is site-packages, no checkout; no system qflow either
    monkeypatch.delenv("RTLGEN_LIBERTY", raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(paths, "_OSU018", Path(str(tmp_path).lstrip("/")) / "no" / "osu018_stdcells.lib")
    assert paths.checkout_root() is None
    with pytest.raises(ToolError, match=r"^osu018_stdcells\.lib not found; looked in /\S+/no/osu018_stdcells\.lib\. "
                                        r"Install it \(Debian: apt-get install qflow-tech-osu018.* set \$RTLGEN_LIBERTY"):
        paths.liberty_path()


def test_the_checkouts_deps_are_found(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RTLGEN_LIBERTY", raising=False)
    root = tmp_path / "checkout"
    (root / "rtlgen").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    lib = root / ".deps" / "osu018" / paths._OSU018
    lib.parent.mkdir(parents=True)
    lib.write_text("library (x) { }\n")
    monkeypatch.setattr(paths, "REPO_ROOT", root)
    assert paths.liberty_path() == lib
