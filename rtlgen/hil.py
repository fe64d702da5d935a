"""Hardware in the loop: a network's conv layers through the generated accelerator's RTL.

``rtlgen hil --accel build/accel --bitstream CFG.bin --model M.tflite --images X.npz --limit N``

What runs where
---------------
The accelerator (a folder written by :func:`rtlgen.accel.generate.generate_accelerator`) is built
with Verilator inside the harness of :mod:`rtlgen.accel.tb` and driven by the cocotb module
``sim/rtlgen_hil_test.py``, which calls :func:`simulate` inside the simulator's Python. There:

1. the bitstream is read and checked against the accelerator (its config hash) and the model
   (:func:`rtlgen.emulate.from_bitstream.check_bitstream`), the multipliers' tables are
   tabulated from the accelerator's own netlists (their table hashes must be the manifest's),
   and the emulator is configured *from the bitstream*
   (:func:`rtlgen.emulate.from_bitstream.plans_from_bitstream`), so both sides read the same
   artifact;
2. the emulator runs the images (every tensor kept);
3. every CONV_2D and FULLY_CONNECTED layer the bitstream describes runs on the RTL for every
   image, layer after layer in graph order (the layer's weights and parameters are loaded once,
   then its images back to back; a FULLY_CONNECTED runs as a 1x1 conv of a 1x1 image with the
   requantizer's single-rounding mode, as LiteRT rounds it):
   input = the layer's input tensor, weights = the model's (after the bitstream's weight remap),
   unit, encoding, multiplier selects and requantization = the bitstream's;
4. each RTL output is compared with the emulator's tensor byte for byte. The first difference
   stops the run with a :class:`~rtlgen.errors.VerificationError` naming the layer, image,
   position (y, x, channel), expected and got.

The other ops (depthwise conv, which the accelerator lacks, ADD, pooling, and any MAC layer the
bitstream does not describe: the mapper's bitstreams describe the conv layers, so their
classifier stays exact on the host) run on the host with the emulator's op functions.
Because every RTL layer's output is checked equal to the emulator's tensor before the next layer
runs, the host ops compute on exactly the values the RTL produced: the accuracy reported is the
accuracy through the RTL.

Figures (:class:`HilReport`): accuracy, accelerator cycles per image (the ``cycles`` counter
of each layer run, summed), simulated cycles per second (cycles / seconds spent in the
simulator's layer runs, loads and dumps included), images per minute (images / seconds of the
per-image work: the emulation of the batch plus every RTL layer run; with several workers, the
slowest one's). On a shared machine wall time depends on the load, so the same two figures are
also given per CPU-second of the simulator processes (``time.process_time``: what a core to
itself would give). The one-off costs are reported apart: the Verilator build (cached) and the
simulator's start-up (Python imports, model and bitstream loading). With ``workers`` > 1 the
images are split into contiguous chunks, one simulator process each.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, ToolError, VerificationError
from .paths import atomic_write_text

__all__ = ["HilJob", "HilReport", "run_hil", "simulate", "accel_tables", "conv_descriptor", "accel_bitstream",
           "TEST_MODULE"]

TEST_MODULE = "rtlgen_hil_test"
_SPEC_ENV = "RTLGEN_HIL_SPEC"


@dataclass(frozen=True)
class HilJob:
    accel: Path            # generated accelerator folder (manifest.json, files.f, ...)
    bitstream: Path
    model: Path
    images: Path           # .npz with 'x' (and 'y' for accuracy)
    limit: int | None = None
    start: int = 0
    workers: int = 1
    work_dir: Path | None = None   # Verilator builds and run folders (default: accel/hil-work)
    optimize: bool = True          # optimised C++ (long runs) or a quicker build (short runs)
    progress: bool = True          # a progress bar of the layer runs


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        acc = "n/a (no labels)" if self.accuracy is None else f"{100 * self.accuracy:.2f}%"
        return (f"HIL: {self.images} images, every conv layer output equals the emulation bit for bit\n"
                f"  accuracy through the RTL: {acc}\n"
                f"  cycles per image: {self.cycles_per_image:,.0f}\n"
                f"  simulated cycles per second: {self.cycles_per_second:,.0f}\n"
                f"  images per minute: {self.images_per_minute:.1f} "
                f"({self.workers} simulator process{'es' if self.workers > 1 else ''}; emulation + RTL runs)\n"
                f"  per CPU-second (what an unshared core gives): {self.cpu_cycles_per_second:,.0f} cycles/s, "
                f"{self.cpu_images_per_minute:.1f} images/min\n"
                f"  wall {self.wall_seconds:.1f} s, of which simulator start-up {self.startup_seconds:.1f} s; "
                f"Verilator build {self.build_seconds:.1f} s{' (reused)' if self.build_reused else ''}")


# ------------------------------------------------------------------------------------------
# shared by both sides


def accel_tables(accel_dir: Path) -> dict[str, np.ndarray]:
    """Table hash -> table of every multiplier of a generated accelerator, tabulated from the
    netlists in the folder (so the HIL needs no catalog); each must match the manifest's hash."""
    from .library import netlist_table
    from .table import table_hash

    manifest = json.loads((Path(accel_dir) / "manifest.json").read_text())
    out: dict[str, np.ndarray] = {}
    for bank in manifest["units"]:
        for slot in bank:
            if slot["hash"] in out:
                continue
            path = Path(accel_dir) / "netlists" / f"{slot['module']}.v"
            table = netlist_table(path, signed=bool(slot["signed"]), top=slot["module"])
            got = table_hash(table, bool(slot["signed"]))
            if got != slot["hash"]:
                raise VerificationError(f"netlist {path.name} tabulates to {got}, the manifest says "
                                        f"{slot['hash']} ({slot['name']}): {path}")
            out[got] = table
    return out


