"""The mapper's view of a real network: layers from the emulator, accuracy by emulation.

* :func:`layer_infos` compiles a quantized graph, runs it exactly on calibration images and
  returns one :class:`~rtlgen.mapper.space.LayerInfo` per conv layer (the assignment's layer
  numbering: ``Graph.conv_ops()`` order) with MACs, operand histograms as the multiplier sees
  them, the sensitivity of each filter/kernel (:mod:`.sensitivity`), and geometry and
  requantization for bitstreams.
* :class:`EmulatorAccuracy` is the accuracy model: top-1 accuracy of an assignment on a fixed
  image split, by bit-exact emulation. It pickles (graph, images, tables) for workers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..bitstream import Geometry, Requant
from ..errors import ConfigError, ModelError
from .sensitivity import filter_sensitivity, kernel_sensitivity
from .space import LayerInfo

__all__ = ["load_images", "parse_split", "layer_infos", "EmulatorAccuracy", "plans_from_assignment"]

_KINDS = {"CONV_2D": "conv2d", "DEPTHWISE_CONV_2D": "depthwise_conv2d", "FULLY_CONNECTED": "fully_connected"}


def load_images(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of an ``.npz`` image file (labels are required by the mapper)."""
    path = Path(path)
    with np.load(path) as f:
        missing = [k for k in ("x", "y") if k not in f.files]
        if missing:
            raise ConfigError(f"image file lacks array(s) {missing}; expected 'x' (images) and 'y' (labels), "
                              f"found {f.files}", file=str(path))
        x, y = f["x"], np.asarray(f["y"]).reshape(-1)
    if len(x) != len(y):
        raise ConfigError(f"{len(x)} images but {len(y)} labels", file=str(path))
    return x, y


