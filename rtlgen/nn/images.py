"""Image files: an ``.npz`` with ``x`` (uint8 NHWC pixels or int8 codes) and optional ``y`` labels
(one per image). :func:`load_images` is the one reader of this format; every error it raises is
a :class:`~rtlgen.errors.ConfigError` naming the file and what was expected."""
from __future__ import annotations

import os

import numpy as np

from rtlgen.arrays import read_npz
from rtlgen.errors import ConfigError

__all__ = ["load_images"]

_EXPECTED = "expected an .npz image file with arrays 'x' (images) and 'y' (labels)"


def load_images(path: str | os.PathLike, start: int = 0, limit: int | None = None, *,
                labels: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Images ``x[start:start + limit]`` and their labels (None when the file has no ``y``;
    ``labels=True`` requires them)."""
    arrays = read_npz(path, _EXPECTED)
    missing = [k for k in (("x", "y") if labels else ("x",)) if k not in arrays]
    if missing:
        raise ConfigError(f"image file lacks array(s) {missing}; expected 'x' (images) and 'y' "
                          f"(labels), found {sorted(arrays)}", file=str(path))
    x = arrays["x"]
    if x.ndim < 2:
        raise ConfigError(f"'x' has shape {x.shape}; expected one image per row (N, ...)", file=str(path))
    y = np.asarray(arrays["y"]).reshape(-1) if "y" in arrays else None
    if y is not None and len(y) != len(x):
        raise ConfigError(f"{len(x)} images but {len(y)} labels", file=str(path))
    stop = len(x) if limit is None else min(len(x), start + limit)
    if not 0 <= start < stop:
        raise ConfigError(f"no images in [{start}, {stop}): the file holds {len(x)}", file=str(path))
    return x[start:stop], (None if y is None else y[start:stop])
