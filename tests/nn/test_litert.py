"""Exact mode against LiteRT's reference kernels on all 1,017 CIFAR-10 images (ResNet-8)."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.nn import quant
from rtlgen.emulate import Emulator, quantize_input
from rtlgen.nn import load_tflite

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def resnet8(shared_data):
    path = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    data = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")
    return path, load_tflite(path), data["x"], data["y"]


@pytest.fixture(scope="module")
def litert_reference(resnet8):
    """LiteRT BUILTIN_REF: last FULLY_CONNECTED output and graph output of every image."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path, graph, x, _ = resnet8
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    fc = graph.last_fc().outputs[0]
    xq = quantize_input(graph, x)
    logits, outputs = [], []
    for i in range(xq.shape[0]):
        it.set_tensor(graph.inputs[0], xq[i: i + 1])
        it.invoke()
        logits.append(it.get_tensor(fc).reshape(-1).copy())
        outputs.append(it.get_tensor(graph.outputs[0]).reshape(-1).copy())
    return np.stack(logits), np.stack(outputs)


def _first_difference(got: np.ndarray, want: np.ndarray, what: str) -> str:
    bad = np.argwhere(got != want)
    if bad.size == 0:
        return ""
    i, j = bad[0]
    return (f"{what}: {len(np.unique(bad[:, 0]))} images differ; first image {i}, index {j}: "
            f"emulated {got[i, j]}, LiteRT {want[i, j]}")


def test_input_is_pixel_minus_128(resnet8):
    _, graph, x, _ = resnet8
    assert np.array_equal(quantize_input(graph, x[:3]).astype(np.int16), x[:3].astype(np.int16) - 128)


@pytest.mark.parametrize("engine", ["fast", "native"])
def test_exact_mode_equals_litert_on_all_images(resnet8, litert_reference, engine):
    _, graph, x, y = resnet8
    res = Emulator(graph, engine=engine).run(x)
    want_logits, want_out = litert_reference
    assert res.logits.dtype == np.int8 and res.logits.shape == (1017, 10)
    msg = _first_difference(res.logits, want_logits, "last FULLY_CONNECTED output")
    assert not msg, msg
    msg = _first_difference(res.output.reshape(1017, -1), want_out, "graph output")
    assert not msg, msg
    assert abs(res.accuracy(y) - 0.8791) < 5e-5  # the figure the data README records


def test_reference_engine_equals_litert(resnet8, litert_reference):
    _, graph, x, _ = resnet8
    res = Emulator(graph, engine="reference").run(x[:40])
    msg = _first_difference(res.logits, litert_reference[0][:40], "reference engine logits")
    assert not msg, msg
    msg = _first_difference(res.output.reshape(40, -1), litert_reference[1][:40], "reference engine output")
    assert not msg, msg


def test_fully_connected_rounds_once_as_litert_does(resnet8, litert_reference):
    """Why quant documents FULLY_CONNECTED as single rounding: two-step is measurably off."""
    _, graph, x, _ = resnet8
    em = Emulator(graph, engine="fast")
    fc = em.layers[graph.last_fc().index]
    vals = em.run_batch(quantize_input(graph, x[:300]))
    acc = em.engine.accumulate(fc, vals[graph.tensors[graph.last_fc().inputs[0]].index], None)
    acc = acc.reshape(300, -1).astype(np.int64) + fc.bias
    two = quant.requantize(acc, fc.multiplier, fc.shift, fc.z_out, *fc.act, rounding="double")
    one = quant.requantize(acc, fc.multiplier, fc.shift, fc.z_out, *fc.act, rounding="single")
    assert np.array_equal(one, litert_reference[0][:300])
    assert np.count_nonzero(two != litert_reference[0][:300]) > 0