def _load_images(path: Path, start: int, limit: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(path) as f:
        if "x" not in f.files:
            raise ConfigError(f"image file lacks array 'x' (found {f.files})", file=str(path))
        x = f["x"]
        y = np.asarray(f["y"]).reshape(-1) if "y" in f.files else None
    stop = len(x) if limit is None else min(len(x), start + limit)
    if not 0 <= start < stop:
        raise ValueError(f"no images in [{start}, {stop}) of {path} ({len(x)} images)")
    return x[start:stop], (None if y is None else y[start:stop])


# ------------------------------------------------------------------------------------------
# simulator side


async def simulate(dut: Any, spec: dict[str, Any], driver: Any = None) -> dict[str, Any]:
    """The HIL loop inside the simulator (see the module docstring); returns the figures.

    ``driver`` runs the conv jobs (default: :class:`rtlgen.accel.tb.FileDriver` on ``dut``);
    anything with async ``start()``, ``run(job, weights_key)`` -> (int8 output, cycles) and
    ``stop()`` will do."""
    from .accel.config import load_config
    from .accel.job import descriptor_job
    from .accel.tb import FileDriver
    from .bitstream import read_bitstream
    from .emulate.emulator import Emulator, quantize_input
    from .emulate.from_bitstream import plans_from_bitstream
    from .emulate.layers import compile_mac_layers
    from .nn.tflite import load_tflite

    t0 = time.perf_counter()
    accel_dir = Path(spec["accel"])
    manifest = json.loads((accel_dir / "manifest.json").read_text())
    config = load_config(accel_dir / "accel.toml")
    bs = read_bitstream(spec["bitstream"], expect_accel=manifest["config_hash"])
    graph = load_tflite(spec["model"])
    layers = compile_mac_layers(graph)
    if spec.get("tables"):
        with np.load(spec["tables"]) as f:
            tables = {k: f[k] for k in f.files}
    else:
        tables = accel_tables(accel_dir)
    signed = {s["hash"]: bool(s["signed"]) for bank in manifest["units"] for s in bank}

    def resolve(h: str) -> tuple[np.ndarray, bool]:
        if h not in tables:
            raise VerificationError(f"the bitstream names multiplier {h}, which the accelerator in {accel_dir} lacks")
        return tables[h], signed[h]

    plans = plans_from_bitstream(graph, bs, resolve, layers, file=str(spec["bitstream"]))
    emu = Emulator(graph, plans)
    x, y = _load_images(Path(spec["images"]), int(spec["start"]), spec["limit"])
    xq = quantize_input(graph, x)
    t_setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    c1 = time.process_time()
    vals = emu.run_batch(xq)
    fc = graph.last_fc()
    logits = vals[fc.outputs[0] if fc is not None else graph.outputs[0]].reshape(len(xq), -1)
    pred = np.argmax(logits, axis=1)
    t_emu = time.perf_counter() - t1
    t_loop = time.perf_counter()
    c_sim = 0.0

    described = {d.key: d for d in bs.layers}
    mac_keys = {op.index: str(i) for i, op in enumerate(graph.conv_ops())}
    mac_keys.update({op.index: f"fc:{i}" for i, op in enumerate(graph.mac_ops(("FULLY_CONNECTED",)))})
    # graph order, the order the tensors are computed in
    on_rtl = [(mac_keys[op.index], op) for op in graph.mac_ops(("CONV_2D", "FULLY_CONNECTED"))
              if mac_keys[op.index] in described]
    progress = Path(spec["progress"]) if spec.get("progress") else None
    done_runs = 0
    drv = driver if driver is not None else FileDriver(dut, os.getcwd(), config.weight_word_bits)
    await drv.start()
    per_layer = []
    t_sim = 0.0
    for li, op in on_rtl:
        d = described[li]
        layer = layers[op.index]
        plan = plans.get(op.index)
        weights = plan.layer_weights(layer) if plan is not None else layer.weights
        xin = vals[op.inputs[0]].reshape((len(xq),) + tuple(layer.in_shape))
        expected = vals[op.outputs[0]]
        oh, ow, oc = layer.out_shape
        cycles = 0
        t1 = time.perf_counter()
        c2 = time.process_time()
        # weight and parameter images are the same for every image: build them once
        job0 = descriptor_job(config, d, layer, weights, xin[0])
        for n in range(len(xq)):
            job = replace(job0, activations=np.ascontiguousarray(xin[n]).astype(np.int8).view(np.uint8).ravel())
            got, cyc = await drv.run(job, weights_key=li)
            cycles += cyc
            done_runs += 1
            if progress is not None:
                atomic_write_text(progress, json.dumps([done_runs, len(on_rtl) * len(xq)]))
            exp = expected[n].reshape(oh, ow, oc)
            if not np.array_equal(got, exp):
                yy, xx, cc = (int(v) for v in np.argwhere(got != exp)[0])
                drv.stop()
                raise VerificationError(
                    f"layer {li} (op {op.index}, {layer.name or op.kind}), image {int(spec['start']) + n}: RTL output "
                    f"differs from the emulation at (y={yy}, x={xx}, channel={cc}): expected {int(exp[yy, xx, cc])}, "
                    f"got {int(got[yy, xx, cc])} ({int(np.count_nonzero(got != exp))} of {got.size} bytes differ)")
        dt = time.perf_counter() - t1
        t_sim += dt
        c_sim += time.process_time() - c2
        per_layer.append({"layer": li, "op": op.index, "name": layer.name, "unit": d.unit, "encoding": d.encoding,
                          "granularity": d.granularity, "cycles_per_image": cycles / len(xq),
                          "estimate": job0.cycle_estimate(config.lanes),
                          "seconds": dt})
    drv.stop()
    if not per_layer:
        raise ConfigError("the bitstream describes no CONV_2D or FULLY_CONNECTED layer of the model: nothing runs on the accelerator",
                          file=str(spec["bitstream"]))
    return {"images": int(len(xq)), "pred": [int(p) for p in pred],
            "setup_seconds": t_setup, "loop_seconds": t_emu + (time.perf_counter() - t_loop),
            "loop_cpu_seconds": time.process_time() - c1, "sim_cpu_seconds": c_sim,
            "labels": None if y is None else [int(v) for v in y],
            "cycles": int(sum(l["cycles_per_image"] for l in per_layer) * len(xq)),
            "sim_seconds": t_sim, "emulation_seconds": t_emu, "layers": per_layer}


async def cocotb_entry(dut: Any) -> None:
    """Body of the cocotb test: read the spec, run :func:`simulate`, write the result file."""
    spec = json.loads(Path(os.environ[_SPEC_ENV]).read_text())
    out = Path(spec["result"])
    try:
        result = await simulate(dut, spec)
    except VerificationError as exc:
        atomic_write_text(out, json.dumps({"mismatch": str(exc)}))
        raise
    except Exception as exc:
        atomic_write_text(out, json.dumps({"error": f"{type(exc).__name__}: {exc}",
                                           "traceback": traceback.format_exc()}))
        raise
    atomic_write_text(out, json.dumps(result))


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
    from .accel.tb import HarnessBuild

    accel = Path(job.accel)
    for p, what in ((job.bitstream, "bitstream"), (job.model, "model"), (job.images, "images")):
        if not Path(p).is_file():
            raise ConfigError(f"{what} file not found", file=str(p))
    x, y = _load_images(Path(job.images), job.start, job.limit)
    n = len(x)
    work = Path(job.work_dir) if job.work_dir else accel / "hil-work"
    build = HarnessBuild(accel, work, optimize=job.optimize)
    build.build()
    runs_dir = work / f"runs-{os.getpid()}-{time.time_ns()}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    tables_file = runs_dir / "tables.npz"
    np.savez(tables_file, **accel_tables(accel))
    t0 = time.perf_counter()

    def one(i: int, lo: int, hi: int) -> dict[str, Any]:
        run_dir = runs_dir / f"w{i}"
        run_dir.mkdir(parents=True, exist_ok=True)
        spec = {"accel": str(accel.resolve()), "bitstream": str(Path(job.bitstream).resolve()),
                "model": str(Path(job.model).resolve()), "images": str(Path(job.images).resolve()),
                "start": job.start + lo, "limit": hi - lo, "result": str(run_dir / "result.json"),
                "tables": str(tables_file)}
        spec["progress"] = str(run_dir / "progress.json")
        spec_file = run_dir / "spec.json"
        atomic_write_text(spec_file, json.dumps(spec))
        log = build.run(TEST_MODULE, run_dir, {_SPEC_ENV: str(spec_file)})
        result_file = Path(spec["result"])
        if not result_file.exists():
            raise ToolError(f"the HIL simulation in {run_dir} wrote no result; see {log}")
        res = json.loads(result_file.read_text())
        if "mismatch" in res:
            raise VerificationError(res["mismatch"])
        if "error" in res:
            raise ToolError(f"the HIL simulation in {run_dir} failed: {res['error']}\n{res.get('traceback', '')}")
        return res

    chunks = _chunks(n, job.workers)
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        futures = [pool.submit(one, i, lo, hi) for i, (lo, hi) in enumerate(chunks)]
        _follow(futures, [runs_dir / f"w{i}" / "progress.json" for i in range(len(chunks))], job.progress)
        results = [f.result() for f in futures]
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
                     build_reused=build.reused, layers=layers, pred=pred, workers=len(chunks))


