"""The weights image, ``weights.bin``: a model's weights and biases as the accelerator's memories hold them.

``config.bin`` (:mod:`rtlgen.bitstream.format`) says *how* each layer runs; this second image
carries *what* it multiplies: the int8 weights of every MAC layer (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED) and its int32 biases. The weights are the model's own codes: weight remaps
(weight tuning) are **not** applied here; they travel in ``config.bin`` and are applied where it
is read (the emulator today, the hardware's remap table later), so one ``weights.bin`` serves every
mapping of a model.

Weight-memory layout (owned here; the words of :func:`rtlgen.accel.descriptor.weight_image`
without their select fields). A layer's weights ``w[o, ky, kx, g]`` (``[O, KH, KW, G]``, the
emulator's :class:`~rtlgen.emulate.layers.MacLayer` order: TFLite's OHWI for CONV_2D, ``G = 1``
for DEPTHWISE_CONV_2D, ``KH = KW = 1`` for FULLY_CONNECTED) are cut into ``ceil(O / L)`` groups of
``L`` output channels (``L`` = the accelerator's lanes). Group ``gr`` is ``K = KH*KW*G`` words of
``L`` bytes; byte ``l`` of word ``k = (ky*KW + kx)*G + g`` is ``w[gr*L + l, ky, kx, g]`` as an
int8 bit pattern, 0 for a lane beyond ``O``::

    section byte ((gr*K + k)*L + l)  =  weight-memory word (w_base + gr*K + k), bits [8l, 8l+8)

so a loader forms weight-memory word ``gr*K + k`` from the section's ``L`` bytes at
``(gr*K + k)*L`` (little-endian: lane 0 lowest) and ORs in the select fields that ``config.bin``'s
multiplier selects give (bits ``8L + l*S`` up, :mod:`rtlgen.accel.descriptor`). A depthwise layer
is stored the same way with ``G = 1``, which is also how the engine's depthwise mode reads it
(output channel ``co`` on lane ``co mod L``). Biases are int32 little-endian, one per output channel, for the parameter
memory's bits 0..31 (its requantization multiplier and shift come from ``config.bin``).

Byte layout, format version 1 (little-endian; every section starts at a multiple of 4 bytes,
padding bytes are 0)::

    offset      size  field
    ----------  ----  ------------------------------------------------------------------------
    0           4     magic b"RTLW"
    4           2     u16 format version (1)
    6           2     u16 flags, reserved, must be 0
    8           4     u32 N: total length in bytes, header and CRC included
    12          2     u16 L: lanes of the weight-memory layout (the accelerator's ``lanes``)
    14          2     u16 R: number of layer records
    16          16    model hash: 16 lowercase hex ASCII characters (:func:`weights_hash`)
    32          24*R  layer records, in graph order; record r at 32 + 24*r:
      +0        2       u16 layer index, numbered per kind as config.bin's descriptors are:
                        conv2d and depthwise_conv2d among the model's conv layers ("N"),
                        fully_connected among its FULLY_CONNECTED layers ("fc:N")
      +2        1       u8 kind: rtlgen.conventions.LAYER_KIND_CODES (0 conv2d,
                        1 depthwise_conv2d, 2 fully_connected)
      +3        1       u8 reserved, 0
      +4        8       4 x u16: O (output channels), KH, KW, G (input channels per kernel)
      +12       4       u32 weight offset: byte offset of the layer's weight section in the file
      +16       4       u32 weight bytes: ceil(O / L) * KH*KW*G * L
      +20       4       u32 bias offset: byte offset of the layer's 4*O bias bytes
    align4(32+24R)      per record, in record order: its weight section, 0-padding to a
                        multiple of 4, its bias section (the offsets above point here; the
                        sections are contiguous in this order, nothing else in between)
    N-4         4     u32 CRC-32 (zlib.crc32) of bytes 0..N-5

The CRC follows ``config.bin``'s convention (every byte but the CRC field, stored last), so the
accelerator's streaming CRC checker serves both images.

Model hash. ``weights_hash`` is the first 64 bits (16 hex digits, as the accelerator's config
hash) of a SHA-256 over the records' content: per layer its index, kind code, shape, int8
weights (``[O, KH, KW, G]`` C order) and int32 biases, not of the ``.tflite`` file's bytes. It
names the *weights*, so that (a) a model re-exported with other metadata, buffer order or
operator names keeps its hash, (b) it can be computed from the in-memory graph that the emulator
and the mapper hold (no file needed), and (c) :func:`decode` recomputes it from the image's own
payload, so a stored hash always describes the bytes it comes with. What else makes a model
(requantization scales, geometry, the other operators) ``config.bin``'s descriptors carry and
:func:`rtlgen.emulate.from_bitstream.check_bitstream` compares with the model.

:func:`decode` checks, in this order: magic, version, flags, declared length against the actual
length (so truncation at any offset is caught), CRC (so any flipped bit is caught), then every
field (kind codes, shapes, offsets and sizes against the canonical layout, zero padding and empty
lanes, record order) and last the model hash against the payload. Every failure is a
:class:`~rtlgen.errors.BitstreamError` naming the byte offset (also its ``offset`` attribute).
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rtlgen.conventions import LAYER_KIND_CODES, LayerKind, check_name
from rtlgen.errors import BitstreamError
from rtlgen.paths import atomic_write_bytes

__all__ = [
    "MAGIC", "VERSION", "HEADER_SIZE", "RECORD_SIZE",
    "LayerWeights", "WeightsImage", "weights_hash",
    "encode", "decode", "read_weights", "write_weights", "describe", "error_at",
]

MAGIC = b"RTLW"
VERSION = 1
HEADER_SIZE = 32
RECORD_SIZE = 24
HASH_OFFSET = 16
HASH_CHARS = 16
_HASH_RE = re.compile(rb"[0-9a-f]{16}")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One MAC layer's int8 weights ``[O, KH, KW, G]`` and int32 biases ``[O]``.

    ``index`` and ``kind`` number the layer as ``config.bin`` does (:attr:`key`: ``"N"`` or
    ``"fc:N"``)."""

    index: int
    kind: LayerKind
    weights: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)):
            raise TypeError(f"layer index must be an int, not {type(self.index).__name__}")
        if not 0 <= int(self.index) <= 0xFFFF:
            raise ValueError(f"layer index must lie in 0..65535, not {self.index}")
        object.__setattr__(self, "index", int(self.index))
        check_name("layer kind", self.kind, f"layer {self.index}")
        w = np.asarray(self.weights)
        b = np.asarray(self.bias)
        where = f"layer {self.key}"
        if w.ndim != 4 or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"{where}: weights must be an integer array [O, KH, KW, G], not {w.dtype} {w.shape}")
        if w.size and (w.min() < -128 or w.max() > 127):
            raise ValueError(f"{where}: weights must be int8 codes (-128..127)")
        o, kh, kw, g = w.shape
        for name, v in (("O", o), ("KH", kh), ("KW", kw), ("G", g)):
            if not 1 <= v <= 0xFFFF:
                raise ValueError(f"{where}: {name} must lie in 1..65535, not {v}")
        if self.kind == "depthwise_conv2d" and g != 1:
            raise ValueError(f"{where}: a depthwise layer has G = 1 input channel per kernel, not {g}")
        if self.kind == "fully_connected" and (kh, kw) != (1, 1):
            raise ValueError(f"{where}: a fully connected layer has a 1x1 kernel, not {kh}x{kw}")
        if b.shape != (o,) or not np.issubdtype(b.dtype, np.integer):
            raise ValueError(f"{where}: bias must be an integer array [{o}], not {b.dtype} {b.shape}")
        if b.size and (b.min() < -(1 << 31) or b.max() > (1 << 31) - 1):
            raise ValueError(f"{where}: biases must be int32")
        object.__setattr__(self, "weights", _frozen(w.astype(np.int8)))
        object.__setattr__(self, "bias", _frozen(b.astype(np.int32)))

    @property
    def key(self) -> str:
        """The layer's key in an emulator assignment and in ``config.bin``: ``"N"`` or ``"fc:N"``."""
        return f"fc:{self.index}" if self.kind == "fully_connected" else str(self.index)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(int(v) for v in self.weights.shape)  # type: ignore[return-value]

    @classmethod
    def from_mac_layer(cls, index: int, kind: LayerKind, layer: Any) -> LayerWeights:
        """From a :class:`rtlgen.emulate.layers.MacLayer` (anything with ``weights`` and ``bias``)."""
        return cls(index, kind, np.asarray(layer.weights), np.asarray(layer.bias))

    def weight_bytes(self, lanes: int) -> int:
        o, kh, kw, g = self.shape
        return -(-o // lanes) * kh * kw * g * lanes

    def weight_section(self, lanes: int) -> bytes:
        """The layer's weight section for ``lanes`` lanes (module docstring)."""
        o, kh, kw, g = self.shape
        groups = -(-o // lanes)
        padded = np.zeros((groups * lanes, kh * kw * g), dtype=np.int8)
        padded[:o] = self.weights.reshape(o, -1)
        # [group, lane, k] -> [group, k, lane]
        return padded.reshape(groups, lanes, -1).transpose(0, 2, 1).tobytes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerWeights):
            return NotImplemented
        return (self.index, self.kind) == (other.index, other.kind) and \
            np.array_equal(self.weights, other.weights) and np.array_equal(self.bias, other.bias)

    __hash__ = None  # type: ignore[assignment]


def weights_hash(layers: Sequence[LayerWeights]) -> str:
    """The model hash of ``layers`` (module docstring): 16 lowercase hex digits."""
    h = hashlib.sha256(b"rtlgen-model-weights-v1:")
    for layer in layers:
        h.update(struct.pack("<HB4H", layer.index, LAYER_KIND_CODES[layer.kind], *layer.shape))
        h.update(layer.weights.tobytes())
        h.update(layer.bias.astype("<i4").tobytes())
    return h.hexdigest()[:HASH_CHARS]


@dataclass(frozen=True, eq=False)
class WeightsImage:
    """The content of ``weights.bin``: the layout's lane count and every MAC layer's weights."""

    lanes: int
    layers: tuple[LayerWeights, ...]

    def __post_init__(self) -> None:
        if isinstance(self.lanes, bool) or not isinstance(self.lanes, (int, np.integer)):
            raise TypeError(f"lanes must be an int, not {type(self.lanes).__name__}")
        if not 1 <= int(self.lanes) <= 0xFFFF:
            raise ValueError(f"lanes must lie in 1..65535, not {self.lanes}")
        object.__setattr__(self, "lanes", int(self.lanes))
        object.__setattr__(self, "layers", tuple(self.layers))
        if len(self.layers) > 0xFFFF:
            raise ValueError(f"too many layers: {len(self.layers)}")
        last = {False: -1, True: -1}
        for layer in self.layers:
            if not isinstance(layer, LayerWeights):
                raise TypeError(f"layers must be LayerWeights, not {type(layer).__name__}")
            fc = layer.kind == "fully_connected"
            if layer.index <= last[fc]:
                raise ValueError(f"layer {layer.key} is out of graph order or listed twice: "
                                 f"{'fully connected' if fc else 'conv'} layer indices must ascend")
            last[fc] = layer.index

    @property
    def model_hash(self) -> str:
        return weights_hash(self.layers)

    def layer(self, key: int | str) -> LayerWeights:
        """The record of conv layer ``key`` (an int or ``"N"``) or of ``"fc:N"``."""
        for layer in self.layers:
            if layer.key == str(key):
                return layer
        raise KeyError(f"no weights for layer {key}; present: {[l.key for l in self.layers]}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WeightsImage):
            return NotImplemented
        return self.lanes == other.lanes and self.layers == other.layers

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# Encoding


def _layout(img: WeightsImage) -> list[tuple[int, int, int]]:
    """Per record: (weight offset, weight bytes, bias offset) of the canonical layout."""
    pos = _align4(HEADER_SIZE + RECORD_SIZE * len(img.layers))
    out = []
    for layer in img.layers:
        nw = layer.weight_bytes(img.lanes)
        b_off = _align4(pos + nw)
        out.append((pos, nw, b_off))
        pos = b_off + 4 * layer.shape[0]
    return out


def encode(img: WeightsImage) -> bytes:
    """The bytes of ``img`` in the layout of the module docstring (CRC appended)."""
    if not isinstance(img, WeightsImage):
        raise TypeError(f"encode() needs a WeightsImage, not {type(img).__name__}")
    layout = _layout(img)
    out = bytearray(MAGIC + struct.pack("<HHIHH", VERSION, 0, 0, img.lanes, len(img.layers)))
    out += img.model_hash.encode("ascii")
    for layer, (w_off, nw, b_off) in zip(img.layers, layout):
        out += struct.pack("<HBB4HIII", layer.index, LAYER_KIND_CODES[layer.kind], 0, *layer.shape, w_off, nw, b_off)
    for layer, (w_off, nw, b_off) in zip(img.layers, layout):
        out += bytes(w_off - len(out))
        out += layer.weight_section(img.lanes)
        out += bytes(b_off - len(out))
        out += layer.bias.astype("<i4").tobytes()
    out += bytes(_align4(len(out)) - len(out))
    total = len(out) + 4
    if total > 0xFFFFFFFF:
        raise ValueError(f"weights image too large: {total} bytes")
    struct.pack_into("<I", out, 8, total)
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def write_weights(path: str | os.PathLike, img: WeightsImage) -> None:
    atomic_write_bytes(path, encode(img))


# --------------------------------------------------------------------------------------------
# Decoding


def error_at(message: str, offset: int, file: str | None = None) -> BitstreamError:
    """A :class:`BitstreamError` about byte ``offset`` of an image (also its ``offset`` attribute)."""
    err = BitstreamError(f"{message} (at byte offset {offset})", file=file)
    err.offset = offset  # type: ignore[attr-defined]
    return err


_fail = error_at


_KIND_OF_CODE = {code: name for name, code in LAYER_KIND_CODES.items()}


def decode(data: bytes, *, expect_model: str | None = None, file: str | None = None) -> WeightsImage:
    """Parse and check a weights image; ``expect_model`` (a model hash, :func:`weights_hash`)
    rejects an image of another model. Raises :class:`BitstreamError` with the byte offset."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    n = len(data)
    head = data[:len(MAGIC)]
    if n == 0 or head != MAGIC[:len(head)]:
        where = next((i for i, (a, b) in enumerate(zip(head, MAGIC)) if a != b), len(head))
        raise _fail(f"not an rtlgen weights image: magic is {head.hex() if head else 'nothing'}, expected "
                    f"{MAGIC.hex()} ({MAGIC.decode()})", where, file)
    if n < HEADER_SIZE:
        raise _fail(f"truncated: the image ends inside the {HEADER_SIZE}-byte header ({n} bytes)", n, file)
    version, flags, total, lanes, n_layers = struct.unpack_from("<HHIHH", data, 4)
    if version != VERSION:
        raise _fail(f"unsupported weights image format version {version}; this rtlgen reads version {VERSION}",
                    4, file)
    if flags != 0:
        raise _fail(f"header flags must be 0 in format version {VERSION}, not {flags:#06x}", 6, file)
    if total < HEADER_SIZE + 4:
        raise _fail(f"declared length {total} is shorter than the header and CRC ({HEADER_SIZE + 4} bytes)", 8, file)
    if n < total:
        raise _fail(f"truncated: header declares {total} bytes, the image ends after {n}", n, file)
    if n > total:
        raise _fail(f"{n - total} unexpected bytes after the declared end of {total} bytes", total, file)
    (stored_crc,) = struct.unpack_from("<I", data, total - 4)
    crc = zlib.crc32(data[:total - 4])
    if crc != stored_crc:
        raise _fail(f"CRC mismatch: stored {stored_crc:#010x}, computed {crc:#010x} over bytes 0..{total - 5}; "
                    "the weights image is corrupt", total - 4, file)
    end = total - 4
    if lanes == 0:
        raise _fail("lane count L is 0; expected at least 1", 12, file)
    stored_hash = data[HASH_OFFSET:HASH_OFFSET + HASH_CHARS]
    if not _HASH_RE.fullmatch(stored_hash):
        raise _fail(f"model hash {stored_hash!r} is not {HASH_CHARS} lowercase hex digits", HASH_OFFSET, file)
    dir_end = HEADER_SIZE + RECORD_SIZE * n_layers
    if dir_end > end:
        raise _fail(f"truncated: {n_layers} layer records need bytes {HEADER_SIZE}..{dir_end - 1}, the payload "
                    f"ends at {end - 1}", HEADER_SIZE, file)
    pos = _align4(dir_end)
    layers: list[LayerWeights] = []
    last = {False: (-1, 0), True: (-1, 0)}
    pad_from = dir_end

    def zeros(lo: int, hi: int, what: str) -> None:
        bad = next((i for i in range(lo, min(hi, end)) if data[i]), None)
        if bad is not None:
            raise _fail(f"{what} must be 0, not {data[bad]:#04x}", bad, file)

    for r in range(n_layers):
        at = HEADER_SIZE + RECORD_SIZE * r
        index, kind_code, reserved, o, kh, kw, g, w_off, nw, b_off = struct.unpack_from("<HBB4HIII", data, at)
        if kind_code not in _KIND_OF_CODE:
            valid = ", ".join(f"{c} {k}" for c, k in _KIND_OF_CODE.items())
            raise _fail(f"record {r}: layer kind code {kind_code} is unknown; valid: {valid}", at + 2, file)
        kind = _KIND_OF_CODE[kind_code]
        key = f"fc:{index}" if kind == "fully_connected" else str(index)
        if reserved:
            raise _fail(f"record {r} (layer {key}): reserved byte must be 0, not {reserved:#04x}", at + 3, file)
        for j, (name, v) in enumerate((("O", o), ("KH", kh), ("KW", kw), ("G", g))):
            if v == 0:
                raise _fail(f"record {r} (layer {key}): {name} is 0; expected at least 1", at + 4 + 2 * j, file)
        if kind == "depthwise_conv2d" and g != 1:
            raise _fail(f"record {r} (layer {key}): a depthwise layer has G = 1, not {g}", at + 10, file)
        if kind == "fully_connected" and (kh, kw) != (1, 1):
            raise _fail(f"record {r} (layer {key}): a fully connected layer has a 1x1 kernel, not {kh}x{kw}",
                        at + 6, file)
        fc = kind == "fully_connected"
        if index <= last[fc][0]:
            raise _fail(f"record {r}: layer {key} follows layer {'fc:' if fc else ''}{last[fc][0]} (record at byte "
                        f"offset {last[fc][1]}); records must be in graph order, each layer once", at, file)
        last[fc] = (index, at)
        groups = -(-o // lanes)
        k = kh * kw * g
        want_nw = groups * k * lanes
        if w_off != pos:
            raise _fail(f"record {r} (layer {key}): weight offset is {w_off}, expected {pos} (sections are "
                        "contiguous, in record order, 4-byte aligned)", at + 12, file)
        if nw != want_nw:
            raise _fail(f"record {r} (layer {key}): weight bytes is {nw}, expected {want_nw} = {groups} groups x "
                        f"{k} words x {lanes} lanes", at + 16, file)
        want_b = _align4(w_off + nw)
        if b_off != want_b:
            raise _fail(f"record {r} (layer {key}): bias offset is {b_off}, expected {want_b}", at + 20, file)
        if b_off + 4 * o > end:
            raise _fail(f"truncated: layer {key}'s sections need bytes {w_off}..{b_off + 4 * o - 1}, the payload "
                        f"ends at {end - 1}", at + 12, file)
        zeros(pad_from, w_off, "padding before a section")
        section = np.frombuffer(data, dtype=np.int8, count=nw, offset=w_off).reshape(groups, k, lanes)
        if groups * lanes > o:
            empty = section[-1, :, o - (groups - 1) * lanes:]
            if empty.any():
                kk, ll = map(int, np.argwhere(empty)[0])
                lane = o - (groups - 1) * lanes + ll
                raise _fail(f"layer {key}: lane {lane} of the last group is beyond its {o} output channels and "
                            "must hold 0", w_off + ((groups - 1) * k + kk) * lanes + lane, file)
        w = section.transpose(0, 2, 1).reshape(groups * lanes, k)[:o].reshape(o, kh, kw, g)
        zeros(w_off + nw, b_off, "padding after a weight section")
        bias = np.frombuffer(data, dtype="<i4", count=o, offset=b_off).astype(np.int32)
        layers.append(LayerWeights(index, kind, w, bias))  # type: ignore[arg-type]
        pos = pad_from = b_off + 4 * o
    if pos != end:      # sections end 4-aligned (biases are 4-byte words)
        raise _fail(f"{end - pos} bytes after the last section, before the CRC", pos, file)
    img = WeightsImage(lanes, tuple(layers))
    got = img.model_hash
    if stored_hash.decode() != got:
        raise _fail(f"model hash {stored_hash.decode()} does not describe the weights the image carries (they hash "
                    f"to {got}); the image was written wrongly", HASH_OFFSET, file)
    if expect_model is not None and got != expect_model:
        raise _fail(f"weights image is for the model with weights hash {got}, not this one ({expect_model})",
                    HASH_OFFSET, file)
    return img


def read_weights(path: str | os.PathLike, *, expect_model: str | None = None) -> WeightsImage:
    path = Path(path)
    return decode(path.read_bytes(), expect_model=expect_model, file=str(path))


def describe(data: bytes, *, file: str | None = None) -> str:
    """A human-readable listing of a (valid) weights image with the byte offset of each part."""
    img = decode(data, file=file)
    lines = [f"rtlgen weights image, format version {VERSION}, {len(data)} bytes, "
             f"CRC {struct.unpack_from('<I', data, len(data) - 4)[0]:#010x}",
             f"  @12 {img.lanes} lanes, {len(img.layers)} layers",
             f"  @{HASH_OFFSET} model hash {img.model_hash}"]
    for r, (layer, (w_off, nw, b_off)) in enumerate(zip(img.layers, _layout(img))):
        o, kh, kw, g = layer.shape
        lines.append(f"  @{HEADER_SIZE + RECORD_SIZE * r} layer {layer.key} {layer.kind} [{o}, {kh}, {kw}, {g}]: "
                     f"weights @{w_off} ({nw} bytes), biases @{b_off} ({4 * o} bytes)")
    lines.append(f"  @{len(data) - 4} CRC-32")
    return "\n".join(lines)
