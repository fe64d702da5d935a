"""Write int8 TFLite flatbuffers without TensorFlow.

The schema's builder functions come from the ``tflite`` package (its generated Python code for
``schema.fbs``); the byte layout from the ``flatbuffers`` package. Only the operators rtlgen
emulates are offered, each with the operator version the TFLite converter gives its int8 form,
so LiteRT's op resolvers accept the result.

Quantization follows TFLite's int8 specification: a tensor's real value is
``scale * (q - zero_point)``; per-channel scales (weights) run along ``Quant.axis``.

Usage::

    g = TfliteGraph()
    x = g.tensor("input", (1, 8, 8, 1), "int8", quant=Quant((1.0,), (-128,)))
    ...
    g.op("CONV_2D", [x, w, b], [y], padding="SAME", activation="RELU")
    data = g.to_bytes(inputs=[x], outputs=[y])
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
import tflite

__all__ = ["Quant", "TfliteGraph", "OP_VERSIONS"]

#: Operator -> version of its int8 (per-channel where it applies) kernel, as the converter writes.
OP_VERSIONS: dict[str, int] = {
    "ADD": 2,
    "AVERAGE_POOL_2D": 2,
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 3,
    "FULLY_CONNECTED": 4,
    "MAX_POOL_2D": 2,
    "PAD": 2,
    "RESHAPE": 1,
    "SOFTMAX": 2,
}

_DTYPES: dict[str, tuple[int, np.dtype]] = {
    "int8": (tflite.TensorType.INT8, np.dtype("<i1")),
    "int32": (tflite.TensorType.INT32, np.dtype("<i4")),
    "float32": (tflite.TensorType.FLOAT32, np.dtype("<f4")),
}

_PADDING = {"SAME": tflite.Padding.SAME, "VALID": tflite.Padding.VALID}
_ACTIVATION = {
    "NONE": tflite.ActivationFunctionType.NONE,
    "RELU": tflite.ActivationFunctionType.RELU,
    "RELU6": tflite.ActivationFunctionType.RELU6,
}


@dataclass(frozen=True)
class Quant:
    """Quantization of one tensor: real = scale * (q - zero_point), per ``axis`` if several."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    def __post_init__(self) -> None:
        if len(self.scale) == 0 or len(self.scale) != len(self.zero_point):
            raise ValueError(
                f"Quant needs as many scales as zero points (at least one), "
                f"not {len(self.scale)} and {len(self.zero_point)}"
            )
        if not all(np.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError(f"quantization scales must be finite and positive, not {self.scale}")


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: bytes | None
    quant: Quant | None


@dataclass
class _Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


class TfliteGraph:
    """One subgraph under construction; ``to_bytes`` serialises it as a ``.tflite`` model."""

    def __init__(self, description: str = "rtlgen") -> None:
        self.description = description
        self._tensors: list[_Tensor] = []
        self._ops: list[_Op] = []

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: str,
        *,
        data: np.ndarray | None = None,
        quant: Quant | None = None,
    ) -> int:
        """Add a tensor (a constant when ``data`` is given); returns its index."""
        if dtype not in _DTYPES:
            raise ValueError(f"tensor {name!r}: dtype {dtype!r} is not one of {sorted(_DTYPES)}")
        shape = tuple(int(d) for d in shape)
        raw = None
        if data is not None:
            arr = np.asarray(data)
            if arr.shape != shape:
                raise ValueError(f"tensor {name!r}: data has shape {arr.shape}, declared {shape}")
            want = _DTYPES[dtype][1]
            if not np.can_cast(arr.dtype, want, casting="same_kind") or (
                arr.dtype.kind in "iu" and not np.array_equal(arr.astype(want), arr)
            ):
                raise ValueError(f"tensor {name!r}: data of type {arr.dtype} does not fit {dtype}")
            raw = np.ascontiguousarray(arr.astype(want)).tobytes()
        if quant is not None and len(quant.scale) > 1:
            if not 0 <= quant.axis < len(shape) or shape[quant.axis] != len(quant.scale):
                raise ValueError(
                    f"tensor {name!r}: {len(quant.scale)} per-channel scales along axis "
                    f"{quant.axis} do not match shape {shape}"
                )
        self._tensors.append(_Tensor(name, shape, dtype, raw, quant))
        return len(self._tensors) - 1

    def op(self, name: str, inputs: Sequence[int], outputs: Sequence[int], **options: Any) -> None:
        """Add an operator. Options by operator (defaults in brackets):

        CONV_2D: padding ['SAME'|'VALID'], stride [1], activation ['NONE'|'RELU'|'RELU6'];
        DEPTHWISE_CONV_2D: the same plus depth_multiplier [1]; ADD: activation;
        AVERAGE_POOL_2D / MAX_POOL_2D: filter (h, w), stride [filter], padding ['VALID'],
        activation; FULLY_CONNECTED: activation; SOFTMAX: beta [1.0]; PAD, RESHAPE: none
        (their shape arguments are constant int32 input tensors).
        """
        if name not in OP_VERSIONS:
            raise ValueError(f"operator {name!r} is not one of {sorted(OP_VERSIONS)}")
        for t in (*inputs, *outputs):
            if not 0 <= t < len(self._tensors):
                raise ValueError(f"operator {name}: tensor index {t} does not exist")
        self._ops.append(_Op(name, tuple(inputs), tuple(outputs), dict(options)))

    # -- serialisation -------------------------------------------------------------------------

    def to_bytes(self, inputs: Sequence[int], outputs: Sequence[int]) -> bytes:
        """The model as ``.tflite`` bytes (file identifier ``TFL3``, schema version 3)."""
        b = flatbuffers.Builder(1024)
        opcode_names = list(dict.fromkeys(op.name for op in self._ops))

        # Buffer 0 is the empty sentinel the format reserves; each constant gets its own buffer.
        buffer_of: list[int] = []
        datas: list[bytes | None] = [None]
        for t in self._tensors:
            if t.data is None:
                buffer_of.append(0)
            else:
                buffer_of.append(len(datas))
                datas.append(t.data)
        buffer_offsets = []
        for data in datas:
            vec = None
            if data is not None:
                # Kernels read int32 biases in place: the schema asks for 16-byte alignment.
                b.StartVector(1, len(data), 16)
                b.head -= len(data)
                b.Bytes[b.head : b.head + len(data)] = data
                vec = b.EndVector()
            tflite.BufferStart(b)
            if vec is not None:
                tflite.BufferAddData(b, vec)
            buffer_offsets.append(tflite.BufferEnd(b))
        buffers_vec = _table_vector(b, tflite.ModelStartBuffersVector, buffer_offsets)

        tensor_offsets = []
        for t, buf in zip(self._tensors, buffer_of):
            name = b.CreateString(t.name)
            shape = b.CreateNumpyVector(np.array(t.shape, dtype="<i4"))
            quant = None
            if t.quant is not None:
                scale = b.CreateNumpyVector(np.array(t.quant.scale, dtype="<f4"))
                zp = b.CreateNumpyVector(np.array(t.quant.zero_point, dtype="<i8"))
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, scale)
                tflite.QuantizationParametersAddZeroPoint(b, zp)
                tflite.QuantizationParametersAddQuantizedDimension(b, t.quant.axis)
                quant = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            tflite.TensorAddType(b, _DTYPES[t.dtype][0])
            tflite.TensorAddBuffer(b, buf)
            tflite.TensorAddName(b, name)
            if quant is not None:
                tflite.TensorAddQuantization(b, quant)
            tensor_offsets.append(tflite.TensorEnd(b))
        tensors_vec = _table_vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets)

        op_offsets = []
        for op in self._ops:
            ins = b.CreateNumpyVector(np.array(op.inputs, dtype="<i4"))
            outs = b.CreateNumpyVector(np.array(op.outputs, dtype="<i4"))
            opt_type, opt = _options(b, op)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, opcode_names.index(op.name))
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            if opt is not None:
                tflite.OperatorAddBuiltinOptionsType(b, opt_type)
                tflite.OperatorAddBuiltinOptions(b, opt)
            op_offsets.append(tflite.OperatorEnd(b))
        ops_vec = _table_vector(b, tflite.SubGraphStartOperatorsVector, op_offsets)

        sg_inputs = b.CreateNumpyVector(np.array(inputs, dtype="<i4"))
        sg_outputs = b.CreateNumpyVector(np.array(outputs, dtype="<i4"))
        sg_name = b.CreateString("main")
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors_vec)
        tflite.SubGraphAddInputs(b, sg_inputs)
        tflite.SubGraphAddOutputs(b, sg_outputs)
        tflite.SubGraphAddOperators(b, ops_vec)
        tflite.SubGraphAddName(b, sg_name)
        subgraph = tflite.SubGraphEnd(b)
        subgraphs_vec = _table_vector(b, tflite.ModelStartSubgraphsVector, [subgraph])

        code_offsets = []
        for name in opcode_names:
            code = getattr(tflite.BuiltinOperator, name)
            tflite.OperatorCodeStart(b)
            # Readers older than schema 2.4 read only the int8 deprecated field; newer read both.
            tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
            tflite.OperatorCodeAddBuiltinCode(b, code)
            tflite.OperatorCodeAddVersion(b, OP_VERSIONS[name])
            code_offsets.append(tflite.OperatorCodeEnd(b))
        codes_vec = _table_vector(b, tflite.ModelStartOperatorCodesVector, code_offsets)

        description = b.CreateString(self.description)
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddOperatorCodes(b, codes_vec)
        tflite.ModelAddSubgraphs(b, subgraphs_vec)
        tflite.ModelAddDescription(b, description)
        tflite.ModelAddBuffers(b, buffers_vec)
        model = tflite.ModelEnd(b)
        b.Finish(model, file_identifier=b"TFL3")
        return bytes(b.Output())


