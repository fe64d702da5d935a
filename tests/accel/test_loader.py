"""The streaming image checker (rtlgen/accel/loader.py) in Amaranth's simulator and, as the
generated front end, in Icarus driven by cocotbext-axi, against the Python decoders: every case's
error code and byte offset must be what :class:`rtlgen.accel.loader.DeviceModel` (built on
``bitstream.format.decode`` and ``bitstream.weights.decode``) says."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtlgen.accel.loader import (DeviceModel, ImageLoader, config_capacity, crc32_byte, expected_verdict,
                                 expected_weights_verdict)
from rtlgen.accel.regmap import DEVICE_ID, REGMAP_VERSION, ErrorCode
from rtlgen.bitstream import weights as wmod
from rtlgen.bitstream.format import VERSION, encode

from bitstream_cases import ACCEL, LANES, OTHER, small_bitstream, small_weights

WCAP = 512      # weights store of the small tests (small_weights() is 472 bytes)


def run_frames(frames: list[bytes], *, accel: str = ACCEL, capacity: int = 1024, weights_capacity: int = WCAP,
               readback: int = 0) -> list[dict]:
    """Stream each frame (tlast on its last byte) through one ImageLoader; per frame: error,
    code, offset, valid bits, bytes received, and the first ``readback`` bytes of the memory of
    the frame's image."""
    dut = ImageLoader(accel, capacity, lanes=LANES, weights_capacity=weights_capacity)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    results: list[dict] = []

    async def bench(ctx):
        s = dut.s_axis
        for frame in frames:
            for k, byte in enumerate(frame):
                ctx.set(s.tdata, byte)
                ctx.set(s.tlast, k == len(frame) - 1)
                ctx.set(s.tvalid, 1)
                while not ctx.get(s.tready):
                    await ctx.tick()
                await ctx.tick()
            ctx.set(s.tvalid, 0)
            while ctx.get(dut.loading):
                await ctx.tick()
            weights = DeviceModel.is_weights(frame)
            raddr, rdata = (dut.wmem_raddr, dut.wmem_rdata) if weights else (dut.mem_raddr, dut.mem_rdata)
            mem = []
            for a in range(readback):
                ctx.set(raddr, a)
                await ctx.tick()
                mem.append(ctx.get(rdata))
            results.append({"error": ctx.get(dut.error), "code": ctx.get(dut.error_code),
                            "offset": ctx.get(dut.error_offset), "valid": ctx.get(dut.config_valid),
                            "weights_valid": ctx.get(dut.weights_valid),
                            "count": ctx.get(dut.bytes_received), "length": ctx.get(dut.config_length),
                            "weights_length": ctx.get(dut.weights_length), "mem": bytes(mem)})

    sim.add_testbench(bench)
    sim.run()
    return results


def test_crc32_logic_is_zlibs() -> None:
    from amaranth.hdl import Module, Signal

    crc, byte, nxt = Signal(32), Signal(8), Signal(32)
    m = Module()
    m.d.comb += nxt.eq(crc32_byte(crc, byte))
    sim = Simulator(m)
    data = b"RTLB\x01\x00 any bytes \xff\x00"
    got = []

    async def bench(ctx):
        value = 0xFFFFFFFF
        for b in data:
            ctx.set(crc, value)
            ctx.set(byte, b)
            value = ctx.get(nxt)
        got.append(value ^ 0xFFFFFFFF)

    sim.add_testbench(bench)
    sim.run()
    assert got == [zlib.crc32(data)]


def test_valid_bitstream_accepted_and_stored() -> None:
    data = small_bitstream()
    assert expected_verdict(data, ACCEL, 1024) == (ErrorCode.NONE, 0)
    (r,) = run_frames([data], readback=len(data) - 16)
    assert (r["error"], r["code"], r["valid"]) == (0, 0, 1)
    assert r["count"] == r["length"] == len(data)
    assert r["mem"] == data[12:-4]


