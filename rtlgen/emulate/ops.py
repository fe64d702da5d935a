"""The int8 ops other than multiply-accumulate, as LiteRT's reference kernels compute them.

All functions take and return int8 NHWC (or [N, features]) numpy arrays for a whole batch.
SOFTMAX follows ``reference_ops::Softmax`` with gemmlowp's fixed-point ``exp`` and reciprocal;
that arithmetic is private to this module (the accelerator does not implement SOFTMAX).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from rtlgen.nn.geometry import pad_amounts

from rtlgen.nn import quant

__all__ = ["pad_amounts", "pad_spatial", "average_pool", "max_pool", "add", "softmax"]

_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def pad_spatial(x: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]], value: int) -> np.ndarray:
    (t, b), (l, r) = pads
    if not (t or b or l or r):
        return x
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, fh: int, fw: int, sh: int, sw: int, oh: int, ow: int) -> np.ndarray:
    """[N, OH, OW, FH, FW, C] view of (already padded) x."""
    win = np.lib.stride_tricks.sliding_window_view(x, (fh, fw), axis=(1, 2))  # N, H', W', C, fh, fw
    win = win[:, : (oh - 1) * sh + 1: sh, : (ow - 1) * sw + 1: sw]
    return np.moveaxis(win, 3, 5)


def _pool(x: np.ndarray, options: dict, act: tuple[int, int], kind: str) -> np.ndarray:
    n, h, w, c = x.shape
    fh, fw = options["filter"]
    sh, sw = options["stride"]
    oh, pt, pb = pad_amounts(options["padding"], h, fh, sh)
    ow, pl, pr = pad_amounts(options["padding"], w, fw, sw)
    if kind == "avg" and (oh, ow, fh, fw, pt, pb, pl, pr) == (1, 1, h, w, 0, 0, 0, 0):
        # a global average (the three MLPerf Tiny CNNs): one window, every tap inside
        y = quant.rounded_average(x.sum(axis=(1, 2), dtype=np.int64), h * w)[:, None, None, :]
        return np.clip(y, act[0], act[1]).astype(np.int8)
    x32 = x.astype(np.int32)
    # Out-of-image taps are excluded from both sum/max and count, as TFLite does.
    valid = np.ones((1, h, w, 1), dtype=np.int32)
    fill = np.iinfo(np.int32).min if kind == "max" else 0
    xp = pad_spatial(x32, ((pt, pb), (pl, pr)), fill)
    vp = pad_spatial(valid, ((pt, pb), (pl, pr)), 0)
    win = _windows(xp, fh, fw, sh, sw, oh, ow)
    if kind == "max":
        y = win.max(axis=(3, 4)).astype(np.int64)
    else:
        count = _windows(vp, fh, fw, sh, sw, oh, ow).sum(axis=(3, 4))
        y = quant.rounded_average(win.sum(axis=(3, 4), dtype=np.int64), count)
    return np.clip(y, act[0], act[1]).astype(np.int8)


def average_pool(x: np.ndarray, options: dict, act: tuple[int, int]) -> np.ndarray:
    return _pool(x, options, act, "avg")


def max_pool(x: np.ndarray, options: dict, act: tuple[int, int]) -> np.ndarray:
    return _pool(x, options, act, "max")


def add(x1: np.ndarray, zp1: int, x2: np.ndarray, zp2: int, zp_out: int, params: tuple,
        act: tuple[int, int]) -> np.ndarray:
    return quant.add_quantized(x1, zp1, x2, zp2, zp_out, params, act[0], act[1])


# --- gemmlowp fixed point (int32 raw values carried in int64 arrays) -------------------------

def _wrap(x: np.ndarray) -> np.ndarray:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


_mul = quant.saturating_rounding_doubling_high_mul
_rdbp = quant.rounding_divide_by_pot


def _sat_shift_left(x: np.ndarray, e: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<e> for e > 0."""
    thr = (1 << (31 - e)) - 1
    return np.where(x > thr, _I32_MAX, np.where(x < -thr, _I32_MIN, x << e))


