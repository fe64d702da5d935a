"""A compute unit: L MAC lanes sharing one activation stream and one multiplier-bank layout.

All lanes of a unit see the same activation in a cycle (output-stationary dataflow: lane ``l``
accumulates output channel ``co_base + l`` of the current output pixel) and each its own weight
and select. The unit encodes the activation once for its lanes and accumulates ``Sx`` (the sum of
activation codes, padding counted as ``z_x``) for the ``offset`` correction.

A unit whose ``valid`` stays low holds every multiplier's operands: an idle unit does not toggle,
and with ``clock_gating`` its multipliers' operand registers get no clock
(:mod:`rtlgen.accel.bank`).
"""
from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed, unsigned

from rtlgen.accel.encoding import encode_activation
from rtlgen.accel.lane import MacLane
from rtlgen.accel.multiplier import MultiplierSpec

__all__ = ["ComputeUnit"]


class ComputeUnit(Elaboratable):
    def __init__(self, specs: list[MultiplierSpec], lanes: int, sel_bits: int, *,
                 clock_gating: bool = True):
        self.specs = specs
        self.n_lanes = lanes
        self.sel_bits = sel_bits
        self.valid = Signal()
        self.first = Signal()
        self.last = Signal()
        self.x = Signal(signed(8))          # activation code, padding already replaced by z_x
        self.z_x = Signal(signed(8))
        self.encoding = Signal(unsigned(2))
        self.w = [Signal(signed(8), name=f"w{l}") for l in range(lanes)]
        self.sel = [Signal(unsigned(sel_bits), name=f"sel{l}") for l in range(lanes)]
        self.lanes = [MacLane(specs, sel_bits, clock_gating=clock_gating) for _ in range(lanes)]
        self.res_sumx = Signal(signed(32))

    def elaborate(self, platform):
        m = Module()
        a = encode_activation(m, self.x, self.z_x, self.encoding)
        for l, lane in enumerate(self.lanes):
            m.submodules[f"lane{l}"] = lane
            m.d.comb += [lane.valid.eq(self.valid), lane.first.eq(self.first),
                         lane.last.eq(self.last), lane.a.eq(a), lane.w.eq(self.w[l]),
                         lane.sel.eq(self.sel[l]), lane.encoding.eq(self.encoding)]

        # Sx runs in step with the lanes' accumulators (one cycle after issue).
        valid_q = Signal()
        first_q = Signal()
        last_q = Signal()
        x_q = Signal(signed(8))
        sumx = Signal(signed(32))
        sumx_next = Signal(signed(32))
        m.d.sync += [valid_q.eq(self.valid), first_q.eq(self.first), last_q.eq(self.last)]
        with m.If(self.valid):
            m.d.sync += x_q.eq(self.x)
        m.d.comb += sumx_next.eq(Mux(first_q, 0, sumx) + x_q)
        with m.If(valid_q):
            m.d.sync += sumx.eq(sumx_next)
            with m.If(last_q):
                m.d.sync += self.res_sumx.eq(sumx_next)
        return m
