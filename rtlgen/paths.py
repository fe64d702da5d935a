"""Where rtlgen finds things outside the package: the repository, shared data, tools' files.

Lookups honour environment variables first so that a user's installation can point elsewhere:
``RTLGEN_LIBERTY`` (a liberty file), ``RTLGEN_SHARED_DATA`` (the test-data folder).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from rtlgen.errors import ToolError

__all__ = ["REPO_ROOT", "liberty_path", "shared_data_dir", "atomic_write_bytes", "atomic_write_text", "file_hash"]

#: The checkout this package lives in (meaningful for an editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent

_OSU018 = Path("usr/share/qflow/tech/osu018/osu018_stdcells.lib")


def liberty_path() -> Path:
    """OSU 0.18um cells from Debian's ``qflow-tech-osu018``: the netlist reader's library of cell
    functions (EvoApprox's ``_pdk45`` netlists use its cell names) and the ``osu018`` PDK's file
    (:mod:`rtlgen.cost.pdk`; costs default to ``sky130hd``, which ships in the package).

    ``bootstrap.sh`` unpacks the package into ``.deps/osu018`` of the checkout.
    """
    candidates = []
    if os.environ.get("RTLGEN_LIBERTY"):
        candidates.append(Path(os.environ["RTLGEN_LIBERTY"]))
    candidates += [REPO_ROOT / ".deps/osu018" / _OSU018, Path("/") / _OSU018]
    for path in candidates:
        if path.is_file():
            return path
    raise ToolError(
        "osu018_stdcells.lib not found; looked in "
        + ", ".join(str(p) for p in candidates)
        + ". Run 'bash bootstrap.sh setup' or set RTLGEN_LIBERTY to a liberty file"
    )


def shared_data_dir() -> Path:
    """The folder of real test inputs (``../shared/data`` beside the checkout)."""
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 (hex, first 16 digits) of a file's bytes: the identity of a netlist in cache keys."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
