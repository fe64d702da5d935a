"""How many cycles a network takes on the device: ``RUN_CYCLES`` from the two images, exactly.

:func:`network_cycles` reads ``config.bin`` and ``weights.bin`` (through their decoders,
:mod:`rtlgen.bitstream.format` and :mod:`rtlgen.bitstream.weights`) and counts, state by state,
the cycles the on-chip sequencer (:mod:`rtlgen.accel.sequencer`) spends from ``CTRL.START`` to
``NET_DONE``: what the device reports as ``RUN_CYCLES``. Every term below is read off the RTL
(the sequencer's FSM, the layer engine's controller and epilogue in :mod:`rtlgen.accel.top`, the
vector unit's schedules in :mod:`rtlgen.accel.vector`), none is fitted.

Counting rule. ``RUN_CYCLES`` counts every cycle the sequencer is busy: from the first cycle
after the accepted ``START`` (state ``ACCEL_HASH``) to the cycle that raises ``NET_DONE`` (or an
error) inclusive. A field of ``n`` bytes read from either memory takes ``n + 1`` cycles (one
address per cycle, the data a cycle later; the last byte's cycle moves on). A state that only
tests a counter takes 1.

Header (``header``)::

    2 (accelerator hash length) + 2 (model hash length) + 2 (U)
    + per unit: 2 (its slot count) + 5 per slot (3: flags and hash length, 2: name length) + 1
    + 1 (no unit left) + 3 (descriptor count) + 3 (weights.bin's record count)
    = 13 + 3*U + 5*slots

the hashes and names themselves are skipped (the cursor jumps), so their lengths cost nothing.

Layer descriptor (conv2d, depthwise_conv2d, fully_connected), phases in the order they run:

* ``fields``: index..granularity 7, a share's channel range (``co_first``, ``co_end``) 5,
  geometry 25, bases 9, zero points and clamps 11, first select 2, remap count 2, 2 per remap
  + 1, the depth-multiplier check 1: ``58 + 2*remaps``, ``+ 5`` for a share (the per-channel
  pairs, the selects and the remap codes are skipped: read later where needed);
* ``search``: 4 per ``weights.bin`` record looked at: records are searched from the one after
  the last found, wrapping around, so images that list the layers in the same order (as
  :func:`rtlgen.accel.images.build_images` writes them) cost 4;
* ``record``: the 24-byte record, 25;
* ``copy``: for ``B = groups*K*L`` section bytes (``K = kh*kw*cin``, ``cin = in_c`` or 1 for a
  depthwise layer; ``groups`` those of the descriptor's channel range ``[co_first, co_end)``:
  the whole layer's ``ceil(out_c/L)``, the record's bytes, unless it is a share: its bytes
  from ``co_first*K`` to the end of its last group, ``ceil(co_end/L)*L*K``): without remaps a
  streamed byte per cycle, ``B + 3`` (two cycles of pipeline drain, one to move on); with
  remaps, per byte 3 (address, data, lane) plus 1 when the byte is remapped (a real output
  channel, ``co < co_end``, whose select names a slot with a remap: read its code), plus 1 per
  word of ``L`` bytes (its write) and 1 to move on;
* ``params``: per output channel of the range the bias (4 bytes from weights.bin, 5) and the
  (multiplier, shift) pair (5 bytes from config.bin, 6): ``11*(co_end - co_first)``
  (``11*out_c`` for the whole layer);
* ``registers``: the descriptor registers (:data:`rtlgen.accel.descriptor.FIELDS`), 26, and
  28 for a share (it writes ``co_first`` and ``co_end`` too; the engine clears both after
  each run, so a whole layer need not);
* ``start``: 1 (the engine's ``start``);
* ``engine``: the engine's busy cycles (its ``cycles`` output, :func:`engine_cycles` over the
  channel range);
* ``done``: 1 (the cycle that sees the engine's ``done``).

Op descriptor (ADD, AVERAGE_POOL_2D, MAX_POOL_2D, PAD):

* ``fields``: index, kind and the next 3 bytes 7 (read as a layer's), then ADD: bases and count 17, the two inputs 10 each, the output
  11, the clamp 3 (58); a pool: bases 9, geometry 25, clamp 3 (44); PAD: bases 9, geometry 25,
  value 2 (43);
* ``start``: 1; ``vector``: the vector unit's busy cycles (:func:`vector_cycles`); ``done``: 1.

The end: 1 (the cycle that finds no descriptor left and raises ``NET_DONE``).

Layer engine (:func:`engine_cycles`). A pixel's ``K`` products issue one per cycle; its last one
waits until the previous pixel's last is 3 cycles back and the drain of the previous results
(``D`` = ``L`` lanes, 1 for a depthwise pixel) is at most 3 cycles from its end, so with ``P``
pixels (``groups*out_h*out_w``; a depthwise layer ``out_c*out_h*out_w``; for a share, the
groups and channels of its range ``[co_first, co_end)``: ``groups = ceil(co_end/L) -
co_first/L``, ``(co_end - co_first)*out_h*out_w``) the last product
issues at cycle ``t = K - 1 + (P - 1)*max(K, D, 3)``. Its result is captured at ``t + 2``, the
drain runs ``t + 3 .. t + 2 + D``, the last real channel's result (``n`` = the real channels of
the last group, 1 for depthwise) enters the 4-stage requantizer at ``t + 3 + n`` and leaves it
4 cycles later; the engine goes idle in the first cycle with all of these done::

    engine = t + 1 + max(3 + D, 8 + n)

(``groups*out_h*out_w*K + L + 8`` for a convolution with ``K >= L`` and full groups: the
top's ``L + 8``.)

Vector unit (:func:`vector_cycles`): ADD of ``count`` elements ``3*count + 10`` (an element
every 3 cycles; the last one's three requantizer passes and write 10 cycles after its read); a
pool per output byte (``out_h*out_w*in_c`` of them) ``k_h*k_w + 3`` (max; PAD is a 1x1 max)
or ``k_h*k_w + 28`` (average: rounding 1, the divider 24).

Stops. A run that stops with an error (``NO_ACTIVATION_PLAN``, ``UNSUPPORTED_LAYER``,
``NO_LAYER_WEIGHTS``; the sequencer's own checks) is modelled too: ``RUN_CYCLES`` then counts to
the cycle that raises ``ERROR``, and the failing descriptor's phases end there
(:attr:`NetworkCycles.stop`).

Data dependence. None on activations or weights: the engine, the vector unit and the streamed
copy have fixed schedules. What varies with the images is read from them: where a descriptor's
record is in ``weights.bin`` (the search) and, for a layer with weight remaps, which section
bytes belong to a remapped slot (from the selects), so the count is exact for any pair of
images the sequencer accepts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import FIELDS, WHOLE_LAYER_FIELDS
from rtlgen.accel.regmap import ErrorCode
from rtlgen.accel.requant import LATENCY as _REQUANT_LATENCY
from rtlgen.bitstream import format as bsmod
from rtlgen.bitstream import weights as wmod
from rtlgen.errors import BitstreamError
from rtlgen.nn.geometry import Geometry

__all__ = ["DescriptorCycles", "NetworkCycles", "network_cycles", "engine_cycles", "vector_cycles", "vector_reads",
           "pool_reads", "Run",
           "BatchCycles", "batch_cycles", "copy_reads", "walker_reads", "engine_clocks",
           "header_cycles", "LAYER_PHASES", "OP_PHASES"]

#: Phases of a layer descriptor and of an op descriptor, in the order the sequencer runs them.
LAYER_PHASES = ("fields", "search", "record", "copy", "params", "registers", "start", "engine", "done")
OP_PHASES = ("fields", "start", "vector", "done")

# cycles of the sequencer's states (module docstring): a field of n bytes takes n + 1
_RECORD = 6 + 1                         # index, kind, unit, encoding, granularity
_RANGE = 4 + 1                          # a share's co_first, co_end
_GEOMETRY = 24 + 1
_BASES = 8 + 1
_LAYER_FIELDS = _RECORD + _GEOMETRY + _BASES + (10 + 1) + (1 + 1) + (1 + 1) + 1 + 1   # + 2 per remap
_OP_FIELDS = {"add": _RECORD + (16 + 1) + 2 * (9 + 1) + (10 + 1) + (2 + 1),
              "average_pool_2d": _RECORD + _BASES + _GEOMETRY + (2 + 1),
              "max_pool_2d": _RECORD + _BASES + _GEOMETRY + (2 + 1),
              "pad": _RECORD + _BASES + _GEOMETRY + (1 + 1)}
_ADD_BASES = 16 + 1
_SEARCH_LOOK = 3 + 1                    # a record's index and kind
_WEIGHTS_RECORD = wmod.RECORD_SIZE + 1
_PARAM = (4 + 1) + (5 + 1)              # bias from weights.bin, (multiplier, shift) from config.bin
_DIVIDER = 24                           # the vector unit's restoring divider (rtlgen.accel.vector)


@dataclass(frozen=True)
class DescriptorCycles:
    """One descriptor's cycles: ``position`` in config.bin's order (0-based, layer and op
    descriptors together), its ``key`` (``"3"``, ``"fc:0"``, ``"add:1"``), ``kind``, byte
    ``offset`` in config.bin, and ``phases``: ``(name, cycles)`` in the order they run
    (:data:`LAYER_PHASES` or :data:`OP_PHASES`; fewer where the run stops); ``unit``: the
    compute unit a layer descriptor selects (None for the vector unit's ops)."""

    position: int
    key: str
    kind: str
    offset: int
    phases: tuple[tuple[str, int], ...]
    unit: int | None = None

    @property
    def total(self) -> int:
        return sum(c for _, c in self.phases)

    def phase(self, name: str) -> int:
        """The cycles of phase ``name`` (0 for a phase this descriptor has not run)."""
        return dict(self.phases).get(name, 0)


@dataclass(frozen=True)
class NetworkCycles:
    """A run's cycles: ``header``, ``descriptors`` (those the sequencer started, in order),
    ``end`` (1: the cycle raising ``NET_DONE``; 0 when the run stops) and ``stop``: ``None``,
    or ``(error code, config.bin byte offset)`` as ``ERROR_CODE``/``ERROR_OFFSET`` report."""

    header: int
    descriptors: tuple[DescriptorCycles, ...]
    end: int
    stop: tuple[ErrorCode, int] | None = None

    @property
    def total(self) -> int:
        """``RUN_CYCLES`` as the device reports it."""
        return self.header + sum(d.total for d in self.descriptors) + self.end

    @property
    def layers_done(self) -> int:
        """``LAYERS_DONE``: the descriptors run to their end."""
        return len(self.descriptors) - (self.stop is not None)

    def table(self) -> str:
        """One line per descriptor: position, key, offset, total and its phases."""
        lines = [f"header {self.header}"]
        for d in self.descriptors:
            lines.append(f"#{d.position} {d.key} @{d.offset}: {d.total} = "
                         + " + ".join(f"{name} {c}" for name, c in d.phases))
        lines.append(f"end {self.end}" + (f"; stopped: {self.stop[0].name} at offset {self.stop[1]}"
                                          if self.stop else "") + f"; total {self.total}")
        return "\n".join(lines)


def header_cycles(units: tuple[tuple[object, ...], ...]) -> int:
    """The header's walk for ``units`` (config.bin's banks): ``13 + 3*U + 5*slots``."""
    return 13 + 3 * len(units) + 5 * sum(len(bank) for bank in units)


def engine_cycles(geometry: Geometry, lanes: int, *, depthwise: bool = False, co_first: int = 0,
                  co_end: int | None = None) -> int:
    """The layer engine's busy cycles (its ``cycles`` output, from ``start`` to ``done``) for one
    layer on ``lanes`` lanes; ``depthwise``: the engine's depthwise mode (module docstring);
    ``co_first``, ``co_end``: the output channels run (a share of a split layer; ``co_first`` a
    multiple of ``lanes``), by default the whole layer."""
    g = geometry
    co_end = g.out_c if co_end is None else co_end
    if co_first % lanes or not 0 <= co_first <= co_end <= g.out_c or co_first == co_end > 0:
        raise BitstreamError(f"channel range [{co_first}, {co_end}) of a layer with {g.out_c} output channels: "
                             f"the engine runs a nonempty part starting at a multiple of {lanes} lanes")
    k = g.k_h * g.k_w * (1 if depthwise else g.in_c)
    if depthwise:
        pixels, drain, last_real = (co_end - co_first) * g.out_h * g.out_w, 1, 1
    else:
        groups = -(-co_end // lanes) - co_first // lanes
        pixels, drain, last_real = groups * g.out_h * g.out_w, lanes, co_end - co_first - (groups - 1) * lanes
    if k < 1 or pixels < 1:
        raise BitstreamError(f"a layer with geometry {g} has {pixels} output pixels of {k} products; "
                             "the engine needs at least one of each")
    last_issue = k - 1 + (pixels - 1) * max(k, drain, 3)
    return last_issue + 1 + max(3 + drain, 2 * _REQUANT_LATENCY + last_real)


def vector_cycles(op: bsmod.OpDescriptor) -> int:
    """The vector unit's busy cycles for one op descriptor (module docstring)."""
    if isinstance(op, bsmod.AddDescriptor):
        return 3 * op.count + 10
    g = op.geometry
    per_byte = g.k_h * g.k_w + 3 + (1 + _DIVIDER if op.kind == "average_pool_2d" else 0)
    return g.out_h * g.out_w * g.in_c * per_byte


def pool_reads(geometry: Geometry) -> int:
    """The bytes a pool or PAD of ``geometry`` reads: its taps inside the input (the vector unit's
    ``act_re``, :mod:`rtlgen.accel.vector`). Taps inside = rows inside times columns inside, so
    the sum over the output factors into one over rows and one over columns."""
    g = geometry

    def inside(out: int, k: int, stride: int, pad: int, size: int) -> int:
        return sum(max(0, min(o * stride - pad + k, size) - max(o * stride - pad, 0)) for o in range(out))

    return (inside(g.out_h, g.k_h, g.stride_h, g.pad_top, g.in_h)
            * inside(g.out_w, g.k_w, g.stride_w, g.pad_left, g.in_w) * g.in_c)


def vector_reads(op: bsmod.OpDescriptor) -> int:
    """The activation bytes the vector unit reads for one op descriptor: two per ADD element, a
    pool's or PAD's taps inside the input (:func:`pool_reads`)."""
    if isinstance(op, bsmod.AddDescriptor):
        return 2 * op.count
    return pool_reads(op.geometry)


def _copied_bytes(layer: bsmod.LayerDescriptor, record_bytes: int, lanes: int) -> int:
    """The section bytes a descriptor copies, as the walker counts them: the record's
    ``record_bytes`` for the whole layer; a share's from byte ``co_first*K`` (group
    ``co_first/L``) to the end of its last group (``ceil(co_end/L)*L*K``) or of the section,
    whichever comes first: the range's ``groups*K*L`` bytes."""
    if not layer.is_share:
        return record_bytes
    g = layer.geometry
    k = g.k_h * g.k_w * (1 if layer.kind == "depthwise_conv2d" else g.in_c)
    first, last = layer.co_first * k, -(-layer.co_end // lanes) * lanes * k
    return (min(record_bytes, last) if first <= record_bytes else last) - first


def _copy_cycles(layer: bsmod.LayerDescriptor, section_bytes: int, lanes: int) -> int:
    """The weight copy of ``section_bytes`` bytes (the descriptor's channel range's groups) into
    the weight memory (module docstring)."""
    if not layer.weight_remap:
        return section_bytes + 3
    g = layer.geometry
    cin = 1 if layer.kind == "depthwise_conv2d" else g.in_c
    k = g.k_h * g.k_w * cin
    # the copy's counters per section byte: lane, word, kernel position; co and ci as the RTL forms them
    b = np.arange(section_bytes, dtype=np.int64)
    word = b // lanes
    co = layer.co_first + (word // k) * lanes + b % lanes
    ci = (word % k) % cin
    real = co < layer.co_end
    sel = np.asarray(layer.selects, dtype=np.int64)
    if layer.granularity == "layer":
        slot = np.full(section_bytes, sel[0])
    elif layer.granularity == "filter":
        slot = sel[np.where(real, co, 0)]
    else:
        slot = sel[np.where(real, co * cin + ci, 0)]
    remapped = real & np.isin(slot, [r.slot for r in layer.weight_remap])
    return 3 * section_bytes + int(remapped.sum()) + section_bytes // lanes + 1


def copy_reads(layer: bsmod.LayerDescriptor, section_bytes: int, lanes: int) -> tuple[int, int]:
    """The weight copy's reads of (the configuration memory, the weights store): the streamed
    copy's every cycle reads both (a byte and its select), ``B + 3``; with remaps the address
    state reads both (``B + 1``: each byte and the last test), the data state the select
    (``B``), the remap state the remapped code (``R``)."""
    if not layer.weight_remap:
        return section_bytes + 3, section_bytes + 3
    extra = _copy_cycles(layer, section_bytes, lanes) - (3 * section_bytes + section_bytes // lanes + 1)
    return 2 * section_bytes + extra + 1, section_bytes + 1


def engine_clocks(kind: str, geometry: Geometry, lanes: int, *, copied_bytes: int, co_first: int = 0,
                  co_end: int | None = None) -> int:
    """The cycles after which the engine running a layer descriptor gets a clock edge
    (:mod:`rtlgen.accel.sequencer`, "Engine clocks"): its walker's writes (a weight word per
    ``lanes`` of the ``copied_bytes`` section bytes, a parameter word per channel, the registers,
    the start) and the engine's run. ``co_first``/``co_end``: a share's output channels (default
    the whole layer)."""
    g = geometry
    end = g.out_c if co_end is None else co_end
    share = (co_first, end) != (0, g.out_c)
    run = engine_cycles(g, lanes, depthwise=kind == "depthwise_conv2d", co_first=co_first, co_end=end)
    return copied_bytes // lanes + (end - co_first) + (len(FIELDS) if share else WHOLE_LAYER_FIELDS) + 1 + run


def walker_reads(bs: bsmod.Bitstream, units: int, lanes: int) -> tuple[int, int]:
    """The walkers' reads of (the configuration memory, the weights store) per input in the steady
    state of a long batch on ``units`` units (:func:`batch_cycles`' ``config_reads`` and
    ``weights_reads`` grow by these with each more input; the header, read once per ``START``,
    is left out): every walker reads every descriptor's fields and one cycle at the input's end;
    a layer's owner its copy (:func:`copy_reads`, the whole section or a share's groups, without
    weights.bin: its section is ``ceil(out_c/L)*K*L`` bytes) and its parameters; and each walker
    that owns a layer descriptor looks at every ``weights.bin`` record once per input (the search
    wraps around, 4 cycles a look; one record per layer)."""
    cfg = w = 0
    owners = set()
    for d in bs.descriptors():
        if isinstance(d, bsmod.LayerDescriptor):
            g = d.geometry
            k = g.k_h * g.k_w * (1 if d.kind == "depthwise_conv2d" else g.in_c)
            c_cfg, c_w = copy_reads(d, _copied_bytes(d, -(-g.out_c // lanes) * lanes * k, lanes), lanes)
            channels = d.co_end - d.co_first
            cfg += units * _layer_fields(d) + c_cfg + 6 * channels
            w += _WEIGHTS_RECORD + c_w + 5 * channels
            owners.add(d.unit if d.unit < units else 0)
        else:
            cfg += units * _OP_FIELDS[d.kind]
    records = len({d.key for d in bs.layers})
    return cfg + units, w + _SEARCH_LOOK * records * len(owners)


def _descriptor_size(d: bsmod.LayerDescriptor | bsmod.OpDescriptor) -> int:
    if isinstance(d, bsmod.LayerDescriptor):
        return (6 + 4 * d.is_share + 24 + bsmod.PLAN_LAYER_SIZE + 10 + 5 * d.geometry.out_c + len(d.selects) + 1
                + 257 * len(d.weight_remap))
    return bsmod.OP_DESCRIPTOR_SIZE[d.kind]


def _layer_fields(d: bsmod.LayerDescriptor) -> int:
    """A layer descriptor's ``fields`` phase (module docstring)."""
    return _LAYER_FIELDS + 2 * len(d.weight_remap) + _RANGE * d.is_share


def _layer_phases(d: bsmod.LayerDescriptor, record_bytes: int, lanes: int) -> list[tuple[str, int]]:
    """A layer descriptor's phases after its record search (``record_bytes``: its record's weight
    section): record, copy, params, registers, start, engine, done (module docstring)."""
    g = d.geometry
    return [("record", _WEIGHTS_RECORD), ("copy", _copy_cycles(d, _copied_bytes(d, record_bytes, lanes), lanes)),
            ("params", _PARAM * (d.co_end - d.co_first)),
            ("registers", len(FIELDS) if d.is_share else WHOLE_LAYER_FIELDS), ("start", 1),
            ("engine", engine_cycles(g, lanes, depthwise=d.kind == "depthwise_conv2d", co_first=d.co_first,
                                     co_end=d.co_end)), ("done", 1)]


def network_cycles(config_bin: bytes, weights_bin: bytes, config: AccelConfig) -> NetworkCycles:
    """``RUN_CYCLES`` of one ``START`` of the device ``config`` holding these two images, with
    its breakdown (module docstring). Raises :class:`BitstreamError` for images the device's
    loader refuses that this model can tell (a config.bin not in the current format version, a
    weights.bin laid out for other lanes)."""
    bs = bsmod.decode(config_bin)
    img = wmod.decode(weights_bin)
    if bs.version != bsmod.VERSION:
        raise BitstreamError(f"config.bin is format version {bs.version}; the device runs version {bsmod.VERSION}")
    lanes = config.lanes
    if img.lanes != lanes:
        raise BitstreamError(f"weights.bin is laid out for {img.lanes} lanes; the accelerator has {lanes} "
                             "(the device refuses it: LANES_MISMATCH)")
    records = [(w.index, w.kind) for w in img.layers]
    # where the descriptors start: the header's bytes, as bitstream.format lays them out
    offset = (bsmod.HEADER_SIZE + 1 + len(bs.accel_hash.encode()) + 1 + len(bs.model_hash.encode())
              + bsmod.PLAN_HEADER_SIZE + 1
              + sum(1 + sum(3 + len(m.hash.encode()) + len(m.name.encode()) for m in bank) for bank in bs.units)
              + 2)
    out: list[DescriptorCycles] = []
    wr = 0                                      # the record search's start (the RTL's wr)
    for position, d in enumerate(bs.descriptors()):
        kind = d.kind
        unit = d.unit if isinstance(d, bsmod.LayerDescriptor) else None

        def stopped(phases: list[tuple[str, int]], code: ErrorCode) -> NetworkCycles:
            out.append(DescriptorCycles(position, d.key, kind, offset, tuple(phases), unit))
            return NetworkCycles(header_cycles(bs.units), tuple(out), 0, (code, offset))

        if not isinstance(d, bsmod.LayerDescriptor):
            if d.in_base == d.out_base:         # checked as the bases arrive
                return stopped([("fields", _RECORD + (_ADD_BASES if kind == "add" else _BASES))],
                               ErrorCode.NO_ACTIVATION_PLAN)
            phases = [("fields", _OP_FIELDS[kind]), ("start", 1), ("vector", vector_cycles(d)), ("done", 1)]
        else:
            if d.in_base == d.out_base:
                return stopped([("fields", _RECORD + _RANGE * d.is_share + _GEOMETRY + _BASES)],
                               ErrorCode.NO_ACTIVATION_PLAN)
            fields = _layer_fields(d)
            g = d.geometry
            if kind == "depthwise_conv2d" and g.in_c != g.out_c:
                return stopped([("fields", fields)], ErrorCode.UNSUPPORTED_LAYER)
            looks = next((n + 1 for n in range(len(records)) if records[(wr + n) % len(records)] == (d.index, kind)),
                         None)
            if looks is None:                   # every record looked at, then one cycle to fail
                return stopped([("fields", fields), ("search", _SEARCH_LOOK * len(records) + 1)],
                               ErrorCode.NO_LAYER_WEIGHTS)
            found = (wr + looks - 1) % len(records)
            wr = (found + 1) % len(records)
            phases = [("fields", fields), ("search", _SEARCH_LOOK * looks),
                      *_layer_phases(d, img.layers[found].weight_bytes(lanes), lanes)]
        out.append(DescriptorCycles(position, d.key, kind, offset, tuple(phases), unit))
        offset += _descriptor_size(d)
    return NetworkCycles(header_cycles(bs.units), tuple(out), 1)


def slots_that_fit(activation_bytes: int, span: int, most: int = 16) -> int:
    """Activation slots (inputs in flight, :mod:`rtlgen.accel.sequencer`) for a plan of ``span``
    bytes in ``activation_bytes``: as many as fit, at least 1, at most ``most`` (the device's
    16 by default)."""
    return max(1, min(most, activation_bytes // max(1, span)))


@dataclass(frozen=True)
class Run:
    """One descriptor of one input in a batch: the cycles (counted as ``RUN_CYCLES`` counts,
    from 1) of its ``start`` (the engine's or vector unit's start) and of its ``end`` (the
    walker sees it done), on ``unit``."""

    input: int
    position: int
    key: str
    kind: str
    unit: int
    start: int
    end: int


@dataclass(frozen=True)
class BatchCycles:
    """A batch's schedule on the device with ``units`` concurrent units: ``total`` is
    ``RUN_CYCLES`` (from ``START`` to the last input's output and ``NET_DONE``), ``runs`` every
    descriptor of every input (:class:`Run`, in start order), ``outputs`` the cycle each input's
    output is done."""

    units: int
    batch: int
    slots: int
    total: int
    runs: tuple[Run, ...]
    outputs: tuple[int, ...]
    #: the walkers' reads of the configuration memory and of the weights store over the run
    #: (``CONFIG_READS``, ``WEIGHTS_READS``: the cycles their read enables are high)
    config_reads: int = 0
    weights_reads: int = 0
    #: the cycles after which an engine got a clock edge (``ENGINE_CLOCKS``, every engine's
    #: together): per layer descriptor run, :func:`engine_clocks`
    engine_clocks: int = 0

    @property
    def interval(self) -> float:
        """Cycles between consecutive outputs at the end of the batch: the steady-state cycles per
        inference (the whole run's for a batch of one)."""
        if self.batch < 2:
            return float(self.total)
        return float(self.outputs[-1] - self.outputs[-2])

    def busy(self, unit: int) -> int:
        """Cycles unit ``unit``'s engine or vector unit is running over the batch."""
        return sum(r.end - r.start + 1 for r in self.runs if r.unit == unit)


def batch_cycles(config_bin: bytes, weights_bin: bytes, config: AccelConfig, *, batch: int = 1,
                 slots: int | None = None) -> BatchCycles:
    """The device's schedule for ``batch`` inputs run in one ``START`` with ``slots`` activation
    slots (default: one per input, at most 16): one walker per compute unit (the sequencer's
    module docstring), each walking every descriptor of config.bin for input after input and
    running its unit's. A walker's cycles are those of :func:`network_cycles` for its own
    descriptors (the record search goes on from where that walker's last one ended, across
    inputs), ``fields`` for a layer descriptor of another unit (a share's included: ``+ 5``) and
    ``fields + 1`` for an op descriptor of another unit, and 1 per input change; its ``start``
    waits until every descriptor of the input before the first share of its layer (before
    itself, for a descriptor that is no share) is done, the cycle after the last of them ends,
    so the shares of a split layer may start together and end in any order; for a descriptor
    with nothing before it (the input's first, and its layer's other shares) beyond the first
    ``slots`` inputs, it waits until every descriptor of the input ``slots`` before it is done
    (the host then places the input: this model takes a host that does so at once, so with
    fewer slots than inputs it is a lower bound; with a slot per input it is exact). An input's
    output is done when the last of its descriptors ends (``outputs``). ``RUN_CYCLES`` is the
    last cycle any walker is busy. Images the device stops on are a
    :class:`BitstreamError` (their cycles: :func:`network_cycles`)."""
    single = network_cycles(config_bin, weights_bin, config)
    if single.stop is not None:
        raise BitstreamError(f"the device stops on these images ({single.stop[0].name} at config.bin byte "
                             f"{single.stop[1]}); their cycles are network_cycles'")
    if batch < 1:
        raise ValueError(f"a batch has at least one input, not {batch}")
    n_slots = min(batch, 16) if slots is None else max(1, min(slots, 16))
    bs = bsmod.decode(config_bin)
    img = wmod.decode(weights_bin)
    lanes, n_units = config.lanes, config.units
    records = [(w.index, w.kind) for w in img.layers]
    descs = bs.descriptors()
    # per descriptor: owner, the cycles before its start for its owner (without the search),
    # the cycles a walker of another unit spends on it, its busy cycles
    # and wait: the position of the first share of its layer (its own for any other descriptor):
    # it starts once every descriptor before that one is done
    owner, fixed, skip, busy, looks_key, wait = [], [], [], [], [], []
    # reads (the sequencer's docstring, "Reads"): every walker reads each descriptor's fields
    # from the configuration memory; the owner of a layer also its copy's and its parameters'
    # (own_cfg, own_w, besides the record search's looks)
    fields_all, own_cfg, own_w = 0, [], []
    clocks: list[int] = []                     # per descriptor: its engine's clocked cycles
    lu = 0
    for i, d in enumerate(descs):
        if isinstance(d, bsmod.LayerDescriptor):
            lu = d.unit if d.unit < n_units else 0
            owner.append(lu)
            fields = _layer_fields(d)
            found = records.index((d.index, d.kind))
            phases = dict(_layer_phases(d, img.layers[found].weight_bytes(lanes), lanes))
            fixed.append(fields + sum(phases[p] for p in ("record", "copy", "params", "registers")))
            skip.append(fields)
            busy.append(phases["engine"])
            looks_key.append((d.index, d.kind))
            wait.append(wait[-1] if d.co_first > 0 and i > 0 else i)
            c_cfg, c_w = copy_reads(d, _copied_bytes(d, img.layers[found].weight_bytes(lanes), lanes), lanes)
            channels = d.co_end - d.co_first
            own_cfg.append(c_cfg + 6 * channels)
            own_w.append(_WEIGHTS_RECORD + c_w + 5 * channels)
            clocks.append(engine_clocks(d.kind, d.geometry, lanes, co_first=d.co_first, co_end=d.co_end,
                                        copied_bytes=_copied_bytes(d, img.layers[found].weight_bytes(lanes), lanes)))
        else:
            owner.append(lu)
            fields = _OP_FIELDS[d.kind]
            fixed.append(fields)
            skip.append(fields + 1)
            busy.append(vector_cycles(d))
            looks_key.append(None)
            wait.append(i)
            own_cfg.append(0)
            own_w.append(0)
            clocks.append(0)
        fields_all += fields
    n_desc = len(descs)
    header = header_cycles(bs.units)
    end: dict[tuple[int, int], int] = {}       # (input, descriptor) -> the cycle its walker saw it done
    runs: list[Run] = []
    # walkers advance in turns: each runs until it must wait for a descriptor not yet done
    state = [{"t": header + 1, "n": 0, "i": 0, "wr": 0} for _ in range(n_units)]
    # per walker: the header (all but weights.bin's record count from the configuration memory),
    # every input's fields and its end (one cycle in the state that reads the next descriptor)
    cfg_reads = n_units * (header - 3 + batch * (fields_all + 1))
    eng_clocks = 0
    w_reads = n_units * 3
    finished = [False] * n_units
    last_cycle = [0] * n_units
    if n_desc == 0:
        return BatchCycles(n_units, batch, n_slots, header + batch, (), tuple([0] * batch))
    while not all(finished):
        progressed = False
        for u, st in enumerate(state):
            while not finished[u]:
                n, i, t = st["n"], st["i"], st["t"]
                if i == n_desc:                 # the input's last descriptor passed
                    if n == batch - 1:
                        finished[u], last_cycle[u] = True, t
                    else:
                        st.update(n=n + 1, i=0, t=t + 1)
                    progressed = True
                    continue
                if owner[i] != u:
                    st.update(i=i + 1, t=t + skip[i])
                    progressed = True
                    continue
                # ready: every descriptor of input n before the layer's first share done; the slot free
                if wait[i] > 0:
                    ends = [end.get((n, j)) for j in range(wait[i])]
                elif n >= n_slots:
                    ends = [end.get((n - n_slots, j)) for j in range(n_desc)]
                else:
                    ends = [0]
                if None in ends:
                    break                       # another walker must go first
                dep = max(ends)
                arrive = t + fixed[i]
                if looks_key[i] is not None:
                    k = len(records)
                    looks = next(m + 1 for m in range(k) if records[(st["wr"] + m) % k] == looks_key[i])
                    st["wr"] = (st["wr"] + looks) % k
                    arrive += _SEARCH_LOOK * looks
                    w_reads += _SEARCH_LOOK * looks
                cfg_reads += own_cfg[i]
                w_reads += own_w[i]
                eng_clocks += clocks[i]
                start = max(arrive, dep + 1)
                finish = start + busy[i] + 1
                end[(n, i)] = finish
                runs.append(Run(n, i, descs[i].key, descs[i].kind, u, start, finish))
                st.update(i=i + 1, t=finish + 1)
                progressed = True
        if not progressed:
            raise AssertionError("the walkers wait on each other")   # pragma: no cover - every descriptor has an owner
    outputs = tuple(max(end[(n, i)] for i in range(n_desc)) for n in range(batch))
    return BatchCycles(n_units, batch, n_slots, max(last_cycle), tuple(sorted(runs, key=lambda r: r.start)), outputs,
                       config_reads=cfg_reads, weights_reads=w_reads, engine_clocks=eng_clocks)
