"""Testbench harness of the generated accelerator: build it in Verilator, drive it from cocotb.

Two halves:

* host side: :class:`HarnessBuild` builds ``hdl/rtlgen_hil_tb.v`` around a generated design
  (:mod:`rtlgen.accel.generate`: the engine ``rtlgen_accel`` and, beside it, its AXI front end
  ``rtlgen_accel_device``, whose ``s_axil_*``/``s_axis_*`` ports the harness brings out) with
  Verilator through :mod:`rtlgen.sim.runner`, cached by a hash of every source, and
  :meth:`HarnessBuild.run` starts a cocotb test module on it. A design generated with its front
  end in the top (``gen accel --axi``: the on-chip sequencer runs whole networks) is built as it
  is, without the harness: its top ``rtlgen_accel`` is what cocotb drives (:attr:`HarnessBuild.device_top`);
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
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen import resources
from rtlgen.errors import ConfigError, ToolError
from rtlgen.paths import atomic_write_text
from rtlgen.sim import runner
from rtlgen.sim.simulators import VerilatorBackend
from rtlgen.accel.descriptor import FIELDS
from rtlgen.accel.job import ConvJob

__all__ = ["HARNESS_FILE", "HARNESS_TOP", "OPTIMISATION", "DEVICE_PUBLIC", "HarnessBuild", "FileDriver", "hex_lines",
           "device_public_vlt"]

HARNESS_FILE = resources.HDL_DIR / "rtlgen_hil_tb.v"
HARNESS_TOP = "rtlgen_hil_tb"
#: Address bits of the front end's AXI4-Lite port (:class:`rtlgen.accel.axi.AxiLiteRegisters`'s
#: default, which :class:`rtlgen.accel.loader.DeviceFrontend` uses); the harness's ``AXIL_ADDR``.
AXIL_ADDR_BITS = 8
#: g++ optimisation of the model, by ``optimize`` (:class:`~rtlgen.sim.simulators.VerilatorBackend`'s
#: ``opt_fast``, ``opt_slow``, ``opt_global``). ``True``: the per-cycle code (OPT_FAST) is
#: optimised, the one-off initialisation code (OPT_SLOW: e.g. the memories' initial contents) is
#: not, as compiling it is much of the build time and it runs once. ``False``: nothing is
#: optimised: a build several times quicker for short runs (tests, a few small images).
OPTIMISATION = {True: {"opt_fast": "-O2", "opt_slow": "-O0", "opt_global": "-O1"},
                False: {"opt_fast": "-O0", "opt_slow": "-O0", "opt_global": "-O0"}}
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


#: Only the harness's own signals are visible to cocotb: the Verilator backend leaves out
#: cocotb's ``--public-flat-rw``, which would make every net of the gate-level multipliers public
#: (build time, and Verilator's optimisations blocked; the HIL reads nothing inside).
_PUBLIC_VLT = '`verilator_config\npublic_flat_rw -module "rtlgen_hil_tb" -var "*"\n'
#: The signals of a device top (``gen accel --axi``) that the simulation touches.
DEVICE_PUBLIC = ("clk", "rst", "s_axil_*", "s_axis_*", "busy", "done")


def device_public_vlt(top: str) -> str:
    """The Verilator configuration that makes :data:`DEVICE_PUBLIC` of ``top`` visible to cocotb,
    and nothing else: a public variable may be written from outside at any time, so Verilator
    re-evaluates the logic behind it on every clock edge ("*" made every signal of the engine
    public: a whole-network run went from 184,000 to 243,000 cycles/s without it)."""
    return "`verilator_config\n" + "".join(f'public_flat_rw -module "{top}" -var "{v}"\n' for v in DEVICE_PUBLIC)


@dataclass
class HarnessBuild:
    """The Verilator model of the harness around the design in ``accel_dir``."""

    accel_dir: Path
    work_dir: Path
    optimize: bool = True
    #: ``"netlist"``: the multipliers' gate-level netlists, as generated; ``"table"``: each
    #: multiplier module replaced by its table model (:func:`rtlgen.accel.tables.table_models`:
    #: the same function, tabulated from those netlists, looked up instead of evaluated gate by
    #: gate; the rest of the RTL unchanged), for long runs
    multipliers: str = "netlist"
    #: the accelerator's multiplier tables (:func:`rtlgen.accel.tables.accel_tables`) when the
    #: caller has them: the table models are written from them instead of tabulating again
    tables: dict[str, Any] | None = None
    build_dir: Path | None = None
    build_seconds: float = 0.0
    reused: bool = False

    @cached_property
    def device_top(self) -> bool:
        """Whether the design's top holds the front end and the sequencer (``gen accel --axi``):
        then the top itself is built and driven (over AXI only), not the harness around it."""
        from rtlgen.accel.manifest import read_manifest

        return bool((read_manifest(self.accel_dir).get("device") or {}).get("in_top"))

    @property
    def top(self) -> str:
        from rtlgen.accel.generate import TOP_MODULE

        return TOP_MODULE if self.device_top else HARNESS_TOP

    def _public_vlt(self) -> str:
        if self.device_top:
            return device_public_vlt(self.top)
        return _PUBLIC_VLT.replace(HARNESS_TOP, self.top)

    def sources(self) -> list[Path]:
        return list(self._sources)

    @cached_property
    def _sources(self) -> tuple[Path, ...]:
        """The build's Verilog sources (the table models written once, on first use)."""
        from rtlgen.accel.manifest import read_manifest

        doc = read_manifest(self.accel_dir)
        files = [self.accel_dir / f for f in doc["files"]]
        if self.multipliers == "table":
            from rtlgen.accel.tables import table_models

            files = [f for f in files if f.parent.name != "netlists"]
            files[:0] = table_models(self.accel_dir, Path(self.work_dir) / "table-models", self.tables)
        elif self.multipliers != "netlist":
            raise ValueError(f"multipliers must be 'netlist' or 'table', not {self.multipliers!r}")
        if self.device_top:
            # the top embeds its own front end: the standalone one beside it would be a second
            # module of the same name
            return tuple(files)
        device = doc.get("device")
        if not device or not (self.accel_dir / device["file"]).is_file():
            # folders generated before the front end existed: the harness instantiates it
            raise ConfigError("the accelerator folder has no AXI front end (manifest 'device' and its file); "
                              "expected a folder written by this rtlgen's 'rtlgen gen accel': regenerate it",
                              file=str(self.accel_dir / "manifest.json"))
        return (*files, self.accel_dir / device["file"], HARNESS_FILE)

    def simulator(self) -> VerilatorBackend:
        """The Verilator backend that builds the harness, optimised as :attr:`optimize` says."""
        return VerilatorBackend(**OPTIMISATION[self.optimize])

    def key(self) -> str:
        sim = self.simulator()
        h = hashlib.sha256()
        for part in (sim.version, *sim.model_make_variables(), *VERILATOR_ARGS, self._public_vlt()):
            h.update(part.encode() + b"\0")
        for p in self.sources():
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        return h.hexdigest()[:20]

    def build(self) -> Path:
        start = time.perf_counter()
        sources = self.sources()
        build_dir = Path(self.work_dir) / f"hil-verilator-{self.key()}"
        marker = build_dir / "rtlgen-build.ok"
        self.reused = marker.exists()
        if not self.reused:
            sim = self.simulator()
            build_dir.mkdir(parents=True, exist_ok=True)
            waivers = self.accel_dir / "lint_waivers.vlt"
            public = build_dir / "harness_public.vlt"
            atomic_write_text(public, self._public_vlt())
            parameters = {} if self.device_top else {"NCFG": len(FIELDS), "AXIL_ADDR": AXIL_ADDR_BITS}
            runner.build(sim, [public, *([waivers] if waivers.is_file() else []), *sources], self.top, build_dir,
                         parameters=parameters, build_args=VERILATOR_ARGS, timescale=("1ns", "1ps"),
                         always=True, runtime_cache=sim.runtime_dir(Path(self.work_dir)))
            atomic_write_text(marker, json.dumps([str(p) for p in sources]))
        self.build_dir = build_dir
        self.build_seconds = time.perf_counter() - start
        return build_dir

    def run(self, test_module: str, run_dir: Path, env: dict[str, str]) -> Path:
        """Run ``test_module`` (a cocotb module's dotted name) in ``run_dir``; its log path.
        :class:`ToolError` (from :func:`rtlgen.sim.runner.test`) when a test in it fails."""
        if self.build_dir is None:
            self.build()
        log = run_dir / "sim.log"
        runner.test("verilator", test_module, self.top, self.build_dir, run_dir, env=env, log=log,
                    results_xml=run_dir / "results.xml", timescale=("1ns", "1ps"))
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
