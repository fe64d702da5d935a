"""ResNet-8's conv layers with real input activations (test helper).

Graph facts (strides, padding, fused activation) come from the flatbuffer (``tflite`` package),
tensors from LiteRT's reference kernels run on a CIFAR-10 image with every intermediate tensor
kept, so each layer's recorded output is an independent oracle for an exact multiplier.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtlgen.quant import activation_range, conv_multipliers


@dataclass
class ConvLayer:
    index: int              # conv layers in graph order, 0-based
    x: np.ndarray           # int8 [H, W, C] input
    w: np.ndarray           # int8 [O, KH, KW, C]
    bias: np.ndarray        # int32 [O]
    mult: np.ndarray
    shift: np.ndarray
    z_x: int
    z_y: int
    act_min: int
    act_max: int
    stride: tuple[int, int]
    pad: tuple[int, int]
    out_hw: tuple[int, int]
    litert_out: np.ndarray  # int8 [OH, OW, O] from LiteRT


def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, out


def resnet8_conv_layers(shared_data: Path, image: int = 0) -> list[ConvLayer]:
    import tflite
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    x = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][image]
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], (x.astype(np.int16) - 128).astype(np.int8)[None])
    it.invoke()
    details = {t["index"]: t for t in it.get_tensor_details()}
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    layers = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if model.OperatorCodes(op.OpcodeIndex()).BuiltinCode() != tflite.BuiltinOperator.CONV_2D:
            continue
        opts = tflite.Conv2DOptions()
        opts.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        ti, tw, tb = (details[op.Inputs(k)] for k in range(3))
        to = details[op.Outputs(0)]
        xin = it.get_tensor(ti["index"])[0]
        w = it.get_tensor(tw["index"])
        b = it.get_tensor(tb["index"])
        y = it.get_tensor(to["index"])[0]
        qi, qw, qo = ti["quantization_parameters"], tw["quantization_parameters"], to["quantization_parameters"]
        mult, shift = conv_multipliers(qi["scales"][0], qw["scales"], qo["scales"][0], w.shape[0])
        act = {tflite.ActivationFunctionType.NONE: "NONE",
               tflite.ActivationFunctionType.RELU: "RELU"}[opts.FusedActivationFunction()]
        z_y = int(qo["zero_points"][0])
        lo, hi = activation_range(act, float(qo["scales"][0]), z_y)
        sh, sw = opts.StrideH(), opts.StrideW()
        if opts.Padding() == tflite.Padding.SAME:
            (pt, oh), (pl, ow) = _same_pad(xin.shape[0], w.shape[1], sh), _same_pad(xin.shape[1], w.shape[2], sw)
        else:
            pt = pl = 0
            oh, ow = (xin.shape[0] - w.shape[1]) // sh + 1, (xin.shape[1] - w.shape[2]) // sw + 1
        assert y.shape[:2] == (oh, ow)
        layers.append(ConvLayer(len(layers), xin, w, b, mult, shift, int(qi["zero_points"][0]), z_y,
                                lo, hi, (sh, sw), (pt, pl), (oh, ow), y))
    return layers
