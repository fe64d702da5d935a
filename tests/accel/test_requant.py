from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtlgen.accel.requant import LATENCY, Requantizer
from rtlgen.nn.quant import requantize


def _cases(rng: np.random.Generator, n: int):
    acc = rng.integers(-(1 << 31), 1 << 31, n, dtype=np.int64)
    acc[:8] = [-(1 << 31), (1 << 31) - 1, 0, -1, 1, 1 << 20, -(1 << 20), 12345]
    mult = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    mult[:3] = [-(1 << 31), (1 << 31) - 1, 1 << 30]
    shift = rng.integers(-31, 31, n)
    zp = rng.integers(-128, 128, n)
    lo = rng.integers(-128, 0, n)
    hi = rng.integers(0, 128, n)
    # Most cases land inside the int8 range (clamping would hide rounding errors), half of them
    # on an exact rounding tie of one of the two steps.
    for i in range(8, n):
        s = int(rng.integers(-14, 1))
        mult[i] = int(rng.integers(1 << 30, 1 << 31))
        scale = mult[i] * 2.0 ** (s - 31)
        acc[i] = int(rng.integers(-120, 120) / scale) + int(rng.integers(-3, 4))
        shift[i] = s
        lo[i], hi[i] = -128, 127
        zp[i] = rng.integers(-10, 10)
        if i % 2:
            # m = 2**30 halves exactly: x odd ties step 1 (shift 0); x = odd * 2**e makes
            # x*m/2**31 = odd * 2**(e-1), a tie of step 2 (shift -e).
            e = int(rng.integers(0, 8))
            mult[i], shift[i] = 1 << 30, -e
            acc[i] = (2 * int(rng.integers(-100, 100)) + 1) << e
    return acc, mult, shift, zp, lo, hi


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_requantizer_matches_tflite(rounding):
    rng = np.random.default_rng(7)
    acc, mult, shift, zp, lo, hi = _cases(rng, 400)
    acc[0], mult[0] = -(1 << 31), -(1 << 31)   # the saturating case (double rounding)
    expected = [int(requantize(np.int64(a), m, s, int(z), int(l), int(h), rounding=rounding))
                for a, m, s, z, l, h in zip(acc, mult, shift, zp, lo, hi)]
    dut = Requantizer(tag_bits=16)
    got = {}

    async def bench(ctx):
        for i in range(len(acc) + LATENCY + 1):
            if i < len(acc):
                ctx.set(dut.valid, 1)
                ctx.set(dut.acc, int(acc[i]))
                ctx.set(dut.mult, int(mult[i]))
                ctx.set(dut.shift, int(shift[i]))
                ctx.set(dut.z_y, int(zp[i]))
                ctx.set(dut.act_min, int(lo[i]))
                ctx.set(dut.act_max, int(hi[i]))
                ctx.set(dut.tag, i)
                ctx.set(dut.single, rounding == "single")
            else:
                ctx.set(dut.valid, 0)
            await ctx.tick()
            if ctx.get(dut.out_valid):
                got[ctx.get(dut.out_tag)] = ctx.get(dut.out)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(got) == len(acc)
    for i, e in enumerate(expected):
        assert got[i] == e, (f"case {i}: acc={acc[i]} mult={mult[i]} shift={shift[i]} "
                             f"zp={zp[i]}: expected {e}, got {got[i]}")
