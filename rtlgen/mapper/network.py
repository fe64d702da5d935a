"""The mapper's view of a real network: layers from the emulator, accuracy by emulation.

* :func:`layer_encodings` chooses each MAC layer's operand encoding (or checks a forced one);
* :func:`layer_infos` compiles a quantized graph, runs it exactly on calibration images and
  returns one :class:`~rtlgen.mapper.space.LayerInfo` per MAC layer (CONV_2D and
  DEPTHWISE_CONV_2D numbered as ``Graph.conv_ops()``, FULLY_CONNECTED apart as ``fc:N``, the
  assignment's and the bitstream's numbering) with MACs, its encoding, operand histograms as the
  multiplier sees them, the sensitivity of each filter/kernel (:mod:`.sensitivity`), and
  geometry and requantization for bitstreams.
* :class:`EmulatorAccuracy` is the quality model: a quality objective (top-1 accuracy by
  default) of an assignment on a fixed image split, by bit-exact emulation (optionally with
  weight tuning), with per-image outcomes and loss intervals. It pickles (graph, images, tables,
  the exact run) for workers.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from rtlgen.bitstream.format import Requant
from rtlgen.conventions import AUTO_ENCODING, DEFAULT_ENGINE, KIND_OF_TFLITE_OP, EncodingChoice, EngineChoice
from rtlgen.emulate.encoding import layer_encodings
from rtlgen.errors import ConfigError, ModelError
from rtlgen.mapper.sensitivity import filter_sensitivity, kernel_sensitivity
from rtlgen.mapper.space import LayerInfo

__all__ = ["AUTO_ENCODING", "load_images", "parse_split", "layer_encodings", "layer_infos", "EmulatorAccuracy",
           "PREFIX_CACHE_BYTES"]

#: default byte budget of each process's prefix cache per image split (EmulatorAccuracy): the
#: cuts of about 7 ResNet-8 evaluations on 500 images (one stores ~70 MB), a few percent of a
#: small machine's memory per worker
PREFIX_CACHE_BYTES = 512 << 20


def load_images(path: str | os.PathLike, *, labels: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` and ``y`` of an ``.npz`` image file (:func:`rtlgen.nn.images.load_images`); ``y`` may
    be absent (None) when ``labels`` is False (quality objectives that need no labels)."""
    from rtlgen.nn.images import load_images as read

    return read(path, labels=labels)


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


def layer_infos(graph: Any, images: np.ndarray, *, encoding: EncodingChoice = AUTO_ENCODING, signed: bool = False,
                batch_size: int = 128) -> list[LayerInfo]:
    """One :class:`LayerInfo` per MAC layer of ``graph`` (CONV_2D, DEPTHWISE_CONV_2D and
    FULLY_CONNECTED, graph order) from an exact run on ``images``; each layer's operand encoding
    comes from :func:`layer_encodings` and its operand histograms are taken in it."""
    from rtlgen.emulate.emulator import Emulator, quantize_input

    emu = Emulator(graph, batch_size=batch_size)
    macs = graph.mac_ops()
    if not macs:
        raise ModelError("the model has no CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED layer to map",
                         file=graph.source)
    encodings = layer_encodings(graph, encoding, signed=signed, layers=emu.layers)
    # operand histograms in each layer's own encoding: exact plans carrying it
    from rtlgen.emulate.encoding import TABLE_SIGNED
    from rtlgen.emulate.plan import uniform_plan
    from rtlgen.netlist.table import exact_table

    plans = {op.index: uniform_plan(emu.layers[op.index], exact_table(TABLE_SIGNED[e]), e, "exact")
             for op, e in zip(macs, encodings)}
    hists = Emulator(graph, plans, batch_size=batch_size).operand_histograms(images)
    input_hists = emu.activation_histograms(images)
    # mean |x - z| per input channel of every MAC layer, padding excluded
    x = quantize_input(graph, images)
    sums = {op.index: np.zeros(emu.layers[op.index].in_shape[2]) for op in macs}
    count = 0
    for lo in range(0, len(x), batch_size):
        vals = emu.run_batch(x[lo:lo + batch_size])
        for op in macs:
            layer = emu.layers[op.index]
            v = vals[op.inputs[0]].reshape((-1,) + layer.in_shape).astype(np.int64) - layer.z_in
            sums[op.index] += np.abs(v).sum(axis=(0, 1, 2))
        count += len(x[lo:lo + batch_size])
    infos = []
    per_kind: dict[bool, int] = {}
    for i, (op, enc) in enumerate(zip(macs, encodings)):
        layer = emu.layers[op.index]
        # the assignment and the bitstream number FULLY_CONNECTED layers apart ("fc:N")
        fc = op.kind == "FULLY_CONNECTED"
        index = per_kind.get(fc, 0)
        per_kind[fc] = index + 1
        pixels = count * layer.in_shape[0] * layer.in_shape[1]
        chan_mean = sums[op.index] / max(1, pixels)
        o, kh, kw, g = layer.weights.shape
        act = chan_mean[layer.in_channel0[:, None] + np.arange(g)[None, :]]
        m_f = layer.multiplier.astype(np.float64) * np.exp2(layer.shift.astype(np.float64) - 31)
        ks = kernel_sensitivity(layer.weights, m_f, act)
        a_hist, b_hist = hists[op.index]
        infos.append(LayerInfo(
            index=index, name=f"{i}:{op.kind.lower()}@op{op.index}", macs=int(layer.macs), out_channels=o,
            in_channels=g, act_hist=a_hist.astype(np.float64), weight_hist=b_hist.astype(np.float64),
            filter_sensitivity=filter_sensitivity(ks), kernel_sensitivity=ks, kind=KIND_OF_TFLITE_OP[op.kind],
            input_hist=input_hists[op.index].astype(np.float64), encoding=enc,
            geometry=layer.geometry, requant=Requant.from_mac_layer(layer)))
    return infos


