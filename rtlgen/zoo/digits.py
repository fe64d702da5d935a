"""The embedded default model: an int8 CNN for scikit-learn's handwritten digits.

Data: ``sklearn.datasets.load_digits`` (1,797 grayscale 8x8 images of the digits 0-9, pixel
values 0..16, shipped inside scikit-learn, so nothing is downloaded). The split is fixed by
position: the first 1,437 images train (and calibrate) the model, the last 360 test it.

Pixel codes (what ``x`` holds in :func:`load_digits_images` and the ``.npz`` files): each value
v in 0..16 becomes the uint8 code ``(255 * v + 8) // 16`` (v * 255/16 rounded half up, so 0 -> 0,
16 -> 255), laid out NHWC as ``[N, 8, 8, 1]``. The model's input tensor is int8 with scale 1.0
and zero point -128, so the int8 input is ``code - 128``: the same convention as the MLPerf Tiny
ResNet-8 and its CIFAR-10 ``.npz`` files, so every tool that takes one takes the other.

The model (``rtlgen/data/digits_cnn.tflite``) is written by :mod:`rtlgen.zoo.train_digits`;
see there for its layers and quantization.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal

import numpy as np

from rtlgen import resources
from rtlgen.errors import ModelError
from rtlgen.paths import atomic_write_bytes

__all__ = [
    "N_TRAIN",
    "N_TEST",
    "INPUT_SCALE",
    "INPUT_ZERO_POINT",
    "Split",
    "digits_model_path",
    "pixel_codes",
    "load_digits_images",
    "save_images_npz",
]

Split = Literal["train", "test", "all"]

#: Images 0..N_TRAIN-1 of ``load_digits`` train the model; the N_TEST after them test it.
N_TRAIN = 1437
N_TEST = 360

#: Quantization of the model's input tensor: int8 = code - 128 for a uint8 pixel code.
INPUT_SCALE = 1.0
INPUT_ZERO_POINT = -128

_MODEL = resources.DIGITS_MODEL


def digits_model_path() -> Path:
    """Path of the committed int8 ``.tflite`` digits model inside the package."""
    if not _MODEL.is_file():
        raise ModelError(
            "the embedded digits model is missing from the installation; regenerate it with "
            "'python -m rtlgen.zoo.train_digits --out rtlgen/data/digits_cnn.tflite'",
            file=str(_MODEL),
        )
    return _MODEL


def pixel_codes(values: np.ndarray) -> np.ndarray:
    """Map ``load_digits`` pixel values (0..16) to uint8 codes ``(255 * v + 8) // 16``."""
    v = np.asarray(values)
    if v.size and (v.min() < 0 or v.max() > 16 or not np.array_equal(v, np.round(v))):
        raise ValueError("digits pixel values must be integers in 0..16")
    return ((255 * v.astype(np.int64) + 8) // 16).astype(np.uint8)


def load_digits_images(split: Split = "test") -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` images as uint8 pixel codes ``[N, 8, 8, 1]`` (NHWC) and uint8 labels ``[N]``.

    The model's int8 input is ``x.astype(np.int16) - 128`` (scale 1.0, zero point -128).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images, digits.target
    if len(images) != N_TRAIN + N_TEST:
        raise ModelError(
            f"sklearn's load_digits returned {len(images)} images, expected {N_TRAIN + N_TEST}"
        )
    if split == "train":
        sel = slice(0, N_TRAIN)
    elif split == "test":
        sel = slice(N_TRAIN, N_TRAIN + N_TEST)
    elif split == "all":
        sel = slice(0, N_TRAIN + N_TEST)
    else:
        raise ValueError(f"split must be one of 'train', 'test', 'all', not {split!r}")
    x = pixel_codes(images[sel]).reshape(-1, 8, 8, 1)
    y = labels[sel].astype(np.uint8)
    return x, y


def save_images_npz(path: str | os.PathLike, split: Split = "test") -> Path:
    """Write the ``split`` images as an ``.npz`` with ``x`` (uint8 codes, NHWC) and ``y`` (uint8).

    The layout is that of the CIFAR-10 ``.npz`` files, so ``rtlgen emulate --images`` reads both.
    """
    x, y = load_digits_images(split)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
