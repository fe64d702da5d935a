"""Run the emulator from a configuration bitstream, the artifact the accelerator also reads.

The bitstream (:mod:`rtlgen.bitstream.format`) names multipliers by table hash and carries each layer's
geometry and requantization; the model file carries weights and biases. Before emulating,
:func:`check_bitstream` makes sure the two belong together: every described layer must exist in
the model with the same kind, geometry, zero points, clamp and per-channel requantization, else
a :class:`~rtlgen.errors.BitstreamError` names the layer, the field, and both values. Op
descriptors (format version 4: ADD, the pools, PAD) are checked the same way, every field but their
activation-memory bases and position (:func:`rtlgen.bitstream.opdesc.op_descriptors` of the
model); the emulator then computes those operators from the model, as it does without them.

The weights may come from the second image, ``weights.bin`` (:mod:`rtlgen.bitstream.weights`),
instead of the model: :func:`emulator_from_images` checks that the image is the model's (its
model hash, :func:`model_weights`) and multiplies the image's weights, with ``config.bin``'s
weight remaps applied on top, as the accelerator will.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rtlgen.bitstream import format as bsmod
from rtlgen.bitstream import weights as wmod
from rtlgen.conventions import DEFAULT_ENGINE, KIND_OF_TFLITE_OP, EngineChoice
from rtlgen.errors import BitstreamError

__all__ = ["check_bitstream", "plans_from_bitstream", "emulator_from_bitstream", "model_weights", "check_weights",
           "emulator_from_images"]



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
    """Raise BitstreamError unless every layer descriptor of ``bs`` matches the model, and its
    model hash (format version 2, when not empty) is the model's."""
    from rtlgen.emulate.layers import compile_mac_layers

    layers = layers if layers is not None else compile_mac_layers(graph)
    if bs.model_hash:       # format version 2: tied to the weights of one model
        want_hash = model_weights(graph, 1, layers).model_hash
        if bs.model_hash != want_hash:
            raise wmod.error_at(f"bitstream is for the model with weights hash {bs.model_hash}, not for "
                                f"{graph.source} (weights hash {want_hash})", bsmod.model_hash_offset(bs), file)
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
    if bs.ops:
        _check_ops(graph, bs, file=file)


def _check_ops(graph: Any, bs: bsmod.Bitstream, *, file: str | None) -> None:
    """check_bitstream's part for op descriptors (module docstring)."""
    from dataclasses import fields

    from rtlgen.bitstream.opdesc import op_descriptors

    model = {d.key: d for d in op_descriptors(graph)}
    placement = {"in_base", "in2_base", "out_base", "after_layers"}
    for d in bs.ops:
        want = model.get(d.key)
        if want is None:
            have = ", ".join(model) or "none"
            raise BitstreamError(f"op {d.key}: the model has no such operator (its ADD/pool/PAD operators: {have})",
                                 file=file)
        for f in fields(d):
            if f.name not in placement and getattr(d, f.name) != getattr(want, f.name):
                raise BitstreamError(f"op {d.key}: {f.name} is {getattr(d, f.name)} in the bitstream but "
                                     f"{getattr(want, f.name)} in the model ({graph.source}); the bitstream was made "
                                     "for another model", file=file)


def plans_from_bitstream(graph: Any, bs: bsmod.Bitstream, resolver: Callable[[str], tuple[np.ndarray, bool]],
                         layers: dict[int, Any] | None = None, *, file: str | None = None,
                         weights: dict[int, np.ndarray] | None = None) -> dict[int, Any]:
    """Emulator plans (op index -> LayerPlan) of ``bs``; weight remaps become tuned weights.

    ``weights`` (op index -> int8 ``[O, KH, KW, G]``) replaces the model's weights of the layers
    it lists (``weights.bin``'s, :func:`emulator_from_images`); remaps apply to those."""
    from rtlgen.emulate.assignment import parse_assignment
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.plan import LayerPlan

    layers = layers if layers is not None else compile_mac_layers(graph)
    check_bitstream(graph, bs, layers, file=file)
    assignment = bsmod.to_assignment(bs)
    remaps = {k: v.pop("weight_remap") for k, v in assignment["layers"].items() if "weight_remap" in v}
    plans = parse_assignment(assignment, file or "<bitstream>").plans(graph, resolver, layers)
    for op, w in (weights or {}).items():
        if op in plans:
            plan = plans[op]
            plans[op] = LayerPlan(plan.encoding, plan.tables, plan.select, plan.names,
                                  np.asarray(w, dtype=np.int8)).validate(layers[op])
    for key in remaps:
        shares = bs.shares(key)
        op = _model_op(graph, shares[0], file=file).index
        layer, plan = layers[op], plans[op]
        base = plan.layer_weights(layer)
        w = base.copy()
        src = base.astype(np.int64) & 0xFF
        ours = np.zeros(layer.kernel_shape, dtype=bool)     # the kernels of the share at hand
        for d in shares:    # each share remaps the kernels of its own output channels (format: "Shares")
            sel = d.select_array()
            slots = np.broadcast_to(sel.reshape(sel.shape + (1,) * (2 - sel.ndim)), layer.kernel_shape)
            ours[:] = False
            ours[d.co_first:d.co_end] = True
            for r in d.weight_remap:
                lut = np.frombuffer(r.codes, dtype=np.uint8).view(np.int8)
                mask = np.broadcast_to(((slots == r.slot) & ours)[:, None, None, :], w.shape)
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


