"""Shared inputs of the emulation tests: models, synthetic approximate tables, plans."""
from __future__ import annotations

import numpy as np

from rtlgen.emulate import Emulator, LayerPlan
from rtlgen.netlist.table import exact_table


def truncated(signed: bool, bits: int) -> np.ndarray:
    """An approximate table: the exact product with its low ``bits`` cleared (toward -inf)."""
    return ((exact_table(signed) >> bits) << bits).astype(np.int32)


def perturbed(signed: bool, seed: int) -> np.ndarray:
    """An approximate table with random +-small errors everywhere (full-rank error)."""
    rng = np.random.default_rng(seed)
    t = exact_table(signed).astype(np.int64) + rng.integers(-40, 41, size=(256, 256))
    lo, hi = (-(1 << 15), (1 << 15) - 1) if signed else (0, (1 << 16) - 1)
    return np.clip(t, lo, hi).astype(np.int32)


def weight_minus_one() -> np.ndarray:
    """An unsigned 'multiplier' that computes a * max(b - 1, 0): biased, so tuning fixes it."""
    a = np.arange(256)
    return np.multiply.outer(a, np.maximum(a - 1, 0)).clip(0, 65535).astype(np.int32)


def fitting_encoding(em: Emulator, idx: int, encoding: str) -> str:
    """``encoding``, or ``offset`` for a ``signmag`` layer that reads the graph input at a zero
    point above -128: no ReLU clamps it there, and signmag needs x - z in 0..255 (DS-CNN's
    input layer, z = 83, sees codes below it)."""
    reads_input = em.graph.ops[idx].inputs[0] == em.graph.inputs[0]
    return "offset" if encoding == "signmag" and reads_input and em.layers[idx].z_in != -128 else encoding


def mixed_plans(em: Emulator, encoding: str, granularity: str, seed: int = 0,
                include_fc: bool = True) -> dict[int, LayerPlan]:
    """Plans mixing exact, truncated and perturbed tables at the given granularity; layers that
    cannot take ``encoding`` take :func:`fitting_encoding`'s."""
    rng = np.random.default_rng(seed)
    tables_of = {s: (exact_table(s), truncated(s, 5), perturbed(s, seed)) for s in (False, True)}
    plans = {}
    for idx, layer in em.layers.items():
        if layer.kind == "FULLY_CONNECTED" and not include_fc:
            continue
        enc = fitting_encoding(em, idx, encoding)
        tables = tables_of[enc == "raw"]
        o, g = layer.kernel_shape
        if granularity == "layer":
            sel = np.full((o, g), rng.integers(1, 3))
        elif granularity == "filter":
            sel = np.repeat(rng.integers(0, 3, size=(o, 1)), g, axis=1)
        else:
            sel = rng.integers(0, 3, size=(o, g))
        plans[idx] = LayerPlan(enc, tables, sel)
    return plans
