"""ROUP(P, R): radix-4 modified Booth with partial-product perforation and rounding.

Definition (Leon et al., DAC 2019, as this project implements it):

* Port B is radix-4 Booth encoded, port A is the multiplicand. Digit ``d_j = -2*b[2j+1] +
  b[2j] + b[2j-1]`` with ``b[-1] = 0``; signed: B sign-extended, digits j = 0..3; unsigned: B
  zero-extended, digits j = 0..4. ``sum_j d_j * 4**j == B``.
* Partial products ``pp_j = d_j * A * 4**j``. Perforation: ``pp_j`` with ``j < P`` is not built.
* Rounding: every kept ``pp_j`` is rounded half up to a multiple of ``2**R``:
  ``((pp >> R) + ((pp >> (R-1)) & 1)) << R`` (floor shifts) for R >= 1.
* The output is the exact sum of the kept, rounded partial products modulo 2**16 (two's
  complement for the signed variant).

When ``R <= 2P`` every kept ``pp_j`` is a multiple of ``4**P``, hence of ``2**R``, and rounding
changes nothing: such a point is normalised to ``R = 0`` (and the spec's notes say so).

Circuit: a Booth encoder per kept digit (neg, one, two), a selector row ``x_i = one&a_i |
two&a_{i-1}`` (``|d|*A``), conditional inversion ``y = x ^ neg``; the ``+neg`` of the two's
complement negation is a bit in the row's lowest column. A rounded row (``s = R - 2j >= 1``)
keeps only ``y``'s bits from ``s`` up, placed from column R, and injects one carry into column R:
the rounding bit of ``y + neg`` combined with the negation's carry,
``c = y[s-1] | (neg & ~(x[0] | ... | x[s-2]))``; columns below R are never built. The rows are
summed by a Dadda tree and a ripple-carry adder.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Signal, Value

from rtlgen.gen.bits import BitMatrix
from rtlgen.gen.family import Family, Param, Spec, wrap_output

__all__ = ["Roup", "roup_product"]


def roup_product(a: Any, b: Any, p: int, r: int, signed: bool) -> Any:
    """ROUP(P, R) output for operand values ``a`` (port A) and ``b`` (port B); see module doc."""
    digits = 4 if signed else 5
    total = 0 * a * b
    for j in range(p, digits):
        d = -2 * ((b >> (2 * j + 1)) & 1) + ((b >> (2 * j)) & 1)
        if j > 0:
            d = d + ((b >> (2 * j - 1)) & 1)
        pp = d * a * 4**j
        if r >= 1:
            pp = ((pp >> r) + ((pp >> (r - 1)) & 1)) << r
        total = total + pp
    return wrap_output(total, signed)


class Roup(Family):
    name = "roup"
    title = "ROUP(P, R): radix-4 Booth with perforation of P partial products and rounding to 2^R"
    params = (
        Param("p", 0, 3, 2, "perforated least significant partial products"),
        Param("r", 0, 8, 8, "rounding: partial products rounded to multiples of 2^R"),
    )

    def _normalise(self, signed, values):
        p, r = values["p"], values["r"]
        if 0 < r <= 2 * p:
            return {"p": p, "r": 0}, [
                f"ROUP({p}, {r}): R <= 2P, so every kept partial product is already a multiple "
                f"of 2^{r} and rounding changes nothing; treated as ROUP({p}, 0)"]
        return values, []

    def _reference(self, spec: Spec, a, b):
        return roup_product(a, b, spec["p"], spec["r"], spec.signed)

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        p, r, signed = spec["p"], spec["r"], spec.signed
        matrix = BitMatrix(m, 16)
        zero = Const(0, 1)

        def a_bit(i: int) -> Value:
            if i < 0:
                return zero
            if i <= 7:
                return a[i]
            return a[7] if signed else zero

        def b_bit(k: int) -> Value:
            if k < 0:
                return zero
            if k <= 7:
                return b[k]
            return b[7] if signed else zero

        for j in range(p, 4 if signed else 5):
            hi, mid, lo = b_bit(2 * j + 1), b_bit(2 * j), b_bit(2 * j - 1)
            neg = Signal(name=f"booth{j}_neg")
            one = Signal(name=f"booth{j}_one")
            two = Signal(name=f"booth{j}_two")
            m.d.comb += [
                neg.eq(hi),
                one.eq(mid ^ lo),
                two.eq((hi & ~mid & ~lo) | (~hi & mid & lo)),
            ]
            # x = |d| * A as a 9-bit number (two's complement when signed), y = x ^ neg
            x = []
            for i in range(9):
                xi = Signal(name=f"pp{j}_x{i}")
                m.d.comb += xi.eq((one & a_bit(i)) | (two & a_bit(i - 1)))
                x.append(xi)
            y = []
            for i in range(9):
                yi = Signal(name=f"pp{j}_y{i}")
                m.d.comb += yi.eq(x[i] ^ neg)
                y.append(yi)
            if not signed:
                y.append(neg)  # x >= 0: the inverted row's sign is neg itself
            s = r - 2 * j
            if s <= 0:
                matrix.add_row(y, 2 * j, signed=True)
                matrix.add_bit(2 * j, neg)
            else:
                carry = Signal(name=f"pp{j}_round")
                low_zero = ~_or_all(x[: s - 1]) if s >= 2 else Const(1, 1)
                m.d.comb += carry.eq(y[s - 1] | (neg & low_zero))
                matrix.add_row(y[s:], r, signed=True)
                matrix.add_bit(r, carry)
        m.d.comb += o.eq(matrix.sum("dadda"))


def _or_all(bits: list[Value]) -> Value:
    """OR of 1-bit values as a chain of 2-input gates."""
    acc = bits[0]
    for bit in bits[1:]:
        acc = acc | bit
    return acc
