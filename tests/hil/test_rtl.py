"""Hardware in the loop: a ResNet-8 layer through the RTL, the CLI, and mismatch reports.

The accelerator is the one the test-sized digits flow generated (``digits_flow_run``), so its
Verilator build is shared with the flow's HIL step (which runs 2 digits images end to end).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from rtlgen.bitstream.format import write_bitstream
from rtlgen.cli import main
from rtlgen.errors import BitstreamError, VerificationError
from rtlgen.accel.compose import accel_bitstream, conv_descriptor
from rtlgen.hil.simside import simulate
from rtlgen.nn.tflite import load_tflite

# every test here uses the flow fixture's accelerator, built and simulated with Verilator
pytestmark = [pytest.mark.sim, pytest.mark.slow]

#: ResNet-8's conv layer 8 (op 10): the 1x1 stride-2 shortcut, 16x16x32 -> 8x8x64
RESNET_LAYER = 8


def _resnet_bitstream(accel: Path, model: Path, path: Path, *, fc: bool = False) -> Path:
    """A bitstream for the flow's accelerator that runs ResNet-8 conv layer 8 on unit 0, filters
    alternating between the unit's two multipliers (with ``fc``, the classifier too, kernels
    spread over both); every other layer stays on the host (exact)."""
    manifest = json.loads((accel / "manifest.json").read_text())
    assert not any(s["signed"] for s in manifest["units"][0]), "unit 0 must carry unsigned multipliers (signmag)"
    graph = load_tflite(model)
    oc = graph.tensors[graph.conv_ops()[RESNET_LAYER].outputs[0]].shape[-1]
    descs = [conv_descriptor(graph, RESNET_LAYER, unit=0, granularity="filter", selects=[i % 2 for i in range(oc)])]
    if fc:
        w = graph.tensors[graph.last_fc().inputs[1]].shape  # [classes, features]
        descs.append(conv_descriptor(graph, "fc:0", unit=0, granularity="kernel",
                                     selects=[(o + c) % 2 for o in range(w[0]) for c in range(w[1])]))
    write_bitstream(path, accel_bitstream(accel, descs))
    return path


@pytest.fixture(scope="module")
def flow_accel(digits_flow_run) -> Path:
    run, res = digits_flow_run
    return run / "points" / res.outputs["select"]["points"][0]["tag"] / "accel"


def test_resnet8_layers_through_the_rtl(flow_accel: Path, shared_data: Path, tmp_path: Path, capsys) -> None:
    """Conv layer 8 and the classifier (single-rounding requantization) through the RTL."""
    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    images = shared_data / "cifar10" / "cifar10_test_first1017.npz"
    bs = _resnet_bitstream(flow_accel, model, tmp_path / "resnet8_l8.bin", fc=True)
    out = tmp_path / "hil.json"
    assert main(["hil", "--accel", str(flow_accel), "--bitstream", str(bs), "--model", str(model),
                 "--images", str(images), "--limit", "1", "--quick-build", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "bit for bit" in printed and "images per minute" in printed
    rep = json.loads(out.read_text())
    assert rep["agree"] and rep["images"] == 1
    assert [l["layer"] for l in rep["layers"]] == [str(RESNET_LAYER), "fc:0"]
    for layer in rep["layers"]:
        # the accelerator's cycle counter against its documented count (fill/drain: a few cycles)
        assert 0 <= layer["cycles_per_image"] - layer["estimate"] <= 32
    with np.load(images) as f:
        y = int(f["y"][0])
    assert rep["accuracy"] == float(rep["pred"][0] == y)


def test_a_split_layer_runs_share_by_share_in_the_layer_harness(flow_accel: Path, shared_data: Path,
                                                                tmp_path: Path) -> None:
    """ResNet-8's conv layer 8 split over both units (config.bin shares [0, 32) on unit 0 and
    [32, 64) on unit 1, each with its own bank's selects): the layer harness runs each share's
    channels on its unit (the engine's channel-range registers, the weight image from the share's
    first group) and the gathered output equals the emulation's of the same bitstream."""
    from dataclasses import replace

    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    images = shared_data / "cifar10" / "cifar10_test_first1017.npz"
    manifest = json.loads((flow_accel / "manifest.json").read_text())
    assert len(manifest["units"]) == 2 and not any(s["signed"] for bank in manifest["units"] for s in bank)
    graph = load_tflite(model)
    d = conv_descriptor(graph, RESNET_LAYER, unit=0, granularity="filter", selects=[i % 2 for i in range(64)])
    shares = [replace(d, co_first=0, co_end=32, selects=tuple(i % 2 if i < 32 else 0 for i in range(64))),
              replace(d, unit=1, co_first=32, co_end=64, selects=tuple((i // 3) % 2 if i >= 32 else 0
                                                                       for i in range(64)))]
    bs = tmp_path / "split.bin"
    write_bitstream(bs, accel_bitstream(flow_accel, shares))
    out = tmp_path / "hil.json"
    assert main(["hil", "--accel", str(flow_accel), "--bitstream", str(bs), "--model", str(model),
                 "--images", str(images), "--limit", "1", "--quick-build", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    (layer,) = rep["layers"]
    assert rep["agree"] and layer["unit"] == [0, 1] and layer["shares"] == [[0, 32], [32, 64]]
    # each share's run: its own groups of lanes (half the layer's), fill and drain a few cycles
    assert 0 <= layer["cycles_per_image"] - layer["estimate"] <= 64


def test_hil_rejects_a_bitstream_for_another_accelerator(flow_accel: Path, shared_data: Path, tmp_path: Path) -> None:
    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    bs = _resnet_bitstream(flow_accel, model, tmp_path / "x.bin")
    spec = {"accel": str(flow_accel), "bitstream": str(bs), "model": str(model),
            "images": str(shared_data / "cifar10" / "cifar10_test_first1017.npz"), "start": 0, "limit": 1}
    # a foreign accelerator hash: rejected before anything is simulated
    other = tmp_path / "accel_copy"
    import shutil

    shutil.copytree(flow_accel, other, ignore=shutil.ignore_patterns("hil-work"))
    m = json.loads((other / "manifest.json").read_text())
    m["config_hash"] = "0" * len(m["config_hash"])
    (other / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BitstreamError):
        asyncio.run(simulate(None, dict(spec, accel=str(other)), driver=_ZeroDriver()))


class _ZeroDriver:
    """Stands in for the RTL and answers zeros: every layer must be reported as a mismatch."""

    async def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    async def run(self, job, weights_key=None):
        d = job.descriptor
        return np.zeros((d.out_h, d.out_w, d.out_c), np.int8), 1


def test_mismatch_names_layer_image_position_expected_and_got(flow_accel: Path, shared_data: Path,
                                                              tmp_path: Path) -> None:
    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    images = shared_data / "cifar10" / "cifar10_test_first1017.npz"
    bs = _resnet_bitstream(flow_accel, model, tmp_path / "x.bin", fc=True)
    spec = {"accel": str(flow_accel), "bitstream": str(bs), "model": str(model), "images": str(images),
            "start": 5, "limit": 1}
    with pytest.raises(VerificationError) as exc:
        asyncio.run(simulate(None, spec, driver=_ZeroDriver()))
    msg = str(exc.value)
    assert f"layer {RESNET_LAYER}" in msg and "image 5" in msg and "expected" in msg and "got 0" in msg
    assert "(y=" in msg and "channel=" in msg


class _FcWrongDriver(_ZeroDriver):
    """Answers the conv layer correctly (from the emulation) and the classifier off by one."""

    def __init__(self, expected_conv: np.ndarray) -> None:
        self.conv = expected_conv

    async def run(self, job, weights_key=None):
        d = job.descriptor
        if weights_key == str(RESNET_LAYER):
            return self.conv, 1
        return np.ones((d.out_h, d.out_w, d.out_c), np.int8), 1


def test_classifier_mismatch_is_named_fc(flow_accel: Path, shared_data: Path, tmp_path: Path) -> None:
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.emulate.emulator import quantize_input
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream
    from rtlgen.accel.tables import accel_tables

    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    images = shared_data / "cifar10" / "cifar10_test_first1017.npz"
    bs = _resnet_bitstream(flow_accel, model, tmp_path / "x.bin", fc=True)
    graph = load_tflite(model)
    tables = accel_tables(flow_accel)
    manifest = json.loads((flow_accel / "manifest.json").read_text())
    signed = {s["hash"]: bool(s["signed"]) for bank in manifest["units"] for s in bank}
    emu = emulator_from_bitstream(graph, read_bitstream(bs), lambda h: (tables[h], signed[h]))
    with np.load(images) as f:
        vals = emu.run_batch(quantize_input(graph, f["x"][:1]))
    conv_out = vals[graph.conv_ops()[RESNET_LAYER].outputs[0]][0]
    spec = {"accel": str(flow_accel), "bitstream": str(bs), "model": str(model), "images": str(images),
            "start": 0, "limit": 1}
    with pytest.raises(VerificationError) as exc:
        asyncio.run(simulate(None, spec, driver=_FcWrongDriver(conv_out)))
    msg = str(exc.value)
    assert msg.startswith("layer fc:0 ") and "image 0" in msg and "got 1" in msg


# ---- the device loads config.bin and weights.bin (rtlgen hil --config) -----------------------------


@pytest.fixture(scope="module")
def digits_images(digits_flow_run, flow_accel: Path, tmp_path_factory) -> tuple[Path, Path, Path]:
    """``(folder of config.bin and weights.bin, digits model, digits images)`` for the flow's
    accelerator, written by ``rtlgen bitstream build`` from the selected point's assignment
    (every MAC layer described, the classifier included)."""
    from rtlgen.resources import DIGITS_MODEL

    run, res = digits_flow_run
    out = tmp_path_factory.mktemp("digits-images")
    assert main(["bitstream", "build", "--model", str(DIGITS_MODEL), "--accel", str(flow_accel / "accel.toml"),
                 "--lib", str(run / "lib"), "--assign", str(run / "map" / "points" / "00" / "assignment.json"),
                 "--out", str(out)]) == 0
    return out, DIGITS_MODEL, run / "data" / "digits_test.npz"


def _hil_config(accel: Path, folder: Path, model: Path, images: Path, *extra: str) -> list[str]:
    return ["hil", "--accel", str(accel), "--config", str(folder), "--model", str(model), "--images", str(images),
            "--limit", "1", "--quick-build", *extra]


def test_device_loads_both_images_then_the_layers_run(flow_accel: Path, digits_images, tmp_path: Path, capsys) -> None:
    """A good pair: the front end accepts both and takes START, every MAC layer runs on the
    RTL, and the report's pred and logits are the emulator's (from the same two images)."""
    from rtlgen.accel.tables import accel_tables
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.bitstream.weights import read_weights
    from rtlgen.emulate.emulator import quantize_input
    from rtlgen.emulate.from_bitstream import emulator_from_images

    folder, model, images = digits_images
    out = tmp_path / "hil.json"
    assert main(_hil_config(flow_accel, folder, model, images, "--json", str(out))) == 0
    assert "device: accepted the bitstream (" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    assert rep["device"]["start"] == "taken" and rep["device"]["weights"]["verdict"].startswith("accepted weights.bin")
    # every MAC layer on the RTL, the depthwise conv (layer 1) in the engine's depthwise mode
    assert [l["layer"] for l in rep["layers"]] == ["0", "1", "2", "fc:0"]
    dw = rep["layers"][1]
    assert dw["cycles_per_image"] >= dw["estimate"] == 8 * 8 * 8 * 9     # one channel at a time
    assert rep["logits_source"].startswith("rtl:")
    graph = load_tflite(model)
    tables = accel_tables(flow_accel)
    signed = {s["hash"]: bool(s["signed"]) for bank in json.loads((flow_accel / "manifest.json").read_text())["units"]
              for s in bank}
    emu = emulator_from_images(graph, read_bitstream(folder / "config.bin"), read_weights(folder / "weights.bin"),
                               lambda h: (tables[h], signed[h]))
    with np.load(images) as f:
        vals = emu.run_batch(quantize_input(graph, f["x"][:1]))
    logits = vals[graph.last_fc().outputs[0]].reshape(1, -1)
    assert rep["logits"] == logits.tolist() and rep["pred"] == [int(np.argmax(logits[0]))]


def test_table_models_in_the_layer_harness(flow_accel: Path, digits_images, tmp_path: Path) -> None:
    """``--multipliers table`` in layer mode: the harness built around the table models gives
    the netlists' logits and cycle counts (both checked against the emulation as they run)."""
    folder, model, images = digits_images
    reps = {}
    for mults in ("netlist", "table"):
        out = tmp_path / f"{mults}.json"
        assert main(_hil_config(flow_accel, folder, model, images, "--multipliers", mults, "--json", str(out))) == 0
        reps[mults] = json.loads(out.read_text())
    assert reps["table"]["multipliers"] == "table" and reps["netlist"]["multipliers"] == "netlist"
    assert reps["table"]["logits"] == reps["netlist"]["logits"]
    assert [l["cycles_per_image"] for l in reps["table"]["layers"]] == [l["cycles_per_image"]
                                                                       for l in reps["netlist"]["layers"]]


def _corrupt(folder: Path, dst: Path, name: str, data: bytes) -> Path:
    dst.mkdir()
    for f in ("config.bin", "weights.bin"):
        (dst / f).write_bytes(data if f == name else (folder / f).read_bytes())
    return dst


@pytest.mark.parametrize("name, how", [("config.bin", "flip"), ("weights.bin", "truncate")])
def test_device_rejection_is_one_line_with_the_hardware_code(flow_accel: Path, digits_images, tmp_path: Path,
                                                             capsys, name: str, how: str) -> None:
    """A flipped bit in config.bin, a truncated weights.bin: exit 1, one line naming the file,
    the hardware's error code, its meaning and offset (the Python device model's verdict is
    the oracle), and no layer runs."""
    from rtlgen.accel.loader import DeviceModel
    from rtlgen.accel.regmap import error_meaning

    folder, model, images = digits_images
    good = (folder / name).read_bytes()
    if how == "flip":
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x10
        bad = bytes(bad)
    else:
        bad = good[:-5]
    broken = _corrupt(folder, tmp_path / "images", name, bad)
    from rtlgen.accel.config import load_config

    dev = json.loads((flow_accel / "manifest.json").read_text())
    model_dev = DeviceModel(dev["config_hash"], dev["device"]["config_capacity"],
                            lanes=load_config(flow_accel / "accel.toml").lanes,
                            weights_capacity=dev["device"]["weights_capacity"])
    if name == "weights.bin":
        assert model_dev.load((folder / "config.bin").read_bytes())[0] == 0
    code, offset = model_dev.load(bad)
    assert code != 0
    assert main(_hil_config(flow_accel, broken, model, images, "--work-dir", str(flow_accel / "hil-work"))) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in out + err, err
    assert lines[0].startswith(f"rtlgen hil: error: {broken / name}: the accelerator rejected "), lines[0]
    assert f"error {int(code)} {code.name}, {error_meaning(int(code))} (at byte offset {offset})" in lines[0]


class _AcceptingDevice:
    """Stands in for the front end: accepts every image and START."""

    async def identify(self):
        return {}

    async def load_config(self, data, check=False):
        return _Accepted()

    load_weights = load_config

    async def start(self):
        return True


class _Accepted:
    bytes_received = cycles = 0

    def describe(self) -> str:
        return "accepted"


def test_weights_of_another_model_are_refused_by_the_host(flow_accel: Path, digits_images, shared_data: Path) -> None:
    """The device checks that the two images belong together; that they are the given model's
    weights only the host can check (it has the .tflite)."""
    folder, _model, images = digits_images
    other = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    spec = {"accel": str(flow_accel), "bitstream": str(folder / "config.bin"), "weights": str(folder / "weights.bin"),
            "model": str(other), "images": str(images), "start": 0, "limit": 1}
    with pytest.raises(BitstreamError, match=r"^.*weights\.bin: weights image is for the model with weights hash "):
        asyncio.run(simulate(None, spec, driver=_ZeroDriver(), device=_AcceptingDevice()))
