"""Operand encodings in hardware: what the multiplier's ports A and B see, and the exact
corrections that make the sum of products an exact convolution again.

Definitions (shared with the emulation, :mod:`rtlgen.emulate`; issue 5). ``x`` is the int8 input
code with zero point ``z_x`` (a padding position holds ``x = z_x``), ``w`` the int8 weight code
(symmetric, zero point 0); the exact result of a layer is ``sum (x - z_x) * w``. Port **A** always
carries the activation, port **B** the weight (``T[a, b]`` convention of :mod:`rtlgen.netlist.table`).

=========  ========================  ===================  ===============================
encoding   A (8-bit pattern)         B (8-bit pattern)    term added to the accumulator
=========  ========================  ===================  ===============================
signmag    ``x - z_x`` (0..255)      ``|w|`` (0..128)     ``-T[A,B]`` if ``w < 0`` else ``T[A,B]``
raw        ``x`` (two's complement)  ``w``                ``T[A,B]`` (signed multiplier)
offset     ``x + 128``               ``w + 128``          ``T[A,B]`` (unsigned multiplier)
=========  ========================  ===================  ===============================

Corrections (exact integers added once per output, in the epilogue), with ``K`` the number of
products per output (``kh*kw*cin``, padding included), ``Sw = sum w`` and ``Sx = sum x`` over
those ``K`` positions::

    signmag:  acc = sum term + bias
    raw:      acc = sum term + bias - z_x * Sw
    offset:   acc = sum term + bias - (128 + z_x) * Sw - 128 * Sx - 16384 * K

With an exact multiplier each line equals ``sum (x - z_x) * w + bias``: for ``offset``,
``(x+128)(w+128) = xw + 128x + 128w + 16384``. ``Sw`` and ``Sx`` are accumulated in hardware
beside the products (one ``Sw`` per lane, one ``Sx`` per unit), so the corrections hold for any
padding. A signmag layer needs ``x - z_x`` in 0..255 (true after ReLU, where ``z_x = -128``);
the mapper checks that, the hardware takes the low 8 bits.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned

from rtlgen.conventions import ENCODING_CODES

__all__ = ["ENCODING_CODES", "SIGNMAG", "RAW", "OFFSET", "encode_activation", "encode_weight",
           "correction_coefficients"]

#: Code of each encoding in a layer descriptor's ``encoding`` field (rtlgen.conventions' table).
SIGNMAG, RAW, OFFSET = (ENCODING_CODES[n] for n in ("signmag", "raw", "offset"))


def encode_activation(m: Module, x: Value, z_x: Value, encoding: Value) -> Signal:
    """Port-A pattern for the activation ``x`` (signed(8), padding already replaced by ``z_x``)."""
    a = Signal(unsigned(8), name="enc_a")
    with m.Switch(encoding):
        with m.Case(SIGNMAG):
            m.d.comb += a.eq((x - z_x)[:8])
        with m.Case(OFFSET):
            m.d.comb += a.eq(x.as_unsigned() ^ 0x80)
        with m.Default():  # RAW
            m.d.comb += a.eq(x.as_unsigned())
    return a


def encode_weight(m: Module, w: Value, encoding: Value, *, prefix: str = "enc") -> tuple[Signal, Signal]:
    """Port-B pattern for the weight ``w`` (signed(8)) and whether the product is negated."""
    b = Signal(unsigned(8), name=f"{prefix}_b")
    neg = Signal(name=f"{prefix}_neg")
    with m.Switch(encoding):
        with m.Case(SIGNMAG):
            m.d.comb += [b.eq(Mux(w < 0, -w, w)[:8]), neg.eq(w < 0)]
        with m.Case(OFFSET):
            m.d.comb += b.eq(w.as_unsigned() ^ 0x80)
        with m.Default():
            m.d.comb += b.eq(w.as_unsigned())
    return b, neg


def correction_coefficients(m: Module, z_x: Value, encoding: Value) -> tuple[Signal, Signal, Signal]:
    """``(c_w, c_x, offset_k)``: the epilogue adds ``c_w*Sw + c_x*Sx`` and, if ``offset_k``,
    ``-16384*K`` (see the module docstring)."""
    c_w = Signal(signed(10), name="c_w")
    c_x = Signal(signed(9), name="c_x")
    offset_k = Signal(name="offset_k")
    with m.Switch(encoding):
        with m.Case(RAW):
            m.d.comb += c_w.eq(-z_x)
        with m.Case(OFFSET):
            m.d.comb += [c_w.eq(-(z_x + 128)), c_x.eq(-128), offset_k.eq(1)]
    return c_w, c_x, offset_k
