from __future__ import annotations

import numpy as np
import pytest

from rtlgen.errors import ModelError
from rtlgen.nn import load_tflite, parse_tflite
from rtlgen.zoo.digits import digits_model_path

import tflite as tfl


@pytest.fixture(scope="module")
def resnet8_bytes(shared_data) -> tuple[str, bytes]:
    path = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    return str(path), path.read_bytes()


@pytest.mark.data
def test_resnet8_structure(resnet8_bytes):
    path, buf = resnet8_bytes
    g = load_tflite(path)
    kinds = [op.kind for op in g.ops]
    assert kinds.count("CONV_2D") == 9 and kinds.count("ADD") == 3
    assert kinds[-3:] == ["RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert len(g.conv_ops()) == 9 and g.last_fc().index == 14
    w = g.tensors[g.ops[0].inputs[1]]
    assert w.shape == (16, 3, 3, 3) and w.data.dtype == np.int8
    assert w.quant.scale.shape == (16,)  # per-channel weight scales
    assert g.input.scale == 1.0 and g.input.zero_point == -128
    assert g.ops[0].options == {"padding": "SAME", "stride": (1, 1), "dilation": (1, 1),
                                "activation": "RELU"}
    assert g.ops[4].options["stride"] == (2, 2)


def test_digits_has_depthwise_pad_and_max_pool():
    g = load_tflite(digits_model_path())
    kinds = {op.kind for op in g.ops}
    assert {"DEPTHWISE_CONV_2D", "PAD", "MAX_POOL_2D"} <= kinds


def _patch_opcode(buf: bytes, op_index: int, code: int) -> bytes:
    """Rewrite the builtin code of the operator code used by op ``op_index`` in place."""
    out = bytearray(buf)
    m = tfl.Model.GetRootAsModel(out, 0)
    oc = m.OperatorCodes(m.Subgraphs(0).Operators(op_index).OpcodeIndex())
    tab = oc._tab
    o = tab.Offset(4)  # deprecated_builtin_code: int8
    if o:
        out[tab.Pos + o] = min(code, 127)
    o = tab.Offset(10)  # builtin_code: int32
    if o:
        out[tab.Pos + o: tab.Pos + o + 4] = int(code).to_bytes(4, "little", signed=True)
    return bytes(out)


@pytest.mark.data
def test_unsupported_op_names_op_index_and_file(resnet8_bytes):
    path, buf = resnet8_bytes
    bad = _patch_opcode(buf, 15, tfl.BuiltinOperator.TANH)  # SOFTMAX -> TANH
    with pytest.raises(ModelError, match=r"^x\.tflite: op 15 \(TANH\): unsupported operator; "
                                         r"supported: CONV_2D, "):
        parse_tflite(bad, source="x.tflite")


@pytest.mark.data
def test_asymmetric_weights_are_rejected(resnet8_bytes):
    path, buf = resnet8_bytes
    out = bytearray(buf)
    m = tfl.Model.GetRootAsModel(out, 0)
    sg = m.Subgraphs(0)
    q = sg.Tensors(sg.Operators(1).Inputs(1)).Quantization()
    start = q._tab.Vector(q._tab.Offset(10))  # zero_point: [int64]
    out[start: start + 8] = (3).to_bytes(8, "little", signed=True)
    with pytest.raises(ModelError, match=r"^m\.tflite: op 1 \(CONV_2D\): asymmetric weight "
                                         r"quantization \(nonzero zero point\) is not supported$"):
        parse_tflite(bytes(out), source="m.tflite")


def test_not_a_flatbuffer():
    with pytest.raises(ModelError, match=r"^junk\.tflite: not a TFLite flatbuffer"):
        parse_tflite(b"\x00" * 64, source="junk.tflite")
