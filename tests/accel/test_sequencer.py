"""The on-chip sequencer (rtlgen/accel/sequencer.py) in the generated accelerator, in Verilator,
driven only through the host driver (rtlgen.hil.driver.AccelDriver on cocotbext-axi): both images
streamed, the input written through ACT_DATA, START, NET_DONE polled, the output read back; each
output equal byte for byte to the emulation of the same two images.

One accelerator and one simulation serve the networks: MLPerf Tiny's anomaly-detection
autoencoder (ten FULLY_CONNECTED layers, weights streamed a byte per cycle), ResNet-8 whole (nine
CONV_2D, three ADD and the AVERAGE_POOL_2D run by the sequencer's vector unit, RESHAPE aliased,
the FULLY_CONNECTED; SOFTMAX stays on the host, so the output is the int8 logits) with
approximate multipliers on some layers, a CONV_2D chain with a PAD and a MAX_POOL_2D (the
vector unit's other two operators), a CONV_2D chain with
filter and kernel selects, an approximate multiplier and weight remaps (copied a byte at a
time), the same chain with a DEPTHWISE_CONV_2D (the engine's depthwise mode) and, with that
layer's descriptor claiming a depth multiplier of 2, stopping with UNSUPPORTED_LAYER, the chain
with a descriptor of a layer weights.bin has no record of (NO_LAYER_WEIGHTS), and without its
activation-memory plan (NO_ACTIVATION_PLAN); the embedded digits model (CONV_2D, DEPTHWISE_CONV_2D,
ADD, MAX_POOL_2D, PAD, AVERAGE_POOL_2D, FULLY_CONNECTED) and MLPerf Tiny's DS-CNN keyword spotter
(its first layer in the offset encoding: its input goes below its zero point), both whole on
chip with approximate multipliers on their depthwise layers; and MLPerf Tiny's visual wake words
MobileNetV1 (thirteen depthwise-separable blocks) on a random input, with an approximate
depthwise layer and a pointwise layer per filter. (The
generated engine needs a two-state simulator: Icarus never evaluates some of Yosys's
``always @*`` blocks whose inputs keep their initial values.)

Concurrent units: devices with 2 and 4 units (every unit the same bank, so layers move freely
between them) run ResNet-8 in stretches of layers per unit, DS-CNN and the chain with their
layers spread over the units, several inputs in one START (with a slot per input, and with fewer
slots than inputs: the host places each further input as it reads an output), and layers split
by output channels over 2 and 4 units (config.bin's shares: DS-CNN's depthwise and pointwise
layers; with 2 units ResNet-8's too); every output is the emulation's and RUN_CYCLES of every
batch with a slot per input is rtlgen.accel.schedule.batch_cycles' count; a descriptor without
weights stops every unit at its offset, alone and with a second input in flight, and a split
layer without weights at its first share's."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.images import build_images
from rtlgen.accel.regmap import ErrorCode
from rtlgen.bitstream import format as bsm
from rtlgen.emulate.assignment import parse_assignment
from rtlgen.emulate.emulator import quantize_input
from rtlgen.emulate.from_bitstream import emulator_from_images
from rtlgen.nn.tflite import load_tflite

from accel_library import build_library
from seq_models import conv_chain

pytestmark = [pytest.mark.sim, pytest.mark.slow, pytest.mark.data]

#: Sized for the autoencoder: its 640x128 layers are 16 groups x 640 words at 8 lanes, 640
#: channels; weights.bin is 271,156 bytes; and for ResNet-8: its activation plan needs 52,224 bytes.
CONFIG = AccelConfig(units=1, lanes=8, multipliers=2, activation_bytes=65536, weight_words=16384, channels=640,
                     weights_store_bytes=1 << 19, unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),), name="seq_test")
CHAIN_ASSIGNMENT = {"layers": {"0": {"filters": ["mul8u_DG8", "mul8u_1JJQ"] * 4},
                               "1": {"kernels": [["mul8u_DG8", "mul8u_1JJQ"] * 4 for _ in range(6)]},
                               "2": "mul8u_1JJQ"},
                    "weight_tuning": "uniform"}
#: ResNet-8 with an approximate multiplier on a whole layer, per filter on another, and on the classifier
RESNET8_ASSIGNMENT = {"layers": {"1": "mul8u_DG8", "4": {"filters": ["mul8u_DG8", "mul8u_1JJQ"] * 16},
                                 "fc:0": "mul8u_DG8"}}
#: the chain's depthwise layer (8 channels) with kernel selects (one per filter: a depthwise kernel is its filter)
DW_ASSIGNMENT = {"layers": {"1": {"kernels": [["mul8u_DG8"], ["mul8u_1JJQ"]] * 4}, "2": "mul8u_DG8"}}
#: digits: its depthwise layer per filter; DS-CNN: its first depthwise layer approximate, the second per kernel
DIGITS_ASSIGNMENT = {"layers": {"1": {"filters": ["mul8u_DG8", "mul8u_1JJQ"] * 4}, "fc:0": "mul8u_DG8"}}
DSCNN_ASSIGNMENT = {"layers": {"1": "mul8u_DG8", "3": {"kernels": [["mul8u_DG8"], ["mul8u_1JJQ"]] * 32},
                               "4": "mul8u_DG8"}}
#: VWW: its first depthwise layer approximate, the pointwise layer after it per filter (16 filters)
VWW_ASSIGNMENT = {"layers": {"1": "mul8u_DG8", "2": {"filters": ["mul8u_DG8", "mul8u_1JJQ"] * 8}}}


def first_difference(got: np.ndarray, want: np.ndarray) -> str:
    """'' when equal, else the first differing index with expected and got."""
    got, want = np.asarray(got).ravel(), np.asarray(want).ravel()
    if got.shape != want.shape:
        return f"output has {got.size} bytes, expected {want.size}"
    bad = np.flatnonzero(got != want)
    return "" if bad.size == 0 else f"first difference at index {bad[0]}: expected {want[bad[0]]}, got {got[bad[0]]}"


@pytest.fixture(scope="module")
def device_run(evoapprox_dir: Path, shared_data: Path, tmp_path_factory):
    """The networks through one Verilator build: per network (images, expected outputs,
    the device's report)."""
    from rtlgen.accel.seqsim import SequencerSim

    tmp = tmp_path_factory.mktemp("seq")
    lib = build_library(evoapprox_dir, tmp / "lib", names=("mul8u_1JJQ", "mul8u_DG8"))
    resolve = lambda name: (lib.table(name), lib.get(name).signed)  # noqa: E731
    rng = np.random.default_rng(11)
    ad = load_tflite(shared_data / "mlperf_tiny_ad" / "ad01_int8.tflite")
    chain = load_tflite(conv_chain(tmp / "chain.tflite"))
    dw = load_tflite(conv_chain(tmp / "dw.tflite", depthwise=True))
    # signmag takes x - z_in in 0..255: the autoencoder's inputs from its zero point up
    zp = int(ad.input.zero_point)
    resnet8 = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    cifar = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][:1]
    cases = [(ad, None, rng.integers(zp, 128, (2, 640))),
             (chain, parse_assignment(CHAIN_ASSIGNMENT, "<chain>"), rng.integers(-128, 128, (2, 6, 6, 3))),
             (dw, parse_assignment(DW_ASSIGNMENT, "<dw>"), rng.integers(-128, 128, (2, 6, 6, 3)))]
    # the chain's layers with the last descriptor renamed to a layer weights.bin has no record of
    cases.append((chain, "renamed", rng.integers(-128, 128, (1, 6, 6, 3))))
    # the chain's images with the plan left out (as the mapper writes config.bin): started as is
    cases.append((chain, "no plan", None))
    # ResNet-8 on a CIFAR-10 image (its input: pixel - 128)
    cases.append((resnet8, parse_assignment(RESNET8_ASSIGNMENT, "<resnet8>"), quantize_input(resnet8, cifar)))
    # the chain with a PAD and a MAX_POOL_2D after its first conv
    cases.append((load_tflite(conv_chain(tmp / "pool.tflite", pad_pool=True)), None,
                  rng.integers(-128, 128, (2, 6, 6, 3))))
    # the dw chain with its depthwise descriptor claiming 16 input channels (a depth multiplier the
    # engine cannot run)
    cases.append((dw, "depth multiplier", rng.integers(-128, 128, (1, 6, 6, 3))))
    # the embedded digits model on two of its test images; DS-CNN on a kws01 input
    from rtlgen.resources import DIGITS_MODEL
    from rtlgen.zoo.digits import load_digits_images

    digits = load_tflite(DIGITS_MODEL)
    cases.append((digits, parse_assignment(DIGITS_ASSIGNMENT, "<digits>"),
                  quantize_input(digits, load_digits_images("test")[0][:2])))
    dscnn = load_tflite(shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite")
    kws = np.load(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz")["x"][:1]
    cases.append((dscnn, parse_assignment(DSCNN_ASSIGNMENT, "<dscnn>"), quantize_input(dscnn, kws)))
    # the VWW MobileNet on one random input (its model comes without test inputs)
    vww = load_tflite(shared_data / "mlperf_tiny_vww" / "vww_96_int8.tflite")
    cases.append((vww, parse_assignment(VWW_ASSIGNMENT, "<vww>"), rng.integers(-128, 128, (1, 96, 96, 3))))
    nets, expected, images = [], [], []
    for graph, assignment, x in cases:
        im = build_images(graph, CONFIG, lib, None if isinstance(assignment, str) else assignment)
        if assignment == "renamed":
            layers = im.config.layers
            im = replace(im, config=replace(im.config, layers=(*layers[:-1], replace(layers[-1], index=7))))
        if assignment == "depth multiplier":
            layers = im.config.layers
            g = layers[1].geometry
            im = replace(im, config=replace(im.config, layers=(layers[0], replace(layers[1], geometry=replace(g, in_c=16)),
                                                               *layers[2:])))
        if assignment == "no plan":
            im = replace(im, config=replace(im.config, input_base=0, input_bytes=0, output_base=0, output_bytes=0,
                                            layers=tuple(replace(l, in_base=0, out_base=0) for l in im.config.layers)))
            assert not im.config.has_plan
        files = im.files()
        images.append(im)
        nets.append((files["config.bin"], files["weights.bin"], [None] if x is None else
                     [xx.tobytes() for xx in x.astype(np.int8)]))
        bs = bsm.decode(files["config.bin"])
        expected.append(None if isinstance(assignment, str) else
                        emulator_from_images(graph, bs, im.weights, resolve).run(x.astype(np.int8)).logits
                        .reshape(len(x), -1))
    report = SequencerSim(CONFIG, lib, tmp / "sim", simulator="verilator").run(nets, poll_cycles=5000)
    return list(zip(images, nets, expected, report["networks"], strict=True))


def _check_outputs(network) -> list[dict]:
    _images, _net, want, got = network
    assert got["config"]["accepted"] and got["weights"]["accepted"], (got["config"], got["weights"])
    assert len(got["runs"]) == len(want)
    for i, (run, w) in enumerate(zip(got["runs"], want)):
        assert run["done"], f"input {i}: {run['describe']}"
        out = np.frombuffer(bytes.fromhex(run["output"]), np.int8)
        diff = first_difference(out, w)
        assert not diff, f"input {i}: {diff}"
    return got["runs"]


def test_autoencoder_runs_whole_on_chip(device_run) -> None:
    images, _net, want, _got = device_run[0]
    assert [layer.kind for layer in images.config.layers] == ["fully_connected"] * 10
    runs = _check_outputs(device_run[0])
    # 10 layers, no host between them; the weight copy (a byte per cycle) bounds the cycles from below
    weight_bytes = sum(layer.weights.size for layer in images.weights.layers)
    for run in runs:
        assert run["layers"] == 10 and run["status"]["NET_DONE"] and not run["status"]["ERROR"]
        assert weight_bytes < run["cycles"] < 2 * weight_bytes, run["cycles"]
    assert len({bytes.fromhex(r["output"]) for r in runs}) == 2      # two inputs, two outputs


def test_conv_chain_with_selects_remaps_and_an_approximate_multiplier(device_run) -> None:
    images, _net, _want, _got = device_run[1]
    layers = images.config.layers
    assert [layer.granularity for layer in layers] == ["filter", "kernel", "layer"]
    assert all(layer.weight_remap for layer in layers)
    assert images.config.units[0][1].name == "mul8u_DG8" and {1} <= set(layers[0].selects) | set(layers[1].selects)
    runs = _check_outputs(device_run[1])
    assert all(run["layers"] == 3 for run in runs)


def test_depthwise_layer_runs_on_chip(device_run) -> None:
    images, _net, _want, _got = device_run[2]
    assert [d.kind for d in images.config.layers] == ["conv2d", "depthwise_conv2d", "conv2d", "conv2d"]
    # a depthwise kernel is its filter: the kernel selects are written at filter granularity
    assert images.config.layers[1].granularity == "filter" and set(images.config.layers[1].selects) == {0, 1}
    runs = _check_outputs(device_run[2])
    assert all(run["layers"] == 4 for run in runs) and len({run["output"] for run in runs}) == 2


def test_depth_multiplier_above_one_stops_the_run(device_run) -> None:
    _images, net, _want, got = device_run[7]
    config_bin = net[0]
    at = int(re.search(r"@(\d+) layer 1 depthwise_conv2d", bsm.describe(config_bin)).group(1))
    (run,) = got["runs"]
    assert not run["done"] and run["layers"] == 1                     # the conv before it ran
    assert (ErrorCode(run["code"]), run["offset"]) == (ErrorCode.UNSUPPORTED_LAYER, at)
    assert run["status"]["ERROR"] and not run["status"]["NET_DONE"] and not run["status"]["BUSY"]
    assert "UNSUPPORTED_LAYER" in run["describe"] and f"offset {at}" in run["describe"]


def test_descriptor_without_weights_stops_the_run(device_run) -> None:
    _images, net, _want, got = device_run[3]
    at = int(re.search(r"@(\d+) layer 7 conv2d", bsm.describe(net[0])).group(1))
    (run,) = got["runs"]
    assert not run["done"] and run["layers"] == 2                     # layers 0 and 1 found their records
    assert (ErrorCode(run["code"]), run["offset"]) == (ErrorCode.NO_LAYER_WEIGHTS, at)


def test_config_without_a_plan_is_refused_at_its_first_descriptor(device_run) -> None:
    _images, net, _want, got = device_run[4]
    at = int(re.search(r"@(\d+) layer 0 conv2d", bsm.describe(net[0])).group(1))
    (run,) = got["runs"]
    assert not run["done"] and run["layers"] == 0
    assert (ErrorCode(run["code"]), run["offset"]) == (ErrorCode.NO_ACTIVATION_PLAN, at)


def test_resnet8_runs_whole_on_chip_with_approximate_multipliers(device_run) -> None:
    """Every operator but the host's SOFTMAX on the device: the nine convolutions, the three
    ADDs, the average pool and the classifier, one START; the int8 logits byte for byte."""
    images, _net, want, _got = device_run[5]
    bs = images.config
    assert [d.key for d in bs.descriptors()] == ["0", "1", "2", "add:0", "3", "4", "5", "add:1", "6", "7", "8",
                                                 "add:2", "average_pool_2d:0", "fc:0"]
    assert bs.version == bsm.VERSION == 5 and bs.output_bytes == 10
    assert bs.layer(1).selects == (1,) and bs.layer(4).granularity == "filter" and bs.layer("fc:0").selects == (1,)
    runs = _check_outputs(device_run[5])
    for run in runs:
        assert run["layers"] == 14 and run["status"]["NET_DONE"] and not run["status"]["ERROR"]
        print(f"ResNet-8 on chip: {run['cycles']} cycles per inference")


def test_pad_and_max_pool_run_on_chip(device_run) -> None:
    images, _net, _want, _got = device_run[6]
    assert [d.key for d in images.config.descriptors()] == ["0", "pad:0", "max_pool_2d:0", "1", "2"]
    runs = _check_outputs(device_run[6])
    assert all(run["layers"] == 5 for run in runs)
    assert len({run["output"] for run in runs}) == 2


def test_digits_runs_whole_on_chip(device_run) -> None:
    images, _net, _want, _got = device_run[8]
    kinds = [d.kind for d in images.config.descriptors()]
    assert "depthwise_conv2d" in kinds and {"add", "max_pool_2d", "pad", "average_pool_2d"} <= set(kinds), kinds
    assert images.config.layers[1].granularity == "filter"
    runs = _check_outputs(device_run[8])
    assert all(run["layers"] == len(kinds) and run["status"]["NET_DONE"] for run in runs)


def test_dscnn_runs_whole_on_chip(device_run) -> None:
    """DS-CNN keyword spotting on a real kws01 input: five convolutions (the first in offset,
    whose operands go below the zero point), four depthwise layers, the average pool and the
    classifier, one START; the int8 logits byte for byte."""
    images, _net, _want, _got = device_run[9]
    layers = images.config.layers
    assert layers[0].encoding == "offset" and layers[1].kind == "depthwise_conv2d"
    assert layers[1].selects == (1,) and layers[3].granularity == "filter" and set(layers[3].selects) == {0, 1}
    runs = _check_outputs(device_run[9])
    for run in runs:
        assert run["layers"] == 11 and run["status"]["NET_DONE"]
        print(f"DS-CNN on chip: {run['cycles']} cycles per inference")


def test_vww_mobilenet_runs_whole_on_chip(device_run) -> None:
    """The visual wake words MobileNetV1 0.25: fourteen convolutions, thirteen depthwise layers,
    the average pool and the classifier, one START; the int8 logits byte for byte."""
    images, _net, _want, _got = device_run[10]
    kinds = [d.kind for d in images.config.descriptors()]
    assert kinds.count("depthwise_conv2d") == 13 and kinds.count("conv2d") == 14, kinds
    assert kinds[-2:] == ["average_pool_2d", "fully_connected"]
    layers = images.config.layers
    assert layers[1].selects == (1,) and layers[2].granularity == "filter" and set(layers[2].selects) == {0, 1}
    runs = _check_outputs(device_run[10])
    for run in runs:
        assert run["layers"] == len(kinds) and run["status"]["NET_DONE"]
        print(f"VWW on chip: {run['cycles']} cycles per inference")


def test_run_cycles_are_the_schedule_models(device_run) -> None:
    """RUN_CYCLES of every run, finished or stopped, equals rtlgen.accel.schedule's count from the
    two images to the cycle, and so do LAYERS_DONE and a stop's code and offset, and, for a
    finished run, the walker's reads of the two image memories (CONFIG_READS, WEIGHTS_READS: its
    read enables' cycles, fewer than the run's) and the engine's clocked cycles (ENGINE_CLOCKS:
    its gated clock's edges, fewer than the run's). (The device reports the total only: the
    message lists the model's phases per descriptor.)"""
    from rtlgen.accel.schedule import batch_cycles, network_cycles

    for i, (images, net, _want, got) in enumerate(device_run):
        model = network_cycles(net[0], net[1], CONFIG)
        names = [d.key for d in images.config.descriptors()]
        for run in got["runs"]:
            assert run["cycles"] == model.total, (
                f"network {i} ({len(names)} descriptors, from {names[0]}): RUN_CYCLES {run['cycles']:,}, model "
                f"{model.total:,} ({model.total - run['cycles']:+,}); the model's count:\n{model.table()}")
            assert run["layers"] == model.layers_done, (i, run["layers"], model.table())
            if model.stop is None:
                assert run["done"] and run["status"]["NET_DONE"], (i, run["describe"])
                # the walker's read enables: CONFIG_READS and WEIGHTS_READS as the model counts them
                one = batch_cycles(net[0], net[1], CONFIG)
                assert (run["config_reads"], run["weights_reads"]) == (one.config_reads, one.weights_reads), (
                    i, run["config_reads"], run["weights_reads"], one.config_reads, one.weights_reads)
                assert 0 < run["config_reads"] < run["cycles"] and 0 < run["weights_reads"] < run["cycles"]
                # the engine's gated clock: its runs and its walker's writes, not the rest
                assert run["engine_clocks"] == one.engine_clocks, (i, run["engine_clocks"], one.engine_clocks)
                assert 0 < run["engine_clocks"] < run["cycles"]
            else:
                assert not run["done"] and (ErrorCode(run["code"]), run["offset"]) == model.stop, (i, run["describe"])


# --- concurrent units ---------------------------------------------------------------------------
#: Every unit carries the same bank, so any unit can run any layer: the tests move layers between
#: units freely. 2**17 bytes of activations: two slots of ResNet-8's 52,224-byte plan.
def _units_config(units: int) -> AccelConfig:
    return replace(CONFIG, units=units, activation_bytes=1 << 17, unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),) * units,
                   name=f"seq_test_{units}u")


