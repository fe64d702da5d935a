"""Operand encodings: what an 8x8 multiplier sees of an int8 activation and an int8 weight.

This module owns the definition; the emulator and the accelerator RTL both follow it, and
:func:`dot` is the golden model of one output's accumulator (bias excluded).

Notation: ``x`` is an int8 activation code with zero point ``z`` (real value
``scale * (x - z)``), ``w`` an int8 weight code with zero point 0 (TFLite's int8 weights are
symmetric: ``-127 <= w <= 127``), ``T`` the multiplier's table (``T[a, b]``, port A activation
side, port B weight side; see :mod:`rtlgen.netlist.table`). The exact accumulator of a dot product over
``K`` taps is ``sum_k (x_k - z) * w_k``. A *padding* tap (outside the image) has ``x = z`` in
every encoding, so it contributes exactly 0 to that sum; the encodings differ in what the
multiplier sees there.

``signmag`` (the default; needs an **unsigned** multiplier)
    ``A = x - z`` (must lie in 0..255: true when ``z = -128``, or when the producer clamps at
    ``z``, as ReLU does), ``B = |w|`` (0..127) and the product takes the weight's sign:
    ``acc = sum_k sign(w_k) * T[x_k - z, |w_k|]`` with ``sign(0) = +1``. Padding gives
    ``A = 0``. No correction term.
``raw`` (needs a **signed** multiplier)
    ``A = x`` and ``B = w`` as two's-complement bit patterns (``x & 0xFF``, ``w & 0xFF``);
    padding taps carry ``A = z & 0xFF``. ``acc = sum_k T[A_k, B_k] - z * sum_k w_k``: the sum of
    the weights runs over all ``K`` taps of the kernel (a per-output-channel constant).
``offset`` (needs an **unsigned** multiplier; TFApprox's scheme)
    ``A = x + 128``, ``B = w + 128`` (0..255); padding taps carry ``A = z + 128``. Since
    ``(x+128)(w+128) = x*w + 128*x + 128*w + 16384``, ``acc = sum_k T[A_k, B_k]
    - 128 * sum_k x_k - (128 + z) * sum_k w_k - 16384 * K`` (the activation sum is over the
    window, padding taps counted as ``z``).

With an exact table each encoding gives the exact accumulator; with an approximate one the
error is ``T[A, B]`` minus the exact product of the values A and B stand for.
"""
from __future__ import annotations

import numpy as np

from typing import Any

from rtlgen.conventions import AUTO_ENCODING, DEFAULT_ENCODING, ENCODINGS, Encoding, EncodingChoice, check_name
from rtlgen.errors import ConfigError

__all__ = [
    "Encoding",
    "ENCODINGS",
    "DEFAULT_ENCODING",
    "TABLE_SIGNED",
    "layer_encodings",
    "activation_codes",
    "weight_codes",
    "correction",
    "dot",
]

# The names are rtlgen.conventions' (re-exported here); what each one means is defined above.
#: The signedness of the multiplier each encoding needs (``rtlgen.netlist.table`` convention).
TABLE_SIGNED: dict[str, bool] = {"signmag": False, "raw": True, "offset": False}


def check_encoding(encoding: str) -> str:
    return check_name("encoding", encoding)


def activation_codes(x: np.ndarray, zero_point: int, encoding: str) -> np.ndarray:
    """Port-A bit patterns (int32 0..255) of int8 activation codes ``x`` (padding: ``x = z``).

    Raises ValueError for ``signmag`` when some ``x - z`` leaves 0..255.
    """
    check_encoding(encoding)
    x = np.asarray(x, dtype=np.int32)
    if encoding == "signmag":
        a = x - int(zero_point)
        if a.size and (a.min() < 0 or a.max() > 255):
            bad = np.flatnonzero((a.ravel() < 0) | (a.ravel() > 255))[0]
            raise ValueError(
                f"signmag encoding needs x - z in 0..255, but activation {int(x.ravel()[bad])} "
                f"with zero point {zero_point} gives {int(a.ravel()[bad])} (flat index {bad}); "
                "use the 'raw' or 'offset' encoding for this layer")
        return a
    if encoding == "raw":
        return x & 0xFF
    return x + 128


