"""The operators without multipliers, in hardware: int8 ADD, AVERAGE_POOL_2D, MAX_POOL_2D and PAD
on the activation memory, bit-exact with :mod:`rtlgen.emulate.ops` (LiteRT's reference kernels).

The sequencer (:mod:`rtlgen.accel.sequencer`) loads an op descriptor of ``config.bin`` (format
version 4, :mod:`rtlgen.bitstream.format`) into the input ports, pulses ``start`` and waits for
``done``. While ``busy`` the unit owns the activation memory through one port: ``act_addr``
(read data on ``act_rdata`` one cycle later, read only when ``act_re`` is high) with
``act_we``/``act_wdata`` writing at ``act_addr``; it never reads and writes in the same cycle.
``act_re`` is high exactly in the cycles whose byte is used: two per ADD element, one per pool
tap inside the input (:func:`rtlgen.accel.schedule.vector_reads` counts them; the port's data
holds otherwise, so the unit's reads are the activation memory's energy, :mod:`rtlgen.accel.memories`).

ADD (``op`` 0): for each of ``count`` elements ``i``, ``x1 = mem[in_base + i]``,
``x2 = mem[in2_base + i]`` and::

    s1 = RDBP(SRDHM((x1 - z1) << left_shift, m1), -e1)      # the requantizer, zero point 0,
    s2 = RDBP(SRDHM((x2 - z2) << left_shift, m2), -e2)      # its int32 result before the clamp
    mem[out_base + i] = clamp(RDBP(SRDHM(int32(s1 + s2), m_out), -e_out) + z_out, act_min, act_max)

three passes through one :class:`rtlgen.accel.requant.Requantizer` (its own instance; gemmlowp
two-step rounding, as :func:`rtlgen.nn.quant.add_quantized`). Schedule: a new element every 3
cycles, the memory port reading ``x1`` in phase 0 and ``x2`` in phase 1 and writing an earlier
element's result in phase 2; the requantizer takes ``x1`` in phase 1, ``x2`` in phase 2 and the
sum in phase 0, so nothing collides: ``3*count + 11`` cycles from ``start`` to ``done``.

AVERAGE_POOL_2D (``op`` 1) and MAX_POOL_2D (``op`` 2), per output byte (``oy``, ``ox``, ``c``) in
NHWC order: the window's taps read one per cycle (those outside the input skipped and not
counted, as TFLite does), then for the average ``sum / count`` rounded half away from zero
(:func:`rtlgen.nn.quant.rounded_average`; a 24-cycle restoring divider), for the maximum the
largest tap; then the clamp and the write. ``k_h*k_w + 3`` cycles per byte (max), ``k_h*k_w + 28``
(average), plus 1. (:mod:`rtlgen.accel.schedule` counts these in a whole run.)

PAD (``op`` 3) is the maximum over a 1x1 window (``k_h = k_w = 1``, strides 1, ``pad_top`` and
``pad_left`` the rows and columns before, ``out_h``/``out_w`` with those after) whose tap
outside the input writes ``pad_value`` instead: 4 cycles per output byte.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlgen.accel.requant import LATENCY, Requantizer

__all__ = ["VectorUnit", "OP_ADD", "OP_AVG", "OP_MAX", "OP_PAD"]

OP_ADD, OP_AVG, OP_MAX, OP_PAD = 0, 1, 2, 3
_DIV_BITS = 24          # |sum| of an average: up to 65,535 taps of 128


class VectorUnit(wiring.Component):
    """See the module docstring. ``addr_bits``: the activation memory's address bits."""

    def __init__(self, addr_bits: int):
        self.addr_bits = addr_bits
        geo = {name: In(16) for name in ("in_h", "in_w", "in_c", "out_h", "out_w", "k_h", "k_w", "stride_h",
                                         "stride_w", "pad_top", "pad_left")}
        super().__init__({
            "start": In(1), "op": In(2), "busy": Out(1), "done": Out(1),
            "in_base": In(32), "in2_base": In(32), "out_base": In(32), "count": In(32),
            "z1": In(signed(8)), "m1": In(signed(32)), "e1": In(signed(6)),
            "z2": In(signed(8)), "m2": In(signed(32)), "e2": In(signed(6)),
            "left_shift": In(5), "z_out": In(signed(8)), "m_out": In(signed(32)), "e_out": In(signed(6)),
            "act_min": In(signed(8)), "act_max": In(signed(8)), "pad_value": In(signed(8)),
            **geo,
            "act_addr": Out(addr_bits), "act_re": Out(1), "act_we": Out(1), "act_wdata": Out(8),
            "act_rdata": In(8),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        x = self.act_rdata.as_signed()

        # --- ADD ---------------------------------------------------------------------------
        m.submodules.requant = rq = Requantizer(tag_bits=2 + 32)
        i = Signal(32)                  # element being read
        ph = Signal(range(3))
        rd1, rd2 = Signal(), Signal()   # x1 / x2 arrives on act_rdata this cycle
        s1 = Signal(signed(32))
        y, y_addr, y_valid = Signal(8), Signal(32), Signal()
        pass_out = rq.out_tag[0:2]
        idx_out = rq.out_tag[2:]

        def feed(acc, mult, shift, zp, lo, hi, pas, idx) -> None:
            m.d.comb += [rq.valid.eq(1), rq.acc.eq(acc), rq.mult.eq(mult), rq.shift.eq(shift), rq.z_y.eq(zp),
                         rq.act_min.eq(lo), rq.act_max.eq(hi), rq.tag.eq(Cat(Const(pas, 2), idx[:32]))]

        # --- pools -------------------------------------------------------------------------
        oy, ox, c = Signal(16), Signal(16), Signal(16)
        ky, kx = Signal(16), Signal(16)
        iy0, ix0 = Signal(16), Signal(16)          # oy*stride_h, ox*stride_w
        iy = Signal(signed(18))
        ix = Signal(signed(18))
        m.d.comb += [iy.eq(iy0 + ky - self.pad_top), ix.eq(ix0 + kx - self.pad_left)]
        inside = (iy >= 0) & (iy < self.in_h) & (ix >= 0) & (ix < self.in_w)
        tap_addr = self.in_base + (iy[:16] * self.in_w + ix[:16]) * self.in_c + c
        out_addr = self.out_base + (oy * self.out_w + ox) * self.in_c + c
        rv = Signal()                   # a tap's byte arrives this cycle
        total = Signal(signed(_DIV_BITS + 1))
        count = Signal(17)
        big = Signal(signed(8))
        dvd = Signal(_DIV_BITS)
        rem = Signal(18)
        quo = Signal(_DIV_BITS)
        neg = Signal()
        step = Signal(range(_DIV_BITS + 1))
        with m.If(rv):
            m.d.sync += [total.eq(total + x), count.eq(count + 1), big.eq(Mux(x > big, x, big))]

        def clamp(v):
            return Mux(v < self.act_min, self.act_min, Mux(v > self.act_max, self.act_max, v))

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [self.busy.eq(1), self.done.eq(0), i.eq(0), ph.eq(0), rd1.eq(0), rd2.eq(0),
                                 y_valid.eq(0), oy.eq(0), ox.eq(0), c.eq(0), iy0.eq(0), ix0.eq(0)]
                    m.next = "POOL_PIXEL"
                    with m.If(self.op == OP_ADD):
                        m.next = "ADD"
            with m.State("ADD"):
                issuing = i != self.count
                m.d.sync += [ph.eq(Mux(ph == 2, 0, ph + 1)), rd1.eq(0), rd2.eq(0), y_valid.eq(0)]
                with m.If((ph == 0) & issuing):
                    m.d.comb += [self.act_addr.eq(self.in_base + i), self.act_re.eq(1)]
                    m.d.sync += rd1.eq(1)
                with m.If(ph == 1):
                    with m.If(rd1):
                        m.d.comb += [self.act_addr.eq(self.in2_base + i), self.act_re.eq(1)]
                        m.d.sync += rd2.eq(1)
                        feed((x - self.z1) << self.left_shift, self.m1, self.e1, 0, -128, 127, 0, i)
                with m.If(ph == 2):
                    with m.If(rd2):
                        feed((x - self.z2) << self.left_shift, self.m2, self.e2, 0, -128, 127, 1, i)
                        m.d.sync += i.eq(i + 1)
                    with m.If(y_valid):
                        m.d.comb += [self.act_we.eq(1), self.act_addr.eq(y_addr), self.act_wdata.eq(y)]
                with m.If(rq.out_valid):
                    with m.If(pass_out == 0):
                        m.d.sync += s1.eq(rq.out_raw)
                    with m.If(pass_out == 1):       # phase 0: the requantizer's input is free
                        feed((s1 + rq.out_raw)[:32].as_signed(), self.m_out, self.e_out, self.z_out,
                             self.act_min, self.act_max, 2, idx_out)
                    with m.If(pass_out == 2):       # written in phase 2, the port's free phase
                        m.d.sync += [y.eq(rq.out), y_addr.eq(self.out_base + idx_out), y_valid.eq(1)]
                with m.If(~issuing & (ph == 0) & ~rd1 & ~rd2 & ~rq.busy & ~rq.valid & ~y_valid):
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                    m.next = "IDLE"
            with m.State("POOL_PIXEL"):
                m.d.sync += [total.eq(0), count.eq(0), big.eq(-128), ky.eq(0), kx.eq(0), rv.eq(0)]
                m.next = "POOL_TAP"
            with m.State("POOL_TAP"):
                m.d.comb += [self.act_addr.eq(tap_addr), self.act_re.eq(inside)]     # a tap outside: not used
                m.d.sync += [rv.eq(inside), kx.eq(kx + 1)]
                with m.If(kx == self.k_w - 1):
                    m.d.sync += [kx.eq(0), ky.eq(ky + 1)]
                    with m.If(ky == self.k_h - 1):
                        m.next = "POOL_LAST"
            with m.State("POOL_LAST"):      # the last tap arrives
                m.d.sync += rv.eq(0)
                m.next = "POOL_WRITE"
                with m.If(self.op == OP_AVG):
                    m.next = "POOL_ROUND"
            with m.State("POOL_ROUND"):
                half = count[1:]
                num = Mux(total > 0, total + half, total - half)
                m.d.sync += [neg.eq(num < 0), dvd.eq(Mux(num < 0, -num, num)), rem.eq(0), quo.eq(0), step.eq(0)]
                m.next = "POOL_DIVIDE"
            with m.State("POOL_DIVIDE"):      # restoring division, a quotient bit per cycle
                r2 = Cat(dvd[-1], rem[:-1])
                fits = r2 >= count
                m.d.sync += [dvd.eq(dvd << 1), rem.eq(Mux(fits, r2 - count, r2)), quo.eq(Cat(fits, quo[:-1])),
                             step.eq(step + 1)]
                with m.If(step == _DIV_BITS - 1):
                    m.next = "POOL_WRITE"
            with m.State("POOL_WRITE"):
                avg = Signal(signed(_DIV_BITS + 1))
                m.d.comb += avg.eq(Mux(neg, -quo, quo))
                value = Mux(self.op == OP_AVG, clamp(avg),
                            Mux((self.op == OP_PAD) & (count == 0), self.pad_value, clamp(big)))
                m.d.comb += [self.act_we.eq(1), self.act_addr.eq(out_addr), self.act_wdata.eq(value[:8])]
                m.d.sync += [c.eq(c + 1), neg.eq(0), quo.eq(0)]
                m.next = "POOL_PIXEL"
                with m.If(c == self.in_c - 1):
                    m.d.sync += [c.eq(0), ox.eq(ox + 1), ix0.eq(ix0 + self.stride_w)]
                    with m.If(ox == self.out_w - 1):
                        m.d.sync += [ox.eq(0), ix0.eq(0), oy.eq(oy + 1), iy0.eq(iy0 + self.stride_h)]
                        with m.If(oy == self.out_h - 1):
                            m.d.sync += [self.busy.eq(0), self.done.eq(1)]
                            m.next = "IDLE"
        assert LATENCY == 4     # the ADD schedule above relies on it (results 4 cycles after a pass)
        return m