def _cases() -> list[tuple[str, bytes]]:
    data = small_bitstream()
    n = len(data)
    rng = np.random.default_rng(13)
    cases = []
    offsets = sorted({0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, n - 5, n - 4, n - 1,
                      *rng.integers(0, n, 12).tolist()})
    for off in offsets:
        flipped = bytearray(data)
        flipped[off] ^= 1 << int(rng.integers(0, 8))
        cases.append((f"flip@{off}", bytes(flipped)))
    for cut in sorted({1, 3, 4, 8, 11, 12, 13, 40, n - 4, n - 1, *rng.integers(1, n, 8).tolist()}):
        cases.append((f"cut@{cut}", data[:cut]))
    cases.append(("extra", data + b"\x00\x01"))
    cases.append(("other accel", small_bitstream(OTHER)))
    cases.append(("version 1", small_bitstream(version=1)))
    cases.append(("version 2", small_bitstream(version=2)))
    short = bytearray(data[:12])
    struct.pack_into("<I", short, 8, 15)
    cases.append(("declared 15", bytes(short) + b"\0" * 3))
    cases.append(("valid", data))
    return cases


@pytest.mark.slow
def test_rejections_agree_with_the_decoder() -> None:
    cases = _cases()
    got = run_frames([c for _, c in cases])
    seen = set()
    for (name, data), r in zip(cases, got):
        code, offset = expected_verdict(data, ACCEL, 1024)
        seen.add(code)
        assert (ErrorCode(r["code"]), r["offset"]) == (code, offset), name
        assert r["error"] == (code != ErrorCode.NONE) and r["valid"] == (code == ErrorCode.NONE), name
        assert r["count"] == len(data), name
    assert {ErrorCode.BAD_MAGIC, ErrorCode.BAD_VERSION, ErrorCode.BAD_FLAGS, ErrorCode.BAD_LENGTH,
            ErrorCode.TRUNCATED, ErrorCode.TOO_LONG, ErrorCode.CRC_MISMATCH,
            ErrorCode.ACCEL_HASH_MISMATCH, ErrorCode.NONE} <= seen


def test_too_large_for_the_memory() -> None:
    data = small_bitstream()
    assert expected_verdict(data, ACCEL, 32) == (ErrorCode.TOO_LARGE, 8)
    (r,) = run_frames([data], capacity=32)
    assert (ErrorCode(r["code"]), r["offset"]) == (ErrorCode.TOO_LARGE, 8)


def test_expected_verdict_follows_the_decoders_order() -> None:
    data = small_bitstream()
    bad = bytearray(data)
    bad[4] = VERSION + 1    # an unknown version and a bad CRC: the version is checked first
    assert expected_verdict(bytes(bad), ACCEL, 1024) == (ErrorCode.BAD_VERSION, 4)
    # decode still reads versions 1 to 3; this hardware reads only the version it is built for
    assert expected_verdict(small_bitstream(version=1), ACCEL, 1024) == (ErrorCode.BAD_VERSION, 4)
    assert expected_verdict(small_bitstream(version=2), ACCEL, 1024) == (ErrorCode.BAD_VERSION, 4)
    assert expected_verdict(small_bitstream(version=3), ACCEL, 1024) == (ErrorCode.BAD_VERSION, 4)
    assert expected_verdict(small_bitstream(OTHER), ACCEL, 1024) == (ErrorCode.ACCEL_HASH_MISMATCH, 12)
    assert expected_verdict(data[:-1], ACCEL, 1024) == (ErrorCode.TRUNCATED, len(data) - 1)


def test_capacity_from_the_config() -> None:
    from rtlgen.accel.config import AccelConfig

    cfg = AccelConfig(units=2, lanes=4, multipliers=4, activation_bytes=64, weight_words=16, channels=64)
    cap = config_capacity(cfg)
    assert cap & (cap - 1) == 0 and cap >= 16 * (6 * 64 + 257)
    with pytest.raises(ValueError, match=r"^configuration memory capacity must be at least 1 byte, not 0$"):
        ImageLoader(ACCEL, 0, lanes=4, weights_capacity=16)
    with pytest.raises(ValueError, match=r"^weights store capacity must be at least 1 byte, not 0$"):
        ImageLoader(ACCEL, 16, lanes=4, weights_capacity=0)


# --------------------------------------------------------------------------------------------
# weights.bin on the same sink: checked against the hardware's lanes and store, and against
# the model hash of the accepted config.bin


def _recrc(data: bytes | bytearray) -> bytes:
    """``data`` with its CRC field made right again (a header edited on purpose)."""
    out = bytearray(data)
    out[-4:] = struct.pack("<I", zlib.crc32(bytes(out[:-4])))
    return bytes(out)


