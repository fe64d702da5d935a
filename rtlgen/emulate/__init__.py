"""Bit-exact emulation of quantized DNNs, exact or through approximate multiplier tables.

:mod:`.encoding` defines what a multiplier sees (``signmag``, ``raw``, ``offset``);
:mod:`.engines` holds the engine registry (``reference``, ``fast``, ``native``; ``auto``, the
default, picks ``native`` where a C compiler builds it); :mod:`.assignment` reads
assignment files; :class:`Emulator` runs a graph in batches.
"""
from __future__ import annotations

from rtlgen.emulate.api import emulator_for, operand_histograms
from rtlgen.emulate.cache import PrefixCache
from rtlgen.emulate.assignment import Assignment, catalog_resolver, load_assignment, parse_assignment
from rtlgen.emulate.emulator import EmulationResult, Emulator, quantize_input
from rtlgen.emulate.encoding import DEFAULT_ENCODING, ENCODINGS, TABLE_SIGNED, Encoding
from rtlgen.emulate.engines import ENGINES, get_engine
from rtlgen.emulate.layers import MacLayer, compile_mac_layers
from rtlgen.emulate.plan import LayerPlan, filter_plan, kernel_plan, uniform_plan

__all__ = [
    "PrefixCache", "Assignment", "catalog_resolver", "load_assignment", "parse_assignment",
    "EmulationResult", "Emulator", "quantize_input", "emulator_for", "operand_histograms",
    "DEFAULT_ENCODING", "ENCODINGS", "TABLE_SIGNED", "Encoding", "ENGINES", "get_engine",
    "MacLayer", "compile_mac_layers", "LayerPlan", "filter_plan", "kernel_plan", "uniform_plan",
]
