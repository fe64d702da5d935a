"""Register windows' read ports (rtlgen/accel/ports.py) in Amaranth's simulator: they read only
when the address changed or the byte may have, and always show the memory's current byte."""
from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtlgen.accel.ports import read_on_change


class _Window(Elaboratable):
    """A 16-byte memory, a window's read port at ``addr`` and one other writer."""

    def __init__(self, same_address: bool):
        self.same_address = same_address
        self.mem = Memory(shape=8, depth=16, init=list(range(100, 116)))
        self.addr, self.data, self.en = Signal(4), Signal(8), Signal()
        self.we, self.waddr, self.wdata = Signal(), Signal(4), Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = self.mem
        rd, wr = self.mem.read_port(), self.mem.write_port()
        m.d.comb += [rd.addr.eq(self.addr), self.data.eq(rd.data), self.en.eq(rd.en),
                     wr.en.eq(self.we), wr.addr.eq(self.waddr), wr.data.eq(self.wdata)]
        read_on_change(m, rd, [wr], same_address=self.same_address)
        return m


def _trace(same_address: bool) -> list[tuple[int, int]]:
    """Per cycle (read enable, data shown) over: address 5 held, a write elsewhere, a write at
    5, the address moved to 9."""
    dut = _Window(same_address)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    steps = [dict(addr=5)] * 4 + [dict(addr=5, we=1, waddr=9, wdata=1)] + [dict(addr=5)] * 3 \
        + [dict(addr=5, we=1, waddr=5, wdata=42)] + [dict(addr=5)] * 3 + [dict(addr=9)] * 3
    out = []

    async def tb(ctx):
        for step in steps:
            for name in ("addr", "we", "waddr", "wdata"):
                ctx.set(getattr(dut, name), step.get(name, 0))
            out.append((ctx.get(dut.en), ctx.get(dut.data)))
            await ctx.tick()

    sim.add_testbench(tb)
    sim.run()
    return out


def test_a_window_reads_only_when_its_byte_may_change() -> None:
    t = _trace(same_address=True)
    en, data = [e for e, _ in t], [d for _, d in t]
    # the first cycle reads (nothing read yet); then address 5 holds: no reads, the byte shown
    assert en[:4] == [1, 0, 0, 0] and data[1:4] == [105] * 3
    # a write elsewhere: no read; a write at 5 (cycle 8): read in cycle 9, shown from cycle 10
    assert en[4:9] == [0] * 5 and en[9:12] == [1, 0, 0] and data[8:10] == [105, 105] and data[10:12] == [42, 42]
    # the address moves to 9: one read, then the byte written there earlier
    assert en[12:] == [1, 0, 0] and data[13:] == [1, 1]
    assert sum(en) == 3


def test_a_window_of_a_memory_written_rarely_rereads_after_any_write() -> None:
    t = _trace(same_address=False)
    en = [e for e, _ in t]
    # the write at 9 (cycle 4) makes the window at 5 read again in cycle 5; the byte is unchanged
    assert en[:6] == [1, 0, 0, 0, 0, 1] and t[6][1] == 105
    assert en[9] == 1 and t[10][1] == 42 and sum(en) == 4
