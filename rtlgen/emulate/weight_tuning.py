"""Retraining-free weight tuning: replace each weight by the one an approximate multiplier
reproduces best.

For a multiplier table ``T`` used in operand encoding ``e`` by a layer with input zero point
``z``, a single tap with activation code ``x`` and weight ``w`` contributes
``P[x, w] = dot(T, [x], [w], z, e)`` (:func:`rtlgen.emulate.encoding.dot`; exact value
``(x - z) * w``). Each weight ``w`` is remapped to

    ``w' = argmin_{v in -127..127} sum_x p(x) * |P[x, v] - (x - z) * w|``

(ties keep ``w`` itself when it is among the minimisers, else the smallest ``|v|``, then the
smallest ``v``).

* ``uniform`` (ALWANN, Mrazek et al. 2019): ``p`` uniform over the codes the layer can see: ``z
  .. 127`` for ``signmag`` (inputs clamped at the zero point), all of ``-128..127`` otherwise.
* ``histogram`` (ours): ``p`` is the layer's measured input-code histogram on calibration
  images (:meth:`rtlgen.emulate.Emulator.activation_histograms`).
"""
from __future__ import annotations

import numpy as np

from rtlgen.conventions import WEIGHT_TUNINGS, WeightTuning, check_name
from rtlgen.emulate.encoding import dot
from rtlgen.emulate.layers import MacLayer
from rtlgen.emulate.plan import LayerPlan

__all__ = ["TUNING_MODES", "TuningMode", "weight_map", "tune_plan"]

TuningMode = WeightTuning  # the names are rtlgen.conventions'; what each does is defined here
TUNING_MODES = WEIGHT_TUNINGS

_X = np.arange(-128, 128)
_W = np.arange(-127, 128)


def weight_map(table: np.ndarray, encoding: str, zero_point: int,
               p_x: np.ndarray | None = None) -> np.ndarray:
    """``m[w + 128] = w'`` for every int8 weight ``w`` in -127..127 (``m[0]``, i.e. -128, maps to
    -128's best substitute as well). ``p_x[x + 128]``: activation weights (None: uniform)."""
    z = int(zero_point)
    if p_x is None:
        p = np.ones(256)
        if encoding == "signmag":
            p[: z + 128] = 0
    else:
        p = np.asarray(p_x, dtype=np.float64).reshape(256).copy()
        if encoding == "signmag":
            p[: z + 128] = 0
    if p.sum() <= 0:
        raise ValueError("activation distribution for weight tuning is empty")
    p = p / p.sum()
    xs = _X[p > 0]
    pw = p[p > 0]
    xx, vv = np.meshgrid(xs, _W, indexing="ij")
    P = dot(table, xx[..., None], vv[..., None], z, encoding).astype(np.float64)  # [X, V]
    out = np.empty(256, dtype=np.int64)
    for i, w in enumerate(range(-128, 128)):
        target = (xs - z) * w
        cost = pw @ np.abs(P - target[:, None])  # [V]
        best = cost.min()
        if -127 <= w <= 127 and cost[w + 127] <= best:
            out[i] = w
            continue
        cand = _W[cost <= best]
        out[i] = cand[np.lexsort((cand, np.abs(cand)))][0]
    return out


def tune_plan(layer: MacLayer, plan: LayerPlan, mode: str, p_x: np.ndarray | None = None,
              memo: dict[tuple, np.ndarray] | None = None) -> LayerPlan:
    """``plan`` with tuned weights (``mode``: none, uniform or histogram).

    ``memo`` (optional, kept by the caller between calls) remembers each weight map by (layer,
    table hash, encoding, zero point, mode): a search tunes the same layer for the same table
    over and over, and a map costs about as much as emulating the layer. It belongs to one set
    of activation histograms (``p_x`` is not part of the key); a validated plan carries the
    table hashes (:meth:`LayerPlan.validate`), an unvalidated one is not memoized.
    """
    check_name("weight tuning", mode)
    if mode == "none":
        return plan
    if mode == "histogram" and p_x is None:
        raise ValueError("histogram weight tuning needs the layer's activation histogram")
    use_memo = memo is not None and len(plan.hashes) == len(plan.tables)
    maps = []
    for i, t in enumerate(plan.tables):
        key = (layer.op_index, plan.hashes[i], plan.encoding, int(layer.z_in), mode) if use_memo else None
        m = memo.get(key) if use_memo else None  # type: ignore[union-attr]
        if m is None:
            m = weight_map(t, plan.encoding, layer.z_in, p_x if mode == "histogram" else None)
            if use_memo:
                memo[key] = m  # type: ignore[index]
        maps.append(m)
    w = layer.weights.astype(np.int64)
    sel = np.broadcast_to(plan.select[:, None, None, :], w.shape)
    tuned = np.stack(maps)[sel, w + 128].astype(np.int8)
    return LayerPlan(plan.encoding, plan.tables, plan.select, plan.names, tuned, plan.hashes)
