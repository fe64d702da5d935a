"""Run layer jobs through the generated accelerator in Verilator, driven by cocotb.

The host side of ``sim/accel_tb.py``: builds the generated Verilog on Verilator and runs the
testbench through :mod:`rtlgen.sim.runner`, hands the jobs over in a JSON file and reads back
each job's output bytes and cycle counters. Comparing them with a golden model is the caller's
business (tests, hardware-in-the-loop).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtlgen.errors import ToolError
from rtlgen import resources
from rtlgen.sim import runner
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.generate import TOP_MODULE, GeneratedDesign
from rtlgen.accel.job import ConvJob

__all__ = ["JobResult", "VerilatorAccel", "jobs_payload", "read_results"]

TEST_MODULE = f"{resources.TB_PACKAGE}.accel_tb"


@dataclass(frozen=True)
class JobResult:
    name: str
    output: np.ndarray      # int8 [out_h, out_w, out_c]
    cycles: int             # from start to the last byte written
    issued: int             # products issued (cycles the lanes were busy)


class VerilatorAccel:
    """A Verilator build of one generated design; :meth:`run` simulates jobs on it."""

    def __init__(self, design: GeneratedDesign, build_dir: str | os.PathLike, config: AccelConfig):
        self.design = design
        # absolute: the simulator runs in another folder and reads the files the environment names
        self.build_dir = Path(build_dir).resolve()
        self.config = config
        self._built = False

    def build(self) -> None:
        waivers = self.design.out_dir / "lint_waivers.vlt"
        # Only the top's ports are driven and read by the testbench: keeping the internals
        # private lets Verilator optimise them (the backend does not pass --public-flat-rw).
        public = self.build_dir / "public_ports.vlt"
        self.build_dir.mkdir(parents=True, exist_ok=True)
        public.write_text(f'`verilator_config\npublic_flat_rw -module "{TOP_MODULE}" -var "*"\n')
        runner.build("verilator", self.design.sources, TOP_MODULE, self.build_dir,
                     build_args=[str(waivers), str(public), "-Wno-fatal"], always=False)
        self._built = True

    def run(self, jobs: list[tuple[str, ConvJob]], *, timeout_cycles: int | None = None) -> list[JobResult]:
        if not self._built:
            self.build()
        jobs_file = self.build_dir / "jobs.json"
        results_file = self.build_dir / "results.json"
        jobs_file.write_text(jobs_payload(jobs, self.config, timeout_cycles))
        if results_file.exists():
            results_file.unlink()
        runner.test("verilator", TEST_MODULE, TOP_MODULE, self.build_dir, self.build_dir,
                    env={"RTLGEN_ACCEL_JOBS": str(jobs_file), "RTLGEN_ACCEL_RESULTS": str(results_file)})
        return read_results(results_file, jobs)


def jobs_payload(jobs: list[tuple[str, ConvJob]], config: AccelConfig,
                 timeout_cycles: int | None = None) -> str:
    """The JSON the testbench ``sim/accel_tb.py`` reads: per job, what to load and how long to wait."""
    payload = []
    for name, job in jobs:
        d = job.descriptor
        limit = timeout_cycles or 2 * job.cycle_estimate(config.lanes) + 10_000
        payload.append({
            "name": name, "descriptor": job.descriptor.words(),
            "in_base": d.in_base, "out_base": d.out_base, "w_base": d.w_base,
            "p_base": d.p_base, "activations": job.activations.tolist(),
            "weights": [f"{w:x}" for w in job.weight_words],
            "params": [f"{p:x}" for p in job.param_words],
            "out_bytes": job.output_bytes, "act_bytes": config.activation_bytes,
            "timeout_cycles": limit,
        })
    return json.dumps(payload)


def read_results(results_file: Path, jobs: list[tuple[str, ConvJob]]) -> list[JobResult]:
    """What the testbench wrote for ``jobs``; :class:`ToolError` when it wrote nothing (its
    test passed, else :func:`rtlgen.sim.runner.test` has raised already)."""
    if not results_file.exists():
        raise ToolError(f"the cocotb testbench passed but wrote no results to {results_file}")
    raw = json.loads(results_file.read_text())
    return [JobResult(r["name"], job.output(r["output"]), r["cycles"], r["issued"])
            for r, (_, job) in zip(raw, jobs)]
