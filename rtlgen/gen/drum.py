"""DRUM(k): the dynamic range unbiased multiplier (Hashemi, Bahar and Reda, ICCAD 2015), unsigned.

Each operand ``x`` is reduced to a k-bit segment: if ``x < 2**k`` it is used as is (shift 0);
otherwise, with its leading one at bit ``t``, the segment is ``x >> s`` for ``s = t - k + 1``
with the segment's least significant bit forced to 1 (the expected value of the dropped bits,
which makes the error unbiased). The output is ``(seg_a * seg_b) << (s_a + s_b)``, below 2**16.

Circuit: per operand a leading-one detector giving a one-hot shift select, an AND-OR selector for
the segment, a k x k AND-matrix multiplier (Dadda tree, ripple-carry adder), and two one-hot
AND-OR left shifters (by ``s_a``, then by ``s_b``).
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, Value

from rtlgen.gen.bits import BitMatrix
from rtlgen.gen.family import Family, Param, Spec, wrap_output

__all__ = ["Drum", "drum_segment"]


def drum_segment(x, k: int):
    """``(segment, shift)`` of operand value ``x`` (0..255) for DRUM(k); ints or numpy arrays."""
    s = 0 * x
    for t in range(k, 8):
        s = s + (x >= (1 << t)) * 1
    return (x >> s) | ((s > 0) * 1), s


def _or_all(bits: list[Value]) -> Value:
    acc = bits[0]
    for bit in bits[1:]:
        acc = acc | bit
    return acc


class Drum(Family):
    name = "drum"
    title = "DRUM(k): dynamic-range unbiased multiplier on k-bit operand segments"
    signedness = (False,)
    params = (Param("k", 3, 7, 7, "segment width in bits"),)

    def _reference(self, spec: Spec, a, b):
        k = spec["k"]
        sa_seg, sa = drum_segment(a, k)
        sb_seg, sb = drum_segment(b, k)
        return wrap_output((sa_seg * sb_seg) << (sa + sb), False)

    def _segment(self, m: Module, x: Value, k: int, tag: str) -> tuple[list[Signal], list[Signal]]:
        """Segment bits (LSB first) and one-hot shift select (index = shift) of operand x."""
        n_shift = 8 - k
        select: list[Signal] = []
        above = Const(0, 1)  # some bit above the current one is set
        lead: dict[int, Signal] = {}
        for t in range(7, k - 1, -1):
            sig = Signal(name=f"{tag}_lead{t}")
            m.d.comb += sig.eq(x[t] & ~above)
            lead[t] = sig
            nxt = Signal(name=f"{tag}_above{t}")
            m.d.comb += nxt.eq(above | x[t])
            above = nxt
        none = Signal(name=f"{tag}_small")
        m.d.comb += none.eq(~above)
        select = [none] + [lead[s + k - 1] for s in range(1, n_shift + 1)]
        segment = []
        for i in range(k):
            terms = [select[s] & x[i + s] for s in range(n_shift + 1)]
            if i == 0:
                terms.append(above)  # truncated: the segment's LSB is forced to 1
            sig = Signal(name=f"{tag}_seg{i}")
            m.d.comb += sig.eq(_or_all(terms))
            segment.append(sig)
        return segment, select

    def _shift(self, m: Module, bits: list[Value], select: list[Signal], width: int,
               tag: str) -> list[Value]:
        out: list[Value] = []
        for n in range(width):
            terms = [select[s] & bits[n - s] for s in range(len(select)) if 0 <= n - s < len(bits)]
            if terms:
                sig = Signal(name=f"{tag}{n}")
                m.d.comb += sig.eq(_or_all(terms))
                out.append(sig)
            else:
                out.append(Const(0, 1))
        return out

    def _build(self, spec: Spec, m: Module, a: Value, b: Value, o: Value) -> None:
        k = spec["k"]
        seg_a, sel_a = self._segment(m, a, k, "a")
        seg_b, sel_b = self._segment(m, b, k, "b")
        matrix = BitMatrix(m, 2 * k, prefix="seg_")
        for j in range(k):
            row = []
            for i in range(k):
                sig = Signal(name=f"pp_a{i}_b{j}")
                m.d.comb += sig.eq(seg_a[i] & seg_b[j])
                row.append(sig)
            matrix.add_row(row, j, signed=False)
        product = matrix.sum("dadda")
        p = [product[i] for i in range(2 * k)]
        shifted = self._shift(m, p, sel_a, 2 * k + 8 - k, "sha")
        out = self._shift(m, shifted, sel_b, 16, "shb")
        for n in range(16):
            m.d.comb += o[n].eq(out[n])
