"""The fast and native engines against the straightforward reference engine, and the encodings'
exactness."""
from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from rtlgen.emulate import ENGINES, Emulator, LayerPlan, get_engine
from rtlgen.emulate.encoding import ENCODINGS, TABLE_SIGNED
from rtlgen.nn import load_tflite
from rtlgen.netlist.table import exact_table
from rtlgen.zoo.digits import digits_model_path, load_digits_images

from emulate_helpers import mixed_plans


@pytest.fixture(scope="module")
def resnet8(shared_data):
    graph = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    x = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][:8]
    return graph, x


@pytest.fixture(scope="module")
def dscnn(shared_data):
    """MLPerf Tiny DS-CNN (keyword spotting): conv, depthwise and fully connected layers."""
    d = shared_data / "mlperf_tiny_kws"
    return load_tflite(d / "kws_ref_model.tflite"), np.load(d / "kws01_test1000.npz")["x"][:8]


@pytest.fixture(scope="module")
def digits():
    x, _ = load_digits_images("test")
    return load_tflite(digits_model_path()), x[:64]


def _same(a, b, what: str) -> None:
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    bad = np.argwhere(a != b)
    assert bad.size == 0, (f"{what}: first difference at image {bad[0][0]}, index {bad[0][1]}: "
                           f"fast {a[tuple(bad[0])]}, reference {b[tuple(bad[0])]}")


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("granularity", ["layer", "filter", "kernel"])
@pytest.mark.parametrize("engine", ["fast", "native"])
def test_fast_equals_reference_on_resnet8(resnet8, encoding, granularity, engine):
    graph, x = resnet8
    em = Emulator(graph, engine="reference")
    plans = mixed_plans(em, encoding, granularity, seed=len(encoding) + len(granularity))
    ref = Emulator(graph, plans, engine="reference").run(x)
    fast = Emulator(graph, plans, engine=engine, batch_size=3).run(x)  # batches of 3, 3, 2
    _same(fast.logits, ref.logits, f"{encoding}/{granularity} logits")
    _same(fast.output, ref.output, f"{encoding}/{granularity} output")
    exact = Emulator(graph, engine="fast").run(x)
    assert np.mean(fast.logits != exact.logits) > 0.2  # the tables really are approximate


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("granularity", ["layer", "filter", "kernel"])
def test_every_engine_equals_reference_on_dscnn(dscnn, encoding, granularity):
    # signmag: the input layer (zero point 83, codes below it) takes offset (fitting_encoding)
    graph, x = dscnn
    em = Emulator(graph, engine="reference")
    assert {l.kind for l in em.layers.values()} == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    plans = mixed_plans(em, encoding, granularity, seed=7 + len(encoding) + len(granularity))
    assert plans[0].encoding == ("offset" if encoding == "signmag" else encoding)
    ref = Emulator(graph, plans, engine="reference").run(x)
    exact = Emulator(graph, engine="fast").run(x)
    assert np.mean(ref.logits != exact.logits) > 0.2  # the tables really are approximate
    for engine in sorted(set(ENGINES) - {"reference"}):
        got = Emulator(graph, plans, engine=engine, batch_size=3).run(x)
        _same(got.logits, ref.logits, f"{engine} {encoding}/{granularity} logits")
        _same(got.output, ref.output, f"{engine} {encoding}/{granularity} output")


@pytest.mark.data
@pytest.mark.slow
def test_every_engine_equals_reference_on_vww_mobilenet(shared_data):
    # 8 to 256 output channels (the C loop's fixed widths, and blocks of 64 beyond), depthwise
    # layers of every width, stride 2; VWW ships no images: random int8 codes
    graph = load_tflite(shared_data / "mlperf_tiny_vww" / "vww_96_int8.tflite")
    x = np.random.default_rng(1).integers(-128, 128, size=(2, 96, 96, 3)).astype(np.int8)
    em = Emulator(graph, engine="reference")
    assert {l.channels_out for l in em.layers.values()} >= {8, 16, 32, 64, 128, 256}
    plans = mixed_plans(em, "signmag", "kernel", seed=11)
    ref = Emulator(graph, plans, engine="reference").run(x)
    for engine in sorted(set(ENGINES) - {"reference"}):
        got = Emulator(graph, plans, engine=engine).run(x)
        _same(got.output, ref.output, f"vww {engine} output")
    exact = Emulator(graph, engine="reference").run(x)
    for engine in sorted(set(ENGINES) - {"reference"}):
        _same(Emulator(graph, engine=engine).run(x).output, exact.output, f"vww {engine} exact output")


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("engine", ["fast", "native"])
def test_fast_equals_reference_on_digits_with_depthwise(digits, encoding, engine):
    graph, x = digits
    em = Emulator(graph, engine="reference")
    kinds = {l.kind for l in em.layers.values()}
    assert "DEPTHWISE_CONV_2D" in kinds
    plans = mixed_plans(em, encoding, "kernel", seed=3)
    ref = Emulator(graph, plans, engine="reference").run(x)
    fast = Emulator(graph, plans, engine=engine).run(x)
    _same(fast.logits, ref.logits, f"digits {encoding} logits")
    _same(fast.output, ref.output, f"digits {encoding} output")


