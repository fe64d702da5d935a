"""Bitstreams made by hand from a model's layers: for tests, benchmarks and bring-up.

The mapper writes its bitstreams itself (:mod:`rtlgen.mapper.flow`); these helpers build a
descriptor from a model layer's geometry and requantization and wrap descriptors for a generated
accelerator (its manifest). They live with the accelerator, not in :mod:`rtlgen.bitstream`,
because they compile the model's layers (:mod:`rtlgen.emulate`), a later stage than the format.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from rtlgen.accel.manifest import read_manifest
from rtlgen.bitstream.format import Bitstream, Geometry, LayerDescriptor, MultiplierRef, Requant
from rtlgen.conventions import DEFAULT_ENCODING, KIND_OF_TFLITE_OP, Encoding, Granularity

__all__ = ["conv_descriptor", "accel_bitstream"]


def conv_descriptor(graph: Any, index: int | str, *, unit: int, granularity: Granularity = "layer",
                    selects: Any = 0, encoding: Encoding = DEFAULT_ENCODING) -> LayerDescriptor:
    """A bitstream layer descriptor for conv layer ``index`` of ``graph``, or for its
    FULLY_CONNECTED layer N when ``index`` is ``"fc:N"`` (geometry and requantization from the
    model), for hand-made bitstreams: benchmarks, tests, bring-up."""
    from rtlgen.emulate.layers import compile_mac_layers

    key = str(index)
    fc = key.startswith("fc:")
    number = int(key[3:] if fc else key)
    op = (graph.mac_ops(("FULLY_CONNECTED",)) if fc else graph.conv_ops())[number]
    layer = compile_mac_layers(graph)[op.index]
    return LayerDescriptor(index=number, kind=KIND_OF_TFLITE_OP[op.kind], unit=unit, encoding=encoding,  # type: ignore[arg-type]
                           granularity=granularity, geometry=Geometry.from_mac_layer(layer),
                           requant=Requant.from_mac_layer(layer), selects=np.asarray(selects).ravel().tolist())


def accel_bitstream(accel_dir: str | os.PathLike, layers: list[LayerDescriptor]) -> Bitstream:
    """A :class:`~rtlgen.bitstream.format.Bitstream` for the generated accelerator in ``accel_dir``
    (its config hash and multiplier banks from the manifest) with the given layer descriptors."""
    manifest = read_manifest(accel_dir)
    units = [tuple(MultiplierRef(s["hash"], bool(s["signed"]), s["name"]) for s in u) for u in manifest["units"]]
    return Bitstream(accel_hash=manifest["config_hash"], units=units, layers=tuple(layers))
