"""The AND / Baugh-Wooley partial-product matrix shared by the array-style families.

An 8x8 product is the sum of 64 partial-product bits ``t(i, j) = a[i] & b[j]`` of weight
``2**(i+j)`` (``a[i]``, ``b[j]``: bits of the operand patterns on ports A and B):

* unsigned: every term as is; no constant.
* signed (modified Baugh-Wooley): terms with exactly one of ``i``, ``j`` equal to 7 are inverted
  (``~(a[i] & b[j])``) and the constant ``2**8 + 2**15`` is added, because
  ``-x * 2**k = (~x - 1) * 2**k`` and the 14 ``-2**k`` sum to ``-2**15 + 2**8`` (mod 2**16).

Approximate families keep a subset of the terms (:func:`matrix_value` is their reference model)
and build the same subset in gates (:func:`add_terms`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from amaranth.hdl import Module, Signal, Value

from rtlgen.gen.bits import BitMatrix

__all__ = ["Term", "product_terms", "product_constant", "matrix_value", "add_terms",
           "expected_value_times4"]


@dataclass(frozen=True)
class Term:
    """Partial-product bit ``a[i] & b[j]`` (inverted for Baugh-Wooley's sign terms)."""

    i: int
    j: int
    inverted: bool

    @property
    def column(self) -> int:
        return self.i + self.j


def product_terms(signed: bool) -> tuple[Term, ...]:
    return tuple(Term(i, j, signed and ((i == 7) != (j == 7))) for j in range(8) for i in range(8))


def product_constant(signed: bool) -> int:
    return (1 << 8) + (1 << 15) if signed else 0


def matrix_value(a: Any, b: Any, keep: Callable[[Term], bool], signed: bool) -> Any:
    """Sum of the kept terms (and the constant) for operand values ``a``, ``b``; unwrapped."""
    pa, pb = a & 0xFF, b & 0xFF
    total = 0 * pa * pb + product_constant(signed)
    for t in product_terms(signed):
        if keep(t):
            bit = ((pa >> t.i) & 1) * ((pb >> t.j) & 1)
            total = total + ((1 - bit) if t.inverted else bit) * (1 << t.column)
    return total


def expected_value_times4(terms: Iterable[Term]) -> int:
    """4x the mean of the terms' sum over uniform operands (a term is 1 with probability 1/4,
    an inverted one with 3/4): an integer, so that compensation constants round exactly."""
    return sum((3 if t.inverted else 1) << t.column for t in terms)


def add_terms(matrix: BitMatrix, m: Module, a: Value, b: Value, terms: Iterable[Term],
              signed: bool) -> None:
    """Build the given terms as gates, one row per bit of B, plus the matrix constant."""
    rows: dict[int, list[Term]] = {}
    for t in terms:
        rows.setdefault(t.j, []).append(t)
    for j in sorted(rows):
        row = sorted(rows[j], key=lambda t: t.i)
        columns = [t.column for t in row]
        if columns != list(range(columns[0], columns[0] + len(columns))):
            raise ValueError(f"terms of row {j} are not contiguous: columns {columns}")
        bits = []
        for t in row:
            sig = Signal(name=f"pp_a{t.i}_b{t.j}")
            m.d.comb += sig.eq(~(a[t.i] & b[t.j]) if t.inverted else (a[t.i] & b[t.j]))
            bits.append(sig)
        matrix.add_row(bits, columns[0], signed=False)
    matrix.add_constant(product_constant(signed))
