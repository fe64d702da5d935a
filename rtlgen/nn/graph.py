"""The internal graph of a quantized DNN: tensors, ops in execution order, nothing else.

Layouts follow TFLite: activations NHWC (batch first), CONV_2D weights ``[out, kh, kw, in]``,
DEPTHWISE_CONV_2D weights ``[1, kh, kw, in * multiplier]``, FULLY_CONNECTED weights
``[out, in]``. Activations are int8 with one scale and zero point; weights int8 with zero point
0 and one scale per output channel (or one for all); biases int32 with zero point 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtlgen.conventions import TFLITE_MAC_OPS

__all__ = ["Quant", "Tensor", "Op", "Graph", "MAC_OPS", "SUPPORTED_OPS"]

#: Ops whose multiplications can go through approximate multipliers.
MAC_OPS = TFLITE_MAC_OPS  # rtlgen.conventions owns the names
SUPPORTED_OPS = MAC_OPS + ("ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "PAD", "SOFTMAX")


@dataclass(frozen=True)
class Quant:
    """Affine quantization: ``real = scale * (q - zero_point)``; per channel along ``axis``."""

    scale: np.ndarray  # float32 [n]
    zero_point: np.ndarray  # int64 [n]
    axis: int = 0

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: 'int8', 'int32', ...
    quant: Quant | None
    data: np.ndarray | None = None  # constant tensors (weights, biases, shapes)

    @property
    def scale(self) -> float:
        assert self.quant is not None
        return float(self.quant.scale[0])

    @property
    def zero_point(self) -> int:
        assert self.quant is not None
        return int(self.quant.zero_point[0])


@dataclass(frozen=True)
class Op:
    """One operator: ``kind`` is the TFLite builtin name, ``index`` its position in the file."""

    index: int
    kind: str
    inputs: tuple[int, ...]  # tensor indices (-1: optional input absent)
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    source: str = "<memory>"

    @property
    def input(self) -> Tensor:
        return self.tensors[self.inputs[0]]

    @property
    def output(self) -> Tensor:
        return self.tensors[self.outputs[0]]

    def mac_ops(self, kinds: tuple[str, ...] = MAC_OPS) -> list[Op]:
        return [op for op in self.ops if op.kind in kinds]

    def conv_ops(self) -> list[Op]:
        """The layers an assignment's ``layers`` keys index (0-based, graph order)."""
        return self.mac_ops(("CONV_2D", "DEPTHWISE_CONV_2D"))

    def last_fc(self) -> Op | None:
        fcs = self.mac_ops(("FULLY_CONNECTED",))
        return fcs[-1] if fcs else None
