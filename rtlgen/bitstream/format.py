"""The configuration bitstream: the one artifact that both the emulator and the accelerator read.

A bitstream says which multipliers each compute unit carries and, for every layer the accelerator
runs, which unit runs it, the operand encoding, which of the unit's multipliers each filter or
kernel uses, the requantization parameters and, optionally, a weight-code remap per multiplier.
Weights and biases are not in it: they go to the weight memories separately.

Byte layout, format version 5 (all integers little-endian; ``uN``/``iN`` = unsigned/signed N-bit;
``str8`` = ``u8`` byte count followed by that many bytes of ASCII/UTF-8)::

    offset  size  field
    ------  ----  -----------------------------------------------------------------------------
    0       4     magic b"RTLB"
    4       2     u16 format version (4; versions 1 to 3 are still read, see below)
    6       2     u16 flags, reserved, must be 0
    8       4     u32 N: total length of the bitstream in bytes, this header and the CRC included
    12      ...   str8 accelerator-config hash: ``AccelConfig.config_hash()``
                  (:mod:`rtlgen.accel.config`) of the *resolved* configuration the bitstream was
                  made for (its banks = these units' table hashes), hex
            ...   str8 model hash (versions 2 and 3): the model hash of the ``weights.bin`` this
                  configuration goes with (:func:`rtlgen.bitstream.weights.weights_hash`, 16
                  hex digits), or empty (0 bytes) when it is not tied to one (the
                  accelerator's front end then takes no weights.bin with it)
            16    activation-memory plan of the network's ends (versions 3 and 4; byte
                  addresses in the accelerator's activation memory, made by
                  :mod:`rtlgen.bitstream.memplan`): u32 input base, u32 input bytes,
                  u32 output base, u32 output bytes (all 0: no plan); the output is
                  the last operator's the device runs: a trailing SOFTMAX stays on the
                  host, so the output is its input (the int8 logits)
            1     u8 U: number of compute units
                  per unit u:
            1       u8 M_u: number of multipliers in the unit's bank (slots 0..M_u-1)
                    per slot:
            1         u8 flags: bit 0 = signed multiplier, bits 1..7 reserved (0)
            ...       str8 table hash (``rtlgen.netlist.table.table_hash``: the multiplier's identity)
            ...       str8 name (informative only; identity is the hash)
            2     u16 L: number of descriptors (version 4: layer and op descriptors, in
                  graph order, the order the sequencer runs them; each starts with u16
                  index and u8 kind, the kind code says which of the two layouts follows)
                  per layer descriptor (kind 0..2):
            2       u16 layer index, 0-based in graph order, numbered per kind as the emulator's
                    assignments are: conv2d and depthwise_conv2d among the model's conv
                    layers (assignment key "N"), fully_connected among its FULLY_CONNECTED
                    layers (assignment key "fc:N"); a (kind, index) pair is described once
            1       u8 kind: 0 conv2d, 1 depthwise_conv2d, 2 fully_connected
            1       u8 unit that runs the layer (< U)
            1       u8 encoding: 0 signmag, 1 raw, 2 offset (see rtlgen's emulation docs)
            1       u8 select granularity: 0 layer, 1 filter, 2 kernel; bit 7 (version 5):
                    the *share flag*, see "Shares" below
            4       (only with the share flag) u16 co_first, u16 co_end: the output channels
                    [co_first, co_end) this descriptor runs
            24      12 x u16 geometry (:class:`rtlgen.nn.geometry.Geometry`, in its field
                    order): in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w,
                    stride_h, stride_w, pad_top, pad_left
            8       (versions 3 and 4) u32 in_base, u32 out_base: activation-memory byte
                    addresses of the layer's input and output (NHWC), from the plan (0, 0:
                    no plan)
            4       i32 input zero point
            4       i32 output zero point
            1       i8 activation clamp minimum
            1       i8 activation clamp maximum
            5*C     per output channel c (C = out_c): i32 fixed-point multiplier, i8 shift
                    (TFLite convention: positive shift = left shift)
            S       u8 multiplier selects, slots of the unit's bank: S = 1 (layer),
                    C (filter, per output channel) or C*K (kernel, [out_channel][in_channel]
                    row-major; K = in_c, or 1 for a depthwise layer)
            1       u8 R: number of weight remaps
                    per remap:
            1         u8 slot (< M_unit, each slot at most once, ascending)
            256       u8 codes: every int8 weight code w of a kernel that this slot multiplies
                      is replaced by the int8 code whose bit pattern is codes[w & 0xFF] (weight
                      tuning, ALWANN); it happens before the operand encoding, so the encoding's
                      correction terms use the replaced weights too
                  per op descriptor (version 4; an operator without multipliers, run by the
                  sequencer on the activation memory, bit-exact with
                  :mod:`rtlgen.emulate.ops`; RESHAPE has none: the plan gives its output its
                  input's bytes):
            2       u16 op index, 0-based in graph order among the model's operators of
                    the same TFLite kind; a (kind, index) pair is described once
            1       u8 kind: 3 add, 4 average_pool_2d, 5 max_pool_2d, 6 pad
                    kind 3, ADD (TFLite int8, same shapes, no broadcast; 46 more bytes):
            16        u32 in_base (first input), u32 in2_base (second input), u32 out_base,
                      u32 count (elements of each)
            18        per input (first, second): i32 zero point (-128..127), i32 multiplier
                      (>= 0), i8 shift (-31..0)
            1         u8 left shift (0..22; TFLite: 20)
            9         i32 output zero point (-128..127), i32 multiplier (>= 0), i8 shift
                      (-31..0)
            2         i8 activation clamp minimum, maximum
                    kinds 4 and 5, AVERAGE_POOL_2D and MAX_POOL_2D (34 more bytes):
            8         u32 in_base, u32 out_base
            24        12 x u16 geometry as a layer's (out_c = in_c; k_h, k_w: the filter;
                      pad_top, pad_left: TFLite's padding before; taps outside the input
                      are left out of the sum, the count and the maximum)
            2         i8 activation clamp minimum, maximum (the output's zero point and
                      scale are the input's, as TFLite requires)
                    kind 6, PAD (height and width only; 33 more bytes):
            8         u32 in_base, u32 out_base
            24        12 x u16 geometry: in and out h, w, c (out_c = in_c; out_h = in_h + the
                      padding before and after), k_h = k_w = 1, strides 1, pad_top and
                      pad_left the rows and columns before
            1         i8 the value of the added bytes (TFLite: the zero point)
    N-4     4     u32 CRC-32 (zlib.crc32) of bytes 0..N-5

Shares (version 5). A layer may be split by output channels across units: it is then described
by several consecutive layer descriptors of the same (kind, index), its *shares*, each with the
share flag and its channel range [co_first, co_end); the ranges tile [0, out_c) in ascending
order (the first starts at 0, each next one where the previous ends, the last ends at out_c), and
no op descriptor sits between them. Every share is a whole descriptor as above: its own unit (so
its own multiplier bank), granularity, selects and weight remaps; the kind, geometry, activation
bases, zero points, clamp, per-channel requantization and encoding are the layer's, equal in every
share. Its selects still cover the whole layer (S counts all out_c channels) and are read by
absolute output channel; those outside the share's range name a slot of its bank and go unused
(the encoder writes 0). A multiplier remapped in two shares (same table hash) is remapped alike,
since the emulator's assignment has one remap per multiplier and layer. The device runs the shares
on their units at the same time (:mod:`rtlgen.accel.sequencer`); a descriptor without the flag
covers the whole layer, as in version 4. Everything else in version 5 is version 4: a network
without shares has version 4's bytes with 5 in the header.

Version 1 is version 2 without the model-hash field, version 2 is version 3 without the
activation-memory plan (the 16 header bytes and each descriptor's 8), version 3 is version 4
without op descriptors, version 4 is version 5 without shares; :func:`decode` reads all five (an older bitstream decodes with its
``version``, an empty ``model_hash`` for version 1 and zero plan fields, and :func:`encode`
writes it back byte for byte). In Python the two descriptor lists are kept apart:
:attr:`Bitstream.layers` (the layer descriptors, what the emulator and the mapper use) and
:attr:`Bitstream.ops` (the op descriptors, each with ``after_layers``: how many layer
descriptors precede it in the byte order). The accelerator's loader (:mod:`rtlgen.accel.loader`) accepts only
:data:`VERSION`.

:func:`decode` checks, in this order: magic, version, flags, declared length against the actual
length (so a truncated bitstream is caught at any offset), CRC (so any flipped bit is caught),
then every field while parsing (values out of range, selects beyond the unit's bank) and finally
the accelerator hash when the caller names the accelerator. Every failure is a
:class:`~rtlgen.errors.BitstreamError` naming the byte offset (also in its ``offset`` attribute).

The codes of kind, encoding and granularity are :mod:`rtlgen.conventions`'s tables
(``LAYER_KIND_CODES`` and ``OP_KIND_CODES``, ``ENCODING_CODES``, ``GRANULARITY_CODES``), which the accelerator's
descriptor registers share for encoding and granularity.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import asdict, dataclass, field, fields as _fields, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rtlgen.conventions import (DEFAULT_ENCODING, ENCODING_CODES, ENCODINGS, GRANULARITIES, GRANULARITY_CODES, LAYER_KIND_CODES,
                                LAYER_KINDS, OP_KIND_CODES, Encoding, Granularity, LayerKind, OpKind, check_name)
from rtlgen.errors import BitstreamError
from rtlgen.nn.geometry import Geometry
from rtlgen.paths import atomic_write_bytes

__all__ = [
    "MAGIC",
    "VERSION",
    "READ_VERSIONS",
    "ENCODINGS",
    "GRANULARITIES",
    "LAYER_KINDS",
    "MultiplierRef",
    "Geometry",
    "Requant",
    "WeightRemap",
    "LayerDescriptor",
    "AddDescriptor",
    "PoolDescriptor",
    "PadDescriptor",
    "OpDescriptor",
    "Bitstream",
    "encode",
    "decode",
    "read_bitstream",
    "write_bitstream",
    "to_dict",
    "from_dict",
    "to_assignment",
    "describe",
    "dumps_json",
    "normalize_accel_hash",
    "model_hash_offset",
]

MAGIC = b"RTLB"
VERSION = 5
#: The format versions :func:`decode` reads (and :func:`encode` writes, by ``Bitstream.version``).
READ_VERSIONS = (1, 2, 3, 4, 5)
#: Bit 7 of a layer descriptor's granularity byte: a share of a split layer (version 5).
SHARE_FLAG = 0x80
#: Bytes of the version-3 plan fields: in the header (after the model hash) and per descriptor.
PLAN_HEADER_SIZE = 16
PLAN_LAYER_SIZE = 8
HEADER_SIZE = 12
#: Bytes of an op descriptor (version 4), its index and kind included, by op kind.
OP_DESCRIPTOR_SIZE = {"add": 49, "average_pool_2d": 37, "max_pool_2d": 37, "pad": 36}

#: The twelve u16 of a descriptor's geometry, in byte order (= Geometry's field order).
GEOMETRY_FIELDS: tuple[str, ...] = tuple(f.name for f in _fields(Geometry))


def model_hash_offset(bs: Bitstream) -> int:
    """Byte offset of the model-hash ``str8`` in ``encode(bs)`` (format version 2)."""
    return HEADER_SIZE + 1 + len(bs.accel_hash.encode("utf-8"))


def normalize_accel_hash(value: str | bytes) -> str:
    """The accelerator-config hash as stored: a str (bytes are written as lowercase hex)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, str):
        return value
    raise TypeError(f"accelerator hash must be str or bytes, not {type(value).__name__}")


