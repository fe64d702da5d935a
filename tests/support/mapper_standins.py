"""Small synthetic stand-ins for the emulator and the cost flow, used by the mapper's tests.

Importable by worker processes (spawned children inherit sys.path), hence a module of its own.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from rtlgen.bitstream.format import Geometry, Requant
from rtlgen.mapper import Candidate, LayerInfo
from rtlgen.netlist.table import exact_table


def truncated_candidates(bits: tuple[int, ...] = (0, 2, 4, 6, 8, 10)) -> list[Candidate]:
    """Unsigned multipliers that zero the ``k`` low product bits (k = 0 is exact)."""
    exact = exact_table(False)
    out = []
    for k in bits:
        t = exact & ~((1 << k) - 1)
        out.append(Candidate.from_table(f"trunc{k}" if k else "exact", t, False))
    return out


def synthetic_layers(n: int = 3, seed: int = 0) -> list[LayerInfo]:
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(n):
        out_c, in_c = 8 + 4 * i, 3 if i == 0 else 8 + 4 * (i - 1)
        ks = rng.gamma(2.0, 1.0, (out_c, in_c))
        act = rng.integers(1, 100, 256).astype(float)
        w = rng.integers(1, 100, 256).astype(float)
        w[128:] = 0  # signmag: |w| <= 127
        geo = Geometry(16, 16, in_c, 16, 16, out_c, 3, 3, 1, 1, 1, 1)
        rq = Requant(-128, -128, -128, 127, tuple(range(1 << 30, (1 << 30) + out_c)), (-7,) * out_c)
        layers.append(LayerInfo(index=i, name=f"conv{i}", macs=16 * 16 * 9 * in_c * out_c, out_channels=out_c,
                                in_channels=in_c, act_hist=act, weight_hist=w, filter_sensitivity=ks.sum(1),
                                kernel_sensitivity=ks, geometry=geo, requant=rq))
    return layers


class SyntheticAccuracy:
    """accuracy = 0.9 - sum over layers and kernels of (sensitivity share x multiplier error)."""

    def __init__(self, layers: list[LayerInfo], candidates: list[Candidate], delay: float = 0.0):
        self.error = {c.hash: c.mean_abs_error() / 1000.0 for c in candidates}
        self.kernel_weight = {str(l.index): l.kernel_sensitivity / l.kernel_sensitivity.sum() * (1.0 + l.index)
                              for l in layers}
        self.delay = delay
        self.calls = 0

    def accuracy(self, assignment: dict[str, Any]) -> float:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        loss = 0.0
        for key, entry in assignment["layers"].items():
            w = self.kernel_weight[key]
            if "multiplier" in entry:
                err = np.full(w.shape, self.error[entry["multiplier"]])
            elif "filters" in entry:
                err = np.array([self.error[h] for h in entry["filters"]])[:, None] * np.ones_like(w)
            else:
                err = np.array([[self.error[h] for h in row] for row in entry["kernels"]])
            loss += float((w * err).sum())
        return max(0.0, 0.9 - 0.05 * loss)


def synthetic_energy(candidate: Candidate, act_hist: np.ndarray, weight_hist: np.ndarray) -> float:
    """Energy falls with the mean error, scaled a little by the mean operand magnitude."""
    pa, pb = act_hist / act_hist.sum(), weight_hist / weight_hist.sum()
    mag = float(pa @ np.arange(256)) * float(pb @ np.arange(256)) / (128.0 * 64.0)
    return (1.0 + 0.1 * mag) / (1.0 + candidate.mean_abs_error() / 50.0)
