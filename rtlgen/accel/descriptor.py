"""Layer descriptors and memory images: what a host loads into the accelerator to run one layer.

Configuration port. A descriptor is a set of registers written one 32-bit word at a time:
``cfg_we`` with ``cfg_addr`` = the field's index in :data:`FIELDS` and ``cfg_data`` = its value
(two's complement for signed fields; bits above the field's width are ignored). A pulse on
``start`` then runs the layer; ``done`` rises when its last output byte is written.

Memories (filled and read through the host ports of :mod:`rtlgen.accel.top`; layouts owned here):

* activation memory, bytes: a layer's input at ``in_base`` and output at ``out_base``, both NHWC,
  byte ``base + (y*W + x)*C + c``. The two regions must not overlap.
* weight memory, words of ``L`` lanes (:func:`weight_image`): group ``g`` (output channels
  ``g*L .. g*L+L-1``) occupies ``K = kh*kw*cin`` consecutive words from
  ``w_base + (g - co_first/L)*K`` (so from ``w_base + g*K`` for the whole layer), word
  ``(ky*kw + kx)*cin + ci`` holding, for lane ``l``, the weight ``w[g*L+l, ky, kx, ci]`` in bits
  ``[8l, 8l+8)`` and a multiplier select in bits ``[8L + l*S, 8L + (l+1)*S)``. A depthwise layer
  (field ``depthwise``) is laid out the same with ``cin = 1`` (weights ``[C, kh, kw, 1]``,
  ``K = kh*kw``): output channel ``co`` is lane ``co mod L`` of group ``co // L``.
* parameter memory, one word per output channel at ``p_base + co`` (absolute ``co``, a share's
  too; :func:`param_image`):
  bias (int32) in bits 0..31, requantization multiplier (int32) in 32..63, shift (-31..30,
  positive = left) in 64..69.

Channel range (fields ``co_first``, ``co_end``): the engine runs output channels
``[co_first, co_end)`` (``co_end`` 0: ``out_c``), a *share* of a layer split over units by
output channels; ``co_first`` is a multiple of ``L``. Outputs keep their absolute channel
(``out_base + (y*out_w + x)*out_c + co``). The two registers hold for one run: the engine clears
both to 0 when the run ends (``done``), so a descriptor written without them runs the whole layer.

Multiplier selection (field ``sel_mode``, codes of :data:`rtlgen.conventions.GRANULARITY_CODES`,
the bitstream's granularity codes too): ``layer`` (0) uses ``layer_sel`` for every product;
``filter`` (1) latches each lane's select from the first word of its group (so a filter keeps one
multiplier); ``kernel`` (2) takes the select from every weight word, so it can change with the
input channel (the image holds ``sel[co][ci]`` at every kernel position).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import get_args

import numpy as np

from rtlgen.accel.config import AccelConfig
from rtlgen.conventions import ENCODING_CODES, GRANULARITIES, GRANULARITY_CODES, Encoding, Granularity, check_name
from rtlgen.nn.geometry import Geometry
from rtlgen.nn.quant import Rounding

__all__ = ["FIELDS", "RANGE_FIELDS", "WHOLE_LAYER_FIELDS", "SEL_MODES", "ROUNDINGS", "LayerDescriptor", "weight_image", "param_image",
           "PARAM_BITS"]

#: ``(name, width, signed)`` of each descriptor register, at configuration address = index.
FIELDS: tuple[tuple[str, int, bool], ...] = (
    ("in_h", 12, False), ("in_w", 12, False), ("in_c", 12, False),
    ("out_h", 12, False), ("out_w", 12, False), ("out_c", 12, False),
    ("kh", 4, False), ("kw", 4, False), ("stride_h", 4, False), ("stride_w", 4, False),
    ("pad_top", 4, False), ("pad_left", 4, False),
    ("in_base", 24, False), ("out_base", 24, False), ("w_base", 20, False), ("p_base", 16, False),
    ("unit", 4, False), ("encoding", 2, False), ("sel_mode", 2, False), ("layer_sel", 4, False),
    ("z_x", 8, True), ("z_y", 8, True), ("act_min", 8, True), ("act_max", 8, True),
    ("rounding", 1, False), ("depthwise", 1, False),
    ("co_first", 12, False), ("co_end", 12, False),
)
FIELD_INDEX = {name: i for i, (name, _, _) in enumerate(FIELDS)}
#: The channel-range registers (the last two of :data:`FIELDS`): only a share of a split layer
#: needs them. The engine clears both to 0 (the whole layer) when a run ends, so a writer of the
#: first :data:`WHOLE_LAYER_FIELDS` registers alone (the sequencer, for a descriptor that is no
#: share) runs the whole layer.
RANGE_FIELDS = ("co_first", "co_end")
WHOLE_LAYER_FIELDS = len(FIELDS) - len(RANGE_FIELDS)
SEL_MODES = GRANULARITIES  # the select modes are the granularities, with the same codes
#: Requantization rounding (field ``rounding``): gemmlowp's two steps (CONV_2D) or one
#: (``TFLITE_SINGLE_ROUNDING``, LiteRT's FULLY_CONNECTED here); see :mod:`rtlgen.accel.requant`.
ROUNDINGS: tuple[Rounding, ...] = get_args(Rounding)  # code = index
PARAM_BITS = 70

SelMode = Granularity


@dataclass(frozen=True)
class LayerDescriptor:
    """One conv layer as the hardware runs it (NHWC, int8); a fully connected layer is a 1x1
    conv of a 1x1 image with ``rounding = "single"``. Padding at the bottom/right is
    implied by the output size (TFLite SAME padding puts the extra row/column there)."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    kh: int
    kw: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    in_base: int
    out_base: int
    w_base: int
    p_base: int
    unit: int
    encoding: Encoding
    sel_mode: SelMode
    layer_sel: int
    z_x: int
    z_y: int
    act_min: int
    act_max: int
    rounding: Rounding = "double"
    #: a depthwise layer (depth multiplier 1): output channel ``co`` reads input channel ``co``
    #: only (``in_c == out_c``); its weights are laid out as a conv's with one input channel
    depthwise: bool = False
    #: the output channels ``[co_first, co_end)`` to run (a share of a layer split over units);
    #: ``co_end`` 0 stands for ``out_c``: the defaults run the whole layer
    co_first: int = 0
    co_end: int = 0

    @classmethod
    def geometry_fields(cls, g: Geometry) -> dict[str, int]:
        """The descriptor registers that hold geometry ``g`` (keyword arguments of this class)."""
        return dict(in_h=g.in_h, in_w=g.in_w, in_c=g.in_c, out_h=g.out_h, out_w=g.out_w, out_c=g.out_c,
                    kh=g.k_h, kw=g.k_w, stride_h=g.stride_h, stride_w=g.stride_w, pad_top=g.pad_top,
                    pad_left=g.pad_left)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.in_h, self.in_w, self.in_c, self.out_h, self.out_w, self.out_c, self.kh, self.kw,
                        self.stride_h, self.stride_w, self.pad_top, self.pad_left)

    @property
    def products(self) -> int:
        """K: products per output value (a depthwise layer's kernel reads one input channel)."""
        return self.kh * self.kw * (1 if self.depthwise else self.in_c)

    @property
    def co_stop(self) -> int:
        """The end of the channel range run: ``co_end``, or ``out_c`` where it is 0."""
        return self.co_end or self.out_c

    def groups(self, lanes: int) -> int:
        """The groups of ``lanes`` output channels run: those of ``[co_first, co_stop)``
        (``co_first`` a multiple of ``lanes``), ``ceil(out_c/lanes)`` for the whole layer."""
        return -(-self.co_stop // lanes) - self.co_first // lanes

    def values(self) -> dict[str, int]:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "encoding":
                v = ENCODING_CODES[v]
            elif f.name == "sel_mode":
                v = GRANULARITY_CODES[v]
            elif f.name == "rounding":
                v = ROUNDINGS.index(v)
            out[f.name] = int(v)
        return out

    def words(self) -> list[tuple[int, int]]:
        """``(cfg_addr, cfg_data)`` pairs that load this descriptor."""
        vals = self.values()
        return [(i, vals[name] & 0xFFFFFFFF) for i, (name, _, _) in enumerate(FIELDS)]

    def check(self, config: AccelConfig) -> None:
        """Raise ValueError naming the field when the layer does not fit ``config``."""
        check_name("encoding", self.encoding, "descriptor field encoding")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding {self.rounding!r} is not one of {ROUNDINGS}")
        check_name("granularity", self.sel_mode, "descriptor field sel_mode")
        for (name, width, signed) in FIELDS:
            v = self.values()[name]
            lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
            if not lo <= v <= hi:
                raise ValueError(f"descriptor field {name} = {v} does not fit {lo}..{hi}")
        for name in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kh", "kw", "stride_h",
                     "stride_w"):
            if getattr(self, name) < 1:
                raise ValueError(f"descriptor field {name} must be >= 1")
        if self.depthwise and self.in_c != self.out_c:
            raise ValueError(f"a depthwise descriptor needs in_c == out_c (depth multiplier 1), not "
                             f"{self.in_c} and {self.out_c}")
        if self.co_first % config.lanes or not self.co_first < self.co_stop <= self.out_c:
            raise ValueError(f"channel range [{self.co_first}, {self.co_stop}) must start at a multiple of "
                             f"{config.lanes} lanes and be a nonempty part of the {self.out_c} output channels")
        if self.unit >= config.units:
            raise ValueError(f"unit {self.unit} does not exist: the accelerator has {config.units}")
        if self.layer_sel >= config.multipliers:
            raise ValueError(f"layer_sel {self.layer_sel} >= {config.multipliers} multipliers")
        n_in = self.in_h * self.in_w * self.in_c
        n_out = self.out_h * self.out_w * self.out_c
        for name, base, n in (("input", self.in_base, n_in), ("output", self.out_base, n_out)):
            if base + n > config.activation_bytes:
                raise ValueError(f"{name} [{base}, {base + n}) exceeds the activation memory "
                                 f"({config.activation_bytes} bytes)")
        if self.in_base < self.out_base + n_out and self.out_base < self.in_base + n_in:
            raise ValueError("input and output regions of the activation memory overlap")
        words = self.groups(config.lanes) * self.products
        if self.w_base + words > config.weight_words:
            raise ValueError(f"weights need words [{self.w_base}, {self.w_base + words}), the "
                             f"weight memory has {config.weight_words}")
        if self.p_base + self.out_c > config.channels:
            raise ValueError(f"parameters need entries [{self.p_base}, {self.p_base + self.out_c})"
                             f", the parameter memory has {config.channels}")