def _check_str8(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    raw = value.encode("utf-8")
    if len(raw) > 255:
        raise ValueError(f"{what} must encode to at most 255 bytes, not {len(raw)}")
    return raw


def _check_int(value: Any, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{what} must lie in {lo}..{hi}, not {int(value)}")
    return int(value)


@dataclass(frozen=True)
class MultiplierRef:
    """One multiplier of a unit's bank, identified by its table hash."""

    hash: str
    signed: bool
    name: str = ""

    def __post_init__(self) -> None:
        _check_str8(self.hash, "multiplier table hash")
        if not self.hash:
            raise ValueError("multiplier table hash must not be empty")
        _check_str8(self.name, "multiplier name")
        if not isinstance(self.signed, bool):
            raise TypeError(f"signed must be a bool, not {type(self.signed).__name__}")


@dataclass(frozen=True)
class Requant:
    """TFLite requantization of one layer: per output channel ``(multiplier, shift)``.

    ``out = clamp(zp_out + rounding_mul(acc, multiplier, shift), act_min, act_max)``; the input
    zero point is the one the encodings correct for.
    """

    input_zero_point: int
    output_zero_point: int
    act_min: int
    act_max: int
    multipliers: tuple[int, ...]
    shifts: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_int(self.input_zero_point, -(1 << 31), (1 << 31) - 1, "requant.input_zero_point")
        _check_int(self.output_zero_point, -(1 << 31), (1 << 31) - 1, "requant.output_zero_point")
        _check_int(self.act_min, -128, 127, "requant.act_min")
        _check_int(self.act_max, -128, 127, "requant.act_max")
        if self.act_min > self.act_max:
            raise ValueError(f"requant.act_min {self.act_min} exceeds act_max {self.act_max}")
        object.__setattr__(self, "multipliers", tuple(int(m) for m in self.multipliers))
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts))
        if len(self.multipliers) != len(self.shifts):
            raise ValueError(f"requant has {len(self.multipliers)} multipliers but {len(self.shifts)} shifts")
        for i, (m, s) in enumerate(zip(self.multipliers, self.shifts)):
            _check_int(m, -(1 << 31), (1 << 31) - 1, f"requant.multipliers[{i}]")
            _check_int(s, -128, 127, f"requant.shifts[{i}]")

    @classmethod
    def from_mac_layer(cls, layer: Any) -> Requant:
        """The requantization of a :class:`rtlgen.emulate.layers.MacLayer` (or anything with its
        ``z_in``, ``z_out``, ``act``, ``multiplier`` and ``shift``)."""
        return cls(int(layer.z_in), int(layer.z_out), int(layer.act[0]), int(layer.act[1]),
                   tuple(int(v) for v in layer.multiplier), tuple(int(v) for v in layer.shift))


@dataclass(frozen=True)
class WeightRemap:
    """For kernels multiplied by ``slot``: weight code ``w`` becomes ``int8(codes[w & 0xFF])``."""

    slot: int
    codes: bytes

    def __post_init__(self) -> None:
        _check_int(self.slot, 0, 255, "weight remap slot")
        codes = bytes(bytearray(self.codes)) if not isinstance(self.codes, bytes) else self.codes
        if len(codes) != 256:
            raise ValueError(f"weight remap of slot {self.slot} must have 256 codes, not {len(codes)}")
        object.__setattr__(self, "codes", codes)


def _kernel_shape(kind: str, geometry: Geometry) -> tuple[int, int]:
    return (geometry.out_c, 1 if kind == "depthwise_conv2d" else geometry.in_c)


def _n_selects(kind: str, granularity: str, geometry: Geometry) -> int:
    """S of the byte layout: 1 (layer), C (filter) or C*K (kernel)."""
    if granularity == "layer":
        return 1
    if granularity == "filter":
        return geometry.out_c
    c, k = _kernel_shape(kind, geometry)
    return c * k