def _exp_on_interval(a: np.ndarray) -> np.ndarray:
    """exp on [-1/4, 0) in Q0.31 (gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl)."""
    constant_term = 1895147668
    one_third = 715827883
    x = _wrap(a + (1 << 28))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = _rdbp(x4, 2)
    poly = _rdbp(_wrap(_mul(_wrap(x4_over_4 + x3), one_third) + x2), 1)
    return _wrap(constant_term + _mul(constant_term, _wrap(x + poly)))


def _exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: input Q(integer_bits), output Q0.31."""
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod = _wrap((a & mask) - one_quarter)
    result = _exp_on_interval(_sat_shift_left(a_mod, integer_bits))
    remainder = _wrap(a_mod - a)
    for exponent, multiplier in ((-2, 1672461947), (-1, 1302514674), (0, 790015084),
                                 (1, 290630308), (2, 39332535), (3, 720401), (4, 242)):
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where(remainder & bit, _mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, _I32_MAX, result)


def _one_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in, Q0.31 out."""
    s = a + _I32_MAX
    half_den = np.where(s >= 0, (s + 1) // 2, -((-(s - 1)) // 2))  # (sum + sign) / 2, truncating
    x = _wrap(1515870810 + _mul(half_den, -1010580540))
    for _ in range(3):
        hdx = _mul(half_den, x)
        one_minus = _wrap((1 << 29) - hdx)
        x = _wrap(x + _sat_shift_left(_mul(x, one_minus), 2))
    return _sat_shift_left(x, 1)


def _clz32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.int64) & 0xFFFFFFFF
    n = np.zeros(x.shape, dtype=np.int64)
    for s in (16, 8, 4, 2, 1):
        small = x < (1 << (32 - s))
        n = np.where(small, n + s, n)
        x = np.where(small, x << s, x)
    return np.where(x == 0, 32, n)


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as ``SoftmaxPrepare`` (reference) sets them."""
    integer_bits = 5
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - integer_bits)),
               (1 << 31) - 1.0)
    m, left = quant.quantize_multiplier_greater_than_one(real)
    radius = math.floor(1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left))
    return m, left, -radius


@functools.lru_cache(maxsize=64)
def _softmax_exps(m: int, left: int, diff_min: int) -> tuple[np.ndarray, np.ndarray]:
    """Per ``x - max(x)`` in -255..0 (index + 255): gemmlowp's exp of the scaled difference, and
    its Q12 term of the sum (0 where the difference is below ``diff_min``). An int8 input has
    only these 256 differences, so the fixed-point exp runs once per layer, not per element."""
    diff = np.arange(-255, 1, dtype=np.int64)
    exps = _exp_on_negative_values(_mul(_wrap(diff << left), m), 5)
    acc = np.where(diff >= diff_min, _rdbp(exps, 12), 0)
    exps.flags.writeable = acc.flags.writeable = False
    return exps, acc


def softmax(x: np.ndarray, beta: float, input_scale: float) -> np.ndarray:
    """int8 softmax over the last axis; output scale 1/256, zero point -128."""
    m, left, diff_min = softmax_params(beta, input_scale)
    exps_of, acc_of = _softmax_exps(m, left, diff_min)
    x = np.asarray(x, dtype=np.int64)
    diff = x - x.max(axis=-1, keepdims=True)  # -255..0
    exps, acc = exps_of[diff + 255], acc_of[diff + 255]
    use = diff >= diff_min
    sum_of_exps = _wrap(acc.sum(axis=-1, keepdims=True))
    headroom = _clz32(sum_of_exps)
    bits_over_unit = 12 - headroom
    shifted = _wrap(((sum_of_exps << headroom) & 0xFFFFFFFF) - (1 << 31))
    scale = _one_over_one_plus_x(shifted)
    unsat = _rdbp(_mul(scale, exps), bits_over_unit + 31 - 8)
    out = np.clip(unsat - 128, -128, 127)
    return np.where(use, out, -128).astype(np.int8)
