"""TFLite integer requantization, bit for bit: the golden model of emulation and hardware.

Everything here reproduces LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``, built
without ``TFLITE_SINGLE_ROUNDING``) exactly, on numpy integer arrays (computed in int64, results
int32). The accelerator's requantization stage is checked against these functions.

Fixed-point multipliers
    :func:`quantize_multiplier` turns a real scale ``s > 0`` into ``(m, shift)`` with
    ``s ~= m * 2**(shift - 31)``, ``m`` in ``[2**30, 2**31)``: ``frexp`` then
    ``round(fraction * 2**31)`` with C's ``round`` (half away from zero); a fraction that rounds
    to ``2**31`` becomes ``2**30`` with ``shift + 1``; ``shift < -31`` flushes to ``(0, 0)``;
    ``shift > 30`` saturates to ``(2**31 - 1, 30)``. The real scale of CONV_2D /
    DEPTHWISE_CONV_2D (per output channel) and FULLY_CONNECTED is, in double precision,
    ``float(input_scale) * float(filter_scale[c]) / float(output_scale)``.

Rounding each op uses (which one is what makes emulation bit-exact)
    * CONV_2D, DEPTHWISE_CONV_2D (int8): :func:`multiply_by_quantized_multiplier`, gemmlowp's
      *two-step* rounding: ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
      x << max(shift, 0), m), max(-shift, 0))``. Step 1
      (:func:`saturating_rounding_doubling_high_mul`) is ``(x*m + nudge) / 2**31`` truncated
      toward zero, with ``nudge = 2**30`` for ``x*m >= 0`` else ``1 - 2**30`` (round half away
      from zero), saturating only for ``x = m = -2**31``. Step 2
      (:func:`rounding_divide_by_pot`) is an arithmetic right shift rounding half away from
      zero. The two roundings in sequence differ from one rounding by one LSB for some inputs.
    * FULLY_CONNECTED (int8): :func:`multiply_by_quantized_multiplier_single_round`, *one*
      rounding, half up: ``(x * m + 2**(30 - shift)) >> (31 - shift)`` in 64 bits. This is what
      LiteRT's reference FULLY_CONNECTED computes (measured: with the two-step formula 30 of
      the first 300 CIFAR-10 images' ResNet-8 logits are 1 LSB off; with this one none are;
      ``tests/nn/test_litert.py`` checks all 1,017). :func:`requantize` selects it with
      ``rounding="single"``.
    * ADD: both inputs are offset by minus their zero points, shifted left by 20, scaled with
      :func:`multiply_by_quantized_multiplier` (exponents <= 0), summed, scaled again, offset by
      the output zero point and clamped (:func:`add_quantized`).
    * AVERAGE_POOL_2D: ``sum / count`` rounded half away from zero over the in-image taps
      (C integer division), no rescaling (:func:`rounded_average`).

After the scaling, the output zero point is added and the result clamped to the activation
range (:func:`activation_range`: ``NONE`` gives -128..127, ``RELU`` ``max(zp, -128)..127``,
``RELU6`` and ``RELU_N1_TO_1`` also clamp the top at ``zp + round(6 / scale)`` etc.).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

__all__ = [
    "Rounding",
    "quantize_multiplier",
    "quantize_multiplier_smaller_than_one_exp",
    "quantize_multiplier_greater_than_one",
    "conv_multipliers",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_single_round",
    "requantize",
    "activation_range",
    "add_quantized",
    "add_params",
    "rounded_average",
]

Rounding = Literal["double", "single"]

_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def _c_round(x: float) -> float:
    """C's ``std::round``: half away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: ``real ~= m * 2**(shift - 31)``; returns ``(m, shift)``."""
    real = float(real)
    if real < 0 or not math.isfinite(real):
        raise ValueError(f"a quantized multiplier must be finite and >= 0, not {real}")
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = int(_c_round(frac * (1 << 31)))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return _I32_MAX, 30
    return q, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierSmallerThanOneExp``: as :func:`quantize_multiplier`, shift <= 0."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"expected a multiplier in (0, 1), got {real}")
    m, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real} quantized to a left shift {shift}")
    return m, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierGreaterThanOne``: returns ``(m, left_shift >= 0)``."""
    if not real > 1.0:
        raise ValueError(f"expected a multiplier > 1, got {real}")
    m, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real} quantized to a right shift {shift}")
    return m, shift


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel ``(multiplier, shift)`` int32 arrays of a conv / FC layer.

    Scales are float32 in the file; they are widened to double and combined as TFLite's
    ``PopulateConvolutionQuantizationParams`` does. A single filter scale is broadcast.
    """
    fs = np.asarray(filter_scales, dtype=np.float32).ravel()
    if fs.size not in (1, channels):
        raise ValueError(f"{fs.size} filter scales for {channels} output channels")
    if fs.size == 1:
        fs = np.repeat(fs, channels)
    ins = float(np.float32(input_scale))
    outs = float(np.float32(output_scale))
    ms, ss = zip(*(quantize_multiplier(ins * float(s) / outs) for s in fs))
    return np.array(ms, dtype=np.int32), np.array(ss, dtype=np.int32)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 values (returns int64 array)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C++ '/' truncates toward zero; numpy '//' floors.
    q = np.where(s >= 0, s >> 31, -((-s) >> 31))
    overflow = (a == _I32_MIN) & (b == _I32_MIN)
    return np.where(overflow, _I32_MAX, q).astype(np.int64)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    if np.any((e < 0) | (e > 31)):
        raise ValueError("RoundingDivideByPOT exponent must lie in 0..31")
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _wrap_i32(x: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def multiply_by_quantized_multiplier(x: np.ndarray, m: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier`` (two-step, the default build). int64 result.

    ``x`` is an int32 accumulator; ``m``, ``shift`` broadcast against it (per channel on the
    last axis, say).
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    # x * (1 << left) is int32 arithmetic in C++: it wraps.
    xs = _wrap_i32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, m), right)


