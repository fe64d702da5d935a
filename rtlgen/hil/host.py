"""Hardware in the loop: a network's MAC layers through the generated accelerator's RTL.

This docstring describes the layer-by-layer mode, on an accelerator generated without the
front end in its top. One generated with ``gen accel --axi`` runs the whole network on chip
instead, driven as a CPU would drive it (:mod:`rtlgen.hil.network`; ``--config`` required): the
job, the build (:class:`rtlgen.accel.tb.HarnessBuild` builds that top itself) and the report
are the same, with ``mode`` ``"network"``.

``rtlgen hil --accel build/accel --config DIR --model M.tflite --images X.npz --limit N``
(``DIR/config.bin`` and ``DIR/weights.bin``, :attr:`HilJob.weights` set), or ``--bitstream
CFG.bin`` (``config.bin`` alone, read by the host only; the flow's HIL step).

What runs where
---------------
The accelerator (a folder written by :func:`rtlgen.accel.generate.generate_accelerator`) is built
with Verilator inside the harness of :mod:`rtlgen.accel.tb`: the layer engine (``rtlgen_accel``)
and its AXI front end (``rtlgen_accel_device``) side by side. The cocotb module
``rtlgen.sim.tb.rtlgen_hil_test`` calls :func:`rtlgen.hil.simside.simulate` inside the
simulator's Python. There:

0. with ``weights.bin`` given, before anything else, ``config.bin`` and then ``weights.bin`` are
   streamed unchanged into the front end's AXI4-Stream port and its verdict read over AXI4-Lite
   (:func:`rtlgen.hil.simside.load_on_device`: :class:`rtlgen.hil.driver.AccelDriver` over
   cocotbext-axi), then ``CTRL.START`` is written, which the front end must take (its start pulse
   drives nothing in this harness). An image the hardware rejects stops the run:
   :func:`run_hil` raises :class:`~rtlgen.errors.BitstreamError` naming the file, the hardware's
   error code, its meaning and the byte offset. The host reads neither image before the
   simulation (only that both files exist and are not empty): the hardware judges them as they
   are. After the load, the host checks that ``weights.bin`` holds the model's weights (its model
   hash; the device cannot, it never sees the ``.tflite``);
1. the bitstream is read and checked against the accelerator (its config hash) and the model
   (:func:`rtlgen.emulate.from_bitstream.check_bitstream`), the multipliers' tables are
   tabulated from the accelerator's own netlists (their table hashes must be the manifest's),
   and the emulator is configured *from the bitstream*
   (:func:`rtlgen.emulate.from_bitstream.plans_from_bitstream`), so both sides read the same
   artifact;
2. the emulator runs the images (every tensor kept);
3. every CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1: the engine's depthwise mode) and
   FULLY_CONNECTED layer the bitstream describes runs on the RTL for every
   image, layer after layer in graph order (the layer's weights and parameters are loaded once,
   then its images back to back; a FULLY_CONNECTED runs as a 1x1 conv of a 1x1 image with the
   requantizer's single-rounding mode, as LiteRT rounds it):
   input = the layer's input tensor, weights = the model's (after the bitstream's weight remap),
   unit, encoding, multiplier selects and requantization = the bitstream's. Not from the images
   loaded in step 0: this harness holds the engine and the front end side by side, without the
   on-chip sequencer (:mod:`rtlgen.accel.sequencer`, in the top generated with ``--axi``; see
   :mod:`rtlgen.accel.seqsim`), so every layer's descriptor, weights and input go through the
   engine's host ports (as files the harness loads in bulk, :class:`rtlgen.accel.tb.FileDriver`).
   A layer split over units (config.bin's shares) runs share after share, each on its unit with
   its channel range (the engine's ``co_first``/``co_end`` registers; the device runs them at
   once), and its output gathers each share's channels; its cycles are the shares' together;
4. each RTL output is compared with the emulator's tensor byte for byte. The first difference
   stops the run with a :class:`~rtlgen.errors.VerificationError` naming the layer, image,
   position (y, x, channel), expected and got.

The other ops (ADD, pooling, PAD, a depthwise conv with depth multiplier > 1, and any MAC layer
the bitstream does not describe) run on the host with the emulator's op functions.
Because every RTL layer's output is checked equal to the emulator's tensor before the next layer
runs, the host ops compute on exactly the values the RTL produced: the accuracy reported is the
accuracy through the RTL. ``logits`` (per image) is the int8 output of the last FULLY_CONNECTED
layer as the RTL returned it when the bitstream describes that layer, else the emulator's
(``logits_source`` says which); ``pred`` is its argmax.

Figures (:class:`HilReport`): accuracy, accelerator cycles per image (the ``cycles`` counter
of each layer run, summed), simulated cycles per second (cycles / seconds spent in the
simulator's layer runs, loads and dumps included), images per minute (images / seconds of the
per-image work: the emulation of the batch plus every RTL layer run; with several workers, the
slowest one's). On a shared machine wall time depends on the load, so the same two figures are
also given per CPU-second of the simulator processes (``time.process_time``: what a core to
itself would give). The one-off costs are reported apart: the Verilator build (cached) and the
simulator's start-up (Python imports, model and bitstream loading). With ``workers`` > 1 the
images are split into contiguous chunks, one simulator process each. On a device that runs
whole networks (:mod:`rtlgen.hil.network`) each worker runs its chunk in batches (``batch``
inputs per ``START``, ``slots`` activation slots; the units work on consecutive inputs at once):
the cycles are the batches' ``RUN_CYCLES``, ``cycles_total`` their sum, ``units`` the compute
units that ran at the same time.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen.errors import BitstreamError, ConfigError, ModelError, ToolError, VerificationError
from rtlgen.accel.tables import accel_tables
from rtlgen.hil.simside import SPEC_ENV
from rtlgen.nn.images import load_images
from rtlgen.paths import atomic_write_text

__all__ = ["HilJob", "HilReport", "run_hil", "TEST_MODULE"]

TEST_MODULE = "rtlgen.sim.tb.rtlgen_hil_test"


@dataclass(frozen=True)
class HilJob:
    accel: Path            # generated accelerator folder (manifest.json, files.f, ...)
    bitstream: Path        # config.bin
    model: Path
    images: Path           # .npz with 'x' (and 'y' for accuracy)
    limit: int | None = None
    start: int = 0
    workers: int = 1
    work_dir: Path | None = None   # Verilator builds and run folders (default: accel/hil-work)
    optimize: bool = True          # optimised C++ (long runs) or a quicker build (short runs)
    #: the multipliers in the simulated RTL: their netlists, or their table models (HarnessBuild)
    multipliers: str = "netlist"
    progress: bool = True          # a progress bar of the layer runs
    keep_runs: bool = False        # keep the run folders (specs, logs, results); the build is always kept
    #: weights.bin: when given, both images are first loaded into the device's front end, which
    #: must accept them (module docstring); None: the bitstream is only read by the host
    weights: Path | None = None
    #: on a device that runs whole networks: inputs per START and activation slots
    #: (:func:`rtlgen.hil.network.batch_shape`; None: its defaults)
    batch: int | None = None
    slots: int | None = None

    @classmethod
    def from_config_dir(cls, accel: Path, config_dir: Path, model: Path, images: Path, **kw: Any) -> "HilJob":
        """A job loading ``config_dir/config.bin`` and ``config_dir/weights.bin`` (what
        ``rtlgen bitstream build --out`` writes) into the device."""
        return cls(accel=accel, bitstream=Path(config_dir) / "config.bin", model=model, images=images,
                   weights=Path(config_dir) / "weights.bin", **kw)


@dataclass
class HilReport:
    images: int
    accuracy: float | None
    emulation_accuracy: float | None
    agree: bool
    cycles_per_image: float
    sim_seconds: float
    cycles_per_second: float
    images_per_minute: float
    wall_seconds: float
    startup_seconds: float
    cpu_cycles_per_second: float     # per CPU-second of the simulator processes (load-independent)
    cpu_images_per_minute: float     # if each worker had a core to itself
    build_seconds: float
    build_reused: bool
    layers: list[dict[str, Any]] = field(default_factory=list)
    pred: list[int] = field(default_factory=list)
    workers: int = 1
    #: per image, the int8 output of the last FULLY_CONNECTED layer (``logits_source`` says
    #: whether the RTL computed it or the host did)
    logits: list[list[int]] = field(default_factory=list)
    logits_source: str = ""
    #: what the device's front end said about config.bin and weights.bin (None: not loaded)
    device: dict[str, Any] | None = None
    #: ``"layers"``: each MAC layer run through the engine's host ports, checked against the
    #: emulation; ``"network"``: the whole network on chip (:mod:`rtlgen.hil.network`)
    mode: str = "layers"
    #: per batch, ``RUN_CYCLES`` of its network run (``"network"`` mode)
    run_cycles: list[int] = field(default_factory=list)
    #: ``"network"`` mode: the batches' ``RUN_CYCLES`` together (one batch: from its first input's
    #: start to its last input's output), the compute units that ran at the same time, the inputs
    #: per START and the activation slots
    cycles_total: int = 0
    units: int = 1
    batch: int = 1
    slots: int = 1
    #: ``"netlist"`` or ``"table"``: how the multipliers were simulated (HilJob.multipliers)
    multipliers: str = "netlist"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        acc = "n/a (no labels)" if self.accuracy is None else f"{100 * self.accuracy:.2f}%"
        loaded = ("" if self.device is None else
                  f"  device: {self.device['config']['verdict']}; {self.device['weights']['verdict']}; "
                  f"START {self.device['start']}\n")
        what = ("the device ran the whole network on chip; its output equals the emulation bit for bit"
                if self.mode == "network" else "every conv layer output equals the emulation bit for bit")
        if self.multipliers == "table":
            what += " (multipliers simulated by their table models, the rest of the RTL as generated)"
        return (f"HIL: {self.images} images, {what}\n" + loaded +
                f"  accuracy through the RTL: {acc}\n"
                f"  cycles per image: {self.cycles_per_image:,.0f}\n"
                + (f"  {self.units} compute unit{'s' if self.units > 1 else ''} at once, {self.batch} input"
                   f"{'s' if self.batch > 1 else ''} per START in {self.slots} activation slot"
                   f"{'s' if self.slots > 1 else ''}: {self.cycles_total:,} cycles in all (RUN_CYCLES)\n"
                   if self.mode == "network" else "") +
                f"  simulated cycles per second: {self.cycles_per_second:,.0f}\n"
                f"  images per minute: {self.images_per_minute:.1f} "
                f"({self.workers} simulator process{'es' if self.workers > 1 else ''}; emulation + RTL runs)\n"
                f"  per CPU-second (what an unshared core gives): {self.cpu_cycles_per_second:,.0f} cycles/s, "
                f"{self.cpu_images_per_minute:.1f} images/min\n"
                f"  wall {self.wall_seconds:.1f} s, of which simulator start-up {self.startup_seconds:.1f} s; "
                f"Verilator build {self.build_seconds:.1f} s{' (reused)' if self.build_reused else ''}")


# ------------------------------------------------------------------------------------------
# host side


def _chunks(n: int, k: int) -> list[tuple[int, int]]:
    k = max(1, min(k, n))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def _follow(futures: list[Any], files: list[Path], show: bool) -> None:
    """A progress bar of layer runs (layer x image) over all workers, read from their progress
    files while they run."""
    from concurrent.futures import wait

    if not show:
        wait(futures)
        return
    from tqdm import tqdm

    with tqdm(desc="HIL layer runs", unit="run", total=None, leave=False) as bar:
        while True:
            done, _ = wait(futures, timeout=1.0)
            counts = []
            for f in files:
                try:
                    counts.append(json.loads(f.read_text()))
                except (OSError, ValueError):
                    pass
            if counts:
                bar.total = max(bar.total or 0, sum(c[1] for c in counts) if len(counts) == len(files) else 0) or None
                bar.n = sum(c[0] for c in counts)
                bar.refresh()
            if len(done) == len(futures):
                return


def run_hil(job: HilJob) -> HilReport:
    """Build (or reuse) the harness and run the images through it; raises VerificationError on
    the first RTL/emulation difference."""
    from rtlgen.accel.manifest import read_manifest
    from rtlgen.accel.tb import HarnessBuild
    from rtlgen.bitstream.format import read_bitstream
    from rtlgen.nn.tflite import load_tflite

    accel = Path(job.accel)
    for p, what in ((job.bitstream, "bitstream"), (job.weights, "weights image"), (job.model, "model"),
                    (job.images, "images")):
        if p is None:
            continue
        if not Path(p).is_file():
            raise ConfigError(f"{what} file not found", file=str(p))
        if Path(p).stat().st_size == 0:
            raise ConfigError(f"{what} file is empty", file=str(p))
    # every input is read (and rejected with its file named) before the Verilator build, except
    # the images the device loads: the hardware judges those, as they are
    manifest = read_manifest(accel)
    if job.weights is None:     # config.bin alone, which the harness runs: read it before the build
        read_bitstream(job.bitstream, expect_accel=manifest["config_hash"])
    load_tflite(job.model)
    x, y = load_images(Path(job.images), job.start, job.limit)
    n = len(x)
    # absolute: the simulator runs in its run folder and reads the spec named in its environment
    work = (Path(job.work_dir) if job.work_dir else accel / "hil-work").resolve()
    build = HarnessBuild(accel, work, optimize=job.optimize, multipliers=job.multipliers)
    network = build.device_top
    if network and job.weights is None:
        raise ConfigError("this accelerator runs whole networks on chip (generated with 'gen accel --axi'), so it needs "
                          "both images: give --config DIR (config.bin and weights.bin), not --bitstream",
                          file=str(accel / "manifest.json"))
    # tabulated once: the emulation's tables and, with table models, the models' contents
    build.tables = tables = accel_tables(accel)
    build.build()
    runs_dir = work / f"runs-{os.getpid()}-{time.time_ns()}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    tables_file = runs_dir / "tables.npz"
    np.savez(tables_file, **tables)
    t0 = time.perf_counter()

    def one(i: int, lo: int, hi: int) -> dict[str, Any]:
        run_dir = runs_dir / f"w{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        spec = {"accel": str(accel.resolve()), "bitstream": str(Path(job.bitstream).resolve()),
                "model": str(Path(job.model).resolve()), "images": str(Path(job.images).resolve()),
                "start": job.start + lo, "limit": hi - lo, "result": str(run_dir / "result.json"),
                "tables": str(tables_file),
                "weights": None if job.weights is None else str(Path(job.weights).resolve()),
                "mode": "network" if network else "layers", "batch": job.batch, "slots": job.slots}
        spec["progress"] = str(run_dir / "progress.json")
        spec_file = run_dir / "spec.json"
        atomic_write_text(spec_file, json.dumps(spec))
        result_file = Path(spec["result"])
        # A mismatch or error inside fails the cocotb test, and the runner's ToolError only
        # quotes the log: the result file says what went wrong, so it is read first.
        failed: ToolError | None = None
        try:
            log = build.run(TEST_MODULE, run_dir, {SPEC_ENV: str(spec_file)})
        except ToolError as exc:
            failed, log = exc, run_dir / "sim.log"
        res = json.loads(result_file.read_text()) if result_file.exists() else {}
        if "rejected" in res:
            image = job.bitstream if res["image"] == "config" else job.weights
            raise BitstreamError(res["rejected"], file=str(image)) from None
        if "input_error" in res:
            e = res["input_error"]
            cls = {c.__name__: c for c in (BitstreamError, ConfigError, ModelError)}[e["type"]]
            raise cls(e["message"], file=e["file"], line=e["line"]) from None
        if "mismatch" in res:
            raise VerificationError(res["mismatch"]) from failed
        if "error" in res:
            raise ToolError(f"the HIL simulation in {run_dir} failed: {res['error']}\n{res.get('traceback', '')}"
                            ) from failed
        if failed is not None:
            raise failed
        if not res:
            raise ToolError(f"the HIL simulation in {run_dir} wrote no result; see {log}")
        return res

    chunks = _chunks(n, job.workers)
    try:
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            futures = [pool.submit(one, i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
            _follow(futures, [runs_dir / f"w{i}" / "progress.json" for i in range(len(chunks))], job.progress)
            results = [f.result() for f in futures]
    except BaseException:
        raise   # a failed run's folder is kept: its message names the log in it
    if not job.keep_runs:
        shutil.rmtree(runs_dir, ignore_errors=True)
    wall = time.perf_counter() - t0
    pred = [p for r in results for p in r["pred"]]
    cycles = sum(r["cycles"] for r in results)
    sim_seconds = sum(r["sim_seconds"] for r in results)
    loop = max(r["loop_seconds"] for r in results)   # the workers run side by side
    loop_cpu = max(r["loop_cpu_seconds"] for r in results)
    sim_cpu = sum(r["sim_cpu_seconds"] for r in results)
    layers = []
    for i, l in enumerate(results[0]["layers"]):
        cyc = sum(r["layers"][i]["cycles_per_image"] * r["images"] for r in results) / n
        layers.append({**l, "cycles_per_image": cyc, "seconds": sum(r["layers"][i]["seconds"] for r in results)})
    acc = None if y is None else float(np.mean(np.asarray(pred) == y))
    return HilReport(images=n, accuracy=acc, emulation_accuracy=acc, agree=True, cycles_per_image=cycles / n,
                     sim_seconds=sim_seconds, cycles_per_second=cycles / sim_seconds if sim_seconds else 0.0,
                     images_per_minute=60.0 * n / loop if loop else 0.0, wall_seconds=wall,
                     startup_seconds=max(r["setup_seconds"] for r in results),
                     cpu_cycles_per_second=cycles / sim_cpu if sim_cpu else 0.0,
                     cpu_images_per_minute=60.0 * n / loop_cpu if loop_cpu else 0.0, build_seconds=build.build_seconds,
                     build_reused=build.reused, layers=layers, pred=pred, workers=len(chunks),
                     logits=[v for r in results for v in r["logits"]], logits_source=results[0]["logits_source"],
                     device=results[0]["device"], mode="network" if network else "layers",
                     run_cycles=[c for r in results for c in r.get("run_cycles", [])], multipliers=job.multipliers,
                     cycles_total=sum(sum(r.get("run_cycles", [])) for r in results),
                     units=results[0].get("units", 1), batch=results[0].get("batch", 1),
                     slots=results[0].get("slots", 1))