def parse_split(text: str, n: int, what: str = "split") -> slice:
    """``"A:B"`` (Python slice bounds, either may be empty) -> a non-empty slice within ``n``."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        lo = int(parts[0]) if parts[0] else 0
        hi = int(parts[1]) if parts[1] else n
    except ValueError:
        raise ValueError(f"{what} must look like START:STOP (e.g. 0:500), not {text!r}") from None
    if not 0 <= lo < hi <= n:
        raise ValueError(f"{what} {text!r} must satisfy 0 <= START < STOP <= {n} (the number of images)")
    return slice(lo, hi)


def layer_infos(graph: Any, images: np.ndarray, *, encoding: str = "signmag", batch_size: int = 128) -> list[LayerInfo]:
    """One :class:`LayerInfo` per conv layer of ``graph`` from an exact run on ``images``."""
    from ..emulate.emulator import Emulator, quantize_input

    emu = Emulator(graph, batch_size=batch_size)
    convs = graph.conv_ops()
    if not convs:
        raise ModelError("the model has no CONV_2D / DEPTHWISE_CONV_2D layer to map", file=graph.source)
    hists = emu.operand_histograms(images, encoding)
    # mean |x - z| per input channel of every conv layer, padding excluded
    x = quantize_input(graph, images)
    sums = {op.index: np.zeros(emu.layers[op.index].in_shape[2]) for op in convs}
    count = 0
    for lo in range(0, len(x), batch_size):
        vals = emu.run_batch(x[lo:lo + batch_size])
        for op in convs:
            layer = emu.layers[op.index]
            v = vals[op.inputs[0]].reshape((-1,) + layer.in_shape).astype(np.int64) - layer.z_in
            sums[op.index] += np.abs(v).sum(axis=(0, 1, 2))
        count += len(x[lo:lo + batch_size])
    infos = []
    for i, op in enumerate(convs):
        layer = emu.layers[op.index]
        pixels = count * layer.in_shape[0] * layer.in_shape[1]
        chan_mean = sums[op.index] / max(1, pixels)
        o, kh, kw, g = layer.weights.shape
        act = chan_mean[layer.in_channel0[:, None] + np.arange(g)[None, :]]
        m_f = layer.multiplier.astype(np.float64) * np.exp2(layer.shift.astype(np.float64) - 31)
        ks = kernel_sensitivity(layer.weights, m_f, act)
        a_hist, b_hist = hists[op.index]
        (pt, _pb), (pl, _pr) = layer.pads
        infos.append(LayerInfo(
            index=i, name=f"{i}:{op.kind.lower()}@op{op.index}", macs=int(layer.macs), out_channels=o, in_channels=g,
            act_hist=a_hist.astype(np.float64), weight_hist=b_hist.astype(np.float64),
            filter_sensitivity=filter_sensitivity(ks), kernel_sensitivity=ks, kind=_KINDS[op.kind],
            geometry=Geometry(layer.in_shape[0], layer.in_shape[1], layer.in_shape[2], layer.out_shape[0],
                              layer.out_shape[1], o, kh, kw, layer.stride[0], layer.stride[1], pt, pl),
            requant=Requant(int(layer.z_in), int(layer.z_out), int(layer.act[0]), int(layer.act[1]),
                            tuple(int(v) for v in layer.multiplier), tuple(int(v) for v in layer.shift))))
    return infos


def plans_from_assignment(graph: Any, layers: dict[int, Any], assignment: dict[str, Any],
                          tables: dict[str, np.ndarray]) -> dict[int, Any]:
    """Emulator plans (op index -> LayerPlan) of an assignment whose multipliers are table hashes
    in ``tables``; ``weight_remap`` entries (hash -> 256 codes) replace the weight codes of the
    kernels that multiplier multiplies (see :mod:`rtlgen.bitstream`)."""
    from ..emulate.plan import LayerPlan

    convs = graph.conv_ops()
    default_enc = assignment.get("encoding", "signmag")
    plans = {}
    for key, entry in assignment.get("layers", {}).items():
        i = int(key)
        if not 0 <= i < len(convs):
            raise ValueError(f"assignment layer {key}: the model has conv layers 0..{len(convs) - 1}")
        layer = layers[convs[i].index]
        if isinstance(entry, str):
            entry = {"multiplier": entry}
        shape = layer.kernel_shape
        if "multiplier" in entry:
            names = np.full(shape, entry["multiplier"], dtype=object)
        elif "filters" in entry:
            names = np.repeat(np.asarray(entry["filters"], dtype=object)[:, None], shape[1], axis=1)
        else:
            names = np.asarray(entry["kernels"], dtype=object)
        if names.shape != shape:
            raise ValueError(f"assignment layer {key}: multipliers shaped {names.shape}, layer kernels are {shape}")
        uniq = sorted(set(names.ravel()))
        index = {h: j for j, h in enumerate(uniq)}
        try:
            tabs = tuple(tables[h] for h in uniq)
        except KeyError as exc:
            raise ValueError(f"assignment layer {key}: multiplier {exc.args[0]!r} is not among the candidates") from None
        select = np.vectorize(index.__getitem__, otypes=[np.int64])(names)
        weights = None
        remap = entry.get("weight_remap")
        if remap:
            w = layer.weights.copy()
            for h, codes in remap.items():
                lut = np.asarray(codes, dtype=np.uint8).view(np.int8)
                mask = (names == h)[:, None, None, :]
                w = np.where(np.broadcast_to(mask, w.shape), lut[(layer.weights.astype(np.int64) & 0xFF)], w)
            weights = w.astype(np.int8)
        plans[convs[i].index] = LayerPlan(entry.get("encoding", default_enc), tabs, select, tuple(uniq), weights)
    return plans


class EmulatorAccuracy:
    """Top-1 accuracy of assignments on one image split, by emulation (an AccuracyModel)."""

    def __init__(self, graph: Any, images: np.ndarray, labels: np.ndarray, tables: dict[str, np.ndarray], *,
                 engine: str = "fast", batch_size: int = 128):
        self.graph = graph
        self.images = np.asarray(images)
        self.labels = np.asarray(labels).reshape(-1)
        self.tables = dict(tables)
        self.engine = engine
        self.batch_size = batch_size
        self._layers = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_layers"] = None
        return state

    def run(self, assignment: dict[str, Any]) -> Any:
        from ..emulate.emulator import Emulator
        from ..emulate.layers import compile_mac_layers

        if self._layers is None:
            self._layers = compile_mac_layers(self.graph)
        plans = plans_from_assignment(self.graph, self._layers, assignment, self.tables)
        emu = Emulator(self.graph, plans, engine=self.engine, batch_size=self.batch_size)
        return emu.run(self.images)

    def accuracy(self, assignment: dict[str, Any]) -> float:
        return float(self.run(assignment).accuracy(self.labels))
