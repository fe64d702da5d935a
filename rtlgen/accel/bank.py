"""A lane's multiplier bank: M multipliers, one selected per product, the others' clocks stopped.

Each multiplier has its own operand register pair (A, B). A product is issued by loading the
operands into the *selected* multiplier's registers only; the others keep their previous
operands, so their gates do not toggle (operand isolation: the energy saving is the point of
approximate multipliers). The product is read one cycle later from the multiplier that was
selected, widened to 17-bit two's complement according to that multiplier's signedness.

Clock gating (``gated``, the default): each multiplier's operand registers sit in their own clock
domain, whose clock is ``clk AND en`` with ``en`` (= "this multiplier is loaded in this cycle")
captured on the falling edge of ``clk``. ``en`` is therefore stable while ``clk`` is high, so the
gated clock has no glitch (the flip-flop form of an integrated clock-gating cell; the enable
must settle within the first half of the cycle). An unselected multiplier's registers, and every
multiplier of an idle unit, then get no clock edge at all, instead of a clock edge that reloads
the held value through an enable multiplexer: the clock pins' energy is saved too, and Verilator
evaluates a multiplier's netlist only in the cycles its registers are loaded. Without ``gated``
the registers are ordinary enabled flip-flops on ``clk`` (``rtlgen gen accel --no-clock-gating``:
the same function, for before/after measurements).
"""
from __future__ import annotations

from amaranth.hdl import Array, ClockDomain, ClockSignal, Elaboratable, Module, Signal, signed, unsigned

from rtlgen.accel.multiplier import MultiplierSpec

__all__ = ["MultiplierBank"]


class MultiplierBank(Elaboratable):
    """Inputs (issue cycle): ``valid``, ``sel``, ``a``, ``b``.
    Output (next cycle): ``product`` (signed(17)) of the multiplier then selected."""

    def __init__(self, specs: list[MultiplierSpec], sel_bits: int, *, gated: bool = True):
        if not specs:
            raise ValueError("a multiplier bank needs at least one multiplier")
        self.specs = list(specs)
        self.gated = gated
        self.valid = Signal()
        self.sel = Signal(unsigned(sel_bits))
        self.a = Signal(unsigned(8))
        self.b = Signal(unsigned(8))
        self.product = Signal(signed(17))

    def elaborate(self, platform):
        m = Module()
        sel_q = Signal.like(self.sel, name="sel_q")
        with m.If(self.valid):
            m.d.sync += sel_q.eq(self.sel)
        if self.gated:
            # one falling-edge domain for the bank's enables (they are captured mid-cycle)
            m.domains += ClockDomain("en", clk_edge="neg", local=True, reset_less=True)
            m.d.comb += ClockSignal("en").eq(ClockSignal())
        values = []
        for i, spec in enumerate(self.specs):
            mult = spec.build()
            m.submodules[f"mul{i}"] = mult
            op_a = Signal(unsigned(8), name=f"op_a{i}")
            op_b = Signal(unsigned(8), name=f"op_b{i}")
            load = self.valid & (self.sel == i)
            if self.gated:
                en = Signal(name=f"en{i}")
                m.domains += ClockDomain(f"g{i}", local=True, reset_less=True)
                m.d.en += en.eq(load)
                m.d.comb += ClockSignal(f"g{i}").eq(ClockSignal() & en)
                m.d[f"g{i}"] += [op_a.eq(self.a), op_b.eq(self.b)]
            else:
                with m.If(load):
                    m.d.sync += [op_a.eq(self.a), op_b.eq(self.b)]
            m.d.comb += [mult.a.eq(op_a), mult.b.eq(op_b)]
            value = Signal(signed(17), name=f"p{i}")
            m.d.comb += value.eq(mult.o.as_signed() if spec.signed else mult.o)
            values.append(value)
        # A select beyond the bank (M not a power of two) is never issued by the mapper;
        # it loads no operands and reads an unspecified held product.
        m.d.comb += self.product.eq(Array(values)[sel_q] if len(values) > 1 else values[0])
        return m
