"""The whole accelerator in Amaranth's simulator, multipliers modelled by their tables.

Synthetic layers and random (valid) multiplier tables exercise what the ResNet-8 runs in
Verilator cannot reach cheaply: a group of lanes only partly used (out_c not a multiple of L),
products per output fewer than lanes (the controller's stall), strides, asymmetric padding,
non-ReLU zero points, every encoding and granularity, units switched between layers. The golden
model is the emulation's :func:`rtlgen.emulate.encoding.dot` and :func:`rtlgen.nn.quant.requantize`.
"""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from dataclasses import replace

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.job import ConvJob, conv_job
from rtlgen.accel.multiplier import MultiplierSpec
from rtlgen.accel.schedule import engine_cycles
from rtlgen.accel.top import Accelerator
from rtlgen.emulate.encoding import dot
from rtlgen.nn.geometry import Geometry
from rtlgen.nn.quant import requantize
from rtlgen.netlist.table import exact_table

from bitstream_cases import ACCEL, small_bitstream, small_weights

pytestmark = pytest.mark.slow

CONFIG = AccelConfig(units=2, lanes=3, multipliers=2, activation_bytes=1024, weight_words=256,
                     channels=16)


def _tables(rng):
    tu, ts = exact_table(False), exact_table(True)
    noisy_u = np.clip(tu + rng.integers(-60, 60, tu.shape), 0, 65535).astype(np.int32)
    noisy_s = np.clip(ts + rng.integers(-60, 60, ts.shape), -32768, 32767).astype(np.int32)
    return [[tu, noisy_u], [ts, noisy_s]]


def golden(x, w, bias, mult, shift, sel, tables, *, z_x, z_y, act_min, act_max, stride, pad,
           out_hw, encoding, rounding="double"):
    """Per-kernel mixing as a sum of per-table dot products (corrections are additive)."""
    H, W, C = x.shape
    O, KH, KW, _ = w.shape
    oh, ow = out_hw
    (sh, sw), (pt, pl) = stride, pad
    xp = np.full((max(H + pt, (oh - 1) * sh + KH), max(W + pl, (ow - 1) * sw + KW), C), z_x,
                 dtype=np.int32)
    xp[pt:pt + H, pl:pl + W] = x
    patches = np.stack([xp[oy * sh:oy * sh + KH, ox * sw:ox * sw + KW].reshape(-1)
                        for oy in range(oh) for ox in range(ow)])
    ci = np.tile(np.arange(C), KH * KW)
    acc = np.zeros((oh * ow, O), dtype=np.int64)
    for o in range(O):
        wo = w[o].reshape(-1)
        for m, t in enumerate(tables):
            taps = sel[o][ci] == m
            if taps.any():
                acc[:, o] += dot(t, patches[:, taps], np.broadcast_to(wo[taps], patches[:, taps].shape),
                                 z_x, encoding)
    return requantize(acc + bias, mult, shift, z_y, act_min, act_max,
                      rounding=rounding).reshape(oh, ow, O)


def _case(rng, tables, *, unit, encoding, mode, cin, cout, hw, k, stride, pad, out_hw, z_x,
          rounding="double"):
    x = rng.integers(-128, 128, (*hw, cin)).astype(np.int8)
    if encoding == "signmag":
        x = np.maximum(x, z_x).astype(np.int8)
    w = rng.integers(-127, 128, (cout, k, k, cin)).astype(np.int8)
    bias = rng.integers(-3000, 3000, cout)
    mult = rng.integers(1 << 30, 1 << 31, cout)
    shift = rng.integers(-11, -7, cout)
    if mode == "layer":
        sel = np.ones((cout, cin), dtype=np.int64)
    elif mode == "filter":
        sel = np.repeat(rng.integers(0, 2, (cout, 1)), cin, axis=1)
    else:
        sel = rng.integers(0, 2, (cout, cin))
    q = dict(z_x=z_x, z_y=int(rng.integers(-20, 20)), act_min=-100, act_max=110)
    geometry = Geometry(*hw, cin, *out_hw, cout, k, k, *stride, *pad)
    job = conv_job(CONFIG, x, w, bias, mult, shift, geometry=geometry, unit=unit, encoding=encoding,
                   sel_mode=mode, layer_sel=1, selects=sel if mode == "kernel" else sel[:, 0],
                   rounding=rounding, **q)
    expected = golden(x, w, bias, mult, shift, sel, tables[unit], encoding=encoding,
                      rounding=rounding, stride=stride, pad=pad, out_hw=out_hw, **q)
    return job, expected