@dataclass(frozen=True)
class LayerDescriptor:
    """How the accelerator runs one layer."""

    index: int
    kind: LayerKind
    unit: int
    encoding: Encoding
    granularity: Granularity
    geometry: Geometry
    requant: Requant
    selects: tuple[int, ...]
    weight_remap: tuple[WeightRemap, ...] = ()
    #: activation-memory byte addresses of the layer's input and output (format version 3)
    in_base: int = 0
    out_base: int = 0
    #: the output channels [co_first, co_end) this descriptor runs (format version 5: a share of a
    #: split layer, module docstring); co_end 0 stands for out_c: the default is the whole layer
    co_first: int = 0
    co_end: int = 0

    def __post_init__(self) -> None:
        _check_int(self.index, 0, 0xFFFF, "layer index")
        _check_int(self.in_base, 0, 0xFFFFFFFF, f"layer {self.index} in_base")
        _check_int(self.out_base, 0, 0xFFFFFFFF, f"layer {self.index} out_base")
        _check_int(self.unit, 0, 255, f"layer {self.index} unit")
        for vocabulary, value in (("layer kind", self.kind), ("encoding", self.encoding),
                                  ("granularity", self.granularity)):
            check_name(vocabulary, value, f"layer {self.index}")
        if not isinstance(self.geometry, Geometry):
            raise TypeError(f"layer {self.index} geometry must be a Geometry, not {type(self.geometry).__name__}")
        for name in GEOMETRY_FIELDS:  # each is a u16 in the byte layout
            _check_int(getattr(self.geometry, name), 0, 0xFFFF, f"layer {self.index} geometry.{name}")
        object.__setattr__(self, "selects", tuple(int(s) for s in np.asarray(self.selects).ravel()))
        object.__setattr__(self, "weight_remap", tuple(self.weight_remap))
        if len(self.requant.multipliers) != self.geometry.out_c:
            raise ValueError(f"layer {self.index} has {self.geometry.out_c} output channels but "
                             f"{len(self.requant.multipliers)} requantization multipliers")
        if len(self.selects) != self.n_selects:
            raise ValueError(f"layer {self.index} with {self.granularity} granularity needs "
                             f"{self.n_selects} selects, not {len(self.selects)}")
        for s in self.selects:
            _check_int(s, 0, 255, f"layer {self.index} select")
        slots = [r.slot for r in self.weight_remap]
        if slots != sorted(set(slots)):
            raise ValueError(f"layer {self.index} weight remaps must name each slot once, ascending, not {slots}")
        if self.co_end == 0:
            object.__setattr__(self, "co_end", self.geometry.out_c)
        _check_int(self.co_first, 0, 0xFFFF, f"layer {self.index} co_first")
        _check_int(self.co_end, 0, 0xFFFF, f"layer {self.index} co_end")
        if not 0 <= self.co_first < self.co_end <= self.geometry.out_c:
            raise ValueError(f"layer {self.index} channel range [{self.co_first}, {self.co_end}) is not a "
                             f"nonempty part of its {self.geometry.out_c} output channels")

    @property
    def is_share(self) -> bool:
        """Whether this descriptor runs part of its layer's output channels (a share, version 5)."""
        return (self.co_first, self.co_end) != (0, self.geometry.out_c)

    @property
    def key(self) -> str:
        """The layer's key in an emulator assignment: ``"N"`` (conv layer N) or ``"fc:N"``."""
        return f"fc:{self.index}" if self.kind == "fully_connected" else str(self.index)

    @property
    def kernel_shape(self) -> tuple[int, int]:
        """``(out_channels, in_channels per kernel)``: the shape of kernel-granularity selects."""
        return _kernel_shape(self.kind, self.geometry)

    @property
    def n_selects(self) -> int:
        return _n_selects(self.kind, self.granularity, self.geometry)

    def own_selects(self) -> np.ndarray:
        """The selects of this descriptor's own output channels, flat (a share's others go unused)."""
        sel = self.select_array()
        return sel.reshape(1) if self.granularity == "layer" else sel[self.co_first:self.co_end].ravel()

    def select_array(self) -> np.ndarray:
        """Selects as an array: shape ``()``, ``(out_c,)`` or ``(out_c, K)`` by granularity."""
        arr = np.asarray(self.selects, dtype=np.int64)
        if self.granularity == "layer":
            return arr.reshape(())
        if self.granularity == "filter":
            return arr
        return arr.reshape(self.kernel_shape)


def _check_op_common(d: Any, what: str) -> None:
    _check_int(d.index, 0, 0xFFFF, f"{what} index")
    for name in ("in_base", "out_base"):
        _check_int(getattr(d, name), 0, 0xFFFFFFFF, f"{what} {d.index} {name}")
    _check_int(d.after_layers, 0, 0xFFFF, f"{what} {d.index} after_layers")
    _check_int(d.act_min, -128, 127, f"{what} {d.index} act_min")
    _check_int(d.act_max, -128, 127, f"{what} {d.index} act_max")
    if d.act_min > d.act_max:
        raise ValueError(f"{what} {d.index} act_min {d.act_min} exceeds act_max {d.act_max}")


@dataclass(frozen=True)
class AddDescriptor:
    """An int8 ADD (format version 4): ``out = clamp(z_out + rescale_out(rescale_1(x1 - z_1) +
    rescale_2(x2 - z_2)), act_min, act_max)`` with TFLite's ``add.cc`` parameters
    (:func:`rtlgen.nn.quant.add_params`, :func:`rtlgen.nn.quant.add_quantized`); each
    ``(zero point, multiplier, shift)`` is per input, then the output's."""

    index: int
    in_base: int
    in2_base: int
    out_base: int
    count: int
    input_zero_points: tuple[int, int]
    input_multipliers: tuple[int, int]
    input_shifts: tuple[int, int]
    left_shift: int
    output_zero_point: int
    output_multiplier: int
    output_shift: int
    act_min: int = -128
    act_max: int = 127
    #: how many layer descriptors precede it in config.bin
    after_layers: int = 0

    @property
    def kind(self) -> OpKind:
        return "add"

    @property
    def key(self) -> str:
        return f"add:{self.index}"

    def __post_init__(self) -> None:
        _check_op_common(self, "add")
        _check_int(self.in2_base, 0, 0xFFFFFFFF, f"add {self.index} in2_base")
        _check_int(self.count, 1, 0xFFFFFFFF, f"add {self.index} count")
        for name in ("input_zero_points", "input_multipliers", "input_shifts"):
            v = tuple(int(x) for x in getattr(self, name))
            if len(v) != 2:
                raise ValueError(f"add {self.index} {name} must hold 2 values (one per input), not {len(v)}")
            object.__setattr__(self, name, v)
        for i in range(2):
            _check_int(self.input_zero_points[i], -128, 127, f"add {self.index} input_zero_points[{i}]")
            _check_int(self.input_multipliers[i], 0, (1 << 31) - 1, f"add {self.index} input_multipliers[{i}]")
            _check_int(self.input_shifts[i], -31, 0, f"add {self.index} input_shifts[{i}]")
        _check_int(self.left_shift, 0, 22, f"add {self.index} left_shift")
        _check_int(self.output_zero_point, -128, 127, f"add {self.index} output_zero_point")
        _check_int(self.output_multiplier, 0, (1 << 31) - 1, f"add {self.index} output_multiplier")
        _check_int(self.output_shift, -31, 0, f"add {self.index} output_shift")

    @property
    def params(self) -> tuple:
        """``(left_shift, (m1, e1), (m2, e2), (m_out, e_out))``, as :func:`rtlgen.nn.quant.add_params`."""
        return (self.left_shift, (self.input_multipliers[0], self.input_shifts[0]),
                (self.input_multipliers[1], self.input_shifts[1]), (self.output_multiplier, self.output_shift))


