"""Import int8 TFLite flatbuffers (read with the ``tflite`` package) into a :class:`Graph`.

Supported: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, AVERAGE_POOL_2D, MAX_POOL_2D,
RESHAPE, PAD, SOFTMAX on int8 activations (one scale and zero point per tensor), int8 symmetric
weights (zero point 0, per-output-channel or per-tensor scales) and int32 biases. Anything else
raises :class:`ModelError` naming the op, its index and the file.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import tflite as _tfl
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from rtlgen.errors import ModelError
from rtlgen.nn.graph import SUPPORTED_OPS, Graph, Op, Quant, Tensor

__all__ = ["load_tflite", "parse_tflite"]

_OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k for k, v in vars(TensorType).items() if not k.startswith("_")}
_ACT_NAMES = {v: k for k, v in vars(ActivationFunctionType).items() if not k.startswith("_")}
_PAD_NAMES = {Padding.SAME: "SAME", Padding.VALID: "VALID"}
_NP_TYPES = {TensorType.INT8: np.int8, TensorType.INT32: np.int32, TensorType.UINT8: np.uint8,
             TensorType.INT64: np.int64, TensorType.FLOAT32: np.float32, TensorType.INT16: np.int16}


def load_tflite(path: str | os.PathLike) -> Graph:
    """Read a ``.tflite`` file; see :func:`parse_tflite`."""
    path = Path(path)
    return parse_tflite(path.read_bytes(), source=str(path))


def parse_tflite(buf: bytes, source: str = "<memory>") -> Graph:
    """Parse a TFLite flatbuffer (first subgraph) into a validated :class:`Graph`."""
    try:
        return _parse_tflite(buf, source)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        # a truncated or corrupt buffer: flatbuffers reads past its end or decodes garbage
        raise ModelError(f"truncated or corrupt TFLite flatbuffer ({len(buf)} bytes; "
                         f"{'struct.error' if isinstance(exc, struct.error) else type(exc).__name__}: {exc})",
                         file=source) from None


def _parse_tflite(buf: bytes, source: str) -> Graph:
    try:
        model = _tfl.Model.GetRootAsModel(buf, 0)
        n_sub = model.SubgraphsLength()
    except Exception as exc:  # flatbuffers raises assorted errors on garbage
        raise ModelError(f"not a TFLite flatbuffer ({exc})", file=source) from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError("not a TFLite flatbuffer (file identifier is not 'TFL3')", file=source)
    if n_sub != 1:
        raise ModelError(f"expected one subgraph, found {n_sub}", file=source)
    sg = model.Subgraphs(0)

    tensors = []
    for i in range(sg.TensorsLength()):
        tensors.append(_read_tensor(model, sg.Tensors(i), i, buf, source))

    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        oc = model.OperatorCodes(op.OpcodeIndex())
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        kind = _OP_NAMES.get(code, f"builtin code {code}")
        if code == BuiltinOperator.CUSTOM:
            kind = f"CUSTOM ({(oc.CustomCode() or b'').decode(errors='replace')})"
        where = f"op {i} ({kind})"
        if kind not in SUPPORTED_OPS:
            raise ModelError(f"{where}: unsupported operator; supported: {', '.join(SUPPORTED_OPS)}",
                             file=source)
        ins = tuple(int(t) for t in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(t) for t in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        options = _read_options(op, kind, where, source)
        ops.append(Op(index=i, kind=kind, inputs=ins, outputs=outs, options=options))

    graph = Graph(tensors=tuple(tensors), ops=tuple(ops),
                  inputs=tuple(int(t) for t in sg.InputsAsNumpy()),
                  outputs=tuple(int(t) for t in sg.OutputsAsNumpy()), source=source)
    _validate(graph)
    return graph


def _read_tensor(model, t, index: int, buf: bytes, source: str) -> Tensor:
    ttype = t.Type()
    name = (t.Name() or b"").decode(errors="replace")
    shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    q = t.Quantization()
    quant = None
    if q is not None and q.ScaleLength() > 0:
        zp = q.ZeroPointAsNumpy() if q.ZeroPointLength() else np.zeros(q.ScaleLength(), np.int64)
        quant = Quant(scale=np.asarray(q.ScaleAsNumpy(), dtype=np.float32),
                      zero_point=np.asarray(zp, dtype=np.int64), axis=int(q.QuantizedDimension()))
    data = None
    b = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
    if b is not None:
        np_type = _NP_TYPES.get(ttype)
        raw = None
        if b.DataLength() > 0:
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:
            raw = buf[b.Offset(): b.Offset() + b.Size()]
        if raw is not None:
            if np_type is None:
                raise ModelError(f"tensor {index} ({name}): constant of unsupported type "
                                 f"{_TYPE_NAMES.get(ttype, ttype)}", file=source)
            data = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<")).astype(np_type)
            data = data.reshape(shape) if shape else data
    dtype = np.dtype(_NP_TYPES[ttype]).name if ttype in _NP_TYPES else _TYPE_NAMES.get(ttype, str(ttype)).lower()
    return Tensor(index=index, name=name, shape=shape, dtype=dtype, quant=quant, data=data)


def _activation(code: int, where: str, source: str) -> str:
    name = _ACT_NAMES.get(code, str(code))
    if name not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise ModelError(f"{where}: unsupported fused activation {name}", file=source)
    return name


def _read_options(op, kind: str, where: str, source: str) -> dict:
    tab = op.BuiltinOptions()

    def opts(cls):
        o = cls()
        if tab is None:
            return None
        o.Init(tab.Bytes, tab.Pos)
        return o

    if kind == "CONV_2D":
        o = opts(_tfl.Conv2DOptions)
        return dict(padding=_PAD_NAMES[o.Padding()], stride=(o.StrideH(), o.StrideW()),
                    dilation=(o.DilationHFactor(), o.DilationWFactor()),
                    activation=_activation(o.FusedActivationFunction(), where, source))
    if kind == "DEPTHWISE_CONV_2D":
        o = opts(_tfl.DepthwiseConv2DOptions)
        return dict(padding=_PAD_NAMES[o.Padding()], stride=(o.StrideH(), o.StrideW()),
                    dilation=(o.DilationHFactor(), o.DilationWFactor()),
                    depth_multiplier=o.DepthMultiplier(),
                    activation=_activation(o.FusedActivationFunction(), where, source))
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        o = opts(_tfl.Pool2DOptions)
        return dict(padding=_PAD_NAMES[o.Padding()], stride=(o.StrideH(), o.StrideW()),
                    filter=(o.FilterHeight(), o.FilterWidth()),
                    activation=_activation(o.FusedActivationFunction(), where, source))
    if kind == "FULLY_CONNECTED":
        o = opts(_tfl.FullyConnectedOptions)
        if o is None:
            return dict(activation="NONE", keep_num_dims=False)
        if o.WeightsFormat() != 0:
            raise ModelError(f"{where}: shuffled FULLY_CONNECTED weights are not supported", file=source)
        return dict(activation=_activation(o.FusedActivationFunction(), where, source),
                    keep_num_dims=bool(o.KeepNumDims()))
    if kind == "ADD":
        o = opts(_tfl.AddOptions)
        return dict(activation=_activation(o.FusedActivationFunction(), where, source) if o else "NONE")
    if kind == "SOFTMAX":
        o = opts(_tfl.SoftmaxOptions)
        return dict(beta=float(o.Beta()) if o else 1.0)
    return {}


def _validate(g: Graph) -> None:
    src = g.source
    T = g.tensors

    def act(ti: int, where: str, role: str) -> Tensor:
        t = T[ti]
        if t.dtype != "int8":
            raise ModelError(f"{where}: {role} tensor {ti} ({t.name}) is {t.dtype}; only int8 "
                             "activations are supported", file=src)
        if t.quant is None or not t.quant.per_tensor:
            raise ModelError(f"{where}: {role} tensor {ti} ({t.name}) needs one scale and zero "
                             "point (per-tensor quantization)", file=src)
        return t

    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ModelError(f"expected one graph input and one output, found {len(g.inputs)} and "
                         f"{len(g.outputs)}", file=src)
    act(g.inputs[0], "graph input", "input")
    for op in g.ops:
        where = f"op {op.index} ({op.kind})"
        if op.kind in ("RESHAPE", "PAD"):
            act(op.inputs[0], where, "input")
            act(op.outputs[0], where, "output")
            if op.kind == "PAD":
                p = T[op.inputs[1]].data
                if p is None or p.shape != (4, 2):
                    raise ModelError(f"{where}: paddings must be a constant [4, 2] tensor", file=src)
                if p[0].any() or p[3].any():
                    raise ModelError(f"{where}: only spatial (H, W) padding is supported, got "
                                     f"{p.tolist()}", file=src)
                if T[op.inputs[0]].zero_point != T[op.outputs[0]].zero_point or \
                        T[op.inputs[0]].scale != T[op.outputs[0]].scale:
                    raise ModelError(f"{where}: input and output quantization must be equal", file=src)
            continue
        if op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            i, o = act(op.inputs[0], where, "input"), act(op.outputs[0], where, "output")
            if (i.scale, i.zero_point) != (o.scale, o.zero_point):
                raise ModelError(f"{where}: input and output quantization must be equal "
                                 f"(as TFLite's int8 pooling requires)", file=src)
            continue
        if op.kind == "ADD":
            a, b = T[op.inputs[0]], T[op.inputs[1]]
            act(op.inputs[0], where, "input"), act(op.inputs[1], where, "input")
            act(op.outputs[0], where, "output")
            if a.shape != b.shape or a.data is not None or b.data is not None:
                raise ModelError(f"{where}: only ADD of two equally shaped activation tensors is "
                                 f"supported (no broadcasting), got {a.shape} and {b.shape}", file=src)
            continue
        if op.kind == "SOFTMAX":
            act(op.inputs[0], where, "input")
            o = act(op.outputs[0], where, "output")
            if o.zero_point != -128 or abs(o.scale - 1.0 / 256) > 1e-9:
                raise ModelError(f"{where}: int8 softmax output must have scale 1/256 and zero "
                                 f"point -128, got {o.scale} and {o.zero_point}", file=src)
            continue
        # MAC ops
        act(op.inputs[0], where, "input")
        act(op.outputs[0], where, "output")
        w = T[op.inputs[1]]
        if w.dtype != "int8" or w.data is None:
            raise ModelError(f"{where}: weights (tensor {w.index}) must be constant int8, got "
                             f"{w.dtype}{'' if w.data is not None else ' (not constant)'}", file=src)
        if w.quant is None:
            raise ModelError(f"{where}: weights (tensor {w.index}) are not quantized", file=src)
        if np.any(w.quant.zero_point != 0):
            raise ModelError(f"{where}: asymmetric weight quantization (nonzero zero point) is "
                             "not supported", file=src)
        out_axis = 3 if op.kind == "DEPTHWISE_CONV_2D" else 0
        channels = w.shape[out_axis]
        if not w.quant.per_tensor and (w.quant.axis != out_axis or w.quant.scale.size != channels):
            raise ModelError(f"{where}: weight scales must be per tensor or per output channel "
                             f"(axis {out_axis}, {channels} scales); got {w.quant.scale.size} "
                             f"along axis {w.quant.axis}", file=src)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = T[op.inputs[2]]
            if b.dtype != "int32" or b.data is None:
                raise ModelError(f"{where}: bias (tensor {b.index}) must be constant int32, got "
                                 f"{b.dtype}", file=src)
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            if tuple(op.options["dilation"]) != (1, 1):
                raise ModelError(f"{where}: dilation {op.options['dilation']} is not supported",
                                 file=src)
            if len(w.shape) != 4:
                raise ModelError(f"{where}: weights must be 4-D, got {w.shape}", file=src)
        if op.kind == "FULLY_CONNECTED" and len(w.shape) != 2:
            raise ModelError(f"{where}: weights must be 2-D, got {w.shape}", file=src)