@pytest.mark.data
@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_exact_table_reproduces_exact_mode_in_every_encoding(resnet8, engine, encoding):
    # Exact mode equals LiteRT on every image (tests/nn/test_litert.py); here every encoding with an
    # exact multiplier in every MAC layer (conv and FC) must equal exact mode.
    graph, x = resnet8
    x = x[:6]
    exact = Emulator(graph, engine="fast").run(x)
    em = Emulator(graph, engine=engine)
    t = exact_table(TABLE_SIGNED[encoding])
    plans = {i: LayerPlan(encoding, (t,), np.zeros(l.kernel_shape, dtype=np.int64))
             for i, l in em.layers.items()}
    got = Emulator(graph, plans, engine=engine).run(x)
    _same(got.logits, exact.logits, f"{engine}/{encoding} logits")
    _same(got.output, exact.output, f"{engine}/{encoding} output")


def test_exact_table_reproduces_exact_mode_on_digits(digits):
    graph, x = digits
    exact = Emulator(graph, engine="reference").run(x)
    for encoding in ENCODINGS:
        t = exact_table(TABLE_SIGNED[encoding])
        em = Emulator(graph, engine="fast")
        plans = {i: LayerPlan(encoding, (t,), np.zeros(l.kernel_shape, dtype=np.int64))
                 for i, l in em.layers.items()}
        got = Emulator(graph, plans, engine="fast").run(x)
        _same(got.output, exact.output, f"digits {encoding}")


def test_engine_registry_lists_valid_names():
    with pytest.raises(ValueError, match=r"^unknown emulation engine 'gpu'; valid: auto, reference, fast, native$"):
        get_engine("gpu")


def _fresh_choice(monkeypatch):
    """Forget this process's engine choice, so that the next ``auto`` checks again."""
    from rtlgen.emulate import engines, native

    monkeypatch.setattr(native, "_LIB", None)
    monkeypatch.setattr(native, "_STATUS", None)
    monkeypatch.setattr(engines, "_ANNOUNCED", False)


def test_default_engine_is_native_with_a_compiler(monkeypatch, caplog):
    from rtlgen.emulate.engines import DEFAULT_ENGINE, NativeEngine

    _fresh_choice(monkeypatch)
    with caplog.at_level(logging.INFO, logger="rtlgen.emulate"):
        em = Emulator(load_tflite(digits_model_path()))
        Emulator(load_tflite(digits_model_path()))  # the choice is made, and said, once
    assert DEFAULT_ENGINE == "auto" and type(em.engine) is NativeEngine
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and re.match(r"^emulation engine: native \(C kernel rtlgen_native_\w+\.so built with '", lines[0])


def test_default_engine_without_a_compiler_is_fast_and_says_why(monkeypatch, caplog, digits):
    from rtlgen.emulate import native
    from rtlgen.emulate.engines import FastEngine, choose_engine

    _fresh_choice(monkeypatch)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with caplog.at_level(logging.INFO, logger="rtlgen.emulate"):
        em = Emulator(digits[0])
    assert type(em.engine) is FastEngine
    want = r"^emulation engine: fast, not native \(the native emulation engine needs a C compiler: '/nonexistent/cc --version' failed"
    assert [r.getMessage() for r in caplog.records] == [choose_engine()[1]]
    assert re.match(want, choose_engine()[1])
    monkeypatch.delenv("CC")  # checked once per process: a compiler appearing later is not seen
    assert choose_engine()[0] == "fast" and native.native_status()[0] is False
    got = em.run(digits[1])
    want_out = Emulator(digits[0], engine="reference").run(digits[1])
    _same(got.output, want_out.output, "fast by default vs reference")