@dataclass(frozen=True)
class PoolDescriptor:
    """An int8 AVERAGE_POOL_2D or MAX_POOL_2D (format version 4), as
    :func:`rtlgen.emulate.ops.average_pool` / :func:`~rtlgen.emulate.ops.max_pool` compute it:
    ``geometry``'s k_h x k_w window, strides and padding before (``pad_top``, ``pad_left``)."""

    index: int
    kind: OpKind
    geometry: Geometry
    in_base: int
    out_base: int
    act_min: int = -128
    act_max: int = 127
    after_layers: int = 0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.index}"

    def __post_init__(self) -> None:
        if self.kind not in ("average_pool_2d", "max_pool_2d"):
            raise ValueError(f"pool {self.index}: kind must be average_pool_2d or max_pool_2d, not {self.kind!r}")
        _check_op_common(self, self.kind)
        if not isinstance(self.geometry, Geometry):
            raise TypeError(f"{self.key} geometry must be a Geometry, not {type(self.geometry).__name__}")
        for name in GEOMETRY_FIELDS:
            _check_int(getattr(self.geometry, name), 0, 0xFFFF, f"{self.key} geometry.{name}")
        g = self.geometry
        if g.in_c != g.out_c:
            raise ValueError(f"{self.key} has {g.in_c} input channels but {g.out_c} output channels; a pool keeps them")
        if min(g.in_h, g.in_w, g.out_h, g.out_w, g.k_h, g.k_w, g.stride_h, g.stride_w) < 1:
            raise ValueError(f"{self.key} geometry needs sizes, filter and strides of at least 1: {g}")


@dataclass(frozen=True)
class PadDescriptor:
    """An int8 PAD of height and width (format version 4), as the emulator's
    :func:`rtlgen.emulate.ops.pad_spatial`: ``geometry`` as the layout says, ``value`` in the
    added bytes."""

    index: int
    geometry: Geometry
    in_base: int
    out_base: int
    value: int
    after_layers: int = 0

    @property
    def kind(self) -> OpKind:
        return "pad"

    @property
    def key(self) -> str:
        return f"pad:{self.index}"

    # a PAD has no clamp: the common checks see the full range
    act_min = -128
    act_max = 127

    def __post_init__(self) -> None:
        _check_op_common(self, "pad")
        _check_int(self.value, -128, 127, f"pad {self.index} value")
        if not isinstance(self.geometry, Geometry):
            raise TypeError(f"{self.key} geometry must be a Geometry, not {type(self.geometry).__name__}")
        g = self.geometry
        for name in GEOMETRY_FIELDS:
            _check_int(getattr(g, name), 0, 0xFFFF, f"{self.key} geometry.{name}")
        if (g.k_h, g.k_w, g.stride_h, g.stride_w) != (1, 1, 1, 1) or g.in_c != g.out_c:
            raise ValueError(f"{self.key} geometry must have a 1x1 filter, strides 1 and out_c = in_c: {g}")
        if g.out_h < g.in_h + g.pad_top or g.out_w < g.in_w + g.pad_left or min(g.in_h, g.in_w) < 1:
            raise ValueError(f"{self.key} output {g.out_h}x{g.out_w} cannot hold the {g.in_h}x{g.in_w} input after "
                             f"padding {g.pad_top},{g.pad_left}")


OpDescriptor = AddDescriptor | PoolDescriptor | PadDescriptor


def _share_remaps(d: LayerDescriptor, units: tuple[tuple[MultiplierRef, ...], ...]) -> dict[str, bytes | None]:
    """Table hash -> remap codes (None: not remapped) of every multiplier descriptor ``d``'s own
    output channels use (a share's selects outside its range are ignored)."""
    codes = {r.slot: r.codes for r in d.weight_remap}
    return {units[d.unit][int(s)].hash: codes.get(int(s)) for s in np.unique(d.own_selects())}


def _check_shares(layers: tuple[LayerDescriptor, ...], ops: tuple[OpDescriptor, ...],
                  units: tuple[tuple[MultiplierRef, ...], ...], version: int) -> tuple[str, int] | None:
    """The first breach of the share rules (module docstring, "Shares") as (message, position of
    the layer descriptor in ``layers``), or None. A layer described twice is one."""
    between = {op.after_layers for op in ops}     # an op here sits before layer descriptor i
    seen: set[str] = set()
    run: list[LayerDescriptor] = []               # the shares of the layer being read

    def close(at: int) -> tuple[str, int] | None:
        if run and run[-1].co_end != run[0].geometry.out_c:
            got = ", ".join(f"[{d.co_first}, {d.co_end})" for d in run)
            return (f"layer {run[0].key}: its shares {got} do not cover its {run[0].geometry.out_c} output "
                    "channels", at)
        return None

    for i, d in enumerate(layers):
        if d.is_share and version < 5:
            return f"layer {d.key} has a channel range, which a version-{version} bitstream cannot hold; write version 5", i
        cont = bool(run) and run[0].key == d.key and d.is_share and run[0].is_share and i not in between
        if not cont:
            bad = close(i - 1)
            if bad:
                return bad
            if d.key in seen:
                return f"layer {d.key} is described twice (not as consecutive shares)", i
            seen.add(d.key)
            run = [d]
            if d.co_first != 0:
                return f"layer {d.key}: its first share starts at channel {d.co_first}, not 0", i
            continue
        first, prev = run[0], run[-1]
        if d.co_first != prev.co_end:
            return (f"layer {d.key}: share [{d.co_first}, {d.co_end}) does not start where the one before it "
                    f"ends ({prev.co_end}); shares tile the output channels in order"), i
        for name in ("kind", "geometry", "requant", "encoding", "in_base", "out_base"):
            if getattr(d, name) != getattr(first, name):
                return (f"layer {d.key}: share [{d.co_first}, {d.co_end}) has another {name} than the layer's "
                        f"first share; the shares of a layer share it"), i
        remapped = {h: codes for s in run for h, codes in _share_remaps(s, units).items()}
        for h, codes in _share_remaps(d, units).items():
            if remapped.get(h, codes) != codes:
                return (f"layer {d.key}: share [{d.co_first}, {d.co_end}) remaps multiplier {h} otherwise than "
                        "an earlier share; one layer remaps a multiplier one way"), i
        run.append(d)
    return close(len(layers) - 1)


