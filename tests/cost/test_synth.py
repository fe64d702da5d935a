from __future__ import annotations

import pytest

from rtlgen.errors import NetlistError, ToolError
from rtlgen.cost.synth import guess_top, synthesize


def test_guess_top_skips_cell_modules(evoapprox_dir):
    path = next(evoapprox_dir.rglob("mul8s_1KV6.v"))  # defines PDKGENHAX1 etc. before the top
    assert guess_top(path) == "mul8s_1KV6"


def test_maps_to_library_cells_only(evoapprox_dir):
    mapped = synthesize(next(evoapprox_dir.rglob("mul8s_1L12_pdk45.v")))  # OSU018 cells, FAX1, HAX1, ...
    assert mapped.top == "mul8s_1L12"
    assert set(mapped.cell_counts) <= set(mapped.library.cells)
    assert mapped.n_cells == sum(mapped.cell_counts.values()) > 20
    assert "module mul8s_1L12" in mapped.verilog and "{" not in mapped.verilog.split("assign", 1)[-1].split("=")[0]


def test_sequential_logic_is_rejected(tmp_path):
    path = tmp_path / "reg.v"
    path.write_text("module reg8(A, B, O); input [7:0] A; input [7:0] B; output reg [15:0] O;\n"
                    "always @(posedge A[0]) O <= {A, B}; endmodule\n")
    with pytest.raises(NetlistError, match=r"reg\.v: after synthesis the design holds sequential logic"):
        synthesize(path)


def test_yosys_errors_are_reported(tmp_path):
    path = tmp_path / "bad.v"
    path.write_text("module bad(A, O); input A; output O; assign O = nosuch; endmodule\n")
    with pytest.raises(ToolError, match=r"^yosys failed to synthesize .*bad\.v .*nosuch"):
        synthesize(path)
