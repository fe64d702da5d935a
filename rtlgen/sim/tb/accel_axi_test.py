"""cocotb test of the accelerator's AXI front end (``rtlgen_accel_device``), driven through
:class:`rtlgen.hil.driver.AccelDriver` on cocotbext-axi masters.

Runs inside the simulator (built and started by :mod:`rtlgen.accel.devsim`). Reads the cases from
the JSON file named by ``$RTLGEN_AXI_CASES`` (``[{"name", "data": hex, "kind": "config" or
"weights", "readback"}]``), loads each image as one AXI4-Stream frame, records what the registers say, tries ``START`` after each, and writes
everything to ``$RTLGEN_AXI_RESULTS``; the host compares it with the Python decoder. One
simulator build serves every case.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from rtlgen.hil.driver import AccelDriver, CocotbAxiTransport


@cocotb.test()
async def load_cases(dut):
    cases = json.loads(Path(os.environ["RTLGEN_AXI_CASES"]).read_text())
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.run_busy.value = 0
    dut.run_done.value = 0
    transport = CocotbAxiTransport(dut)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    drv = AccelDriver(transport)
    out: dict = {"identity": await drv.identify(), "cases": []}
    # the start bit before any bitstream: refused
    out["start_before_config"] = await drv.start()
    out["status_before_config"] = await drv.status()
    # an unmapped register answers SLVERR
    out["unmapped_resp"] = int((await transport.lite.read(0xFC, 4)).resp)
    out["unmapped_write_resp"] = int((await transport.lite.write(0xFC, b"\x01\0\0\0")).resp)
    # a write to a read-only register is answered OKAY and ignored
    out["ro_write_resp"] = int((await transport.lite.write(0, b"\0\0\0\0")).resp)
    out["id_after_write"] = await drv.read_reg("ID")
    for case in cases:
        data = bytes.fromhex(case["data"])
        weights = case.get("kind") == "weights"
        res = await (drv.load_weights(data, check=False) if weights else drv.load_config(data))
        rec = {"name": case["name"], "kind": case.get("kind", "config"), "accepted": res.accepted, "code": int(res.code), "offset": res.offset,
               "bytes_received": res.bytes_received, "cycles": res.cycles,
               "status": await drv.status()}
        rec["started"] = await drv.start()
        rec["status_after_start"] = await drv.status()
        if res.accepted:
            n = min(case.get("readback", 0), len(data) - 16)
            read = drv.read_weights_store if weights else drv.read_config_memory
            rec["memory"] = (await read(0, n)).hex()
            rec["length"] = await drv.read_reg("WEIGHTS_LENGTH" if weights else "CONFIG_LENGTH")
        out["cases"].append(rec)
    await drv.soft_reset()
    out["after_soft_reset"] = {"status": await drv.status(), "error": list(await drv.error())[::2],
                               "starts": await drv.read_reg("STARTS"), "started": await drv.start()}
    Path(os.environ["RTLGEN_AXI_RESULTS"]).write_text(json.dumps(out))
