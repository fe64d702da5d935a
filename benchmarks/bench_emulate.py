"""Emulation speed (MLPerf Tiny ResNet-8, DS-CNN, VWW MobileNet) and accuracy (ResNet-8).

    python benchmarks/bench_emulate.py speed [--lib LIBDIR] [--mult mul8u_2NDH] [-n 1000] [--models ...]
    python benchmarks/bench_emulate.py sweep --lib LIBDIR [--out build/bench_emulate]

``speed``, per model, all in the same run: inputs/s of LiteRT (XNNPACK, the default interpreter,
exact int8; one input per invoke on one thread and on every CPU), our ``native`` engine in exact
mode, ``fast`` and ``native`` in approximate mode (one catalog multiplier on every MAC layer:
conv, depthwise and fully connected; signmag, offset on DS-CNN's input layer, see
:func:`_assignment`; a synthetic truncated table without --lib), and the ``reference`` engine on
a few inputs; checks native == fast on every input and both == reference on the first ones, and
prints the ratio native approximate / best LiteRT. Inputs: the first CIFAR-10 test images
(ResNet-8), the kws01 MFCC features (DS-CNN), seeded random int8 codes (VWW: no images shipped).
Wall time and process CPU time are both printed: on a shared machine the CPU figure is the
steadier one.

``sweep``: top-1 accuracy of every unsigned catalog multiplier used uniformly on all conv layers
(signmag; the FULLY_CONNECTED layer exact) without weight tuning, with ALWANN's uniform tuning and
with our histogram tuning (calibrated on images 0-499); accuracy on all 1,017 images and on the
held-out 500-1,016. Writes ``sweep.csv``, ``sweep.md`` and ``sweep.png``.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from rtlgen.emulate import Emulator, LayerPlan, catalog_resolver, emulator_for, parse_assignment
from rtlgen.nn import load_tflite
from rtlgen.paths import atomic_write_text, shared_data_dir
from rtlgen.netlist.table import exact_table


def _data():
    d = shared_data_dir()
    model = d / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    data = np.load(d / "cifar10" / "cifar10_test_first1017.npz")
    return model, data["x"], data["y"]


def _speed_models(n: int) -> list[tuple[str, Path, np.ndarray, np.ndarray | None]]:
    """(name, model, int8 input codes, labels or None) of the three models ``speed`` measures."""
    d = shared_data_dir()
    model, x, y = _data()
    xq = (x[:n].astype(np.int16) - 128).astype(np.int8)  # scale 1, zero point -128
    kws = np.load(d / "mlperf_tiny_kws" / "kws01_test1000.npz")
    # VWW ships no images: any int8 codes do for speed (fixed seed)
    vww = np.random.default_rng(0).integers(-128, 128, size=(n, 96, 96, 3), dtype=np.int16).astype(np.int8)
    return [("ResNet-8", model, xq, y[:n]),
            ("DS-CNN", d / "mlperf_tiny_kws" / "kws_ref_model.tflite", kws["x"][:n], kws["y"][:n]),
            ("MobileNet VWW", d / "mlperf_tiny_vww" / "vww_96_int8.tflite", vww, None)]


def _timed(fn, n_images: int, repeat: int = 1) -> tuple[float, float, object]:
    fn_out = None
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn_out = fn()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    return n_images * repeat / w, n_images * repeat / c, fn_out


def _litert(model: Path, xq: np.ndarray, threads: int | None):
    """One image per invoke through LiteRT's default interpreter (XNNPACK, exact int8)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model), num_threads=threads)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run():
        for i in range(xq.shape[0]):
            it.set_tensor(inp, xq[i: i + 1])
            it.invoke()
            it.get_tensor(out)
    return run


def _assignment(graph, mult: str) -> dict:
    """``mult`` on every MAC layer (conv, depthwise and FULLY_CONNECTED), signmag, except a layer
    reading the graph input at a zero point above -128 (DS-CNN's, z = 83, sees codes below it;
    signmag needs x - z in 0..255): offset there, which takes the same unsigned multiplier."""
    layers = {}
    conv = [op for op in graph.mac_ops() if op.kind != "FULLY_CONNECTED"]
    for k, op in enumerate(conv):
        if op.inputs[0] == graph.inputs[0] and graph.input.zero_point != -128:
            layers[str(k)] = {"multiplier": mult, "encoding": "offset"}
    fcs = [op for op in graph.mac_ops() if op.kind == "FULLY_CONNECTED"]
    layers.update({f"fc:{k}": mult for k in range(len(fcs))})
    return {"default": mult, "layers": layers}


