from __future__ import annotations

import numpy as np
import pytest

from rtlgen.errors import ConfigError
from rtlgen.mapper.network import load_images, parse_split


def test_parse_split() -> None:
    assert parse_split("0:500", 1017) == slice(0, 500)
    assert parse_split("500:", 1017) == slice(500, 1017)
    with pytest.raises(ValueError, match=r"^--test must look like START:STOP \(e\.g\. 0:500\), not '500-1017'$"):
        parse_split("500-1017", 1017, "--test")
    with pytest.raises(ValueError, match=r"^--search '0:2000' must satisfy 0 <= START < STOP <= 1017"):
        parse_split("0:2000", 1017, "--search")


def test_load_images_errors(tmp_path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 2, 2, 1), np.uint8))
    with pytest.raises(ConfigError, match=r"a\.npz: image file lacks array\(s\) \['y'\]"):
        load_images(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 2, 2, 1), np.uint8), y=np.zeros(2, np.uint8))
    with pytest.raises(ConfigError, match=r"b\.npz: 3 images but 2 labels$"):
        load_images(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.zeros((3, 2, 2, 1), np.uint8), y=np.arange(3).reshape(3, 1))
    x, y = load_images(tmp_path / "c.npz")
    assert x.shape == (3, 2, 2, 1) and y.tolist() == [0, 1, 2]
