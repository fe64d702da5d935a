"""Multiply-accumulate layers compiled from a graph: geometry, weights, requantization.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED all become a :class:`MacLayer` whose weights are
``[O, KH, KW, G]``: output channel ``o`` reads the ``G`` input channels
``in_channels[o] + 0..G-1`` (CONV_2D and FULLY_CONNECTED: all ``G = C`` channels from 0;
DEPTHWISE_CONV_2D: ``G = 1``, channel ``o // depth_multiplier``). A FULLY_CONNECTED is a 1x1
convolution of its input flattened to ``[N, 1, 1, C]``. A *kernel* is (output channel, input
channel): the unit the finest multiplier assignment works at, ``[O, G]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtlgen.nn import quant
from rtlgen.errors import ModelError
from rtlgen.nn.geometry import Geometry
from rtlgen.nn.graph import Graph, Op
from rtlgen.emulate.ops import pad_amounts

__all__ = ["MacLayer", "compile_mac_layers", "im2col"]


@dataclass(frozen=True)
class MacLayer:
    op_index: int
    kind: str
    name: str
    weights: np.ndarray  # int8 [O, KH, KW, G]
    bias: np.ndarray  # int32 [O]
    in_channel0: np.ndarray  # int [O]: first input channel each output channel reads
    stride: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]
    in_shape: tuple[int, int, int]  # H, W, C (FC: 1, 1, C)
    out_shape: tuple[int, int, int]  # OH, OW, O
    z_in: int
    z_out: int
    multiplier: np.ndarray  # int32 [O]
    shift: np.ndarray  # int32 [O]
    act: tuple[int, int]
    rounding: str = "double"  # rtlgen.nn.quant.requantize: FULLY_CONNECTED rounds once

    @property
    def geometry(self) -> Geometry:
        """Shapes, kernel, stride and padding as the bitstream and the accelerator take them."""
        return Geometry.from_mac_layer(self)

    @property
    def depthwise(self) -> bool:
        return self.kind == "DEPTHWISE_CONV_2D"

    @property
    def channels_out(self) -> int:
        return self.weights.shape[0]

    @property
    def kernel_shape(self) -> tuple[int, int]:
        """(output channels, input channels per output channel): an assignment's ``kernels``."""
        return self.weights.shape[0], self.weights.shape[3]

    @property
    def taps(self) -> int:
        o, kh, kw, g = self.weights.shape
        return kh * kw * g

    @property
    def macs(self) -> int:
        """Multiplications per image."""
        return self.out_shape[0] * self.out_shape[1] * self.out_shape[2] * self.taps

    def requantize(self, acc: np.ndarray) -> np.ndarray:
        """int32 accumulator without bias, [..., O] -> int8 output."""
        return quant.requantize(acc.astype(np.int64) + self.bias, self.multiplier, self.shift,
                                self.z_out, self.act[0], self.act[1], rounding=self.rounding)


def compile_mac_layers(graph: Graph) -> dict[int, MacLayer]:
    """op index -> :class:`MacLayer` for every MAC op of ``graph``."""
    out = {}
    for op in graph.mac_ops():
        out[op.index] = _compile(graph, op)
    return out


def _compile(graph: Graph, op: Op) -> MacLayer:
    T = graph.tensors
    x, w, y = T[op.inputs[0]], T[op.inputs[1]], T[op.outputs[0]]
    wd = w.data
    assert wd is not None
    if op.kind == "FULLY_CONNECTED":
        o_ch, c = wd.shape
        if int(np.prod(x.shape[1:])) != c:
            raise ModelError(f"op {op.index} (FULLY_CONNECTED): input {x.shape} does not flatten "
                             f"to {c} features", file=graph.source)
        weights = wd.reshape(o_ch, 1, 1, c)
        in0 = np.zeros(o_ch, dtype=np.int64)
        stride, pads, in_shape, out_hw = (1, 1), ((0, 0), (0, 0)), (1, 1, c), (1, 1)
    else:
        n, h, wid, c = x.shape
        if op.kind == "CONV_2D":
            weights = wd
            o_ch = wd.shape[0]
            if wd.shape[3] != c:
                raise ModelError(f"op {op.index} (CONV_2D): weights {wd.shape} do not match input "
                                 f"channels {c}", file=graph.source)
            in0 = np.zeros(o_ch, dtype=np.int64)
        else:
            mult = int(op.options["depth_multiplier"]) or 1
            o_ch = wd.shape[3]
            if o_ch != c * mult:
                raise ModelError(f"op {op.index} (DEPTHWISE_CONV_2D): {o_ch} output channels for "
                                 f"{c} inputs x multiplier {mult}", file=graph.source)
            weights = np.transpose(wd, (3, 1, 2, 0))  # [O, KH, KW, 1]
            in0 = np.arange(o_ch, dtype=np.int64) // mult
        sh, sw = op.options["stride"]
        oh, pt, pb = pad_amounts(op.options["padding"], h, weights.shape[1], sh)
        ow, pl, pr = pad_amounts(op.options["padding"], wid, weights.shape[2], sw)
        stride, pads, in_shape, out_hw = (sh, sw), ((pt, pb), (pl, pr)), (h, wid, c), (oh, ow)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = np.asarray(T[op.inputs[2]].data, dtype=np.int32).reshape(-1)
    else:
        bias = np.zeros(o_ch, dtype=np.int32)
    m, s = quant.conv_multipliers(x.scale, w.quant.scale, y.scale, o_ch)
    act = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
    return MacLayer(op_index=op.index, kind=op.kind, name=w.name, weights=np.ascontiguousarray(weights),
                    bias=bias, in_channel0=in0, stride=stride, pads=pads, in_shape=in_shape,
                    out_shape=(out_hw[0], out_hw[1], o_ch), z_in=x.zero_point, z_out=y.zero_point,
                    multiplier=m, shift=s, act=act,
                    rounding="single" if op.kind == "FULLY_CONNECTED" else "double")


def im2col(layer: MacLayer, x: np.ndarray) -> np.ndarray:
    """Patches of ``x`` (int8 [N, H, W, C]) as int32 ``[N, OH, OW, KH, KW, C]``; padding = z_in."""
    o, kh, kw, g = layer.weights.shape
    oh, ow, _ = layer.out_shape
    sh, sw = layer.stride
    x = x.reshape((x.shape[0],) + layer.in_shape)
    (pt, pb), (pl, pr) = layer.pads
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=layer.z_in)
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    win = win[:, : (oh - 1) * sh + 1: sh, : (ow - 1) * sw + 1: sw]  # N, OH, OW, C, KH, KW
    return np.ascontiguousarray(np.moveaxis(win, 3, 5)).astype(np.int32)
