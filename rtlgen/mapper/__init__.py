"""NSGA-II mapping of approximate multipliers onto an accelerator's compute units.

Decision space: :mod:`.space`; filter/kernel sensitivity: :mod:`.sensitivity`; objectives and
the quality registry: :mod:`.objectives`; loss intervals and selection rules: :mod:`.stats`; the
search with checkpoint/resume: :mod:`.search`; where evaluations run: :mod:`.executors`; a real
network's layers, encodings and quality by emulation: :mod:`.network`; the cycle model of the
throughput objective: :mod:`.throughput`.
"""
from __future__ import annotations

from rtlgen.mapper.executors import EXECUTORS, DaskExecutor, Executor, ProcessExecutor, SerialExecutor, make_executor
from rtlgen.mapper.objectives import QUALITY_OBJECTIVES, AccuracyModel, EnergyModel, EnergyTable, QualityObjective, get_quality
from rtlgen.mapper.search import (OBJECTIVES, EvaluatedPoint, MappingProblem, SearchResult, SearchSettings, dominates,
                                  pareto_front, run_search)
from rtlgen.mapper.sensitivity import filter_sensitivity, kernel_sensitivity
from rtlgen.mapper.space import Candidate, LayerInfo, Mapping, SearchSpace
from rtlgen.mapper.stats import LossInterval, paired_binary_interval, paired_ratio_interval, select_points, verdict
from rtlgen.mapper.throughput import CycleModel, Cycles, CycleSpec

__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "make_executor",
    "AccuracyModel", "EnergyModel", "EnergyTable", "QUALITY_OBJECTIVES", "QualityObjective", "get_quality",
    "LossInterval", "paired_binary_interval", "paired_ratio_interval", "select_points", "verdict",
    "OBJECTIVES", "EvaluatedPoint", "MappingProblem", "SearchResult", "SearchSettings", "dominates", "pareto_front",
    "run_search", "CycleModel", "Cycles", "CycleSpec",
    "filter_sensitivity", "kernel_sensitivity",
    "Candidate", "LayerInfo", "Mapping", "SearchSpace",
]