def scramble_selects(job: ConvJob, rng) -> ConvJob:
    """Random select fields where the descriptor's mode says the hardware must ignore them:
    every word in ``layer`` mode, all but a group's first word in ``filter`` mode."""
    d = job.descriptor
    if d.sel_mode == "kernel":
        return job
    L, S = CONFIG.lanes, CONFIG.select_bits
    field = ((1 << (L * S)) - 1) << (8 * L)
    words = list(job.weight_words)
    for i in range(len(words)):
        if d.sel_mode == "layer" or i % d.products:
            words[i] = (words[i] & ~field) | (int(rng.integers(0, 1 << (L * S))) << (8 * L))
    return replace(job, weight_words=words)


def run_jobs(dut: Accelerator, jobs: list[ConvJob], registers: list[int] | None = None):
    """Run ``jobs`` one after another through the host ports: per job (output, cycles, issued,
    reads), ``reads`` the cycles from start to done with each read enable of the engine high
    (``act``, ``wgt``, ``par``: rtlgen.accel.memories counts on them). ``registers``: per job, how
    many of its descriptor's registers to write (default all)."""
    results = []
    io = dut.engine_io
    registers = registers or [None] * len(jobs)

    async def write(ctx, we, addr, data, items):
        for a, v in items:
            ctx.set(we, 1)
            ctx.set(addr, a)
            ctx.set(data, int(v))
            await ctx.tick()
        ctx.set(we, 0)

    async def bench(ctx):
        for job, n_registers in zip(jobs, registers, strict=True):
            await write(ctx, dut.cfg_we, dut.cfg_addr, dut.cfg_data, job.descriptor.words()[:n_registers])
            await write(ctx, dut.act_we, dut.act_addr, dut.act_wdata, enumerate(job.activations))
            await write(ctx, dut.wgt_we, dut.wgt_addr, dut.wgt_wdata, enumerate(job.weight_words))
            await write(ctx, dut.par_we, dut.par_addr, dut.par_wdata, enumerate(job.param_words))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            reads = {"act": 0, "wgt": 0, "par": 0}
            for _ in range(20000):
                if ctx.get(dut.done):
                    break
                for k in reads:
                    reads[k] += ctx.get(getattr(io, f"{k}_re"))
                await ctx.tick()
            else:
                raise AssertionError("the layer did not finish")
            cycles, issued = ctx.get(dut.cycles), ctx.get(dut.issued)
            raw = []
            for i in range(job.output_bytes):
                ctx.set(dut.act_addr, job.descriptor.out_base + i)
                await ctx.tick()
                raw.append(ctx.get(dut.act_rdata))
            results.append((job.output(raw), cycles, issued, reads))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return results


