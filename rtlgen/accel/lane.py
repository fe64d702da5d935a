"""A MAC lane: weight encoding, the multiplier bank, and int32 accumulation.

Timing (one product per cycle, no stalls inside the lane):

* issue cycle (stage S1): ``valid``, ``first``, ``last``, the encoded activation ``a`` (shared by
  the unit), the weight ``w``, the multiplier ``sel`` and the ``encoding``. The weight is
  encoded (:mod:`rtlgen.accel.encoding`) and loaded into the selected multiplier.
* next cycle (stage S2): the product, negated for ``signmag`` with a negative weight, is added to
  the accumulator (``first`` restarts it); the weight is added to ``Sw``. On ``last`` the
  completed sums are copied into ``res_acc`` / ``res_sumw``, where the epilogue reads them while
  the next output's products accumulate.

Widths: the accumulator is int32 and wraps like TFLite's; ``Sw`` holds ``K * 128`` for any
``K < 2**24``.
"""
from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed, unsigned

from rtlgen.accel.bank import MultiplierBank
from rtlgen.accel.encoding import encode_weight
from rtlgen.accel.multiplier import MultiplierSpec

__all__ = ["MacLane"]


class MacLane(Elaboratable):
    def __init__(self, specs: list[MultiplierSpec], sel_bits: int, *, clock_gating: bool = True):
        self.specs = specs
        self.sel_bits = sel_bits
        self.clock_gating = clock_gating
        self.valid = Signal()
        self.first = Signal()
        self.last = Signal()
        self.a = Signal(unsigned(8))
        self.w = Signal(signed(8))
        self.sel = Signal(unsigned(sel_bits))
        self.encoding = Signal(unsigned(2))
        self.res_acc = Signal(signed(32))
        self.res_sumw = Signal(signed(32))

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = MultiplierBank(self.specs, self.sel_bits, gated=self.clock_gating)
        b, neg = encode_weight(m, self.w, self.encoding)
        m.d.comb += [bank.valid.eq(self.valid), bank.sel.eq(self.sel), bank.a.eq(self.a),
                     bank.b.eq(b)]

        valid_q = Signal()
        first_q = Signal()
        last_q = Signal()
        neg_q = Signal()
        w_q = Signal(signed(8))
        m.d.sync += [valid_q.eq(self.valid), first_q.eq(self.first), last_q.eq(self.last)]
        with m.If(self.valid):
            m.d.sync += [neg_q.eq(neg), w_q.eq(self.w)]

        acc = Signal(signed(32))
        sumw = Signal(signed(32))
        term = Signal(signed(18))
        acc_next = Signal(signed(32))
        sumw_next = Signal(signed(32))
        m.d.comb += [
            term.eq(Mux(neg_q, -bank.product, bank.product)),
            acc_next.eq(Mux(first_q, 0, acc) + term),
            sumw_next.eq(Mux(first_q, 0, sumw) + w_q),
        ]
        with m.If(valid_q):
            m.d.sync += [acc.eq(acc_next), sumw.eq(sumw_next)]
            with m.If(last_q):
                m.d.sync += [self.res_acc.eq(acc_next), self.res_sumw.eq(sumw_next)]
        return m
