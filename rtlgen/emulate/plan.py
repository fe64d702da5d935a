"""Which multiplier table each kernel of a layer uses, in which operand encoding.

A :class:`LayerPlan` is what the engines consume: tables as numpy arrays (no catalog needed),
``select[o, g]`` the table index of kernel (output channel ``o``, its ``g``-th input channel),
and optionally tuned weights that replace the layer's own. A layer without a plan is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rtlgen.netlist.table import check_table, table_hash
from rtlgen.conventions import DEFAULT_ENCODING, Encoding
from rtlgen.emulate.encoding import TABLE_SIGNED, check_encoding
from rtlgen.emulate.layers import MacLayer

__all__ = ["LayerPlan", "uniform_plan", "filter_plan", "kernel_plan"]


@dataclass(frozen=True)
class LayerPlan:
    encoding: str
    tables: tuple[np.ndarray, ...]  # int32 (256, 256) each, rtlgen.netlist.table convention
    select: np.ndarray  # int [O, G] -> index into tables
    names: tuple[str, ...] = ()
    weights: np.ndarray | None = None  # int8 [O, KH, KW, G] (weight tuning), else the layer's
    hashes: tuple[str, ...] = field(default=())

    def validate(self, layer: MacLayer, what: str = "") -> "LayerPlan":
        where = what or f"layer at op {layer.op_index}"
        check_encoding(self.encoding)
        signed = TABLE_SIGNED[self.encoding]
        tables = tuple(check_table(t, signed, what=f"{where}: table {i}") for i, t in enumerate(self.tables))
        sel = np.asarray(self.select)
        if sel.shape != layer.kernel_shape:
            raise ValueError(f"{where}: select has shape {sel.shape}, expected {layer.kernel_shape} "
                             "(output channels, input channels)")
        if sel.size and (sel.min() < 0 or sel.max() >= len(tables)):
            raise ValueError(f"{where}: select indexes table {int(sel.max())} of {len(tables)}")
        if self.weights is not None and np.asarray(self.weights).shape != layer.weights.shape:
            raise ValueError(f"{where}: tuned weights have shape {np.asarray(self.weights).shape}, "
                             f"expected {layer.weights.shape}")
        names = self.names or tuple(f"table{i}" for i in range(len(tables)))
        hashes = tuple(table_hash(t, signed) for t in tables)
        return LayerPlan(self.encoding, tables, sel.astype(np.int64), names, self.weights, hashes)

    def layer_weights(self, layer: MacLayer) -> np.ndarray:
        return layer.weights if self.weights is None else np.asarray(self.weights, dtype=np.int8)


def uniform_plan(layer: MacLayer, table: np.ndarray, encoding: Encoding = DEFAULT_ENCODING, name: str = "") -> LayerPlan:
    """One table for the whole layer."""
    return LayerPlan(encoding, (table,), np.zeros(layer.kernel_shape, dtype=np.int64),
                     (name,) if name else ()).validate(layer)


def filter_plan(layer: MacLayer, tables: list[np.ndarray], per_filter: list[int],
                encoding: Encoding = DEFAULT_ENCODING) -> LayerPlan:
    """``per_filter[o]`` indexes ``tables`` for output channel ``o``."""
    idx = np.asarray(per_filter, dtype=np.int64)
    if idx.shape != (layer.channels_out,):
        raise ValueError(f"need one table index per output channel ({layer.channels_out}), got {idx.shape}")
    sel = np.repeat(idx[:, None], layer.kernel_shape[1], axis=1)
    return LayerPlan(encoding, tuple(tables), sel).validate(layer)


def kernel_plan(layer: MacLayer, tables: list[np.ndarray], per_kernel: np.ndarray,
                encoding: Encoding = DEFAULT_ENCODING) -> LayerPlan:
    return LayerPlan(encoding, tuple(tables), np.asarray(per_kernel, dtype=np.int64)).validate(layer)