def multiply_by_quantized_multiplier_single_round(x: np.ndarray, m: np.ndarray | int,
                                                  shift: np.ndarray | int) -> np.ndarray:
    """``TFLITE_SINGLE_ROUNDING`` variant: ``(x*m + 2**(30-shift)) >> (31-shift)``. int64."""
    x = np.asarray(x, dtype=np.int64)
    total = 31 - np.asarray(shift, dtype=np.int64)
    # x*m fits in int64 for int32 operands; adding the round term cannot overflow either.
    return (x * np.asarray(m, dtype=np.int64) + (np.int64(1) << (total - 1))) >> total


def requantize(acc: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int,
               output_zero_point: int, act_min: int = -128, act_max: int = 127,
               rounding: Rounding = "double") -> np.ndarray:
    """int32 accumulator (bias included) -> int8: scale, add zero point, clamp.

    ``multiplier``/``shift`` broadcast against ``acc`` (per output channel: last axis).
    """
    if rounding == "double":
        y = multiply_by_quantized_multiplier(acc, multiplier, shift)
    elif rounding == "single":
        y = multiply_by_quantized_multiplier_single_round(acc, multiplier, shift)
    else:
        raise ValueError(f"unknown rounding {rounding!r}; expected 'double' or 'single'")
    y = y + int(output_zero_point)
    return np.clip(y, act_min, act_max).astype(np.int8)


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite ``CalculateActivationRangeQuantized`` for a fused activation name."""
    def q(f: float) -> int:
        return int(zero_point) + int(_c_round(float(np.float32(f) / np.float32(scale))))
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"unsupported fused activation {activation!r}; "
                     "expected NONE, RELU, RELU6 or RELU_N1_TO_1")


def add_params(scale1: float, scale2: float, scale_out: float) -> tuple[int, tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Multipliers of an int8 ADD as TFLite's ``add.cc`` prepares them (left shift 20)."""
    left_shift = 20
    s1, s2, so = (float(np.float32(s)) for s in (scale1, scale2, scale_out))
    twice_max = 2.0 * max(s1, s2)
    m1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    mo = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    return left_shift, m1, m2, mo


def add_quantized(x1: np.ndarray, zp1: int, x2: np.ndarray, zp2: int, zp_out: int,
                  params: tuple, act_min: int = -128, act_max: int = 127) -> np.ndarray:
    """int8 ADD of TFLite's reference kernel (same shapes; no broadcasting)."""
    left_shift, (m1, e1), (m2, e2), (mo, eo) = params
    a = (np.asarray(x1, dtype=np.int64) - zp1) << left_shift
    b = (np.asarray(x2, dtype=np.int64) - zp2) << left_shift
    sa = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(a, m1), -e1)
    sb = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(b, m2), -e2)
    raw = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(_wrap_i32(sa + sb), mo), -eo)
    return np.clip(raw + zp_out, act_min, act_max).astype(np.int8)


def rounded_average(total: np.ndarray, count: np.ndarray | int) -> np.ndarray:
    """AVERAGE_POOL_2D's ``sum / count`` rounded half away from zero (C division). int64."""
    total = np.asarray(total, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    num = np.where(total > 0, total + count // 2, total - count // 2)
    # C truncating division
    q = np.abs(num) // count
    return np.where(num < 0, -q, q)
