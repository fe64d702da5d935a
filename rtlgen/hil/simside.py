"""Hardware in the loop, the half that runs inside the simulator's Python (cocotb).

:func:`cocotb_entry` is the body of ``rtlgen.sim.tb.rtlgen_hil_test``: it reads the JSON spec that
:func:`rtlgen.hil.host.run_hil` names in ``$RTLGEN_HIL_SPEC``, runs :func:`simulate` and writes the
result file. What is compared, and how, is described in :mod:`rtlgen.hil.host`.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen.accel.manifest import read_manifest
from rtlgen.accel.tables import accel_tables
from rtlgen.errors import BitstreamError, ConfigError, ModelError, VerificationError
from rtlgen.nn.images import load_images
from rtlgen.paths import atomic_write_text

__all__ = ["SPEC_ENV", "DeviceRejected", "load_on_device", "simulate", "warm_up", "table_resolver", "cocotb_entry"]

#: The environment variable naming the JSON spec of one simulator process's work.
SPEC_ENV = "RTLGEN_HIL_SPEC"


class DeviceRejected(Exception):
    """The front end refused an image: ``image`` is ``"config"`` or ``"weights"``, the message
    the driver's :class:`~rtlgen.errors.BitstreamError` (code name, meaning, byte offset)."""

    def __init__(self, image: str, message: str):
        super().__init__(message)
        self.image = image


async def load_on_device(device: Any, config: bytes, weights: bytes, *, start: bool = True) -> dict[str, Any]:
    """Stream ``config.bin`` then ``weights.bin``, unchanged, into the front end through
    ``device`` (an :class:`rtlgen.hil.driver.AccelDriver`), then (with ``start``) try ``START``.

    Returns what the device said (its identity, each image's ``describe()`` and load cycles,
    whether it took ``START``); :class:`DeviceRejected` when it refused an image, with the
    hardware's error code, meaning and offset; ToolError when it accepted both but refused
    ``START`` (the two images do not belong together, which the weights check should have said).
    A device with the on-chip sequencer runs the network on ``START``: :func:`run_network` loads
    without it and starts each input itself."""
    from rtlgen.errors import BitstreamError, ToolError

    ident = await device.identify()
    verdicts = {}
    for image, data, load in (("config", config, device.load_config), ("weights", weights, device.load_weights)):
        try:
            res = await load(data, check=True)
        except BitstreamError as exc:
            raise DeviceRejected(image, str(exc)) from None
        verdicts[image] = {"verdict": res.describe(), "bytes": res.bytes_received, "cycles": res.cycles}
    if not start:
        return {"identity": ident, **verdicts, "start": "not tried"}
    if not await device.start():
        raise ToolError("the accelerator accepted config.bin and weights.bin but refused START "
                        f"(STATUS {await device.status()})")
    return {"identity": ident, **verdicts, "start": "taken"}


def table_resolver(spec: dict[str, Any], accel_dir: Path, manifest: dict[str, Any]) -> Any:
    """Table hash -> (table, signed) of the accelerator's multipliers: the spec's ``tables`` file
    (tabulated once by the host) or the accelerator's own netlists; a hash the accelerator lacks
    is a VerificationError."""
    if spec.get("tables"):
        with np.load(spec["tables"]) as f:
            tables = {k: f[k] for k in f.files}
    else:
        tables = accel_tables(accel_dir)
    signed = {s["hash"]: bool(s["signed"]) for bank in manifest["units"] for s in bank}

    def resolve(h: str) -> tuple[np.ndarray, bool]:
        if h not in tables:
            raise VerificationError(f"the bitstream names multiplier {h}, which the accelerator in {accel_dir} lacks")
        return tables[h], signed[h]

    return resolve


def warm_up(emu: Any, xq: np.ndarray) -> None:
    """Run the emulation once on the first input: the engine compiles its kernels on first use
    (seconds of numba compilation per process, the native engine's), which is start-up, not
    per-image work."""
    if len(xq):
        emu.run_batch(xq[:1])


