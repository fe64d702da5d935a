"""The on-chip sequencer: runs a whole network from the two stored images, no host between layers,
its compute units at the same time on consecutive inputs.

On an accepted ``CTRL.START`` (:class:`rtlgen.accel.loader.DeviceFrontend`) it walks the
configuration memory, which holds ``config.bin`` bytes 12..N-5 (address = file offset - 12;
layout: :mod:`rtlgen.bitstream.format`, version 5), and, for each layer descriptor, the weights
store, which holds ``weights.bin`` bytes 12..N-5 (layout: :mod:`rtlgen.bitstream.weights`). Op
descriptors (ADD, AVERAGE_POOL_2D, MAX_POOL_2D, PAD) run on a vector unit
(:mod:`rtlgen.accel.vector`).

Concurrent units. The device has one layer engine per compute unit (:mod:`rtlgen.accel.engine`,
each with its unit's multiplier bank and its own weight and parameter memories) and the sequencer
one *walker* per unit, each with its own read ports on both memories, its own vector unit and
its engine's port on the activation memory. Every walker walks all of ``config.bin`` as below,
input after input of the batch, and runs the descriptors its unit owns: a layer descriptor's
``unit`` (one the hardware does not have counts as unit 0), and for an op descriptor the unit
of the nearest layer descriptor before it (unit 0 if none). Another unit's descriptor is walked
over (its fields read, nothing copied or run). An owned descriptor's weights and parameters are
copied into the unit's engine as soon as the walker gets there (while other units compute); it
*starts* only when every earlier descriptor of the same input is done, which a table of
descriptors done per activation slot tells (a descriptor ends in the cycle its walker sees it
done; the next may start the cycle after). So a network whose first layers run on one unit and
the rest on another pipelines consecutive inputs: input n+1's first layers run while input n's
last ones do.

Split layers. A layer split by output channels is a run of consecutive *share* descriptors
(format version 5: the share flag, channel range ``[co_first, co_end)``), each on its own unit.
The shares of one layer start together: a share whose ``co_first`` is not 0 waits, like its
layer's first share, only for the descriptors before that one (its walker's ``wait_i``, the first
share's position; any other descriptor's is its own position), and they end in any order. So the
table holds per slot the input it serves (a tag) and a *count* of that input's descriptors done
(several may end in one cycle): a walker is ready when the tag is its input and the count is at
least ``wait_i`` (the count can pass ``p`` before all of the first ``p`` descriptors are done
only while shares of one layer at ``p`` and after are running, and no descriptor waits for a
position inside a run of shares). When the count reaches the descriptor count, the input's last
descriptor, whichever it is, has ended: ``OUTPUTS_DONE`` counts the input, and the slot passes to
the input ``SLOTS`` later (tag + ``SLOTS``, count 0). For a network without shares this is, cycle
for cycle, a table of "the descriptors done, in order".

Batch (registers ``BATCH``, ``SLOTS``, ``BATCH_STRIDE``, :mod:`rtlgen.accel.regmap`). One
``START`` runs ``BATCH`` inputs; input n uses activation slot ``n mod SLOTS`` (at most
:data:`MAX_SLOTS` slots): every activation address of the plan plus ``slot * BATCH_STRIDE``. The
first ``SLOTS`` inputs are in place at ``START``; input n >= ``SLOTS`` may start once the input
``SLOTS`` before it is done (its slot's table entry passed on to it) and the host has placed it
(``CTRL.POST``, one per further input; the host reads an input's output when ``OUTPUTS_DONE``
counts it, writes the next input into the freed slot through ``ACT_ADDR``/``ACT_DATA``, which
have an activation-memory port of their own, and posts it). ``BATCH`` = ``SLOTS`` = 1 (the reset
values) is one input, as before batches existed.

Walk, in byte order of ``config.bin`` (every field read one byte per cycle, little-endian):

1. header: skip the accelerator-hash ``str8``, the model-hash ``str8`` and the 16 bytes of the
   network's input/output plan (the host uses those to place the input and find the output);
   read U and skip every unit's bank (per slot: flags, hash ``str8``, name ``str8``); read the
   descriptor count (layer and op descriptors);
2. per descriptor ``i``: index, kind and the next 3 bytes (a layer descriptor's granularity
   byte with bit 7, the share flag, set: then its channel range, ``u16 co_first, u16 co_end``,
   one 4-byte field; otherwise the range is ``[0, out_c)``); an op descriptor (kind 3..6) goes
   on with its fields (ADD: bases and count, the two inputs' and the output's requantization,
   the clamp; a pool: bases, geometry, clamp; PAD: bases, geometry, value) into the vector unit, which it starts; it waits
   for its ``done`` (an ``in_base`` equal to ``out_base`` is ``NO_ACTIVATION_PLAN``, as below)
   and goes on with the next descriptor. A layer descriptor: unit, encoding, granularity; the
   geometry; ``in_base`` and
   ``out_base``; the zero points and clamps; then it notes where the per-channel
   (multiplier, shift) pairs and the selects start, reads the first select (the ``layer_sel`` of
   a layer-granularity descriptor) and the weight-remap list (per remap: its slot and where its
   256 codes are);
3. a descriptor whose ``in_base`` equals its ``out_base`` stops the run with
   ``NO_ACTIVATION_PLAN`` at its byte offset (a ``config.bin`` without a plan has 0 for both:
   ``rtlgen bitstream build`` and the mapper make the plan); a ``depthwise_conv2d`` descriptor
   with ``in_c != out_c`` (depth multiplier > 1, which the engine's depthwise mode cannot run)
   stops the run: ``ERROR`` with ``UNSUPPORTED_LAYER`` at the
   descriptor's byte offset in ``config.bin``; otherwise it looks for the ``weights.bin`` record
   of the same layer (index and kind), from the record after the last one found, wrapping
   around (so a ``config.bin`` that lists the layers in the records' order, as
   :func:`rtlgen.accel.images.build_images` writes both, finds each at the first look, and one that
   describes only some layers still runs); none is ``NO_LAYER_WEIGHTS`` at the descriptor's offset;
4. weight copy: the bytes of the record's weight section that hold the channel range's groups
   (``co_first/L .. ceil(co_end/L) - 1``: section bytes ``co_first*K`` up to the end of that
   last group or the section's, whichever comes first; the whole section for a whole layer), byte by
   byte, into the weight memory from word 0 (``w_base`` = 0): section byte ``(gr*K + k)*L + l``
   is lane ``l`` of word ``gr*K + k - co_first*K/L``, output channel ``co = gr*L + l``, input
   channel ``ci = k mod cin`` (``cin`` = ``in_c``, or 1 for a depthwise layer, whose
   ``K = kh*kw``). The lane's select field is the
   descriptor's select of (co, ci): ``selects[0]`` (layer), ``selects[co]`` (filter) or
   ``selects[co*cin + ci]`` (kernel); 0 on lanes beyond ``co_end``. When that slot has a weight
   remap, the byte is replaced by ``codes[byte]`` (the remap of the slot that multiplies the
   weight, before the operand encoding, as ``config.bin`` defines). A word is written when its
   L lanes are in. A descriptor without remaps streams the section (a byte per cycle, the
   weights store and the configuration memory read in parallel); one with remaps takes a byte
   at a time (section byte, select, then the remap's code: three reads in a row);
5. parameters: per output channel ``co`` of the range the bias (int32 from the record's bias
   section) and the (multiplier, shift) pair of the descriptor, one parameter-memory word at
   ``co`` (``p_base`` = 0; layout :func:`rtlgen.accel.descriptor.param_image`);
6. the first 26 descriptor registers (:data:`rtlgen.accel.descriptor.FIELDS`), one per cycle, as
   the host ports would write them (``rounding`` single for ``fully_connected``; ``unit`` 0, the
   engine's only bank; ``in_base``/``out_base`` shifted to the input's slot), a share the 2 more
   of its range (``co_first``, ``co_end``: 28 cycles; the engine clears them after each run, so
   the others need not write them), then, once every earlier descriptor of the input is done
   (for a share: every descriptor before its layer's first share), ``start``; it waits for the
   engine's ``done`` and
   goes on with the next descriptor (an owned op descriptor likewise waits before it starts its
   vector unit);
7. after the last one: the next input of the batch (1 cycle; the walk restarts at the first
   descriptor, the record search goes on from where it was), or, after the last input, the
   walker is done; when every walker is done, ``STATUS.NET_DONE``. ``RUN_CYCLES`` holds the
   cycles from ``START`` to the last walker's last cycle, ``LAYERS_DONE`` the descriptors run
   (layer and op descriptors, every input's), ``OUTPUTS_DONE`` the inputs all of whose
   descriptors ended.

Reads. Every walker has its own read port on the configuration memory and on the weights
store, each with a read enable: the weights store's is high in the states that read it
(:data:`WEIGHTS_READ`: the record count, the record search, the record, the weight copy's address
states, the biases), the configuration memory's in every state but those and the waiting ones
(:data:`NO_CONFIG_READ`: ``IDLE``, ``START``, ``WAIT``, ``OP_START``, ``OP_WAIT``, ``FAIL_WAIT``,
``REGISTERS``, and the copy's lane and word states), so a walker waiting for its engine, its
vector unit or the descriptors before it reads nothing (a macro that is not read spends no read
energy: :mod:`rtlgen.accel.memories`). Every read is addressed and its data used within states
of the same port's set, so the data a disabled port holds is never needed. ``CONFIG_READS`` and
``WEIGHTS_READS`` count the enabled cycles of a run, every walker's together;
:func:`rtlgen.accel.schedule.batch_cycles` counts them from the images.

Engine clocks. An engine needs a clock edge only in a cycle in which it runs (``eng_busy``) or
its walker writes it (``eng_start``, a field, a weight word, a parameter word): ``eng_clk_en[u]``
is that, and the device top clocks engine ``u`` only after such a cycle
(:mod:`rtlgen.accel.top`; after its ``done`` an engine's state holds still, so the missing edges
change nothing). ``ENGINE_CLOCKS`` counts the enabled cycles of a run, every engine's together;
:func:`rtlgen.accel.schedule.batch_cycles` counts them from the images.

Stops. A check that fails (``NO_ACTIVATION_PLAN``, ``UNSUPPORTED_LAYER``, ``NO_LAYER_WEIGHTS``)
stops the run once as many of the input's descriptors are done as come before the failing one
(the table's count reaches its position ``cur_i``: for a descriptor that is no share, when its
walker would be ready to start it), so the first failing descriptor in ``config.bin``'s order
reports, whichever walker gets there first: every walker stops, ``ERROR_CODE``/``ERROR_OFFSET``
name the check and the descriptor's offset. The checks read only fields the shares of a layer
have in common (bases, geometry, index and kind), so its shares fail together, and the first
reports: the others wait for a count that shares which never end would have to make up.

Cost: :mod:`rtlgen.accel.schedule` counts the cycles of every state above from the two images,
exactly (``RUN_CYCLES``, per descriptor and phase; its docstring has the formulas;
:func:`rtlgen.accel.schedule.batch_cycles` for several units and inputs). In short, a
field of ``n`` bytes takes ``n + 1`` cycles, and a layer costs ``L`` sequencer cycles per weight
word (the streamed copy, no remaps; about 3 per byte with remaps) against the engine's
``out_h*out_w*max(K, L, 3)/K`` per word: the copy takes as long as the engine for a fully
connected layer (one pixel, ``K >= L``) and a small share of a convolution's cycles.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Array, Cat, Module, Mux, ResetInserter, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import FIELDS, PARAM_BITS, WHOLE_LAYER_FIELDS
from rtlgen.accel.regmap import ErrorCode
from rtlgen.bitstream.format import HEADER_SIZE, PLAN_HEADER_SIZE
from rtlgen.bitstream.weights import HEADER_SIZE as W_HEADER_SIZE
from rtlgen.bitstream.weights import RECORD_SIZE as W_RECORD_SIZE
from rtlgen.accel.vector import OP_ADD, OP_AVG, OP_MAX, OP_PAD, VectorUnit
from rtlgen.conventions import LAYER_KIND_CODES, OP_KIND_CODES

__all__ = ["Sequencer", "MAX_SLOTS", "WEIGHTS_READ", "NO_CONFIG_READ"]

#: The most activation slots (``SLOTS``; more count as this many): inputs in flight at once.
MAX_SLOTS = 16

#: A walker's states that read the weights store (its read enable; ``WEIGHTS_READS``).
WEIGHTS_READ = ("RECORD_COUNT", "FIND_RECORD", "WEIGHTS_RECORD", "COPY_STREAM", "COPY_ADDR", "PARAM_BIAS")
#: A walker's states that do not read the configuration memory (every other state does;
#: ``CONFIG_READS``): waiting, the engine's registers, and the weights store's own states.
NO_CONFIG_READ = ("IDLE", "START", "WAIT", "OP_START", "OP_WAIT", "FAIL_WAIT", "REGISTERS", "RECORD_COUNT",
                  "FIND_RECORD", "WEIGHTS_RECORD", "PARAM_BIAS", "COPY_LANE", "COPY_WORD")
_BUF = 24      # bytes of the field buffer: the largest field read at once (the geometry, a record)
_KIND_DW = LAYER_KIND_CODES["depthwise_conv2d"]
_KIND_FC = LAYER_KIND_CODES["fully_connected"]
_KIND_ADD = OP_KIND_CODES["add"]
_KIND_AVG = OP_KIND_CODES["average_pool_2d"]
_KIND_MAX = OP_KIND_CODES["max_pool_2d"]
_KIND_PAD = OP_KIND_CODES["pad"]


class _Walker(wiring.Component):
    """Unit ``unit_id``'s walker (module docstring): walks config.bin for input ``cur_n`` of
    ``batch``, runs the descriptors its unit owns on its engine (``eng_*``) and vector unit
    (``act_*``) once ``ready`` (every descriptor of the same input before position ``wait_i``
    done: before the descriptor ``cur_i``, or before its layer's first share) and pulses
    ``finish`` as each ends; ``fail`` (with ``fail_code``; the offset is ``fail_offset``) when one
    of its descriptors stops the run, once ``ready_in_order`` (every descriptor before ``cur_i``
    done). ``n_desc``: config.bin's descriptor count."""

    def __init__(self, config: AccelConfig, cfg_bits: int, w_bits: int, unit_id: int):
        self.config = config
        self.unit_id = unit_id
        c = config
        super().__init__({
            "start": In(1), "batch": In(32), "slots": In(32), "stride": In(32), "ready": In(1),
            "ready_in_order": In(1),
            "busy": Out(1), "cur_n": Out(16), "cur_slot": Out(range(MAX_SLOTS)), "cur_i": Out(16),
            "wait_i": Out(16), "n_desc": Out(16), "finish": Out(1),
            "fail": Out(1), "fail_code": Out(8), "fail_offset": Out(32),
            "cfg_raddr": Out(cfg_bits), "cfg_rdata": In(8), "cfg_re": Out(1),
            "w_raddr": Out(w_bits), "w_rdata": In(8), "w_re": Out(1),
            "eng_cfg_we": Out(1), "eng_cfg_addr": Out(5), "eng_cfg_data": Out(32),
            "eng_wgt_we": Out(1), "eng_wgt_addr": Out(c.weight_addr_bits), "eng_wgt_wdata": Out(c.weight_word_bits),
            "eng_par_we": Out(1), "eng_par_addr": Out(c.channel_addr_bits), "eng_par_wdata": Out(PARAM_BITS),
            "eng_start": Out(1), "eng_done": In(1),
            # the activation memory's port, owned while act_own is high (an op descriptor runs)
            "act_own": Out(1), "act_addr": Out(c.activation_addr_bits), "act_re": Out(1), "act_we": Out(1),
            "act_wdata": Out(8), "act_rdata": In(8),
        })

    def elaborate(self, platform: Any) -> Module:
        c = self.config
        L, S, M = c.lanes, c.select_bits, c.multipliers
        m = Module()

        cptr = Signal(32)                       # cursor in the configuration memory
        bc = Signal(range(_BUF + 2))            # bytes of the current field requested
        buf = Signal(8 * _BUF)
        next_c = Cat(buf[8:], self.cfg_rdata)   # the buffer with the byte arriving now
        next_w = Cat(buf[8:], self.w_rdata)

        def read(n: int, from_w: bool, addr: Value, then) -> None:
            """Body of a state reading ``n`` bytes at ``addr``; ``then(value)`` (comb value of
            the n bytes, little-endian) runs in the cycle the last byte arrives."""
            port, nxt = (self.w_raddr, next_w) if from_w else (self.cfg_raddr, next_c)
            m.d.comb += port.eq(addr + bc)
            m.d.sync += bc.eq(bc + 1)
            with m.If(bc != 0):
                m.d.sync += buf.eq(nxt)
            with m.If(bc == n):
                m.d.sync += bc.eq(0)
                then(nxt[8 * (_BUF - n):])

        # descriptor fields
        n_units, u, slots_left = Signal(8), Signal(8), Signal(8)
        n_layers, li = Signal(16), Signal(16)
        rec = Signal(32)                        # the descriptor's configuration-memory address
        index, kind, unit, enc, gran = Signal(16), Signal(8), Signal(8), Signal(8), Signal(7)
        # a share of a split layer (the share flag, bit 7 of a layer descriptor's granularity byte)
        # runs output channels [co_first, co_stop); any other layer descriptor [0, out_c)
        share, co_first, co_end = Signal(), Signal(16), Signal(16)
        geo = {name: Signal(16, name=f"g_{name}") for name in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
                                                                "kh", "kw", "stride_h", "stride_w", "pad_top",
                                                                "pad_left")}
        # input channels per kernel: a depthwise kernel reads one (weights.bin's G = 1)
        cin = Mux(kind == _KIND_DW, 1, geo["in_c"])
        co_stop = Mux(share & (co_end != 0), co_end, geo["out_c"])
        in_base, out_base = Signal(32), Signal(32)
        z_x, z_y, act_min, act_max = Signal(8), Signal(8), Signal(8), Signal(8)
        rq_base, sel_base, sel0 = Signal(32), Signal(32), Signal(8)
        remaps_left = Signal(8)
        remap_valid = Array(Signal(name=f"remap_valid{s}") for s in range(M))
        remap_addr = Array(Signal(32, name=f"remap_addr{s}") for s in range(M))
        # weights.bin record
        wr, n_records, looked = Signal(16), Signal(16), Signal(17)     # record search
        wrec = (W_HEADER_SIZE - HEADER_SIZE) + wr * W_RECORD_SIZE       # record wr in the store
        # b_first: a share's first section byte (co_first*K); it ends where its groups do
        w_off, w_bytes, b_off = Signal(32), Signal(32), Signal(32)
        b_first = Signal(32)
        # copy state
        b = Signal(32)
        lane = Signal(range(L))
        k, K = Signal(24), Signal(24)
        ci = Signal(16)
        co_base = Signal(16)
        waddr = Signal(c.weight_addr_bits)
        wl = Array(Signal(8, name=f"wl{l}") for l in range(L))
        sl = Array(Signal(S, name=f"sl{l}") for l in range(L))
        wbyte, wsel = Signal(8), Signal(S)
        v1, lane1, real1, word2 = Signal(), Signal(range(L)), Signal(), Signal()     # COPY_STREAM's pipeline
        n_remaps = Signal(8)
        co = co_base + lane
        # parameters
        pco = Signal(16)
        p_bias_at, p_rq_at = Signal(32), Signal(32)
        bias = Signal(32)
        # descriptor registers
        di = Signal(range(len(FIELDS) + 1))
        # the batch: input n's activations lie at the plan's addresses + slot * stride (slot_base),
        # slot = n mod SLOTS
        n, slot, li0 = self.cur_n, self.cur_slot, Signal(32)   # li0: the first descriptor's address
        slot_base = Signal(32)
        last = Mux(self.batch[:16] == 0, 0, self.batch[:16] - 1)
        last_slot = Mux(self.slots == 0, 0, Mux(self.slots > MAX_SLOTS, MAX_SLOTS, self.slots) - 1)
        # ownership: a layer descriptor's unit (one beyond the hardware's counts as unit 0); an
        # op descriptor's owner is the unit of the nearest layer descriptor before it (0 if none)
        mine, lu = Signal(), Signal(8)
        pending = Signal(8)                     # an error of an owned descriptor, raised once ready
        m.d.comb += [self.cur_i.eq(li), self.n_desc.eq(n_layers), self.fail_offset.eq(rec + HEADER_SIZE)]
        # op descriptors: the vector unit, its parameters loaded straight into its ports
        m.submodules.vector = vu = VectorUnit(c.activation_addr_bits)
        m.d.comb += [self.act_own.eq(vu.busy), self.act_addr.eq(vu.act_addr), self.act_re.eq(vu.act_re),
                     self.act_we.eq(vu.act_we),
                     self.act_wdata.eq(vu.act_wdata), vu.act_rdata.eq(self.act_rdata),
                     vu.in_base.eq(in_base + slot_base), vu.out_base.eq(out_base + slot_base)]
        for port, name in (("in_h", "in_h"), ("in_w", "in_w"), ("in_c", "in_c"), ("out_h", "out_h"),
                           ("out_w", "out_w"), ("k_h", "kh"), ("k_w", "kw"), ("stride_h", "stride_h"),
                           ("stride_w", "stride_w"), ("pad_top", "pad_top"), ("pad_left", "pad_left")):
            m.d.comb += getattr(vu, port).eq(geo[name])

        def fail(code: ErrorCode | Value) -> None:
            m.d.comb += [self.fail.eq(1), self.fail_code.eq(code if isinstance(code, Value) else int(code))]
            m.d.sync += self.busy.eq(0)
            m.next = "IDLE"

        def check_failed(code: ErrorCode) -> None:
            """An owned descriptor's check failed: stop the run once every earlier descriptor of
            the input is done (so the first failing descriptor in config.bin's order reports,
            whichever walker reaches its check first); another unit's descriptor: no matter,
            its owner reports it."""
            with m.If(mine & self.ready_in_order):
                fail(code)
            with m.Elif(mine):
                m.d.sync += pending.eq(int(code))
                m.next = "FAIL_WAIT"

        def read_geometry(then: str) -> None:
            """Body of a state reading the 12 x u16 geometry into ``geo``."""
            def _(v):
                m.d.sync += [sig.eq(v[16 * i:16 * i + 16]) for i, sig in enumerate(geo.values())]
                m.d.sync += cptr.eq(cptr + 24)
                m.next = then
            read(24, False, cptr, _)

        def read_bases(then: str) -> None:
            """Body of a state reading u32 in_base, u32 out_base; equal ones: no plan (a plan never
            overlaps the two)."""
            def _(v):
                m.d.sync += [in_base.eq(v[0:32]), out_base.eq(v[32:64]), cptr.eq(cptr + 8)]
                m.next = then
                with m.If(v[0:32] == v[32:64]):
                    check_failed(ErrorCode.NO_ACTIVATION_PLAN)
            read(8, False, cptr, _)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [cptr.eq(0), bc.eq(0), self.busy.eq(1), n.eq(0), slot.eq(0), slot_base.eq(0),
                                 lu.eq(0), self.wait_i.eq(0)]
                    m.next = "ACCEL_HASH"
            with m.State("ACCEL_HASH"):
                def _(v):
                    m.d.sync += cptr.eq(cptr + 1 + v)
                    m.next = "MODEL_HASH"
                read(1, False, cptr, _)
            with m.State("MODEL_HASH"):
                def _(v):
                    m.d.sync += cptr.eq(cptr + 1 + v + PLAN_HEADER_SIZE)
                    m.next = "UNITS"
                read(1, False, cptr, _)
            with m.State("UNITS"):
                def _(v):
                    m.d.sync += [n_units.eq(v), u.eq(0), cptr.eq(cptr + 1)]
                    m.next = "UNIT"
                read(1, False, cptr, _)
            with m.State("UNIT"):
                with m.If(u == n_units):
                    m.next = "LAYER_COUNT"
                with m.Else():
                    def _(v):
                        m.d.sync += [slots_left.eq(v), cptr.eq(cptr + 1)]
                        m.next = "SLOT"
                    read(1, False, cptr, _)
            with m.State("SLOT"):
                with m.If(slots_left == 0):
                    m.d.sync += u.eq(u + 1)
                    m.next = "UNIT"
                with m.Else():
                    def _(v):       # flags, hash length
                        m.d.sync += cptr.eq(cptr + 2 + v[8:16])
                        m.next = "SLOT_NAME"
                    read(2, False, cptr, _)
            with m.State("SLOT_NAME"):
                def _(v):
                    m.d.sync += [cptr.eq(cptr + 1 + v), slots_left.eq(slots_left - 1)]
                    m.next = "SLOT"
                read(1, False, cptr, _)
            with m.State("LAYER_COUNT"):
                def _(v):
                    m.d.sync += [n_layers.eq(v), li.eq(0), cptr.eq(cptr + 2), li0.eq(cptr + 2), wr.eq(0)]
                    m.next = "RECORD_COUNT"
                read(2, False, cptr, _)
            with m.State("RECORD_COUNT"):       # R of weights.bin (u16 at file offset 14)
                def _(v):
                    m.d.sync += n_records.eq(v)
                    m.next = "RECORD"
                read(2, True, 2, _)
            with m.State("RECORD"):
                with m.If((li == n_layers) & (n == last)):       # this walker's work is done
                    m.d.sync += self.busy.eq(0)
                    m.next = "IDLE"
                with m.Elif(li == n_layers):                    # the next input
                    m.d.sync += [n.eq(n + 1), li.eq(0), cptr.eq(li0), slot.eq(slot + 1),
                                 slot_base.eq(slot_base + self.stride), lu.eq(0)]
                    with m.If(slot == last_slot):
                        m.d.sync += [slot.eq(0), slot_base.eq(0)]
                with m.Else():
                    def _(v):
                        k_, u_ = v[16:24], v[24:32]
                        is_op = (k_ == _KIND_ADD) | (k_ == _KIND_AVG) | (k_ == _KIND_MAX) | (k_ == _KIND_PAD)
                        owner = Mux(u_ < c.units, u_, 0)
                        is_share = ~is_op & v[47]
                        m.d.sync += [rec.eq(cptr), index.eq(v[0:16]), kind.eq(v[16:24]), unit.eq(v[24:32]),
                                     enc.eq(v[32:40]), gran.eq(v[40:47]), share.eq(is_share), cptr.eq(cptr + 6),
                                     co_first.eq(0), co_end.eq(0), mine.eq(Mux(is_op, lu, owner) == self.unit_id)]
                        with m.If(~is_share):           # it waits for the descriptors before it
                            m.d.sync += self.wait_i.eq(li)
                        with m.If(~is_op):
                            m.d.sync += lu.eq(owner)
                        m.next = "GEOMETRY"
                        with m.If(is_share):
                            m.next = "CO_RANGE"
                        with m.If(v[16:24] == _KIND_ADD):
                            m.d.sync += [cptr.eq(cptr + 3), vu.op.eq(OP_ADD)]
                            m.next = "ADD_BASES"
                        with m.Elif((v[16:24] == _KIND_AVG) | (v[16:24] == _KIND_MAX)):
                            m.d.sync += [cptr.eq(cptr + 3), vu.op.eq(Mux(v[16:24] == _KIND_AVG, OP_AVG, OP_MAX))]
                            m.next = "POOL_BASES"
                        with m.Elif(v[16:24] == _KIND_PAD):
                            m.d.sync += [cptr.eq(cptr + 3), vu.op.eq(OP_PAD)]
                            m.next = "PAD_BASES"
                    read(6, False, cptr, _)
            with m.State("CO_RANGE"):               # a share's u16 co_first, u16 co_end
                def _(v):
                    m.d.sync += [co_first.eq(v[0:16]), co_end.eq(v[16:32]), cptr.eq(cptr + 4)]
                    # a layer's first share waits for the descriptors before it, its other
                    # shares for the same ones (wait_i kept): the shares start together
                    with m.If(v[0:16] == 0):
                        m.d.sync += self.wait_i.eq(li)
                    m.next = "GEOMETRY"
                read(4, False, cptr, _)
            # --- op descriptors (format version 4) --------------------------------------------
            with m.State("ADD_BASES"):
                def _(v):
                    m.d.sync += [in_base.eq(v[0:32]), vu.in2_base.eq(v[32:64] + slot_base), out_base.eq(v[64:96]),
                                 vu.count.eq(v[96:128]), cptr.eq(cptr + 16)]
                    m.next = "ADD_INPUT1"
                    with m.If(v[0:32] == v[64:96]):
                        check_failed(ErrorCode.NO_ACTIVATION_PLAN)
                read(16, False, cptr, _)
            for n, (zp, mult, shift) in enumerate(((vu.z1, vu.m1, vu.e1), (vu.z2, vu.m2, vu.e2))):
                with m.State(f"ADD_INPUT{n + 1}"):
                    def _(v, zp=zp, mult=mult, shift=shift, n=n):
                        m.d.sync += [zp.eq(v[0:8]), mult.eq(v[32:64]), shift.eq(v[64:70]), cptr.eq(cptr + 9)]
                        m.next = "ADD_INPUT2" if n == 0 else "ADD_OUTPUT"
                    read(9, False, cptr, _)
            with m.State("ADD_OUTPUT"):
                def _(v):
                    m.d.sync += [vu.left_shift.eq(v[0:5]), vu.z_out.eq(v[8:16]), vu.m_out.eq(v[40:72]),
                                 vu.e_out.eq(v[72:78]), cptr.eq(cptr + 10)]
                    m.next = "OP_CLAMP"
                read(10, False, cptr, _)
            with m.State("POOL_BASES"):
                read_bases("POOL_GEOMETRY")
            with m.State("POOL_GEOMETRY"):
                read_geometry("OP_CLAMP")
            with m.State("PAD_BASES"):
                read_bases("PAD_GEOMETRY")
            with m.State("PAD_GEOMETRY"):
                read_geometry("PAD_VALUE")
            with m.State("PAD_VALUE"):
                def _(v):
                    m.d.sync += [vu.pad_value.eq(v), vu.act_min.eq(-128), vu.act_max.eq(127), cptr.eq(cptr + 1)]
                    m.next = "OP_START"
                read(1, False, cptr, _)
            with m.State("OP_CLAMP"):
                def _(v):
                    m.d.sync += [vu.act_min.eq(v[0:8]), vu.act_max.eq(v[8:16]), cptr.eq(cptr + 2)]
                    m.next = "OP_START"
                read(2, False, cptr, _)
            with m.State("OP_START"):
                with m.If(~mine):                       # another unit's: the next descriptor
                    m.d.sync += li.eq(li + 1)
                    m.next = "RECORD"
                with m.Elif(self.ready):
                    m.d.comb += vu.start.eq(1)
                    m.next = "OP_WAIT"
            with m.State("OP_WAIT"):
                with m.If(vu.done):
                    m.d.comb += self.finish.eq(1)
                    m.d.sync += li.eq(li + 1)
                    m.next = "RECORD"
            with m.State("FAIL_WAIT"):
                with m.If(self.ready_in_order):
                    fail(pending)
            with m.State("GEOMETRY"):
                read_geometry("BASES")
            with m.State("BASES"):
                read_bases("REQUANT")
            with m.State("REQUANT"):
                def _(v):
                    m.d.sync += [z_x.eq(v[0:8]), z_y.eq(v[32:40]), act_min.eq(v[64:72]), act_max.eq(v[72:80]),
                                 rq_base.eq(cptr + 10), cptr.eq(cptr + 10 + geo["out_c"] * 5)]
                    m.next = "SELECT0"
                read(10, False, cptr, _)
            with m.State("SELECT0"):
                n_sel = Mux(gran == 0, 1, Mux(gran == 1, geo["out_c"],
                                              geo["out_c"] * cin))

                def _(v):
                    m.d.sync += [sel0.eq(v), sel_base.eq(cptr), cptr.eq(cptr + n_sel)]
                    m.d.sync += [r.eq(0) for r in remap_valid]
                    m.next = "REMAP_COUNT"
                read(1, False, cptr, _)
            with m.State("REMAP_COUNT"):
                def _(v):
                    m.d.sync += [remaps_left.eq(v), n_remaps.eq(v), cptr.eq(cptr + 1)]
                    m.next = "REMAP"
                read(1, False, cptr, _)
            with m.State("REMAP"):
                with m.If(remaps_left == 0):
                    m.d.sync += K.eq(geo["kh"] * geo["kw"] * cin)
                    m.next = "CHECK"
                with m.Else():
                    def _(v):
                        m.d.sync += [remap_valid[v].eq(1), remap_addr[v].eq(cptr + 1), cptr.eq(cptr + 257),
                                     remaps_left.eq(remaps_left - 1)]
                    read(1, False, cptr, _)
            with m.State("CHECK"):
                m.d.sync += b_first.eq(co_first * K)
                with m.If(~mine):                       # another unit's: the next descriptor
                    m.d.sync += li.eq(li + 1)
                    m.next = "RECORD"
                with m.Elif((kind == _KIND_DW) & (geo["in_c"] != geo["out_c"])):    # depth multiplier > 1
                    check_failed(ErrorCode.UNSUPPORTED_LAYER)
                with m.Else():
                    m.d.sync += looked.eq(0)
                    m.next = "FIND_RECORD"
            with m.State("FIND_RECORD"):      # record wr's index and kind
                with m.If(looked == n_records):
                    check_failed(ErrorCode.NO_LAYER_WEIGHTS)
                with m.Else():
                    def _(v):
                        m.d.sync += [looked.eq(looked + 1), wr.eq(Mux(wr + 1 == n_records, 0, wr + 1))]
                        with m.If((v[0:16] == index) & (v[16:24] == kind)):
                            m.d.sync += wr.eq(wr)
                            m.next = "WEIGHTS_RECORD"
                    read(3, True, wrec, _)
            with m.State("WEIGHTS_RECORD"):
                def _(v):
                    # a share's bytes only: from group co_first/L (byte co_first*K) to the end of
                    # its last group (copy_end)
                    m.d.sync += [w_off.eq(v[96:128] - HEADER_SIZE), w_bytes.eq(v[128:160]),
                                 b_off.eq(v[160:192] - HEADER_SIZE), b.eq(b_first), lane.eq(0), k.eq(0), ci.eq(0),
                                 co_base.eq(co_first), waddr.eq(0), v1.eq(0), word2.eq(0),
                                 wr.eq(Mux(wr + 1 == n_records, 0, wr + 1))]     # the next search's start
                    m.next = "COPY_ADDR"
                    with m.If(n_remaps == 0):
                        m.next = "COPY_STREAM"
                read(W_RECORD_SIZE, True, wrec, _)
            sel_index = Mux(gran == 0, 0, Mux(gran == 1, co, co * cin + ci))
            # the copy's end: the section's, or a share's last group done (co_base, the next
            # group's first channel, at or past co_end; the whole layer keeps the section's end)
            copy_end = (b == w_bytes) | (share & (co_base >= co_stop))

            def start_params() -> None:
                """To the parameters of the range's first channel: its bias at 4*co_first of the
                bias section, its (multiplier, shift) pair at 5*co_first of config.bin's."""
                m.d.sync += [pco.eq(co_first), p_bias_at.eq(b_off + 4 * co_first), p_rq_at.eq(rq_base + 5 * co_first)]
                m.next = "PARAM_BIAS"

            def advance() -> None:
                """The copy's counters to the next section byte."""
                m.d.sync += [b.eq(b + 1), lane.eq(lane + 1)]
                with m.If(lane == L - 1):
                    m.d.sync += [lane.eq(0), k.eq(k + 1), ci.eq(ci + 1)]
                    with m.If(ci == cin - 1):
                        m.d.sync += ci.eq(0)
                    with m.If(k == K - 1):
                        m.d.sync += [k.eq(0), ci.eq(0), co_base.eq(co_base + L)]

            with m.State("COPY_STREAM"):
                # no weight remap: one byte per cycle; addresses of byte b now, its data (and
                # select) next cycle into its lane, a full word written the cycle after
                issue = ~copy_end
                m.d.comb += [self.w_raddr.eq(w_off + b), self.cfg_raddr.eq(sel_base + sel_index)]
                with m.If(issue):
                    advance()
                m.d.sync += [v1.eq(issue), lane1.eq(lane), real1.eq(co < co_stop),
                             word2.eq(v1 & (lane1 == L - 1))]
                with m.If(v1):
                    m.d.sync += [wl[lane1].eq(self.w_rdata), sl[lane1].eq(Mux(real1, self.cfg_rdata, 0))]
                with m.If(word2):
                    m.d.comb += [self.eng_wgt_we.eq(1), self.eng_wgt_addr.eq(waddr),
                                 self.eng_wgt_wdata.eq(Cat(*[wl[l] for l in range(L)], *[sl[l] for l in range(L)]))]
                    m.d.sync += waddr.eq(waddr + 1)
                with m.If(~issue & ~v1 & ~word2):
                    start_params()
            with m.State("COPY_ADDR"):
                m.d.comb += [self.w_raddr.eq(w_off + b), self.cfg_raddr.eq(sel_base + sel_index)]
                with m.If(copy_end):
                    start_params()
                with m.Else():
                    m.next = "COPY_DATA"
            with m.State("COPY_DATA"):
                real = co < co_stop
                slot = Mux(real, self.cfg_rdata, 0)
                m.d.sync += [wsel.eq(slot), wbyte.eq(self.w_rdata)]
                with m.If(real & remap_valid[slot]):
                    m.d.comb += self.cfg_raddr.eq(remap_addr[slot] + self.w_rdata)
                    m.next = "COPY_REMAP"
                with m.Else():
                    m.next = "COPY_LANE"
            with m.State("COPY_REMAP"):
                m.d.sync += wbyte.eq(self.cfg_rdata)
                m.next = "COPY_LANE"
            with m.State("COPY_LANE"):
                m.d.sync += [wl[lane].eq(wbyte), sl[lane].eq(wsel)]
                advance()
                m.next = "COPY_ADDR"
                with m.If(lane == L - 1):
                    m.next = "COPY_WORD"
            with m.State("COPY_WORD"):
                m.d.comb += [self.eng_wgt_we.eq(1), self.eng_wgt_addr.eq(waddr),
                             self.eng_wgt_wdata.eq(Cat(*[wl[l] for l in range(L)], *[sl[l] for l in range(L)]))]
                m.d.sync += waddr.eq(waddr + 1)
                m.next = "COPY_ADDR"
            with m.State("PARAM_BIAS"):
                def _(v):
                    m.d.sync += [bias.eq(v), p_bias_at.eq(p_bias_at + 4)]
                    m.next = "PARAM_REQUANT"
                read(4, True, p_bias_at, _)
            with m.State("PARAM_REQUANT"):
                def _(v):
                    m.d.comb += [self.eng_par_we.eq(1), self.eng_par_addr.eq(pco),
                                 self.eng_par_wdata.eq(Cat(bias, v[0:32], v[32:38]))]
                    m.d.sync += [pco.eq(pco + 1), p_rq_at.eq(p_rq_at + 5)]
                    m.next = "PARAM_BIAS"
                    with m.If(pco == co_stop - 1):
                        m.d.sync += di.eq(0)
                        m.next = "REGISTERS"
                read(5, False, p_rq_at, _)
            with m.State("REGISTERS"):
                values = {**geo, "in_base": in_base + slot_base, "out_base": out_base + slot_base, "w_base": 0,
                          "p_base": 0, "unit": 0, "encoding": enc, "sel_mode": gran, "layer_sel": sel0,
                          "z_x": z_x.as_signed(), "z_y": z_y.as_signed(), "act_min": act_min.as_signed(),
                          "act_max": act_max.as_signed(), "rounding": kind == _KIND_FC, "depthwise": kind == _KIND_DW,
                          "co_first": co_first, "co_end": co_stop}
                with m.Switch(di):
                    for i, (name, _w, _s) in enumerate(FIELDS):
                        with m.Case(i):
                            m.d.comb += self.eng_cfg_data.eq(values[name])
                m.d.comb += [self.eng_cfg_we.eq(1), self.eng_cfg_addr.eq(di)]
                m.d.sync += di.eq(di + 1)
                # a share writes its channel range too; another descriptor leaves it out: the
                # engine cleared it after its last run (the whole layer), and the walk keeps
                # version 4's cycles
                with m.If(di == Mux(share, len(FIELDS), WHOLE_LAYER_FIELDS) - 1):
                    m.next = "START"
            with m.State("START"):                  # once every earlier descriptor of the input is done
                with m.If(self.ready):
                    m.d.comb += self.eng_start.eq(1)
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(self.eng_done):
                    m.d.comb += self.finish.eq(1)
                    m.d.sync += li.eq(li + 1)
                    m.next = "RECORD"
        # read enables (module docstring, "Reads"): each port reads only in the states that read
        # it; every read is addressed and consumed within such states, so a port's held data
        # is never needed
        m.d.comb += [self.cfg_re.eq(~Cat(*(fsm.ongoing(st) for st in NO_CONFIG_READ)).any()),
                     self.w_re.eq(Cat(*(fsm.ongoing(st) for st in WEIGHTS_READ)).any())]
        return m


