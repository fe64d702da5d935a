"""The netlist reader: accepted constructs, and the malformed corpus with its exact errors."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rtlgen.errors import NetlistError
from rtlgen.netlist.evaluate import simulate
from rtlgen.netlist.multiplier import netlist_table
from rtlgen.netlist.reader import parse_netlist_text, read_netlist
from rtlgen.netlist.table import exact_table

MALFORMED = sorted((Path(__file__).parents[1] / "data" / "malformed").glob("*.v"))
_EXPECT = re.compile(r"^// expect: (?:(\d+): )?(.*)$", re.M)


def test_corpus_is_large_enough():
    assert len(MALFORMED) >= 15


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.stem)
def test_malformed_netlist_is_rejected_with_its_error(path: Path):
    m = _EXPECT.search(path.read_text())
    assert m, f"{path} lacks an '// expect:' line"
    line, message = m.groups()
    where = re.escape(str(path)) + (f":{line}: " if line else ": ")
    with pytest.raises(NetlistError) as info:
        netlist_table(path)
    assert re.match("^" + where + message, str(info.value)), str(info.value)


def test_rejected_netlist_leaves_no_table(tmp_path: Path):
    from rtlgen.cli import main

    out = tmp_path / "T.npy"
    assert main(["table", str(MALFORMED[0]), "--out", str(out)]) != 0
    assert not out.exists()


def _mult(body: str, header: str = "module m(A, B, O);\n input [7:0] A; input [7:0] B; output [15:0] O;\n") -> np.ndarray:
    from rtlgen.netlist.evaluate import tabulate

    return tabulate(parse_netlist_text(header + body + "\nendmodule\n", file="t.v"), signed=False)


def test_word_level_plus_with_concatenation_on_both_sides():
    t = _mult("wire [8:0] s;\n assign {s[8], s[7:0]} = A + B;\n assign O = {7'd0, s};")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert np.array_equal(t, a + b)


def test_bitwise_not_extends_before_inverting():
    # Verilog: ~A in a 16-bit context zero-extends A first, so the upper byte reads all ones.
    t = _mult("assign O = ~A;")
    a = np.arange(256)[:, None]
    assert np.array_equal(t, np.broadcast_to(0xFFFF ^ a, (256, 256)))


def test_non_ansi_port_may_be_declared_again_as_a_wire():
    # IEEE 1364-2001 12.3.3, and what Yosys writes: a direction, then a net of the same range
    t = _mult("assign O = {A, B};", header="module m(A, B, O);\n input [7:0] A; wire [7:0] A;\n"
              " input [7:0] B;\n output [15:0] O; wire [15:0] O;\n")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert np.array_equal(t, (a << 8) | b)


def test_ansi_header_ternary_xnor_and_reduction():
    t = _mult("assign O = {6'd0, ^B, &A, B[0] ? A : ~A};",
              header="module m(input [7:0] A, input [7:0] B, output [15:0] O);\n")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    parity = np.vectorize(lambda v: bin(v).count("1") & 1)(b)
    low = np.where(b & 1, a, 0xFF ^ a)
    assert np.array_equal(t, low | ((a == 255) << 8) | (parity << 9))


def test_gate_primitives_and_positional_submodule():
    body = """
  wire s, c, n;
  half h0 (A[0], B[0], s, c);
  nand g1 (n, A[1], B[1]);
  assign O = {13'd0, n, c, s};
endmodule
module half(a, b, s, c);
  input a, b; output s, c;
  xor (s, a, b);
  and (c, a, b);"""
    t = _mult(body)
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    expect = ((a ^ b) & 1) | ((a & b & 1) << 1) | ((1 - ((a >> 1) & (b >> 1) & 1)) << 2)
    assert np.array_equal(t, expect)


def test_evoapprox_exact_multipliers_tabulate_to_products(evoapprox_dir: Path):
    unsigned = evoapprox_dir / "8x8_unsigned/pareto_pwr_mae/mul8u_1JJQ.v"
    signed = evoapprox_dir / "8x8_signed/pareto_pwr_mae/mul8s_1KV6_pdk45.v"
    for path, s in ((unsigned, False), (signed, True)):
        t = netlist_table(path)
        bad = np.argwhere(t != exact_table(s))
        assert bad.size == 0, f"{path.name}: first difference at (a, b) = {tuple(bad[0])}"
    assert netlist_table(signed)[0x80, 0x80] == 16384  # (-128) x (-128)


def test_output_named_z_and_header_order(evoapprox_dir: Path):
    zfiles = [p for p in evoapprox_dir.rglob("*.v") if "output [15:0] Z;" in p.read_text()]
    assert zfiles, "the v2022 release has a multiplier whose output is Z"
    n = read_netlist(zfiles[0])
    assert list(n.outputs) == ["Z"] and n.inputs == {"A": 8, "B": 8}


def test_ports_bound_by_name_not_position():
    # the header lists B before A: swapping would turn A - (A & ~B) into B - ...
    t = _mult("assign O = {8'd0, A & ~B};", header="module m(B, O, A);\n input [7:0] A; input [7:0] B; output [15:0] O;\n")
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    assert np.array_equal(t, a & (0xFF ^ b))


def test_simulate_checks_input_ranges():
    n = parse_netlist_text("module m(input [1:0] x, output y);\n assign y = ^x;\nendmodule\n")
    assert list(simulate(n, {"x": np.array([0, 1, 2, 3])})["y"]) == [0, 1, 1, 0]
    with pytest.raises(ValueError, match=r"^input port x is 2 bits wide; values must lie in 0\.\.3$"):
        simulate(n, {"x": np.array([4])})
