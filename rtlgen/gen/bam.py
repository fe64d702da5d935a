"""Broken-array multipliers BAM(h, v) (Mahdiani et al., 2010), unsigned.

The carry-save cells of an array multiplier are omitted below a horizontal break level and right
of a vertical one. As this project defines it on the AND matrix (:mod:`rtlgen.gen.matrix`): the
term ``a[i] & b[j]`` is kept only when ``j >= h`` (rows of B's bits below h omitted) and
``i + j >= v`` (columns below v omitted). The kept rows are added by a carry-save array and a
ripple-carry adder. BAM(0, 0) is the exact array multiplier; BAM(0, v) has the table of an
uncompensated truncated multiplier with k = v. Where ``h <= v - 7`` the omitted rows lie wholly
right of the vertical break, so such a point is normalised to BAM(0, v) (the notes say so).
"""
from __future__ import annotations

from amaranth.hdl import Module, Value

from rtlgen.gen.bits import BitMatrix
from rtlgen.gen.family import Family, Param, Spec, wrap_output
from rtlgen.gen.matrix import add_terms, matrix_value, product_terms

__all__ = ["BrokenArray"]


def _kept(h: int, v: int):
    return lambda t: t.j >= h and t.column >= v


class BrokenArray(Family):
    name = "bam"
    title = "broken-array multiplier BAM(h, v): rows j < h and columns i + j < v omitted"
    signedness = (False,)
    params = (
        Param("h", 0, 7, 7, "horizontal break level: partial-product rows b[j], j < h, omitted"),
        Param("v", 0, 14, 14, "vertical break level: columns i + j < v omitted"),
    )

    def _normalise(self, signed, values):
        h, v = values["h"], values["v"]
        if 0 < h <= v - 7:
            return {"h": 0, "v": v}, [
                f"BAM({h}, {v}): rows j < {h} lie wholly right of the vertical break (i + j < {v} "
                f"for every i <= 7), so the horizontal break removes nothing more; treated as "
                f"BAM(0, {v})"]
        return values, []

    def _reference(self, spec: Spec, a, b):
        return wrap_output(matrix_value(a, b, _kept(spec["h"], spec["v"]), False), False)

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        keep = _kept(spec["h"], spec["v"])
        matrix = BitMatrix(m, 16)
        add_terms(matrix, m, a, b, [t for t in product_terms(False) if keep(t)], False)
        m.d.comb += o.eq(matrix.sum("array"))
