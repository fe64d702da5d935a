"""Small synthetic stand-ins for the emulator and the cost flow, used by the mapper's tests.

Importable by worker processes (spawned children inherit sys.path), hence a module of its own.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from rtlgen.bitstream.format import Geometry, PoolDescriptor, Requant
from rtlgen.mapper import Candidate, LayerInfo, SearchSpace
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


# --- a network small enough to count its device cycles by hand (tests/mapper/test_throughput.py) ---
SMALL_LANES = 4


def _half_hist() -> np.ndarray:
    h = np.ones(256)
    h[128:] = 0
    return h


def small_device_space() -> SearchSpace:
    """conv 0: 8x8x3 -> 8x8x8, 3x3 (K = 27, 2 groups of 4 lanes); fc 0: 64 -> 10 (K = 64, 3 groups)."""
    g0 = Geometry(8, 8, 3, 8, 8, 8, 3, 3, 1, 1, 1, 1)
    g1 = Geometry(1, 1, 64, 1, 1, 10, 1, 1)
    layers = []
    for index, kind, g in ((0, "conv2d", g0), (0, "fully_connected", g1)):
        rq = Requant(-128, -128, -128, 127, (1 << 30,) * g.out_c, (-7,) * g.out_c)
        k = g.k_h * g.k_w * g.in_c
        layers.append(LayerInfo(index=index, name=f"{kind}{index}", macs=g.out_h * g.out_w * g.out_c * k,
                                out_channels=g.out_c, in_channels=g.in_c, act_hist=_half_hist(), weight_hist=_half_hist(),
                                filter_sensitivity=np.ones(g.out_c), kernel_sensitivity=np.ones((g.out_c, g.in_c)),
                                kind=kind, geometry=g, requant=rq))
    return SearchSpace(layers, truncated_candidates((0, 4)), n_units=2, slots_per_unit=2, granularity="filter",
                       split_levels=2)


#: max pool 2x2 of conv 0's output, between the two layers
SMALL_POOL = PoolDescriptor(0, "max_pool_2d", Geometry(8, 8, 8, 4, 4, 8, 2, 2, 2, 2), 0, 1, after_layers=1)


def placed(space: SearchSpace, units: tuple[int, ...], candidate: int = 0) -> tuple[np.ndarray, object]:
    x = space.uniform_point(candidate)
    um = space.n_units * space.slots_per_unit
    x[um:um + len(space.layers)] = units
    return x, space.decode(x)
