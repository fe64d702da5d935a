from __future__ import annotations

import math

import numpy as np
import pytest

from rtlgen.nn import quant


def _srdhm_ref(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return int((ab + nudge) / (1 << 31)) if abs(ab + nudge) < 2**52 else _trunc_div(ab + nudge, 1 << 31)


def _trunc_div(n: int, d: int) -> int:
    q = abs(n) // d
    return q if n >= 0 else -q


def _rdbp_ref(x: int, e: int) -> int:
    # round half away from zero of x / 2**e
    if e == 0:
        return x
    q, r = divmod(abs(x), 1 << e)
    if 2 * r >= (1 << e):
        q += 1
    return q if x >= 0 else -q


def test_quantize_multiplier_known_values():
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    assert quant.quantize_multiplier(0.0) == (0, 0)
    m, s = quant.quantize_multiplier(0.0123)
    assert abs(m * 2.0 ** (s - 31) - 0.0123) < 1e-10
    assert (1 << 30) <= m < (1 << 31)
    # a fraction that rounds up to 2**31 moves to the next exponent
    assert quant.quantize_multiplier(math.nextafter(1.0, 0.0)) == (1 << 30, 1)
    assert quant.quantize_multiplier(2.0 ** -40) == (0, 0)
    assert quant.quantize_multiplier(2.0 ** 40) == ((1 << 31) - 1, 30)
    with pytest.raises(ValueError, match=r"^a quantized multiplier must be finite and >= 0"):
        quant.quantize_multiplier(-1.0)


def test_fixed_point_primitives_match_integer_reference():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 3000), [-(1 << 31), (1 << 31) - 1, 0, -1, 1]])
    b = np.concatenate([rng.integers(0, 1 << 31, 3000), [-(1 << 31), (1 << 31) - 1, 1 << 30, 1 << 30, 1 << 30]])
    got = quant.saturating_rounding_doubling_high_mul(a, b)
    want = [_srdhm_ref(int(x), int(y)) for x, y in zip(a, b)]
    assert got.tolist() == want
    e = rng.integers(0, 32, a.size)
    got = quant.rounding_divide_by_pot(a, e)
    want = [_rdbp_ref(int(x), int(k)) for x, k in zip(a, e)]
    assert got.tolist() == want


def test_two_step_and_single_rounding_differ_somewhere_and_agree_mostly():
    rng = np.random.default_rng(2)
    x = rng.integers(-(1 << 20), 1 << 20, 100000)
    m, s = quant.quantize_multiplier(0.00123456)
    two = quant.multiply_by_quantized_multiplier(x, m, s)
    one = quant.multiply_by_quantized_multiplier_single_round(x, m, s)
    diff = two != one
    assert 0 < diff.sum() < x.size // 100
    assert np.abs(two - one).max() == 1
    # both are within one LSB of the real product
    real = x * (m * 2.0 ** (s - 31))
    assert np.abs(two - real).max() <= 1.0


def test_requantize_clamps_and_offsets():
    acc = np.array([[-10**6, 0, 10**6]], dtype=np.int32)
    m, s = quant.quantize_multiplier(0.001)
    out = quant.requantize(acc, m, s, output_zero_point=5, act_min=-3, act_max=100)
    assert out.dtype == np.int8
    assert out.tolist() == [[-3, 5, 100]]
    with pytest.raises(ValueError, match=r"^unknown rounding 'x'"):
        quant.requantize(acc, m, s, 0, rounding="x")


def test_activation_range():
    assert quant.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -128) == (-128, 127)
    assert quant.activation_range("RELU", 0.1, -20) == (-20, 127)
    assert quant.activation_range("RELU6", 0.1, -128) == (-128, -68)
    with pytest.raises(ValueError, match=r"^unsupported fused activation 'TANH'"):
        quant.activation_range("TANH", 0.1, 0)


def test_rounded_average_half_away_from_zero():
    assert quant.rounded_average(np.array([5, -5, 4, -4, 6]), 4).tolist() == [1, -1, 1, -1, 2]
    assert quant.rounded_average(np.array([3, -3]), 2).tolist() == [2, -2]
