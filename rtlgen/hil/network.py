"""Hardware in the loop on a device that runs whole networks: the simulator side.

For an accelerator generated with its front end and on-chip sequencer in the top
(``rtlgen gen accel --axi``; :mod:`rtlgen.accel.sequencer`), ``rtlgen hil --config DIR`` drives
the device as a host CPU would, through :class:`rtlgen.hil.driver.AccelDriver` only (on
cocotbext-axi masters in the simulator; the register sequence is the driver's, the bus is the
transport's, so the same code drives a board):

1. ``config.bin`` and ``weights.bin`` are streamed unchanged into the device, which must accept
   both (a rejection stops the run with the hardware's error code, meaning and byte offset);
2. the host reads the images it accepted (``config.bin`` checked against the accelerator's hash
   and the model, ``weights.bin`` against the model's weights hash) and the emulator computes
   every tensor of the images from the same two images
   (:func:`rtlgen.emulate.from_bitstream.emulator_from_images`, the multipliers' tables
   tabulated from the accelerator's own netlists);
3. per batch of images (:func:`batch_shape`: all of them, at most 16, by default): the int8
   inputs are written where ``config.bin``'s activation-memory plan puts them, shifted by their
   slot (as many slots as the activation memory holds), ``CTRL.START``, and as ``OUTPUTS_DONE``
   counts each input done its output is read back from the plan's output region and the next
   input written into the freed slot (``CTRL.POST``; :meth:`rtlgen.hil.driver.AccelDriver.run_batch`):
   the compute units work on consecutive inputs at the same time. No host between layers. A run
   the device stops (``ERROR``: an unsupported layer, a layer without weights, no plan) is an
   error naming the hardware's code, meaning and ``config.bin`` byte offset;
4. the output is compared with the emulation's tensor of the plan's output
   (:func:`rtlgen.bitstream.memplan.plan_activations`) byte for byte.

On a difference the run stops and the first differing layer is found: the activation memory is
reused between layers (the plan), so a layer's output is gone when the network ends. The host
runs the same input again on prefixes of ``config.bin`` (its first k layer descriptors and the
op descriptors before the k-th, the plan's output region set to layer k's output; each prefix is
a valid, CRC-sealed ``config.bin``, loaded with ``weights.bin`` again as the loader requires) for
k = 1, 2, ..., reads layer k's output buffer back and compares it with the emulation's tensor.
The first MAC layer whose buffer differs is named with the image, the position (y, x, channel),
expected and got (a wrong ADD, pool or PAD shows in the first layer after it; when every layer
agrees, the difference is in an operator after the last layer or in the final read).

Figures: ``RUN_CYCLES`` of each batch (cycles from ``START`` to ``NET_DONE``: the whole network
on chip for every input of the batch, weight copies included; a batch of one is one inference),
and the wall and CPU seconds of the device work.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen.errors import BitstreamError, VerificationError
from rtlgen.paths import atomic_write_text

__all__ = ["run_network", "layer_outputs", "reset_device", "batch_shape", "PERIOD_NS"]

#: Clock period of the simulated device, and how often ``STATUS`` is polled while a network runs.
PERIOD_NS = 10
POLL_CYCLES = 5000


def layer_outputs(graph: Any, bs: Any) -> list[tuple[Any, int]]:
    """Per descriptor of ``bs``, in its order: ``(descriptor, graph op index)`` of the operator it
    describes (a MAC layer by its assignment key)."""
    from rtlgen.emulate.from_bitstream import op_of_key

    keys = op_of_key(graph)
    return [(d, keys[d.key]) for d in bs.layers]


async def reset_device(dut: Any) -> None:
    """Start the clock (:data:`PERIOD_NS`) and pulse reset (the device's only other inputs are
    its AXI ports, which the cocotbext-axi masters hold idle)."""
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles

    Clock(dut.clk, PERIOD_NS, unit="ns", impl="gpi").start(start_high=False)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


def _first_difference(got: np.ndarray, want: np.ndarray) -> tuple[tuple[int, ...], int, int, int]:
    """``(position, expected, got, bytes differing)`` of the first differing byte."""
    pos = tuple(int(v) for v in np.argwhere(got != want)[0])
    return pos, int(want[pos]), int(got[pos]), int(np.count_nonzero(got != want))


def _where(pos: tuple[int, ...]) -> str:
    if len(pos) == 3:
        return f"(y={pos[0]}, x={pos[1]}, channel={pos[2]})"
    return f"(index {', '.join(map(str, pos))})"


async def _locate(device: Any, bs: Any, weights_bin: bytes, x: bytes, graph: Any, vals: dict[int, np.ndarray],
                  n: int, image: int) -> str | None:
    """The first descriptor whose output buffer differs from the emulation (module docstring),
    as the error message; None when every prefix agrees."""
    from rtlgen.bitstream.format import encode

    pairs = layer_outputs(graph, bs)
    for k, (d, op) in enumerate(pairs, 1):
        if k < len(pairs) and pairs[k][0].key == d.key:
            continue        # a share: the prefix ends with the layer's last one
        t = graph.ops[op].outputs[0]
        want = vals[t][n]
        # the first k layer descriptors and the op descriptors (ADD, pools, PAD) before the k-th
        prefix = encode(replace(bs, layers=bs.layers[:k], ops=tuple(o for o in bs.ops if o.after_layers < k),
                                output_base=d.out_base, output_bytes=int(want.size)))
        await device.load_config(prefix, check=True)
        await device.load_weights(weights_bin, check=True)
        await device.write_input(prefix, x)
        res = await device.run(poll_cycles=POLL_CYCLES)
        if not res.done:
            return f"image {image}: the run of config.bin's first {k} descriptors {res.describe()}"
        got = np.frombuffer(await device.read_output(prefix), dtype=np.int8).reshape(want.shape)
        if not np.array_equal(got, want):
            pos, e, g, count = _first_difference(got, want)
            return (f"layer {d.key} (op {op}, {graph.ops[op].kind}), image {image}: the device's output differs from "
                    f"the emulation at {_where(pos)}: expected {e}, got {g} ({count} of {want.size} bytes differ)")
    return None


def batch_shape(images: int, span: int, activation_bytes: int, batch: int | None = None,
                slots: int | None = None) -> tuple[int, int]:
    """``(inputs per START, activation slots)``: ``batch`` (default: every image, at most 16) and
    ``slots`` (default: as many plans of ``span`` bytes as the activation memory holds, at most
    the batch and 16). Too many slots for the memory is a ConfigError."""
    from rtlgen.accel.sequencer import MAX_SLOTS
    from rtlgen.errors import ConfigError

    batch = max(1, min(images, 16) if batch is None else batch)
    fit = max(1, activation_bytes // max(span, 1))
    if slots is not None and slots > fit:
        raise ConfigError(f"{slots} activation slots of {span:,} bytes (the plan) do not fit the accelerator's "
                          f"{activation_bytes:,}-byte activation memory; expected at most {fit}")
    return batch, max(1, min(batch, MAX_SLOTS, fit if slots is None else slots))


async def run_network(dut: Any, spec: dict[str, Any], device: Any = None) -> dict[str, Any]:
    """The loop of the module docstring inside the simulator; returns the figures (the keys of
    :func:`rtlgen.hil.simside.simulate`'s result). ``device``: an
    :class:`~rtlgen.hil.driver.AccelDriver` (default: one over cocotbext-axi on ``dut``, after a
    reset)."""
    from rtlgen.accel.manifest import read_manifest
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.bitstream.memplan import plan_activations
    from rtlgen.bitstream.weights import read_weights
    from rtlgen.emulate.emulator import quantize_input
    from rtlgen.emulate.from_bitstream import emulator_from_images
    from rtlgen.hil.simside import load_on_device, table_resolver, warm_up
    from rtlgen.nn.images import load_images
    from rtlgen.nn.tflite import load_tflite

    t0 = time.perf_counter()
    accel_dir = Path(spec["accel"])
    manifest = read_manifest(accel_dir)
    if device is None:
        from rtlgen.hil.driver import AccelDriver, CocotbAxiTransport

        await reset_device(dut)
        device = AccelDriver(CocotbAxiTransport(dut, period_ns=PERIOD_NS), max_polls=1_000_000)
    config_bin, weights_bin = Path(spec["bitstream"]).read_bytes(), Path(spec["weights"]).read_bytes()
    loaded = await load_on_device(device, config_bin, weights_bin, start=False)
    loaded["start"] = "written per batch of images (each runs the whole network on every image of the batch)"
    # the host reads only what the hardware accepted
    bs = read_bitstream(spec["bitstream"], expect_accel=manifest["config_hash"])
    if not bs.has_plan:
        raise BitstreamError(f"config.bin (format version {bs.version}) has no activation-memory plan, so the "
                             "device cannot run the network; expected one from 'rtlgen bitstream build'",
                             file=str(spec["bitstream"]))
    graph = load_tflite(spec["model"])
    emu = emulator_from_images(graph, bs, read_weights(spec["weights"]), table_resolver(spec, accel_dir, manifest),
                               config_file=str(spec["bitstream"]),
                               weights_file=str(spec["weights"]))
    out_tensor = plan_activations(graph).output_tensor
    x, y = load_images(Path(spec["images"]), int(spec["start"]), spec["limit"])
    xq = quantize_input(graph, x)
    warm_up(emu, xq)
    t_setup = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    vals = emu.run_batch(xq)
    expected = vals[out_tensor].reshape(len(xq), -1)
    if expected.shape[1] != bs.output_bytes:
        raise BitstreamError(f"config.bin's plan gives the network output {bs.output_bytes} bytes, the model's "
                             f"output tensor {graph.tensors[out_tensor].name!r} has {expected.shape[1]}",
                             file=str(spec["bitstream"]))
    t_emu = time.perf_counter() - t1
    progress = Path(spec["progress"]) if spec.get("progress") else None
    logits = np.zeros_like(expected)
    run_cycles: list[int] = []
    batch, slots = batch_shape(len(xq), bs.activation_span, int(manifest["config"]["activation_bytes"]),
                               spec.get("batch"), spec.get("slots"))
    t_dev, c_dev = time.perf_counter(), time.process_time()
    for lo in range(0, len(xq), batch):
        xbs = [np.ascontiguousarray(xq[n]).astype(np.int8).tobytes() for n in range(lo, min(lo + batch, len(xq)))]
        res, outs = await device.run_batch(config_bin, xbs, slots=slots, poll_cycles=POLL_CYCLES)
        if not res.done:
            first, last = int(spec["start"]) + lo, int(spec["start"]) + lo + len(xbs) - 1
            which = f"image {first}" if first == last else f"images {first}..{last} (one batch)"
            raise BitstreamError(f"the accelerator {res.describe()}, on {which}", file=str(spec["bitstream"]))
        run_cycles.append(int(res.cycles))
        for k, out in enumerate(outs):
            n = lo + k
            image = int(spec["start"]) + n
            got = np.frombuffer(out, dtype=np.int8)
            if not np.array_equal(got, expected[n]):
                where = await _locate(device, bs, weights_bin, xbs[k], graph, vals, n, image)
                pos, e, g, count = _first_difference(got, expected[n])
                raise VerificationError(
                    f"image {image}: the network output read from the device differs from the emulation at index "
                    f"{pos[0]}: expected {e}, got {g} ({count} of {got.size} bytes differ); "
                    + (f"first differing layer: {where}" if where else
                       "every layer's output, read back on its own, agrees (the difference is in an operator after "
                       "the last MAC layer or in the final read)"))
            logits[n] = got
        if progress is not None:
            atomic_write_text(progress, json.dumps([lo + len(xbs), len(xq)]))
    t_sim, c_sim = time.perf_counter() - t_dev, time.process_time() - c_dev
    return {"images": int(len(xq)), "pred": [int(p) for p in np.argmax(logits, axis=1)],
            "logits": np.asarray(logits, dtype=np.int64).tolist(),
            "logits_source": "device: the network's output (the activation-memory plan's output region) as the "
                             "accelerator returned it after running every layer on chip",
            "device": loaded, "mode": "network",
            "setup_seconds": t_setup, "loop_seconds": t_emu + t_sim, "loop_cpu_seconds": time.process_time() - c1,
            "sim_cpu_seconds": c_sim, "labels": None if y is None else [int(v) for v in y],
            "cycles": int(sum(run_cycles)), "run_cycles": run_cycles, "sim_seconds": t_sim,
            "units": len(manifest["units"]), "batch": batch, "slots": slots,
            "emulation_seconds": t_emu, "layers": []}
