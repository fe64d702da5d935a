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
a multiplier whose tuned weight map is not the identity, :meth:`SearchSpace.weight_remaps`), and
the split layers (``split_layers``, :class:`rtlgen.mapper.space.SearchSpace`): a split layer is
one descriptor per share in its place (:meth:`CycleModel.layout`), each on its own unit with its
channel range: fields + 5 (the range), its groups' copy, ``11 (co_end - co_first)`` parameters,
28 registers, the engine over its groups (:func:`rtlgen.accel.schedule.engine_cycles`); the ops
after the layer belong to its last share's unit, and its shares start together: each waits for
the descriptors before the layer's first share.

A walker also reads the fields of every other unit's descriptor to get past it (``skip_d``: a
layer's fields, 58 + 2r; an op's fields + 1) and takes 1 cycle to go on to the next input.

The model, per unit ``u`` and with ``unit(d)`` from the mapping::

    busy_u               = sum over d with unit(d) = u of (prepare_d + run_d)
                           + sum over d with unit(d) != u of skip_d + 1
                           + 4 (R - k_u)      (the record search, below; k_u: u's layers)
    bound                = max_u busy_u          (the bottleneck unit)
    cycles per inference = the cycles between the last two outputs of 2U + 2 inputs in one START
                           under the event rules below, a slot per input (the steady state;
                           throughput = 1 / this; at least the bound)
    latency              = one input through the event rules below, from START (the header,
                           13 + 3U + 5*slots, :func:`rtlgen.accel.schedule.header_cycles`) to
                           the last descriptor's end, + 1

Event rules (:meth:`CycleModel.schedule`, also the Gantt charts): walker ``u`` takes the
descriptors in order, input after input, skipping other units'; a descriptor's prepare starts
when its walker is past the previous one, its run at ``max(prepare end, end of descriptor d - 1
of the same input)``; an input's first run waits for the input ``slots`` before it to end (its
activation slot). With every layer on one unit the latency is the sequential device's ``RUN_CYCLES``
(:func:`rtlgen.accel.schedule.network_cycles`, images in order); with several units it is lower
wherever a unit prepares while another runs.

