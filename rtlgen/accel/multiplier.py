"""One 8x8 multiplier as an Amaranth elaboratable, two ways to build it.

* :class:`NetlistMultiplier` instantiates a gate-level netlist module *as is* (an Amaranth
  ``Instance``; ports bound by name: ``A`` and ``B`` 8-bit inputs, ``O`` 16-bit output). The
  netlist's Verilog file is emitted next to the generated top (:mod:`rtlgen.accel.generate`), so
  what the verification flow checked is what is built.
* :class:`TableMultiplier` is the same function as a 65,536-entry ROM of its truth table
  (``T[a, b]`` at address ``a*256 + b``). Amaranth's simulator cannot run an ``Instance``; the
  unit tests of the datapath use this stand-in, the Verilator tests the netlists.

Both expose ``a``, ``b`` (unsigned(8) patterns) and ``o`` (unsigned(16) output pattern); the
caller reads ``o`` as unsigned or two's complement according to the multiplier's signedness.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Elaboratable, Instance, Module, Signal, unsigned
from amaranth.lib.memory import Memory

from rtlgen.netlist.table import check_table

__all__ = ["MultiplierSpec", "NetlistMultiplier", "TableMultiplier"]


@dataclass(frozen=True)
class MultiplierSpec:
    """What a bank slot holds: a netlist module name, or a table for simulation."""

    name: str
    signed: bool
    module: str | None = None          # Verilog module name of the netlist (hardware)
    table: np.ndarray | None = None    # truth table (Amaranth simulation)
    output_port: str = "O"

    def build(self) -> Elaboratable:
        if self.module is not None:
            return NetlistMultiplier(self.module, self.output_port)
        if self.table is not None:
            return TableMultiplier(self.table, self.signed)
        raise ValueError(f"multiplier {self.name!r} has neither a netlist module nor a table")


class NetlistMultiplier(Elaboratable):
    def __init__(self, module: str, output_port: str = "O"):
        self.module = module
        self.output_port = output_port
        self.a = Signal(unsigned(8))
        self.b = Signal(unsigned(8))
        self.o = Signal(unsigned(16))

    def elaborate(self, platform):
        m = Module()
        m.submodules.netlist = Instance(self.module, i_A=self.a, i_B=self.b,
                                            **{f"o_{self.output_port}": self.o})
        return m


class TableMultiplier(Elaboratable):
    def __init__(self, table: np.ndarray, signed: bool):
        self.table = check_table(table, signed)
        self.a = Signal(unsigned(8))
        self.b = Signal(unsigned(8))
        self.o = Signal(unsigned(16))

    def elaborate(self, platform):
        m = Module()
        patterns = (self.table.astype(np.int64) & 0xFFFF).ravel().tolist()
        m.submodules.rom = rom = Memory(shape=16, depth=65536, init=patterns)
        rd = rom.read_port(domain="comb")
        m.d.comb += [rd.addr.eq((self.a << 8) | self.b), self.o.eq(rd.data)]
        return m
