"""cocotb test module for tests/sim/test_runner.py (runs inside the simulator; not a pytest file).

The design ``runner_case`` (written by the tests) adds 1 to ``a`` and holds the plusarg ``+p=N``
in ``p``; the test checks both against what the host put in the environment, so the host makes it
fail by announcing a wrong value.
"""
from __future__ import annotations

import os

import cocotb
from cocotb.triggers import Timer


@cocotb.test()
async def adds_one_and_reads_the_plusarg(dut) -> None:
    dut.a.value = 41
    await Timer(1, unit="ns")
    assert dut.y.value.to_unsigned() == 42, f"y = {dut.y.value}"
    expected = int(os.environ["RUNNER_CASE_P"])
    assert dut.p.value.to_unsigned() == expected, f"p is {dut.p.value.to_unsigned()}, the host announced {expected}"