def _on_units(im, unit_of):
    """The images with layer descriptor j (config.bin's layer order) on unit ``unit_of(j)``."""
    layers = tuple(replace(layer, unit=unit_of(j)) for j, layer in enumerate(im.config.layers))
    return replace(im, config=replace(im.config, layers=layers))


def _split(im, splits):
    """The images with each layer ``key`` of ``splits`` (``{key: units}``) split by output channels
    into equal shares of whole lane groups, one per unit of ``units`` in that order
    (rtlgen.accel.images.split_layer: the same multipliers, found in each unit's bank)."""
    from rtlgen.accel.images import split_layer

    for key, units in splits.items():
        im = split_layer(im, key, units)
    return im


@pytest.fixture(scope="module", params=[2, 4], ids=lambda u: f"{u}units")
def concurrent_run(request, evoapprox_dir: Path, shared_data: Path, tmp_path_factory):
    """Networks on a device with 2 or 4 units, their layers spread over the units, each as one
    batch (several inputs in one START): per case (name, config, images, net, expected, report)."""
    from rtlgen.accel.seqsim import SequencerSim

    units = request.param
    config = _units_config(units)
    tmp = tmp_path_factory.mktemp(f"seq{units}")
    lib = build_library(evoapprox_dir, tmp / "lib", names=("mul8u_1JJQ", "mul8u_DG8"))
    resolve = lambda name: (lib.table(name), lib.get(name).signed)  # noqa: E731
    rng = np.random.default_rng(12)
    resnet8 = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    cifar = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][:3]
    dscnn = load_tflite(shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite")
    kws = np.load(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz")["x"][:3]
    chain = load_tflite(conv_chain(tmp / "chain.tflite"))
    # ResNet-8 in contiguous stretches, one per unit (2 units: layers 0-3 and 4-9; 4 units: 0-1, 2-3,
    # 4-6, 7-9): consecutive inputs pipeline through the units
    stages = (lambda j: 0 if j < 4 else 1) if units == 2 else (lambda j: (j >= 2) + (j >= 4) + (j >= 7))
    spread = lambda j: j % units                               # noqa: E731
    cases = [
        # (name, graph, assignment, unit of layer j, inputs, slots[, layers split over units])
        ("resnet8 stages, 2 inputs in 2 slots", resnet8, RESNET8_ASSIGNMENT, stages,
         quantize_input(resnet8, cifar[:2]), 2),
        ("dscnn spread, 3 inputs in 3 slots", dscnn, DSCNN_ASSIGNMENT, spread, quantize_input(dscnn, kws), 3),
        ("chain spread, 4 inputs in 4 slots", chain, CHAIN_ASSIGNMENT, spread, rng.integers(-128, 128, (4, 6, 6, 3)), 4),
        # fewer slots than inputs: the host places each further input after reading an output
        ("chain spread, 3 inputs in 1 slot", chain, CHAIN_ASSIGNMENT, spread, rng.integers(-128, 128, (3, 6, 6, 3)), 1),
    ]
    # split layers (their shares run on several units at once), the inputs the unsplit cases run
    # too: DS-CNN spread, with a depthwise layer (per kernel) and pointwise layers split (4 units:
    # two of them four ways, so three shares end in one cycle); with 2 units also ResNet-8 in its
    # stretches with a layer of each stretch split, one of them per filter (the selects follow each
    # share)
    cases.append(("dscnn split, 2 inputs in 2 slots", dscnn, DSCNN_ASSIGNMENT, spread, quantize_input(dscnn, kws[1:3]),
                  2, {"2": (1, 0), "3": (0, 1), "4": (1, 0)} if units == 2 else
                  {"2": (0, 1, 2, 3), "3": (3, 2, 1, 0), "4": (1, 3)}))
    if units == 2:      # (the 4-unit build simulates slower: kept short)
        cases.append(("resnet8 split, 2 inputs in 2 slots", resnet8, RESNET8_ASSIGNMENT, stages,
                      quantize_input(resnet8, cifar[1:3]), 2, {"1": (0, 1), "4": (1, 0), "7": (0, 1)}))
        # one input alone, for the overlap
        cases.insert(0, ("resnet8 stages, one input", resnet8, RESNET8_ASSIGNMENT, stages,
                         quantize_input(resnet8, cifar[:1]), None))
    out, nets = [], []
    for name, graph, assignment, unit_of, x, slots, *splits in cases:
        im = _on_units(build_images(graph, config, lib, parse_assignment(assignment, name)), unit_of)
        if splits:
            im = _split(im, splits[0])
        files = im.files()
        xs = [xx.tobytes() for xx in np.asarray(x).astype(np.int8)]
        nets.append((files["config.bin"], files["weights.bin"], xs) if slots is None else
                    (files["config.bin"], files["weights.bin"], xs, slots))
        want = emulator_from_images(graph, bsm.decode(files["config.bin"]), im.weights, resolve).run(
            np.asarray(x).astype(np.int8)).logits.reshape(len(x), -1)
        out.append((name, slots, im, nets[-1], want))
    # a stop with concurrent units: the chain's last descriptor names a layer weights.bin has no
    # record of; alone, and with a second input in flight
    im = _on_units(build_images(chain, config, lib, parse_assignment(CHAIN_ASSIGNMENT, "stop")), spread)
    layers = im.config.layers
    im = replace(im, config=replace(im.config, layers=(*layers[:-1], replace(layers[-1], index=7))))
    files = im.files()
    xs = [xx.tobytes() for xx in rng.integers(-128, 128, (2, 6, 6, 3)).astype(np.int8)]
    for name, net in (("chain stop, one input", (files["config.bin"], files["weights.bin"], xs[:1])),
                      ("chain stop, 2 inputs in 2 slots", (files["config.bin"], files["weights.bin"], xs, 2))):
        nets.append(net)
        out.append((name, None if len(net) == 3 else 2, im, net, None))
    # a split layer without weights: the shares of split DS-CNN's depthwise layer 3 renamed to a
    # layer weights.bin has no record of (all fail the same check)
    k, im = next((k, case[2]) for k, case in enumerate(out) if case[0].startswith("dscnn split"))
    im = replace(im, config=replace(im.config, layers=tuple(replace(layer, index=99) if layer.key == "3" else layer
                                                            for layer in im.config.layers)))
    files = im.files()
    nets.append((files["config.bin"], files["weights.bin"], nets[k][2][:1]))
    out.append(("dscnn split stop, one input", None, im, nets[-1], None))
    report = SequencerSim(config, lib, tmp / "sim", simulator="verilator").run(nets, poll_cycles=2000)
    return config, [(*case, got) for case, got in zip(out, report["networks"], strict=True)]


def _outputs(run, slots) -> list[np.ndarray]:
    if slots is None:
        return [np.frombuffer(bytes.fromhex(run["output"]), np.int8)]
    return [np.frombuffer(bytes.fromhex(o), np.int8) for o in run["outputs"]]


def test_concurrent_units_give_the_emulations_outputs(concurrent_run) -> None:
    """Layers spread over 2 or 4 units that run at the same time, consecutive inputs in flight
    together: every output equals the emulation's, byte for byte, as one input at a time does."""
    config, cases = concurrent_run
    for name, slots, im, _net, want, got in cases:
        if want is None:                # the stops: test_a_stop_with_concurrent_units_...
            continue
        assert got["config"]["accepted"] and got["weights"]["accepted"], (name, got["config"], got["weights"])
        units_used = {layer.unit for layer in im.config.layers}
        assert len(units_used) > 1, (name, units_used)
        outs = [o for run in got["runs"] for o in _outputs(run, slots)]
        assert all(run["done"] for run in got["runs"]), (name, [run["describe"] for run in got["runs"]])
        assert len(outs) == len(want), name
        for n, (o, w) in enumerate(zip(outs, want)):
            diff = first_difference(o, w)
            assert not diff, f"{name}, input {n}: {diff}"


def test_concurrent_run_cycles_are_the_schedule_models(concurrent_run) -> None:
    """RUN_CYCLES of a batch with a slot per input equals rtlgen.accel.schedule.batch_cycles to
    the cycle (and LAYERS_DONE every descriptor of every input); with fewer slots than inputs the
    host places inputs as it reads outputs, and the model (a host that does so at once) is a
    lower bound. The walkers' reads (CONFIG_READS, WEIGHTS_READS) and the engines' clocked
    cycles (ENGINE_CLOCKS) equal the model's in every case: they do not depend on the timing;
    each engine is clocked in fewer cycles than the run's."""
    from rtlgen.accel.schedule import batch_cycles

    config, cases = concurrent_run
    for name, slots, im, net, want, got in cases:
        if want is None:
            continue
        batch = len(net[2])
        for run in got["runs"]:
            model = batch_cycles(net[0], net[1], config, batch=batch if slots else 1, slots=slots)
            n_desc = len(im.config.descriptors())
            assert run["layers"] == n_desc * model.batch, (name, run["layers"])
            if slots is None or slots >= batch:
                assert run["cycles"] == model.total, (
                    f"{name}: RUN_CYCLES {run['cycles']:,}, model {model.total:,} ({model.total - run['cycles']:+,})")
            else:
                assert model.total <= run["cycles"], (name, model.total, run["cycles"])
            # what the walkers read does not depend on when: exact with any number of slots
            assert (run["config_reads"], run["weights_reads"]) == (model.config_reads, model.weights_reads), (
                name, run["config_reads"], run["weights_reads"], model.config_reads, model.weights_reads)
            assert run["engine_clocks"] == model.engine_clocks, (name, run["engine_clocks"], model.engine_clocks)
            assert run["engine_clocks"] < config.units * run["cycles"], name


def test_split_layers_run_their_shares_on_several_units_at_once(concurrent_run) -> None:
    """Layers split by output channels (config.bin's shares, each on its own unit; outputs equal
    to the emulation's and RUN_CYCLES to the model's: the tests above). Every unit has the same
    multipliers, so a split changes no output: the device's outputs for the inputs the split
    cases share with the unsplit ones are the same bytes. The shares of a split layer run at the
    same time (in the model, which equals the device), and split ResNet-8 takes fewer cycles than
    in stretches alone."""
    from rtlgen.accel.schedule import batch_cycles

    config, cases = concurrent_run
    by_name = {name: (net, got) for name, _s, _i, net, _w, got in cases}
    pairs = [("dscnn split, 2 inputs in 2 slots", "dscnn spread, 3 inputs in 3 slots", ((0, 1), (1, 2)))]
    if config.units == 2:
        pairs.append(("resnet8 split, 2 inputs in 2 slots", "resnet8 stages, 2 inputs in 2 slots", ((0, 1),)))
    for split, whole, shared in pairs:
        (net, got), (_net, got_whole) = by_name[split], by_name[whole]
        (run,), (run_whole,) = got["runs"], got_whole["runs"]
        assert run["done"] and run_whole["done"], split
        for n, n_whole in shared:
            assert run["outputs"][n] == run_whole["outputs"][n_whole], (split, n)
        bs = bsm.decode(net[0])
        keys = sorted({d.key for d in bs.layers if d.is_share})
        assert len(keys) == 3, (split, keys)
        if split.startswith("dscnn"):       # a depthwise layer split, with its kernel selects
            assert {bs.shares(key)[0].kind for key in keys} == {"conv2d", "depthwise_conv2d"}, split
        model = batch_cycles(net[0], net[1], config, batch=2, slots=2)
        for key in keys:
            assert len({d.unit for d in bs.shares(key)}) == len(bs.shares(key)) > 1, (split, key)
            for n in range(2):
                runs = [r for r in model.runs if r.key == key and r.input == n]
                assert len(runs) == len(bs.shares(key))
                # every share runs while every other does
                assert max(r.start for r in runs) < min(r.end for r in runs), (split, key, n, runs)
        if config.units == 4:     # three shares of a layer end in one cycle: the table counts them at once
            assert any(len([r for r in model.runs if (r.input, r.key) == (n, key) and r.end == end]) >= 3
                       for key in keys for n in range(2) for end in {r.end for r in model.runs}), split
        if split.startswith("resnet8"):
            assert run["cycles"] < run_whole["cycles"], (split, run["cycles"], run_whole["cycles"])
        print(f"{config.units} units, {split}: {run['cycles']:,} cycles ({whole}: {run_whole['cycles']:,})")


def test_a_split_resnet8_overlaps_consecutive_inputs(concurrent_run) -> None:
    """ResNet-8 with its first layers on one unit and the rest on another: two inputs together
    take clearly less than two one after another (the device's RUN_CYCLES); with four units in
    four stretches the model, equal to the device, says the same of two inputs."""
    from rtlgen.accel.schedule import batch_cycles

    config, cases = concurrent_run
    two, net = next((got["runs"][0]["cycles"], net) for name, _s, _i, net, _w, got in cases
                    if name == "resnet8 stages, 2 inputs in 2 slots")
    if config.units == 2:
        one = next(got["runs"][0]["cycles"] for name, *_, got in cases if name == "resnet8 stages, one input")
    else:
        one = batch_cycles(net[0], net[1], config).total
    print(f"{config.units} units: ResNet-8 in stretches, 1 input {one:,} cycles, 2 inputs {two:,} "
          f"({two / (2 * one):.2f}x)")
    assert two < 0.8 * 2 * one, (one, two)


def test_a_split_layer_without_weights_stops_at_its_first_share(concurrent_run) -> None:
    """The shares of a split layer (2 on the 2-unit device, 4 on the 4-unit one) name a layer
    weights.bin has no record of: all fail the record search, and the run stops with
    NO_LAYER_WEIGHTS at the first share's offset (the others wait for a count the first would
    have to make up) once the descriptors before it are done (the one-walker model's stop and
    LAYERS_DONE)."""
    from rtlgen.accel.schedule import network_cycles

    config, cases = concurrent_run
    ((net, got),) = [(net, got) for name, _s, _i, net, _w, got in cases if name == "dscnn split stop, one input"]
    listed = [int(m.group(1)) for m in re.finditer(r"@(\d+) layer 99 depthwise_conv2d", bsm.describe(net[0]))]
    bs = bsm.decode(net[0])
    assert len(listed) == len(bs.shares(99)) == (2 if config.units == 2 else 4)
    before = [d.key for d in bs.descriptors()].index("99")      # layers 0 and 1, layer 2's shares
    model = network_cycles(net[0], net[1], config)
    assert model.stop == (ErrorCode.NO_LAYER_WEIGHTS, listed[0]) and model.layers_done == before
    (run,) = got["runs"]
    assert not run["done"] and (ErrorCode(run["code"]), run["offset"]) == model.stop, run["describe"]
    assert run["layers"] == model.layers_done
    assert run["status"]["ERROR"] and not run["status"]["BUSY"] and not run["status"]["NET_DONE"]


def test_a_stop_with_concurrent_units_names_the_first_failing_descriptor(concurrent_run) -> None:
    """The chain's last descriptor has no weights.bin record: whichever walker gets there first,
    the run stops with NO_LAYER_WEIGHTS at that descriptor's offset once the descriptors before it
    are done (the one-walker model's stop), alone or with a second input in flight; every unit
    stops (STATUS neither BUSY nor NET_DONE)."""
    from rtlgen.accel.schedule import network_cycles

    config, cases = concurrent_run
    stops = [(name, net, got) for name, _s, _i, net, want, got in cases if name.startswith("chain stop")]
    assert len(stops) == 2
    for name, net, got in stops:
        model = network_cycles(net[0], net[1], config)
        at = int(re.search(r"@(\d+) layer 7 conv2d", bsm.describe(net[0])).group(1))
        assert model.stop == (ErrorCode.NO_LAYER_WEIGHTS, at)
        (run,) = got["runs"]
        assert not run["done"] and (ErrorCode(run["code"]), run["offset"]) == model.stop, (name, run["describe"])
        assert run["status"]["ERROR"] and not run["status"]["BUSY"] and not run["status"]["NET_DONE"], name
        # input 0's first two layers ran; the second input may have run its own meanwhile
        assert run["layers"] == 2 if len(net) == 3 else 2 <= run["layers"] <= 4, (name, run["layers"])