def speed(args) -> int:
    import numba

    threads = os.cpu_count()
    print(f"machine: {threads} CPUs, numba threads {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}; {args.n} images per model")
    if args.lib:
        resolver = catalog_resolver(args.lib)
        mult, what = args.mult, args.mult
    else:
        t = ((exact_table(False) >> 4) << 4).astype(np.int32)
        resolver = lambda name: (t, False)  # noqa: E731
        mult, what = "trunc4", "low 4 bits truncated"
    ok = True
    summary = []
    for name, model, xq, y in _speed_models(args.n):
        if args.models and name.split()[0].lower() not in args.models:
            continue
        graph = load_tflite(model)
        n = xq.shape[0]
        results = []
        w1, c1, _ = _timed(_litert(model, xq, 1), n)
        results.append(("LiteRT XNNPACK, 1 image/invoke, 1 thread", w1, c1))
        wt, ct, _ = _timed(_litert(model, xq, threads), n)
        results.append((f"LiteRT XNNPACK, 1 image/invoke, {threads} threads", wt, ct))

        # Each emulator first runs one full batch untimed: it compiles the kernels (numba caches
        # on disk; the first run of a fresh checkout is slower), builds the layers' tables and
        # grows the engine's work buffers to a full batch, as LiteRT's allocate_tensors() does
        # before its timed invokes. With 8 images instead, the timed run also paid the first
        # full batch's buffers: 3,242 against 4,151-4,335 images/s for ResNet-8 in runs 2-4 of
        # one process, 7,522 page faults (benchmarks/RESULTS.md, "Emulation speed").
        exact = Emulator(graph, engine="native")
        warm = xq[:exact.batch_size]
        exact.run(warm)
        we, ce, res_e = _timed(lambda: exact.run(xq), n)
        results.append(("rtlgen native, exact", we, ce))
        approx = emulator_for(graph, parse_assignment(_assignment(graph, mult)), resolver, engine="fast")
        label = f"approximate ({what} on every MAC layer)"
        approx.run(warm)
        wa, ca, res_a = _timed(lambda: approx.run(xq), n)
        results.append((f"rtlgen fast, {label}", wa, ca))
        native = Emulator(graph, approx.plans, engine="native")
        native.run(warm)  # also compiles the C loop on first use (cached on disk)
        wn, cn, res_n = _timed(lambda: native.run(xq), n)
        results.append((f"rtlgen native, {label}", wn, cn))
        n_ref = min(args.ref, n)
        ref = Emulator(graph, approx.plans, engine="reference")
        wr, cr, res_r = _timed(lambda: ref.run(xq[:n_ref]), n_ref)
        results.append((f"rtlgen reference, approximate ({n_ref} images)", wr, cr))
        same_ref = all(np.array_equal(getattr(res_r, f), getattr(r, f)[:n_ref])
                       for r in (res_a, res_n) for f in ("logits", "output"))
        same_nf = all(np.array_equal(getattr(res_n, f), getattr(res_a, f)) for f in ("logits", "output"))
        ok = ok and same_ref and same_nf

        print(f"\n{name} ({model.name}), {n} inputs, load average {os.getloadavg()[0]:.1f}")
        print(f"{'path':75s} {'img/s wall':>11s} {'img/CPU-s':>10s}")
        for path, w, c in results:
            print(f"{path:75s} {w:11.1f} {c:10.1f}")
        best = max(wl for path, wl, _ in results if path.startswith("LiteRT"))
        print(f"approximate / best LiteRT (wall): native {wn / best:.2f}x, fast {wa / best:.2f}x; "
              f"exact native / best LiteRT: {we / best:.2f}x")
        print(f"native == fast on every input (logits and output): {same_nf}; "
              f"both == reference on the first {n_ref}: {same_ref}")
        if y is not None:
            print(f"top-1: exact {100 * res_e.accuracy(y):.2f}%, approximate {100 * res_n.accuracy(y):.2f}%")
        summary.append((name, wn / best))
    print("\nratio native approximate / best LiteRT exact: "
          + ", ".join(f"{name} {r:.2f}x" for name, r in summary))
    return 0 if ok else 1


