"""AXI4-Lite and AXI4-Stream in Amaranth: bus signatures, the register slave, Verilog port names.

A bus is a :class:`amaranth.lib.wiring.Signature` whose members carry the AXI names (``awaddr``,
``awvalid``, ..., ``tdata``, ``tlast``), written from the manager's (source's) side: a slave
or a sink holds it flipped (``In(AxiLiteSignature(...))``). In Verilog a member becomes
``<bus>_<name>`` (:func:`verilog_ports`), e.g. ``s_axil_awaddr``, ``s_axis_tready``, so that
``AxiLiteBus.from_prefix(dut, "s_axil")`` and ``AxiStreamBus.from_prefix(dut, "s_axis")`` of
cocotbext-axi bind without glue (Amaranth's own default separator is ``__``).
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtlgen.accel.regmap import REGISTERS, Register

__all__ = ["AxiLiteSignature", "AxiStreamSignature", "AxiLiteRegisters", "RESP_OKAY", "RESP_SLVERR",
           "verilog_ports"]

RESP_OKAY = 0
RESP_SLVERR = 2


class AxiLiteSignature(wiring.Signature):
    """AXI4-Lite, seen from the manager: ``addr_width``-bit byte addresses, 32-bit data."""

    def __init__(self, addr_width: int, data_width: int = 32):
        if data_width not in (32, 64):
            raise ValueError(f"AXI4-Lite data width must be 32 or 64 bits, not {data_width}")
        if not 2 <= addr_width <= 64:
            raise ValueError(f"AXI4-Lite address width must lie in 2..64 bits, not {addr_width}")
        self.addr_width, self.data_width = addr_width, data_width
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(data_width), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })


class AxiStreamSignature(wiring.Signature):
    """AXI4-Stream, seen from the source: ``tdata``, ``tvalid``, ``tready``, ``tlast``."""

    def __init__(self, data_width: int = 8):
        if data_width % 8 or data_width < 8:
            raise ValueError(f"AXI4-Stream tdata must be a whole number of bytes, not {data_width} bits")
        self.data_width = data_width
        super().__init__({"tdata": Out(data_width), "tvalid": Out(1), "tready": In(1), "tlast": Out(1)})


def verilog_ports(component: wiring.Component) -> dict[str, tuple[Any, Any]]:
    """``ports=`` for :func:`amaranth.back.verilog.convert`: every member of the component's
    signature, path joined by ``_`` (``s_axil.awaddr`` -> ``s_axil_awaddr``)."""
    # convert() takes {name: (value, direction)} with Amaranth's own PortDirection, as it
    # builds itself for a component (amaranth/back/verilog.py); only the separator differs
    from amaranth.hdl import _ir

    ports = {}
    for path, member, value in component.signature.flatten(component):
        direction = _ir.PortDirection.Input if member.flow == In else _ir.PortDirection.Output
        ports["_".join(map(str, path))] = (value.as_value() if hasattr(value, "as_value") else value,
                                           direction)
    return ports


def _member(reg: Register) -> str:
    return reg.name.lower()


class AxiLiteRegisters(wiring.Component):
    """An AXI4-Lite slave over a register map (:data:`rtlgen.accel.regmap.REGISTERS`).

    Per register ``R`` (member names in lower case): ``ro`` -> input ``r`` (the value read);
    ``rw`` -> output ``r`` (held here, reset to the map's reset value, read back as written);
    ``wo`` -> reads 0. Every writable register also has ``r_we`` (one-cycle pulse on a write)
    and ``r_wdata`` (the word written). A ``device_held`` register is read from input ``r``
    like ``ro`` and also has ``r_re`` (one-cycle pulse when a read of it is taken). A write and its address are taken together; one
    response is outstanding at a time on each channel. Unmapped offsets answer ``SLVERR``
    (reads return 0).
    """

    def __init__(self, registers: tuple[Register, ...] = REGISTERS, addr_width: int = 8):
        top = max(r.offset for r in registers) + 4
        if top > 1 << addr_width:
            raise ValueError(f"register map ends at byte {top}, beyond the {addr_width}-bit address space")
        self.registers = registers
        self.addr_width = addr_width
        members: dict[str, Any] = {"bus": In(AxiLiteSignature(addr_width))}
        for r in registers:
            name = _member(r)
            if r.access == "ro" or r.device_held:
                members[name] = In(r.width)
            elif r.access == "rw":
                members[name] = Out(r.width, init=r.reset)
            if r.access in ("rw", "wo"):
                members[f"{name}_we"] = Out(1)
                members[f"{name}_wdata"] = Out(32)
            if r.device_held:
                members[f"{name}_re"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        bus = self.bus

        # write channel: address and data accepted in the same cycle, then the response
        take_w = bus.awvalid & bus.wvalid & ~bus.bvalid
        m.d.comb += [bus.awready.eq(take_w), bus.wready.eq(take_w)]
        waddr = bus.awaddr[2:]
        hits = []
        for r in self.registers:
            hit = waddr == (r.offset >> 2)
            hits.append(hit)
            if r.access in ("rw", "wo"):
                name = _member(r)
                m.d.comb += [getattr(self, f"{name}_we").eq(take_w & hit),
                             getattr(self, f"{name}_wdata").eq(bus.wdata)]
                if r.access == "rw" and not r.device_held:
                    with m.If(take_w & hit):
                        m.d.sync += getattr(self, name).eq(bus.wdata[:r.width])
        with m.If(take_w):
            m.d.sync += [bus.bvalid.eq(1), bus.bresp.eq(Const(RESP_OKAY, 2))]
            with m.If(~Cat(*hits).any()):     # writes to ro registers are ignored, not errors
                m.d.sync += bus.bresp.eq(RESP_SLVERR)
        with m.Elif(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        # read channel: the word is sampled when the address is taken
        take_r = bus.arvalid & ~bus.rvalid
        m.d.comb += bus.arready.eq(~bus.rvalid)
        raddr = bus.araddr[2:]
        for r in self.registers:
            if r.device_held:
                m.d.comb += getattr(self, f"{_member(r)}_re").eq(take_r & (raddr == (r.offset >> 2)))
        with m.If(take_r):
            m.d.sync += [bus.rvalid.eq(1), bus.rdata.eq(0), bus.rresp.eq(RESP_SLVERR)]
            with m.Switch(raddr):
                for r in self.registers:
                    with m.Case(r.offset >> 2):
                        value = 0 if r.access == "wo" else getattr(self, _member(r))
                        m.d.sync += [bus.rdata.eq(value), bus.rresp.eq(RESP_OKAY)]
        with m.Elif(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        return m
