"""cocotb test for hdl/rtlgen_hil_tb.v: hardware in the loop (the loop itself is rtlgen.hil.simside.simulate).

Runs inside the simulator. The host side (rtlgen.hil.host.run_hil) names a JSON spec in the
environment variable RTLGEN_HIL_SPEC (accelerator folder, bitstream, optionally weights.bin,
model, images, range, result file) and reads the result file back. With weights.bin, both images
are first streamed into the harness's AXI front end (ports s_axil_*, s_axis_*).
"""
from __future__ import annotations

import cocotb

from rtlgen.hil.simside import cocotb_entry


@cocotb.test()
async def hardware_in_the_loop(dut) -> None:
    await cocotb_entry(dut)