def _big_weights() -> bytes:
    """A valid weights.bin of more than WCAP bytes after its first 12 (for TOO_LARGE)."""
    rng = np.random.default_rng(3)
    layer = wmod.LayerWeights(0, "conv2d", rng.integers(-128, 128, (8, 3, 3, 8)), rng.integers(-9, 9, 8))
    return wmod.encode(wmod.WeightsImage(LANES, (layer,)))


def _weights_cases(*, n_flips: int = 14, n_cuts: int = 8, seed: int = 11) -> list[tuple[str, bytes]]:
    """A sequence of frames for one front end: weights before any config, the config of
    small_weights()'s model, then weights.bin cases (valid, flipped bits and truncations at
    sampled offsets, header faults, another model, other lanes, too large), a config of no
    model, a new config (the weights must be loaded again)."""
    cfg = small_bitstream(model_hash=None)
    data = small_weights()
    n = len(data)
    rng = np.random.default_rng(seed)
    cases = [("weights before config", data), ("config", cfg), ("valid", data)]
    offsets = sorted({0, 3, 4, 6, 8, 12, 13, 16, 31, 32, n - 4, n - 1, *rng.integers(0, n, n_flips).tolist()})
    for off in offsets:
        bad = bytearray(data)
        bad[off] ^= 1 << int(rng.integers(0, 8))
        cases.append((f"flip@{off}", bytes(bad)))
    for cut in sorted({1, 3, 4, 12, 31, 32, 33, n - 4, n - 1, *rng.integers(1, n, n_cuts).tolist()}):
        cases.append((f"cut@{cut}", data[:cut]))
    # a frame of no known kind (a flipped magic byte, a cut before byte 4) invalidated the config
    cases.append(("config reloaded", cfg))
    version = bytearray(data)
    version[4] = 2
    flags = bytearray(data)
    flags[6] = 1
    short = bytearray(data[:32])
    struct.pack_into("<I", short, 8, 35)
    cases += [("extra", data + b"\x00\x01"), ("version 2", _recrc(version)), ("flags", _recrc(flags)),
              ("declared 35", bytes(short) + b"\0" * 3),
              ("other model", small_weights(1)), ("lanes 2", small_weights(lanes=2)),
              ("too large", _big_weights()), ("valid again", data),
              ("config of no model", small_bitstream()), ("weights, config names no model", data),
              ("config again", cfg), ("config: weights invalid", small_bitstream(OTHER)),
              ("weights without a valid config", data), ("config once more", cfg), ("valid at last", data)]
    return cases


def test_expected_weights_verdict_follows_the_decoders_order() -> None:
    data = small_weights()
    mh = wmod.decode(data).model_hash
    assert expected_weights_verdict(data, LANES, WCAP, mh) == (ErrorCode.NONE, 0)
    bad = bytearray(data)
    bad[4] = 3                  # version first, before the CRC
    assert expected_weights_verdict(bytes(bad), LANES, WCAP, mh) == (ErrorCode.BAD_VERSION, 4)
    assert expected_weights_verdict(data[:20], LANES, WCAP, mh) == (ErrorCode.TRUNCATED, 20)
    assert expected_weights_verdict(data, LANES, 64, mh) == (ErrorCode.TOO_LARGE, 8)
    assert expected_weights_verdict(small_weights(lanes=2), LANES, WCAP, mh) == (ErrorCode.LANES_MISMATCH, 12)
    assert expected_weights_verdict(data, LANES, WCAP, None) == (ErrorCode.NO_CONFIG, 16)
    assert expected_weights_verdict(small_weights(1), LANES, WCAP, mh) == (ErrorCode.MODEL_HASH_MISMATCH, 16)
    assert expected_weights_verdict(data, LANES, WCAP, "") == (ErrorCode.MODEL_HASH_MISMATCH, 16)
    # the sequence rules: a new config.bin invalidates the weights; START needs both
    model = DeviceModel(ACCEL, 1024, lanes=LANES, weights_capacity=WCAP)
    assert model.load(data) == (ErrorCode.NO_CONFIG, 16) and not model.can_start
    assert model.load(small_bitstream(model_hash=None)) == (ErrorCode.NONE, 0) and not model.can_start
    assert model.load(data) == (ErrorCode.NONE, 0) and model.can_start
    assert model.load(small_bitstream(model_hash=None)) == (ErrorCode.NONE, 0) and not model.can_start


