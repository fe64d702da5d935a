"""The mapper's third objective: cycles per inference on the accelerator with concurrent units.

A fast model (microseconds per mapping) of the accelerator whose compute units run at the same
time. Each unit has its own walker: for input ``n`` it walks every descriptor of ``config.bin``
in order, skips those of other units, and for each of its own

1. *prepares* it: reads the descriptor, finds its ``weights.bin`` record, copies the layer's
   weights and parameters into its own engine and writes the engine's registers (this overlaps
   the other units' work);
2. waits until every earlier descriptor of input ``n`` is done;
3. *runs* it (engine or vector unit), then moves on.

Consecutive inputs pipeline across units: input ``n + 1``'s first layers on unit A while input
``n``'s later ones run on unit B. An op descriptor (ADD, pools, PAD) belongs to the unit of the
nearest layer descriptor before it (unit 0 when there is none).

Costs per descriptor ``d``, the terms of :mod:`rtlgen.accel.schedule` (whose docstring derives
each from the sequencer's RTL), computed once per network (:class:`CycleModel`):

* a layer (``B``: its weight section, ``groups*K*L`` bytes, ``K = kh*kw*cin``, ``L`` lanes;
  ``r``: its weight remaps; ``R``: the real section bytes whose slot has a remap)::

      prepare_d = fields (58 + 2r) + search (4: images in order) + record (25)
                  + copy (B + 3 without remaps; 3B + R + B/L + 1 with) + params (11 out_c)
                  + registers (26)
      run_d     = 1 + engine_cycles(geometry, L, depthwise) + 1

* an op: ``prepare_d`` = its fields (ADD 58, pools 44, PAD 43), ``run_d = 1 + vector_cycles + 1``.

Only the remap terms depend on the mapping (with weight tuning: which of a layer's slots carry
a multiplier whose tuned weight map is not the identity, :meth:`SearchSpace.weight_remaps`).

The model, per unit ``u`` and with ``unit(d)`` from the mapping::

    busy_u               = sum over d with unit(d) = u of (prepare_d + run_d)
    cycles per inference = max_u busy_u          (the bottleneck unit; throughput = 1 / this)
    latency              = one input through the event rules below, from START (the header,
                           13 + 3U + 5*slots, :func:`rtlgen.accel.schedule.header_cycles`) to
                           the last descriptor's end, + 1

Event rules (:meth:`CycleModel.schedule`, also the Gantt charts): walker ``u`` takes its
descriptors in order, input after input; a descriptor's prepare starts when its walker's
previous descriptor is done, its run at ``max(prepare end, end of descriptor d - 1 of the same
input)``. With every layer on one unit the latency is the sequential device's ``RUN_CYCLES``
(:func:`rtlgen.accel.schedule.network_cycles`, images in order); with several units it is lower
wherever a unit prepares while another runs.

What this is: ``max_u busy_u`` is the steady-state bound, a lower bound on the cycles between
consecutive results of a long batch under the event rules. It is reached when each unit runs one
contiguous stretch of the descriptor chain (the units are pipeline stages); a unit whose
descriptors interleave with another's (A, B, A) waits inside each input and the real period is
longer (:meth:`CycleModel.schedule` shows it). Walking past another unit's descriptor is taken
to cost nothing, the header is paid once per batch, and a unit may run any number of inputs
ahead of the next (nothing bounds the activations in flight). The exact count of the concurrent
device against its RTL counters belongs to :mod:`rtlgen.accel.schedule`, not to this model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rtlgen.accel.descriptor import FIELDS
from rtlgen.accel.schedule import engine_cycles, header_cycles, vector_cycles
from rtlgen.bitstream import format as bsmod
from rtlgen.mapper.space import Mapping, SearchSpace

__all__ = ["Bar", "Cycles", "CycleModel", "CycleSpec", "layer_prepare_cycles", "op_prepare_cycles"]

# the sequencer's field reads (rtlgen.accel.schedule's docstring: a field of n bytes takes n + 1)
_RECORD = 6 + 1                                     # index, kind, unit, encoding, granularity
_LAYER_FIELDS = _RECORD + (24 + 1) + (8 + 1) + (10 + 1) + (1 + 1) + (1 + 1) + 1 + 1   # 58, + 2 per remap
_OP_FIELDS = {"add": _RECORD + (16 + 1) + 2 * (9 + 1) + (10 + 1) + (2 + 1),           # 58
              "average_pool_2d": _RECORD + (8 + 1) + (24 + 1) + (2 + 1),               # 44
              "max_pool_2d": _RECORD + (8 + 1) + (24 + 1) + (2 + 1),
              "pad": _RECORD + (8 + 1) + (24 + 1) + (1 + 1)}                           # 43
_SEARCH = 3 + 1                                     # one record looked at: images in order
_WEIGHTS_RECORD = 24 + 1
_PARAM = (4 + 1) + (5 + 1)                          # bias, (multiplier, shift)
_START, _DONE, _END = 1, 1, 1


def _cin(kind: str, g: bsmod.Geometry) -> int:
    return 1 if kind == "depthwise_conv2d" else g.in_c


def section_bytes(kind: str, g: bsmod.Geometry, lanes: int) -> int:
    """A layer's weight section in ``weights.bin`` for ``lanes`` lanes: ``ceil(out_c/L)*K*L``
    bytes, ``K = kh*kw*cin`` (:meth:`rtlgen.bitstream.weights.LayerWeights.weight_bytes`)."""
    return -(-g.out_c // lanes) * g.k_h * g.k_w * _cin(kind, g) * lanes


def layer_prepare_cycles(kind: str, g: bsmod.Geometry, lanes: int, *, remaps: int = 0,
                         remapped_bytes: int = 0) -> int:
    """A layer descriptor's ``prepare`` cycles (module docstring): fields, record search, record,
    weight copy, parameters and registers; ``remaps``/``remapped_bytes``: its weight remaps and
    the real section bytes whose slot has one."""
    b = section_bytes(kind, g, lanes)
    copy = b + 3 if remaps == 0 else 3 * b + remapped_bytes + b // lanes + 1
    return _LAYER_FIELDS + 2 * remaps + _SEARCH + _WEIGHTS_RECORD + copy + _PARAM * g.out_c + len(FIELDS)


def op_prepare_cycles(op: bsmod.OpDescriptor) -> int:
    """An op descriptor's ``prepare`` cycles: its fields (ADD 58, pools 44, PAD 43)."""
    return _OP_FIELDS[op.kind]


