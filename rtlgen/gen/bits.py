"""Gate-level arithmetic in Amaranth: a matrix of weighted bits reduced by full and half adders.

Every generator describes its multiplier as a :class:`BitMatrix`: partial-product bits placed in
columns (column ``c`` has weight ``2**c``) plus one integer constant, all summed modulo
``2**width``. :meth:`BitMatrix.sum` builds the adder circuit from explicit gates (``& | ^ ~`` on
1-bit signals): a carry-save reduction (a Dadda tree, or the row-by-row carry-save array of an
array multiplier) followed by a ripple-carry final adder. No word-level ``+`` or ``*`` is used, so
the netlist Yosys flattens has the structure the generator chose.

Two's complement rows use the usual sign trick: a row whose most significant bit ``s`` has weight
``-2**k`` is entered as ``~s`` with weight ``+2**k`` and the constant ``-2**k`` (because
``-s = (1 - s) - 1``); all such constants are folded into one, whose set bits become constant-1
bits of the matrix. Bits and constants at or above ``width`` are dropped (arithmetic modulo
``2**width``).
"""
from __future__ import annotations

from typing import Literal, Sequence

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["Reduction", "BitMatrix", "dadda_heights"]

#: How the partial-product bits are compressed to two rows before the final adder.
Reduction = Literal["dadda", "array"]