class Sequencer(wiring.Component):
    """See the module docstring: one walker per compute unit (``config.units``), the table of
    descriptors done per input, the run's status. ``cfg_bits``/``w_bits``: address bits of the
    configuration memory and of the weights store; every walker has its own read port of each
    (``cfg_raddr[u]``..., data one cycle after the address), its engine's ports (``eng_*[u]``)
    and its vector unit's activation-memory port (``act_*[u]``, owned while ``act_own[u]``)."""

    def __init__(self, config: AccelConfig, cfg_bits: int, w_bits: int):
        self.config = config
        c = config
        U = c.units
        self.walkers = [_Walker(config, cfg_bits, w_bits, u) for u in range(U)]
        super().__init__({
            "start": In(1), "clear": In(1), "batch": In(32), "slots": In(32), "stride": In(32), "post": In(1),
            "busy": Out(1), "net_done": Out(1), "error": Out(1), "error_code": Out(8),
            "error_offset": Out(32), "cycles": Out(32), "layers": Out(16), "outputs_done": Out(32),
            "cfg_reads": Out(32), "w_reads": Out(32), "eng_clocks": Out(32),
            "cfg_raddr": Out(cfg_bits).array(U), "cfg_rdata": In(8).array(U), "cfg_re": Out(1).array(U),
            "w_raddr": Out(w_bits).array(U), "w_rdata": In(8).array(U), "w_re": Out(1).array(U),
            "eng_cfg_we": Out(1).array(U), "eng_cfg_addr": Out(5).array(U), "eng_cfg_data": Out(32).array(U),
            "eng_wgt_we": Out(1).array(U), "eng_wgt_addr": Out(c.weight_addr_bits).array(U),
            "eng_wgt_wdata": Out(c.weight_word_bits).array(U),
            "eng_par_we": Out(1).array(U), "eng_par_addr": Out(c.channel_addr_bits).array(U),
            "eng_par_wdata": Out(PARAM_BITS).array(U),
            "eng_start": Out(1).array(U), "eng_done": In(1).array(U), "eng_busy": In(1).array(U),
            "eng_clk_en": Out(1).array(U),
            "act_own": Out(1).array(U), "act_addr": Out(c.activation_addr_bits).array(U), "act_re": Out(1).array(U),
            "act_we": Out(1).array(U), "act_wdata": Out(8).array(U), "act_rdata": In(8).array(U),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        walkers = self.walkers
        # per slot: the input it holds (tag) and how many of that input's descriptors are done
        # (count). Descriptors end in config.bin's order but for the shares of a split layer,
        # which start together and end in any order (two in one cycle, too): so a count, which
        # tells "every descriptor before position p done" as count >= p, rather than the last
        # one's position. When all are done the slot passes to the input SLOTS later.
        tag = Array(Signal(16, name=f"tag{s}") for s in range(MAX_SLOTS))
        count = Array(Signal(16, name=f"count{s}") for s in range(MAX_SLOTS))
        # inputs the host has placed: the first SLOTS at START, one more per CTRL.POST
        posted = Signal(32)
        n_slots = Mux(self.slots == 0, 1, Mux(self.slots > MAX_SLOTS, MAX_SLOTS, self.slots))
        fails = Cat(*(w.fail for w in walkers))
        stop = fails.any()
        running = Signal()
        any_busy = Cat(*(w.busy for w in walkers)).any()
        for u, w in enumerate(walkers):
            # a failing descriptor stops every walker (their engines finish what they run)
            m.submodules[f"walker{u}"] = ResetInserter(stop)(w)
            # ready: every descriptor of the input before position wait_i done (before the
            # layer's first share), and for the input's first ones the input placed; a failing
            # check waits for every descriptor before its own (cur_i): the first failing one in
            # config.bin's order reports, shares too
            held = tag[w.cur_slot] == w.cur_n
            m.d.comb += [w.start.eq(self.start), w.batch.eq(self.batch), w.slots.eq(self.slots),
                         w.stride.eq(self.stride),
                         w.ready.eq(held & (count[w.cur_slot] >= w.wait_i) & ((w.wait_i != 0) | (w.cur_n < posted))),
                         w.ready_in_order.eq(held & (count[w.cur_slot] >= w.cur_i)
                                             & ((w.cur_i != 0) | (w.cur_n < posted)))]
            for name in ("cfg_raddr", "cfg_re", "w_raddr", "w_re", "eng_cfg_we", "eng_cfg_addr", "eng_cfg_data", "eng_wgt_we",
                         "eng_wgt_addr", "eng_wgt_wdata", "eng_par_we", "eng_par_addr", "eng_par_wdata",
                         "eng_start", "act_own", "act_addr", "act_re", "act_we", "act_wdata"):
                m.d.comb += getattr(self, name)[u].eq(getattr(w, name))
            for name in ("cfg_rdata", "w_rdata", "eng_done", "act_rdata"):
                m.d.comb += getattr(w, name).eq(getattr(self, name)[u])
        m.d.comb += self.busy.eq(running | any_busy)
        with m.If(any_busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        m.d.sync += [self.cfg_reads.eq(self.cfg_reads + sum(w.cfg_re for w in walkers)),
                     self.w_reads.eq(self.w_reads + sum(w.w_re for w in walkers))]
        # an engine is clocked after the cycles it runs or is written (module docstring)
        for u in range(len(walkers)):
            m.d.comb += self.eng_clk_en[u].eq(self.eng_busy[u] | self.eng_start[u] | self.eng_cfg_we[u]
                                              | self.eng_wgt_we[u] | self.eng_par_we[u])
        m.d.sync += self.eng_clocks.eq(self.eng_clocks + sum(self.eng_clk_en[u] for u in range(len(walkers))))
        n_desc = walkers[0].n_desc              # every walker reads the same count
        completed = []                          # per slot: its input's last descriptor ends now
        for s in range(MAX_SLOTS):
            ends = sum(w.finish & (w.cur_slot == s) for w in walkers)
            now = Signal(16, name=f"count_now{s}")
            m.d.comb += now.eq(count[s] + ends)
            completed.append(Signal(name=f"completed{s}"))
            m.d.comb += completed[-1].eq((ends != 0) & (now == n_desc))
            m.d.sync += count[s].eq(now)
            with m.If(completed[-1]):
                m.d.sync += [count[s].eq(0), tag[s].eq(tag[s] + n_slots)]
        m.d.sync += [self.layers.eq(self.layers + sum(w.finish for w in walkers)),
                     self.outputs_done.eq(self.outputs_done + sum(completed))]
        with m.If(self.post):
            m.d.sync += posted.eq(posted + 1)
        with m.If(self.clear):
            m.d.sync += [self.error.eq(0), self.error_code.eq(0), self.error_offset.eq(0), self.net_done.eq(0)]
        with m.If(running & ~any_busy):
            m.d.sync += [running.eq(0), self.net_done.eq(1)]
        for w in reversed(walkers):             # the lowest unit's, if two fail at once
            with m.If(w.fail):
                m.d.sync += [self.error.eq(1), self.error_code.eq(w.fail_code), self.error_offset.eq(w.fail_offset),
                             running.eq(0), self.net_done.eq(0)]
        with m.If(self.start):
            m.d.sync += [running.eq(1), self.cycles.eq(0), self.cfg_reads.eq(0), self.w_reads.eq(0), self.eng_clocks.eq(0),
                         self.layers.eq(0), self.error.eq(0), self.error_code.eq(0),
                         self.error_offset.eq(0), self.net_done.eq(0), self.outputs_done.eq(0), posted.eq(n_slots)]
            m.d.sync += [cnt.eq(0) for cnt in count]
            m.d.sync += [t.eq(s) for s, t in enumerate(tag)]
        return m