@dataclass(frozen=True)
class Cycles:
    """A mapping's cycles (module docstring): ``per_inference`` (``max_u busy_u``, the
    steady-state bound), ``latency`` (one input, START to the end) and ``busy`` per unit."""

    per_inference: int
    latency: int
    busy: tuple[int, ...]

    @property
    def throughput(self) -> float:
        """Inferences per cycle in steady state (``1 / per_inference``)."""
        return 1.0 / self.per_inference


@dataclass(frozen=True)
class Bar:
    """One phase of one descriptor of one input in :meth:`CycleModel.schedule`: ``phase`` is
    ``"prepare"`` or ``"run"``; ``start``/``end`` in cycles from START (end exclusive)."""

    input: int
    position: int
    key: str
    unit: int
    phase: str
    start: int
    end: int


@dataclass(frozen=True)
class CycleSpec:
    """What the model needs beyond the search space: the accelerator's ``lanes`` and the
    network's op descriptors (:func:`rtlgen.bitstream.opdesc.op_descriptors`; empty: the MAC
    layers alone)."""

    lanes: int
    ops: tuple[bsmod.OpDescriptor, ...] = ()

    def model(self, space: SearchSpace) -> CycleModel:
        return CycleModel(space, lanes=self.lanes, ops=self.ops)


