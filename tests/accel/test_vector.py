"""The sequencer's ADD / AVERAGE_POOL_2D / MAX_POOL_2D unit (rtlgen/accel/vector.py) in
Amaranth's simulator on a small activation memory, byte for byte against rtlgen.emulate.ops
(LiteRT's reference kernels) on random tensors."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from rtlgen.accel.schedule import pool_reads
from rtlgen.accel.vector import OP_ADD, OP_AVG, OP_MAX, OP_PAD, VectorUnit
from rtlgen.bitstream.format import Geometry
from rtlgen.emulate import ops
from rtlgen.nn import quant

ADDR_BITS = 10


class _Bench(Elaboratable):
    """The unit on a memory of 2**ADDR_BITS bytes, wired as the accelerator wires it (one port)."""

    def __init__(self, init: np.ndarray):
        self.unit = VectorUnit(ADDR_BITS)
        self.mem = Memory(shape=8, depth=1 << ADDR_BITS, init=[int(v) & 0xFF for v in init])

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = u = self.unit
        m.submodules.mem = mem = self.mem
        rd, wr = mem.read_port(), mem.write_port()
        # the port reads only on act_re, as in the device: a byte used but not read is stale
        m.d.comb += [rd.addr.eq(u.act_addr), rd.en.eq(u.act_re), u.act_rdata.eq(rd.data), wr.addr.eq(u.act_addr),
                     wr.en.eq(u.act_we), wr.data.eq(u.act_wdata)]
        return m


def _run(init: np.ndarray, params: dict) -> tuple[np.ndarray, int, int]:
    """Memory after the op (int8), the cycles from start to done and the port's reads."""
    bench = _Bench(init)
    sim = Simulator(bench)
    sim.add_clock(1e-8)
    out = {}

    async def tb(ctx):
        u = bench.unit
        for name, value in params.items():
            ctx.set(getattr(u, name), value)
        ctx.set(u.start, 1)
        await ctx.tick()
        ctx.set(u.start, 0)
        cycles, reads = 1, 0
        while not ctx.get(u.done):
            reads += ctx.get(u.act_re)
            await ctx.tick()
            cycles += 1
            assert cycles < 20_000, "the unit never finished"
        out["cycles"], out["reads"] = cycles, reads
        out["mem"] = np.array([ctx.get(bench.mem.data[i]) for i in range(1 << ADDR_BITS)], np.uint8).view(np.int8)

    sim.add_testbench(tb)
    sim.run()
    return out["mem"], out["cycles"], out["reads"]


def _first_difference(got: np.ndarray, want: np.ndarray) -> str:
    bad = np.flatnonzero(got.ravel() != want.ravel())
    return "" if bad.size == 0 else f"first difference at {bad[0]}: expected {want.ravel()[bad[0]]}, got {got.ravel()[bad[0]]}"


def test_add_matches_tflite_with_odd_zero_points_and_a_clamp() -> None:
    rng = np.random.default_rng(3)
    n = 61
    x1 = rng.integers(-128, 128, n).astype(np.int8)
    x2 = rng.integers(-128, 128, n).astype(np.int8)
    x1[:4] = [-128, 127, -3, 0]
    x2[:4] = [127, -128, 17, 0]
    zp1, zp2, zpo = -3, 17, 5
    params = quant.add_params(0.047, 0.0213, 0.061)
    act = (-100, 90)
    want = ops.add(x1[None], zp1, x2[None], zp2, zpo, params, act)[0]
    assert -100 in want and 90 in want and len(set(want.tolist())) > 40     # clamps and rounding both exercised
    init = np.zeros(1 << ADDR_BITS, np.int8)
    init[0:n], init[100:100 + n] = x1, x2
    ls, (m1, e1), (m2, e2), (mo, eo) = params
    mem, cycles, reads = _run(init, dict(op=OP_ADD, in_base=0, in2_base=100, out_base=300, count=n, z1=zp1, m1=m1, e1=e1,
                                  z2=zp2, m2=m2, e2=e2, left_shift=ls, z_out=zpo, m_out=mo, e_out=eo,
                                  act_min=act[0], act_max=act[1]))
    diff = _first_difference(mem[300:300 + n], want)
    assert not diff, diff
    assert np.array_equal(mem[:300], init[:300]) and not mem[300 + n:].any()     # wrote nothing else
    assert cycles == 3 * n + 11, cycles        # the module docstring's schedule: 3 cycles per element
    assert reads == 2 * n, reads                # x1 and x2 of each element, nothing else