def test_layers_match_golden_model():
    rng = np.random.default_rng(3)
    tables = _tables(rng)
    banks = [[MultiplierSpec("u", False, table=tables[0][0]), MultiplierSpec("u~", False, table=tables[0][1])],
             [MultiplierSpec("s", True, table=tables[1][0]), MultiplierSpec("s~", True, table=tables[1][1])]]
    dut = Accelerator(CONFIG, banks)
    specs = [
        # 3x3, stride (2, 1), pad (1, 1), 4 output channels = one full and one partial group
        dict(unit=1, encoding="raw", mode="kernel", cin=3, cout=4, hw=(5, 5), k=3, stride=(2, 1),
             pad=(1, 1), out_hw=(3, 5), z_x=5),
        dict(unit=0, encoding="signmag", mode="filter", cin=3, cout=4, hw=(4, 5), k=3,
             stride=(1, 1), pad=(1, 0), out_hw=(4, 3), z_x=-128),
        dict(unit=0, encoding="offset", mode="kernel", cin=2, cout=3, hw=(4, 4), k=3, stride=(1, 1),
             pad=(1, 1), out_hw=(4, 4), z_x=-7),
        # 1x1 with 2 input channels: K = 2 < L + 3, the controller must stall for the epilogue
        dict(unit=0, encoding="offset", mode="layer", cin=2, cout=5, hw=(3, 3), k=1, stride=(1, 1),
             pad=(0, 0), out_hw=(3, 3), z_x=3),
        dict(unit=1, encoding="raw", mode="filter", cin=1, cout=2, hw=(3, 4), k=1, stride=(1, 2),
             pad=(0, 0), out_hw=(3, 2), z_x=-128),
        # a fully connected layer: 1x1 image, single rounding
        dict(unit=0, encoding="signmag", mode="kernel", cin=6, cout=4, hw=(1, 1), k=1,
             stride=(1, 1), pad=(0, 0), out_hw=(1, 1), z_x=-128, rounding="single"),
        dict(unit=0, encoding="signmag", mode="kernel", cin=4, cout=3, hw=(3, 3), k=2, stride=(1, 1),
             pad=(0, 0), out_hw=(2, 2), z_x=-20),
    ]
    cases = [_case(rng, tables, **s) for s in specs]
    cases = [(scramble_selects(job, rng), expected) for job, expected in cases]
    results = run_jobs(dut, [job for job, _ in cases])
    for i, ((job, expected), (got, cycles, issued, reads)) in enumerate(zip(cases, results)):
        d = job.descriptor
        bad = np.argwhere(got != expected)
        assert not len(bad), (f"case {i} ({d.encoding}, {d.sel_mode}): pixel {tuple(bad[0][:2])} "
                              f"channel {bad[0][2]}: expected {expected[tuple(bad[0])]}, got "
                              f"{got[tuple(bad[0])]}")
        assert issued == d.groups(CONFIG.lanes) * d.out_h * d.out_w * d.products
        # the memories are read only when their data is used: an activation byte and a weight word
        # per product issued, a parameter word per output value (rtlgen.accel.memories)
        assert reads == {"act": issued, "wgt": issued, "par": d.out_h * d.out_w * d.out_c}, (i, reads)
        # to the cycle, as the device's cycle model counts it (rtlgen.accel.schedule)
        g = Geometry(d.in_h, d.in_w, d.in_c, d.out_h, d.out_w, d.out_c, d.kh, d.kw, d.stride_h, d.stride_w,
                     d.pad_top, d.pad_left)
        assert cycles == engine_cycles(g, CONFIG.lanes, depthwise=d.depthwise), (i, cycles)