def _table_vector(b: flatbuffers.Builder, start: Any, offsets: list[int]) -> int:
    start(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _options(b: flatbuffers.Builder, op: _Op) -> tuple[int, int | None]:
    o = dict(op.options)

    def take(key: str, default: Any) -> Any:
        return o.pop(key, default)

    def activation() -> int:
        act = take("activation", "NONE")
        if act not in _ACTIVATION:
            raise ValueError(f"operator {op.name}: activation {act!r} is not one of {sorted(_ACTIVATION)}")
        return _ACTIVATION[act]

    def padding(default: str) -> int:
        pad = take("padding", default)
        if pad not in _PADDING:
            raise ValueError(f"operator {op.name}: padding {pad!r} is not one of {sorted(_PADDING)}")
        return _PADDING[pad]

    opt_type = 0
    offset: int | None = None
    if op.name == "CONV_2D":
        pad, stride, act = padding("SAME"), _pair(take("stride", 1)), activation()
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, pad)
        tflite.Conv2DOptionsAddStrideH(b, stride[0])
        tflite.Conv2DOptionsAddStrideW(b, stride[1])
        tflite.Conv2DOptionsAddFusedActivationFunction(b, act)
        tflite.Conv2DOptionsAddDilationHFactor(b, 1)
        tflite.Conv2DOptionsAddDilationWFactor(b, 1)
        offset, opt_type = tflite.Conv2DOptionsEnd(b), tflite.BuiltinOptions.Conv2DOptions
    elif op.name == "DEPTHWISE_CONV_2D":
        pad, stride, act = padding("SAME"), _pair(take("stride", 1)), activation()
        mult = int(take("depth_multiplier", 1))
        tflite.DepthwiseConv2DOptionsStart(b)
        tflite.DepthwiseConv2DOptionsAddPadding(b, pad)
        tflite.DepthwiseConv2DOptionsAddStrideH(b, stride[0])
        tflite.DepthwiseConv2DOptionsAddStrideW(b, stride[1])
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, mult)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, act)
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, 1)
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, 1)
        offset = tflite.DepthwiseConv2DOptionsEnd(b)
        opt_type = tflite.BuiltinOptions.DepthwiseConv2DOptions
    elif op.name == "ADD":
        act = activation()
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, act)
        offset, opt_type = tflite.AddOptionsEnd(b), tflite.BuiltinOptions.AddOptions
    elif op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        if "filter" not in o:
            raise ValueError(f"operator {op.name} needs filter=(height, width)")
        filt = _pair(take("filter", None))
        stride = _pair(take("stride", filt))
        pad, act = padding("VALID"), activation()
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, pad)
        tflite.Pool2DOptionsAddStrideH(b, stride[0])
        tflite.Pool2DOptionsAddStrideW(b, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(b, filt[0])
        tflite.Pool2DOptionsAddFilterWidth(b, filt[1])
        tflite.Pool2DOptionsAddFusedActivationFunction(b, act)
        offset, opt_type = tflite.Pool2DOptionsEnd(b), tflite.BuiltinOptions.Pool2DOptions
    elif op.name == "FULLY_CONNECTED":
        act = activation()
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, act)
        offset = tflite.FullyConnectedOptionsEnd(b)
        opt_type = tflite.BuiltinOptions.FullyConnectedOptions
    elif op.name == "SOFTMAX":
        beta = float(take("beta", 1.0))
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, beta)
        offset, opt_type = tflite.SoftmaxOptionsEnd(b), tflite.BuiltinOptions.SoftmaxOptions
    if o:
        raise ValueError(f"operator {op.name}: unknown options {sorted(o)}")
    return opt_type, offset


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    h, w = v
    return int(h), int(w)