@pytest.mark.parametrize("kind, shape, filt, stride, padding, act", [
    ("avg", (5, 5, 3), (3, 3), (2, 2), "SAME", (-128, 127)),       # padded corners: fewer taps counted
    ("avg", (8, 8, 4), (8, 8), (8, 8), "VALID", (-20, 127)),       # ResNet-8's global pool, clamped
    ("max", (5, 6, 3), (2, 3), (2, 2), "SAME", (-128, 127)),
    ("max", (4, 4, 2), (2, 2), (1, 1), "VALID", (-10, 60)),
])
def test_pools_match_tflite(kind, shape, filt, stride, padding, act) -> None:
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(-128, 128, (1, *shape)).astype(np.int8)
    options = {"filter": filt, "stride": stride, "padding": padding}
    want = (ops.average_pool if kind == "avg" else ops.max_pool)(x, options, act)[0]
    h, w, c = shape
    oh, pt, _ = ops.pad_amounts(padding, h, filt[0], stride[0])
    ow, pl, _ = ops.pad_amounts(padding, w, filt[1], stride[1])
    assert want.shape == (oh, ow, c)
    g = Geometry(h, w, c, oh, ow, c, *filt, *stride, pt, pl)
    init = np.zeros(1 << ADDR_BITS, np.int8)
    init[7:7 + x.size] = x.ravel()
    base = 512
    mem, cycles, reads = _run(init, dict(op=OP_AVG if kind == "avg" else OP_MAX, in_base=7, out_base=base,
                                  act_min=act[0], act_max=act[1], in_h=g.in_h, in_w=g.in_w, in_c=g.in_c,
                                  out_h=g.out_h, out_w=g.out_w, k_h=g.k_h, k_w=g.k_w, stride_h=g.stride_h,
                                  stride_w=g.stride_w, pad_top=g.pad_top, pad_left=g.pad_left))
    diff = _first_difference(mem[base:base + want.size], want)
    assert not diff, diff
    assert np.array_equal(mem[:base], init[:base]) and not mem[base + want.size:].any()
    per_byte = filt[0] * filt[1] + (28 if kind == "avg" else 3)
    assert cycles == want.size * per_byte + 1, cycles
    assert reads == pool_reads(g), (reads, pool_reads(g))     # the taps inside the input only
    if padding == "SAME":
        assert reads < want.size * filt[0] * filt[1]


def test_pad_matches_the_emulation() -> None:
    """PAD of height and width (the digits model's 4x4x8 -> 6x6x8), here uneven: 1 row before,
    2 after, 2 columns before, 0 after; the added bytes hold the value."""
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 4, 5, 3)).astype(np.int8)
    want = ops.pad_spatial(x, ((1, 2), (2, 0)), -7)[0]
    g = Geometry(4, 5, 3, 7, 7, 3, 1, 1, 1, 1, 1, 2)
    init = np.zeros(1 << ADDR_BITS, np.int8)
    init[3:3 + x.size] = x.ravel()
    mem, cycles, reads = _run(init, dict(op=OP_PAD, in_base=3, out_base=400, pad_value=-7, act_min=-128, act_max=127,
                                  in_h=g.in_h, in_w=g.in_w, in_c=g.in_c, out_h=g.out_h, out_w=g.out_w, k_h=1, k_w=1,
                                  stride_h=1, stride_w=1, pad_top=g.pad_top, pad_left=g.pad_left))
    diff = _first_difference(mem[400:400 + want.size], want)
    assert not diff, diff
    assert np.array_equal(mem[:400], init[:400]) and not mem[400 + want.size:].any()
    assert cycles == 4 * want.size + 1, cycles
    assert reads == pool_reads(g) == x.size, reads      # each input byte once; the added ones are not read
