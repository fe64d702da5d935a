"""One-call entry points: an emulator from an assignment, operand histograms of a model."""
from __future__ import annotations

import numpy as np

from rtlgen.nn.graph import Graph
from rtlgen.emulate.assignment import Assignment, Resolver
from rtlgen.emulate.emulator import DEFAULT_BATCH, Emulator
from rtlgen.conventions import DEFAULT_ENCODING, DEFAULT_ENGINE, EngineChoice

__all__ = ["emulator_for", "operand_histograms"]


def emulator_for(graph: Graph, assignment: Assignment | None = None, resolver: Resolver | None = None,
                 calib_images: np.ndarray | None = None, engine: EngineChoice = DEFAULT_ENGINE,
                 batch_size: int = DEFAULT_BATCH) -> Emulator:
    """An :class:`Emulator` running ``assignment`` (None: exact), weights tuned as it says.

    Histogram tuning measures each layer's input codes on ``calib_images`` with the *exact*
    network (the tuning does not depend on earlier layers' approximation).
    """
    exact = Emulator(graph, engine=engine, batch_size=batch_size)
    if assignment is None:
        return exact
    plans = assignment.plans(graph, resolver, exact.layers)
    mode = assignment.weight_tuning
    from rtlgen.emulate.weight_tuning import tune_plan  # weight_tuning builds on this package

    if mode != "none" and plans:
        hist = None
        if mode == "histogram":
            if calib_images is None:
                raise ValueError("histogram weight tuning needs calibration images")
            hist = exact.activation_histograms(calib_images)
        plans = {i: tune_plan(exact.layers[i], p, mode, None if hist is None else hist[i])
                 for i, p in plans.items()}
    return Emulator(graph, plans, engine=engine, batch_size=batch_size)


def operand_histograms(graph: Graph, images: np.ndarray, assignment: Assignment | None = None,
                       resolver: Resolver | None = None, encoding: str = DEFAULT_ENCODING,
                       engine: EngineChoice = DEFAULT_ENGINE) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """op index -> (a_hist[256], b_hist[256]) of the codes each MAC layer's multipliers see
    (see :meth:`Emulator.operand_histograms`)."""
    em = emulator_for(graph, assignment, resolver, images, engine)
    return em.operand_histograms(images, encoding)
