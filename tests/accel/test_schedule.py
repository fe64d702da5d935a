"""The device's cycle model (rtlgen/accel/schedule.py) without a simulator: the RUN_CYCLES that
benchmarks/bench_device.py measured on the RTL for five whole networks, the engine's cycles that
benchmarks/bench_accel.py measured layer by layer, and the model's own bookkeeping (phases in the
sequencer's order, byte offsets as config.bin's listing gives them, the record search, the
remapped copy, the stops). tests/accel/test_sequencer.py compares it with RUN_CYCLES of every
network it runs through the RTL."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig, load_config
from rtlgen.accel.images import build_images
from rtlgen.accel.regmap import ErrorCode
from rtlgen.accel.schedule import (LAYER_PHASES, OP_PHASES, engine_cycles, header_cycles, network_cycles,
                                   vector_cycles)
from rtlgen.bitstream import format as bsm
from rtlgen.bitstream import weights as wm
from rtlgen.bitstream.format import (AddDescriptor, Bitstream, Geometry, LayerDescriptor, MultiplierRef,
                                     PadDescriptor, PoolDescriptor, Requant, WeightRemap)
from rtlgen.errors import BitstreamError
from rtlgen.nn.tflite import load_tflite

from accel_library import build_library

ROOT = Path(__file__).resolve().parents[2]
#: RUN_CYCLES per inference that benchmarks/bench_device.py measured (2026-12-03, Verilator, both
#: multiplier models) on flows/accel_default.toml with the memories it grows, exact assignments
BENCH_DEVICE = {"resnet8": 956_561, "dscnn": 476_058, "digits": 16_209, "ad": 301_715, "vww": 1_521_747}
GROW = {"ad": dict(weight_words=8192, channels=640, weights_store_bytes=1 << 19),
        "vww": dict(weights_store_bytes=1 << 19)}
#: the engine's cycles per ResNet-8 convolution at 16 lanes, measured by benchmarks/bench_accel.py
#: (benchmarks/RESULTS.md): 781,528 in all
RESNET8_ENGINE = (27_672, 147_480, 147_480, 73_752, 147_480, 8_216, 73_752, 147_480, 8_216)


@pytest.fixture(scope="module")
def bench_images(evoapprox_dir: Path, shared_data: Path, tmp_path_factory):
    """name -> (config.bin, weights.bin, configuration), as ``rtlgen bitstream build`` writes
    them for benchmarks/bench_device.py."""
    from rtlgen.resources import DIGITS_MODEL

    base = load_config(ROOT / "flows" / "accel_default.toml")
    names = tuple(n for bank in base.unit_multipliers for n in bank)
    lib = build_library(evoapprox_dir, tmp_path_factory.mktemp("lib"), names=tuple(dict.fromkeys(names)))
    models = {"resnet8": shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite",
              "dscnn": shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite", "digits": DIGITS_MODEL,
              "ad": shared_data / "mlperf_tiny_ad" / "ad01_int8.tflite",
              "vww": shared_data / "mlperf_tiny_vww" / "vww_96_int8.tflite"}
    out = {}
    for name, model in models.items():
        config = replace(base, **GROW.get(name, {}))
        files = build_images(load_tflite(model), config, lib).files()
        out[name] = (files["config.bin"], files["weights.bin"], config)
    return out


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(BENCH_DEVICE))
def test_run_cycles_of_the_bench_device_networks(bench_images, name) -> None:
    cfg_bin, w_bin, config = bench_images[name]
    model = network_cycles(cfg_bin, w_bin, config)
    assert model.total == BENCH_DEVICE[name], model.table()
    assert model.stop is None and model.end == 1 and model.layers_done == len(bsm.decode(cfg_bin).descriptors())


@pytest.mark.data
def test_resnet8_breakdown_follows_the_sequencer(bench_images) -> None:
    cfg_bin, w_bin, config = bench_images["resnet8"]
    model = network_cycles(cfg_bin, w_bin, config)
    bs = bsm.decode(cfg_bin)
    # 2 units of 4 slots
    assert model.header == header_cycles(bs.units) == 13 + 3 * 2 + 5 * 8
    assert model.total == model.header + sum(d.total for d in model.descriptors) + model.end
    assert [d.key for d in model.descriptors] == [d.key for d in bs.descriptors()]
    assert [d.unit for d in model.descriptors] == [getattr(d, "unit", None) for d in bs.descriptors()]
    # each descriptor at the byte offset config.bin's listing gives it (what ERROR_OFFSET reports)
    listed = [int(m.group(1)) for m in re.finditer(r"@(\d+) (?:layer|op) ", bsm.describe(cfg_bin))]
    assert [d.offset for d in model.descriptors] == listed
    for d in model.descriptors:
        names = [n for n, _ in d.phases]
        assert names == list(LAYER_PHASES if d.kind in bsm.LAYER_KINDS else OP_PHASES), d
        assert all(c > 0 for _, c in d.phases), d
    convs = [d for d in model.descriptors if d.kind == "conv2d"]
    assert tuple(d.phase("engine") for d in convs) == RESNET8_ENGINE
    assert sum(RESNET8_ENGINE) == 781_528
    # images listing the layers in the same order: every record found at the first look
    assert {d.phase("search") for d in model.descriptors if d.kind in bsm.LAYER_KINDS} == {4}
    # no remaps: the copy streams the section, a byte per cycle plus 3
    im = wm.decode(w_bin)
    for d, rec in zip((d for d in model.descriptors if d.kind in bsm.LAYER_KINDS), im.layers, strict=True):
        assert d.phase("copy") == rec.weight_bytes(config.lanes) + 3
        assert d.phase("params") == 11 * rec.shape[0]
    adds = [d for d in model.descriptors if d.kind == "add"]
    assert [d.phase("vector") for d in adds] == [3 * 16_384 + 10, 3 * 8_192 + 10, 3 * 4_096 + 10]
    (pool,) = [d for d in model.descriptors if d.kind == "average_pool_2d"]
    assert pool.phase("vector") == 64 * (8 * 8 + 28)


@pytest.mark.parametrize("lanes", [1, 3, 4, 8, 16])
def test_engine_cycles_of_full_groups_are_the_tops_formula(lanes) -> None:
    """K >= L and out_c a multiple of L: ``groups*out_h*out_w*K + L + 8`` (rtlgen.accel.top);
    K < L: the first pixel is not held back, each later one waits for the drain (L cycles)."""
    g = Geometry(9, 9, 4, 5, 5, 2 * lanes, 3, 3, 2, 2, 1, 1)         # K = 36
    assert engine_cycles(g, lanes) == 2 * 25 * 36 + lanes + 8
    fc = Geometry(1, 1, 40, 1, 1, 3 * lanes, 1, 1)
    assert engine_cycles(fc, lanes) == 3 * 40 + lanes + 8
    if lanes > 3:
        small = Geometry(4, 4, 2, 4, 4, lanes, 1, 1)                # K = 2 < L
        assert engine_cycles(small, lanes) == 2 + 15 * lanes + lanes + 8


def test_engine_cycles_of_a_partial_group_and_depthwise() -> None:
    # 17 channels on 16 lanes: the last group has one real channel, its drain (16 cycles) ends last
    g = Geometry(6, 6, 8, 6, 6, 17, 3, 3, 1, 1, 1, 1)               # K = 72
    assert engine_cycles(g, 16) == 2 * 36 * 72 + 3 + 16
    # 13 of 16: the requantizer's last result ends last
    assert engine_cycles(replace(g, out_c=29), 16) == 2 * 36 * 72 + 8 + 13
    # depthwise 3x3: a pixel per max(9, 3) cycles on one lane, then 9 cycles to the last write
    dw = Geometry(8, 8, 5, 8, 8, 5, 3, 3, 1, 1, 1, 1)
    assert engine_cycles(dw, 16, depthwise=True) == 5 * 64 * 9 + 9
    # 1x1 depthwise: a pixel every 3 cycles (the previous capture must be out of the pipeline)
    assert engine_cycles(replace(dw, k_h=1, k_w=1, pad_top=0, pad_left=0), 4, depthwise=True) == 1 + (5 * 64 - 1) * 3 + 9
    with pytest.raises(BitstreamError, match="output pixels"):
        engine_cycles(replace(g, out_h=0), 16)


def test_vector_cycles_are_the_vector_units_schedules() -> None:
    """As tests/accel/test_vector.py measures them from start to done (one more cycle)."""
    add = AddDescriptor(0, 0, 100, 200, 37, (1, -3), (1 << 30, 1 << 29), (-1, -2), 20, 5, 1 << 30, -3)
    assert vector_cycles(add) + 1 == 3 * 37 + 11
    g = Geometry(7, 6, 3, 3, 3, 3, 3, 2, 2, 2, 1, 0)
    avg = PoolDescriptor(0, "average_pool_2d", g, 0, 500)
    assert vector_cycles(avg) == 3 * 3 * 3 * (3 * 2 + 28)
    assert vector_cycles(replace(avg, kind="max_pool_2d")) == 3 * 3 * 3 * (3 * 2 + 3)
    pad = PadDescriptor(0, Geometry(2, 3, 4, 5, 4, 4, 1, 1, 1, 1, 1, 0), 0, 100, -7)
    assert vector_cycles(pad) == 4 * (5 * 4 * 4)


# --------------------------------------------------------------------------------------------
# Hand-made images: the record search, remapped copies, stops

LANES = 4
CONFIG = AccelConfig(units=1, lanes=LANES, multipliers=2, activation_bytes=4096, weight_words=256, channels=64)
REFS = (MultiplierRef("a" * 16, False, "mul8u_A"), MultiplierRef("b" * 16, False, "mul8u_B"))


def _weights() -> wm.WeightsImage:
    rng = np.random.default_rng(5)

    def layer(index, kind, shape):
        return wm.LayerWeights(index, kind, rng.integers(-128, 128, shape), rng.integers(-500, 500, shape[0]))

    # conv 0: 6 channels of 3x3x2 (two groups, the second half empty); conv 1: 1x1x6 -> 5; fc 0: 5 -> 3
    return wm.WeightsImage(LANES, (layer(0, "conv2d", (6, 3, 3, 2)), layer(1, "conv2d", (5, 1, 1, 6)),
                                   layer(0, "fully_connected", (3, 1, 1, 5))))


def _layer(index, kind, geo, granularity, selects, remaps=(), bases=(0, 1000)) -> LayerDescriptor:
    c = geo.out_c
    rq = Requant(-128, 3, -128, 127, (1 << 30,) * c, (-3,) * c)
    return LayerDescriptor(index, kind, 0, "signmag", granularity, geo, rq, tuple(selects),
                           tuple(WeightRemap(s, bytes(range(256))[::-1]) for s in remaps), *bases)


def _images(order=(0, 1, 2), remap0=(), remap1=(), renamed=False, no_plan=False) -> tuple[bytes, bytes]:
    img = _weights()
    g0 = Geometry(5, 5, 2, 5, 5, 6, 3, 3, 1, 1, 1, 1)
    g1 = Geometry(5, 5, 6, 5, 5, 5, 1, 1)
    g2 = Geometry(1, 1, 5, 1, 1, 3, 1, 1)
    layers = [_layer(0, "conv2d", g0, "filter", [0, 1, 1, 0, 1, 1], remap0),
              _layer(3 if renamed else 1, "conv2d", g1, "kernel", [(co + ci) % 2 for co in range(5) for ci in range(6)],
                     remap1, (1000, 2000)),
              _layer(0, "fully_connected", g2, "layer", [1], (), (0 if no_plan else 2000, 0))]
    bs = Bitstream("0123456789abcdef", (REFS,), tuple(layers[i] for i in order), model_hash=img.model_hash)
    return bsm.encode(bs), wm.encode(img)


def test_record_search_starts_after_the_last_record_found() -> None:
    in_order = network_cycles(*_images(), CONFIG)
    assert [d.phase("search") for d in in_order.descriptors] == [4, 4, 4]
    # fc:0 first: three looks (0, 1, fc:0), then 0 at the first look (wrapped), then 1
    model = network_cycles(*_images(order=(2, 0, 1)), CONFIG)
    assert [(d.key, d.phase("search")) for d in model.descriptors] == [("fc:0", 12), ("0", 4), ("1", 4)]
    # 1 first (two looks), then 0 from fc:0 on (two looks), then fc:0 from 1 on (two looks)
    model = network_cycles(*_images(order=(1, 0, 2)), CONFIG)
    assert [(d.key, d.phase("search")) for d in model.descriptors] == [("1", 8), ("0", 8), ("fc:0", 8)]
    # only the search differs from the images in order
    assert model.total - in_order.total == 3 * 4


def test_remapped_copy_takes_a_byte_at_a_time() -> None:
    plain = network_cycles(*_images(), CONFIG)
    # conv 0: 2 groups x K = 18 words x 4 lanes = 144 bytes; channels 1, 2, 4, 5 select slot 1
    model = network_cycles(*_images(remap0=(1,)), CONFIG)
    c0 = model.descriptors[0]
    assert plain.descriptors[0].phase("copy") == 144 + 3
    # 3 per byte, 1 more for each of the 4 x 18 bytes of slot 1's channels, 1 per word, 1 to move on
    assert c0.phase("copy") == 3 * 144 + 4 * 18 + 36 + 1
    assert c0.phase("fields") == plain.descriptors[0].phase("fields") + 2     # one remap's slot byte
    # a remap of slot 0: channels 0 and 3 (lanes 6, 7 of the second group hold no channel: never remapped)
    assert network_cycles(*_images(remap0=(0,)), CONFIG).descriptors[0].phase("copy") == 3 * 144 + 2 * 18 + 36 + 1
    # conv 1, kernel selects (co + ci) % 2 over 2 groups x 6 words x 4 lanes = 48 bytes, 5 real channels:
    # 15 of its 30 kernels select slot 1, 15 slot 0
    both = network_cycles(*_images(remap1=(0, 1)), CONFIG).descriptors[1]
    one = network_cycles(*_images(remap1=(1,)), CONFIG).descriptors[1]
    assert both.phase("copy") == 3 * 48 + 30 + 12 + 1 and one.phase("copy") == 3 * 48 + 15 + 12 + 1
    assert both.phase("fields") == 58 + 4


def test_stops_are_counted_to_the_error() -> None:
    cfg_bin, w_bin = _images(renamed=True)
    model = network_cycles(cfg_bin, w_bin, CONFIG)
    at = int(re.search(r"@(\d+) layer 3 conv2d", bsm.describe(cfg_bin)).group(1))
    assert model.stop == (ErrorCode.NO_LAYER_WEIGHTS, at) and model.end == 0 and model.layers_done == 1
    # every one of the 3 records looked at, then a cycle to fail
    assert model.descriptors[-1].phases == (("fields", 58), ("search", 13))
    cfg_bin, w_bin = _images(no_plan=True)
    model = network_cycles(cfg_bin, w_bin, CONFIG)
    assert model.stop[0] == ErrorCode.NO_ACTIVATION_PLAN and model.layers_done == 2
    assert model.descriptors[-1].phases == (("fields", 7 + 25 + 9),)
    full = network_cycles(*_images(), CONFIG)
    assert model.total == full.total - full.descriptors[-1].total - 1 + 41


def test_images_the_device_refuses_are_errors() -> None:
    cfg_bin, _ = _images()
    other = wm.encode(replace(_weights(), lanes=8))
    with pytest.raises(BitstreamError, match="8 lanes; the accelerator has 4"):
        network_cycles(cfg_bin, other, CONFIG)
    old = bsm.encode(replace(bsm.decode(cfg_bin), version=3))
    with pytest.raises(BitstreamError, match="format version 3"):
        network_cycles(old, _images()[1], CONFIG)


def test_engine_cycles_over_a_channel_range() -> None:
    """A share runs its range's groups (channels): 40 channels on 16 lanes are groups of 16, 16
    and 8; [0, 16) is one full group, [16, 40) the other two, the last with 8 real channels."""
    g = Geometry(6, 6, 8, 6, 6, 40, 3, 3, 1, 1, 1, 1)               # K = 72, 36 pixels per group
    whole = engine_cycles(g, 16)
    assert whole == 3 * 36 * 72 + 3 + 16
    assert engine_cycles(g, 16, co_first=0, co_end=40) == whole
    assert engine_cycles(g, 16, co_first=0, co_end=16) == 36 * 72 + 16 + 8
    assert engine_cycles(g, 16, co_first=16) == 2 * 36 * 72 + 3 + 16
    assert engine_cycles(g, 16, co_first=32) == 36 * 72 + 3 + 16
    # depthwise: (co_end - co_first) channels, one at a time
    dw = Geometry(8, 8, 24, 8, 8, 24, 3, 3, 1, 1, 1, 1)
    assert engine_cycles(dw, 16, depthwise=True, co_first=16) == 8 * 64 * 9 + 9
    assert engine_cycles(dw, 16, depthwise=True, co_end=16) == 16 * 64 * 9 + 9
    for bad in (dict(co_first=8), dict(co_first=16, co_end=16), dict(co_end=41)):
        with pytest.raises(BitstreamError, match="channel range"):
            engine_cycles(g, 16, **bad)


#: three units with the same bank: conv 0 whole, conv 1 split over units 1 and 2, the classifier
SPLIT_CONFIG = replace(CONFIG, units=3)


def _split_images(remap: bool = False, classifier: bool = True) -> tuple[bytes, bytes]:
    """_images' network on SPLIT_CONFIG: conv 0 on unit 0; conv 1 (5 channels, kernel selects) as
    shares [0, 4) on unit 1 and [4, 5) on unit 2; fc 0 on unit 0. ``remap``: both layers remap
    slot 1 and conv 0 is split as well, [0, 4) on unit 1 and [4, 6) on unit 2; without
    ``classifier`` the network ends with conv 1."""
    cfg_bin, w_bin = _images(remap0=(1,) if remap else (), remap1=(1,) if remap else ())
    bs = bsm.decode(cfg_bin)
    c0, c1, fc = bs.layers
    c1 = replace(c1, unit=1)
    sel1 = c1.select_array()
    shares1 = (replace(c1, co_end=4, selects=tuple(np.where(np.arange(5)[:, None] < 4, sel1, 0).ravel())),
               replace(c1, unit=2, co_first=4, co_end=5,
                       selects=tuple(np.where(np.arange(5)[:, None] >= 4, sel1, 0).ravel())))
    layers = (((replace(c0, unit=1, co_end=4), replace(c0, unit=2, co_first=4)) if remap else (c0,)) + shares1
              + ((fc,) if classifier else ()))
    return bsm.encode(replace(bs, units=(REFS,) * 3, layers=layers)), w_bin


def test_a_share_walks_its_range_only() -> None:
    """Each share: 5 more cycles of fields (its range), the copy and the parameters of its range's
    groups and channels, 28 registers, the engine over its range; the two shares of a layer take
    together what the whole layer takes plus one descriptor's overheads."""
    cfg_bin, w_bin = _split_images()
    whole = network_cycles(*_images(), CONFIG).descriptors
    model = network_cycles(cfg_bin, w_bin, SPLIT_CONFIG)
    assert [(d.key, d.unit) for d in model.descriptors] == [("0", 0), ("1", 1), ("1", 2), ("fc:0", 0)]
    listed = [int(m.group(1)) for m in re.finditer(r"@(\d+) layer ", bsm.describe(cfg_bin))]
    assert [d.offset for d in model.descriptors] == listed
    a, b = model.descriptors[1:3]
    g1 = Geometry(5, 5, 6, 5, 5, 5, 1, 1)
    for d, (lo, hi) in ((a, (0, 4)), (b, (4, 5))):
        assert d.phase("fields") == whole[1].phase("fields") + 5
        assert d.phase("copy") == 24 + 3                # one group of 6 words of 4 lanes, streamed
        assert d.phase("params") == 11 * (hi - lo) and d.phase("registers") == 28
        assert d.phase("engine") == engine_cycles(g1, LANES, co_first=lo, co_end=hi)
    assert a.phase("copy") + b.phase("copy") == whole[1].phase("copy") + 3
    # the unsplit descriptors keep their phases (26 registers)
    assert model.descriptors[0].phases == whole[0].phases and model.descriptors[3].phases == whole[2].phases
    assert whole[0].phase("registers") == 26


