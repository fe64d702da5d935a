"""Conv layers of a configuration bitstream as accelerator jobs, each with its golden output.

A workload for the power flow (:mod:`rtlgen.accel.power`) and its command line. As the HIL does
(:mod:`rtlgen.hil.host`), the bitstream is checked against the accelerator folder (its config hash)
and the model, the multipliers' tables are tabulated from the folder's netlists, and the
emulator is configured *from the bitstream* and runs one image. Every selected CONV_2D layer the
bitstream describes becomes a :class:`~rtlgen.accel.job.ConvJob` (the layer's input tensor,
weights after the bitstream's remap, unit, encoding, selects and requantization from the
bitstream) with the emulator's output tensor as the expected result; a layer split over units
(config.bin's shares) becomes one job per share, on its unit, expected on its own channels.

Each job also carries what the energy model's calibration (:mod:`rtlgen.accel.energy`) needs:
its multiplications per bank slot (from the bitstream's selects and the job's output size) and
the layer's operand histograms (port A, port B) over the whole layer on the image, in the plan's
encoding (:meth:`rtlgen.emulate.emulator.Emulator.operand_histograms`; a crop's own
distribution is taken to be its layer's).

``crop = (y0, x0, size)`` takes a square window of each layer's input instead (padding
recomputed for the smaller image: SAME when the layer pads, else VALID), and the expected
output is the emulator's engine on that window with the same plan: a short simulation of a real
layer's weights and data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rtlgen.errors import ConfigError, VerificationError
from rtlgen.accel.job import ConvJob, descriptor_job

__all__ = ["LayerWork", "bitstream_jobs", "slot_macs"]


@dataclass(frozen=True)
class LayerWork:
    name: str              # "layer N"
    layer: int             # conv layer index (0-based, as the bitstream numbers them)
    job: ConvJob
    expected: np.ndarray   # int8 [out_h, out_w, out_c]
    slot_macs: dict[int, int]                      # bank slot -> multiplications in this job
    operand_hists: tuple[np.ndarray, np.ndarray]   # the layer's port-A and port-B code counts
    channels: tuple[int, int]                      # the output channels [first, end) the job writes

    def output_mismatch(self, output: np.ndarray) -> str:
        """'' when ``output`` (int8 [out_h, out_w, out_c]) equals :attr:`expected` on the job's
        channels, else the first differing position with both values."""
        lo, hi = self.channels
        got, want = output[..., lo:hi], self.expected[..., lo:hi]
        if (got == want).all():
            return ""
        y, x, c = (int(v) for v in np.argwhere(got != want)[0])
        return (f"{self.name}: the gate-level output differs from the emulation at (y={y}, x={x}, "
                f"channel={lo + c}): expected {int(want[y, x, c])}, got {int(got[y, x, c])}")


def slot_macs(layer, out_h: int, out_w: int) -> dict[int, int]:
    """Multiplications per bank slot of bitstream layer descriptor ``layer`` computing an
    ``out_h x out_w`` output of its channels (a share's own; its selects per layer, filter or
    kernel)."""
    g = layer.geometry
    cin = 1 if layer.kind == "depthwise_conv2d" else g.in_c
    taps = out_h * out_w * g.k_h * g.k_w            # multiplications per (filter, input channel)
    out: dict[int, int] = {}
    sel = [int(s) for s in layer.own_selects()]
    if layer.granularity == "layer":
        out[sel[0]] = taps * (layer.co_end - layer.co_first) * cin
    elif layer.granularity == "filter":
        for s in sel:
            out[s] = out.get(s, 0) + taps * cin
    else:
        for s in sel:
            out[s] = out.get(s, 0) + taps
    return out


def bitstream_jobs(accel_dir: str | os.PathLike, bitstream: str | os.PathLike,
                   model: str | os.PathLike, images: str | os.PathLike, *, image: int = 0,
                   layers: list[int] | None = None,
                   crop: tuple[int, int, int] | None = None) -> list[LayerWork]:
    """The jobs of image ``image`` for the conv layers ``layers`` (default: every CONV_2D the
    bitstream describes): one per layer, or per share of a layer split over units (each on its
    unit, as the device runs it; checked on its own channels)."""
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.emulate.emulator import Emulator, quantize_input
    from rtlgen.emulate.engines import get_engine
    from rtlgen.emulate.from_bitstream import plans_from_bitstream
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.ops import pad_amounts
    from rtlgen.accel.tables import accel_tables
    from rtlgen.nn.images import load_images
    from rtlgen.nn.tflite import load_tflite
    from rtlgen.accel.config import load_config
    from rtlgen.accel.manifest import read_manifest

    accel_dir = Path(accel_dir)
    manifest = read_manifest(accel_dir)
    config = load_config(accel_dir / "accel.toml")
    bs = read_bitstream(bitstream, expect_accel=manifest["config_hash"])
    graph = load_tflite(model)
    x, _ = load_images(Path(images), image, 1)   # every input file is checked before the tables are made
    macs = compile_mac_layers(graph)
    tables = accel_tables(accel_dir)
    signed = {s["hash"]: bool(s["signed"]) for bank in manifest["units"] for s in bank}

    def resolve(h: str) -> tuple[np.ndarray, bool]:
        if h not in tables:
            raise VerificationError(f"the bitstream names multiplier {h}, which the accelerator "
                                    f"in {accel_dir} lacks")
        return tables[h], signed[h]

    plans = plans_from_bitstream(graph, bs, resolve, macs, file=str(bitstream))
    emulator = Emulator(graph, plans)
    vals = emulator.run_batch(quantize_input(graph, x))
    # conv layers only: the bitstream numbers its fully_connected layers apart
    described = {d.index: d for d in bs.layers if d.kind != "fully_connected"}
    convs = graph.conv_ops()
    runnable = [li for li, op in enumerate(convs) if op.kind == "CONV_2D" and li in described]
    chosen = runnable if layers is None else list(layers)
    for li in chosen:
        if li not in runnable:
            raise ConfigError(f"conv layer {li} is not a CONV_2D layer the bitstream describes; "
                              f"it describes {runnable}", file=str(bitstream))
    hists = emulator.operand_histograms(x) if chosen else {}
    out = []
    for li in chosen:
        op = convs[li]
        mac = macs[op.index]
        plan = plans.get(op.index)
        weights = plan.layer_weights(mac) if plan is not None else mac.weights
        xin = vals[op.inputs[0]][0].reshape(mac.in_shape)
        expected = vals[op.outputs[0]][0].reshape(mac.out_shape)
        if crop is not None:
            y0, x0, size = crop
            h, w, _ = mac.in_shape
            if not (0 <= y0 and 0 <= x0 and size >= 1 and y0 + size <= h and x0 + size <= w):
                raise ValueError(f"crop (y0={y0}, x0={x0}, size={size}) does not fit layer {li}'s "
                                 f"{h}x{w} input")
            xin = xin[y0:y0 + size, x0:x0 + size]
            padding = "SAME" if any(p for pair in mac.pads for p in pair) else "VALID"
            _, kh, kw, _ = mac.weights.shape
            oh, pt, pb = pad_amounts(padding, size, kh, mac.stride[0])
            ow, pl, pr = pad_amounts(padding, size, kw, mac.stride[1])
            mac = replace(mac, in_shape=xin.shape, out_shape=(oh, ow, mac.out_shape[2]),
                          pads=((pt, pb), (pl, pr)))
            expected = get_engine("reference").output(mac, xin[None], plan).reshape(mac.out_shape)
        expected = np.asarray(expected).astype(np.int8)
        for d in bs.shares(li):
            name = (f"layer {li} channels {d.co_first}-{d.co_end - 1} on unit {d.unit}" if d.is_share
                    else f"layer {li}")
            out.append(LayerWork(name, li, descriptor_job(config, d, mac, weights, xin), expected,
                                 slot_macs(d, mac.out_shape[0], mac.out_shape[1]), hists[op.index],
                                 (d.co_first, d.co_end)))
    return out
