"""Multiplier assignment files: which catalog multiplier each conv layer / filter / kernel uses.

Format (JSON object; every key optional)::

    {"encoding": "signmag",          # default operand encoding (signmag, raw, offset)
     "default": "mul8u_1JJQ",        # multiplier of conv layers not listed (absent/null: exact)
     "layers": {
        "0": "mul8u_DG8",                            # whole layer
        "3": {"filters": ["mul8u_DG8", ...]},         # one per output channel
        "5": {"kernels": [["mul8u_C67", ...], ...]},  # [output channel][input channel]
        "7": {"multiplier": "mul8s_1L2J", "encoding": "raw"},
        "fc:0": "mul8u_DG8"},                         # FULLY_CONNECTED layers: "fc:N" only
     "weight_tuning": "none"}        # none, uniform (ALWANN) or histogram

Layer keys: the 0-based index of a CONV_2D / DEPTHWISE_CONV_2D in graph order, or the name of
its output or weight tensor; FULLY_CONNECTED layers are approximate only when listed as
``"fc:N"`` (N-th FULLY_CONNECTED). A multiplier is a catalog name, alias or table hash, or
``"exact"`` (the exact multiplier of the signedness the encoding needs). Any object may carry
``"encoding"``. A depthwise layer's ``kernels`` rows have one entry.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen.errors import CatalogError, ConfigError
from rtlgen.nn.graph import Graph
from rtlgen.netlist.table import exact_table
from rtlgen.conventions import DEFAULT_ENCODING, check_name
from rtlgen.emulate.encoding import TABLE_SIGNED
from rtlgen.emulate.layers import MacLayer, compile_mac_layers
from rtlgen.emulate.plan import LayerPlan

__all__ = ["Assignment", "load_assignment", "parse_assignment", "catalog_resolver", "Resolver"]

#: name -> (table int32 256x256, signed)
Resolver = Callable[[str], tuple[np.ndarray, bool]]

_TOP_KEYS = {"encoding", "default", "layers", "weight_tuning"}


@dataclass(frozen=True)
class Assignment:
    encoding: str = DEFAULT_ENCODING
    default: str | None = None
    layers: dict[str, Any] = field(default_factory=dict)
    weight_tuning: str = "none"
    source: str = "<assignment>"

    def plans(self, graph: Graph, resolver: Resolver | None,
              layers: dict[int, MacLayer] | None = None) -> dict[int, LayerPlan]:
        """op index -> :class:`LayerPlan` (weights not yet tuned); errors name the layer key."""
        layers = layers if layers is not None else compile_mac_layers(graph)
        keys = _layer_keys(graph)
        tables: dict[tuple[str, bool], tuple[np.ndarray, str]] = {}

        def table(name: Any, enc: str, where: str) -> tuple[np.ndarray, str]:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: a multiplier must be a name or hash string, not "
                                  f"{name!r}", file=self.source)
            need = TABLE_SIGNED[enc]
            k = (name, need)
            if k not in tables:
                if name == "exact":
                    tables[k] = (exact_table(need), "exact")
                else:
                    if resolver is None:
                        raise ConfigError(f"{where}: multiplier {name!r} needs a library (--lib)",
                                          file=self.source)
                    try:
                        t, signed = resolver(name)
                    except CatalogError as exc:
                        raise ConfigError(f"{where}: {exc}", file=self.source) from None
                    if signed != need:
                        kind = "signed" if signed else "unsigned"
                        raise ConfigError(
                            f"{where}: multiplier {name} is {kind}, but encoding {enc!r} needs "
                            f"{'a signed' if need else 'an unsigned'} multiplier", file=self.source)
                    tables[k] = (t, name)
            return tables[k]

        specs: dict[int, tuple[Any, str]] = {}
        if self.default is not None:
            for op in graph.conv_ops():
                specs[op.index] = (self.default, "default")
        for key, spec in self.layers.items():
            if key not in keys:
                raise ConfigError(
                    f"layers: no layer {key!r}; conv layers are 0..{len(graph.conv_ops()) - 1} "
                    f"(or their tensor names), fully connected ones fc:0..fc:{len(graph.mac_ops(('FULLY_CONNECTED',))) - 1}",
                    file=self.source)
            specs[keys[key]] = (spec, f"layers[{key!r}]")

        plans = {}
        for idx, (spec, where) in specs.items():
            layer = layers[idx]
            enc = self.encoding
            if isinstance(spec, dict):
                unknown = set(spec) - {"multiplier", "filters", "kernels", "encoding"}
                forms = [k for k in ("multiplier", "filters", "kernels") if k in spec]
                if unknown or len(forms) != 1:
                    raise ConfigError(
                        f"{where}: expected exactly one of 'multiplier', 'filters', 'kernels' "
                        f"(and optionally 'encoding'), got keys {sorted(spec)}", file=self.source)
                enc = spec.get("encoding", enc)
                check_name("encoding", enc, where, file=self.source)
                form = forms[0]
                o_ch, g = layer.kernel_shape
                if form == "multiplier":
                    grid = [[spec["multiplier"]] * g for _ in range(o_ch)]
                elif form == "filters":
                    f = spec["filters"]
                    if not isinstance(f, list) or len(f) != o_ch:
                        raise ConfigError(f"{where}: 'filters' must list {o_ch} multipliers (one "
                                          f"per output channel), got {len(f) if isinstance(f, list) else f!r}",
                                          file=self.source)
                    grid = [[m] * g for m in f]
                else:
                    grid = spec["kernels"]
                    if (not isinstance(grid, list) or len(grid) != o_ch
                            or any(not isinstance(r, list) or len(r) != g for r in grid)):
                        raise ConfigError(f"{where}: 'kernels' must be {o_ch} lists of {g} "
                                          "multipliers ([output channel][input channel])",
                                          file=self.source)
            else:
                o_ch, g = layer.kernel_shape
                grid = [[spec] * g for _ in range(o_ch)]
            names: list[str] = []
            tabs: list[np.ndarray] = []
            index: dict[str, int] = {}
            sel = np.empty((len(grid), len(grid[0])), dtype=np.int64)
            for o, row in enumerate(grid):
                for c, name in enumerate(row):
                    if name not in index:
                        t, nm = table(name, enc, where)
                        index[name] = len(tabs)
                        tabs.append(t)
                        names.append(nm)
                    sel[o, c] = index[name]
            plans[idx] = LayerPlan(enc, tuple(tabs), sel, tuple(names)).validate(layer, where)
        return plans


def _layer_keys(graph: Graph) -> dict[str, int]:
    keys: dict[str, int] = {}
    for i, op in enumerate(graph.conv_ops()):
        keys[str(i)] = op.index
        keys.setdefault(graph.tensors[op.outputs[0]].name, op.index)
        keys.setdefault(graph.tensors[op.inputs[1]].name, op.index)
    for i, op in enumerate(graph.mac_ops(("FULLY_CONNECTED",))):
        keys[f"fc:{i}"] = op.index
    return keys


def parse_assignment(data: Any, source: str = "<assignment>") -> Assignment:
    if not isinstance(data, dict):
        raise ConfigError("an assignment must be a JSON object", file=source)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(_TOP_KEYS))}", file=source)
    enc = data.get("encoding", DEFAULT_ENCODING)
    check_name("encoding", enc, "encoding", file=source)
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"default: expected a multiplier name or null, got {default!r}", file=source)
    layers = data.get("layers", {})
    if not isinstance(layers, dict):
        raise ConfigError("layers: expected an object mapping layer keys to multipliers", file=source)
    tuning = data.get("weight_tuning", "none")
    check_name("weight tuning", tuning, "weight_tuning", file=source)
    return Assignment(enc, default, dict(layers), tuning, source)


def load_assignment(path: str | os.PathLike) -> Assignment:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not a text file; expected an assignment JSON file", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path),
                          line=exc.lineno) from None
    return parse_assignment(data, str(path))


def catalog_resolver(libdir: str | os.PathLike) -> Resolver:
    """Resolve names through :class:`rtlgen.library.catalog.Catalog` (tables cached by the catalog)."""
    from rtlgen.library.catalog import Catalog

    cat = Catalog.open(libdir)

    def resolve(name: str) -> tuple[np.ndarray, bool]:
        return cat.table(name), cat.get(name).signed

    return resolve
