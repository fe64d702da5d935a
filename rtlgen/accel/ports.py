"""Read ports that read only when what they show may change (the host's register windows).

A register window onto a memory (``ACT_DATA``, ``MEM_DATA``, ``WEIGHTS_DATA``) shows the byte at
its address register. Its read port reads (``en`` high) only in a cycle whose address differs
from its last read's, or after a write to the memory that may have changed that byte; its data
holds otherwise, so a host that does not read costs the memory no read energy
(:mod:`rtlgen.accel.memories`). The ports are not transparent: a byte written in cycle ``t``
is read in ``t + 1``, and shown from ``t + 2``, as an address set in ``t`` is.
"""
from __future__ import annotations

from typing import Sequence

from amaranth.hdl import Cat, Module, Signal

__all__ = ["read_on_change"]


def read_on_change(m: Module, port, writers: Sequence, *, same_address: bool = False) -> None:
    """Drive ``port.en`` (an Amaranth ``Memory`` read port) from its address and ``writers`` (the
    memory's write ports): read when the address changed or a writer wrote (``same_address``:
    wrote at the port's address, for a memory others write all the time) since the last read."""
    held = Signal.like(port.addr, name=f"{port.addr.name}_held")
    dirty = Signal(init=1, name=f"{port.addr.name}_dirty")
    if same_address:
        wrote = Cat(*(w.en & (w.addr == port.addr) for w in writers)).any()
    else:
        wrote = Cat(*(w.en for w in writers)).any()
    m.d.comb += port.en.eq((port.addr != held) | dirty)
    with m.If(port.en):
        m.d.sync += held.eq(port.addr)
    m.d.sync += dirty.eq(wrote | (dirty & ~port.en))