def conv_descriptor(graph: Any, index: int | str, *, unit: int, granularity: str = "layer", selects: Any = 0,
                    encoding: str = "signmag") -> Any:
    """A bitstream layer descriptor for conv layer ``index`` of ``graph``, or for its
    FULLY_CONNECTED layer N when ``index`` is ``"fc:N"`` (geometry and requantization from the
    model), for hand-made bitstreams: benchmarks, tests, bring-up."""
    from .bitstream import Geometry, LayerDescriptor, Requant
    from .emulate.layers import compile_mac_layers

    key = str(index)
    fc = key.startswith("fc:")
    number = int(key[3:] if fc else key)
    op = (graph.mac_ops(("FULLY_CONNECTED",)) if fc else graph.conv_ops())[number]
    layer = compile_mac_layers(graph)[op.index]
    (h, w, c), (oh, ow, oc) = layer.in_shape, layer.out_shape
    geo = Geometry(in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=layer.weights.shape[1],
                   k_w=layer.weights.shape[2], stride_h=layer.stride[0], stride_w=layer.stride[1],
                   pad_top=layer.pads[0][0], pad_left=layer.pads[1][0])
    rq = Requant(input_zero_point=layer.z_in, output_zero_point=layer.z_out, act_min=layer.act[0],
                 act_max=layer.act[1], multipliers=tuple(int(v) for v in layer.multiplier),
                 shifts=tuple(int(v) for v in layer.shift))
    kind = "fully_connected" if fc else "depthwise_conv2d" if layer.depthwise else "conv2d"
    return LayerDescriptor(index=number, kind=kind, unit=unit, encoding=encoding, granularity=granularity,
                           geometry=geo, requant=rq, selects=np.asarray(selects).ravel().tolist())


def accel_bitstream(accel_dir: str | os.PathLike, layers: list[Any]) -> Any:
    """A :class:`~rtlgen.bitstream.Bitstream` for the generated accelerator in ``accel_dir``
    (its config hash and multiplier banks from the manifest) with the given layer descriptors."""
    from .bitstream import Bitstream, MultiplierRef

    manifest = json.loads((Path(accel_dir) / "manifest.json").read_text())
    units = [tuple(MultiplierRef(s["hash"], bool(s["signed"]), s["name"]) for s in u) for u in manifest["units"]]
    return Bitstream(accel_hash=manifest["config_hash"], units=units, layers=tuple(layers))
