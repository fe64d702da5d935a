from __future__ import annotations

import numpy as np
import pytest

from rtlgen.emulate import encoding as enc
from rtlgen.netlist.table import exact_table


@pytest.mark.parametrize("encoding", enc.ENCODINGS)
@pytest.mark.parametrize("z", [-128, -20, 0, 37])
def test_exact_table_gives_exact_dot_in_every_encoding(encoding, z):
    rng = np.random.default_rng(abs(z) + 7)
    lo = z if encoding == "signmag" else -128  # signmag needs x - z in 0..255 (ReLU-clamped)
    x = rng.integers(lo, 128, size=(500, 27))
    w = rng.integers(-127, 128, size=(500, 27))
    x[:, :3] = z  # padding taps
    got = enc.dot(exact_table(enc.TABLE_SIGNED[encoding]), x, w, z, encoding)
    want = ((x - z) * w).sum(axis=-1)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{encoding}: row {bad[:1]} got {got[bad[:1]]} want {want[bad[:1]]}"


def test_codes_seen_by_the_multiplier():
    a = enc.activation_codes(np.array([-128, 0, 127]), -128, "signmag")
    assert a.tolist() == [0, 128, 255]
    assert enc.activation_codes(np.array([-1, 5]), 3, "raw").tolist() == [255, 5]
    assert enc.activation_codes(np.array([-128, 127]), 0, "offset").tolist() == [0, 255]
    b, s = enc.weight_codes(np.array([-5, 0, 7]), "signmag")
    assert b.tolist() == [5, 0, 7] and s.tolist() == [-1, 1, 1]
    assert enc.weight_codes(np.array([-5]), "raw")[0].tolist() == [251]
    assert enc.weight_codes(np.array([-5]), "offset")[0].tolist() == [123]


def test_signmag_rejects_activations_below_zero_point():
    with pytest.raises(ValueError, match=r"^signmag encoding needs x - z in 0\.\.255, but activation -5"):
        enc.activation_codes(np.array([0, -5]), 0, "signmag")
    with pytest.raises(ValueError, match=r"^unknown encoding 'twos'; valid: signmag, raw, offset$"):
        enc.activation_codes(np.array([0]), 0, "twos")


def test_approximate_table_error_is_table_minus_product():
    t = exact_table(False)
    t2 = t.copy()
    t2[3, 4] += 5  # one wrong entry
    x = np.array([[3 - 128, 1 - 128]])
    w = np.array([[-4, 2]])
    exact = enc.dot(t, x, w, -128, "signmag")
    approx = enc.dot(t2, x, w, -128, "signmag")
    assert (approx - exact).tolist() == [-5]  # product takes the weight's sign