@pytest.mark.slow
def test_weights_rejections_agree_with_the_decoder() -> None:
    cases = _weights_cases()
    got = run_frames([c for _, c in cases], readback=24)
    got_small = run_frames([small_bitstream(model_hash=None), small_weights()], weights_capacity=64)
    model = DeviceModel(ACCEL, 1024, lanes=LANES, weights_capacity=WCAP)
    seen = set()
    for (name, data), r in zip(cases, got, strict=True):
        code, offset = model.load(data)
        seen.add(code)
        if name in ("other model", "lanes 2", "too large", "valid again"):   # the config is valid then
            assert code == {"other model": ErrorCode.MODEL_HASH_MISMATCH, "lanes 2": ErrorCode.LANES_MISMATCH,
                            "too large": ErrorCode.TOO_LARGE, "valid again": ErrorCode.NONE}[name], name
        assert (ErrorCode(r["code"]), r["offset"]) == (code, offset), name
        assert r["error"] == (code != ErrorCode.NONE), name
        assert (r["valid"], r["weights_valid"]) == (model.config_valid, model.weights_valid), name
        assert r["count"] == len(data), name
        if model.weights_valid:
            assert r["mem"] == data[12:12 + 24] and r["weights_length"] == len(data), name
    assert {ErrorCode.BAD_MAGIC, ErrorCode.BAD_VERSION, ErrorCode.BAD_FLAGS, ErrorCode.BAD_LENGTH,
            ErrorCode.TRUNCATED, ErrorCode.TOO_LONG, ErrorCode.CRC_MISMATCH, ErrorCode.TOO_LARGE,
            ErrorCode.LANES_MISMATCH, ErrorCode.NO_CONFIG, ErrorCode.MODEL_HASH_MISMATCH, ErrorCode.NONE} <= seen
    assert (ErrorCode(got_small[1]["code"]), got_small[1]["offset"]) == (ErrorCode.TOO_LARGE, 8)


# --------------------------------------------------------------------------------------------
# The generated front end (rtlgen_accel_device) in Icarus, driven by cocotbext-axi through the
# host driver: one build, every case in one simulation.

ACCEL_SIM = __import__("pathlib").Path(__file__).parents[1] / "data" / "accel_sim.toml"


