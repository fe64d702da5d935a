"""The mapper's two objectives: quality on a search split, and relative multiplication energy.

Both come from pluggable models, so the search runs the same with the real emulator and cost flow
or with small stand-ins:

* an :class:`AccuracyModel` has ``accuracy(assignment) -> float`` (the quality, higher is
  better; the exact model's is the reference) for an emulator assignment
  (:meth:`rtlgen.mapper.space.SearchSpace.assignment`); it must pickle, because the executor
  ships it to workers. It may also offer ``outcomes(assignment) -> array`` (one value per image,
  what the quality is the mean or ratio of) and ``interval(outcomes)``, a
  :class:`~rtlgen.mapper.stats.LossInterval` of the loss against the exact model on the same
  images; the mapper then reports every loss with its confidence interval;
* an :data:`EnergyModel` is ``energy(candidate, act_hist, weight_hist) -> float``: energy per
  multiplication (any unit, the same for all) of a multiplier fed operands with those 256-bin
  histograms (port A, port B). It may also offer ``values(candidates, hists) -> array``
  (candidates x layers) to compute the whole table in one go.

Relative multiplication energy of a mapping::

    E_rel = sum_l MACs_l * sum_c share_l(c) * E(c, hist_l)  /  sum_l MACs_l * E(exact, hist_l)

where ``share_l(c)`` is the fraction of layer ``l``'s multiplications done by candidate ``c``.

Quality objectives (registry :data:`QUALITY_OBJECTIVES`, chosen by name with
:func:`get_quality`; each turns an emulation result into one value per image):

* ``accuracy``: top-1 accuracy against the labels (1 if the arg-max of the logits is the label);
* ``agreement``: top-1 agreement with the exact model's prediction (needs no labels);
* ``reconstruction``: for autoencoders, the squared error per image between the model's output
  and its input (both dequantized, mean over features); quality ``= 1 - (mean error /
  the exact model's mean error - 1)``, so the exact model scores 1 and the loss is the relative
  increase of the mean squared reconstruction error.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np

from rtlgen.mapper.space import Candidate, Mapping, SearchSpace

__all__ = ["AccuracyModel", "EnergyModel", "EnergyTable", "accuracy_task", "QualityObjective", "TopOneAccuracy",
           "TopOneAgreement", "ReconstructionError", "QUALITY_OBJECTIVES", "get_quality"]


class AccuracyModel(Protocol):
    def accuracy(self, assignment: dict[str, Any]) -> float: ...


EnergyModel = Callable[[Candidate, np.ndarray, np.ndarray], float]


def accuracy_task(model: AccuracyModel, assignment: dict[str, Any]) -> tuple[float, np.ndarray | None]:
    """What a worker runs: one quality evaluation, with the per-image outcomes when the model
    offers them (the quality is then computed from those, so the two always agree)."""
    outcomes_of = getattr(model, "outcomes", None)
    outcomes = None
    if callable(outcomes_of):
        outcomes = np.asarray(outcomes_of(assignment), dtype=np.float64)
        acc = float(model.quality(outcomes))  # type: ignore[attr-defined]
    else:
        acc = float(model.accuracy(assignment))
    fraction = getattr(getattr(model, "objective", None), "fraction", True)
    if not np.isfinite(acc) or (fraction and not 0.0 <= acc <= 1.0):
        raise ValueError(f"quality model returned {acc}, not {'a fraction in 0..1' if fraction else 'a finite number'}")
    return acc, outcomes


class QualityObjective:
    """How an emulation result scores: ``per_image`` values, their ``quality``, the loss interval.

    ``fraction``: the quality lies in 0..1; ``needs_labels``: ``per_image`` reads the labels.
    """

    name: str = ""
    needs_labels: bool = False
    fraction: bool = True
    description: str = ""

    def per_image(self, result: Any, exact: Any, labels: np.ndarray | None, inputs: np.ndarray, graph: Any) -> np.ndarray:
        raise NotImplementedError

    def quality(self, per_image: np.ndarray, exact_per_image: np.ndarray) -> float:
        return float(np.mean(per_image))

    def interval(self, exact_per_image: np.ndarray, per_image: np.ndarray, confidence: float | None = None) -> Any:
        from rtlgen.mapper.stats import CONFIDENCE, paired_binary_interval

        return paired_binary_interval(exact_per_image, per_image, confidence or CONFIDENCE)


class TopOneAccuracy(QualityObjective):
    name, needs_labels, description = "accuracy", True, "top-1 accuracy against the labels"

    def per_image(self, result: Any, exact: Any, labels: np.ndarray | None, inputs: np.ndarray, graph: Any) -> np.ndarray:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != np.asarray(result.pred).shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {np.asarray(result.pred).shape[0]} predictions")
        return (np.asarray(result.pred) == labels).astype(np.float64)


class TopOneAgreement(QualityObjective):
    name, description = "agreement", "top-1 agreement with the exact model's prediction (no labels)"

    def per_image(self, result: Any, exact: Any, labels: np.ndarray | None, inputs: np.ndarray, graph: Any) -> np.ndarray:
        return (np.asarray(result.pred) == np.asarray(exact.pred)).astype(np.float64)

    def interval(self, exact_per_image: np.ndarray, per_image: np.ndarray, confidence: float | None = None) -> Any:
        # the exact model agrees with itself by construction: only the disagreement rate is uncertain
        from rtlgen.mapper.stats import CONFIDENCE, disagreement_interval

        return disagreement_interval(per_image, confidence or CONFIDENCE)


class ReconstructionError(QualityObjective):
    name, fraction = "reconstruction", False
    description = "mean squared reconstruction error relative to the exact model's (autoencoders)"

    def per_image(self, result: Any, exact: Any, labels: np.ndarray | None, inputs: np.ndarray, graph: Any) -> np.ndarray:
        ti, to = graph.input, graph.tensors[graph.outputs[0]]
        out = np.asarray(result.output).reshape(len(inputs), -1).astype(np.float64)
        x = np.asarray(inputs).reshape(len(inputs), -1).astype(np.float64)
        if out.shape != x.shape:
            raise ValueError(f"reconstruction needs an output shaped like the input; the model maps "
                             f"{x.shape[1]} inputs to {out.shape[1]} outputs")
        real_out = (out - int(to.zero_point)) * float(to.scale)
        real_in = (x - int(ti.zero_point)) * float(ti.scale)
        return np.mean((real_out - real_in) ** 2, axis=1)

    def quality(self, per_image: np.ndarray, exact_per_image: np.ndarray) -> float:
        ref = float(np.mean(exact_per_image))
        if ref <= 0:
            raise ValueError("the exact model reconstructs these inputs perfectly: no relative error to measure")
        return 1.0 - (float(np.mean(per_image)) / ref - 1.0)

    def interval(self, exact_per_image: np.ndarray, per_image: np.ndarray, confidence: float | None = None) -> Any:
        from rtlgen.mapper.stats import CONFIDENCE, paired_ratio_interval

        return paired_ratio_interval(exact_per_image, per_image, confidence or CONFIDENCE)


#: name -> quality objective
QUALITY_OBJECTIVES: dict[str, type[QualityObjective]] = {
    "accuracy": TopOneAccuracy,
    "agreement": TopOneAgreement,
    "reconstruction": ReconstructionError,
}


def get_quality(name: str) -> QualityObjective:
    try:
        return QUALITY_OBJECTIVES[name]()
    except KeyError:
        raise ValueError(f"unknown quality objective {name!r}; valid: {', '.join(QUALITY_OBJECTIVES)}") from None


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