def _mac_keys(graph: Any) -> list[tuple[int, str, int]]:
    """``(op index, layer kind, per-kind index)`` of every MAC layer, in graph order."""
    from rtlgen.conventions import KIND_OF_TFLITE_OP

    conv = {op.index: i for i, op in enumerate(graph.conv_ops())}
    fc = {op.index: i for i, op in enumerate(graph.mac_ops(("FULLY_CONNECTED",)))}
    return [(op.index, KIND_OF_TFLITE_OP[op.kind], fc[op.index] if op.kind == "FULLY_CONNECTED" else conv[op.index])
            for op in graph.mac_ops()]


def op_of_key(graph: Any) -> dict[str, int]:
    """Assignment key (``"N"``, ``"fc:N"``: :attr:`rtlgen.bitstream.format.LayerDescriptor.key`)
    -> graph op index of every MAC layer."""
    return {f"fc:{index}" if kind == "fully_connected" else str(index): op for op, kind, index in _mac_keys(graph)}


def model_weights(graph: Any, lanes: int, layers: dict[int, Any] | None = None) -> wmod.WeightsImage:
    """The weights image of ``graph`` for ``lanes`` lanes: every MAC layer in graph order, the
    model's own weights (no weight tuning) and biases. Its ``model_hash`` identifies the model."""
    from rtlgen.emulate.layers import compile_mac_layers

    layers = layers if layers is not None else compile_mac_layers(graph)
    return wmod.WeightsImage(lanes, tuple(wmod.LayerWeights.from_mac_layer(index, kind, layers[op])  # type: ignore[arg-type]
                                          for op, kind, index in _mac_keys(graph)))


def check_weights(graph: Any, image: wmod.WeightsImage, layers: dict[int, Any] | None = None, *,
                  file: str | None = None) -> None:
    """Raise BitstreamError unless ``image`` holds ``graph``'s weights (its model hash)."""
    want = model_weights(graph, image.lanes, layers).model_hash
    if image.model_hash != want:
        raise wmod.error_at(f"weights image is for the model with weights hash {image.model_hash}, not for "
                         f"{graph.source} (weights hash {want})", wmod.HASH_OFFSET, file)


def emulator_from_images(graph: Any, bs: bsmod.Bitstream, weights: wmod.WeightsImage,
                         resolver: Callable[[str], tuple[np.ndarray, bool]], *, engine: EngineChoice = DEFAULT_ENGINE,
                         batch_size: int | None = None, config_file: str | None = None,
                         weights_file: str | None = None) -> Any:
    """An :class:`~rtlgen.emulate.emulator.Emulator` computing what ``config.bin`` (``bs``) and
    ``weights.bin`` (``weights``) configure: each layer ``bs`` describes multiplies the image's
    weights (after ``bs``'s weight remaps). The image must be ``graph``'s
    (:func:`check_weights`), and ``bs`` must describe ``graph`` (:func:`check_bitstream`). The
    biases added are the model's, which the matching model hash makes the image's too (it covers
    them); layers ``bs`` does not describe run exactly with the model's weights, equally the image's."""
    from rtlgen.emulate.emulator import DEFAULT_BATCH, Emulator
    from rtlgen.emulate.layers import compile_mac_layers

    layers = compile_mac_layers(graph)
    if bs.model_hash and bs.model_hash != weights.model_hash:
        raise wmod.error_at(f"bitstream goes with the weights.bin of model hash {bs.model_hash}, but "
                            f"{weights_file or 'the weights image'} has {weights.model_hash}",
                            bsmod.model_hash_offset(bs), config_file)
    check_weights(graph, weights, layers, file=weights_file)
    by_key = {layer.key: layer for layer in weights.layers}
    op_of = {(f"fc:{index}" if kind == "fully_connected" else str(index)): op for op, kind, index in _mac_keys(graph)}
    plans = plans_from_bitstream(graph, bs, resolver, layers, file=config_file,
                                 weights={op_of[key]: by_key[key].weights for key in by_key})
    return Emulator(graph, plans, engine=engine, batch_size=batch_size or DEFAULT_BATCH)
