"""ROUP(P, R): the reference model against the exact product and against the definition."""
from __future__ import annotations

from fractions import Fraction
import math

import numpy as np
import pytest

from rtlgen.gen import make_spec
from rtlgen.gen.roup import Roup, roup_product
from rtlgen.gen.sweep import first_difference
from rtlgen.netlist.table import exact_table, operand_values

SIGN_CORNERS = [(-128, -128, 16384), (-128, 127, -16256), (127, -128, -16256), (127, 127, 16129),
                (-1, -1, 1), (-128, -1, 128), (-1, -128, 128), (-128, 1, -128), (1, -128, -128),
                (-1, 127, -127), (127, -1, -127), (0, -128, 0), (-128, 0, 0), (-1, 1, -1)]


def test_exact_signed_corners():
    for a, b, product in SIGN_CORNERS:
        got = roup_product(a, b, 0, 0, True)
        assert got == product, f"ROUP(0, 0) signed: {a} x {b} gave {got}, expected {product}"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_roup00_is_exact_on_all_pairs(signed):
    # the scalar path, on Python ints, over every pair
    values = [int(v) for v in operand_values(signed)]
    for a in values:
        for b in values:
            got = roup_product(a, b, 0, 0, signed)
            assert got == a * b, f"ROUP(0, 0) {'signed' if signed else 'unsigned'}: " \
                                 f"(a, b) = ({a}, {b}) gave {got}, expected {a * b}"
    # and the vectorised path the tables use
    table = Roup().reference_table(make_spec("roup", signed, p=0, r=0))
    assert first_difference(table, exact_table(signed)) is None
    assert table[0xFF, 0xFF] == (1 if signed else 65025)
    if signed:
        assert table[0x80, 0x80] == 16384


def _by_definition(a: int, b: int, p: int, r: int, signed: bool) -> int:
    """ROUP from its words, with exact rationals: digits of B, pp_j = d_j*A*4^j for j >= P,
    each rounded to the nearest multiple of 2^R with ties going up, summed mod 2^16."""
    bits = [(b >> k) & 1 for k in range(10)]  # Python's >> sign-extends a negative b
    total = 0
    for j in range(p, 4 if signed else 5):
        d = -2 * bits[2 * j + 1] + bits[2 * j] + (bits[2 * j - 1] if j else 0)
        pp = d * a * 4**j
        step = 2**r
        total += math.floor(Fraction(pp, step) + Fraction(1, 2)) * step if r else pp
    total %= 1 << 16
    return total - (1 << 16) if signed and total >= 1 << 15 else total


@pytest.mark.parametrize("signed,p,r", [(True, 0, 3), (True, 1, 5), (True, 2, 8), (False, 0, 8),
                                        (False, 1, 7), (False, 3, 8)])
def test_reference_matches_definition_exhaustively(signed, p, r):
    spec = make_spec("roup", signed, p=p, r=r)
    table = Roup().reference_table(spec)
    values = [int(v) for v in operand_values(signed)]
    for ia, a in enumerate(values):
        for ib, b in enumerate(values):
            want = _by_definition(a, b, p, r, signed)
            assert table[ia, ib] == want, f"{spec.describe()}: (a, b) = ({a}, {b}): table " \
                                          f"{table[ia, ib]}, definition {want}"


def test_hand_worked_rounding():
    # 3 * 1 = 3 rounds half up to 4 at R = 1; -3 -> -1.5 * 2 rounds up to -2
    assert roup_product(3, 1, 0, 1, True) == 4
    assert roup_product(-3, 1, 0, 1, True) == -2
    # B = 2: d0 = -2, d1 = 1 -> pp0 = -2A, pp1 = 4A; A = 5, R = 3: -10 -> -8, 20 -> 24
    assert roup_product(5, 2, 0, 3, True) == 16
    # perforation of pp0 (P = 1): B = 3 -> d0 = -1, d1 = 1: only 4A survives
    assert roup_product(7, 3, 1, 0, False) == 28


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_rounding_below_2p_changes_nothing(signed):
    hi_p = 2 if signed else 3
    v = operand_values(signed).astype(np.int64)
    for p in range(1, hi_p + 1):
        plain = roup_product(v[:, None], v[None, :], p, 0, signed)
        for r in range(1, 2 * p + 1):
            rounded = roup_product(v[:, None], v[None, :], p, r, signed)
            assert first_difference(rounded, plain) is None, (p, r)
            spec = make_spec("roup", signed, p=p, r=r)
            assert spec["r"] == 0 and spec["p"] == p
            assert spec.notes and f"treated as ROUP({p}, 0)" in spec.notes[0]
        assert make_spec("roup", signed, p=p, r=2 * p + 1)["r"] == 2 * p + 1


def test_roup_parameter_ranges():
    with pytest.raises(ValueError, match=r"^roup parameter p must be in 0\.\.2 for a signed "
                                         r"multiplier, not 3 "):
        make_spec("roup", True, p=3, r=0)
    assert make_spec("roup", False, p=3, r=8)["p"] == 3
    with pytest.raises(ValueError, match=r"^roup parameter p must be in 0\.\.3 for an? unsigned "
                                         r"multiplier, not 4 "):
        make_spec("roup", False, p=4, r=0)
    with pytest.raises(ValueError, match=r"^roup parameter r must be in 0\.\.8 for a signed "
                                         r"multiplier, not 9 "):
        make_spec("roup", True, p=0, r=9)
    with pytest.raises(ValueError, match=r"^roup parameter r must be in 0\.\.8 .* not -1 "):
        make_spec("roup", False, p=0, r=-1)