def weight_codes(w: np.ndarray, encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """Port-B bit patterns (int32 0..255) and product signs (int32 +1/-1) of int8 weights."""
    check_encoding(encoding)
    w = np.asarray(w, dtype=np.int32)
    if encoding == "signmag":
        if w.size and w.min() < -127:
            raise ValueError("signmag encoding needs symmetric int8 weights (>= -127); found -128")
        return np.abs(w), np.where(w < 0, -1, 1).astype(np.int32)
    ones = np.ones(w.shape, dtype=np.int32)
    if encoding == "raw":
        return w & 0xFF, ones
    return w + 128, ones


def correction(encoding: str, zero_point: int, sum_x: np.ndarray | int, sum_w: np.ndarray | int,
               taps: int) -> np.ndarray:
    """The exact term added to ``sum_k sign_k * T[A_k, B_k]`` (int64).

    ``sum_x``: sum of the activation codes over the window (padding as ``z``; only ``offset``
    uses it), ``sum_w``: sum of the weight codes over all ``taps`` of the kernel.
    """
    check_encoding(encoding)
    z = int(zero_point)
    sx = np.asarray(sum_x, dtype=np.int64)
    sw = np.asarray(sum_w, dtype=np.int64)
    if encoding == "signmag":
        return np.zeros(np.broadcast(sx, sw).shape, dtype=np.int64)
    if encoding == "raw":
        return np.broadcast_to(-z * sw, np.broadcast(sx, sw).shape).astype(np.int64)
    return -128 * sx - (128 + z) * sw - 16384 * int(taps)


def dot(table: np.ndarray, x: np.ndarray, w: np.ndarray, zero_point: int, encoding: str) -> np.ndarray:
    """Golden accumulator(s) of dot products through a multiplier table (bias excluded).

    ``x`` and ``w`` are int8 codes of the same shape ``[..., K]`` (padding taps: ``x = z``);
    returns int64 ``[...]``. Accumulation is int32 in hardware; ranges here never overflow it.
    """
    t = np.asarray(table, dtype=np.int64)
    a = activation_codes(x, zero_point, encoding)
    b, s = weight_codes(w, encoding)
    prod = (t[a, b] * s).sum(axis=-1)
    x64 = np.asarray(x, dtype=np.int64)
    w64 = np.asarray(w, dtype=np.int64)
    return prod + correction(encoding, zero_point, x64.sum(axis=-1), w64.sum(axis=-1), x64.shape[-1])


def _input_floor(graph: Any, op: Any, layers: dict[int, Any]) -> int:
    """The lowest int8 code ``op``'s input can hold for *any* model input, from the ops that
    produce it: a MAC layer's or ADD's activation clamp, carried through RESHAPE, PAD (which
    inserts the zero point) and pooling (max and mean never go below their inputs' floor) when
    they keep the quantization; the model input and anything else can be -128."""
    from rtlgen.nn import quant

    producers = {o: p for p in graph.ops for o in p.outputs}
    t = op.inputs[0]
    floor = -128
    while True:
        prod = producers.get(t)
        if prod is None:
            return floor
        if prod.index in layers:
            return max(floor, int(layers[prod.index].act[0]))
        y = graph.tensors[prod.outputs[0]]
        if prod.kind == "ADD":
            return max(floor, quant.activation_range(prod.options["activation"], y.scale, y.zero_point)[0])
        if prod.kind not in ("RESHAPE", "PAD", "MAX_POOL_2D", "AVERAGE_POOL_2D"):
            return floor
        src = graph.tensors[prod.inputs[0]]
        if (src.zero_point, src.scale) != (y.zero_point, y.scale):
            return floor  # codes change meaning: nothing known
        if prod.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            floor = max(floor, quant.activation_range(prod.options["activation"], y.scale, y.zero_point)[0])
        t = prod.inputs[0]


def layer_encodings(graph: Any, encoding: EncodingChoice = AUTO_ENCODING, *, signed: bool = False,
                    layers: dict[int, Any] | None = None) -> list[str]:
    """The operand encoding of each MAC layer (``graph.mac_ops()`` order).

    ``encoding`` ``"auto"`` chooses per layer: with unsigned multipliers ``signmag`` where every
    possible input code ``x`` satisfies ``x - z >= 0`` (:func:`_input_floor`; after a ReLU whose
    zero point is the next layer's) and the weights are symmetric (>= -127), else ``offset``,
    which fits any int8 operands; with signed multipliers ``raw`` everywhere. A named encoding is
    used for every layer; ConfigError names the first layer it cannot run.
    """
    from rtlgen.emulate.layers import compile_mac_layers

    check_name("encoding choice", encoding)
    layers = layers if layers is not None else compile_mac_layers(graph)
    out = []
    for i, op in enumerate(graph.mac_ops()):
        layer = layers[op.index]
        floor = _input_floor(graph, op, layers)
        fits = floor - int(layer.z_in) >= 0 and int(layer.weights.min()) >= -127
        name = f"{i}:{op.kind.lower()}@op{op.index}"
        if encoding == AUTO_ENCODING:
            out.append("raw" if signed else ("signmag" if fits else "offset"))
            continue
        if encoding == "signmag" and not fits:
            why = (f"its input can go down to {floor} with zero point {layer.z_in}, so x - z reaches "
                   f"{floor - int(layer.z_in)}" if floor - int(layer.z_in) < 0 else "its weights include -128")
            raise ConfigError(f"encoding signmag cannot run layer {name}: {why} (signmag needs x - z >= 0 and "
                              f"weights >= -127); use encoding auto (chooses per layer) or offset",
                              file=graph.source)
        out.append(encoding)
    if encoding != AUTO_ENCODING:
        assert all(TABLE_SIGNED[e] == TABLE_SIGNED[encoding] for e in out)
    return out