def test_cli_says_which_engine_it_chose(monkeypatch, tmp_path, digits, capsys):
    from rtlgen.cli import main

    _fresh_choice(monkeypatch)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    images = tmp_path / "x.npz"
    np.savez(images, x=load_digits_images("test")[0][:4])
    assert main(["emulate", "--model", str(digits_model_path()), "--images", str(images),
                 "--out", str(tmp_path / "o.npz")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("emulation engine: fast, not native (the native emulation engine needs a C compiler")


def test_plan_validation_errors(digits):
    graph, _ = digits
    em = Emulator(graph)
    idx, layer = next(iter(em.layers.items()))
    with pytest.raises(ValueError, match=r"select has shape \(1, 1\), expected"):
        Emulator(graph, {idx: LayerPlan("signmag", (exact_table(False),), np.zeros((1, 1), int))})
    with pytest.raises(ValueError, match=r"values must lie in -32768\.\.32767 for a signed"):
        Emulator(graph, {idx: LayerPlan("raw", (exact_table(False),),
                                        np.zeros(layer.kernel_shape, int))})
    with pytest.raises(ValueError, match=r"^plan for op 999, which is not a MAC layer"):
        Emulator(graph, {999: LayerPlan("signmag", (exact_table(False),), np.zeros((1, 1), int))})


def test_memory_is_bounded_by_batches(digits):
    graph, x = digits
    a = Emulator(graph, batch_size=7).run(x)
    b = Emulator(graph, batch_size=1000).run(x)
    _same(a.output, b.output, "batch 7 vs 1000")


def test_operand_histograms_count_every_multiplication(digits):
    graph, x = digits
    em = Emulator(graph)
    hists = em.operand_histograms(x[:10])
    assert set(hists) == set(em.layers)
    for idx, (ah, bh) in hists.items():
        layer = em.layers[idx]
        assert ah.shape == bh.shape == (256,)
        assert ah.sum() == bh.sum() == 10 * layer.macs
        assert bh[128:].sum() == 0  # signmag: B = |w| <= 127
    first = em.layers[min(em.layers)]
    # the first layer sees the pixels: A = pixel (x - z with z = -128), padding A = 0
    ah, _ = hists[min(em.layers)]
    assert ah[0] > 0
    raw = em.operand_histograms(x[:10], encoding="raw")
    assert raw[first.op_index][0].sum() == 10 * first.macs
    assert not np.array_equal(raw[first.op_index][0], ah)


def test_signmag_below_zero_point_names_the_layer(digits):
    graph, x = digits
    em = Emulator(graph)
    # a layer whose input is not ReLU-clamped at its zero point cannot use signmag
    from rtlgen.errors import ModelError

    plans = {i: LayerPlan("signmag", (exact_table(False),), np.zeros(l.kernel_shape, int))
             for i, l in em.layers.items()}
    xq = np.full((2,) + tuple(graph.input.shape[1:]), -128, np.int8)
    # force an activation below z into the first layer by shifting its zero point view:
    first = min(em.layers)
    layer = em.layers[first]
    import dataclasses
    em2 = Emulator(graph, plans)
    em2.layers[first] = dataclasses.replace(layer, z_in=layer.z_in + 1)
    with pytest.raises(ModelError, match=rf"op {first} \(\w+\): signmag encoding needs x - z in 0\.\.255"):
        em2.run(xq)


@pytest.mark.data
def test_native_kernel_runs_the_signmag_layers(resnet8, monkeypatch):
    """The C loop is really used (not the numba fallback) where the tables fit int16, and it
    computes what the numba kernel does."""
    from rtlgen.emulate import engines

    graph, x = resnet8
    em = Emulator(graph, engine="reference")
    plans = mixed_plans(em, "signmag", "kernel", seed=5)
    native = Emulator(graph, plans, engine="native")
    calls = []
    kernel = native.engine._kernel
    monkeypatch.setattr(native.engine, "_kernel", lambda *a: (calls.append(a[4].dtype), kernel(*a))[1])
    got = native.run(x)
    # every approximate MAC layer (the 9 convs and the classifier, a 1x1 conv) went through it
    assert len(calls) == len(plans) == 10
    assert set(calls) == {np.dtype(np.int16)}
    want = Emulator(graph, plans, engine="fast").run(x)
    _same(got.logits, want.logits, "native/fast logits")
    _same(got.output, want.output, "native/fast output")
    assert isinstance(native.engine, engines.NativeEngine)
    # exact mode takes the same loop, with exact tables (int16 for every int8 layer)
    exact = Emulator(graph, engine="native")
    calls.clear()
    kernel = exact.engine._kernel
    monkeypatch.setattr(exact.engine, "_kernel", lambda *a: (calls.append(a[4].dtype), kernel(*a))[1])
    got = exact.run(x)
    assert calls == [np.dtype(np.int16)] * 10
    want = Emulator(graph, engine="reference").run(x)
    _same(got.logits, want.logits, "native/reference exact logits")
    _same(got.output, want.output, "native/reference exact output")


@pytest.mark.data
def test_native_depthwise_kernel_runs_the_depthwise_layers(dscnn, monkeypatch):
    """DS-CNN's four depthwise layers go through the C kernel on a CPU with AVX-512 BW and VBMI
    (the library is built with -march=native); without them the kernel is absent and the numba
    one runs (test_native_without_avx512_gives_the_same_bytes)."""
    from pathlib import Path

    from rtlgen.emulate.native import depthwise_fits, depthwise_native

    # the 16-bit byte sums hold 256 taps; columns are read at stride 1 or 2
    assert depthwise_fits(16, 16, 2) and not depthwise_fits(16, 17, 1) and not depthwise_fits(3, 3, 3)
    flags = set(" ".join(l for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("flags")).split())
    if not {"avx512bw", "avx512vl", "avx512vbmi"} <= flags:
        assert depthwise_native() is None
        return
    graph, x = dscnn
    em = Emulator(graph, engine="reference")
    plans = mixed_plans(em, "offset", "kernel", seed=4)
    native = Emulator(graph, plans, engine="native", batch_size=3)
    calls = []
    kernel = native.engine._dw_kernel
    monkeypatch.setattr(native.engine, "_dw_kernel", lambda *a: (calls.append(a[0].shape), kernel(*a))[1])
    got = native.run(x)
    assert len(calls) == 4 * 3  # four layers, three batches
    want = Emulator(graph, plans, engine="reference").run(x)
    _same(got.output, want.output, "native depthwise output")


def test_native_without_avx512_gives_the_same_bytes(digits, monkeypatch, tmp_path):
    """The C library built for a CPU without AVX-512 (x86-64-v3: AVX2): the compaction's scalar
    loop, and the numba depthwise kernel, compute the same bytes."""
    import platform

    from rtlgen.emulate import native

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.fail(f"this test builds for x86-64-v3; this machine is {platform.machine()}")
    flags = tuple("-march=x86-64-v3" if f == "-march=native" else f for f in native._FLAGS)
    monkeypatch.setattr(native, "_FLAGS", flags)
    monkeypatch.setenv("RTLGEN_CACHE", str(tmp_path))
    for name in ("_LIB", "_KERNEL", "_DEPTHWISE", "_STATUS"):
        monkeypatch.setattr(native, name, None)
    graph, x = digits
    em = Emulator(graph, engine="reference")
    plans = mixed_plans(em, "signmag", "kernel", seed=12)
    want = Emulator(graph, plans, engine="reference").run(x)
    got = Emulator(graph, plans, engine="native", batch_size=7)
    assert got.engine._dw_kernel is None  # no vector depthwise in this build
    assert list(tmp_path.glob("native/rtlgen_native_*.so"))  # really built apart
    _same(got.run(x).output, want.output, "native x86-64-v3 output")


def test_native_without_a_compiler_fails_naming_it(monkeypatch):
    from rtlgen.emulate.native import native_library_path
    from rtlgen.errors import ToolError

    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(ToolError, match=r"^the native emulation engine needs a C compiler: '/nonexistent/cc --version' failed"):
        native_library_path()


@pytest.mark.data
def test_integer_inputs_at_scale_one_quantize_as_the_float_formula(resnet8):
    from rtlgen.emulate.emulator import quantize_input

    graph, _ = resnet8
    t = graph.input
    assert float(t.scale) == 1.0  # the shortcut's case
    x = np.arange(256, dtype=np.uint8).repeat(12)[: 3 * 32 * 32 * 1].reshape(1, 32, 32, 3)
    r = x.astype(np.float64) / float(t.scale)
    want = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5) + t.zero_point, -128, 127).astype(np.int8)
    got = quantize_input(graph, x)
    assert got.dtype == np.int8 and np.array_equal(got, want)
    assert np.array_equal(quantize_input(graph, x.astype(np.float32)), want)  # the general path


