"""rtlgen's shared vocabularies: the one place each set of names (and its numeric codes) is spelled.

Every stage names the same few things: how an operand is encoded for the multiplier, at which
granularity a layer's multipliers are chosen, what kind of layer it is, and which emulation
engine computes it. This module only *names* them; what they mean is documented where it is
owned:

* operand encodings (:data:`ENCODINGS`): their semantics in :mod:`rtlgen.emulate.encoding`, the
  hardware's mirror in :mod:`rtlgen.accel.encoding`;
  the mapper and flow files may also ask for ``"auto"`` (:data:`ENCODING_CHOICES`): each layer
  gets the encoding that fits it, :func:`rtlgen.emulate.encoding.layer_encodings`;
* granularities (:data:`GRANULARITIES`): one multiplier per layer, per filter (output channel) or
  per kernel (output channel x input channel); the mapper's search space in
  :mod:`rtlgen.mapper.space`, the hardware's select modes in :mod:`rtlgen.accel.descriptor`;
* layer kinds (:data:`LAYER_KINDS`) and the TFLite operators they come from
  (:data:`TFLITE_OP_OF_KIND`): :mod:`rtlgen.nn.graph`, :mod:`rtlgen.emulate.layers`;
* emulation engines (:data:`ENGINE_NAMES`): the registry :data:`rtlgen.emulate.engines.ENGINES`;
  a caller may also ask for ``"auto"`` (:data:`ENGINE_CHOICES`, the default), which
  :func:`rtlgen.emulate.engines.choose_engine` resolves to the fastest engine that works here;
* weight-tuning modes (:data:`WEIGHT_TUNINGS`): :mod:`rtlgen.emulate.weight_tuning`.

Numeric codes. The configuration bitstream (:mod:`rtlgen.bitstream.format`, one ``u8`` each) and
the accelerator's layer descriptor (:mod:`rtlgen.accel.descriptor`, fields ``encoding`` and
``sel_mode``) use the *same* codes for encodings and granularities, so each vocabulary has one
table here (:data:`ENCODING_CODES`, :data:`GRANULARITY_CODES`). Only the bitstream codes layer
kinds (:data:`LAYER_KIND_CODES`, 0..2) and the operators without multipliers that the sequencer
runs (:data:`OP_KIND_CODES`, 3..6, same byte); the engine has no kind field: it runs every layer
kind as a convolution (a fully
connected layer is a 1x1 conv of a 1x1 image, a depthwise one a conv with one input channel per
kernel). Engines have no code. Each tuple of names lists them in code order. Changing a code
changes the bitstream formats (config.bin, weights.bin: layer kind codes) and the generated RTL: don't.
"""
from __future__ import annotations

from typing import Literal, Mapping, get_args

from rtlgen.errors import UnknownNameError

__all__ = [
    "Encoding", "EncodingChoice", "Granularity", "LayerKind", "EngineName", "EngineChoice", "WeightTuning", "TfliteMacOp",
    "ENCODINGS", "ENCODING_CHOICES", "AUTO_ENCODING", "GRANULARITIES", "LAYER_KINDS", "ENGINE_NAMES", "ENGINE_CHOICES", "WEIGHT_TUNINGS", "TFLITE_MAC_OPS",
    "DEFAULT_ENCODING", "DEFAULT_ENGINE",
    "ENCODING_CODES", "GRANULARITY_CODES", "LAYER_KIND_CODES",
    "TFLITE_OP_OF_KIND", "KIND_OF_TFLITE_OP", "OpKind", "OP_KINDS", "OP_KIND_CODES", "TFLITE_OP_OF_OP_KIND",
    "VOCABULARIES", "check_name", "code_of", "name_of",
]

