"""Yosys wrapper: flattening netlists into one module for simulation."""
from __future__ import annotations

import pytest

from rtlgen.errors import NetlistError, ToolError
from rtlgen.paths import liberty_path
from rtlgen.netlist.yosys import flatten_netlist, run_yosys


@pytest.mark.data
def test_flatten_pdk45_netlist_with_liberty_cells(evoapprox_dir, tmp_path):
    src = next(evoapprox_dir.rglob("mul8u_1JJQ_pdk45.v"))
    ports = flatten_netlist(src, None, tmp_path / "flat.v", name="m0", liberty=liberty_path())
    assert ports.inputs == {"A": 8, "B": 8} and ports.outputs == {"O": 16}
    text = (tmp_path / "flat.v").read_text()
    assert text.count("module ") == 1 and "module m0(" in text
    assert "FAX1" not in text and "[2031:0]" not in text


@pytest.mark.data
def test_flatten_without_liberty_names_the_missing_cell(evoapprox_dir, tmp_path):
    src = next(evoapprox_dir.rglob("mul8u_1JJQ_pdk45.v"))
    with pytest.raises(NetlistError, match=r"mul8u_1JJQ_pdk45\.v: cannot flatten with Yosys: Yosys failed \(exit 1\) on a script starting "
                                           r"'read_verilog [^']*': ERROR: Module `\\(FAX1|HAX1|AND2X1)' "
                                           r"referenced in module `\\mul8u_1JJQ' in cell `\\n\d+' is not part of the design\.\n"):
        flatten_netlist(src, None, tmp_path / "flat.v")
    assert not (tmp_path / "flat.v").exists()


def test_flatten_keeps_the_named_top(tmp_path):
    src = tmp_path / "two.v"
    src.write_text("module half(input a, input b, output s, output c);\n assign s = a ^ b; assign c = a & b;\nendmodule\n"
                   "module top(input [1:0] x, output [1:0] y);\n half h(.a(x[0]), .b(x[1]), .s(y[0]), .c(y[1]));\n"
                   "endmodule\n")
    ports = flatten_netlist(src, "top", tmp_path / "flat.v")
    assert ports.inputs == {"x": 2} and ports.outputs == {"y": 2}
    assert (tmp_path / "flat.v").read_text().count("module ") == 1


def test_yosys_errors_carry_the_log(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module m(input a, output y);\n assign y = a &;\nendmodule\n")
    with pytest.raises(ToolError, match=r"^Yosys failed \(exit 1\) on a script starting 'read_verilog [^']*bad\.v': "
                                        r"[^\n]*bad\.v:2: ERROR: syntax error"):
        run_yosys(f"read_verilog {bad}")


def test_undriven_output_is_rejected(tmp_path):
    src = tmp_path / "undriven.v"
    src.write_text("module m(A, B, O);\n  input [7:0] A; input [7:0] B; output [15:0] O;\n  wire [15:0] p;\n"
                   "  assign p = A * B;\n  assign O[15:1] = p[15:1];\nendmodule\n")
    with pytest.raises(NetlistError, match=r"undriven\.v: cannot flatten with Yosys: .*ERROR: Found 1 problems in "
                                           r"'check -assert'\.(?s:.*)Wire m\.\\O \[0\] is used but has no driver"):
        flatten_netlist(src, None, tmp_path / "flat.v")
    assert not (tmp_path / "flat.v").exists()