class CycleModel:
    """Per-descriptor cycles of one network on one accelerator shape, computed once; a mapping's
    :class:`Cycles` is then a sum per unit (module docstring).

    ``space``'s layers are the layer descriptors in ``config.bin`` order; ``ops`` (each with
    ``after_layers``) are placed between them as :meth:`rtlgen.bitstream.format.Bitstream.descriptors`
    orders them."""

    def __init__(self, space: SearchSpace, *, lanes: int, ops: Sequence[bsmod.OpDescriptor] = ()):
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, not {lanes}")
        for layer in space.layers:
            if layer.geometry is None:
                raise ValueError(f"layer {layer.name} has no geometry: the cycle model needs every layer's")
        n = len(space.layers)
        ops = sorted(ops, key=lambda op: op.after_layers)   # stable: ties keep their order
        if ops and ops[-1].after_layers > n:
            raise ValueError(f"{ops[-1].key} comes after {ops[-1].after_layers} layers; the network has {n}")
        self.space, self.lanes = space, int(lanes)
        self.n_units = space.n_units
        self.header = header_cycles(tuple((None,) * space.slots_per_unit for _ in range(space.n_units)))
        keys: list[str] = []
        kinds: list[str] = []
        owner: list[int] = []       # index of the layer whose unit runs the descriptor (-1: unit 0)
        layer_of: list[int] = []    # the layer a descriptor is (-1 for an op)
        prepare: list[int] = []
        run: list[int] = []
        j = 0
        for i in range(n + 1):
            while j < len(ops) and ops[j].after_layers == i:
                op = ops[j]
                keys.append(op.key)
                kinds.append(op.kind)
                owner.append(i - 1)
                layer_of.append(-1)
                prepare.append(op_prepare_cycles(op))
                run.append(_START + vector_cycles(op) + _DONE)
                j += 1
            if i < n:
                layer = space.layers[i]
                g = layer.geometry
                assert g is not None
                keys.append(layer.key)
                kinds.append(layer.kind)
                owner.append(i)
                layer_of.append(i)
                prepare.append(layer_prepare_cycles(layer.kind, g, self.lanes))
                run.append(_START + engine_cycles(g, self.lanes, depthwise=layer.kind == "depthwise_conv2d") + _DONE)
        self.keys, self.kinds = tuple(keys), tuple(kinds)
        self.owner = np.array(owner, dtype=np.int64)
        self.layer_of = np.array(layer_of, dtype=np.int64)
        self.prepare = np.array(prepare, dtype=np.int64)
        self.run = np.array(run, dtype=np.int64)
        self._position = np.flatnonzero(self.layer_of >= 0)      # descriptor position of layer i
        self._tuned: dict[tuple[int, int], bool] = {}
        # bytes of the weight section per select entry (layer: all real bytes of the layer)
        self._bytes_per_select = []
        for layer in space.layers:
            g = layer.geometry
            assert g is not None
            per_select = {"layer": g.out_c * g.k_h * g.k_w * _cin(layer.kind, g),
                          "filter": g.k_h * g.k_w * _cin(layer.kind, g), "kernel": g.k_h * g.k_w}
            self._bytes_per_select.append(per_select[space.granularity])

    # -- a mapping's costs ---------------------------------------------------------------------
    def units_of(self, layer_unit: Sequence[int]) -> np.ndarray:
        """The unit of every descriptor, ``layer_unit`` giving each layer's."""
        lu = np.append(np.asarray(layer_unit, dtype=np.int64), 0)   # owner -1 -> unit 0
        if lu.shape != (len(self.space.layers) + 1,):
            raise ValueError(f"layer_unit must give {len(self.space.layers)} units, not {lu.size - 1}")
        return lu[self.owner]

    def _tunes(self, li: int, candidate: int) -> bool:
        key = (li, candidate)
        if key not in self._tuned:
            self._tuned[key] = self.space.tuned_weight_codes(li, candidate) is not None
        return self._tuned[key]

    def prepare_of(self, mapping: Mapping) -> np.ndarray:
        """Every descriptor's ``prepare`` cycles for ``mapping`` (weight remaps counted)."""
        if self.space.weight_tuning == "none":
            return self.prepare
        out = self.prepare.copy()
        for li, layer in enumerate(self.space.layers):
            bank = mapping.units[mapping.layer_unit[li]]
            sel = np.asarray(mapping.selects[li]).ravel()
            remapped = [int(s) for s in np.unique(sel) if self._tunes(li, bank[int(s)])]
            if remapped:
                g = layer.geometry
                assert g is not None
                r_bytes = int(np.isin(sel, remapped).sum()) * self._bytes_per_select[li]
                out[self._position[li]] = layer_prepare_cycles(layer.kind, g, self.lanes, remaps=len(remapped),
                                                               remapped_bytes=r_bytes)
        return out

    def evaluate(self, mapping: Mapping) -> Cycles:
        """``mapping``'s cycles per inference, latency and busy cycles per unit."""
        units = self.units_of(mapping.layer_unit)
        prepare = self.prepare_of(mapping)
        busy = np.bincount(units, weights=prepare + self.run, minlength=self.n_units).astype(np.int64)
        return Cycles(per_inference=int(busy.max()), latency=self._latency(units, prepare),
                      busy=tuple(int(b) for b in busy))

    def _latency(self, units: np.ndarray, prepare: np.ndarray) -> int:
        free = [self.header] * self.n_units
        prev = self.header
        for u, p, r in zip(units.tolist(), prepare.tolist(), self.run.tolist()):
            prev = max(free[u] + p, prev) + r
            free[u] = prev
        return prev + _END

    def schedule(self, mapping: Mapping, inputs: int = 2) -> tuple[Bar, ...]:
        """Every descriptor's prepare and run for ``inputs`` consecutive inputs under the event
        rules (module docstring), in the order they are decided."""
        if inputs < 1:
            raise ValueError(f"inputs must be at least 1, not {inputs}")
        units = self.units_of(mapping.layer_unit).tolist()
        prepare = self.prepare_of(mapping).tolist()
        free = [self.header] * self.n_units
        bars = []
        for n in range(inputs):
            prev = self.header
            for d, (u, p, r) in enumerate(zip(units, prepare, self.run.tolist())):
                start = free[u]
                go = max(start + p, prev)
                prev = free[u] = go + r
                bars.append(Bar(n, d, self.keys[d], u, "prepare", start, start + p))
                bars.append(Bar(n, d, self.keys[d], u, "run", go, go + r))
        return tuple(bars)

    def fingerprint(self) -> str:
        """Identity of the model's costs (a search's checkpoint records it)."""
        h = hashlib.sha256()
        h.update(repr((self.lanes, self.n_units, self.header, self.keys)).encode())
        for a in (self.owner, self.prepare, self.run):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()[:16]