def test_a_split_with_remaps_copies_the_shares_bytes() -> None:
    """Shares with a remap of slot 1 copy a byte at a time: 3 per byte of the share's groups, 1
    more per byte of its own channels whose select is slot 1, 1 per word, 1 to move on; so the
    shares of a layer take the whole layer's copy plus 1 per further share."""
    model = network_cycles(*_split_images(remap=True), SPLIT_CONFIG)
    whole = network_cycles(*_images(remap0=(1,), remap1=(1,)), CONFIG).descriptors
    assert [(d.key, d.unit) for d in model.descriptors] == [("0", 1), ("0", 2), ("1", 1), ("1", 2), ("fc:0", 0)]
    c0a, c0b, c1a, c1b = (d.phase("copy") for d in model.descriptors[:4])
    # conv 0 (filter selects 0, 1, 1, 0, 1, 1): a group of 18 words, 72 bytes each; filters 1, 2
    # in the first share and 4, 5 in the second (lanes of channels 6 and 7 hold none)
    assert c0a == c0b == 3 * 72 + 2 * 18 + 18 + 1
    # conv 1 (kernel selects (co + ci) % 2 over 6 input channels): 24 bytes each; 3 kernels of
    # slot 1 per channel, 4 channels in the first share, 1 in the second
    assert (c1a, c1b) == (3 * 24 + 12 + 6 + 1, 3 * 24 + 3 + 6 + 1)
    assert c0a + c0b == whole[0].phase("copy") + 1 and c1a + c1b == whole[1].phase("copy") + 1


