"""rtlgen.paths: lookups outside the package (the liberty file, the checkout) and atomic writes
of files and staged folders (nothing half-written on an error)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen import paths
from rtlgen.errors import ToolError
from rtlgen.paths import atomic_write_bytes, atomic_write_files, staged_folder


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



def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_atomic_write_files_writes_all_or_none(tmp_path):
    (tmp_path / "b").mkdir()
    with pytest.raises(IsADirectoryError, match=r"is a folder; expected a file name to write"):
        atomic_write_files({tmp_path / "a.txt": b"a", tmp_path / "b": b"b"})
    assert _listing(tmp_path) == ["b"]
    atomic_write_files({tmp_path / "a.txt": b"a", tmp_path / "sub" / "c.txt": b"c"})
    assert (tmp_path / "a.txt").read_bytes() == b"a" and (tmp_path / "sub" / "c.txt").read_bytes() == b"c"
    assert _listing(tmp_path) == ["a.txt", "b", "sub", "sub/c.txt"]


def test_atomic_write_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path, b"x")
    assert _listing(tmp_path) == []


def test_staged_folder_lands_only_when_complete(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with staged_folder(out) as stage:
            (stage / "half.txt").write_text("1")
            raise RuntimeError("stop")
    assert _listing(tmp_path) == []
    with staged_folder(out) as stage:
        (stage / "new.txt").write_text("2")
    assert _listing(tmp_path) == ["out", "out/new.txt"]
    # replacing: the old folder goes whole
    (out / "old.txt").write_text("0")
    with staged_folder(out) as stage:
        (stage / "again.txt").write_text("3")
    assert _listing(tmp_path) == ["out", "out/again.txt"]


def test_staged_folder_merge_keeps_other_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "a.v").write_text("old")
    with pytest.raises(ValueError):
        with staged_folder(out, merge=True) as stage:
            (stage / "a.v").write_text("half")
            raise ValueError("bad netlist")
    assert (out / "a.v").read_text() == "old" and _listing(tmp_path) == ["out", "out/a.v", "out/notes.txt"]
    with staged_folder(out, merge=True) as stage:
        (stage / "a.v").write_text("new")
        (stage / "b.v").write_text("new")
    assert _listing(tmp_path) == ["out", "out/a.v", "out/b.v", "out/notes.txt"]
    assert (out / "a.v").read_text() == "new"


def test_staged_folder_refuses_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file; expected a folder to write"):
        with staged_folder(tmp_path / "f"):
            pass
    assert _listing(tmp_path) == ["f"]