@dataclass(frozen=True)
class Bitstream:
    """A whole configuration: the units' multiplier banks and the layer descriptors.

    ``model_hash``: the model hash of the ``weights.bin`` it goes with (format version 2), or
    ``""``. ``version``: the format version it is written in (a version-1 bitstream has no
    model hash)."""

    accel_hash: str
    units: tuple[tuple[MultiplierRef, ...], ...]
    layers: tuple[LayerDescriptor, ...]
    version: int = field(default=VERSION)
    model_hash: str = ""
    #: activation-memory plan of the network's input and output (format version 3): byte
    #: address and size of each
    input_base: int = 0
    input_bytes: int = 0
    output_base: int = 0
    output_bytes: int = 0
    #: the operators without multipliers the device runs (format version 4), each placed
    #: after ``after_layers`` layer descriptors; kept sorted by it (ties: in the given order)
    ops: tuple[OpDescriptor, ...] = ()

    def with_layer_ops(self, ops: Sequence[OpDescriptor]) -> "Bitstream":
        """This bitstream with op descriptors ``ops`` whose ``after_layers`` counts *layers* (as
        :func:`rtlgen.bitstream.opdesc.op_descriptors` gives them), re-counted in layer
        descriptors: after a split layer's last share (its shares are one descriptor each)."""
        ends: list[int] = []       # per layer in order: the layer descriptors up to its last share
        for i, d in enumerate(self.layers):
            if i and d.is_share and d.co_first > 0:
                ends[-1] = i + 1
            else:
                ends.append(i + 1)
        bad = [op for op in ops if op.after_layers > len(ends)]
        if bad:
            raise ValueError(f"{bad[0].key} comes after {bad[0].after_layers} layers; the bitstream has {len(ends)}")
        return replace(self, ops=tuple(replace(op, after_layers=([0] + ends)[op.after_layers]) for op in ops))

    def descriptors(self) -> list[LayerDescriptor | OpDescriptor]:
        """Layer and op descriptors in config.bin's byte order (the order the device runs them)."""
        out: list[LayerDescriptor | OpDescriptor] = []
        j = 0
        for i in range(len(self.layers) + 1):
            while j < len(self.ops) and self.ops[j].after_layers == i:
                out.append(self.ops[j])
                j += 1
            if i < len(self.layers):
                out.append(self.layers[i])
        return out

    @property
    def activation_span(self) -> int:
        """Bytes of activation memory the plan uses, from 0: the end of the furthest region a
        descriptor reads or writes (or the network's input or output). The device runs several
        inputs at once in slots this far apart (``BATCH_STRIDE``, :mod:`rtlgen.accel.regmap`)."""
        ends = [self.input_base + self.input_bytes, self.output_base + self.output_bytes]
        for d in self.descriptors():
            if isinstance(d, AddDescriptor):
                ends += [d.in_base + d.count, d.in2_base + d.count, d.out_base + d.count]
            else:
                g = d.geometry
                ends += [d.in_base + g.in_h * g.in_w * g.in_c, d.out_base + g.out_h * g.out_w * g.out_c]
        return max(ends)

    @property
    def has_plan(self) -> bool:
        """Whether an activation-memory plan is recorded (some base or size is not 0)."""
        return any((self.input_base, self.input_bytes, self.output_base, self.output_bytes)) or any(
            layer.in_base or layer.out_base for layer in (*self.layers, *self.ops))

    def __post_init__(self) -> None:
        object.__setattr__(self, "accel_hash", normalize_accel_hash(self.accel_hash))
        _check_str8(self.accel_hash, "accelerator hash")
        _check_str8(self.model_hash, "model hash")
        object.__setattr__(self, "units", tuple(tuple(u) for u in self.units))
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.version not in READ_VERSIONS:
            raise ValueError(f"bitstream format version must be one of {', '.join(map(str, READ_VERSIONS))}, "
                             f"not {self.version}")
        if self.version < 2 and self.model_hash:
            raise ValueError("a version-1 bitstream has no model hash; write version 2 or later")
        for name in ("input_base", "input_bytes", "output_base", "output_bytes"):
            _check_int(getattr(self, name), 0, 0xFFFFFFFF, name)
        if self.version < 3 and self.has_plan:
            raise ValueError(f"a version-{self.version} bitstream has no activation-memory plan; write version 3")
        if not 1 <= len(self.units) <= 255:
            raise ValueError(f"a bitstream needs 1..255 units, not {len(self.units)}")
        for u, bank in enumerate(self.units):
            if not 1 <= len(bank) <= 255:
                raise ValueError(f"unit {u} needs 1..255 multipliers, not {len(bank)}")
            for m in bank:
                if not isinstance(m, MultiplierRef):
                    raise TypeError(f"unit {u} multipliers must be MultiplierRef, not {type(m).__name__}")
        # kept in byte order: by after_layers, ties in the given order
        object.__setattr__(self, "ops", tuple(sorted(self.ops, key=lambda op: op.after_layers)))
        if self.ops and self.version < 4:
            raise ValueError(f"a version-{self.version} bitstream has no op descriptors; write version 4")
        op_keys: set[str] = set()
        for op in self.ops:
            if not isinstance(op, (AddDescriptor, PoolDescriptor, PadDescriptor)):
                raise TypeError(f"ops must be AddDescriptor, PoolDescriptor or PadDescriptor, not {type(op).__name__}")
            if op.after_layers > len(self.layers):
                raise ValueError(f"{op.key} comes after {op.after_layers} layer descriptors, but there are "
                                 f"{len(self.layers)}")
            if op.key in op_keys:
                raise ValueError(f"{op.key} is described twice")
            op_keys.add(op.key)
        if len(self.layers) + len(self.ops) > 0xFFFF:
            raise ValueError(f"too many descriptors: {len(self.layers) + len(self.ops)}")
        for layer in self.layers:
            self._check_layer_against_units(layer)
        bad = _check_shares(self.layers, self.ops, self.units, self.version)
        if bad is not None:
            raise ValueError(bad[0])

    def _check_layer_against_units(self, layer: LayerDescriptor) -> None:
        if layer.unit >= len(self.units):
            raise ValueError(f"layer {layer.index} runs on unit {layer.unit}, but there are only "
                             f"{len(self.units)} units")
        bank = len(self.units[layer.unit])
        bad = [s for s in layer.selects if s >= bank]
        if bad:
            raise ValueError(f"layer {layer.index} selects slot {bad[0]}, but unit {layer.unit} has "
                             f"{bank} multipliers")
        for r in layer.weight_remap:
            if r.slot >= bank:
                raise ValueError(f"layer {layer.index} remaps slot {r.slot}, but unit {layer.unit} has "
                                 f"{bank} multipliers")

    def layer(self, key: int | str) -> LayerDescriptor:
        """The descriptor of conv layer ``key`` (an int or ``"N"``) or of ``"fc:N"``; a layer
        split in shares has several: :meth:`shares`."""
        found = self.shares(key)
        if len(found) > 1:
            raise ValueError(f"layer {key} is split in {len(found)} shares; use Bitstream.shares")
        return found[0]

    def shares(self, key: int | str) -> tuple[LayerDescriptor, ...]:
        """The descriptors of layer ``key`` in byte order: its shares, or its one descriptor."""
        found = tuple(layer for layer in self.layers if layer.key == str(key))
        if not found:
            raise KeyError(f"no descriptor for layer {key}; described: {sorted({l.key for l in self.layers})}")
        return found

    def multiplier_of(self, layer: LayerDescriptor) -> np.ndarray:
        """Table hashes per select of ``layer`` (object array shaped like its selects)."""
        bank = self.units[layer.unit]
        sel = layer.select_array()
        return np.vectorize(lambda s: bank[s].hash, otypes=[object])(sel)


# --------------------------------------------------------------------------------------------
# Encoding


