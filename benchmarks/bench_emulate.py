"""Emulation speed and accuracy on MLPerf Tiny ResNet-8 (CIFAR-10, 1,017 images).

    python benchmarks/bench_emulate.py speed [--lib LIBDIR] [--mult mul8u_2NDH] [-n 1017]
    python benchmarks/bench_emulate.py sweep --lib LIBDIR [--out build/bench_emulate]

``speed``: images/s of LiteRT (XNNPACK, the default interpreter, exact int8; one image per
invoke on one thread and on every CPU, and batches of 256), our ``fast`` engine in exact mode and
``fast`` and ``native`` in approximate mode (one
catalog multiplier on every conv layer, signmag; a synthetic truncated table without --lib), and
the ``reference`` engine on a few images, all in the same run; also checks the fast engine bit
for bit against the reference engine on the first images. Wall time and process CPU time are
both printed: on a shared machine the CPU figure is the steadier one.

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


def _timed(fn, n_images: int, repeat: int = 1) -> tuple[float, float, object]:
    fn_out = None
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn_out = fn()
    w, c = time.perf_counter() - w0, time.process_time() - c0
    return n_images * repeat / w, n_images * repeat / c, fn_out


def speed(args) -> int:
    import numba

    model, x, y = _data()
    x = x[: args.n]
    graph = load_tflite(model)
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}; {x.shape[0]} images")

    from ai_edge_litert.interpreter import Interpreter

    xq = (x.astype(np.int16) - 128).astype(np.int8)
    it = Interpreter(model_path=str(model))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def litert_single():
        for i in range(xq.shape[0]):
            it.set_tensor(inp, xq[i: i + 1])
            it.invoke()
            it.get_tensor(out)

    itb = Interpreter(model_path=str(model))
    itb.resize_tensor_input(0, [256, 32, 32, 3])
    itb.allocate_tensors()

    def litert_batched():
        for lo in range(0, xq.shape[0] - 255, 256):
            itb.set_tensor(inp, xq[lo: lo + 256])
            itb.invoke()
            itb.get_tensor(out)

    it2 = Interpreter(model_path=str(model), num_threads=os.cpu_count())
    it2.allocate_tensors()

    def litert_threads():
        for i in range(xq.shape[0]):
            it2.set_tensor(inp, xq[i: i + 1])
            it2.invoke()
            it2.get_tensor(out)

    results = []
    wl, cl, _ = _timed(litert_single, xq.shape[0])
    results.append(("LiteRT XNNPACK, 1 image/invoke", wl, cl))
    wt, ct, _ = _timed(litert_threads, xq.shape[0])
    results.append((f"LiteRT XNNPACK, 1 image/invoke, {os.cpu_count()} threads", wt, ct))
    nb_ = (xq.shape[0] // 256) * 256
    if nb_:
        wb, cb, _ = _timed(litert_batched, nb_)
        results.append(("LiteRT XNNPACK, 256 images/invoke", wb, cb))

    exact = Emulator(graph, engine="fast")
    exact.run(x[:8])  # compile (numba caches on disk; the first run of a fresh checkout is slower)
    we, ce, res_e = _timed(lambda: exact.run(x), x.shape[0])
    results.append(("rtlgen fast, exact", we, ce))

    if args.lib:
        resolver = catalog_resolver(args.lib)
        assignment = parse_assignment({"default": args.mult})
        label = f"rtlgen fast, approximate ({args.mult} on all conv layers, signmag)"
    else:
        t = ((exact_table(False) >> 4) << 4).astype(np.int32)
        resolver = lambda name: (t, False)  # noqa: E731
        assignment = parse_assignment({"default": "trunc4"})
        label = "rtlgen fast, approximate (low 4 bits truncated, all conv layers, signmag)"
    approx = emulator_for(graph, assignment, resolver)
    approx.run(x[:8])
    wa, ca, res_a = _timed(lambda: approx.run(x), x.shape[0])
    results.append((label, wa, ca))
    native = Emulator(graph, approx.plans, engine="native")
    native.run(x[:8])  # compiles the C loop on first use (cached on disk) and the numba kernels
    wn, cn, res_n = _timed(lambda: native.run(x), x.shape[0])
    results.append((label.replace("rtlgen fast", "rtlgen native"), wn, cn))

    n_ref = min(args.ref, x.shape[0])
    ref = Emulator(graph, approx.plans, engine="reference")
    wr, cr, res_r = _timed(lambda: ref.run(x[:n_ref]), n_ref)
    results.append((f"rtlgen reference, approximate ({n_ref} images)", wr, cr))
    same = (np.array_equal(res_r.logits, res_a.logits[:n_ref])
            and np.array_equal(res_r.output, res_a.output[:n_ref]))

    print(f"{'path':70s} {'img/s wall':>11s} {'img/CPU-s':>10s}")
    for name, w, c in results:
        print(f"{name:70s} {w:11.1f} {c:10.1f}")
    best_litert = max(r[1] for r in results if r[0].startswith("LiteRT"))
    print(f"approximate / best LiteRT, wall clock: fast {wa / best_litert:.2f}x, native {wn / best_litert:.2f}x; "
          f"exact / best LiteRT: {we / best_litert:.2f}x")
    print("native approximate == fast approximate on every image (logits and output): "
          f"{np.array_equal(res_n.logits, res_a.logits) and np.array_equal(res_n.output, res_a.output)}")
    print(f"fast approximate == reference on the first {n_ref} images (logits and output): {same}")
    print(f"top-1: exact {100 * res_e.accuracy(y[: x.shape[0]]):.2f}%, "
          f"approximate {100 * res_a.accuracy(y[: x.shape[0]]):.2f}%")
    return 0 if same else 1


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
    s.add_argument("-n", type=int, default=1017)
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
