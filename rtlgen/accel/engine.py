"""The layer engine: descriptor registers, controller, compute units, epilogue; one layer at a time.

:func:`build_engine` puts an engine into a module: the top (:mod:`rtlgen.accel.top`) builds one
with every unit's bank for the host ports, and the device with the on-chip sequencer builds one
:class:`Engine` per compute unit (each with its unit's bank), which run at the same time. The
activation memory stays outside: the engine reads it through ``act_raddr``/``act_rdata``
(synchronous read, data one cycle after the address) and writes it through
``act_we``/``act_waddr``/``act_wdata``; these are meaningful while ``busy`` is high.

Dataflow (output-stationary)
----------------------------
A layer runs on the unit named by its descriptor (:mod:`rtlgen.accel.descriptor`); the other
units are idle with their multipliers' operands held. The controller walks::

    for co_base in co_first, co_first+L, ... < co_end:   # a group of L output channels, one per lane
      for oy, ox in the output:                   # one output pixel
        for ky, kx, ci in the kernel:             # K = kh*kw*cin products, one per cycle
          issue: activation byte x[oy*sh+ky-pt, ox*sw+kx-pl, ci] (padding -> z_x), broadcast
                 to the unit's lanes; weight word (L weights + L selects) of (group, ky, kx, ci)

``[co_first, co_end)`` is the descriptor's channel range (:mod:`rtlgen.accel.descriptor`): the
whole layer, ``[0, out_c)``, unless the descriptor is a share of a layer split over units; the
weight memory holds the range's groups from ``w_base``, the parameter memory and the outputs keep
the absolute channel. The engine clears ``co_first`` and ``co_end`` (0 = ``out_c``) in the cycle
it raises ``done``.

A depthwise layer (descriptor field ``depthwise``; depth multiplier 1) runs one output channel
at a time: ``for co in co_first..co_end-1: for oy, ox: for ky, kx:`` issue the activation byte
``x[.., .., co]`` and the weight word ``(co // L, ky, kx)``, whose lane ``co mod L`` holds the
channel's weight (the weight memory holds the layer as a conv with one input channel, as
``weights.bin`` does); only that lane's result is drained (one cycle per pixel), so a pixel takes
``max(kh*kw, 3)`` cycles on one lane: ``cycles = C * out_h * out_w * max(kh*kw, 3)`` plus the
fill and drain, ``C = co_end - co_first`` (``out_c`` for the whole layer).

Clock gating (``clock_gating``, the default; :mod:`rtlgen.accel.bank`): each multiplier's operand
registers are clocked only in the cycles they are loaded, so the unselected multipliers of the
active unit and every multiplier of an idle unit get no clock edge. It changes no output and no
cycle count (tested); ``rtlgen gen accel --no-clock-gating`` builds the enabled-register form.

Every cycle each lane of the active unit takes one product (lanes busy also on padding positions:
the emulation runs the multiplier there too). On a pixel's last product the lanes copy their sums
to result registers and start the next pixel at once; the epilogue drains the L results one per
cycle (correction terms, bias, requantization, one int8 byte written to the activation memory).

Pipeline: S0 address generation -> S1 memory data, operand encoding, operand registers -> S2
multiply, accumulate -> epilogue E1 (parameter read, corrections) -> requantizer (4 stages) ->
write.

Cycle count per layer
---------------------
``cycles = groups * out_h * out_w * max(K, L, 3) + L + 8`` with ``groups = ceil(out_c / L)``
(a share's: ``ceil(co_end / L) - co_first / L``) and ``K = kh*kw*cin``: a pixel's last product is held back until the epilogue has drained the previous
pixel's L results to within 3 cycles (and no other last product is in flight), so a pixel takes
``max(K, L, 3)`` cycles; the pipeline's fill and the last pixel's drain add ``L + 8`` (24 cycles
with L = 16) when ``K >= L`` and the last group is full. The exact count for every geometry
(a first pixel not held back, a partial last group, depthwise) is
:func:`rtlgen.accel.schedule.engine_cycles`. Lane utilisation
(products / (lanes x cycles)) = ``K / max(K, L, 3)`` times the fraction of lanes holding a real
channel (``out_c / (groups*L)``). ResNet-8 with L = 16: every conv has K >= 16 (3x3: K = 27,
144, 288, 576; 1x1 shortcuts: 16, 32) and out_c a multiple of 16, so the lanes are busy on all
but the fill/drain cycles: measured on the default configuration (``benchmarks/bench_accel.py``),
layer 0 takes 27,672 cycles for 27,648 products per lane (99.9%), the whole network 781,528
cycles per image (7.8 ms at 100 MHz) for 781,312 products per lane (99.97% utilisation).
``cycles`` and ``issued`` (products issued) are output ports for measurement.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from amaranth.hdl import Array, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.lib.memory import Memory

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import FIELDS, PARAM_BITS
from rtlgen.accel.encoding import correction_coefficients
from rtlgen.accel.multiplier import MultiplierSpec
from rtlgen.accel.requant import Requantizer
from rtlgen.accel.unit import ComputeUnit

__all__ = ["EngineIO", "build_engine", "Engine", "SEL_LAYER", "SEL_FILTER", "SEL_KERNEL"]

SEL_LAYER, SEL_FILTER, SEL_KERNEL = 0, 1, 2


@dataclass
class EngineIO:
    """An engine's ports, as plain signals (the module that builds it drives the inputs)."""

    cfg_we: Signal
    cfg_addr: Signal
    cfg_data: Signal
    start: Signal
    wgt_we: Signal
    wgt_addr: Signal
    wgt_wdata: Signal
    par_we: Signal
    par_addr: Signal
    par_wdata: Signal
    busy: Signal
    done: Signal
    cycles: Signal
    issued: Signal
    act_raddr: Signal
    act_rdata: Signal
    act_we: Signal
    act_waddr: Signal
    act_wdata: Signal
    act_re: Signal
    wgt_re: Signal
    par_re: Signal

    @classmethod
    def make(cls, config: AccelConfig, prefix: str = "") -> "EngineIO":
        c = config
        widths = {"cfg_we": 1, "cfg_addr": 5, "cfg_data": 32, "start": 1,
                  "wgt_we": 1, "wgt_addr": c.weight_addr_bits, "wgt_wdata": c.weight_word_bits,
                  "par_we": 1, "par_addr": c.channel_addr_bits, "par_wdata": PARAM_BITS,
                  "busy": 1, "done": 1, "cycles": 32, "issued": 32,
                  "act_raddr": c.activation_addr_bits, "act_rdata": 8, "act_we": 1,
                  "act_waddr": c.activation_addr_bits, "act_wdata": 8, "act_re": 1, "wgt_re": 1, "par_re": 1}
        return cls(**{f.name: Signal(widths[f.name], name=f"{prefix}{f.name}") for f in fields(cls)})


