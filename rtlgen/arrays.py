"""numpy files read with errors that name the file: :func:`read_npz` (every array of an ``.npz``)
and :func:`read_npy` (one ``.npy`` array). numpy reports a wrong file as anything from
``EOFError`` (empty) to ``BadZipFile`` (truncated archive), ``zlib.error`` (corrupt member) or a
pickle ``ValueError`` (another format); these all become one :class:`~rtlgen.errors.ConfigError`
saying what was found and, through ``expected``, what the caller wanted."""
from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rtlgen.errors import ConfigError

__all__ = ["read_npz", "read_npy"]

_NUMPY_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def _existing_file(path: Path, expected: str) -> None:
    if path.is_dir():
        raise ConfigError(f"is a folder; {expected}", file=str(path))
    if not path.is_file():
        raise ConfigError(f"no such file; {expected}", file=str(path))
    if path.stat().st_size == 0:
        raise ConfigError(f"an empty file; {expected}", file=str(path))


def read_npz(path: str | os.PathLike, expected: str = "expected an .npz file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read now."""
    path = Path(path)
    _existing_file(path, expected)
    if not zipfile.is_zipfile(path):     # np.load would try .npy, then pickle
        raise ConfigError(f"not an .npz (zip) archive; {expected}", file=str(path))
    try:
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in f.files}
    except _NUMPY_ERRORS as exc:
        raise ConfigError(f"truncated or corrupt ({type(exc).__name__}: {exc}); {expected}",
                          file=str(path)) from None


def read_npy(path: str | os.PathLike, expected: str = "expected an .npy file") -> np.ndarray:
    """The array of an ``.npy`` file."""
    path = Path(path)
    _existing_file(path, expected)
    try:
        value = np.load(path, allow_pickle=False)
    except _NUMPY_ERRORS as exc:
        raise ConfigError(f"not a readable .npy array ({type(exc).__name__}: {exc}); {expected}",
                          file=str(path)) from None
    if not isinstance(value, np.ndarray):     # an .npz archive
        value.close()
        raise ConfigError(f"an .npz archive, not an .npy array; {expected}", file=str(path))
    return value
