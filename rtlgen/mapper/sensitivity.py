"""Sensitivity of a layer's filters and kernels to multiplier error: the order of the split.

Definition (used by :class:`rtlgen.mapper.space.SearchSpace` to decide which filters get the
more accurate multipliers). A multiplier with relative error ``e`` perturbs each product
``x * w`` by about ``e * |x * w|``; the accumulator of output channel ``f`` sums those
perturbations and requantization scales them by ``M_f = s_x * s_w[f] / s_y`` into output
LSBs. So the expected output perturbation, per unit of relative multiplier error, is

    kernel (f, k):  S[f, k] = M_f * E|x_k| * sum_{i,j} |w[f, i, j, k]|
    filter  f:      S[f]    = sum_k S[f, k]

with ``E|x_k|`` the mean magnitude of input channel ``k`` as the multiplier sees it (``x_q - z_x``
for ``signmag``) on calibration images, ``w`` the int8 weight codes. Larger ``S`` = more sensitive.
Without activation statistics ``E|x_k|`` is taken as 1 (weights and scales only).
"""
from __future__ import annotations

import numpy as np

__all__ = ["kernel_sensitivity", "filter_sensitivity"]


def kernel_sensitivity(weights: np.ndarray, output_scale: np.ndarray | float,
                       act_mean_abs: np.ndarray | None = None, *, depthwise: bool = False) -> np.ndarray:
    """``S[f, k]`` of the module docstring.

    ``weights``: int8 codes, ``(out_c, kh, kw, in_c)`` (TFLite OHWI) for conv, ``(out_c, in_c)``
    for fully connected, ``(1, kh, kw, out_c)`` for depthwise (then ``in_c`` per kernel is 1 and
    channel ``f`` reads input channel ``f``). ``output_scale``: ``M_f`` per output channel
    (or one float). ``act_mean_abs``: ``E|x_k|`` per input channel.
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    if depthwise:
        if w.ndim != 4 or w.shape[0] != 1:
            raise ValueError(f"depthwise weights must have shape (1, kh, kw, C), not {w.shape}")
        per = w.sum(axis=(0, 1, 2))[:, None]  # (C, 1)
        act = np.ones(per.shape[0]) if act_mean_abs is None else np.asarray(act_mean_abs, dtype=np.float64)
        per = per * act[:, None]
    else:
        if w.ndim == 4:
            per = w.sum(axis=(1, 2))
        elif w.ndim == 2:
            per = w
        else:
            raise ValueError(f"weights must be (out_c, kh, kw, in_c) or (out_c, in_c), not {w.shape}")
        if act_mean_abs is not None:
            act = np.asarray(act_mean_abs, dtype=np.float64)
            if act.shape != (per.shape[1],):
                raise ValueError(f"act_mean_abs must have one value per input channel ({per.shape[1]}), not {act.shape}")
            per = per * act[None, :]
    scale = np.broadcast_to(np.asarray(output_scale, dtype=np.float64), (per.shape[0],))
    return per * scale[:, None]


def filter_sensitivity(kernel_sens: np.ndarray) -> np.ndarray:
    return np.asarray(kernel_sens, dtype=np.float64).sum(axis=1)
