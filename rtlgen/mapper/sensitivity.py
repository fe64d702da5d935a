"""Sensitivity of a layer's filters and kernels to multiplier error: the order of the split.

Definition (used by :class:`rtlgen.mapper.space.SearchSpace` to decide which filters get the
more accurate multipliers). A multiplier with relative error ``e`` perturbs each product
``x * w`` by about ``e * |x * w|``; the accumulator of output channel ``f`` sums those
perturbations and requantization scales them by ``M_f = s_x * s_w[f] / s_y`` into output
LSBs. So the expected output perturbation, per unit of relative multiplier error, is

    kernel (f, g):  S[f, g] = M_f * E|x_(f,g)| * sum_{i,j} |w[f, i, j, g]|
    filter  f:      S[f]    = sum_g S[f, g]

with ``w`` the int8 weight codes in the emulator's layout ``[O, KH, KW, G]`` (kernel ``(f, g)``
is output channel ``f`` reading its ``g``-th input channel), ``E|x_(f,g)|`` the mean magnitude of
that input channel as the multiplier sees it (``x_q - z_x``) on calibration images. Larger ``S``
= more sensitive. Without activation statistics ``E|x|`` is taken as 1 (weights and scales only).
"""
from __future__ import annotations

import numpy as np

__all__ = ["kernel_sensitivity", "filter_sensitivity"]


def kernel_sensitivity(weights: np.ndarray, output_scale: np.ndarray | float,
                       act_mean_abs: np.ndarray | None = None) -> np.ndarray:
    """``S[f, g]`` of the module docstring.

    ``weights``: int8 codes ``[O, KH, KW, G]``; ``output_scale``: ``M_f`` per output channel (or
    one float); ``act_mean_abs``: ``E|x|`` per kernel ``[O, G]`` (or ``[G]``, broadcast).
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    if w.ndim != 4:
        raise ValueError(f"weights must have shape (O, KH, KW, G), not {w.shape}")
    per = w.sum(axis=(1, 2))
    if act_mean_abs is not None:
        act = np.asarray(act_mean_abs, dtype=np.float64)
        try:
            per = per * np.broadcast_to(act, per.shape)
        except ValueError:
            raise ValueError(f"act_mean_abs of shape {act.shape} does not fit kernels {per.shape}") from None
    scale = np.broadcast_to(np.asarray(output_scale, dtype=np.float64).ravel(), (per.shape[0],))
    return per * scale[:, None]


def filter_sensitivity(kernel_sens: np.ndarray) -> np.ndarray:
    return np.asarray(kernel_sens, dtype=np.float64).sum(axis=1)
