"""Image files: an ``.npz`` with ``x`` (uint8 NHWC pixels or int8 codes) and optional ``y`` labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rtlgen.errors import ConfigError

__all__ = ["load_images"]


def load_images(path: Path, start: int, limit: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(path) as f:
        if "x" not in f.files:
            raise ConfigError(f"image file lacks array 'x' (found {f.files})", file=str(path))
        x = f["x"]
        y = np.asarray(f["y"]).reshape(-1) if "y" in f.files else None
    stop = len(x) if limit is None else min(len(x), start + limit)
    if not 0 <= start < stop:
        raise ValueError(f"no images in [{start}, {stop}) of {path} ({len(x)} images)")
    return x[start:stop], (None if y is None else y[start:stop])
