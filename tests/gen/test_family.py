"""The family registry: parameter validation and the reference models of the array families."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.gen import FAMILIES, get_family, make_spec
from rtlgen.gen.drum import drum_segment
from rtlgen.gen.matrix import matrix_value, product_terms
from rtlgen.gen.sweep import first_difference
from rtlgen.gen.truncated import compensation_constant
from rtlgen.netlist.table import exact_table, operand_values


def test_registry_lists_valid_names():
    assert set(FAMILIES) >= {"roup", "array", "baugh_wooley", "truncated", "bam", "drum"}
    with pytest.raises(ValueError, match=r"^unknown multiplier family 'booth'; valid: array, bam, "
                                         r"baugh_wooley, drum, roup, truncated$"):
        get_family("booth")


def test_bad_parameters_name_the_valid_range():
    with pytest.raises(ValueError, match=r"^truncated parameter k must be in 1\.\.8 for an "
                                         r"unsigned multiplier, not 0 "):
        make_spec("truncated", False, k=0, compensate=0)
    with pytest.raises(ValueError, match=r"^truncated parameter k must be in 1\.\.8 for a signed "
                                         r"multiplier, not 9 "):
        make_spec("truncated", True, k=9, compensate=1)
    with pytest.raises(ValueError, match=r"^bam parameter v must be in 0\.\.14 for an unsigned "
                                         r"multiplier, not 15 "):
        make_spec("bam", False, h=0, v=15)
    with pytest.raises(ValueError, match=r"^bam parameter h must be in 0\.\.7 .* not 8 "):
        make_spec("bam", False, h=8, v=0)
    with pytest.raises(ValueError, match=r"^bam multipliers are unsigned only, not signed$"):
        make_spec("bam", True, h=1, v=4)
    with pytest.raises(ValueError, match=r"^baugh_wooley multipliers are signed only, not "
                                         r"unsigned$"):
        make_spec("baugh_wooley", False)
    with pytest.raises(ValueError, match=r"^roup has no parameter 'k'; valid: p, r$"):
        make_spec("roup", True, p=0, r=0, k=1)
    with pytest.raises(ValueError, match=r"^roup needs parameter r \(.*; 0\.\.8 for signed\)$"):
        make_spec("roup", True, p=0)
    with pytest.raises(TypeError, match=r"^roup parameter p must be an integer, not str$"):
        make_spec("roup", True, p="1", r=0)
    with pytest.raises(TypeError, match=r"^signed must be a bool"):
        make_spec("roup", 1, p=0, r=0)


def test_module_names_carry_signedness():
    assert make_spec("roup", True, p=1, r=4).module_name == "mul8s_roup_p1_r4"
    assert make_spec("truncated", False, k=4, compensate=1).module_name == \
        "mul8u_truncated_k4_compensate1"
    assert make_spec("array", False).module_name == "mul8u_array"


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_full_matrix_is_the_exact_product(signed):
    v = operand_values(signed).astype(np.int64)
    total = matrix_value(v[:, None], v[None, :], lambda t: True, signed)
    wrapped = (total & 0xFFFF)
    if signed:
        wrapped = np.where(wrapped >= 1 << 15, wrapped - (1 << 16), wrapped)
    assert first_difference(wrapped, exact_table(signed)) is None


@pytest.mark.parametrize("family,signed", [("array", False), ("baugh_wooley", True)])
def test_exact_families_are_exact(family, signed):
    table = get_family(family).reference_table(make_spec(family, signed))
    assert first_difference(table, exact_table(signed)) is None


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_truncated_removes_exactly_the_low_columns(signed):
    v = operand_values(signed).astype(np.int64)
    a, b = v[:, None], v[None, :]
    pa, pb = a & 0xFF, b & 0xFF
    for k in (3, 6):
        table = get_family("truncated").reference_table(
            make_spec("truncated", signed, k=k, compensate=0)).astype(np.int64)
        removed = 0
        for t in product_terms(signed):
            if t.column < k:
                bit = ((pa >> t.i) & 1) & ((pb >> t.j) & 1)
                removed = removed + ((1 - bit) if t.inverted else bit) * (1 << t.column)
        assert np.array_equal(table, a * b - removed)
        assert not (table & ((1 << k) - 1)).any(), "output bits below k must be 0"


def test_compensation_constants():
    # unsigned k = 4: mean removed = (1*1 + 2*2 + 3*4 + 4*8) / 4 = 12.25 -> nearest multiple of 16
    assert compensation_constant(4, False) == 16
    # k = 8: (7 * 256 + 1) / 4 = 448.25 -> 512
    assert compensation_constant(8, False) == 512
    # signed k = 8: column 7 holds two inverted terms (probability 3/4): 448.25 + 2*128/2 = 576.25
    assert compensation_constant(8, True) == 512
    comp = get_family("truncated").reference_table(make_spec("truncated", False, k=6, compensate=1))
    plain = get_family("truncated").reference_table(make_spec("truncated", False, k=6, compensate=0))
    assert np.array_equal(comp.astype(np.int64) - plain, np.full((256, 256), 64))
    # where the constant rounds to 0, compensation is dropped, and the spec says so
    spec = make_spec("truncated", False, k=2, compensate=1)
    assert spec["compensate"] == 0 and "adds nothing" in spec.notes[0]


def test_bam_omits_rows_and_columns():
    v = operand_values(False).astype(np.int64)
    a, b = v[:, None], v[None, :]
    table = get_family("bam").reference_table(make_spec("bam", False, h=2, v=6)).astype(np.int64)
    expected = 0
    for i in range(8):
        for j in range(2, 8):
            if i + j >= 6:
                expected = expected + (((a >> i) & 1) * ((b >> j) & 1) << (i + j))
    assert np.array_equal(table, expected)
    spec = make_spec("bam", False, h=1, v=8)
    assert spec.values == {"h": 0, "v": 8} and "treated as BAM(0, 8)" in spec.notes[0]


def test_drum_segments_follow_the_leading_one():
    for k in (3, 4, 6):
        for x in range(256):
            seg, shift = drum_segment(x, k)
            if x < 1 << k:
                assert (seg, shift) == (x, 0), (k, x)
            else:
                lead = x.bit_length() - 1
                assert shift == lead - k + 1 and seg == (x >> shift) | 1, (k, x)
                assert seg >> (k - 1) == 1, "the segment keeps the leading one on top"
    table = get_family("drum").reference_table(make_spec("drum", False, k=4))
    # 13 * 200: 13 -> (1101, 0); 200 = 11001000 -> 1100 | 1 = 13 at shift 4: 13 * 13 << 4
    assert table[13, 200] == 13 * 13 << 4
    assert table[15, 15] == 225  # small operands are exact
    with pytest.raises(ValueError, match=r"^drum parameter k must be in 3\.\.7 for an unsigned "
                                         r"multiplier, not 8 "):
        make_spec("drum", False, k=8)
