"""NSGA-II mapping of approximate multipliers onto an accelerator's compute units.

Decision space: :mod:`.space`; filter/kernel sensitivity: :mod:`.sensitivity`; objectives:
:mod:`.objectives`; the search with checkpoint/resume: :mod:`.search`; where evaluations run:
:mod:`.executors`.
"""
from __future__ import annotations

from rtlgen.mapper.executors import EXECUTORS, DaskExecutor, Executor, ProcessExecutor, SerialExecutor, make_executor
from rtlgen.mapper.objectives import AccuracyModel, EnergyModel, EnergyTable
from rtlgen.mapper.search import EvaluatedPoint, MappingProblem, SearchResult, SearchSettings, pareto_front, run_search
from rtlgen.mapper.sensitivity import filter_sensitivity, kernel_sensitivity
from rtlgen.mapper.space import Candidate, LayerInfo, Mapping, SearchSpace

__all__ = [
    "EXECUTORS", "DaskExecutor", "Executor", "ProcessExecutor", "SerialExecutor", "make_executor",
    "AccuracyModel", "EnergyModel", "EnergyTable",
    "EvaluatedPoint", "MappingProblem", "SearchResult", "SearchSettings", "pareto_front", "run_search",
    "filter_sensitivity", "kernel_sensitivity",
    "Candidate", "LayerInfo", "Mapping", "SearchSpace",
]
