"""The ``native`` engine's C functions against their numba twins in rtlgen.emulate._kernels
(whole networks through the engine: tests/emulate/test_engines.py)."""
from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from rtlgen.emulate._kernels import requant_one
from rtlgen.emulate.native import load_native


@nb.njit(cache=True)
def _requant_reference(acc, o, mult, shift, single, zp, lo, hi, out):  # pragma: no cover - compiled
    for i in range(acc.shape[0]):
        out[i] = requant_one(np.int64(acc[i]), mult[i % o], shift[i % o], single, zp, lo, hi)


@pytest.mark.parametrize("o", [16, 64, 32, 10])
@pytest.mark.parametrize("single", [False, True])
def test_requant_equals_the_reference_arithmetic(o, single):
    """rtlgen_requant (the vector loop for 16, 32, 64 channels with two-step rounding, the scalar
    one otherwise) against requant_one on sums over the whole int32 range and near zero, the
    extreme multipliers and shifts, two zero points and clamps."""
    requant = load_native().rtlgen_requant
    rng = np.random.default_rng(o + 100 * single)
    n = o * 4000
    acc = rng.integers(-2**31, 2**31, n).astype(np.int32)
    acc[: n // 2] = rng.integers(-70000, 70000, n // 2)
    acc[:8] = [-2**31, 2**31 - 1, 0, -1, 1, 2**30, -2**30, 12345]
    mult = rng.integers(0, 2**31, o).astype(np.int64)
    mult[:3] = [2**31 - 1, 0, 2**30]
    if single:
        shift = rng.integers(-20, 1, o).astype(np.int64)
    else:
        shift = rng.integers(-31, 12, o).astype(np.int64)
        shift[:4] = [-31, 0, 11, 0]
    for zp, lo, hi in ((-128, -128, 127), (5, -100, 90)):
        want = np.empty(n, np.int8)
        got = np.empty(n, np.int8)
        _requant_reference(acc, o, mult, shift, single, zp, lo, hi, want)
        requant(acc.ctypes.data, n // o, o, mult.ctypes.data, shift.ctypes.data, int(single), zp, lo, hi,
                got.ctypes.data)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (f"first difference at element {bad[0]}: sum {acc[bad[0]]}, multiplier "
                               f"{mult[bad[0] % o]}, shift {shift[bad[0] % o]}: expected {want[bad[0]]}, "
                               f"got {got[bad[0]]}")
        assert lo in want and hi in want and len(np.unique(want)) > 100  # clamps and the rounding both exercised


def test_huge_page_table_is_an_equal_copy_on_a_2mb_boundary():
    from rtlgen.emulate.native import HUGE_PAGE_FROM, huge_page_table

    small = np.arange(100, dtype=np.int16)
    assert huge_page_table(small) is small  # below the threshold: the table itself
    big = np.random.default_rng(0).integers(-2**15, 2**15, (9, 256, 64), dtype=np.int16)
    assert big.nbytes >= HUGE_PAGE_FROM
    got = huge_page_table(big)
    assert got is not big and got.ctypes.data % (2 << 20) == 0
    assert got.dtype == big.dtype and got.shape == big.shape and got.flags.c_contiguous
    assert np.array_equal(got, big)


def test_scratch_buffers_are_reused_per_thread_and_grow():
    """scratch_int32 hands the same memory back for the same name and a size that fits, a larger
    buffer when asked for more, and another thread its own."""
    import threading

    from rtlgen.emulate.native import scratch_int32

    a = scratch_int32("test-a", 4, 100)
    assert a.shape == (4, 100) and a.dtype == np.int32
    a[...] = 7
    b = scratch_int32("test-a", 2, 50)  # fits: the same buffer, its old contents
    assert b.ctypes.data == a.ctypes.data and (b == 7).all()
    c = scratch_int32("test-a", 10, 100)  # grows
    assert c.shape == (10, 100) and c.ctypes.data != a.ctypes.data
    assert scratch_int32("test-b", 4, 100).ctypes.data != c.ctypes.data
    other = []
    t = threading.Thread(target=lambda: other.append(scratch_int32("test-a", 10, 100).ctypes.data))
    t.start()
    t.join()
    assert other and other[0] != c.ctypes.data


@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 65536 + 7])
def test_add_lookup_equals_numpy_indexing_at_any_length(n):
    """rtlgen_add_lut (16 elements per vector gather, the rest one at a time) against numpy's
    indexing of the same 64 KB table, lengths with and without a tail, the table's first and
    last entries included."""
    add = load_native().rtlgen_add_lut
    rng = np.random.default_rng(n)
    lut = rng.integers(-128, 128, 65536).astype(np.int8)
    x1 = rng.integers(-128, 128, n).astype(np.int8)
    x2 = rng.integers(-128, 128, n).astype(np.int8)
    x1[:2], x2[:2] = [-128, 127][: min(n, 2)], [-128, 127][: min(n, 2)]
    out = np.empty(n, np.int8)
    add(x1.ctypes.data, x2.ctypes.data, lut.ctypes.data, out.ctypes.data, n)
    want = lut[(x1.astype(np.int64) + 128) * 256 + x2.astype(np.int64) + 128]
    np.testing.assert_array_equal(out, want)