def test_the_shares_of_a_layer_start_together_and_end_in_any_order() -> None:
    """On an idle device the two shares of conv 1 (units 1 and 2, copied while conv 0 runs on
    unit 0) start in the cycle after conv 0 ends; the first share ([0, 4): 4 real lanes) ends 3
    cycles after the second ([4, 5): 1 lane), so the input's output is done when the first ends,
    although the second is config.bin's last descriptor."""
    from rtlgen.accel.schedule import batch_cycles

    cfg_bin, w_bin = _split_images(classifier=False)
    one = batch_cycles(cfg_bin, w_bin, SPLIT_CONFIG)
    runs = {(r.input, r.key, r.unit): r for r in one.runs}
    c0, a, b = runs[0, "0", 0], runs[0, "1", 1], runs[0, "1", 2]
    assert a.start == b.start == c0.end + 1
    assert a.end == b.end + 3 and one.outputs == (a.end,)
    # RUN_CYCLES: unit 1's walker then walks over the second share (fields + 5) and finds no
    # descriptor left
    assert one.total == a.end + 1 + 58 + 5
    # the one-walker count runs them one after the other
    assert network_cycles(cfg_bin, w_bin, SPLIT_CONFIG).total > one.total + b.end - b.start
    # three inputs in three slots: every input's shares start together, after its conv 0
    three = batch_cycles(cfg_bin, w_bin, SPLIT_CONFIG, batch=3, slots=3)
    runs = {(r.input, r.key, r.unit): r for r in three.runs}
    for n in range(3):
        assert runs[n, "1", 1].start == runs[n, "1", 2].start == runs[n, "0", 0].end + 1, n
        assert three.outputs[n] == runs[n, "1", 1].end, n


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(BENCH_DEVICE))
def test_one_input_on_one_unit_is_network_cycles(bench_images, name) -> None:
    """Every descriptor on unit 0 (exact images): the device's other walker only walks past them,
    so one input's RUN_CYCLES is the one-walker count; a batch with a slot per input costs the
    walker one cycle per further input and no waiting."""
    from rtlgen.accel.schedule import batch_cycles

    cfg_bin, w_bin, config = bench_images[name]
    assert {d.unit for d in bsm.decode(cfg_bin).layers} == {0}
    single = network_cycles(cfg_bin, w_bin, config)
    one = batch_cycles(cfg_bin, w_bin, config)
    assert one.total == single.total and one.batch == 1 and one.interval == one.total
    assert [r.key for r in one.runs] == [d.key for d in single.descriptors]
    three = batch_cycles(cfg_bin, w_bin, config, batch=3, slots=3)
    work = single.total - single.header - single.end
    assert three.total == single.header + 3 * work + 2 + 1
    assert three.outputs[1] - three.outputs[0] == work + 1 == three.interval


