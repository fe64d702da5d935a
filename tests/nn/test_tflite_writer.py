from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert import interpreter as litert

from rtlgen.nn.tflite_writer import Quant, TfliteGraph


def _fc_model(w: np.ndarray, bias: np.ndarray, zp_in: int, zp_out: int) -> bytes:
    # Unit scales make the requantization multiplier exactly 1: out = clamp(acc + zp_out).
    g = TfliteGraph("test")
    x = g.tensor("x", (1, w.shape[1]), "int8", quant=Quant((1.0,), (zp_in,)))
    wt = g.tensor("w", w.shape, "int8", data=w, quant=Quant((1.0,), (0,)))
    bt = g.tensor("b", bias.shape, "int32", data=bias, quant=Quant((1.0,), (0,)))
    y = g.tensor("y", (1, w.shape[0]), "int8", quant=Quant((1.0,), (zp_out,)))
    g.op("FULLY_CONNECTED", [x, wt, bt], [y])
    return g.to_bytes(inputs=[x], outputs=[y])


def test_written_model_runs_exactly_under_litert() -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 4, size=(5, 7)).astype(np.int8)
    bias = rng.integers(-20, 21, size=5).astype(np.int32)
    interp = litert.Interpreter(
        model_content=_fc_model(w, bias, zp_in=3, zp_out=-5),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
    )
    interp.allocate_tensors()
    for _ in range(20):
        x = rng.integers(-128, 128, size=(1, 7)).astype(np.int8)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        acc = (x.astype(np.int32) - 3) @ w.T.astype(np.int32) + bias
        np.testing.assert_array_equal(got, np.clip(acc - 5, -128, 127).astype(np.int8))


def test_bad_graphs_are_refused_with_the_reason() -> None:
    g = TfliteGraph()
    x = g.tensor("x", (1, 4), "int8", quant=Quant((1.0,), (0,)))
    with pytest.raises(ValueError, match=r"^operator 'MUL' is not one of \['ADD', "):
        g.op("MUL", [x, x], [x])
    with pytest.raises(ValueError, match=r"^operator ADD: tensor index 9 does not exist$"):
        g.op("ADD", [x, 9], [x])
    with pytest.raises(ValueError, match=r"^tensor 'w': data has shape \(2,\), declared \(3,\)$"):
        g.tensor("w", (3,), "int8", data=np.zeros(2, np.int8))
    with pytest.raises(ValueError, match=r"^tensor 'w': data of type int32 does not fit int8$"):
        g.tensor("w", (1,), "int8", data=np.array([300], np.int32))
    with pytest.raises(ValueError, match=r"^tensor 'w': 3 per-channel scales along axis 0 do not match shape \(2, 2\)$"):
        g.tensor("w", (2, 2), "int8", quant=Quant((1.0, 1.0, 1.0), (0, 0, 0)))
    with pytest.raises(ValueError, match=r"^tensor 'x': dtype 'uint4' is not one of"):
        g.tensor("x", (1,), "uint4")
    with pytest.raises(ValueError, match=r"^quantization scales must be finite and positive"):
        Quant((0.0,), (0,))
    g.op("ADD", [x, x], [x], activation="TANH")
    with pytest.raises(ValueError, match=r"^operator ADD: activation 'TANH' is not one of"):
        g.to_bytes([x], [x])
    g2 = TfliteGraph()
    t = g2.tensor("x", (1, 4), "int8", quant=Quant((1.0,), (0,)))
    g2.op("SOFTMAX", [t], [t], beta=1.0, axis=1)
    with pytest.raises(ValueError, match=r"^operator SOFTMAX: unknown options \['axis'\]$"):
        g2.to_bytes([t], [t])