def weight_image(weights: np.ndarray, selects: np.ndarray | None, config: AccelConfig) -> list[int]:
    """Weight-memory words for ``weights[co, ky, kx, ci]`` (int8, TFLite's OHWI order).

    ``selects``: ``None`` (all 0), or int array ``[co]`` (per filter) or ``[co, ci]`` (per
    kernel) of bank indices. Lanes beyond ``cout`` in the last group hold zeros.
    """
    w = np.asarray(weights)
    if w.ndim != 4:
        raise ValueError(f"weights must be [cout, kh, kw, cin], not shape {w.shape}")
    cout, kh, kw, cin = w.shape
    L, S = config.lanes, config.select_bits
    sel = np.zeros((cout, cin), dtype=np.int64)
    if selects is not None:
        s = np.asarray(selects, dtype=np.int64)
        if s.shape == (cout,):
            sel[:] = s[:, None]
        elif s.shape == (cout, cin):
            sel[:] = s
        else:
            raise ValueError(f"selects must have shape ({cout},) or ({cout}, {cin}), not {s.shape}")
        if sel.min() < 0 or sel.max() >= config.multipliers:
            raise ValueError(f"selects must lie in 0..{config.multipliers - 1}")
    groups = -(-cout // L)
    words = []
    wu = (w.astype(np.int64) & 0xFF)
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                for ci in range(cin):
                    word = 0
                    for l in range(L):
                        co = g * L + l
                        if co >= cout:
                            break
                        word |= int(wu[co, ky, kx, ci]) << (8 * l)
                        word |= int(sel[co, ci]) << (8 * L + l * S)
                    words.append(word)
    return words


def param_image(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> list[int]:
    """Parameter-memory words, one per output channel."""
    b, m, s = (np.asarray(a, dtype=np.int64).ravel() for a in (bias, multiplier, shift))
    if not b.size == m.size == s.size:
        raise ValueError(f"bias, multiplier and shift must have one entry per channel, "
                         f"not {b.size}, {m.size}, {s.size}")
    if s.size and (s.min() < -31 or s.max() > 30):
        raise ValueError("shift must lie in -31..30")
    return [int(bb & 0xFFFFFFFF) | int(mm & 0xFFFFFFFF) << 32 | int(ss & 0x3F) << 64
            for bb, mm, ss in zip(b, m, s)]