def _staged(cfg_bin: bytes, first: int) -> bytes:
    """config.bin with layer descriptors from ``first`` on unit 1, each select renamed to the slot
    of the same multiplier in unit 1's bank."""
    bs = bsm.decode(cfg_bin)
    layers = []
    for j, layer in enumerate(bs.layers):
        u = 0 if j < first else 1
        hashes = [m.hash for m in bs.units[u]]
        layers.append(replace(layer, unit=u, selects=tuple(hashes.index(bs.units[layer.unit][s].hash)
                                                           for s in layer.selects)))
    return bsm.encode(replace(bs, layers=tuple(layers)))


@pytest.mark.data
def test_resnet8_in_two_stages_meets_the_contract_in_the_model(bench_images) -> None:
    """The default accelerator (2 units), ResNet-8's layers 0-3 on unit 0 and the rest on unit 1,
    8 inputs in one START with the five slots its activation memory holds: at most 0.6 x eight
    times one input (the model equals the RTL's counters with a slot per input; with fewer slots
    it takes a host that places each input at once)."""
    from rtlgen.accel.schedule import batch_cycles

    cfg_bin, w_bin, config = bench_images["resnet8"]
    staged = _staged(cfg_bin, 4)
    span = bsm.decode(staged).activation_span
    assert span == 52_224 and config.activation_bytes // span == 5
    one = batch_cycles(staged, w_bin, config)
    eight = batch_cycles(staged, w_bin, config, batch=8, slots=5)
    assert eight.total <= 0.6 * 8 * one.total, (eight.total, one.total)
    # both units work: unit 0 runs layers 0-3 (and add:0) of every input, unit 1 the rest
    assert {r.unit for r in eight.runs if r.key in ("0", "1", "2", "add:0", "3")} == {0}
    assert {r.unit for r in eight.runs if r.key in ("4", "fc:0", "average_pool_2d:0")} == {1}
    # and they overlap: input 1's first layer runs before input 0's classifier
    runs = {(r.input, r.key): r for r in eight.runs}
    assert runs[1, "0"].start < runs[0, "fc:0"].start
    # in steady state an output every ~half an inference (the busier unit's share)
    assert eight.interval < 0.6 * one.total