Encoding = Literal["signmag", "raw", "offset"]
EncodingChoice = Literal["auto", "signmag", "raw", "offset"]
Granularity = Literal["layer", "filter", "kernel"]
LayerKind = Literal["conv2d", "depthwise_conv2d", "fully_connected"]
OpKind = Literal["add", "average_pool_2d", "max_pool_2d", "pad"]
EngineName = Literal["reference", "fast", "native"]
EngineChoice = Literal["auto", "reference", "fast", "native"]
WeightTuning = Literal["none", "uniform", "histogram"]
TfliteMacOp = Literal["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]

#: The valid names, in code order (the ``Literal`` aliases above are their only spelling).
ENCODINGS: tuple[Encoding, ...] = get_args(Encoding)
#: What the mapper and flow files accept: an encoding for every layer, or ``"auto"`` (per layer).
ENCODING_CHOICES: tuple[EncodingChoice, ...] = get_args(EncodingChoice)
AUTO_ENCODING: EncodingChoice = "auto"
GRANULARITIES: tuple[Granularity, ...] = get_args(Granularity)
LAYER_KINDS: tuple[LayerKind, ...] = get_args(LayerKind)
ENGINE_NAMES: tuple[EngineName, ...] = get_args(EngineName)
#: What a caller may ask for: an engine, or ``"auto"`` (the fastest that works on this machine).
ENGINE_CHOICES: tuple[EngineChoice, ...] = get_args(EngineChoice)
WEIGHT_TUNINGS: tuple[WeightTuning, ...] = get_args(WeightTuning)
#: The TFLite operators that multiply and accumulate (the ones a multiplier is assigned to).
TFLITE_MAC_OPS: tuple[TfliteMacOp, ...] = get_args(TfliteMacOp)

DEFAULT_ENCODING: Encoding = "signmag"
DEFAULT_ENGINE: EngineChoice = "auto"

#: name -> code, shared by the bitstream's ``u8`` and the descriptor's 2-bit ``encoding`` field.
ENCODING_CODES: dict[str, int] = {name: code for code, name in enumerate(ENCODINGS)}
#: name -> code, shared by the bitstream's ``u8`` and the descriptor's 2-bit ``sel_mode`` field.
GRANULARITY_CODES: dict[str, int] = {name: code for code, name in enumerate(GRANULARITIES)}
#: name -> code of the bitstream's layer ``kind`` byte (the hardware has no such field).
LAYER_KIND_CODES: dict[str, int] = {name: code for code, name in enumerate(LAYER_KINDS)}

#: The operators without multipliers that the accelerator's sequencer runs (config.bin format 4),
#: in code order; their codes follow the layer kinds' in the same ``kind`` byte, so a descriptor's
#: kind tells which layout follows.
OP_KINDS: tuple[OpKind, ...] = get_args(OpKind)
OP_KIND_CODES: dict[str, int] = {name: len(LAYER_KINDS) + code for code, name in enumerate(OP_KINDS)}
#: Op kind -> the TFLite operator it comes from.
TFLITE_OP_OF_OP_KIND: dict[str, str] = dict(zip(OP_KINDS, ("ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "PAD")))

#: Layer kind -> the TFLite operator it comes from, and back.
TFLITE_OP_OF_KIND: dict[str, str] = dict(zip(LAYER_KINDS, TFLITE_MAC_OPS))
KIND_OF_TFLITE_OP: dict[str, str] = {op: kind for kind, op in TFLITE_OP_OF_KIND.items()}

#: What :func:`check_name` checks: the label used in messages -> the valid names.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "encoding": ENCODINGS,
    "encoding choice": ENCODING_CHOICES,
    "granularity": GRANULARITIES,
    "layer kind": LAYER_KINDS,
    "op kind": OP_KINDS,
    "emulation engine": ENGINE_CHOICES,
    "weight tuning": WEIGHT_TUNINGS,
    "TFLite MAC operator": TFLITE_MAC_OPS,
}
_CODES: dict[str, Mapping[str, int]] = {
    "encoding": ENCODING_CODES,
    "granularity": GRANULARITY_CODES,
    "layer kind": LAYER_KIND_CODES,
    "op kind": OP_KIND_CODES,
}


def _vocabulary(kind: str) -> tuple[str, ...]:
    try:
        return VOCABULARIES[kind]
    except KeyError:
        raise UnknownNameError(f"unknown vocabulary {kind!r}; valid: {', '.join(VOCABULARIES)}") from None


def check_name(kind: str, value: object, where: str = "", *, file: str | None = None) -> str:
    """``value`` if it is a valid name of vocabulary ``kind`` (a key of :data:`VOCABULARIES`),
    else :class:`~rtlgen.errors.UnknownNameError` (a ConfigError and a ValueError) saying what was
    given, the valid names, and where: ``where`` (a prefix such as ``"layer 3"``; may be empty)
    and ``file`` (the file the value was read from, if any)."""
    names = _vocabulary(kind)
    if isinstance(value, str) and value in names:
        return value
    prefix = f"{where}: " if where else ""
    raise UnknownNameError(f"{prefix}unknown {kind} {value!r}; valid: {', '.join(names)}", file=file)


def code_of(kind: str, name: str, where: str = "") -> int:
    """The numeric code of ``name`` in vocabulary ``kind`` (encoding, granularity, layer kind)."""
    if kind not in _CODES:
        raise UnknownNameError(f"vocabulary {kind!r} has no numeric codes; these do: {', '.join(_CODES)}")
    return _CODES[kind][check_name(kind, name, where)]


def name_of(kind: str, code: int, where: str = "") -> str:
    """The name with numeric ``code`` in vocabulary ``kind``; UnknownNameError listing the codes."""
    if kind not in _CODES:
        raise UnknownNameError(f"vocabulary {kind!r} has no numeric codes; these do: {', '.join(_CODES)}")
    for name, c in _CODES[kind].items():
        if c == code:
            return name
    prefix = f"{where}: " if where else ""
    valid = ", ".join(f"{c} {n}" for n, c in _CODES[kind].items())
    raise UnknownNameError(f"{prefix}{kind} code {code} is unknown; valid: {valid}")
