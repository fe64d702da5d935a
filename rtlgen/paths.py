"""Where rtlgen finds things outside the package: the repository, shared data, tools' files.

Lookups honour environment variables first so that a user's installation can point elsewhere:
``RTLGEN_LIBERTY`` (a liberty file), ``RTLGEN_SHARED_DATA`` (the test-data folder).
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rtlgen.errors import ToolError

__all__ = ["REPO_ROOT", "checkout_root", "liberty_path", "shared_data_dir", "atomic_write_bytes",
           "atomic_write_text", "atomic_write_files", "staged_folder", "file_hash"]

#: The folder above the package: the checkout for a source tree or an editable install (then it
#: holds ``pyproject.toml``); for an installed wheel it is ``site-packages`` and means nothing.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Where Debian's ``qflow-tech-osu018`` puts the OSU 0.18um library (relative to its root).
_OSU018 = Path("usr/share/qflow/tech/osu018/osu018_stdcells.lib")


def checkout_root() -> Path | None:
    """The source checkout rtlgen runs from, or None for an installed package (a wheel)."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "rtlgen").is_dir() else None


def liberty_path() -> Path:
    """OSU 0.18um cells from Debian's ``qflow-tech-osu018``: the netlist reader's library of cell
    functions (EvoApprox's ``_pdk45`` netlists use its cell names) and the ``osu018`` PDK's file
    (:mod:`rtlgen.cost.pdk`; costs default to ``sky130hd``, which ships in the package).

    Looked up in order: ``$RTLGEN_LIBERTY`` (when set it must name a file: a wrong setting is an
    error, not a reason to fall back), ``.deps/osu018`` of the checkout (``bootstrap.sh``
    unpacks the package there), then the system's ``/usr/share/qflow`` (``apt-get install
    qflow-tech-osu018``). An installed wheel ships no liberty file: it finds the system's or
    ``$RTLGEN_LIBERTY``.
    """
    env = os.environ.get("RTLGEN_LIBERTY")
    if env:
        if not Path(env).is_file():
            raise ToolError(f"$RTLGEN_LIBERTY is {env!r}, which is not a file; expected the path of a liberty "
                            "(.lib) file, e.g. osu018_stdcells.lib")
        return Path(env)
    root = checkout_root()
    candidates = ([root / ".deps/osu018" / _OSU018] if root is not None else []) + [Path("/") / _OSU018]
    for path in candidates:
        if path.is_file():
            return path
    raise ToolError(
        "osu018_stdcells.lib not found; looked in "
        + ", ".join(str(p) for p in candidates)
        + ". Install it (Debian: apt-get install qflow-tech-osu018; in a checkout 'bash bootstrap.sh setup' "
        "unpacks it into .deps) or set $RTLGEN_LIBERTY to a liberty file"
    )


def shared_data_dir() -> Path:
    """The folder of real test inputs (``../shared/data`` beside the checkout)."""
    # an installed package has no checkout beside it: only $RTLGEN_SHARED_DATA can say where
    path = Path(os.environ.get("RTLGEN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        raise FileNotFoundError(
            f"shared test data not found at {path}: the tests read real inputs from ../shared/data "
            "beside the checkout (see README.md, 'Data') or from $RTLGEN_SHARED_DATA"
        )
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    The data goes to a temporary file in the same folder, renamed over ``path`` when complete
    (no fsync: the guarantee is about what readers see, not about surviving a power cut).
    """
    atomic_write_files({path: data})


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _writable_file(path: Path) -> None:
    """Refuse a folder as a file target before anything is written (os.replace would fail only
    after the temporary was made, and name the temporary)."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; expected a file name to write", str(path))


def atomic_write_files(files: Mapping[str | os.PathLike, bytes]) -> None:
    """Write several files so that either all of them are replaced or none is: each goes to a
    temporary beside it first, and only when every one is written are they renamed into place."""
    paths = [(Path(p), data) for p, data in files.items()]
    for path, _ in paths:
        _writable_file(path)
    tmps: list[tuple[Path, Path]] = []
    try:
        for path, data in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmps.append((tmp, path))
            with open(tmp, "wb") as f:
                f.write(data)
        for tmp, path in tmps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in tmps:
            if tmp.exists():
                tmp.unlink()


@contextmanager
def staged_folder(path: str | os.PathLike, *, merge: bool = False) -> Iterator[Path]:
    """A temporary sibling of the folder ``path`` to write into; it lands only if the block ends
    without an exception, else it is removed and ``path`` is left as it was.

    On success the temporary is renamed to ``path``. An existing ``path`` is replaced whole, or
    with ``merge`` kept and the temporary's entries renamed into it one by one (other files in
    it stay). Renames within one folder are atomic, so readers never see a half-written file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file; expected a folder to write", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if not path.exists():
            os.rename(tmp, path)
        elif merge:
            for entry in sorted(tmp.iterdir()):
                target = path / entry.name
                if target.is_dir() and not entry.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "is a folder; expected a file name to write", str(target))
                if entry.is_dir() and target.exists():
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
                os.replace(entry, target)
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rename(path, old / path.name)
            os.rename(tmp, path)
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 (hex, first 16 digits) of a file's bytes: the identity of a netlist in cache keys."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