@pytest.mark.parametrize("block_bytes, chunk_bytes", [(1, 1), (300_000, 5_000)])
def test_native_blocked_order_gives_the_same_bytes(digits, monkeypatch, block_bytes, chunk_bytes):
    """Channel blocks of 1 channel (or a few) and chunks of 1 (or a few) output rows: the
    blocked order adds the same rows in another order, so the same bytes."""
    from rtlgen.emulate import native

    graph, x = digits
    em = Emulator(graph, engine="reference")
    plans = mixed_plans(em, "signmag", "kernel", seed=9)
    want = Emulator(graph, plans, engine="reference").run(x)
    monkeypatch.setattr(native, "BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(native, "CHUNK_BYTES", chunk_bytes)
    blocked = [(l.weights.shape[1], l.weights.shape[2], l.in_shape[2], l.channels_out)
               for l in em.layers.values() if not l.depthwise
               and native.channel_block(l.weights.shape[1], l.weights.shape[2], l.in_shape[2], l.channels_out)
               < l.in_shape[2]]
    assert blocked  # some layer really goes in blocks
    got = Emulator(graph, plans, engine="native", batch_size=5).run(x)
    _same(got.output, want.output, f"native, blocks of {block_bytes} bytes")


def test_channel_block_fits_the_budget():
    from rtlgen.emulate.native import BLOCK_BYTES, block_budget, channel_block

    assert block_budget(1, 1) == BLOCK_BYTES and block_budget(3, 3) == 2 * BLOCK_BYTES
    assert channel_block(3, 3, 16, 16) == 16  # ResNet-8 layer 1: 1.2 MB, one block
    assert channel_block(3, 3, 16, 32) == 16  # ResNet-8 layer 3: 2.4 MB, one block of a 3x3 kernel
    for kh, c, o in ((3, 64, 64), (3, 32, 32), (3, 32, 64), (1, 64, 64), (1, 256, 256)):
        per_channel = kh * kh * 256 * o * 2
        budget = block_budget(kh, kh)
        cb = channel_block(kh, kh, c, o)
        nblk = -(-c // cb)
        assert 1 <= cb < c and cb * per_channel < budget, (kh, c, o, cb)
        # the fewest blocks below the budget, as equal as the channel count allows
        assert -(-c // (nblk - 1)) * per_channel >= budget, (kh, c, o, cb)
    assert channel_block(1, 1, 64, 64) == 32  # DS-CNN's 1x1 layers: exactly 2 MB, two blocks of 1 MB


@pytest.mark.parametrize("zps, scales, act", [((-3, 17, 5), (0.047, 0.0213, 0.061), (-100, 90)),
                                              ((-128, -128, -128), (0.02, 0.02, 0.03), (-128, 127))])
def test_every_engine_adds_every_pair_as_tflite(zps, scales, act):
    """All 65,536 int8 pairs through each engine's ADD (native: the C lookup), against
    rtlgen.emulate.ops.add (TFLite's arithmetic) element by element; an odd length leaves a
    partial block."""
    from rtlgen.emulate import ops
    from rtlgen.nn import quant

    x1 = np.repeat(np.arange(-128, 128, dtype=np.int8), 256)[:-3].reshape(1, -1, 1)
    x2 = np.tile(np.arange(-128, 128, dtype=np.int8), 256)[:-3].reshape(1, -1, 1)
    zp1, zp2, zpo = zps
    params = quant.add_params(*scales)
    want = ops.add(x1, zp1, x2, zp2, zpo, params, act)
    assert len(set(want.ravel().tolist())) > 100 and act[0] in want and act[1] in want  # rounding and clamps exercised
    for name in sorted(set(ENGINES) - {"reference"}):
        got = get_engine(name).add(x1, zp1, x2, zp2, zpo, params, act)
        bad = np.flatnonzero(got.ravel() != want.ravel())
        assert got.shape == want.shape and bad.size == 0, (
            f"{name}: first difference at x1={x1.ravel()[bad[0]]}, x2={x2.ravel()[bad[0]]}: "
            f"expected {want.ravel()[bad[0]]}, got {got.ravel()[bad[0]]}")


@pytest.mark.parametrize("n", [0, 1, 5, 262144, 262145, 700000])
def test_parallel_int8_min_equals_numpy(n):
    """_kernels.min_int8 (the signmag check's minimum, in parallel blocks) equals numpy's across
    block edges; 127 for no elements."""
    from rtlgen.emulate._kernels import min_int8

    x = np.random.default_rng(n).integers(-128, 128, n).astype(np.int8)
    assert int(min_int8(x)) == (int(x.min()) if n else 127)
    if n > 262144:
        x[...] = 5
        x[262144] = -7  # the first element of the second block
        assert int(min_int8(x)) == -7


def test_signmag_check_finds_one_value_below_the_zero_point():
    """The fast engines' signmag lookup still raises for a single value below z, in any block."""
    from rtlgen.emulate.engines import _port_a_lut

    x = np.full(600_000, 3, np.int8)
    _port_a_lut(x, 3, "signmag")
    x[599_999] = 2
    with pytest.raises(ValueError):
        _port_a_lut(x, 3, "signmag")