class Engine(Elaboratable):
    """One engine in a module of its own (the device's per-unit engines): ``io`` are its ports."""

    def __init__(self, config: AccelConfig, banks: list[list[MultiplierSpec]], *, clock_gating: bool = True):
        self.config, self.banks, self.clock_gating = config, banks, clock_gating
        self.io = EngineIO.make(config)

    def elaborate(self, platform):
        m = Module()
        build_engine(m, self.config, self.banks, self.io, clock_gating=self.clock_gating)
        return m


def build_engine(m: Module, c: AccelConfig, banks: list[list[MultiplierSpec]], io: EngineIO, *,
                 clock_gating: bool = True) -> None:
    """Add an engine with ``banks`` (one compute unit each; the descriptor's ``unit`` selects
    one) to ``m``: its weight and parameter memories are submodules ``wgt_mem`` and ``par_mem``
    of ``m`` and its units ``unit0``, ``unit1``, ... (the gate-level power flow finds cells by
    these names, :mod:`rtlgen.accel.power`)."""
    L, S = c.lanes, c.select_bits

    # --- descriptor registers (configuration port) ------------------------------------
    d = {}
    for name, width, is_signed in FIELDS:
        d[name] = Signal(signed(width) if is_signed else unsigned(width), name=f"d_{name}")
    with m.If(io.cfg_we & ~io.busy):
        with m.Switch(io.cfg_addr):
            for i, (name, width, _) in enumerate(FIELDS):
                with m.Case(i):
                    m.d.sync += d[name].eq(io.cfg_data[:width])
    # the channel range run: [co_first, co_end), co_end 0 meaning out_c (the whole layer)
    co_end = Signal(unsigned(12))
    m.d.comb += co_end.eq(Mux(d["co_end"] == 0, d["out_c"], d["co_end"]))

    # --- weight and parameter memories ------------------------------------------------
    m.submodules.wgt_mem = wgt_mem = Memory(shape=c.weight_word_bits, depth=c.weight_words, init=[])
    m.submodules.par_mem = par_mem = Memory(shape=PARAM_BITS, depth=c.channels, init=[])
    wgt_rd = wgt_mem.read_port()
    wgt_wr = wgt_mem.write_port()
    par_rd = par_mem.read_port()
    par_wr = par_mem.write_port()
    m.d.comb += [
        wgt_wr.en.eq(io.wgt_we & ~io.busy), wgt_wr.addr.eq(io.wgt_addr), wgt_wr.data.eq(io.wgt_wdata),
        par_wr.en.eq(io.par_we & ~io.busy), par_wr.addr.eq(io.par_addr), par_wr.data.eq(io.par_wdata),
    ]

    # --- units -----------------------------------------------------------------------
    units = [ComputeUnit(bank, L, S, clock_gating=clock_gating) for bank in banks]
    for u, unit in enumerate(units):
        m.submodules[f"unit{u}"] = unit

    # --- controller state ------------------------------------------------------------
    running = Signal()      # between start and done
    issuing = Signal()      # products left to issue
    m.d.comb += io.busy.eq(running)
    K = Signal(unsigned(24))
    co_base = Signal(unsigned(12))
    oy = Signal(unsigned(12))
    ox = Signal(unsigned(12))
    ky = Signal(unsigned(4))
    kx = Signal(unsigned(4))
    ci = Signal(unsigned(12))
    iy0 = Signal(unsigned(16))   # oy * stride_h
    ix0 = Signal(unsigned(16))
    w_addr = Signal(unsigned(c.weight_addr_bits))
    w_grp = Signal(unsigned(c.weight_addr_bits))
    # depthwise: one output channel at a time (co_base), on its lane co_base mod L
    dw = d["depthwise"]
    dlane = Signal(range(L))
    cycles = Signal(32)
    issued = Signal(32)
    m.d.comb += [io.cycles.eq(cycles), io.issued.eq(issued)]

    # S0: addresses of the product to issue.
    iy = Signal(signed(18))
    ix = Signal(signed(18))
    m.d.comb += [iy.eq(iy0 + ky - d["pad_top"]), ix.eq(ix0 + kx - d["pad_left"])]
    pad = Signal()
    m.d.comb += pad.eq((iy < 0) | (iy >= d["in_h"]) | (ix < 0) | (ix >= d["in_w"]))
    act_addr = Signal(unsigned(c.activation_addr_bits))
    m.d.comb += act_addr.eq(d["in_base"] + (iy[:12] * d["in_w"] + ix[:12]) * d["in_c"] + Mux(dw, co_base, ci))
    out_addr = Signal(unsigned(c.activation_addr_bits))
    m.d.comb += out_addr.eq(d["out_base"] + (oy * d["out_w"] + ox) * d["out_c"] + co_base)
    ci_end = dw | (ci == d["in_c"] - 1)
    kx_end = kx == d["kw"] - 1
    ky_end = ky == d["kh"] - 1
    ox_end = ox == d["out_w"] - 1
    oy_end = oy == d["out_h"] - 1
    is_first = (ci == 0) & (kx == 0) & (ky == 0)
    is_last = ci_end & kx_end & ky_end
    group_end = is_last & ox_end & oy_end

    # Pipeline registers S1 (memory data valid) and S2 (product valid).
    v1, first1, last1, pad1 = Signal(), Signal(), Signal(), Signal()
    oaddr1 = Signal.like(out_addr)
    co1 = Signal.like(co_base)
    v2, last2 = Signal(), Signal()
    oaddr2 = Signal.like(out_addr)
    co2 = Signal.like(co_base)
    lane1, lane2 = Signal.like(dlane), Signal.like(dlane)

    # Drain state (reads one lane's results per cycle).
    drain = Signal()
    j = Signal(range(L))
    d_oaddr = Signal.like(out_addr)
    d_co = Signal.like(co_base)
    d_lane = Signal.like(dlane)
    # a depthwise pixel has one result (lane d_lane): its drain takes one cycle
    drain_end = Mux(dw, 1, L)

    # A pixel's last product may only be issued if its capture (2 cycles later) finds the
    # drain at most at its final lane and no other capture is pending.
    block_last = (v1 & last1) | (v2 & last2) | (drain & (j + 3 < drain_end))
    issue = Signal()
    m.d.comb += issue.eq(running & issuing & ~(is_last & block_last))

    # read enables: a memory is read only in the cycles whose data may be used (the issue cycles,
    # a padding position's too; the parameter memory below, a real channel's drain), so the SRAM
    # a chip would use here is not selected otherwise (rtlgen.accel.memories); the data holds
    # meanwhile, unused
    m.d.comb += [io.act_raddr.eq(act_addr), io.act_re.eq(issue),
                 wgt_rd.addr.eq(w_addr), wgt_rd.en.eq(issue), io.wgt_re.eq(issue)]
    m.d.sync += [v1.eq(issue), first1.eq(is_first), last1.eq(is_last), pad1.eq(pad),
                 oaddr1.eq(out_addr), co1.eq(co_base), lane1.eq(dlane),
                 v2.eq(v1), last2.eq(last1), oaddr2.eq(oaddr1), co2.eq(co1), lane2.eq(lane1)]

    with m.If(running):
        m.d.sync += cycles.eq(cycles + 1)
    with m.If(issue):
        m.d.sync += issued.eq(issued + 1)
        m.d.sync += [ci.eq(ci + 1), w_addr.eq(w_addr + 1)]
        with m.If(ci_end):
            m.d.sync += [ci.eq(0), kx.eq(kx + 1)]
            with m.If(kx_end):
                m.d.sync += [kx.eq(0), ky.eq(ky + 1)]
                with m.If(ky_end):   # pixel done
                    m.d.sync += [ky.eq(0), ox.eq(ox + 1), ix0.eq(ix0 + d["stride_w"]),
                                 w_addr.eq(w_grp)]
                    with m.If(ox_end):
                        m.d.sync += [ox.eq(0), ix0.eq(0), oy.eq(oy + 1),
                                     iy0.eq(iy0 + d["stride_h"])]
                        with m.If(oy_end & ~dw):   # group done: next L output channels
                            m.d.sync += [oy.eq(0), iy0.eq(0), co_base.eq(co_base + L),
                                         w_addr.eq(w_addr + 1), w_grp.eq(w_addr + 1)]
                            with m.If(co_base + L >= co_end):
                                m.d.sync += issuing.eq(0)
                        with m.If(oy_end & dw):    # channel done: the next one, on the next lane
                            m.d.sync += [oy.eq(0), iy0.eq(0), co_base.eq(co_base + 1), dlane.eq(dlane + 1)]
                            with m.If(dlane == L - 1):   # its group's last lane: the next group's words
                                m.d.sync += [dlane.eq(0), w_addr.eq(w_addr + 1), w_grp.eq(w_addr + 1)]
                            with m.If(co_base + 1 >= co_end):
                                m.d.sync += issuing.eq(0)

    # --- S1: operands to the active unit ---------------------------------------------
    x_eff = Signal(signed(8))
    m.d.comb += x_eff.eq(Mux(pad1, d["z_x"], io.act_rdata.as_signed()))
    word = wgt_rd.data
    fsel = [Signal(unsigned(S), name=f"fsel{l}") for l in range(L)]
    lane_sel = []
    for l in range(L):
        wsel = word[8 * L + l * S: 8 * L + (l + 1) * S]
        sel = Signal(unsigned(S), name=f"lane_sel{l}")
        with m.Switch(d["sel_mode"]):
            with m.Case(SEL_KERNEL):
                m.d.comb += sel.eq(wsel)
            with m.Case(SEL_FILTER):
                m.d.comb += sel.eq(Mux(first1, wsel, fsel[l]))
            with m.Default():
                m.d.comb += sel.eq(d["layer_sel"][:S])
        with m.If(v1 & first1):
            m.d.sync += fsel[l].eq(wsel)
        lane_sel.append(sel)
    for u, unit in enumerate(units):
        m.d.comb += [unit.valid.eq(v1 & (d["unit"] == u)), unit.first.eq(first1),
                     unit.last.eq(last1), unit.x.eq(x_eff), unit.z_x.eq(d["z_x"]),
                     unit.encoding.eq(d["encoding"])]
        for l in range(L):
            m.d.comb += [unit.w[l].eq(word[8 * l: 8 * l + 8].as_signed()),
                         unit.sel[l].eq(lane_sel[l])]

    # --- epilogue: drain the result registers ----------------------------------------
    capture = v2 & last2
    with m.If(drain):
        m.d.sync += j.eq(j + 1)
        with m.If(j == drain_end - 1):
            m.d.sync += [drain.eq(0), j.eq(0)]
    with m.If(capture):
        m.d.sync += [drain.eq(1), j.eq(0), d_oaddr.eq(oaddr2), d_co.eq(co2), d_lane.eq(lane2)]

    res_acc = Array(lane.res_acc for unit in units for lane in unit.lanes)
    res_sumw = Array(lane.res_sumw for unit in units for lane in unit.lanes)
    res_sumx = Array(unit.res_sumx for unit in units)
    e_valid = Signal()
    e_acc = Signal(signed(32))
    e_sumw = Signal(signed(32))
    e_sumx = Signal(signed(32))
    e_addr = Signal.like(out_addr)
    # the result drained: lane j (output channel d_co + j), or a depthwise pixel's lane d_lane
    # (output channel d_co)
    e_lane = Mux(dw, d_lane, j)
    e_off = Mux(dw, 0, j)
    par_read = drain & (d_co + e_off < co_end)
    m.d.comb += [par_rd.addr.eq(d["p_base"] + d_co + e_off), par_rd.en.eq(par_read), io.par_re.eq(par_read)]
    m.d.sync += [e_valid.eq(par_read),
                 e_acc.eq(res_acc[d["unit"] * L + e_lane]), e_sumw.eq(res_sumw[d["unit"] * L + e_lane]),
                 e_sumx.eq(res_sumx[d["unit"]]), e_addr.eq(d_oaddr + e_off)]

    c_w, c_x, offset_k = correction_coefficients(m, d["z_x"], d["encoding"])
    bias = par_rd.data[0:32].as_signed()
    total = Signal(signed(32))
    m.d.comb += total.eq(e_acc + bias + c_w * e_sumw + c_x * e_sumx
                         - Mux(offset_k, K << 14, 0))
    m.submodules.requant = rq = Requantizer(tag_bits=c.activation_addr_bits)
    m.d.comb += [rq.valid.eq(e_valid), rq.acc.eq(total),
                 rq.mult.eq(par_rd.data[32:64].as_signed()),
                 rq.shift.eq(par_rd.data[64:70].as_signed()),
                 rq.z_y.eq(d["z_y"]), rq.act_min.eq(d["act_min"]), rq.act_max.eq(d["act_max"]),
                 rq.single.eq(d["rounding"]),
                 rq.tag.eq(e_addr)]
    m.d.comb += [io.act_we.eq(running & rq.out_valid), io.act_waddr.eq(rq.out_tag),
                 io.act_wdata.eq(rq.out.as_unsigned())]

    # --- start / done ----------------------------------------------------------------
    idle_tail = ~issuing & ~v1 & ~v2 & ~drain & ~capture & ~e_valid & ~rq.busy
    with m.If(running & idle_tail):
        # the channel range holds for this run only: a writer that leaves it out (the sequencer
        # for a descriptor that is no share) gets the whole layer next time
        m.d.sync += [running.eq(0), io.done.eq(1), d["co_first"].eq(0), d["co_end"].eq(0)]
    with m.If(io.start & ~running):
        m.d.sync += [running.eq(1), issuing.eq(1), io.done.eq(0), cycles.eq(0),
                     issued.eq(0), co_base.eq(d["co_first"]), oy.eq(0), ox.eq(0), ky.eq(0), kx.eq(0),
                     ci.eq(0), iy0.eq(0), ix0.eq(0), w_addr.eq(d["w_base"]), dlane.eq(0),
                     w_grp.eq(d["w_base"]), K.eq(d["kh"] * d["kw"] * Mux(d["depthwise"], 1, d["in_c"]))]
