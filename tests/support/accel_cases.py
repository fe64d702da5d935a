"""Conv-layer cases for the accelerator tests, with golden outputs from the emulator.

Layers, weights and requantization parameters come from the emulation helper's model import
(:mod:`rtlgen.nn`, :mod:`rtlgen.emulate.layers`); golden outputs from its engine
(:mod:`rtlgen.emulate.engines`) running the layer's plan (multiplier tables and selects built by
:class:`rtlgen.emulate.assignment.Assignment`), so the RTL is compared with the emulation itself.
A case can be a spatial crop of a layer (a smaller image through the same weights, SAME padding
recomputed) to keep simulation short.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.job import ConvJob, conv_job
from rtlgen.emulate.assignment import parse_assignment
from rtlgen.emulate.emulator import Emulator, quantize_input
from rtlgen.emulate.engines import get_engine
from rtlgen.emulate.layers import MacLayer
from rtlgen.emulate.ops import pad_amounts
from rtlgen.nn import load_tflite


@lru_cache(maxsize=2)
def resnet8(shared_data: Path, image: int = 0):
    """(graph, exact emulator, conv ops, tensors of one CIFAR-10 image through the exact net)."""
    graph = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    x = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][image:image + 1]
    exact = Emulator(graph, engine="reference")
    vals = exact.run_batch(quantize_input(graph, x))
    return graph, exact, graph.conv_ops(), vals


@lru_cache(maxsize=1)
def dscnn(shared_data: Path, image: int = 0):
    """The same for MLPerf Tiny's DS-CNN on one kws01 input (its conv ops: the input conv, then
    depthwise and pointwise layers in turn)."""
    graph = load_tflite(shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite")
    x = np.load(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz")["x"][image:image + 1]
    exact = Emulator(graph, engine="reference")
    vals = exact.run_batch(quantize_input(graph, x))
    return graph, exact, graph.conv_ops(), vals


MODELS = {"resnet8": resnet8, "dscnn": dscnn}


@dataclass
class Case:
    name: str
    layer_index: int | str    # conv layer, 0-based, or "fc"
    job: ConvJob
    expected: np.ndarray      # int8 [OH, OW, O]


def make_case(name: str, shared_data: Path, config: AccelConfig, catalog, *, layer: int | str,
              unit: int, bank_slots: list[int], encoding: str, granularity: str,
              crop: tuple[int, int, int] | None = None, seed: int = 0, model: str = "resnet8") -> Case:
    """Conv layer ``layer`` (or ``"fc"``, the classifier) of ``model`` (:data:`MODELS`: ResNet-8
    or DS-CNN, whose depthwise layers run in the engine's depthwise mode) on unit ``unit`` with
    multipliers from the unit's bank slots
    ``bank_slots``, spread per layer (first slot), per filter or per kernel (seeded);
    ``crop = (y0, x0, size)`` takes a square window of the input."""
    graph, exact, convs, vals = MODELS[model](shared_data)
    op = graph.last_fc() if layer == "fc" else convs[layer]
    key = "fc:0" if layer == "fc" else str(layer)
    mac: MacLayer = exact.layers[op.index]
    x = vals[op.inputs[0]][0].reshape(mac.in_shape)
    o, kh, kw, c = mac.weights.shape
    rng = np.random.default_rng(seed)
    if granularity == "layer":
        sel = np.full((o, c), bank_slots[0])
    elif granularity == "filter":
        sel = np.repeat(rng.choice(bank_slots, size=(o, 1)), c, axis=1)
    else:
        sel = rng.choice(bank_slots, size=(o, c))
    names = config.unit_multipliers[unit]
    grid = [[names[s] for s in row] for row in sel]
    spec = ({"multiplier": grid[0][0]} if granularity == "layer" else
            {"filters": [r[0] for r in grid]} if granularity == "filter" else {"kernels": grid})
    spec["encoding"] = encoding
    assignment = parse_assignment({"layers": {key: spec}})
    plan = assignment.plans(graph, lambda n: (catalog.table(n), catalog.get(n).signed),
                            exact.layers)[op.index]
    if crop is not None:
        y0, x0, size = crop
        x = x[y0:y0 + size, x0:x0 + size]
        oh, pt, pb = pad_amounts("SAME", size, kh, mac.stride[0])
        ow, pl, pr = pad_amounts("SAME", size, kw, mac.stride[1])
        mac = replace(mac, in_shape=x.shape, out_shape=(oh, ow, o), pads=((pt, pb), (pl, pr)))
    expected = get_engine("reference").output(mac, x[None], plan).reshape(mac.out_shape)
    job = conv_job(config, x, mac.weights, mac.bias, mac.multiplier, mac.shift, geometry=mac.geometry,
                   z_x=mac.z_in, z_y=mac.z_out, act_min=mac.act[0], act_max=mac.act[1], unit=unit,
                   encoding=encoding, sel_mode=granularity, layer_sel=bank_slots[0],
                   selects=sel if granularity == "kernel" else sel[:, 0], rounding=mac.rounding,
                   depthwise=mac.depthwise)
    return Case(name, layer, job, expected.astype(np.int8))


def first_mismatch(case: Case, got: np.ndarray) -> str | None:
    """None, or a message naming layer, pixel, channel, expected and got of the first mismatch."""
    bad = np.argwhere(got != case.expected)
    if not len(bad):
        return None
    y, x, c = (int(v) for v in bad[0])
    what = "fully connected layer" if case.layer_index == "fc" else f"conv layer {case.layer_index}"
    return (f"{case.name}: {what}, pixel (y={y}, x={x}), channel {c}: "
            f"expected {int(case.expected[y, x, c])}, got {int(got[y, x, c])} "
            f"({len(bad)} of {got.size} bytes differ)")


def layer_operand_hists(shared_data: Path, layer: int, encoding: str, model: str = "resnet8"):
    """(port-A, port-B) code histograms of conv layer ``layer``'s multiplications on the image
    the cases use (the whole layer, as the mapper counts them), in ``encoding``."""
    graph, exact, convs, _ = MODELS[model](shared_data)
    x = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][:1] if model == "resnet8" else \
        np.load(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz")["x"][:1]
    return exact.operand_histograms(x, encoding=encoding)[convs[layer].index]
