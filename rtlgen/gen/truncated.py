"""Truncated multipliers: the k least significant columns of the partial-product matrix removed.

The matrix is the AND matrix (unsigned) or the modified Baugh-Wooley one (signed), see
:mod:`rtlgen.gen.matrix`; every term of weight below ``2**k`` is left out. With compensation, the
constant ``C`` is added: the mean of the removed terms over uniform operands rounded half up to a
multiple of ``2**k`` (so output bits below k stay constant 0). The kept terms are summed by a
Dadda tree and a ripple-carry adder.
"""
from __future__ import annotations

from amaranth.hdl import Module, Value

from rtlgen.gen.bits import BitMatrix
from rtlgen.gen.family import Family, Param, Spec, wrap_output
from rtlgen.gen.matrix import add_terms, expected_value_times4, matrix_value, product_terms

__all__ = ["Truncated", "compensation_constant"]


def compensation_constant(k: int, signed: bool) -> int:
    """Mean of the terms below column k (uniform operands), rounded half up to a multiple of 2^k."""
    e4 = expected_value_times4(t for t in product_terms(signed) if t.column < k)
    return ((e4 + (1 << (k + 1))) >> (k + 2)) << k


class Truncated(Family):
    name = "truncated"
    title = "truncated multiplier: k least significant partial-product columns removed"
    params = (
        Param("k", 1, 8, 8, "removed least significant columns of the partial-product matrix"),
        Param("compensate", 0, 1, 1, "add the removed columns' mean as a constant", flag=True),
    )

    def _normalise(self, signed, values):
        k = values["k"]
        if values["compensate"] and compensation_constant(k, signed) == 0:
            return {"k": k, "compensate": 0}, [
                f"truncated(k={k}): the removed columns' mean rounds to 0 at a multiple of 2^{k}, "
                "so compensation adds nothing; treated as uncompensated"]
        return values, []

    def _reference(self, spec: Spec, a, b):
        k = spec["k"]
        total = matrix_value(a, b, lambda t: t.column >= k, spec.signed)
        if spec["compensate"]:
            total = total + compensation_constant(k, spec.signed)
        return wrap_output(total, spec.signed)

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        k = spec["k"]
        matrix = BitMatrix(m, 16)
        add_terms(matrix, m, a, b, [t for t in product_terms(spec.signed) if t.column >= k],
                  spec.signed)
        if spec["compensate"]:
            matrix.add_constant(compensation_constant(k, spec.signed))
        m.d.comb += o.eq(matrix.sum("dadda"))
