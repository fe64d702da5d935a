"""cocotb testbench of the generated accelerator: runs layer jobs through the host ports.

Runs inside the simulator (built and started by :mod:`rtlgen.accel.rtlsim`). Reads the jobs from
the JSON file named by ``$RTLGEN_ACCEL_JOBS`` and writes, for each, the output bytes, ``cycles``
and ``issued`` to ``$RTLGEN_ACCEL_RESULTS``; the host compares them with the golden model.

All inputs change just after a falling edge and outputs are sampled there, half a cycle after
the rising edge that updated them; the design reads its inputs on rising edges.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge, with_timeout


async def _write(dut, we, addr, data, items):
    for a, v in items:
        await FallingEdge(dut.clk)
        we.value = 1
        getattr(dut, addr).value = a
        data.value = v
    await FallingEdge(dut.clk)
    we.value = 0


@cocotb.test()
async def run_jobs(dut):
    jobs = json.loads(Path(os.environ["RTLGEN_ACCEL_JOBS"]).read_text())
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("cfg_we", "start", "act_we", "wgt_we", "par_we"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    results = []
    for job in jobs:
        await _write(dut, dut.cfg_we, "cfg_addr", dut.cfg_data, job["descriptor"])
        await _write(dut, dut.act_we, "act_addr", dut.act_wdata,
                     enumerate(job["activations"], job["in_base"]))
        await _write(dut, dut.wgt_we, "wgt_addr", dut.wgt_wdata,
                     ((job["w_base"] + i, int(w, 16)) for i, w in enumerate(job["weights"])))
        await _write(dut, dut.par_we, "par_addr", dut.par_wdata,
                     ((job["p_base"] + i, int(p, 16)) for i, p in enumerate(job["params"])))
        await FallingEdge(dut.clk)
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        assert dut.busy.value == 1, "the accelerator did not start"
        await with_timeout(RisingEdge(dut.done), job["timeout_cycles"] * 10, "ns")
        await FallingEdge(dut.clk)
        cycles = dut.cycles.value.to_unsigned()
        issued = dut.issued.value.to_unsigned()
        out = []
        dut.act_addr.value = job["out_base"]
        for i in range(job["out_bytes"]):
            await FallingEdge(dut.clk)      # the rising edge between read out_base + i
            out.append(dut.act_rdata.value.to_unsigned())
            dut.act_addr.value = (job["out_base"] + i + 1) % job["act_bytes"]
        results.append({"name": job["name"], "cycles": cycles, "issued": issued, "output": out})
    Path(os.environ["RTLGEN_ACCEL_RESULTS"]).write_text(json.dumps(results))
