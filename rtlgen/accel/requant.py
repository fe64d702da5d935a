"""TFLite requantization in hardware: int32 accumulator -> int8 output, bit-exact.

Computes, for a per-channel fixed-point multiplier ``mult`` (int32) and ``shift`` (-31..30)::

    y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc << max(shift, 0), mult),
                            max(-shift, 0)) + z_y
    out = clamp(y, act_min, act_max)

exactly as gemmlowp / TFLite's reference kernels do (golden model:
:func:`rtlgen.nn.quant.requantize`, two-step rounding): the left shift wraps in int32,
SaturatingRoundingDoublingHighMul rounds half away from zero (division truncating toward zero
after a nudge of ``2**30`` or ``1 - 2**30``) and saturates only for ``acc = mult = -2**31``,
RoundingDivideByPOT rounds half away from zero.

With ``single`` high, the ``TFLITE_SINGLE_ROUNDING`` formula instead (LiteRT's FULLY_CONNECTED
in our build; :func:`rtlgen.nn.quant.multiply_by_quantized_multiplier_single_round`)::

    y = (acc * mult + 2**(30 - shift)) >> (31 - shift) + z_y

one rounding (half up) of the exact 64-bit product, then the zero point and the clamp.

Pipeline: four register stages, one result per cycle; ``tag`` (e.g. the output address) travels
with the value. Stage 1 shifts, stage 2 multiplies 32x32 -> 64, stage 3 rounds the high half,
stage 4 divides by the power of two, adds the zero point and clamps. ``out_raw`` gives the int32
result of stage 4 before the zero point and the clamp (the ADD of :mod:`rtlgen.accel.vector`
rescales its inputs with it).
"""
from __future__ import annotations

from amaranth.hdl import Const, Elaboratable, Module, Mux, Signal, signed, unsigned

__all__ = ["Requantizer", "LATENCY"]

LATENCY = 4
_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


class Requantizer(Elaboratable):
    def __init__(self, tag_bits: int = 1):
        self.valid = Signal()
        self.acc = Signal(signed(32))
        self.mult = Signal(signed(32))
        self.shift = Signal(signed(6))
        self.z_y = Signal(signed(8))
        self.act_min = Signal(signed(8))
        self.act_max = Signal(signed(8))
        self.single = Signal()      # one rounding step (TFLITE_SINGLE_ROUNDING)
        self.tag = Signal(unsigned(tag_bits))

        self.out_valid = Signal()
        self.out = Signal(signed(8))
        self.out_tag = Signal(unsigned(tag_bits))
        #: the value before the zero point and the clamp (int32; what an ADD's input rescaling needs)
        self.out_raw = Signal(signed(32))
        self.busy = Signal()        # a value is in the pipeline

    def elaborate(self, platform):
        m = Module()
        n = LATENCY
        valid = [Signal(name=f"v{i}") for i in range(n)]
        tag = [Signal.like(self.tag, name=f"tag{i}") for i in range(n)]
        zp = [Signal(signed(8), name=f"zp{i}") for i in range(n)]
        lo = [Signal(signed(8), name=f"lo{i}") for i in range(n)]
        hi = [Signal(signed(8), name=f"hi{i}") for i in range(n)]
        right = [Signal(unsigned(5), name=f"right{i}") for i in range(n)]
        single = [Signal(name=f"single{i}") for i in range(n)]
        total = [Signal(unsigned(6), name=f"total{i}") for i in range(n)]   # 31 - shift
        m.d.sync += [valid[0].eq(self.valid), tag[0].eq(self.tag), zp[0].eq(self.z_y),
                     lo[0].eq(self.act_min), hi[0].eq(self.act_max),
                     right[0].eq(Mux(self.shift < 0, -self.shift, 0)), single[0].eq(self.single),
                     total[0].eq(31 - self.shift)]
        for i in range(1, n):
            m.d.sync += [valid[i].eq(valid[i - 1]), tag[i].eq(tag[i - 1]), zp[i].eq(zp[i - 1]),
                         lo[i].eq(lo[i - 1]), hi[i].eq(hi[i - 1]), right[i].eq(right[i - 1]),
                         single[i].eq(single[i - 1]), total[i].eq(total[i - 1])]

        # Stage 1: x * 2**left in int32 (wrapping, as the C++ does); no shift for single rounding.
        left = Signal(unsigned(5))
        m.d.comb += left.eq(Mux((self.shift > 0) & ~self.single, self.shift, 0))
        xs = Signal(signed(32))
        mult1 = Signal(signed(32))
        m.d.sync += [xs.eq((self.acc << left)[:32].as_signed()), mult1.eq(self.mult)]

        # Stage 2: the 64-bit product; remember the one saturating case.
        prod = Signal(signed(64))
        sat = Signal()
        m.d.sync += [prod.eq(xs * mult1), sat.eq((xs == _I32_MIN) & (mult1 == _I32_MIN))]

        # Stage 3: (prod + nudge) / 2**31, truncating toward zero.
        nudged = Signal(signed(65))
        m.d.comb += nudged.eq(prod + Mux(prod >= 0, 1 << 30, 1 - (1 << 30)))
        floor = Signal(signed(34))
        m.d.comb += floor.eq(nudged >> 31)
        inexact = Signal()
        m.d.comb += inexact.eq(nudged[:31] != 0)
        high = Signal(signed(32))
        m.d.sync += high.eq(Mux(sat, _I32_MAX, Mux((nudged < 0) & inexact, floor + 1, floor)))
        # Single rounding: (prod + 2**(total-1)) >> total, total = 31 - shift in 1..62.
        rounded = Signal(signed(65))
        m.d.comb += rounded.eq(prod + ((Const(1, 64) << total[1]) >> 1))
        once = Signal(signed(65))
        m.d.sync += once.eq(rounded >> total[1])

        # Stage 4: RoundingDivideByPOT, zero point, clamp.
        e = right[2]
        mask = Signal(unsigned(32))
        m.d.comb += mask.eq(~(Const(0xFFFFFFFF, 32) << e)[:32])
        remainder = Signal(unsigned(32))
        threshold = Signal(unsigned(33))
        m.d.comb += [remainder.eq(high.as_unsigned() & mask),
                     threshold.eq((mask >> 1) + (high < 0))]
        scaled = Signal(signed(65))
        m.d.comb += scaled.eq(Mux(single[2], once, (high >> e) + (remainder > threshold)))
        y = Signal(signed(66))
        m.d.comb += y.eq(scaled + zp[2])
        m.d.sync += [self.out.eq(Mux(y < lo[2], lo[2], Mux(y > hi[2], hi[2], y))), self.out_raw.eq(scaled[:32])]
        m.d.comb += [self.out_valid.eq(valid[3]), self.out_tag.eq(tag[3]),
                     self.busy.eq(valid[0] | valid[1] | valid[2] | valid[3])]
        return m