async def simulate(dut: Any, spec: dict[str, Any], driver: Any = None, device: Any = None) -> dict[str, Any]:
    """The HIL loop inside the simulator (see the module docstring); returns the figures.

    ``driver`` runs the conv jobs (default: :class:`rtlgen.accel.tb.FileDriver` on ``dut``);
    anything with async ``start()``, ``run(job, weights_key)`` -> (int8 output, cycles) and
    ``stop()`` will do. When the spec names a ``weights`` image, ``config.bin`` (``bitstream``)
    and ``weights.bin`` are first loaded into the front end (:func:`load_on_device`) through
    ``device`` (default: an :class:`~rtlgen.hil.driver.AccelDriver` over cocotbext-axi on
    ``dut``), and nothing else happens unless it accepts both."""
    from rtlgen.accel.config import load_config
    from rtlgen.accel.job import descriptor_job
    from rtlgen.accel.tb import FileDriver
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.emulate.emulator import Emulator, quantize_input
    from rtlgen.emulate.from_bitstream import plans_from_bitstream
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.nn.tflite import load_tflite

    t0 = time.perf_counter()
    accel_dir = Path(spec["accel"])
    manifest = read_manifest(accel_dir)
    config = load_config(accel_dir / "accel.toml")
    drv = driver if driver is not None else FileDriver(dut, os.getcwd(), config.weight_word_bits)
    await drv.start()     # clock and reset
    loaded = None
    if spec.get("weights"):
        # the hardware judges the images first, as they are: the Python decoders below only
        # read what it accepted
        if device is None:
            from rtlgen.hil.driver import AccelDriver, CocotbAxiTransport

            device = AccelDriver(CocotbAxiTransport(dut))
        loaded = await load_on_device(device, Path(spec["bitstream"]).read_bytes(), Path(spec["weights"]).read_bytes())
    bs = read_bitstream(spec["bitstream"], expect_accel=manifest["config_hash"])
    graph = load_tflite(spec["model"])
    layers = compile_mac_layers(graph)
    if spec.get("weights"):
        from rtlgen.bitstream.weights import read_weights
        from rtlgen.emulate.from_bitstream import check_weights

        # the device checked that the two images belong together; that they are this model's
        # weights only the host can check (the device never sees the .tflite). The layer runs
        # below load the model's weights, which the matching hash makes weights.bin's.
        check_weights(graph, read_weights(spec["weights"]), layers, file=str(spec["weights"]))
    resolve = table_resolver(spec, accel_dir, manifest)
    plans = plans_from_bitstream(graph, bs, resolve, layers, file=str(spec["bitstream"]))
    emu = Emulator(graph, plans)
    x, y = load_images(Path(spec["images"]), int(spec["start"]), spec["limit"])
    xq = quantize_input(graph, x)
    warm_up(emu, xq)
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    c1 = time.process_time()
    vals = emu.run_batch(xq)
    fc = graph.last_fc()
    logits = vals[fc.outputs[0] if fc is not None else graph.outputs[0]].reshape(len(xq), -1)
    t_emu = time.perf_counter() - t1
    t_loop = time.perf_counter()
    c_sim = 0.0

    described = {d.key: bs.shares(d.key) for d in bs.layers}     # a split layer: its shares
    mac_keys = {op.index: str(i) for i, op in enumerate(graph.conv_ops())}
    mac_keys.update({op.index: f"fc:{i}" for i, op in enumerate(graph.mac_ops(("FULLY_CONNECTED",)))})
    # graph order, the order the tensors are computed in
    # (a depthwise layer in the engine's depthwise mode, which takes depth multiplier 1 only)
    on_rtl = [(mac_keys[op.index], op) for op in graph.mac_ops(("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
              if mac_keys[op.index] in described
              and (op.kind != "DEPTHWISE_CONV_2D" or layers[op.index].in_shape[2] == layers[op.index].out_shape[2])]
    progress = Path(spec["progress"]) if spec.get("progress") else None
    done_runs = 0
    per_layer = []
    fc_rtl = fc is not None and any(op.index == fc.index for _k, op in on_rtl)
    if fc_rtl:
        logits = np.zeros_like(logits)    # filled below with what the RTL returns
    t_sim = 0.0
    for li, op in on_rtl:
        shares = described[li]
        d = shares[0]
        layer = layers[op.index]
        plan = plans.get(op.index)
        weights = plan.layer_weights(layer) if plan is not None else layer.weights
        xin = vals[op.inputs[0]].reshape((len(xq),) + tuple(layer.in_shape))
        expected = vals[op.outputs[0]]
        oh, ow, oc = layer.out_shape
        cycles = 0
        t1 = time.perf_counter()
        c2 = time.process_time()
        # weight and parameter images are the same for every image: build them once. A split
        # layer runs share after share (each on its unit, its own channels; on the device they
        # run at once) and its output gathers each share's channels
        jobs = [descriptor_job(config, s, layer, weights, xin[0]) for s in shares]
        for n in range(len(xq)):
            act = np.ascontiguousarray(xin[n]).astype(np.int8).view(np.uint8).ravel()
            got = None
            for k, (s, job0) in enumerate(zip(shares, jobs)):
                part, cyc = await drv.run(replace(job0, activations=act),
                                          weights_key=li if len(shares) == 1 else f"{li}/{k}")
                cycles += cyc
                if got is None:
                    got = np.array(part)
                got[..., s.co_first:s.co_end] = part[..., s.co_first:s.co_end]
            done_runs += 1
            if progress is not None:
                atomic_write_text(progress, json.dumps([done_runs, len(on_rtl) * len(xq)]))
            if fc_rtl and op.index == fc.index:
                logits[n] = np.asarray(got).reshape(-1)
            exp = expected[n].reshape(oh, ow, oc)
            if not np.array_equal(got, exp):
                yy, xx, cc = (int(v) for v in np.argwhere(got != exp)[0])
                drv.stop()
                raise VerificationError(
                    f"layer {li} (op {op.index}, {layer.name or op.kind}), image {int(spec['start']) + n}: RTL output "
                    f"differs from the emulation at (y={yy}, x={xx}, channel={cc}): expected {int(exp[yy, xx, cc])}, "
                    f"got {int(got[yy, xx, cc])} ({int(np.count_nonzero(got != exp))} of {got.size} bytes differ)")
        dt = time.perf_counter() - t1
        t_sim += dt
        c_sim += time.process_time() - c2
        per_layer.append({"layer": li, "op": op.index, "name": layer.name,
                          "unit": d.unit if len(shares) == 1 else [s.unit for s in shares],
                          **({} if len(shares) == 1 else {"shares": [[s.co_first, s.co_end] for s in shares]}),
                          "encoding": d.encoding,
                          "granularity": d.granularity, "cycles_per_image": cycles / len(xq),
                          "estimate": sum(j.cycle_estimate(config.lanes) for j in jobs),
                          "seconds": dt})
    drv.stop()
    if not per_layer:
        raise ConfigError("the bitstream describes no CONV_2D or FULLY_CONNECTED layer of the model: nothing runs on the accelerator",
                          file=str(spec["bitstream"]))
    pred = np.argmax(logits, axis=1)
    return {"images": int(len(xq)), "pred": [int(p) for p in pred],
            "logits": np.asarray(logits, dtype=np.int64).tolist(),
            "logits_source": ("rtl: the output of the last FULLY_CONNECTED layer as the RTL returned it" if fc_rtl else
                              "host: the emulator's (the bitstream does not describe the last FULLY_CONNECTED "
                              "layer, so it ran on the host)" if fc is not None else
                              "host: the model's output tensor (the model has no FULLY_CONNECTED layer)"),
            "device": loaded,
            "setup_seconds": t_setup, "loop_seconds": t_emu + (time.perf_counter() - t_loop),
            "loop_cpu_seconds": time.process_time() - c1, "sim_cpu_seconds": c_sim,
            "labels": None if y is None else [int(v) for v in y],
            "cycles": int(sum(l["cycles_per_image"] for l in per_layer) * len(xq)),
            "sim_seconds": t_sim, "emulation_seconds": t_emu, "layers": per_layer}


async def cocotb_entry(dut: Any) -> None:
    """Body of the cocotb test: read the spec, run :func:`simulate` (or, with ``"mode":
    "network"``, :func:`rtlgen.hil.network.run_network`), write the result file."""
    spec = json.loads(Path(os.environ[SPEC_ENV]).read_text())
    out = Path(spec["result"])
    try:
        if spec.get("mode") == "network":
            from rtlgen.hil.network import run_network

            result = await run_network(dut, spec)
        else:
            result = await simulate(dut, spec)
    except DeviceRejected as exc:
        atomic_write_text(out, json.dumps({"rejected": str(exc), "image": exc.image}))
        raise
    except (BitstreamError, ConfigError, ModelError) as exc:
        # a bad input found inside (e.g. weights.bin for another model): the host raises it
        # again as it was, one line naming its file
        atomic_write_text(out, json.dumps({"input_error": {"type": type(exc).__name__, "message": exc.message,
                                                           "file": exc.file, "line": exc.line}}))
        raise
    except VerificationError as exc:
        atomic_write_text(out, json.dumps({"mismatch": str(exc)}))
        raise
    except Exception as exc:
        atomic_write_text(out, json.dumps({"error": f"{type(exc).__name__}: {exc}",
                                           "traceback": traceback.format_exc()}))
        raise
    atomic_write_text(out, json.dumps(result))
