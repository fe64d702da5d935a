"""Models rtlgen ships: the embedded int8 digits CNN and its images (see :mod:`rtlgen.zoo.digits`)."""
from __future__ import annotations

from rtlgen.zoo.digits import digits_model_path, load_digits_images, save_images_npz

__all__ = ["digits_model_path", "load_digits_images", "save_images_npz"]
