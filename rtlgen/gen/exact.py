"""Exact reference multipliers: the unsigned array multiplier and the signed Baugh-Wooley one.

Both add the partial-product matrix (:mod:`rtlgen.gen.matrix`) row by row in a carry-save array
and finish with a ripple-carry adder: the classical structures approximate designs are measured
against (the Booth/Dadda exact multiplier is ``roup`` with P = R = 0).
"""
from __future__ import annotations

from amaranth.hdl import Module, Value

from rtlgen.gen.bits import BitMatrix
from rtlgen.gen.family import Family, Spec, wrap_output
from rtlgen.gen.matrix import add_terms, product_terms

__all__ = ["ArrayMultiplier", "BaughWooley"]


class ArrayMultiplier(Family):
    name = "array"
    title = "exact unsigned array multiplier (AND matrix, carry-save array, ripple-carry adder)"
    signedness = (False,)

    def _reference(self, spec: Spec, a, b):
        return wrap_output(a * b, spec.signed)

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        matrix = BitMatrix(m, 16)
        add_terms(matrix, m, a, b, product_terms(False), False)
        m.d.comb += o.eq(matrix.sum("array"))


class BaughWooley(Family):
    name = "baugh_wooley"
    title = "exact signed Baugh-Wooley array multiplier"
    signedness = (True,)

    def _reference(self, spec: Spec, a, b):
        return wrap_output(a * b, spec.signed)

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        matrix = BitMatrix(m, 16)
        add_terms(matrix, m, a, b, product_terms(True), True)
        m.d.comb += o.eq(matrix.sum("array"))
