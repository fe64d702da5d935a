"""The mapper's two objectives: accuracy on a search split, and relative multiplication energy.

Both come from pluggable models, so the search runs the same with the real emulator and cost flow
or with small stand-ins:

* an :class:`AccuracyModel` has ``accuracy(assignment) -> float`` (top-1, 0..1) for an emulator
  assignment (:meth:`rtlgen.mapper.space.SearchSpace.assignment`); it must pickle, because the
  executor ships it to workers;
* an :data:`EnergyModel` is ``energy(candidate, act_hist, weight_hist) -> float``: energy per
  multiplication (any unit, the same for all) of a multiplier fed operands with those 256-bin
  histograms (port A, port B). It may also offer ``values(candidates, hists) -> array``
  (candidates x layers) to compute the whole table in one go.

Relative multiplication energy of a mapping::

    E_rel = sum_l MACs_l * sum_c share_l(c) * E(c, hist_l)  /  sum_l MACs_l * E(exact, hist_l)

where ``share_l(c)`` is the fraction of layer ``l``'s multiplications done by candidate ``c``.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from rtlgen.mapper.space import Candidate, Mapping, SearchSpace

__all__ = ["AccuracyModel", "EnergyModel", "EnergyTable", "accuracy_task"]


class AccuracyModel(Protocol):
    def accuracy(self, assignment: dict[str, Any]) -> float: ...


EnergyModel = Callable[[Candidate, np.ndarray, np.ndarray], float]


def accuracy_task(model: AccuracyModel, assignment: dict[str, Any]) -> float:
    """What a worker runs: one accuracy evaluation."""
    acc = float(model.accuracy(assignment))
    if not 0.0 <= acc <= 1.0:
        raise ValueError(f"accuracy model returned {acc}, not a fraction in 0..1")
    return acc


class EnergyTable:
    """Energy per multiplication of every candidate on every layer's operands (computed once)."""

    def __init__(self, space: SearchSpace, energy: EnergyModel, *, values: np.ndarray | None = None):
        self.space = space
        if values is None and callable(getattr(energy, "values", None)):
            # bulk form: energy.values(candidates, [(act_hist, weight_hist) per layer])
            values = energy.values(space.candidates, [(l.act_hist, l.weight_hist) for l in space.layers])  # type: ignore[attr-defined]
        if values is None:
            values = np.array([[float(energy(c, l.act_hist, l.weight_hist)) for l in space.layers]
                               for c in space.candidates])
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(space.candidates), len(space.layers)):
            raise ValueError(f"energy table must be candidates x layers {(len(space.candidates), len(space.layers))}, "
                             f"not {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("energies per multiplication must be finite and non-negative")
        if np.any(values[0] <= 0):
            raise ValueError("the exact multiplier's energy per multiplication must be positive")
        self.values = values
        self.macs = np.array([l.macs for l in space.layers], dtype=np.float64)
        self.reference = float(self.macs @ values[0])

    def relative(self, mapping: Mapping) -> float:
        n = len(self.space.candidates)
        total = 0.0
        for li in range(len(self.space.layers)):
            total += self.macs[li] * float(mapping.shares(li, n) @ self.values[:, li])
        return total / self.reference

    def uniform(self, candidate: int) -> float:
        """Relative energy with ``candidate`` everywhere."""
        return float(self.macs @ self.values[candidate]) / self.reference
