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


def mixed_plans(em: Emulator, encoding: str, granularity: str, seed: int = 0,
                include_fc: bool = True) -> dict[int, LayerPlan]:
    """Plans mixing exact, truncated and perturbed tables at the given granularity."""
    rng = np.random.default_rng(seed)
    signed = encoding == "raw"
    tables = (exact_table(signed), truncated(signed, 5), perturbed(signed, seed))
    plans = {}
    for idx, layer in em.layers.items():
        if layer.kind == "FULLY_CONNECTED" and not include_fc:
            continue
        o, g = layer.kernel_shape
        if granularity == "layer":
            sel = np.full((o, g), rng.integers(1, 3))
        elif granularity == "filter":
            sel = np.repeat(rng.integers(0, 3, size=(o, 1)), g, axis=1)
        else:
            sel = rng.integers(0, 3, size=(o, g))
        plans[idx] = LayerPlan(encoding, tables, sel)
    return plans