def test_a_layer_runs_as_two_shares_on_two_units():
    """A layer split by output channels (descriptor registers co_first, co_end): 7 channels on 3
    lanes (groups of 3, 3, 1) as [0, 3) on unit 1 and [3, 7) on unit 0, each share with its
    range's weight words only (from w_base) and the parameters of every channel. Each share writes
    its channels and no other, from its unit's multipliers, in engine_cycles' count over its
    range. Then the layer again with only the first 26 registers written (as the sequencer does
    for a descriptor that is no share): the engine cleared the range when the share ended, so the
    whole layer runs."""
    from rtlgen.accel.descriptor import WHOLE_LAYER_FIELDS

    rng = np.random.default_rng(8)
    tu = exact_table(False)
    noisy = [np.clip(tu + rng.integers(-300, 300, tu.shape), 0, 65535).astype(np.int32) for _ in range(2)]
    tables = [[tu, noisy[0]], [tu, noisy[1]]]          # two unsigned banks that differ in slot 1
    banks = [[MultiplierSpec(f"u{u}", False, table=t[0]), MultiplierSpec(f"u{u}~", False, table=t[1])]
             for u, t in enumerate(tables)]
    dut = Accelerator(CONFIG, banks)
    geometry = Geometry(4, 4, 2, 4, 4, 7, 3, 3, 1, 1, 1, 1)
    K, cout = 3 * 3 * 2, 7
    w = rng.integers(-127, 128, (cout, 3, 3, 2)).astype(np.int8)
    bias, mult, shift = rng.integers(-3000, 3000, cout), rng.integers(1 << 30, 1 << 31, cout), rng.integers(-11, -7, cout)
    sel = rng.integers(0, 2, (cout, 2))
    q = dict(z_x=-128, z_y=4, act_min=-100, act_max=110)

    def job(x, unit):
        j = conv_job(CONFIG, x, w, bias, mult, shift, geometry=geometry, unit=unit, encoding="signmag",
                     sel_mode="kernel", selects=sel, **q)
        want = golden(x, w, bias, mult, shift, sel, tables[unit], encoding="signmag", stride=(1, 1), pad=(1, 1),
                      out_hw=(4, 4), **q)
        return j, want

    x, x2 = (rng.integers(-128, 128, (4, 4, 2)).astype(np.int8) for _ in range(2))
    (j1, want1), (j0, want0) = job(x, 1), job(x, 0)
    assert (want0 != want1).any()                     # the units' multipliers tell the shares apart
    share0 = replace(j1, descriptor=replace(j1.descriptor, co_first=0, co_end=3), weight_words=j1.weight_words[:K])
    share1 = replace(j0, descriptor=replace(j0.descriptor, co_first=3), weight_words=j0.weight_words[K:])
    for share in (share0, share1):
        share.descriptor.check(CONFIG)
    assert [s.descriptor.groups(CONFIG.lanes) for s in (share0, share1)] == [1, 2]
    whole, want_whole = job(x2, 0)
    results = run_jobs(dut, [share0, share1, whole], registers=[None, None, WHOLE_LAYER_FIELDS])
    (after0, c0, i0, r0), (after1, c1, i1, r1), (again, c2, i2, r2) = results
    # a share reads the parameters of its channels only
    assert [r["par"] for r in (r0, r1, r2)] == [16 * 3, 16 * 4, 16 * 7]
    # the first share: channels 0..2 from unit 1, the others untouched (the memory starts at 0)
    np.testing.assert_array_equal(after0[..., :3], want1[..., :3])
    assert not after0[..., 3:].any()
    # the second: channels 3..6 from unit 0, the first share's left as they were
    np.testing.assert_array_equal(after1, np.concatenate([want1[..., :3], want0[..., 3:]], axis=-1))
    assert (i0, i1) == (1 * 16 * K, 2 * 16 * K)
    assert c0 == engine_cycles(geometry, CONFIG.lanes, co_first=0, co_end=3)
    assert c1 == engine_cycles(geometry, CONFIG.lanes, co_first=3)
    # the range did not outlive the share: the whole layer, on a new input
    np.testing.assert_array_equal(again, want_whole)
    assert (c2, i2) == (engine_cycles(geometry, CONFIG.lanes), 3 * 16 * K)


# --------------------------------------------------------------------------------------------
# The front end inside the accelerator top (rtlgen.accel.loader.DeviceFrontend): CTRL.START
# runs the engine only after an accepted config.bin and the matching weights.bin (the layer
# itself still comes through the host ports)


