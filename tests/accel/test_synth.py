"""Accelerator synthesis: the buffered ABC mapping that timing uses bounds every net's fanout.

The whole-accelerator synthesis on every PDK is tests/test_pdk.py's (slow); here a tiny
sequential design goes through the same ``abc`` command (:func:`rtlgen.accel.synth._abc_command`)
in a few seconds.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rtlgen.accel.synth import FMAX_CLOCK_TARGET_NS, _abc_command
from rtlgen.cost.pdk import get_pdk
from rtlgen.netlist.liberty import read_liberty
from rtlgen.netlist.yosys import run_yosys

# One flip-flop ``s`` drives 256 XOR gates; the synchronous reset reaches all 257 flip-flops
# through logic (as Amaranth's reset does in the accelerator).
TINY = """
module tiny(input clk, input rst, input [255:0] a, output reg [255:0] y);
  reg s;
  always @(posedge clk)
    if (rst) begin s <= 1'b0; y <= 256'b0; end
    else begin s <= a[0]; y <= a ^ {256{s}}; end
endmodule
"""


def _max_loads(tmp_path: Path, clock_target_ns: float | None) -> tuple[Counter, dict]:
    lib = read_liberty(get_pdk("sky130hd").liberty())
    (tmp_path / "tiny.v").write_text(TINY)
    abc = _abc_command(lib.path, clock_target_ns, tmp_path / "abc.constr", None, "sky130hd")
    run_yosys(f"""read_verilog tiny.v
synth -flatten -top tiny
dfflibmap -liberty {lib.path}
{abc}
opt_clean -purge
write_json mapped.json
""", cwd=tmp_path)
    module = json.loads((tmp_path / "mapped.json").read_text())["modules"]["tiny"]
    loads: Counter = Counter()
    for cell in module["cells"].values():
        inputs = set(lib.cell(cell["type"]).inputs)
        for pin, bits in cell["connections"].items():
            if pin in inputs and isinstance(bits[0], int):
                loads[bits[0]] += 1
    return loads, module["ports"]


def test_the_clock_target_reaches_abc_as_a_delay_target_with_buffering(tmp_path):
    abc = _abc_command(Path("/x.lib"), 2.5, tmp_path / "abc.constr", None, "sky130hd")
    assert abc.startswith("abc -liberty /x.lib -constr ") and " -D 2500 " in abc
    assert "buffer,-p;upsize,{D};dnsize,{D}" in abc  # Yosys puts -D 2500 for each {D}
    assert (tmp_path / "abc.constr").read_text() == ("set_driving_cell sky130_fd_sc_hd__inv_1\n"
                                                     "set_load 1.7\n")  # fF: one dfxtp D pin
    assert _abc_command(Path("/x.lib"), None, tmp_path / "none", None, None) == "abc -liberty /x.lib"
    with pytest.raises(ValueError, match=r"^clock_target_ns must be a positive number of ns, not 0$"):
        _abc_command(Path("/x.lib"), 0, tmp_path / "abc.constr", None, None)


def test_buffered_mapping_bounds_the_fanout_of_registers_and_reset(tmp_path):
    for sub in ("plain", "buffered"):
        (tmp_path / sub).mkdir()
    plain, ports = _max_loads(tmp_path / "plain", None)
    buffered, _ = _max_loads(tmp_path / "buffered", FMAX_CLOCK_TARGET_NS)
    clk, rst = ports["clk"]["bits"][0], ports["rst"]["bits"][0]
    assert max(n for net, n in plain.items() if net != clk) >= 256   # s (and rst) drive it all
    assert max(n for net, n in buffered.items() if net != clk) <= 10  # ABC's buffer -N default
    assert buffered[rst] <= 10 and plain[rst] >= 100
