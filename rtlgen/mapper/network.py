"""The mapper's view of a real network: layers from the emulator, accuracy by emulation.

* :func:`layer_infos` compiles a quantized graph, runs it exactly on calibration images and
  returns one :class:`~rtlgen.mapper.space.LayerInfo` per conv layer (the assignment's layer
  numbering: ``Graph.conv_ops()`` order) with MACs, operand histograms as the multiplier sees
  them, the sensitivity of each filter/kernel (:mod:`.sensitivity`), and geometry and
  requantization for bitstreams.
* :class:`EmulatorAccuracy` is the accuracy model: top-1 accuracy of an assignment on a fixed
  image split, by bit-exact emulation (optionally with weight tuning). It pickles (graph,
  images, tables) for workers.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from rtlgen.bitstream.format import Requant
from rtlgen.conventions import DEFAULT_ENCODING, DEFAULT_ENGINE, KIND_OF_TFLITE_OP, Encoding, EngineChoice
from rtlgen.errors import ModelError
from rtlgen.mapper.sensitivity import filter_sensitivity, kernel_sensitivity
from rtlgen.mapper.space import LayerInfo

__all__ = ["load_images", "parse_split", "layer_infos", "EmulatorAccuracy"]


def load_images(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` of an ``.npz`` image file (labels are required by the mapper)."""
    from rtlgen.nn.images import load_images as read

    x, y = read(path, labels=True)
    return x, y  # type: ignore[return-value]  # labels=True: y is an array


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


def layer_infos(graph: Any, images: np.ndarray, *, encoding: Encoding = DEFAULT_ENCODING, batch_size: int = 128) -> list[LayerInfo]:
    """One :class:`LayerInfo` per conv layer of ``graph`` from an exact run on ``images``."""
    from rtlgen.emulate.emulator import Emulator, quantize_input

    emu = Emulator(graph, batch_size=batch_size)
    convs = graph.conv_ops()
    if not convs:
        raise ModelError("the model has no CONV_2D / DEPTHWISE_CONV_2D layer to map", file=graph.source)
    hists = emu.operand_histograms(images, encoding)
    input_hists = emu.activation_histograms(images)
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
        infos.append(LayerInfo(
            index=i, name=f"{i}:{op.kind.lower()}@op{op.index}", macs=int(layer.macs), out_channels=o, in_channels=g,
            act_hist=a_hist.astype(np.float64), weight_hist=b_hist.astype(np.float64),
            filter_sensitivity=filter_sensitivity(ks), kernel_sensitivity=ks, kind=KIND_OF_TFLITE_OP[op.kind],
            input_hist=input_hists[op.index].astype(np.float64),
            geometry=layer.geometry, requant=Requant.from_mac_layer(layer)))
    return infos


class EmulatorAccuracy:
    """Top-1 accuracy of assignments on one image split, by emulation (an AccuracyModel).

    Assignments follow :mod:`rtlgen.emulate.assignment` with multipliers named by table hash
    (``tables``). ``weight_tuning`` ``"histogram"`` uses ``act_hists`` (op index -> histogram of
    the layer's int8 input codes on the *calibration* images, the same for every split), so that
    the search and test splits run the same tuned network.
    """

    def __init__(self, graph: Any, images: np.ndarray, labels: np.ndarray, tables: dict[str, np.ndarray], *,
                 signed: bool = False, act_hists: dict[int, np.ndarray] | None = None, engine: EngineChoice = DEFAULT_ENGINE,
                 batch_size: int = 128):
        self.graph = graph
        self.images = np.asarray(images)
        self.labels = np.asarray(labels).reshape(-1)
        self.tables = dict(tables)
        self.signed = signed
        self.act_hists = act_hists
        self.engine = engine
        self.batch_size = batch_size
        self._layers = None
        self._cache = None  # per process: a PrefixCache of this split's earlier runs

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_layers"] = None
        state["_cache"] = None
        return state

    def _resolve(self, name: str) -> tuple[np.ndarray, bool]:
        try:
            return self.tables[name], self.signed
        except KeyError:
            from rtlgen.errors import CatalogError

            raise CatalogError(f"multiplier {name!r} is not among the search's candidates") from None

    def emulator(self, assignment: dict[str, Any]) -> Any:
        from rtlgen.emulate.assignment import parse_assignment
        from rtlgen.emulate.emulator import Emulator
        from rtlgen.emulate.layers import compile_mac_layers

        if self._layers is None:
            self._layers = compile_mac_layers(self.graph)
        parsed = parse_assignment(assignment)
        plans = parsed.plans(self.graph, self._resolve, self._layers)
        if parsed.weight_tuning != "none":
            from rtlgen.emulate.weight_tuning import tune_plan

            if parsed.weight_tuning == "histogram" and self.act_hists is None:
                raise ValueError("histogram weight tuning needs the calibration activation histograms (act_hists)")
            plans = {i: tune_plan(self._layers[i], p, parsed.weight_tuning,
                                  None if self.act_hists is None else self.act_hists[i]) for i, p in plans.items()}
        return Emulator(self.graph, plans, engine=self.engine, batch_size=self.batch_size)

    def run(self, assignment: dict[str, Any]) -> Any:
        """Emulation results on this split; layers before the first one whose plan differs
        from an earlier run's in this process are reused (:class:`rtlgen.emulate.PrefixCache`)."""
        from rtlgen.emulate.cache import PrefixCache

        if self._cache is None:
            self._cache = PrefixCache(max_bytes=256 << 20)
        return self.emulator(assignment).run(self.images, cache=self._cache)

    def accuracy(self, assignment: dict[str, Any]) -> float:
        return float(self.run(assignment).accuracy(self.labels))
