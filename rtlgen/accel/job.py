"""A conv layer packaged for the accelerator: descriptor plus the memory images to load.

The host side of :mod:`rtlgen.accel.descriptor`: from a layer's int8 tensors and requantization
parameters to the words a testbench or a hardware-in-the-loop driver writes through the host
ports, and back from the output bytes to an int8 tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import LayerDescriptor, param_image, weight_image
from rtlgen.conventions import DEFAULT_ENCODING, Encoding, Granularity
from rtlgen.nn.geometry import Geometry

__all__ = ["ConvJob", "conv_job"]


@dataclass(frozen=True)
class ConvJob:
    descriptor: LayerDescriptor
    activations: np.ndarray        # uint8 bytes for the activation memory at in_base (NHWC)
    weight_words: list[int]        # for the weight memory at w_base
    param_words: list[int]         # for the parameter memory at p_base

    @property
    def output_bytes(self) -> int:
        d = self.descriptor
        return d.out_h * d.out_w * d.out_c

    def output(self, raw: np.ndarray | list[int]) -> np.ndarray:
        """int8 [out_h, out_w, out_c] from the bytes read at ``out_base``."""
        d = self.descriptor
        return np.asarray(raw, dtype=np.uint8).view(np.int8).reshape(d.out_h, d.out_w, d.out_c)

    def cycle_estimate(self, lanes: int) -> int:
        """The documented cycle count (:mod:`rtlgen.accel.top`) without the fill/drain tail."""
        d = self.descriptor
        k = d.products
        if d.depthwise:     # one channel at a time, one result per pixel
            return d.out_c * d.out_h * d.out_w * max(k, 3)
        return d.groups(lanes) * d.out_h * d.out_w * max(k, lanes, 3)


def conv_job(config: AccelConfig, x: np.ndarray, weights: np.ndarray, bias: np.ndarray,
             multiplier: np.ndarray, shift: np.ndarray, *, geometry: Geometry, z_x: int, z_y: int,
             act_min: int, act_max: int, unit: int = 0, encoding: Encoding = DEFAULT_ENCODING,
             sel_mode: Granularity = "layer", layer_sel: int = 0,
             selects: np.ndarray | None = None, rounding: str = "double", depthwise: bool = False,
             co_first: int = 0, co_end: int = 0) -> ConvJob:
    """Input ``x`` int8 [in_h, in_w, in_c] and ``weights`` int8 [out_c, k_h, k_w, in_c] (with
    ``depthwise``: [out_c, k_h, k_w, 1], ``in_c == out_c``) of a layer of shape ``geometry``;
    per-channel int32 ``bias``, ``multiplier``, ``shift``. Input at address 0, output right after.
    ``co_first``/``co_end``: a share's output channels (the weight image then starts at its first
    group, :mod:`rtlgen.accel.descriptor`; the output's other channels are not written)."""
    x = np.asarray(x)
    w = np.asarray(weights)
    g = geometry
    w_shape = (g.out_c, g.k_h, g.k_w, 1 if depthwise else g.in_c)
    if x.shape != g.in_shape or w.shape != w_shape:
        raise ValueError(f"x must be {list(g.in_shape)} and weights {list(w_shape)} for "
                         f"geometry {g}; got {list(x.shape)}, {list(w.shape)}")
    desc = LayerDescriptor(
        **LayerDescriptor.geometry_fields(g),
        in_base=0, out_base=x.size, w_base=0, p_base=0, unit=unit, encoding=encoding,
        sel_mode=sel_mode, layer_sel=layer_sel, z_x=z_x, z_y=z_y, act_min=act_min,
        act_max=act_max, rounding=rounding, depthwise=depthwise, co_first=co_first, co_end=co_end)
    desc.check(config)
    if sel_mode == "layer":
        selects = None
    words = weight_image(w, selects, config)
    k = g.k_h * g.k_w * (1 if depthwise else g.in_c)
    return ConvJob(desc, x.astype(np.int8).view(np.uint8).ravel(),
                   words[co_first // config.lanes * k:], param_image(bias, multiplier, shift))


def descriptor_job(config: AccelConfig, d, layer, weights: np.ndarray, x: np.ndarray) -> ConvJob:
    """The job that runs bitstream layer descriptor ``d`` (a :class:`rtlgen.bitstream.format.LayerDescriptor`:
    unit, encoding, selects, requantization) on the emulator's ``layer`` (a
    :class:`rtlgen.emulate.layers.MacLayer`: geometry, bias, rounding; its geometry rather than
    ``d.geometry`` because a bring-up run may crop the layer's input) with ``weights`` (after any
    remap) and input ``x`` int8 [H, W, C]; what the HIL and the power flow both run. A share of
    a split layer runs its own channels (its ``co_first``, ``co_end``)."""
    rq = d.requant
    sel = d.select_array()
    return conv_job(config, x, weights, layer.bias, np.asarray(rq.multipliers), np.asarray(rq.shifts),
                    geometry=layer.geometry, z_x=rq.input_zero_point, z_y=rq.output_zero_point,
                    act_min=rq.act_min, act_max=rq.act_max, unit=d.unit, encoding=d.encoding, sel_mode=d.granularity,
                    layer_sel=int(sel) if d.granularity == "layer" else 0,
                    selects=None if d.granularity == "layer" else sel, rounding=layer.rounding,
                    depthwise=layer.depthwise, co_first=d.co_first if d.is_share else 0,
                    co_end=d.co_end if d.is_share else 0)