class EmulatorAccuracy:
    """Quality of assignments on one image split, by emulation (an AccuracyModel with outcomes).

    ``quality`` names a :data:`rtlgen.mapper.objectives.QUALITY_OBJECTIVES` entry (default top-1
    accuracy; ``labels`` may be None for objectives that need none). Assignments follow
    :mod:`rtlgen.emulate.assignment` with multipliers named by table hash (``tables``).
    ``weight_tuning`` ``"histogram"`` uses ``act_hists`` (op index -> histogram of the layer's
    int8 input codes on the *calibration* images, the same for every split), so that the search
    and test splits run the same tuned network.

    Speed (per process; none of it changes a result): ``prefix_cache_bytes`` bounds a
    :class:`rtlgen.emulate.PrefixCache` of this split's intermediate tensors, so an assignment
    that shares its first layers' plans with an earlier one resumes after them (0 turns it off;
    default :data:`PREFIX_CACHE_BYTES`); weight maps of histogram/uniform tuning are computed
    once per (layer, multiplier) and remembered, and one engine instance serves every run (so
    its tables of a plan met again are reused, :mod:`rtlgen.emulate.engines`).
    """

    def __init__(self, graph: Any, images: np.ndarray, labels: np.ndarray | None, tables: dict[str, np.ndarray], *,
                 signed: bool = False, act_hists: dict[int, np.ndarray] | None = None, engine: EngineChoice = DEFAULT_ENGINE,
                 batch_size: int = 128, quality: str = "accuracy", prefix_cache_bytes: int | None = None):
        from rtlgen.mapper.objectives import get_quality

        self.objective = get_quality(quality)
        if self.objective.needs_labels and labels is None:
            raise ConfigError(f"quality objective {quality!r} needs labels ('y' in the image file); "
                              "'agreement' and 'reconstruction' need none")
        self.graph = graph
        self.images = np.asarray(images)
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        self._exact: Any = None  # the exact model's EmulationResult on this split
        self.tables = dict(tables)
        self.signed = signed
        self.act_hists = act_hists
        self.engine = engine
        self.batch_size = batch_size
        self.prefix_cache_bytes = PREFIX_CACHE_BYTES if prefix_cache_bytes is None else int(prefix_cache_bytes)
        if self.prefix_cache_bytes < 0:
            raise ValueError(f"prefix_cache_bytes must be >= 0, not {self.prefix_cache_bytes}")
        self._layers = None
        self._cache = None  # per process: a PrefixCache of this split's earlier runs
        self._weight_maps: dict[tuple, np.ndarray] = {}  # per process: tune_plan's memo
        self._engine = None  # per process: one engine instance, its tables reused between runs

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_layers"] = None
        state["_cache"] = None
        state["_weight_maps"] = {}
        state["_engine"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("prefix_cache_bytes", PREFIX_CACHE_BYTES)  # pickles of older versions
        state.setdefault("_weight_maps", {})
        state.setdefault("_engine", None)
        self.__dict__.update(state)

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
                                  None if self.act_hists is None else self.act_hists[i], memo=self._weight_maps)
                     for i, p in plans.items()}
        if self._engine is None:
            from rtlgen.emulate.engines import get_engine

            self._engine = get_engine(self.engine)
        return Emulator(self.graph, plans, engine=self._engine, batch_size=self.batch_size)

    def run(self, assignment: dict[str, Any]) -> Any:
        """Emulation results on this split; layers before the first one whose plan differs
        from an earlier run's in this process are reused (:class:`rtlgen.emulate.PrefixCache`)."""
        from rtlgen.emulate.cache import PrefixCache

        if self.prefix_cache_bytes == 0:
            return self.emulator(assignment).run(self.images)
        if self._cache is None:
            self._cache = PrefixCache(max_bytes=self.prefix_cache_bytes)
        return self.emulator(assignment).run(self.images, cache=self._cache)

    def outcomes_of(self, result: Any) -> np.ndarray:
        """Per-image outcomes of an emulation result on this split's images."""
        from rtlgen.emulate.emulator import quantize_input

        return self.objective.per_image(result, self._exact_run(), self.labels,
                                        quantize_input(self.graph, self.images), self.graph)

    def _exact_run(self) -> Any:
        """The exact model's emulation result on this split (computed once, kept in pickles, so
        workers get it with the model)."""
        if self._exact is None:
            from rtlgen.emulate.emulator import Emulator

            self._exact = Emulator(self.graph, engine=self.engine, batch_size=self.batch_size).run(self.images)
        return self._exact

    @property
    def exact_outcomes(self) -> np.ndarray:
        """Per-image outcomes of the exact model on this split."""
        return self.outcomes_of(self._exact_run())

    def outcomes(self, assignment: dict[str, Any]) -> np.ndarray:
        """One value per image (:class:`rtlgen.mapper.objectives.QualityObjective`)."""
        return self.outcomes_of(self.run(assignment))

    def quality(self, outcomes: np.ndarray) -> float:
        return self.objective.quality(outcomes, self.exact_outcomes)

    def interval(self, outcomes: np.ndarray) -> Any:
        """The loss against the exact model on this split, with its confidence interval."""
        return self.objective.interval(self.exact_outcomes, outcomes)

    def accuracy(self, assignment: dict[str, Any]) -> float:
        return self.quality(self.outcomes(assignment))
