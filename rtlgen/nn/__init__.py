"""Quantized DNN models: the internal graph and the TFLite importer."""
from __future__ import annotations

from rtlgen.nn.graph import MAC_OPS, SUPPORTED_OPS, Graph, Op, Quant, Tensor
from rtlgen.nn.tflite import load_tflite, parse_tflite

__all__ = ["MAC_OPS", "SUPPORTED_OPS", "Graph", "Op", "Quant", "Tensor", "load_tflite", "parse_tflite"]
