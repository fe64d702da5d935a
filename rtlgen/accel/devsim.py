"""Images through the accelerator's AXI front end in a simulator: the host side of
``rtlgen/sim/tb/accel_axi_test.py``.

:class:`DeviceSim` writes the front end's Verilog (:func:`rtlgen.accel.generate.device_verilog`)
for an accelerator hash, lane count and memory sizes, builds it once (:mod:`rtlgen.sim.runner`),
and runs any number of images (``config.bin`` or ``weights.bin``) through it in one simulation:
each loaded by :class:`rtlgen.hil.driver.AccelDriver` over cocotbext-axi (AXI4-Stream frame,
register polls), followed by a ``START`` attempt. What the registers said comes back as a dict
per case.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rtlgen import resources
from rtlgen.accel.generate import DEVICE_MODULE, generate_device
from rtlgen.errors import ToolError
from rtlgen.sim import runner
from rtlgen.sim.simulators import get_simulator

__all__ = ["DeviceSim", "TEST_MODULE"]

TEST_MODULE = f"{resources.TB_PACKAGE}.accel_axi_test"


class DeviceSim:
    """One simulator build of the front end for ``accel_hash`` with ``capacity`` bytes of
    configuration memory, ``lanes`` lanes and ``weights_capacity`` bytes of weights store."""

    def __init__(self, accel_hash: str, capacity: int, build_dir: str | os.PathLike, *, lanes: int,
                 weights_capacity: int, simulator: str = "icarus"):
        self.accel_hash, self.capacity = accel_hash, capacity
        self.lanes, self.weights_capacity = lanes, weights_capacity
        # absolute: the simulator runs in another folder and reads the files the environment names
        self.build_dir = Path(build_dir).resolve()
        self.simulator = get_simulator(simulator)
        self._built = False

    def build(self) -> None:
        source = generate_device(self.accel_hash, self.capacity, self.build_dir, lanes=self.lanes,
                                 weights_capacity=self.weights_capacity)
        runner.build(self.simulator, [source], DEVICE_MODULE, self.build_dir, timescale=("1ns", "1ps"))
        self._built = True

    def run(self, cases: list[tuple[str, bytes]], *, readback: int = 64) -> dict[str, Any]:
        """Load each ``(name, image)`` in turn (``weights.bin`` when its magic is ``RTLW``, else
        ``config.bin``); the testbench's report (``cases``: per case ``kind``, ``accepted``,
        ``code``, ``offset``, ``bytes_received``, ``cycles``, ``status``, ``started``; for
        accepted ones the first ``readback`` bytes of the image's memory and its length)."""
        if not self._built:
            self.build()
        cases_file = self.build_dir / "cases.json"
        results = self.build_dir / "results.json"
        from rtlgen.accel.loader import DeviceModel

        cases_file.write_text(json.dumps([{"name": n, "data": bytes(d).hex(), "readback": readback,
                                           "kind": "weights" if DeviceModel.is_weights(d) else "config"}
                                          for n, d in cases]))
        if results.exists():
            results.unlink()
        runner.test(self.simulator, TEST_MODULE, DEVICE_MODULE, self.build_dir, self.build_dir,
                    env={"RTLGEN_AXI_CASES": str(cases_file), "RTLGEN_AXI_RESULTS": str(results)},
                    timescale=("1ns", "1ps"))
        if not results.exists():
            raise ToolError(f"the cocotb test {TEST_MODULE} wrote no results; see {self.build_dir / 'results.xml'}")
        return json.loads(results.read_text())
