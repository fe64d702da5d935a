"""Hardware in the loop on a device that runs whole networks (rtlgen/hil/network.py): ``rtlgen hil
--config`` on an accelerator generated with ``gen accel --axi`` drives it through the host driver
only (cocotbext-axi in Verilator): both images, then per input write, START, NET_DONE, read back.

The RTL tests share one small accelerator (one unit of two multipliers, 8 lanes) and its Verilator
build; the mismatch search runs on a stand-in device in Python (a device that computes wrong
bytes cannot be asked of the RTL)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig
from rtlgen.bitstream import format as bsm
from rtlgen.bitstream.weights import read_weights
from rtlgen.cli import main
from rtlgen.emulate.from_bitstream import emulator_from_images
from rtlgen.errors import VerificationError
from rtlgen.hil.driver import LoadResult, RunResult
from rtlgen.hil.network import layer_outputs, run_network
from rtlgen.nn.tflite import load_tflite

from accel_library import build_library
from seq_models import conv_chain

CONFIG = AccelConfig(units=1, lanes=8, multipliers=2, activation_bytes=1024, weight_words=256, channels=32,
                     weights_store_bytes=4096, unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),), name="hil_net")
#: the chain with a depthwise layer (the engine's depthwise mode), approximate there and per filter before
ASSIGNMENT = {"layers": {"0": {"filters": ["mul8u_DG8", "mul8u_1JJQ"] * 4}, "1": "mul8u_DG8"}}


@pytest.fixture(scope="module")
def setup(evoapprox_dir: Path, tmp_path_factory) -> dict:
    """The library, the chain model with a depthwise layer (and one whose depthwise layer has
    depth multiplier 2, which the device refuses), their images, inputs."""
    tmp = tmp_path_factory.mktemp("hil-net")
    lib = build_library(evoapprox_dir, tmp / "lib", names=("mul8u_1JJQ", "mul8u_DG8"))
    (tmp / "accel.toml").write_text(CONFIG.to_toml())
    (tmp / "assign.json").write_text(json.dumps(ASSIGNMENT))
    chain = conv_chain(tmp / "chain.tflite", depthwise=True)
    dw = conv_chain(tmp / "dw.tflite", depthwise=True, depth_multiplier=2)
    for model, out, extra in ((chain, "chain", ["--assign", str(tmp / "assign.json")]), (dw, "dw", [])):
        assert main(["bitstream", "build", "--model", str(model), "--accel", str(tmp / "accel.toml"),
                     "--lib", str(tmp / "lib"), "--out", str(tmp / out), *extra]) == 0
    rng = np.random.default_rng(5)
    np.savez(tmp / "x.npz", x=rng.integers(-128, 128, (3, 6, 6, 3)).astype(np.int8))
    return {"tmp": tmp, "lib": lib, "chain": chain, "dw": dw, "images": tmp / "x.npz"}


def _expected(setup: dict, name: str, model: Path, start: int, n: int) -> np.ndarray:
    lib = setup["lib"]
    folder = setup["tmp"] / name
    emu = emulator_from_images(load_tflite(model), bsm.read_bitstream(folder / "config.bin"),
                               read_weights(folder / "weights.bin"), lambda h: (lib.table(h), lib.get(h).signed))
    with np.load(setup["images"]) as f:
        return emu.run(f["x"][start:start + n]).output.reshape(n, -1)


@pytest.fixture(scope="module")
def accel(setup: dict) -> Path:
    out = setup["tmp"] / "accel"
    assert main(["gen", "accel", "--config", str(setup["tmp"] / "accel.toml"), "--lib", str(setup["tmp"] / "lib"),
                 "--out", str(out), "--axi"]) == 0
    return out


def _hil(accel: Path, setup: dict, name: str, model: Path, *extra: str) -> list[str]:
    return ["hil", "--accel", str(accel), "--config", str(setup["tmp"] / name), "--model", str(model),
            "--images", str(setup["images"]), "--quick-build", *extra]


@pytest.mark.sim
@pytest.mark.slow
def test_the_whole_network_runs_on_chip_and_equals_the_emulation(accel: Path, setup: dict, tmp_path: Path,
                                                                 capsys) -> None:
    out = tmp_path / "hil.json"
    assert main(_hil(accel, setup, "chain", setup["chain"], "--start", "1", "--limit", "2", "--json", str(out))) == 0
    printed = capsys.readouterr().out
    assert "the device ran the whole network on chip" in printed and "START written per batch" in printed
    rep = json.loads(out.read_text())
    assert rep["mode"] == "network" and rep["images"] == 2 and rep["logits_source"].startswith("device")
    want = _expected(setup, "chain", setup["chain"], 1, 2)
    assert np.array_equal(np.asarray(rep["logits"]), want), (rep["logits"], want.tolist())
    assert rep["pred"] == [int(p) for p in np.argmax(want, axis=1)]
    # both images in one START (the default batch), in as many slots as the activation memory holds
    span = bsm.read_bitstream(setup["tmp"] / "chain" / "config.bin").activation_span
    assert (rep["units"], rep["batch"], rep["slots"]) == (1, 2, min(2, CONFIG.activation_bytes // span))
    assert "1 compute unit at once, 2 inputs per START" in printed
    # four layers on chip per image, weight copies included: more than the engine's products alone
    assert len(rep["run_cycles"]) == 1 and rep["run_cycles"][0] > 2 * 6 * 6 * 27
    assert rep["cycles_total"] == rep["run_cycles"][0] and rep["cycles_per_image"] == rep["cycles_total"] / 2
    assert rep["device"]["config"]["verdict"].startswith("accepted the bitstream")


@pytest.mark.sim
@pytest.mark.slow
def test_table_models_of_the_multipliers_give_the_same_outputs(accel: Path, setup: dict, tmp_path: Path,
                                                               capsys) -> None:
    """``--multipliers table``: each netlist replaced by its table model in the simulated RTL (the
    chain's depthwise layer and per-filter selects use both multipliers)."""
    out = tmp_path / "hil.json"
    assert main(_hil(accel, setup, "chain", setup["chain"], "--limit", "3", "--multipliers", "table",
                     "--batch", "1", "--json", str(out))) == 0
    assert "multipliers simulated by their table models" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    want = _expected(setup, "chain", setup["chain"], 0, 3)
    assert rep["multipliers"] == "table" and np.array_equal(np.asarray(rep["logits"]), want)
    # --batch 1: one START per image, each the same cycles (nothing depends on the data)
    assert rep["batch"] == 1 and len(rep["run_cycles"]) == 3 and len(set(rep["run_cycles"])) == 1
    models = sorted((accel / "hil-work" / "table-models").glob("*.v"))
    assert [p.stem for p in models] == ["mul8u_1JJQ", "mul8u_DG8"]


@pytest.mark.sim
@pytest.mark.slow
def test_a_run_the_device_stops_is_one_line_with_its_code_and_offset(accel: Path, setup: dict, capsys) -> None:
    rc = main(_hil(accel, setup, "dw", setup["dw"], "--limit", "1"))
    err = capsys.readouterr().err.strip()
    at = next(line for line in bsm.describe((setup["tmp"] / "dw" / "config.bin").read_bytes()).splitlines()
              if "depthwise_conv2d" in line)
    offset = int(at.split("@")[1].split()[0])
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert "config.bin" in err and "error 13 UNSUPPORTED_LAYER" in err and f"byte offset {offset}" in err, err
    assert "stopped after 1 layers" in err and "image 0" in err, err


def test_a_bitstream_alone_is_refused_on_a_whole_network_device(accel: Path, setup: dict, capsys) -> None:
    rc = main(["hil", "--accel", str(accel), "--bitstream", str(setup["tmp"] / "chain" / "config.bin"),
               "--model", str(setup["chain"]), "--images", str(setup["images"])])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and "manifest.json" in err and "--config" in err, err


class _WrongFrom:
    """A stand-in device (the driver's methods, in Python) whose layer ``bad`` (a descriptor
    position) and every later one compute from one wrong byte: each run returns the emulation's
    tensor of the loaded ``config.bin``'s last descriptor, off by one at ``at`` from ``bad`` on."""

    def __init__(self, graph, vals: dict, bad: int, at: tuple[int, ...]):
        self.graph, self.vals, self.bad, self.at = graph, vals, bad, at
        self.loads: list[int] = []

    async def identify(self):
        return {}

    async def load_config(self, data: bytes, *, check: bool = False):
        self.bs = bsm.decode(data)
        self.loads.append(len(self.bs.layers))
        return LoadResult(True, 0, "no error", 0, len(data), len(data) + 1)

    async def load_weights(self, data: bytes, *, check: bool = True):
        return LoadResult(True, 0, "no error", 0, len(data), len(data) + 1, image="weights.bin")

    async def write_input(self, config_bin: bytes, data: bytes) -> None:
        self.image = next(n for n in range(3) if self.vals[self.graph.inputs[0]][n].tobytes() == data)

    async def run(self, *, poll_cycles: int = 2000):
        return RunResult(True, 100, len(self.bs.layers))

    async def run_batch(self, config_bin: bytes, inputs: list[bytes], *, slots: int, poll_cycles: int = 2000):
        outs = []
        for x in inputs:
            await self.write_input(config_bin, x)
            await self.run()
            outs.append(await self.read_output(config_bin))
        return RunResult(True, 100 * len(inputs), len(self.bs.layers) * len(inputs)), outs

    async def read_output(self, config_bin: bytes) -> bytes:
        k = len(self.bs.layers)
        _d, op = layer_outputs(self.graph, self.bs)[k - 1]
        out = self.vals[self.graph.ops[op].outputs[0]][self.image].copy()
        if k - 1 >= self.bad:
            flat = out.reshape(-1) if k - 1 > self.bad else out
            idx = (0,) if k - 1 > self.bad else self.at
            flat[idx] = np.int8(int(flat[idx]) + 1 - (256 if int(flat[idx]) == 127 else 0))
        return out.tobytes()


def test_a_mismatch_names_the_first_differing_layer_and_position(accel: Path, setup: dict) -> None:
    from rtlgen.emulate.emulator import quantize_input

    graph = load_tflite(setup["chain"])
    folder = setup["tmp"] / "chain"
    lib = setup["lib"]
    emu = emulator_from_images(graph, bsm.read_bitstream(folder / "config.bin"), read_weights(folder / "weights.bin"),
                               lambda h: (lib.table(h), lib.get(h).signed))
    with np.load(setup["images"]) as f:
        vals = emu.run_batch(quantize_input(graph, f["x"]))
    device = _WrongFrom(graph, vals, bad=1, at=(1, 0, 4))
    # the accelerator is only read for its hash and multipliers (no simulator here)
    spec = {"accel": str(accel), "bitstream": str(folder / "config.bin"),
            "weights": str(folder / "weights.bin"), "model": str(setup["chain"]), "images": str(setup["images"]),
            "start": 2, "limit": 1}
    with pytest.raises(VerificationError) as exc:
        asyncio.run(run_network(None, spec, device=device))
    msg = str(exc.value)
    assert msg.startswith("image 2: the network output read from the device differs from the emulation at index 0")
    assert "first differing layer: layer 1 (op 1, DEPTHWISE_CONV_2D), image 2" in msg, msg
    assert "at (y=1, x=0, channel=4)" in msg, msg
    # the whole network, then prefixes of 1 and 2 descriptors: the search stops at the first bad one
    assert device.loads == [4, 1, 2]