def encode(bs: Bitstream) -> bytes:
    """The bytes of ``bs`` in the layout of the module docstring (CRC appended)."""
    if not isinstance(bs, Bitstream):
        raise TypeError(f"encode() needs a Bitstream, not {type(bs).__name__}")
    out = bytearray()

    def str8(s: str) -> None:
        raw = s.encode("utf-8")
        out.append(len(raw))
        out.extend(raw)

    out += MAGIC + struct.pack("<HHI", bs.version, 0, 0)  # length patched below
    str8(bs.accel_hash)
    if bs.version >= 2:
        str8(bs.model_hash)
    if bs.version >= 3:
        out += struct.pack("<4I", bs.input_base, bs.input_bytes, bs.output_base, bs.output_bytes)
    out.append(len(bs.units))
    for bank in bs.units:
        out.append(len(bank))
        for m in bank:
            out.append(1 if m.signed else 0)
            str8(m.hash)
            str8(m.name)
    out += struct.pack("<H", len(bs.layers) + len(bs.ops))
    for layer in bs.descriptors():
        if not isinstance(layer, LayerDescriptor):
            out += _encode_op(layer)
            continue
        out += struct.pack("<HBBBB", layer.index, LAYER_KIND_CODES[layer.kind], layer.unit,
                           ENCODING_CODES[layer.encoding],
                           GRANULARITY_CODES[layer.granularity] | (SHARE_FLAG if layer.is_share else 0))
        if layer.is_share:
            out += struct.pack("<HH", layer.co_first, layer.co_end)
        out += struct.pack("<12H", *(getattr(layer.geometry, f) for f in GEOMETRY_FIELDS))
        if bs.version >= 3:
            out += struct.pack("<II", layer.in_base, layer.out_base)
        rq = layer.requant
        out += struct.pack("<iibb", rq.input_zero_point, rq.output_zero_point, rq.act_min, rq.act_max)
        for m, s in zip(rq.multipliers, rq.shifts):
            out += struct.pack("<ib", m, s)
        out += bytes(layer.selects)
        out.append(len(layer.weight_remap))
        for r in layer.weight_remap:
            out.append(r.slot)
            out += r.codes
    total = len(out) + 4
    if total > 0xFFFFFFFF:
        raise ValueError(f"bitstream too large: {total} bytes")
    struct.pack_into("<I", out, 8, total)
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def _encode_op(op: OpDescriptor) -> bytes:
    """An op descriptor's bytes (module docstring)."""
    head = struct.pack("<HB", op.index, OP_KIND_CODES[op.kind])
    if isinstance(op, AddDescriptor):
        body = struct.pack("<4I", op.in_base, op.in2_base, op.out_base, op.count)
        for i in range(2):
            body += struct.pack("<iib", op.input_zero_points[i], op.input_multipliers[i], op.input_shifts[i])
        body += struct.pack("<Biibbb", op.left_shift, op.output_zero_point, op.output_multiplier, op.output_shift,
                            op.act_min, op.act_max)
    else:
        body = struct.pack("<II", op.in_base, op.out_base)
        body += struct.pack("<12H", *(getattr(op.geometry, f) for f in GEOMETRY_FIELDS))
        if isinstance(op, PadDescriptor):
            body += struct.pack("<b", op.value)
        else:
            body += struct.pack("<bb", op.act_min, op.act_max)
    assert len(head + body) == OP_DESCRIPTOR_SIZE[op.kind]
    return head + body


# --------------------------------------------------------------------------------------------
# Decoding


def _fail(message: str, offset: int, file: str | None) -> BitstreamError:
    err = BitstreamError(f"{message} (at byte offset {offset})", file=file)
    err.offset = offset  # type: ignore[attr-defined]
    return err


class _Reader:
    def __init__(self, data: bytes, end: int, file: str | None):
        self.data, self.pos, self.end, self.file = data, 0, end, file

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise _fail(f"truncated: {what} needs {n} bytes, only {self.end - self.pos} left before the CRC",
                        self.pos, self.file)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def str8(self, what: str) -> str:
        start = self.pos
        n = self.u8(f"length of {what}")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(f"{what} is not valid UTF-8", start + 1, self.file) from None

    def enum(self, codes: dict[str, int], what: str) -> str:
        """The name whose code (in ``codes``, a table of :mod:`rtlgen.conventions`) is the next byte."""
        start = self.pos
        return _named(codes, self.u8(what), what, start, self.file)


def _named(codes: dict[str, int], code: int, what: str, at: int, file: str | None) -> str:
    """The name of ``code`` in ``codes``; an unknown code fails at byte ``at``."""
    for name, c in codes.items():
        if c == code:
            return name
    raise _fail(f"{what} code {code} is unknown; valid: " + ", ".join(f"{c} {n}" for n, c in codes.items()), at, file)


def _decode_op(r: _Reader, index: int, kind: str, after: int, start: int) -> OpDescriptor:
    """The op descriptor whose index and kind were just read (``start``: its offset)."""
    try:
        if kind == "add":
            in_base, in2_base, out_base, count = r.unpack("<4I", f"bases and count of add {index}")
            z1, m1, e1 = r.unpack("<iib", f"first input's requantization of add {index}")
            z2, m2, e2 = r.unpack("<iib", f"second input's requantization of add {index}")
            ls, zo, mo, eo, amin, amax = r.unpack("<Biibbb", f"output requantization of add {index}")
            return AddDescriptor(index, in_base, in2_base, out_base, count, (z1, z2), (m1, m2), (e1, e2), ls,
                                 zo, mo, eo, amin, amax, after)
        in_base, out_base = r.unpack("<II", f"bases of {kind} {index}")
        geo = r.unpack("<12H", f"geometry of {kind} {index}")
        if kind == "pad":
            (value,) = r.unpack("<b", f"value of pad {index}")
            return PadDescriptor(index, Geometry(*geo), in_base, out_base, value, after)
        amin, amax = r.unpack("<bb", f"clamp of {kind} {index}")
        return PoolDescriptor(index, kind, Geometry(*geo), in_base, out_base, amin, amax, after)  # type: ignore[arg-type]
    except ValueError as exc:
        raise _fail(f"op descriptor: {exc}", start, r.file) from None