@pytest.fixture(scope="module")
def real_bitstream(tmp_path_factory, evoapprox_dir, shared_data):
    """A config.bin for tests/data/accel_sim.toml: ResNet-8 conv layer 8 (filter selects) and
    the classifier (kernel selects) on unit 0; with its accelerator hash and memory size."""
    from accel_library import build_library
    from rtlgen.accel.config import load_config
    from rtlgen.accel.compose import conv_descriptor
    from rtlgen.bitstream.format import Bitstream, MultiplierRef
    from rtlgen.nn import load_tflite

    lib = build_library(evoapprox_dir, tmp_path_factory.mktemp("lib"))
    config = load_config(ACCEL_SIM)
    resolved = config.resolved(lib)
    units = tuple(tuple(MultiplierRef(lib.get(n).hash, lib.get(n).signed, lib.get(n).name) for n in bank)
                  for bank in config.unit_multipliers)
    graph = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    oc = graph.tensors[graph.conv_ops()[8].outputs[0]].shape[-1]
    w = graph.tensors[graph.last_fc().inputs[1]].shape
    layers = (conv_descriptor(graph, 8, unit=0, granularity="filter", selects=[i % 3 for i in range(oc)]),
              conv_descriptor(graph, "fc:0", unit=0, granularity="kernel",
                              selects=[(o + c) % 4 for o in range(w[0]) for c in range(w[1])]))
    data = encode(Bitstream(resolved.config_hash(), units, layers))
    return data, resolved.config_hash(), config_capacity(config)


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_axi_device_agrees_with_the_decoder(real_bitstream, tmp_path) -> None:
    from rtlgen.accel.devsim import DeviceSim

    data, accel, capacity = real_bitstream
    n = len(data)
    rng = np.random.default_rng(7)
    cases = [("valid", data)]
    for off in sorted({0, 2, 4, 6, 8, 11, 12, 20, n - 4, n - 1, *rng.integers(0, n, 16).tolist()}):
        bad = bytearray(data)
        bad[off] ^= 1 << int(rng.integers(0, 8))
        cases.append((f"flip@{off}", bytes(bad)))
    for cut in sorted({2, 7, 12, 30, n - 4, n - 1, *rng.integers(1, n, 10).tolist()}):
        cases.append((f"cut@{cut}", data[:cut]))
    cases.append(("two extra bytes", data + b"\x5a\xa5"))
    other = bytearray(data)
    other[13:29] = b"0" * 16                      # same length, another accelerator's hash
    other[-4:] = struct.pack("<I", zlib.crc32(bytes(other[:-4])))
    cases.append(("other accelerator", bytes(other)))
    from dataclasses import replace

    from rtlgen.bitstream.format import decode
    cases.append(("format version 1", encode(replace(decode(data), version=1))))  # decode reads it, the device not
    cases.append(("valid again", data))

    report = DeviceSim(accel, capacity, tmp_path / "build", lanes=4, weights_capacity=64).run(cases, readback=48)
    ident = report["identity"]
    assert ident["config_hash"] == accel and ident["capacity"] == capacity
    assert (ident["regmap"], ident["bitstream"], ident["weights"]) == (REGMAP_VERSION, VERSION, wmod.VERSION)
    assert (ident["lanes"], ident["weights_capacity"]) == (4, 64)
    assert report["start_before_config"] is False and report["status_before_config"]["START_REFUSED"]
    assert report["unmapped_resp"] == report["unmapped_write_resp"] == 2     # SLVERR
    assert report["ro_write_resp"] == 0 and report["id_after_write"] == DEVICE_ID
    codes = set()
    for (name, case), got in zip(cases, report["cases"], strict=True):
        code, offset = expected_verdict(case, accel, capacity)
        codes.add(code)
        assert (ErrorCode(got["code"]), got["offset"]) == (code, offset), name
        assert got["accepted"] == (code == ErrorCode.NONE), name
        assert got["status"]["ERROR"] == (code != ErrorCode.NONE), name
        assert got["bytes_received"] == len(case), name
        # no weights.bin yet: the start bit is refused even after an accepted bitstream
        # (START with both images: test_axi_device_checks_weights)
        assert got["started"] is False and got["status_after_start"]["START_REFUSED"], name
        if got["accepted"]:
            assert bytes.fromhex(got["memory"]) == case[12:12 + 48]
            assert got["length"] == len(case)
            assert got["cycles"] == len(case) + 1            # one byte per cycle, then the verdict
    assert {ErrorCode.NONE, ErrorCode.CRC_MISMATCH, ErrorCode.TRUNCATED, ErrorCode.TOO_LONG,
            ErrorCode.BAD_MAGIC, ErrorCode.ACCEL_HASH_MISMATCH} <= codes
    after = report["after_soft_reset"]
    assert not after["status"]["CONFIG_VALID"] and after["starts"] == 0 and after["started"] is False


@pytest.mark.sim
def test_axi_device_checks_weights(tmp_path) -> None:
    """weights.bin through the generated front end in Icarus (cocotbext-axi, the host driver):
    every verdict is the Python reference's, START is taken exactly when both images are valid."""
    from rtlgen.accel.devsim import DeviceSim

    cases = _weights_cases(n_flips=8, n_cuts=4, seed=5)
    report = DeviceSim(ACCEL, 1024, tmp_path / "build", lanes=LANES, weights_capacity=WCAP).run(cases, readback=20)
    assert report["start_before_config"] is False
    assert (report["identity"]["lanes"], report["identity"]["weights_capacity"]) == (LANES, WCAP)
    model = DeviceModel(ACCEL, 1024, lanes=LANES, weights_capacity=WCAP)
    for (name, data), got in zip(cases, report["cases"], strict=True):
        code, offset = model.load(data)
        assert got["kind"] == ("weights" if model.is_weights(data) else "config"), name
        assert (ErrorCode(got["code"]), got["offset"]) == (code, offset), name
        assert got["accepted"] == (code == ErrorCode.NONE), name
        assert (got["status"]["CONFIG_VALID"], got["status"]["WEIGHTS_VALID"]) == \
            (model.config_valid, model.weights_valid), name
        assert got["bytes_received"] == len(data), name
        assert got["started"] == model.can_start, name
        if got["accepted"] and got["kind"] == "weights":
            assert bytes.fromhex(got["memory"]) == data[12:12 + 20] and got["length"] == len(data), name
    assert sum(c["started"] for c in report["cases"]) == 3
    after = report["after_soft_reset"]
    assert not after["status"]["CONFIG_VALID"] and not after["status"]["WEIGHTS_VALID"]


# --------------------------------------------------------------------------------------------
# What the HDL tools make of the generated front end


