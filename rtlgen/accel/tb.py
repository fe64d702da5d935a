"""Testbench harness of the generated accelerator: build it in Verilator, drive it from cocotb.

Two halves:

* host side: :class:`HarnessBuild` builds ``hdl/rtlgen_hil_tb.v`` around a generated design
  (:mod:`rtlgen.accel.generate`) with cocotb's Verilator runner (:mod:`rtlgen.sim.simulators`),
  cached by a hash of every source, and :meth:`HarnessBuild.run` starts a cocotb test module
  on it;
* simulator side: :class:`FileDriver` runs one :class:`~rtlgen.accel.job.ConvJob` per call. It
  writes the job's memory images and descriptor as hex files and pulses ``go``; the harness
  loads them in bulk, configures and starts the layer and dumps the output, all in Verilog.
  Python awaits only ``finished``: nothing of ours runs per simulated cycle, and the clock is
  cocotb's GPI clock (C++).

Any cocotb test on the accelerator (conv-layer checks, hardware in the loop) uses these two.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen import resources
from rtlgen.errors import ToolError
from rtlgen.paths import atomic_write_text
from rtlgen.accel.descriptor import FIELDS
from rtlgen.accel.job import ConvJob

__all__ = ["HARNESS_FILE", "HARNESS_TOP", "HarnessBuild", "FileDriver", "hex_lines"]

HARNESS_FILE = resources.HDL_DIR / "rtlgen_hil_tb.v"
HARNESS_TOP = "rtlgen_hil_tb"
#: C++ optimisation of the model (make variables). ``optimize=True``: the per-cycle code
#: (OPT_FAST) is optimised, the one-off initialisation code (OPT_SLOW: e.g. the memories' initial
#: contents) is not, as compiling it is much of the build time and it runs once. ``False``: nothing
#: is optimised: a build several times quicker for short runs (tests, a few small images).
OPT = "-O2"
MAKE_OPT = {True: ("OPT_FAST=-O2", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1"),
            False: ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")}
#: Verilator options: the multipliers' netlists are instantiated once per lane and bank slot;
#: not inlining modules keeps one copy of each netlist's code (build time and instruction cache).
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0", "--x-initial", "0",
                  "--inline-mult", "1")


def hex_lines(start: int, words: np.ndarray | list[int], width_bits: int) -> str:
    """A ``$readmemh`` file: ``@start`` then one word per line, ``width_bits`` wide."""
    digits = (width_bits + 3) // 4
    arr = np.asarray(words, dtype=object if width_bits > 63 else np.uint64)
    if arr.dtype != object:
        body = "\n".join(np.char.zfill(np.char.mod("%x", arr.astype(np.uint64)), digits).tolist()) if arr.size else ""
    else:
        body = "\n".join(format(int(w), f"0{digits}x") for w in arr)
    return f"@{start:x}\n{body}\n"


#: Only the harness's own signals are visible to cocotb. cocotb's runner passes
#: ``--public-flat-rw``, which makes every net of the gate-level multipliers public: that
#: multiplies build time and blocks Verilator's optimisations (the HIL reads nothing inside).
_PUBLIC_VLT = '`verilator_config\npublic_flat_rw -module "rtlgen_hil_tb" -var "*"\n'


def _only_harness_public(runner: Any, make_opt: tuple[str, ...]) -> None:
    build_command = runner._build_command

    def without_public_flat() -> list:
        cmds = build_command()
        cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
        cmds[-1] = [*cmds[-1], *make_opt]   # make: the last assignment on the command line wins
        return cmds

    runner._build_command = without_public_flat


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class HarnessBuild:
    """The Verilator model of the harness around the design in ``accel_dir``."""

    accel_dir: Path
    work_dir: Path
    optimize: bool = True
    build_dir: Path | None = None
    build_seconds: float = 0.0
    reused: bool = False

    def sources(self) -> list[Path]:
        from rtlgen.accel.manifest import read_manifest

        files = read_manifest(self.accel_dir)["files"]
        return [self.accel_dir / f for f in files] + [HARNESS_FILE]

    def key(self) -> str:
        from rtlgen.sim.simulators import get_simulator

        sim = get_simulator("verilator")
        h = hashlib.sha256()
        for part in (sim.version, OPT, *MAKE_OPT[self.optimize], *VERILATOR_ARGS, _PUBLIC_VLT):
            h.update(part.encode() + b"\0")
        for p in self.sources():
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()[:20]

    def build(self) -> Path:
        from rtlgen.sim.simulators import VerilatorBackend

        start = time.perf_counter()
        sources = self.sources()
        build_dir = Path(self.work_dir) / f"hil-verilator-{self.key()}"
        marker = build_dir / "rtlgen-build.ok"
        self.reused = marker.exists()
        if not self.reused:
            backend = VerilatorBackend()
            backend.opt = OPT  # type: ignore[misc]  # instance override of the class default
            runner = backend.runner(Path(self.work_dir) / f"verilator-runtime-{backend.runtime_key()}")
            _only_harness_public(runner, MAKE_OPT[self.optimize])
            log = build_dir / "build.log"
            build_dir.mkdir(parents=True, exist_ok=True)
            waivers = self.accel_dir / "lint_waivers.vlt"
            public = build_dir / "harness_public.vlt"
            atomic_write_text(public, _PUBLIC_VLT)
            args = list(VERILATOR_ARGS)
            try:
                runner.build(sources=[public, *([waivers] if waivers.is_file() else []), *sources],
                             hdl_toplevel=HARNESS_TOP, build_dir=build_dir, build_args=args,
                             parameters={"NCFG": len(FIELDS)},
                             timescale=("1ns", "1ps"), always=True, log_file=log)
            except (RuntimeError, SystemExit, OSError) as exc:
                raise ToolError(f"Verilator build of the HIL harness in {build_dir} failed ({exc}); "
                                f"end of {log}:\n{_tail(log)}") from exc
            atomic_write_text(marker, json.dumps([str(p) for p in sources]))
        self.build_dir = build_dir
        self.build_seconds = time.perf_counter() - start
        return build_dir

    def run(self, test_module: str, run_dir: Path, env: dict[str, str]) -> Path:
        """Run ``test_module`` (a cocotb module's dotted name) in ``run_dir``; its log path."""
        from rtlgen.sim.simulators import get_simulator

        if self.build_dir is None:
            self.build()
        run_dir.mkdir(parents=True, exist_ok=True)
        log = run_dir / "sim.log"
        runner = get_simulator("verilator").runner()
        try:
            runner.test(test_module=test_module, hdl_toplevel=HARNESS_TOP, hdl_toplevel_lang="verilog",
                        build_dir=self.build_dir, test_dir=run_dir, extra_env=env,
                        results_xml=str(run_dir / "results.xml"), log_file=log, timescale=("1ns", "1ps"))
        except (RuntimeError, SystemExit, OSError) as exc:
            raise ToolError(f"Verilator simulation in {run_dir} failed ({exc}); end of {log}:\n{_tail(log)}") from exc
        return log


class FileDriver:
    """Runs conv jobs on the harness (inside a cocotb test): bulk loads, one await per layer.

    ``folder`` is the simulator's working directory (where ``$readmemh`` looks). Weights are
    rewritten only when they change (a HIL run feeds one layer's images back to back).
    """

    def __init__(self, dut: Any, folder: str | os.PathLike, weight_bits: int):
        self.dut = dut
        self.folder = Path(folder)
        self.weight_bits = weight_bits
        self._weights_key: int | str | None = None
        self.cycles = 0
        self.layers = 0

    async def start(self) -> None:
        from cocotb.clock import Clock
        from cocotb.triggers import ClockCycles

        self.clock = Clock(self.dut.clk, 2, unit="ns", impl="gpi")
        self.clock.start(start_high=False)
        self.dut.go.value = 0
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 1)

    def stop(self) -> None:
        self.clock.stop()

    def _write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text)

    async def run(self, job: ConvJob, weights_key: int | str | None = None) -> tuple[np.ndarray, int]:
        """Run ``job``; returns (its int8 output [out_h, out_w, out_c], accelerator cycles).

        ``weights_key`` identifies the job's weight/parameter images: equal keys skip rewriting
        the files (the memories are loaded from them on every run regardless)."""
        from cocotb.triggers import RisingEdge

        d = job.descriptor
        words = [v for _a, v in d.words()]
        if len(words) != len(FIELDS):
            raise ValueError(f"descriptor has {len(words)} words, the harness expects {len(FIELDS)}")
        out_lo, out_hi = d.out_base, d.out_base + job.output_bytes - 1
        self._write("hil_cfg.hex", hex_lines(0, words + [out_lo, out_hi], 32))
        self._write("hil_act.hex", hex_lines(d.in_base, job.activations, 8))
        if weights_key is None or weights_key != self._weights_key:
            self._write("hil_wgt.hex", hex_lines(d.w_base, job.weight_words, self.weight_bits))
            self._write("hil_par.hex", hex_lines(d.p_base, job.param_words, 70))
            self._weights_key = weights_key
        out_file = self.folder / "hil_out.hex"
        if out_file.exists():
            out_file.unlink()
        self.dut.go.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.go.value = 0
        await RisingEdge(self.dut.finished)
        cycles = int(self.dut.cycles.value)
        raw = [int(t, 16) for t in out_file.read_text().split() if not t.startswith(("@", "//"))]
        if len(raw) != job.output_bytes:
            raise ToolError(f"the harness dumped {len(raw)} output bytes, expected {job.output_bytes}")
        self.cycles += cycles
        self.layers += 1
        return job.output(raw), cycles