def sweep(args) -> int:
    from rtlgen.library.catalog import Catalog

    model, x, y = _data()
    graph = load_tflite(model)
    cat = Catalog.open(args.lib)
    resolver = catalog_resolver(args.lib)
    names = [e.name for e in cat.entries if not e.signed]
    out = Path(args.out)
    rows = []
    exact = Emulator(graph).run(x)
    rows.append({"name": "exact", "mae%": 0.0, "wce%": 0.0,
                 **{f"{m}_all": exact.accuracy(y) for m in ("none", "uniform", "histogram")},
                 **{f"{m}_test": float(np.mean(exact.pred[500:] == y[500:]))
                    for m in ("none", "uniform", "histogram")}})
    t0 = time.time()
    for k, name in enumerate(names):
        e = cat.get(name)
        row = {"name": name, "mae%": e.metrics.get("mae_pct", np.nan),
               "wce%": e.metrics.get("wce_pct", np.nan)}
        for mode in ("none", "uniform", "histogram"):
            em = emulator_for(graph, parse_assignment({"default": name, "weight_tuning": mode}),
                              resolver, calib_images=x[:500])
            r = em.run(x)
            row[f"{mode}_all"] = r.accuracy(y)
            row[f"{mode}_test"] = float(np.mean(r.pred[500:] == y[500:]))
        rows.append(row)
        print(f"[{k + 1}/{len(names)} {time.time() - t0:.0f}s] {name}: none {100 * row['none_all']:.2f}% "
              f"uniform {100 * row['uniform_all']:.2f}% histogram {100 * row['histogram_all']:.2f}%",
              flush=True)
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(str(r[k]) for k in keys) for r in rows]
    atomic_write_text(out / "sweep.csv", "\n".join(lines) + "\n")
    _report(rows, out)
    return 0


def report(args) -> int:
    """Table and plot again from ``sweep.csv`` (metrics refreshed from the catalog)."""
    from rtlgen.library.catalog import Catalog

    out = Path(args.out)
    cat = Catalog.open(args.lib)
    with open(out / "sweep.csv") as f:
        rows = [{k: (v if k == "name" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]
    for r in rows:
        if r["name"] != "exact":
            m = cat.get(r["name"]).metrics
            r["mae%"], r["wce%"] = m.get("mae_pct", np.nan), m.get("wce_pct", np.nan)
    _report(rows, out)
    return 0


def _report(rows, out: Path) -> None:
    md = ["| multiplier | MAE % | WCE % | none | uniform (ALWANN) | histogram (ours) | "
          "none, 500-1016 | uniform, 500-1016 | histogram, 500-1016 |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["mae%"], r["name"])):
        md.append(f"| {r['name']} | {r['mae%']:.4g} | {r['wce%']:.4g} | "
                  + " | ".join(f"{100 * r[f'{m}_{s}']:.2f}" for s in ("all", "test")
                               for m in ("none", "uniform", "histogram")) + " |")
    atomic_write_text(out / "sweep.md", "\n".join(md) + "\n")
    _plot(rows, out / "sweep.png")
    print(f"wrote {out}/sweep.md, sweep.png")


def _plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["name"] != "exact"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    mae = np.array([max(r["mae%"], 1e-5) for r in rows])  # exact-equivalent circuits at 1e-5
    for mode, marker in (("none", "o"), ("uniform", "s"), ("histogram", "^")):
        ax.scatter(mae, [100 * r[f"{mode}_all"] for r in rows], marker=marker, label=mode, alpha=0.75)
    ax.axhline(87.91, color="k", lw=0.8, ls="--", label="exact 87.91%")
    ax.set_xscale("log")
    ax.set_xlabel("multiplier MAE (% of 2^16), log")
    ax.set_ylabel("ResNet-8 top-1 on 1,017 CIFAR-10 images (%)")
    ax.set_title("One EvoApprox multiplier on every conv layer (signmag), weight tuning")
    ax.legend()
    ax.set_ylim(0, 100)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--lib")
    s.add_argument("--mult", default="mul8u_2NDH")
    s.add_argument("-n", type=int, default=1000, help="inputs per model (DS-CNN has 1,000)")
    s.add_argument("--models", nargs="+", choices=("resnet-8", "ds-cnn", "mobilenet"),
                   type=str.lower, help="only these (default: all three)")
    s.add_argument("--ref", type=int, default=16, help="images for the reference engine")
    s.set_defaults(fn=speed)
    w = sub.add_parser("sweep")
    w.add_argument("--lib", required=True)
    w.add_argument("--out", default="build/bench_emulate")
    w.set_defaults(fn=sweep)
    r = sub.add_parser("report", help="table and plot again from OUT/sweep.csv")
    r.add_argument("--lib", required=True)
    r.add_argument("--out", default="build/bench_emulate")
    r.set_defaults(fn=report)
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
