"""Bitstreams made by hand from a model's layers: for tests, benchmarks and bring-up.

The mapper writes its bitstreams itself (:mod:`rtlgen.mapper.flow`); these helpers build a
descriptor from a model layer's geometry and requantization and wrap descriptors for a generated
accelerator.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["conv_descriptor", "accel_bitstream"]


def conv_descriptor(graph: Any, index: int | str, *, unit: int, granularity: str = "layer", selects: Any = 0,
                    encoding: str = "signmag") -> Any:
    """A bitstream layer descriptor for conv layer ``index`` of ``graph``, or for its
    FULLY_CONNECTED layer N when ``index`` is ``"fc:N"`` (geometry and requantization from the
    model), for hand-made bitstreams: benchmarks, tests, bring-up."""
    from rtlgen.bitstream.format import Geometry, LayerDescriptor, Requant
    from rtlgen.emulate.layers import compile_mac_layers

    key = str(index)
    fc = key.startswith("fc:")
    number = int(key[3:] if fc else key)
    op = (graph.mac_ops(("FULLY_CONNECTED",)) if fc else graph.conv_ops())[number]
    layer = compile_mac_layers(graph)[op.index]
    (h, w, c), (oh, ow, oc) = layer.in_shape, layer.out_shape
    geo = Geometry(in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=layer.weights.shape[1],
                   k_w=layer.weights.shape[2], stride_h=layer.stride[0], stride_w=layer.stride[1],
                   pad_top=layer.pads[0][0], pad_left=layer.pads[1][0])
    rq = Requant(input_zero_point=layer.z_in, output_zero_point=layer.z_out, act_min=layer.act[0],
                 act_max=layer.act[1], multipliers=tuple(int(v) for v in layer.multiplier),
                 shifts=tuple(int(v) for v in layer.shift))
    kind = "fully_connected" if fc else "depthwise_conv2d" if layer.depthwise else "conv2d"
    return LayerDescriptor(index=number, kind=kind, unit=unit, encoding=encoding, granularity=granularity,
                           geometry=geo, requant=rq, selects=np.asarray(selects).ravel().tolist())


def accel_bitstream(accel_dir: str | os.PathLike, layers: list[Any]) -> Any:
    """A :class:`~rtlgen.bitstream.format.Bitstream` for the generated accelerator in ``accel_dir``
    (its config hash and multiplier banks from the manifest) with the given layer descriptors."""
    from rtlgen.bitstream.format import Bitstream, MultiplierRef

    from rtlgen.accel.manifest import read_manifest

    manifest = read_manifest(accel_dir)
    units = [tuple(MultiplierRef(s["hash"], bool(s["signed"]), s["name"]) for s in u) for u in manifest["units"]]
    return Bitstream(accel_hash=manifest["config_hash"], units=units, layers=tuple(layers))