def decode(data: bytes, *, expect_accel: str | bytes | None = None, file: str | None = None) -> Bitstream:
    """Parse and check a bitstream; ``expect_accel`` (the accelerator's config hash) rejects a
    bitstream made for another accelerator. Raises :class:`BitstreamError` with the byte offset."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    n = len(data)
    head = data[:len(MAGIC)]
    if head != MAGIC[:len(head)] or n == 0:
        got = head.hex() if head else "nothing"
        where = next((i for i, (a, b) in enumerate(zip(head, MAGIC)) if a != b), len(head))
        raise _fail(f"not an rtlgen bitstream: magic is {got}, expected {MAGIC.hex()} ({MAGIC.decode()})",
                    where, file)
    if n < HEADER_SIZE:
        raise _fail(f"truncated: the stream ends inside the {HEADER_SIZE}-byte header ({n} bytes)", n, file)
    version, flags, total = struct.unpack_from("<HHI", data, 4)
    if version not in READ_VERSIONS:
        raise _fail(f"unsupported bitstream format version {version}; this rtlgen reads versions "
                    f"{' and '.join(map(str, READ_VERSIONS))}", 4, file)
    if flags != 0:
        raise _fail(f"header flags must be 0 in format version {version}, not {flags:#06x}", 6, file)
    if total < HEADER_SIZE + 4:
        raise _fail(f"declared length {total} is shorter than the header and CRC", 8, file)
    if n < total:
        raise _fail(f"truncated: header declares {total} bytes, the stream ends after {n}", n, file)
    if n > total:
        raise _fail(f"{n - total} unexpected bytes after the declared end of {total} bytes", total, file)
    (stored_crc,) = struct.unpack_from("<I", data, total - 4)
    crc = zlib.crc32(data[:total - 4])
    if crc != stored_crc:
        raise _fail(f"CRC mismatch: stored {stored_crc:#010x}, computed {crc:#010x} over bytes 0..{total - 5}; "
                    "the bitstream is corrupt", total - 4, file)

    r = _Reader(data, total - 4, file)
    r.pos = HEADER_SIZE
    accel_offset = r.pos
    accel_hash = r.str8("accelerator hash")
    model_hash = r.str8("model hash") if version >= 2 else ""
    plan = r.unpack("<4I", "activation-memory plan") if version >= 3 else (0, 0, 0, 0)
    n_units = r.u8("unit count")
    if n_units == 0:
        raise _fail("unit count is 0; a bitstream needs at least one unit", r.pos - 1, file)
    units = []
    for u in range(n_units):
        m_count = r.u8(f"multiplier count of unit {u}")
        if m_count == 0:
            raise _fail(f"unit {u} has no multipliers", r.pos - 1, file)
        bank = []
        for s in range(m_count):
            flags_at = r.pos
            mflags = r.u8(f"flags of unit {u} slot {s}")
            if mflags & ~1:
                raise _fail(f"unit {u} slot {s} flags {mflags:#04x} has reserved bits set", flags_at, file)
            at = r.pos
            h = r.str8(f"table hash of unit {u} slot {s}")
            if not h:
                raise _fail(f"unit {u} slot {s} has an empty table hash", at, file)
            name = r.str8(f"name of unit {u} slot {s}")
            bank.append(MultiplierRef(hash=h, signed=bool(mflags & 1), name=name))
        units.append(tuple(bank))
    (n_layers,) = r.unpack("<H", "layer count")
    layers = []
    starts: list[int] = []      # each layer descriptor's byte offset
    ops: list[OpDescriptor] = []
    seen_ops: dict[str, int] = {}
    kind_codes = {**LAYER_KIND_CODES, **OP_KIND_CODES} if version >= 4 else LAYER_KIND_CODES
    for i in range(n_layers):
        start = r.pos
        (index,) = r.unpack("<H", f"index of layer descriptor {i}")
        kind = r.enum(kind_codes, f"kind of layer {index}")
        if kind in OP_KIND_CODES:
            op = _decode_op(r, index, kind, len(layers), start)
            if op.key in seen_ops:
                raise _fail(f"{op.key} is described twice (first at byte offset {seen_ops[op.key]})", start, file)
            seen_ops[op.key] = start
            ops.append(op)
            continue
        unit_at = r.pos
        unit = r.u8(f"unit of layer {index}")
        if unit >= n_units:
            raise _fail(f"layer {index} runs on unit {unit}, but there are only {n_units} units", unit_at, file)
        encoding = r.enum(ENCODING_CODES, f"encoding of layer {index}")
        gran_at = r.pos
        gran_byte = r.u8(f"granularity of layer {index}")
        share = version >= 5 and bool(gran_byte & SHARE_FLAG)
        granularity = _named(GRANULARITY_CODES, gran_byte & ~SHARE_FLAG if version >= 5 else gran_byte,
                             f"granularity of layer {index}", gran_at, file)
        co_range = r.unpack("<HH", f"channel range of layer {index}") if share else (0, 0)
        geo_at = r.pos
        geo_values = r.unpack("<12H", f"geometry of layer {index}")
        try:
            geometry = Geometry(*geo_values)
        except ValueError as exc:
            raise _fail(f"layer {index}: {exc}", geo_at, file) from None
        bases = r.unpack("<II", f"in_base and out_base of layer {index}") if version >= 3 else (0, 0)
        rq_at = r.pos
        zp_in, zp_out, amin, amax = r.unpack("<iibb", f"requantization of layer {index}")
        raw = r.take(5 * geometry.out_c, f"{geometry.out_c} per-channel requantization pairs of layer {index}")
        pairs = [struct.unpack_from("<ib", raw, 5 * c) for c in range(geometry.out_c)]
        try:
            requant = Requant(zp_in, zp_out, amin, amax, tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))
        except ValueError as exc:
            raise _fail(f"layer {index}: {exc}", rq_at, file) from None
        n_sel = _n_selects(kind, granularity, geometry)
        sel_at = r.pos
        selects = r.take(n_sel, f"{n_sel} multiplier selects of layer {index}")
        bank = len(units[unit])
        for j, s in enumerate(selects):
            if s >= bank:
                raise _fail(f"layer {index} select #{j} is slot {s}, but unit {unit} has {bank} multipliers",
                            sel_at + j, file)
        n_remap = r.u8(f"weight remap count of layer {index}")
        remaps = []
        last = -1
        for _ in range(n_remap):
            slot_at = r.pos
            slot = r.u8(f"weight remap slot of layer {index}")
            if slot >= bank or slot <= last:
                raise _fail(f"layer {index} weight remap slot {slot} is beyond unit {unit}'s {bank} multipliers "
                            "or not ascending", slot_at, file)
            last = slot
            remaps.append(WeightRemap(slot, r.take(256, f"weight remap codes of layer {index} slot {slot}")))
        try:
            layers.append(LayerDescriptor(index=index, kind=kind, unit=unit, encoding=encoding,  # type: ignore[arg-type]
                                          granularity=granularity, geometry=geometry,  # type: ignore[arg-type]
                                          requant=requant, selects=tuple(selects), weight_remap=tuple(remaps),
                                          in_base=bases[0], out_base=bases[1], co_first=co_range[0],
                                          co_end=co_range[1] if share else 0))
        except ValueError as exc:
            raise _fail(f"layer descriptor: {exc}", start, file) from None
        if share and not layers[-1].is_share:
            raise _fail(f"layer {index} has the share flag but covers all its {geometry.out_c} output channels",
                        start, file)
        starts.append(start)
    if r.pos != total - 4:
        raise _fail(f"{total - 4 - r.pos} unparsed bytes before the CRC", r.pos, file)
    bad = _check_shares(tuple(layers), tuple(ops), tuple(units), version)
    if bad is not None:
        raise _fail(bad[0], starts[bad[1]], file)
    bs = Bitstream(accel_hash=accel_hash, units=tuple(units), layers=tuple(layers), version=version,
                   model_hash=model_hash, input_base=plan[0], input_bytes=plan[1], output_base=plan[2],
                   output_bytes=plan[3], ops=tuple(ops))
    if expect_accel is not None:
        want = normalize_accel_hash(expect_accel)
        if accel_hash != want:
            raise _fail(f"bitstream is for accelerator config {accel_hash!r}, not this one ({want!r})",
                        accel_offset, file)
    return bs


def write_bitstream(path: str | os.PathLike, bs: Bitstream) -> None:
    atomic_write_bytes(path, encode(bs))


def read_bitstream(path: str | os.PathLike, *, expect_accel: str | bytes | None = None) -> Bitstream:
    path = Path(path)
    return decode(path.read_bytes(), expect_accel=expect_accel, file=str(path))


# --------------------------------------------------------------------------------------------
# JSON form (for people and the CLI) and the emulator's assignment


def to_dict(bs: Bitstream) -> dict[str, Any]:
    """A JSON-ready dict; :func:`from_dict` inverts it. Remap codes are lists of 256 ints."""
    d = asdict(bs)
    d["format"] = "rtlgen-bitstream"
    for layer in d["layers"]:
        for r in layer["weight_remap"]:
            r["codes"] = list(r["codes"])
        layer["selects"] = list(layer["selects"])
        layer["requant"]["multipliers"] = list(layer["requant"]["multipliers"])
        layer["requant"]["shifts"] = list(layer["requant"]["shifts"])
    d["units"] = [list(bank) for bank in d["units"]]
    d["ops"] = [{"kind": op.kind, **asdict(op)} for op in bs.ops]
    for op in d["ops"]:
        for name, v in op.items():
            if isinstance(v, tuple):
                op[name] = list(v)
    return d


def from_dict(d: dict[str, Any], *, file: str | None = None) -> Bitstream:
    """Build a bitstream from :func:`to_dict`'s form; bad content raises ConfigError naming the
    field."""
    from rtlgen.errors import ConfigError

    where = "bitstream"
    try:
        if not isinstance(d, dict):
            raise TypeError(f"top level must be an object, not {type(d).__name__}")
        version = d.get("version", VERSION)
        units = []
        for u, bank in enumerate(d["units"]):
            where = f"units[{u}]"
            units.append(tuple(MultiplierRef(hash=m["hash"], signed=m["signed"], name=m.get("name", ""))
                               for m in bank))
        layers = []
        for i, ld in enumerate(d["layers"]):
            where = f"layers[{i}]"
            layers.append(LayerDescriptor(
                index=ld["index"], kind=ld["kind"], unit=ld["unit"], encoding=ld["encoding"],
                granularity=ld["granularity"], geometry=Geometry(**ld["geometry"]),
                requant=Requant(**ld["requant"]), selects=tuple(ld["selects"]),
                weight_remap=tuple(WeightRemap(r["slot"], bytes(r["codes"])) for r in ld.get("weight_remap", ())),
                in_base=ld.get("in_base", 0), out_base=ld.get("out_base", 0), co_first=ld.get("co_first", 0),
                co_end=ld.get("co_end", 0)))
        ops: list[OpDescriptor] = []
        for i, od in enumerate(d.get("ops", ())):
            where = f"ops[{i}]"
            od = dict(od)
            kind = od.pop("kind")
            if kind == "add":
                ops.append(AddDescriptor(**od))
            elif kind == "pad":
                ops.append(PadDescriptor(**{**od, "geometry": Geometry(**od["geometry"])}))
            else:
                ops.append(PoolDescriptor(kind=kind, **{**od, "geometry": Geometry(**od["geometry"])}))
        where = "bitstream"
        return Bitstream(accel_hash=d["accel_hash"], units=tuple(units), layers=tuple(layers), version=version,
                         model_hash=d.get("model_hash", ""), ops=tuple(ops),
                         **{k: d.get(k, 0) for k in ("input_base", "input_bytes", "output_base", "output_bytes")})
    except KeyError as exc:
        raise ConfigError(f"{where}: missing field {exc.args[0]!r}", file=file) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}", file=file) from None


def to_assignment(bs: Bitstream, *, default_encoding: str = DEFAULT_ENCODING) -> dict[str, Any]:
    """The emulator's assignment (see the emulation docs) that computes what ``bs`` configures.

    Every described layer is listed by index with its encoding and multiplier(s) by table hash
    (layer: ``multiplier``; filter: ``filters``; kernel: ``kernels`` [out][in]). A layer split in
    shares gets each output channel's multipliers from the share that runs it (per filter where
    every share's are, else per kernel; one ``multiplier`` where all are one). Weight remaps are
    given explicitly under ``weight_remap`` (slot's table hash -> 256 codes) per layer, and
    ``weight_tuning`` is ``"none"`` because the bitstream already carries the tuned codes.
    """
    layers: dict[str, Any] = {}
    for layer in bs.layers:
        if layer.key in layers:
            continue
        shares = bs.shares(layer.key)
        entry: dict[str, Any] = {"encoding": layer.encoding}
        if len(shares) == 1:
            hashes = bs.multiplier_of(layer)
            if layer.granularity == "layer":
                entry["multiplier"] = str(hashes[()])
            elif layer.granularity == "filter":
                entry["filters"] = [str(h) for h in hashes]
            else:
                entry["kernels"] = [[str(h) for h in row] for row in hashes]
        else:
            per_kernel = np.empty(layer.kernel_shape, dtype=object)    # [out][in] hashes, share by share
            for d in shares:
                h = np.broadcast_to(bs.multiplier_of(d).reshape((-1, 1) if d.granularity == "filter" else
                                                                 (1, 1) if d.granularity == "layer" else
                                                                 d.kernel_shape), layer.kernel_shape)
                per_kernel[d.co_first:d.co_end] = h[d.co_first:d.co_end]
            if (per_kernel == per_kernel.flat[0]).all():
                entry["multiplier"] = str(per_kernel.flat[0])
            elif (per_kernel == per_kernel[:, :1]).all():
                entry["filters"] = [str(h) for h in per_kernel[:, 0]]
            else:
                entry["kernels"] = [[str(h) for h in row] for row in per_kernel]
        remap = {h: list(codes) for d in shares for h, codes in _share_remaps(d, bs.units).items()
                 if codes is not None} if len(shares) > 1 else \
            {bs.units[layer.unit][r.slot].hash: list(r.codes) for r in layer.weight_remap}
        if remap:
            entry["weight_remap"] = remap
        layers[layer.key] = entry
    return {"encoding": default_encoding, "layers": layers, "weight_tuning": "none"}


def describe(data: bytes, *, file: str | None = None) -> str:
    """A human-readable listing of a (valid) bitstream with the byte offset of each part."""
    bs = decode(data, file=file)
    lines = [f"rtlgen bitstream, format version {bs.version}, {len(data)} bytes, CRC {struct.unpack_from('<I', data, len(data) - 4)[0]:#010x}",
             f"  @12 accelerator config hash {bs.accel_hash}"]
    pos = HEADER_SIZE + 1 + len(bs.accel_hash.encode())
    if bs.version >= 2:
        lines.append(f"  @{pos} model hash {bs.model_hash or '(none: not tied to a weights.bin)'}")
        pos += 1 + len(bs.model_hash.encode())
    if bs.version >= 3:
        lines.append(f"  @{pos} activation memory: input {bs.input_bytes} bytes at {bs.input_base}, output "
                     f"{bs.output_bytes} bytes at {bs.output_base}")
        pos += PLAN_HEADER_SIZE
    lines.append(f"  @{pos} {len(bs.units)} units")
    pos += 1
    for u, bank in enumerate(bs.units):
        lines.append(f"  @{pos} unit {u}: {len(bank)} multipliers")
        pos += 1
        for s, m in enumerate(bank):
            lines.append(f"  @{pos}   slot {s}: {m.name or '(unnamed)'} hash {m.hash} {'signed' if m.signed else 'unsigned'}")
            pos += 3 + len(m.hash.encode()) + len(m.name.encode())
    lines.append(f"  @{pos} {len(bs.layers)} layer descriptors"
                 + (f" and {len(bs.ops)} op descriptors" if bs.version >= 4 else ""))
    pos += 2
    for layer in bs.descriptors():
        if not isinstance(layer, LayerDescriptor):
            if isinstance(layer, AddDescriptor):
                what = (f"{layer.count} elements at {layer.in_base} + at {layer.in2_base} -> at {layer.out_base}; "
                        f"zero points {layer.input_zero_points[0]}, {layer.input_zero_points[1]} -> "
                        f"{layer.output_zero_point}")
            else:
                g = layer.geometry
                what = (f"{g.in_h}x{g.in_w}x{g.in_c} at {layer.in_base} -> {g.out_h}x{g.out_w}x{g.out_c} at "
                        f"{layer.out_base}, filter {g.k_h}x{g.k_w} stride {g.stride_h}x{g.stride_w} pad "
                        f"{g.pad_top},{g.pad_left}")
            what += (f"; value {layer.value}" if isinstance(layer, PadDescriptor)
                     else f"; clamp {layer.act_min}..{layer.act_max}")
            lines.append(f"  @{pos} op {layer.index} {layer.kind}: {what}")
            pos += OP_DESCRIPTOR_SIZE[layer.kind]
            continue
        g = layer.geometry
        counts = np.bincount(layer.own_selects(), minlength=len(bs.units[layer.unit]))
        share = ", ".join(f"slot {s}: {c}" for s, c in enumerate(counts) if c)
        part = f", output channels {layer.co_first}..{layer.co_end - 1} (a share)" if layer.is_share else ""
        lines.append(f"  @{pos} layer {layer.index} {layer.kind}{part} on unit {layer.unit}, {layer.encoding}, "
                     f"{layer.granularity} selects ({share}); {g.in_h}x{g.in_w}x{g.in_c} -> "
                     f"{g.out_h}x{g.out_w}x{g.out_c}, kernel {g.k_h}x{g.k_w} stride {g.stride_h}x{g.stride_w} "
                     f"pad {g.pad_top},{g.pad_left}; zero points in {layer.requant.input_zero_point} "
                     f"out {layer.requant.output_zero_point}, clamp {layer.requant.act_min}..{layer.requant.act_max}"
                     + (f"; activations in at {layer.in_base}, out at {layer.out_base}" if bs.version >= 3 else "")
                     + (f"; weight remaps for slots {[r.slot for r in layer.weight_remap]}" if layer.weight_remap else ""))
        pos += (PLAN_LAYER_SIZE if bs.version >= 3 else 0) + 6 + 4 * layer.is_share + 24 + 10 + 5 * g.out_c + len(layer.selects) + 1 + 257 * len(layer.weight_remap)
    lines.append(f"  @{pos} CRC-32")
    return "\n".join(lines)


def dumps_json(bs: Bitstream) -> str:
    return json.dumps(to_dict(bs), indent=1) + "\n"
