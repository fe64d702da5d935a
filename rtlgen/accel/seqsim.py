"""A whole network through the generated accelerator's sequencer in a simulator: the host side
of ``rtlgen/sim/tb/accel_seq_test.py``.

:class:`SequencerSim` generates the accelerator with its AXI front end in the top
(:func:`rtlgen.accel.generate.generate_accelerator` with ``axi=True``: the front end then holds
the sequencer), builds it once (:mod:`rtlgen.sim.runner`) and runs a model's two images on it:
both streamed through the front end, then per input: written through ``ACT_DATA``, ``START``,
``NET_DONE`` polled, the output read back, all by :class:`rtlgen.hil.driver.AccelDriver` over
cocotbext-axi. What the device said comes back as a dict.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rtlgen import resources
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.generate import LINT_WAIVERS, TOP_MODULE, generate_accelerator
from rtlgen.accel.tb import device_public_vlt
from rtlgen.errors import ToolError
from rtlgen.sim import runner
from rtlgen.sim.simulators import get_simulator

__all__ = ["SequencerSim", "TEST_MODULE"]

TEST_MODULE = f"{resources.TB_PACKAGE}.accel_seq_test"


class SequencerSim:
    """One simulator build of the accelerator ``config`` (multipliers from ``catalog``) in
    ``build_dir``; ``simulator``: ``"icarus"`` or ``"verilator"``."""

    def __init__(self, config: AccelConfig, catalog: Any, build_dir: str | os.PathLike, *,
                 simulator: str = "icarus"):
        self.config, self.catalog = config, catalog
        # absolute: the simulator runs in another folder and reads the files the environment names
        self.build_dir = Path(build_dir).resolve()
        self.simulator = get_simulator(simulator)
        self.design = None

    def build(self) -> None:
        self.design = generate_accelerator(self.config, self.catalog, self.build_dir / "accel", axi=True)
        sources = [self.build_dir / "accel" / line.strip()
                   for line in (self.build_dir / "accel" / "files.f").read_text().splitlines() if line.strip()]
        build_args: list[str] = []
        if self.simulator.name == "verilator":
            waivers = self.build_dir / "accel" / "lint_waivers.vlt"
            waivers.write_text(LINT_WAIVERS)
            # only the ports the testbench uses are visible to cocotb (the backend leaves out
            # --public-flat-rw)
            public = self.build_dir / "accel" / "public.vlt"
            public.write_text(device_public_vlt(TOP_MODULE))
            sources = [public, waivers, *sources]
            build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0"]
        runner.build(self.simulator, sources, TOP_MODULE, self.build_dir / "sim", build_args=build_args,
                     timescale=("1ns", "1ps"))

    def run(self, networks: list[tuple[bytes, bytes, list[bytes]] | tuple[bytes, bytes, list[bytes], int]], *,
            poll_cycles: int = 2000, max_polls: int = 10_000) -> dict[str, Any]:
        """Per network ``(config.bin, weights.bin, inputs)``: load both images, then run each
        input (int8 bytes in the network input's NHWC order; None: start without writing one);
        ``(config.bin, weights.bin, inputs, slots)``: the inputs as one batch with that many
        activation slots (one run, its ``outputs`` a list of hex);
        all in one simulation. The
        testbench's report: ``networks``, per network ``config`` and ``weights`` (load verdicts)
        and ``runs`` (per input: ``done``, ``cycles``, ``layers``, ``code``, ``offset``,
        ``output`` hex)."""
        if self.design is None:
            self.build()
        work = self.build_dir / "run"
        work.mkdir(parents=True, exist_ok=True)
        spec = []
        for i, (config_bin, weights_bin, inputs, *slots) in enumerate(networks):
            (work / f"config{i}.bin").write_bytes(config_bin)
            (work / f"weights{i}.bin").write_bytes(weights_bin)
            spec.append({"config": str(work / f"config{i}.bin"), "weights": str(work / f"weights{i}.bin"),
                         "inputs": [None if x is None else bytes(x).hex() for x in inputs],
                         **({"slots": slots[0]} if slots else {})})
        job = work / "job.json"
        results = work / "results.json"
        job.write_text(json.dumps({"networks": spec, "poll_cycles": poll_cycles, "max_polls": max_polls}))
        if results.exists():
            results.unlink()
        runner.test(self.simulator, TEST_MODULE, TOP_MODULE, self.build_dir / "sim", work,
                    env={"RTLGEN_SEQ_JOB": str(job), "RTLGEN_SEQ_RESULTS": str(results)},
                    timescale=("1ns", "1ps"))
        if not results.exists():
            raise ToolError(f"the cocotb test {TEST_MODULE} wrote no results; see {work / 'results.xml'}")
        return json.loads(results.read_text())