def dadda_heights(max_height: int) -> list[int]:
    """Dadda's stage heights 2, 3, 4, 6, 9, 13, ... below ``max_height``, largest first."""
    heights = [2]
    while heights[-1] * 3 // 2 < max_height:
        heights.append(heights[-1] * 3 // 2)
    return [h for h in reversed(heights) if h < max_height]


class BitMatrix:
    """Weighted 1-bit values to be summed modulo ``2**width`` by gates added to module ``m``."""

    def __init__(self, m: Module, width: int = 16, prefix: str = ""):
        if width < 1:
            raise ValueError(f"width must be at least 1, not {width}")
        self.m = m
        self.width = width
        self.prefix = prefix
        self.columns: list[list[Value]] = [[] for _ in range(width)]
        self.constant = 0
        self._rows: list[dict[int, Value]] = []
        self._count = 0

    # -- filling -------------------------------------------------------------------------------

    def add_bit(self, column: int, bit: Value) -> None:
        """Add ``bit * 2**column``."""
        if column < 0:
            raise ValueError(f"column must be non-negative, not {column}")
        if column < self.width:
            self.columns[column].append(bit)
            self._rows.append({column: bit})

    def add_constant(self, value: int) -> None:
        """Add the integer ``value`` (any sign; taken modulo ``2**width``)."""
        self.constant = (self.constant + value) % (1 << self.width)

    def add_row(self, bits: Sequence[Value], lsb: int, *, signed: bool) -> None:
        """Add the number whose bits (least significant first) are ``bits``, shifted to ``lsb``.

        With ``signed`` the last bit is a two's complement sign bit (weight ``-2**(lsb+len-1)``).
        Bits of one call form one row for the ``array`` reduction.
        """
        row: dict[int, Value] = {}
        last = len(bits) - 1
        for i, bit in enumerate(bits):
            column = lsb + i
            if column >= self.width:
                break
            if signed and i == last:
                bit = self._signal(~bit, "nsign")
                self.add_constant(-(1 << column))
            self.columns[column].append(bit)
            row[column] = bit
        if row:
            self._rows.append(row)

    # -- building ------------------------------------------------------------------------------

    def _signal(self, expr: Value, kind: str) -> Signal:
        self._count += 1
        sig = Signal(name=f"{self.prefix}{kind}{self._count}")
        self.m.d.comb += sig.eq(expr)
        return sig

    def _full_adder(self, a: Value, b: Value, c: Value) -> tuple[Signal, Signal]:
        axb = self._signal(a ^ b, "fa_x")
        s = self._signal(axb ^ c, "fa_s")
        co = self._signal((a & b) | (axb & c), "fa_c")
        return s, co

    def _half_adder(self, a: Value, b: Value) -> tuple[Signal, Signal]:
        return self._signal(a ^ b, "ha_s"), self._signal(a & b, "ha_c")

    def _with_constant_bits(self) -> list[list[Value]]:
        columns = [list(col) for col in self.columns]
        for c in range(self.width):
            if (self.constant >> c) & 1:
                columns[c].append(Const(1, 1))
        return columns

    def _reduce_dadda(self, columns: list[list[Value]]) -> list[list[Value]]:
        for target in dadda_heights(max(len(col) for col in columns)):
            new: list[list[Value]] = [[] for _ in range(self.width)]
            for c in range(self.width):
                bits = list(columns[c])
                # carries this stage already sent into column c count towards its height
                while len(bits) + len(new[c]) > target:
                    if len(bits) + len(new[c]) - target >= 2 and len(bits) >= 3:
                        s, co = self._full_adder(bits.pop(0), bits.pop(0), bits.pop(0))
                    elif len(bits) >= 2:
                        s, co = self._half_adder(bits.pop(0), bits.pop(0))
                    else:  # pragma: no cover - Dadda's heights make this unreachable
                        raise AssertionError("Dadda reduction cannot meet its stage height")
                    new[c].append(s)
                    if c + 1 < self.width:
                        new[c + 1].append(co)
                new[c].extend(bits)
            columns = new
        return columns

    def _reduce_array(self) -> list[list[Value]]:
        """Carry-save array: each row is added to a running (sum, carry) pair by a row of cells."""
        state: list[list[Value]] = [[] for _ in range(self.width)]
        rows = list(self._rows)
        constant_row = {c: Const(1, 1) for c in range(self.width) if (self.constant >> c) & 1}
        if constant_row:
            rows.append(constant_row)
        for row in rows:
            new: list[list[Value]] = [[] for _ in range(self.width)]
            for c in range(self.width):
                bits = state[c] + ([row[c]] if c in row else [])
                while len(bits) >= 3:
                    s, co = self._full_adder(bits.pop(0), bits.pop(0), bits.pop(0))
                    bits.append(s)
                    if c + 1 < self.width:
                        new[c + 1].append(co)
                if len(bits) == 2 and c in row and not new[c]:
                    s, co = self._half_adder(bits.pop(0), bits.pop(0))
                    bits.append(s)
                    if c + 1 < self.width:
                        new[c + 1].append(co)
                new[c].extend(bits)
            # a column may now hold a sum, a passed carry and an incoming carry: keep at most two
            for c in range(self.width):
                while len(new[c]) >= 3:
                    s, co = self._full_adder(new[c].pop(0), new[c].pop(0), new[c].pop(0))
                    new[c].append(s)
                    if c + 1 < self.width:
                        new[c + 1].append(co)
            state = new
        return state

    def _ripple(self, columns: list[list[Value]]) -> Value:
        out: list[Value] = []
        carry: Value | None = None
        for c in range(self.width):
            bits = list(columns[c]) + ([carry] if carry is not None else [])
            if len(bits) > 3:  # pragma: no cover - the reductions leave at most two
                raise AssertionError(f"column {c} holds {len(bits)} bits before the final adder")
            if len(bits) == 3:
                s, carry = self._full_adder(*bits)
            elif len(bits) == 2:
                s, carry = self._half_adder(*bits)
            elif len(bits) == 1:
                s, carry = bits[0], None
            else:
                s, carry = Const(0, 1), None
            out.append(s)
        return Cat(*out)

    def sum(self, reduction: Reduction = "dadda") -> Value:
        """Build the adder circuit; return the ``width``-bit sum."""
        if reduction == "dadda":
            columns = self._with_constant_bits()
            columns = self._reduce_dadda(columns) if max(map(len, columns)) > 2 else columns
        elif reduction == "array":
            columns = self._reduce_array()
        else:
            raise ValueError(f"unknown reduction {reduction!r}; valid: 'dadda', 'array'")
        return self._ripple(columns)