What this is: ``max_u busy_u`` is a lower bound on the cycles between consecutive results of a
long batch. The steady state reaches it when each unit runs one contiguous stretch of the
descriptor chain (the units are pipeline stages); a unit whose descriptors interleave with
another's (A, B, A) waits inside each input (a walker finishes an input's descriptors before the
next input's), and the period is longer: the objective is the simulated period, so the search
sees that (about 2U + 2 inputs x the descriptors walker steps: well under a millisecond). The record search (4 cycles a record looked
at) goes on from the record after the walker's last one found, records in layer order (as
``rtlgen bitstream build`` and the mapper write ``weights.bin``), wrapping around: a walker's
search for layer ``j`` after layer ``i`` looks at ``(j - i - 1) mod R + 1`` records (``R``
layers), so in steady state each walker with a layer looks at all ``R`` records once per input.
With that, the event rules are the device's schedule exactly
(:func:`rtlgen.accel.schedule.batch_cycles`, equal to the RTL's counters; tested), and
``latency`` is its one-input ``RUN_CYCLES``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rtlgen.accel.descriptor import FIELDS, WHOLE_LAYER_FIELDS
from rtlgen.accel.schedule import engine_clocks, engine_cycles, header_cycles, vector_cycles
from rtlgen.bitstream import format as bsmod
from rtlgen.mapper.space import Mapping, SearchSpace

__all__ = ["Bar", "Cycles", "CycleModel", "CycleSpec", "Layout", "layer_own_reads", "layer_prepare_cycles",
           "op_prepare_cycles"]

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
_RANGE = 4 + 1                                      # a share's co_first, co_end
_START, _DONE, _END = 1, 1, 1


def _cin(kind: str, g: bsmod.Geometry) -> int:
    return 1 if kind == "depthwise_conv2d" else g.in_c


def section_bytes(kind: str, g: bsmod.Geometry, lanes: int) -> int:
    """A layer's weight section in ``weights.bin`` for ``lanes`` lanes: ``ceil(out_c/L)*K*L``
    bytes, ``K = kh*kw*cin`` (:meth:`rtlgen.bitstream.weights.LayerWeights.weight_bytes`)."""
    return -(-g.out_c // lanes) * g.k_h * g.k_w * _cin(kind, g) * lanes


def layer_prepare_cycles(kind: str, g: bsmod.Geometry, lanes: int, *, remaps: int = 0,
                         remapped_bytes: int = 0, co_first: int = 0, co_end: int | None = None) -> int:
    """A layer descriptor's ``prepare`` cycles (module docstring): fields, record search, record,
    weight copy, parameters and registers; ``remaps``/``remapped_bytes``: its weight remaps and
    the real section bytes whose slot has one; ``co_first``/``co_end``: a share's output
    channels (default the whole layer)."""
    share = co_end is not None and (co_first, co_end) != (0, g.out_c)
    # a share copies its groups' bytes (rtlgen.accel.schedule: from co_first*K to its last group's end)
    b = _copy_bytes(kind, g, lanes, co_first, co_end)
    co_end = g.out_c if co_end is None else co_end
    copy = b + 3 if remaps == 0 else 3 * b + remapped_bytes + b // lanes + 1
    return (_LAYER_FIELDS + _RANGE * share + 2 * remaps + _SEARCH + _WEIGHTS_RECORD + copy
            + _PARAM * (co_end - co_first) + (len(FIELDS) if share else WHOLE_LAYER_FIELDS))


def _copy_bytes(kind: str, g: bsmod.Geometry, lanes: int, co_first: int = 0, co_end: int | None = None) -> int:
    """The section bytes a layer descriptor copies: the whole section, or a share's groups."""
    if co_end is None or (co_first, co_end) == (0, g.out_c):
        return section_bytes(kind, g, lanes)
    return (-(-co_end // lanes) * lanes - co_first) * g.k_h * g.k_w * _cin(kind, g)


def layer_own_reads(kind: str, g: bsmod.Geometry, lanes: int, *, remaps: int = 0, remapped_bytes: int = 0,
                    co_first: int = 0, co_end: int | None = None) -> tuple[int, int]:
    """The reads of (the configuration memory, the weights store) of a layer descriptor's owner
    beyond its fields and its record search (:func:`rtlgen.accel.schedule.copy_reads`): the
    record (weights store, 25), the copy (both ``B + 3`` streamed; with remaps ``2B + R + 1`` and
    ``B + 1``) and the parameters (per channel 6 and 5)."""
    b = _copy_bytes(kind, g, lanes, co_first, co_end)
    channels = (g.out_c if co_end is None else co_end) - co_first
    c_cfg, c_w = (b + 3, b + 3) if remaps == 0 else (2 * b + remapped_bytes + 1, b + 1)
    return c_cfg + 6 * channels, _WEIGHTS_RECORD + c_w + 5 * channels


def op_prepare_cycles(op: bsmod.OpDescriptor) -> int:
    """An op descriptor's ``prepare`` cycles: its fields (ADD 58, pools 44, PAD 43)."""
    return _OP_FIELDS[op.kind]


@dataclass(frozen=True)
class Cycles:
    """A mapping's cycles (module docstring): ``per_inference`` (the steady state's cycles between
    outputs), ``latency`` (one input, START to the end) and ``busy`` per unit (their maximum
    bounds ``per_inference`` from below)."""

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


@dataclass(frozen=True, eq=False)
class Layout:
    """A mapping's descriptors in config.bin order (:meth:`CycleModel.layout`): per descriptor its
    key, unit, ``prepare``, ``skip`` and ``run`` cycles, its layer (-1 for an op) and ``first``,
    the position of its layer's first share (its own for every other descriptor)."""

    keys: tuple[str, ...]
    units: np.ndarray
    prepare: np.ndarray
    skip: np.ndarray
    run: np.ndarray
    layer_of: np.ndarray
    first: np.ndarray
    #: per descriptor, its owner's reads of the configuration memory and of the weights store
    #: beyond its fields and record search (:func:`layer_own_reads`; 0 for an op)
    own_cfg: np.ndarray | None = None
    own_w: np.ndarray | None = None
    #: per descriptor, the cycles after which its engine gets a clock edge
    #: (:func:`rtlgen.accel.schedule.engine_clocks`; 0 for an op)
    clocks: np.ndarray | None = None


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
        self.space, self.lanes, self.ops = space, int(lanes), tuple(ops)
        self.n_units = space.n_units
        self.header = header_cycles(tuple((None,) * space.slots_per_unit for _ in range(space.n_units)))
        keys: list[str] = []
        kinds: list[str] = []
        owner: list[int] = []       # index of the layer whose unit runs the descriptor (-1: unit 0)
        layer_of: list[int] = []    # the layer a descriptor is (-1 for an op)
        prepare: list[int] = []
        skip: list[int] = []
        run: list[int] = []
        own_reads: list[tuple[int, int]] = []
        clocks: list[int] = []
        j = 0
        for i in range(n + 1):
            while j < len(ops) and ops[j].after_layers == i:
                op = ops[j]
                keys.append(op.key)
                kinds.append(op.kind)
                owner.append(i - 1)
                layer_of.append(-1)
                prepare.append(op_prepare_cycles(op))
                skip.append(op_prepare_cycles(op) + 1)
                own_reads.append((0, 0))
                clocks.append(0)
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
                own_reads.append(layer_own_reads(layer.kind, g, self.lanes))
                clocks.append(engine_clocks(layer.kind, g, self.lanes, copied_bytes=_copy_bytes(layer.kind, g, self.lanes)))
                skip.append(_LAYER_FIELDS)
                run.append(_START + engine_cycles(g, self.lanes, depthwise=layer.kind == "depthwise_conv2d") + _DONE)
        self.keys, self.kinds = tuple(keys), tuple(kinds)
        self.owner = np.array(owner, dtype=np.int64)
        self.layer_of = np.array(layer_of, dtype=np.int64)
        self.prepare = np.array(prepare, dtype=np.int64)
        self.skip = np.array(skip, dtype=np.int64)
        self.run = np.array(run, dtype=np.int64)
        self._own_cfg = np.array([r[0] for r in own_reads], dtype=np.int64)
        self._own_w = np.array([r[1] for r in own_reads], dtype=np.int64)
        self._clocks = np.array(clocks, dtype=np.int64)
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
        """The unit of every descriptor, ``layer_unit`` giving each layer's (no layer split)."""
        lu = np.append(np.asarray(layer_unit, dtype=np.int64), 0)   # owner -1 -> unit 0
        if lu.shape != (len(self.space.layers) + 1,):
            raise ValueError(f"layer_unit must give {len(self.space.layers)} units, not {lu.size - 1}")
        if lu.max() >= self.n_units:
            raise ValueError(f"units_of places whole layers; unit {int(lu.max())} splits a layer: use layout()")
        return lu[self.owner]

    def _tunes(self, li: int, candidate: int) -> bool:
        key = (li, candidate)
        if key not in self._tuned:
            self._tuned[key] = self.space.tuned_weight_codes(li, candidate) is not None
        return self._tuned[key]

    def prepare_of(self, mapping: Mapping) -> np.ndarray:
        """Every descriptor's ``prepare`` cycles for ``mapping`` (weight remaps counted)."""
        return self.layout(mapping).prepare

    def skip_of(self, mapping: Mapping) -> np.ndarray:
        """Every descriptor's ``skip`` cycles for ``mapping`` (a remapped layer's remaps counted)."""
        return self.layout(mapping).skip

    def layout(self, mapping: Mapping) -> "Layout":
        """``mapping``'s descriptors in config.bin order with their units and costs: the whole
        layers' of the constructor, a split layer's shares in its place (one descriptor each, on
        its own unit; the ops after it stay after its last share), weight remaps counted."""
        split = [li for li in range(len(self.space.layers)) if mapping.is_split(li)]
        tuned = self.space.weight_tuning != "none"
        if not split and not tuned:
            units = self.units_of(mapping.layer_unit)
            return Layout(self.keys, units, self.prepare, self.skip, self.run, self.layer_of,
                          np.arange(len(units)), self._own_cfg, self._own_w, self._clocks)
        keys, units, prepare, skip, run, layer_of, first = [], [], [], [], [], [], []
        own_cfg, own_w, clocks = [], [], []
        for d in range(len(self.keys)):
            li = int(self.layer_of[d])
            if li < 0:
                owner = int(self.owner[d])
                keys.append(self.keys[d])
                units.append(0 if owner < 0 else mapping.parts[owner][-1][0])
                prepare.append(int(self.prepare[d]))
                skip.append(int(self.skip[d]))
                run.append(int(self.run[d]))
                layer_of.append(-1)
                first.append(len(first))
                own_cfg.append(0)
                own_w.append(0)
                clocks.append(0)
                continue
            layer = self.space.layers[li]
            g = layer.geometry
            assert g is not None
            parts = mapping.parts[li]
            share = len(parts) > 1
            bank_sel = np.asarray(mapping.selects[li])
            start = len(first)
            for k, (u, lo, hi) in enumerate(parts):
                remapped, r_bytes = 0, 0
                if tuned:
                    bank = mapping.units[u]
                    slots = [s for s in self.space.used_slots(mapping, li, k) if self._tunes(li, bank[s])]
                    remapped = len(slots)
                    if slots:
                        own = bank_sel if bank_sel.ndim == 0 else bank_sel[lo:hi]
                        per = self._bytes_per_select[li]
                        if self.space.granularity == "layer":     # the share's real bytes
                            per = per * (hi - lo) // g.out_c
                        r_bytes = int(np.isin(own.ravel(), slots).sum()) * per
                keys.append(self.keys[d])
                units.append(u)
                prepare.append(layer_prepare_cycles(layer.kind, g, self.lanes, remaps=remapped, remapped_bytes=r_bytes,
                                                    co_first=lo, co_end=hi if share else None))
                skip.append(_LAYER_FIELDS + _RANGE * share + 2 * remapped)
                run.append(_START + engine_cycles(g, self.lanes, depthwise=layer.kind == "depthwise_conv2d",
                                                  co_first=lo, co_end=hi) + _DONE)
                layer_of.append(li)
                first.append(start)
                r_cfg, r_w = layer_own_reads(layer.kind, g, self.lanes, remaps=remapped, remapped_bytes=r_bytes,
                                             co_first=lo, co_end=hi if share else None)
                own_cfg.append(r_cfg)
                own_w.append(r_w)
                clocks.append(engine_clocks(layer.kind, g, self.lanes, co_first=lo, co_end=hi,
                                            copied_bytes=_copy_bytes(layer.kind, g, self.lanes, lo,
                                                                     hi if share else None)))
        return Layout(tuple(keys), np.array(units, dtype=np.int64), np.array(prepare, dtype=np.int64),
                      np.array(skip, dtype=np.int64), np.array(run, dtype=np.int64),
                      np.array(layer_of, dtype=np.int64), np.array(first, dtype=np.int64),
                      np.array(own_cfg, dtype=np.int64), np.array(own_w, dtype=np.int64),
                      np.array(clocks, dtype=np.int64))

    def walker_reads(self, mapping: "Mapping | Layout") -> tuple[int, int]:
        """The walkers' reads of (the configuration memory, the weights store) per input in the
        steady state (:func:`rtlgen.accel.schedule.walker_reads`): every walker reads every
        descriptor's fields (a layer's ``skip``, an op's ``skip - 1``) and a cycle at the input's
        end, each owner its layers' :func:`layer_own_reads`, and each walker owning a layer
        descriptor looks at every record once (4 cycles each). ``mapping`` may be its layout
        already (:meth:`layout`)."""
        lay = mapping if isinstance(mapping, Layout) else self.layout(mapping)
        is_layer = lay.layer_of >= 0
        fields = int(np.where(is_layer, lay.skip, lay.skip - 1).sum())
        owners = len(set(int(u) for u in lay.units[is_layer]))
        cfg = self.n_units * (fields + 1) + int(lay.own_cfg.sum())
        w = int(lay.own_w.sum()) + _SEARCH * len(self.space.layers) * owners
        return cfg, w

    def active_cycles(self, mapping: "Mapping | Layout") -> int:
        """The cycles some unit's engine runs per inference: the layer descriptors' runs (a split
        layer's shares each run their own groups); ``mapping`` may be its layout already."""
        lay = mapping if isinstance(mapping, Layout) else self.layout(mapping)
        return int(lay.run[lay.layer_of >= 0].sum())

    def clocked_cycles(self, mapping: "Mapping | Layout") -> int:
        """The cycles after which some engine gets a clock edge per inference (``ENGINE_CLOCKS``
        per input: each layer descriptor's :func:`rtlgen.accel.schedule.engine_clocks`; where
        the layers go does not change it, a split does); ``mapping`` may be its layout."""
        lay = mapping if isinstance(mapping, Layout) else self.layout(mapping)
        return int(lay.clocks.sum())

    def evaluate(self, mapping: Mapping) -> Cycles:
        """``mapping``'s cycles per inference, latency and busy cycles per unit."""
        lay = self.layout(mapping)
        units, prepare, skip = lay.units, lay.prepare, lay.skip
        own = np.bincount(units, weights=prepare + lay.run, minlength=self.n_units)
        walked = np.bincount(units, weights=skip, minlength=self.n_units)
        n_layers = len(self.space.layers)
        owned = np.bincount(units[lay.layer_of >= 0], minlength=self.n_units)
        search = np.where(owned > 0, _SEARCH * (n_layers - owned), 0)
        busy = (own + (skip.sum() - walked) + 1 + search).astype(np.int64)
        latency = self._walk(lay, 1, 1)[1] + _END
        k = 2 * self.n_units + 2
        bars = self._walk(lay, k, k)[0]
        last = int(lay.first[-1])
        done = [0] * k
        for b in bars:
            if b.position >= last and b.phase == "run":
                done[b.input] = max(done[b.input], b.end)
        return Cycles(per_inference=int(done[-1] - done[-2]), latency=int(latency),
                      busy=tuple(int(b) for b in busy))

    def _walk(self, lay: "Layout", inputs: int, slots: int) -> tuple[list[Bar], int]:
        """The event rules, walker by walker (each waits only on earlier descriptors, so taking
        the walkers in turns until every descriptor is decided is enough); also when the last
        walker is done. A descriptor waits for the descriptors before its layer's first share
        (the shares of a split layer start together), the first of an input for every
        descriptor of the input ``slots`` before it."""
        units, prepare, skip = lay.units, lay.prepare, lay.skip
        n_desc = len(units)
        ends: dict[tuple[int, int], int] = {}
        bars: list[Bar] = []
        state = [[self.header, 0, 0] for _ in range(self.n_units)]     # time, input, descriptor
        wr = [0] * self.n_units         # each walker's record search starts after its last record found
        n_rec = len(self.space.layers)
        # the descriptors a descriptor waits for: those of the group (a layer's shares, or one
        # descriptor) before its own, and for an input's first group the input's last group
        first = [int(f) for f in lay.first]
        before = [range(first[f - 1], f) if f else range(first[-1], n_desc) for f in first]
        live = set(range(self.n_units))
        last = 0
        while live:
            for u in sorted(live):
                st = state[u]
                while True:
                    t, n, d = st
                    if d == n_desc:
                        if n == inputs - 1:
                            live.discard(u)
                            last = max(last, t)
                            break
                        st[:] = [t + 1, n + 1, 0]
                        continue
                    if units[d] != u:
                        st[:] = [t + int(skip[d]), n, d + 1]
                        continue
                    if first[d]:
                        got = [ends.get((n, j)) for j in before[d]]
                    elif n >= slots:
                        got = [ends.get((n - slots, j)) for j in before[d]]
                    else:
                        got = [self.header]
                    if None in got:
                        break
                    dep = max(got)       # type: ignore[type-var]
                    p = int(prepare[d])
                    li = int(lay.layer_of[d])
                    if li >= 0:                 # records in layer order; prepare counts one look
                        p += _SEARCH * ((li - wr[u]) % n_rec)
                        wr[u] = (li + 1) % n_rec
                    go = max(t + p, dep)
                    end = go + int(lay.run[d])
                    ends[(n, d)] = end
                    bars.append(Bar(n, d, lay.keys[d], u, "prepare", t, t + p))
                    bars.append(Bar(n, d, lay.keys[d], u, "run", go, end))
                    st[:] = [end, n, d + 1]
        return bars, last

    def run_cycles(self, mapping: Mapping, inputs: int = 1, slots: int | None = None) -> int:
        """``RUN_CYCLES`` of ``inputs`` inputs in one ``START`` with ``slots`` activation slots
        (default one per input): when the last walker is done (module docstring)."""
        return self._walk(self.layout(mapping), inputs, inputs if slots is None else max(1, slots))[1] + _END

    def schedule(self, mapping: Mapping, inputs: int = 2, slots: int | None = None) -> tuple[Bar, ...]:
        """Every descriptor's prepare and run for ``inputs`` consecutive inputs under the event
        rules (module docstring) with ``slots`` activation slots (default: one per input), in
        the order they are decided."""
        if inputs < 1:
            raise ValueError(f"inputs must be at least 1, not {inputs}")
        return tuple(self._walk(self.layout(mapping), inputs, inputs if slots is None else max(1, slots))[0])

    def fingerprint(self) -> str:
        """Identity of the model's costs (a search's checkpoint records it)."""
        h = hashlib.sha256()
        h.update(repr((self.lanes, self.n_units, self.header, self.keys)).encode())
        for a in (self.owner, self.prepare, self.skip, self.run):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        return h.hexdigest()[:16]
