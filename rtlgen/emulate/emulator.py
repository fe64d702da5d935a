"""Run a quantized graph on int8 inputs, exactly or with approximate multipliers, in batches.

Inputs are converted with :func:`quantize_input`: int8 arrays are taken as the model's codes;
anything else is in the input's real units (raw 0..255 pixels for the MLPerf Tiny ResNet-8,
whose input has scale 1 and zero point -128, so the code is ``pixel - 128``) and quantized as
``clip(round_half_away(x / scale) + zero_point, -128, 127)``.

Outputs (:class:`EmulationResult`): ``logits``, the int8 output of the last FULLY_CONNECTED;
``output``, the graph's int8 output; ``pred``, the argmax of ``logits`` (first index on ties), or
of ``output`` for a graph without FULLY_CONNECTED.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rtlgen.errors import ModelError
from rtlgen.nn.graph import Graph
from rtlgen.emulate import ops
from rtlgen.emulate.encoding import DEFAULT_ENCODING, activation_codes, weight_codes
from rtlgen.conventions import DEFAULT_ENGINE, TFLITE_MAC_OPS, EngineChoice
from rtlgen.emulate.engines import get_engine
from rtlgen.emulate.layers import MacLayer, compile_mac_layers, im2col
from rtlgen.emulate.plan import LayerPlan
from rtlgen.nn import quant
from rtlgen.emulate.cache import PrefixCache, plan_digest

__all__ = ["Emulator", "EmulationResult", "quantize_input", "DEFAULT_BATCH"]

DEFAULT_BATCH = 128


@dataclass(frozen=True)
class EmulationResult:
    logits: np.ndarray  # int8 [N, classes]
    output: np.ndarray  # int8 [N, ...]
    pred: np.ndarray  # int64 [N]

    def accuracy(self, labels: np.ndarray) -> float:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != self.pred.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for {self.pred.shape[0]} predictions")
        return float(np.mean(self.pred == labels))


def quantize_input(graph: Graph, x: np.ndarray) -> np.ndarray:
    t = graph.input
    x = np.asarray(x)
    shape = tuple(t.shape[1:])
    if x.shape[1:] != shape:
        if x.ndim >= 2 and int(np.prod(x.shape[1:])) == int(np.prod(shape)):
            x = x.reshape((x.shape[0],) + shape)
        else:
            raise ModelError(f"images have shape {x.shape[1:]}, the model input is {shape}",
                             file=graph.source)
    if x.dtype == np.int8:
        return x
    if float(t.scale) == 1.0 and x.dtype in (np.uint8, np.uint16, np.int16, np.int32):
        # integers at scale 1 (the ResNet-8's raw pixels): the rounding below is the identity
        return np.clip(x.astype(np.int32) + int(t.zero_point), -128, 127).astype(np.int8)
    r = x.astype(np.float64) / float(t.scale)
    q = np.sign(r) * np.floor(np.abs(r) + 0.5) + t.zero_point
    return np.clip(q, -128, 127).astype(np.int8)


class Emulator:
    """A graph compiled for emulation, with an optional approximate plan per MAC layer.

    ``plans`` maps op index -> :class:`LayerPlan`; layers without one multiply exactly.
    ``engine`` names an entry of :data:`rtlgen.emulate.engines.ENGINES`, or is an engine
    instance already used with this graph (its derived tables are reused, see
    :mod:`rtlgen.emulate.engines`).
    """

    def __init__(self, graph: Graph, plans: dict[int, LayerPlan] | None = None,
                 engine: EngineChoice | object = DEFAULT_ENGINE, batch_size: int = DEFAULT_BATCH):
        self.graph = graph
        self.layers: dict[int, MacLayer] = compile_mac_layers(graph)
        self.engine = get_engine(engine) if isinstance(engine, str) else engine
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        self.batch_size = batch_size
        self.plans: dict[int, LayerPlan] = {}
        for idx, plan in (plans or {}).items():
            if idx not in self.layers:
                raise ValueError(f"plan for op {idx}, which is not a MAC layer; MAC ops: "
                                 f"{sorted(self.layers)}")
            self.plans[idx] = plan.validate(self.layers[idx], f"op {idx} ({self.layers[idx].kind})")
        self._prepare_ops()
        fc = graph.last_fc()
        self._logits_tensor = fc.outputs[0] if fc is not None else graph.outputs[0]

    def _prepare_ops(self) -> None:
        T = self.graph.tensors
        self._op_params: dict[int, object] = {}
        for op in self.graph.ops:
            if op.kind == "ADD":
                a, b, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
                self._op_params[op.index] = (
                    quant.add_params(a.scale, b.scale, y.scale),
                    quant.activation_range(op.options["activation"], y.scale, y.zero_point))
            elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
                y = T[op.outputs[0]]
                self._op_params[op.index] = quant.activation_range(
                    op.options["activation"], y.scale, y.zero_point)

    # --- running ---------------------------------------------------------------------------

    def run(self, images: np.ndarray, cache: PrefixCache | None = None) -> EmulationResult:
        """Emulate ``images`` (see :func:`quantize_input`) in batches; memory is per batch
        (plus what ``cache``, a :class:`PrefixCache` shared between runs, is allowed to keep)."""
        x = quantize_input(self.graph, images)
        logits, outputs = [], []
        if cache is not None:
            cache.bind(hashlib.sha256(x.tobytes()).digest() + str(x.shape).encode(), self.batch_size)
        for lo in range(0, x.shape[0], self.batch_size):
            if cache is None:
                vals = self.run_batch(x[lo: lo + self.batch_size])
            else:
                vals = self._run_cached(x[lo: lo + self.batch_size], lo, cache)
            logits.append(vals[self._logits_tensor])
            outputs.append(vals[self.graph.outputs[0]])
        lg = np.concatenate(logits).reshape(x.shape[0], -1) if logits else np.zeros((0, 0), np.int8)
        out = np.concatenate(outputs) if outputs else np.zeros((0,), np.int8)
        pred = np.argmax(lg if lg.size else out.reshape(x.shape[0], -1), axis=1)
        return EmulationResult(logits=lg, output=out, pred=pred)

    def run_batch(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """All tensors computed for one batch of int8 inputs (tensor index -> array)."""
        vals: dict[int, np.ndarray] = {self.graph.inputs[0]: x}
        for _op, y in self._iter_ops(vals):
            pass
        return vals

    def _prefix_digests(self) -> list[bytes]:
        h = hashlib.sha256()
        out = []
        for op in self.graph.ops:
            h.update(op.index.to_bytes(4, "little"))
            if op.index in self.layers:
                h.update(plan_digest(self.plans.get(op.index)))
            out.append(h.copy().digest())
        return out

    def _live_after(self) -> list[set[int]]:
        """Tensor indices needed after each op position (by later ops or as results)."""
        keep = {self._logits_tensor, self.graph.outputs[0]}
        live: list[set[int]] = []
        needed = set(keep)
        for op in reversed(self.graph.ops):
            live.append(set(needed))
            needed |= {t for t in op.inputs if t >= 0 and self.graph.tensors[t].data is None}
        return live[::-1]

    def _run_cached(self, x: np.ndarray, batch: int, cache: PrefixCache) -> dict[int, np.ndarray]:
        prefixes = self._prefix_digests()
        live = self._live_after()
        hit = cache.lookup(batch, prefixes)
        if hit is None:
            start, vals = 0, {self.graph.inputs[0]: x}
        else:
            start, vals = hit[0] + 1, dict(hit[1])
        ops = self.graph.ops
        for pos, (_op, _y) in enumerate(self._iter_ops(vals, start), start):
            # only states a changed plan can resume from: those right before a MAC layer
            if pos + 1 < len(ops) and ops[pos + 1].index in self.layers:
                cache.store(batch, pos, prefixes[pos], {t: vals[t] for t in live[pos] if t in vals})
        return vals

    def _iter_ops(self, vals: dict[int, np.ndarray], start: int = 0) -> Iterator[tuple]:
        T = self.graph.tensors
        for op in self.graph.ops[start:]:
            x = vals[op.inputs[0]]
            n = x.shape[0]
            yt = T[op.outputs[0]]
            if op.index in self.layers:
                layer = self.layers[op.index]
                try:
                    y = self.engine.output(layer, x, self.plans.get(op.index))
                except ValueError as exc:  # e.g. signmag on activations below the zero point
                    raise ModelError(f"op {op.index} ({op.kind}): {exc}", file=self.graph.source) from None
                y = y.reshape((n,) + tuple(yt.shape[1:]))
            elif op.kind == "ADD":
                params, act = self._op_params[op.index]
                a, b = T[op.inputs[0]], T[op.inputs[1]]
                y = self.engine.add(x, a.zero_point, vals[op.inputs[1]], b.zero_point, yt.zero_point, params, act)
            elif op.kind == "AVERAGE_POOL_2D":
                y = ops.average_pool(x, op.options, self._op_params[op.index])
            elif op.kind == "MAX_POOL_2D":
                y = ops.max_pool(x, op.options, self._op_params[op.index])
            elif op.kind == "RESHAPE":
                y = x.reshape((n,) + tuple(yt.shape[1:]))
            elif op.kind == "PAD":
                p = T[op.inputs[1]].data
                y = ops.pad_spatial(x, ((int(p[1, 0]), int(p[1, 1])), (int(p[2, 0]), int(p[2, 1]))),
                                    T[op.inputs[0]].zero_point)
            elif op.kind == "SOFTMAX":
                y = ops.softmax(x, op.options["beta"], T[op.inputs[0]].scale)
            else:  # pragma: no cover - the importer rejects other ops
                raise ModelError(f"op {op.index} ({op.kind}) cannot be emulated", file=self.graph.source)
            vals[op.outputs[0]] = y
            yield op, y

    # --- operand statistics -----------------------------------------------------------------

    def operand_histograms(self, images: np.ndarray, encoding: str = DEFAULT_ENCODING,
                           ops_kinds: tuple[str, ...] = TFLITE_MAC_OPS,
                           ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """op index -> (a_hist[256], b_hist[256]): port-A and port-B codes per multiplication.

        Counted over every multiplication the layer performs on ``images`` (padding taps
        included, each activation tap once per output channel that reads it, each weight once
        per output pixel), so both histograms sum to ``images x layer.macs``. A layer's own
        plan's encoding is used where it has one, else ``encoding``.
        """
        x = quantize_input(self.graph, images)
        hists = {i: (np.zeros(256, np.int64), np.zeros(256, np.int64))
                 for i, l in self.layers.items() if l.kind in ops_kinds}
        for lo in range(0, x.shape[0], self.batch_size):
            vals: dict[int, np.ndarray] = {self.graph.inputs[0]: x[lo: lo + self.batch_size]}
            for op, _y in self._iter_ops(vals):
                if op.index not in hists:
                    continue
                layer = self.layers[op.index]
                plan = self.plans.get(op.index)
                enc = plan.encoding if plan else encoding
                w = plan.layer_weights(layer) if plan else layer.weights
                p = im2col(layer, vals[op.inputs[0]])
                a = activation_codes(p, layer.z_in, enc)
                ah, bh = hists[op.index]
                if layer.depthwise:
                    ah += np.bincount(a[..., layer.in_channel0].ravel(), minlength=256)
                else:
                    ah += np.bincount(a.ravel(), minlength=256) * layer.channels_out
                b, _s = weight_codes(w, enc)
                pixels = p.shape[0] * p.shape[1] * p.shape[2]
                bh += np.bincount(b.ravel(), minlength=256) * pixels
        return hists

    def activation_histograms(self, images: np.ndarray) -> dict[int, np.ndarray]:
        """op index -> histogram over int8 input codes (index ``x + 128``) of each MAC layer's
        input tensor, padding excluded: the ``p(x)`` of histogram weight tuning."""
        x = quantize_input(self.graph, images)
        hists = {i: np.zeros(256, np.int64) for i in self.layers}
        for lo in range(0, x.shape[0], self.batch_size):
            vals: dict[int, np.ndarray] = {self.graph.inputs[0]: x[lo: lo + self.batch_size]}
            for op, _y in self._iter_ops(vals):
                if op.index in hists:
                    hists[op.index] += np.bincount(vals[op.inputs[0]].astype(np.int64).ravel() + 128,
                                                   minlength=256)
        return hists
