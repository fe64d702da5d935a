"""Run the emulator from a configuration bitstream, the artifact the accelerator also reads.

The bitstream (:mod:`rtlgen.bitstream.format`) names multipliers by table hash and carries each layer's
geometry and requantization; the model file carries weights and biases. Before emulating,
:func:`check_bitstream` makes sure the two belong together: every described layer must exist in
the model with the same kind, geometry, zero points, clamp and per-channel requantization, else
a :class:`~rtlgen.errors.BitstreamError` names the layer, the field, and both values.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rtlgen.bitstream import format as bsmod
from rtlgen.conventions import DEFAULT_ENGINE, KIND_OF_TFLITE_OP, EngineChoice
from rtlgen.errors import BitstreamError

__all__ = ["check_bitstream", "plans_from_bitstream", "emulator_from_bitstream"]



def _model_op(graph: Any, d: Any, *, file: str | None) -> Any:
    """The model op a descriptor describes: conv layer ``d.index``, or FULLY_CONNECTED
    ``d.index`` for a ``fully_connected`` descriptor (the bitstream numbers layers per kind)."""
    fc = d.kind == "fully_connected"
    ops = graph.mac_ops(("FULLY_CONNECTED",)) if fc else graph.conv_ops()
    if d.index >= len(ops):
        what = "fully connected layers fc:" if fc else "conv layers "
        raise BitstreamError(f"layer {d.key}: the model has {what}0..{len(ops) - 1}" if ops else
                             f"layer {d.key}: the model has no {'fully connected' if fc else 'conv'} layers", file=file)
    return ops[d.index]


def check_bitstream(graph: Any, bs: bsmod.Bitstream, layers: dict[int, Any] | None = None, *,
                    file: str | None = None) -> None:
    """Raise BitstreamError unless every layer descriptor of ``bs`` matches the model."""
    from rtlgen.emulate.layers import compile_mac_layers

    layers = layers if layers is not None else compile_mac_layers(graph)
    for d in bs.layers:
        m = layers[_model_op(graph, d, file=file).index]
        want = {
            "kind": KIND_OF_TFLITE_OP[m.kind],
            "geometry": m.geometry,
            "input zero point": int(m.z_in), "output zero point": int(m.z_out),
            "activation clamp": (int(m.act[0]), int(m.act[1])),
            "requantization multipliers": tuple(int(v) for v in m.multiplier),
            "requantization shifts": tuple(int(v) for v in m.shift),
        }
        got = {
            "kind": d.kind, "geometry": d.geometry,
            "input zero point": d.requant.input_zero_point, "output zero point": d.requant.output_zero_point,
            "activation clamp": (d.requant.act_min, d.requant.act_max),
            "requantization multipliers": d.requant.multipliers, "requantization shifts": d.requant.shifts,
        }
        for key, value in want.items():
            if got[key] != value:
                raise BitstreamError(f"layer {d.key}: {key} is {got[key]} in the bitstream but {value} in the model "
                                     f"({graph.source}); the bitstream was made for another model", file=file)


def plans_from_bitstream(graph: Any, bs: bsmod.Bitstream, resolver: Callable[[str], tuple[np.ndarray, bool]],
                         layers: dict[int, Any] | None = None, *, file: str | None = None) -> dict[int, Any]:
    """Emulator plans (op index -> LayerPlan) of ``bs``; weight remaps become tuned weights."""
    from rtlgen.emulate.assignment import parse_assignment
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.plan import LayerPlan

    layers = layers if layers is not None else compile_mac_layers(graph)
    check_bitstream(graph, bs, layers, file=file)
    assignment = bsmod.to_assignment(bs)
    remaps = {k: v.pop("weight_remap") for k, v in assignment["layers"].items() if "weight_remap" in v}
    plans = parse_assignment(assignment, file or "<bitstream>").plans(graph, resolver, layers)
    for key, remap in remaps.items():
        d = bs.layer(key)
        op = _model_op(graph, d, file=file).index
        layer, plan = layers[op], plans[op]
        sel = d.select_array()
        slots = np.broadcast_to(sel.reshape(sel.shape + (1,) * (2 - sel.ndim)), layer.kernel_shape)
        w = layer.weights.copy()
        src = layer.weights.astype(np.int64) & 0xFF
        for r in d.weight_remap:
            lut = np.frombuffer(r.codes, dtype=np.uint8).view(np.int8)
            mask = np.broadcast_to((slots == r.slot)[:, None, None, :], w.shape)
            w = np.where(mask, lut[src], w)
        plans[op] = LayerPlan(plan.encoding, plan.tables, plan.select, plan.names, w.astype(np.int8)).validate(layer)
    return plans


def emulator_from_bitstream(graph: Any, bs: bsmod.Bitstream, resolver: Callable[[str], tuple[np.ndarray, bool]], *,
                            engine: EngineChoice = DEFAULT_ENGINE, batch_size: int | None = None, file: str | None = None) -> Any:
    """An :class:`~rtlgen.emulate.emulator.Emulator` computing what ``bs`` configures."""
    from rtlgen.emulate.emulator import DEFAULT_BATCH, Emulator
    from rtlgen.emulate.layers import compile_mac_layers

    layers = compile_mac_layers(graph)
    plans = plans_from_bitstream(graph, bs, resolver, layers, file=file)
    return Emulator(graph, plans, engine=engine, batch_size=batch_size or DEFAULT_BATCH)