def test_start_over_axi_runs_the_engine_only_after_both_images() -> None:
    from rtlgen.accel.loader import DeviceFrontend
    from rtlgen.accel.multiplier import MultiplierSpec
    from rtlgen.accel.regmap import register
    from rtlgen.accel.top import Accelerator

    rng = np.random.default_rng(5)
    tables = _tables(rng)
    banks = [[MultiplierSpec("u", False, table=tables[0][0]), MultiplierSpec("u~", False, table=tables[0][1])],
             [MultiplierSpec("s", True, table=tables[1][0]), MultiplierSpec("s~", True, table=tables[1][1])]]
    dut = Accelerator(CONFIG, banks, device=DeviceFrontend(ACCEL, 1024, lanes=CONFIG.lanes, weights_capacity=512))
    job, expected = _case(rng, tables, unit=0, encoding="signmag", mode="filter", cin=2, cout=3, hw=(3, 3), k=3,
                          stride=(1, 1), pad=(1, 1), out_hw=(3, 3), z_x=-128)
    good = small_bitstream(model_hash=None)     # names small_weights()'s model
    weights = small_weights(lanes=CONFIG.lanes)
    bad = bytearray(good)
    bad[40] ^= 0x10
    start_word = register("CTRL").field("START").mask
    seen: dict = {}

    async def axil_write(ctx, addr, value):
        b = dut.s_axil
        ctx.set(b.awaddr, addr)
        ctx.set(b.wdata, value)
        ctx.set(b.awvalid, 1)
        ctx.set(b.wvalid, 1)
        ctx.set(b.bready, 1)
        while not ctx.get(b.awready):
            await ctx.tick()
        await ctx.tick()
        ctx.set(b.awvalid, 0)
        ctx.set(b.wvalid, 0)
        while not ctx.get(b.bvalid):
            await ctx.tick()
        await ctx.tick()

    async def stream(ctx, data):
        s = dut.s_axis
        for k, byte in enumerate(data):
            ctx.set(s.tdata, byte)
            ctx.set(s.tlast, k == len(data) - 1)
            ctx.set(s.tvalid, 1)
            await ctx.tick()
        ctx.set(s.tvalid, 0)
        for _ in range(4):
            await ctx.tick()

    async def write(ctx, we, addr, data, items):
        for a, v in items:
            ctx.set(we, 1)
            ctx.set(addr, a)
            ctx.set(data, int(v))
            await ctx.tick()
        ctx.set(we, 0)

    async def refused(ctx) -> bool:
        await axil_write(ctx, register("CTRL").offset, start_word)
        busy = False
        for _ in range(50):
            busy |= bool(ctx.get(dut.busy))
            await ctx.tick()
        return not busy

    async def bench(ctx):
        await write(ctx, dut.cfg_we, dut.cfg_addr, dut.cfg_data, job.descriptor.words())
        await write(ctx, dut.act_we, dut.act_addr, dut.act_wdata, enumerate(job.activations))
        await write(ctx, dut.wgt_we, dut.wgt_addr, dut.wgt_wdata, enumerate(job.weight_words))
        await write(ctx, dut.par_we, dut.par_addr, dut.par_wdata, enumerate(job.param_words))
        await stream(ctx, bytes(bad))
        seen["refused_after_rejected"] = await refused(ctx)
        await stream(ctx, good)
        seen["refused_without_weights"] = await refused(ctx)
        await stream(ctx, weights)
        await axil_write(ctx, register("CTRL").offset, start_word)
        for _ in range(5000):
            if ctx.get(dut.done):
                break
            await ctx.tick()
        seen["done"] = bool(ctx.get(dut.done))
        raw = []
        for i in range(job.output_bytes):
            ctx.set(dut.act_addr, job.descriptor.out_base + i)
            await ctx.tick()
            raw.append(ctx.get(dut.act_rdata))
        seen["output"] = job.output(raw)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen["refused_after_rejected"] and seen["refused_without_weights"]
    assert seen["done"]
    np.testing.assert_array_equal(seen["output"], expected)
