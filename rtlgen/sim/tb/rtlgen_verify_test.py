"""cocotb test for hdl/rtlgen_verify_tb.v: run the sweep, then report what the testbench counted.

Runs inside the simulator. The host side (rtlgen.sim.verify) names the result file in the
environment variable RTLGEN_VERIFY_RESULT and parses it; this module only reads signals.
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


def _words(value, width: int, count: int) -> list[str]:
    """Split a packed vector into ``count`` binary strings of ``width`` bits, element 0 first."""
    bits = str(value).lower()
    assert len(bits) == width * count, (len(bits), width, count)
    return [bits[len(bits) - (i + 1) * width: len(bits) - i * width] for i in range(count)]


@cocotb.test()
async def exhaustive(dut) -> None:
    n = len(dut.mismatches) // 32
    clock = Clock(dut.clk, 2, unit="ns", impl="gpi")
    clock.start(start_high=False)
    await ClockCycles(dut.clk, 1)
    assert int(dut.loaded.value) == 1, "the testbench could not read its table file (+tables=FILE)"
    if not int(dut.done.value):
        await RisingEdge(dut.done)
    await ClockCycles(dut.clk, 1)
    clock.stop()
    result = {
        "multipliers": n,
        "mismatches": [int(w, 2) for w in _words(dut.mismatches.value, 32, n)],
        "first_index": _words(dut.first_index.value, 16, n),
        "first_got": _words(dut.first_got.value, 16, n),
        "first_expected": _words(dut.first_expected.value, 16, n),
    }
    with open(os.environ["RTLGEN_VERIFY_RESULT"], "w") as f:
        json.dump(result, f)