@pytest.fixture(scope="module")
def device_dir(tmp_path_factory):
    from rtlgen.accel.generate import LINT_WAIVERS, generate_device

    out = tmp_path_factory.mktemp("device")
    generate_device(ACCEL, 64, out / "device", lanes=4, weights_capacity=64)
    (out / "lint_waivers.vlt").write_text(LINT_WAIVERS)
    return out


@pytest.mark.sim
def test_device_verilator_lint_wall_clean(device_dir) -> None:
    import os
    import subprocess

    from rtlgen.sim.simulators import get_simulator

    verilator = get_simulator("verilator")
    env = dict(os.environ, **verilator.environment())
    proc = subprocess.run([str(verilator.root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module",
                           "rtlgen_accel_device", "lint_waivers.vlt", "device/rtlgen_accel_device.v"],
                          cwd=device_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "%Warning" not in proc.stderr and "%Error" not in proc.stderr


@pytest.mark.sim
def test_device_icarus_compiles(device_dir, tmp_path) -> None:
    import shutil
    import subprocess

    iverilog = shutil.which("iverilog")
    assert iverilog, "iverilog not found (apt-get install iverilog; bootstrap.sh does)"
    proc = subprocess.run([iverilog, "-g2012", "-s", "rtlgen_accel_device", "-o", str(tmp_path / "a.vvp"),
                           "device/rtlgen_accel_device.v"], cwd=device_dir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_device_yosys_synthesizes_to_osu018(device_dir) -> None:
    import re

    from rtlgen.netlist.yosys import run_yosys, tcl_quote
    from rtlgen.paths import liberty_path

    lib = tcl_quote(liberty_path())
    run_yosys(f"read_verilog -sv device/rtlgen_accel_device.v\nsynth -flatten -top rtlgen_accel_device\n"
              f"dfflibmap -liberty {lib}\nabc -liberty {lib}\nopt_clean -purge\n"
              f"tee -o stat.txt stat -liberty {lib}\n", cwd=device_dir)
    text = (device_dir / "stat.txt").read_text()
    cells = {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", text, re.M)}
    # the 64-byte configuration memory alone is 512 flip-flops (the weights store as many); the
    # CRC and counters add more
    assert sum(n for c, n in cells.items() if c.startswith("DFF")) > 512, cells
    assert float(re.search(r"Chip area for (?:top )?module .*?:\s+([\d.]+)", text)[1]) > 0


# --------------------------------------------------------------------------------------------
# The front end inside the generated accelerator top (CTRL.START in Amaranth's simulator is
# tested with the whole accelerator, in tests/accel/test_top.py)


@pytest.mark.sim
@pytest.mark.slow
def test_gen_accel_axi_top_has_both_port_sets_and_lints_clean(tmp_path, evoapprox_dir) -> None:
    import json
    import os
    import re
    import subprocess

    from accel_library import build_library
    from rtlgen.accel.config import AccelConfig
    from rtlgen.cli import main
    from rtlgen.sim.simulators import get_simulator

    lib = build_library(evoapprox_dir, tmp_path / "lib")
    cfg = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=64, weight_words=16, channels=4,
                      unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),))
    (tmp_path / "small.toml").write_text(cfg.to_toml())
    out = tmp_path / "out"
    assert main(["gen", "accel", "--config", str(tmp_path / "small.toml"), "--lib", str(lib.root),
                 "--out", str(out), "--axi"]) == 0
    assert json.loads((out / "manifest.json").read_text())["device"]["in_top"] is True
    top = (out / "rtlgen_accel.v").read_text()
    header = top[top.index("module rtlgen_accel("):]
    header = header[:header.index(");")]
    for port in ("s_axil_awaddr", "s_axil_rdata", "s_axis_tdata", "s_axis_tready", "busy", "done"):
        assert re.search(rf"\b{port}\b", header), port
    # a device: the engine's host ports are not brought out (the sequencer drives the engine)
    for port in ("cfg_we", "start", "act_we", "act_rdata", "wgt_we", "par_we"):
        assert not re.search(rf"\b{port}\b", header), port
    verilator = get_simulator("verilator")
    env = dict(os.environ, **verilator.environment())
    proc = subprocess.run([str(verilator.root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module",
                           "rtlgen_accel", "lint_waivers.vlt", "-f", "files.f"],
                          cwd=out, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "%Warning" not in proc.stderr and "%Error" not in proc.stderr
