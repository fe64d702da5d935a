"""The flow's report: ``RUN/report/report.md`` with PNG plots beside it.

Plots: the Pareto front (search and held-out accuracy against relative multiplication energy,
baselines and the selected points marked), the per-layer assignment of each selected point
(share of each multiplier per layer), the error distribution of each candidate multiplier
(``T[a, b] - a*b`` over all operand pairs, as the catalog table says), and the area/energy
breakdown (per candidate from the cost flow; per layer of each selected point: MACs x energy per
multiplication with the layer's operand statistics, split by multiplier), and each selected
point's schedule on the device: the cycles of one inference from ``START`` to ``NET_DONE`` and of
two inputs in one ``START`` as :func:`rtlgen.accel.schedule.batch_cycles` counts them from the
point's ``config.bin`` and ``weights.bin`` (the units run at the same time), drawn as a Gantt
chart of each unit's engine and vector-unit runs. Where the mapper ran its cycle
model (:mod:`rtlgen.mapper.throughput`: the accelerator with concurrent units), each selected
point's modelled cycles per inference and latency, and a Gantt chart of two consecutive inputs
under that model (``points/NN/schedule.json``); with three objectives (quality, energy,
throughput) also the front's three pairwise projections, the selected points circled.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rtlgen.mapper.figures import pyplot as _plt
from rtlgen.mapper.figures import save_png as _save
from rtlgen.paths import atomic_write_text

__all__ = ["write_report"]


def _pareto_plot(path: Path, front: list[dict], uniform: list[dict], points: list[dict], ref: tuple[float, float]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fr = sorted(front, key=lambda r: r["energy"])
    ax.plot([r["energy"] for r in fr], [100 * r["search_accuracy"] for r in fr], "o-", ms=4, label="front: search")
    ax.plot([r["energy"] for r in fr], [100 * r["test_accuracy"] for r in fr], "s--", ms=4, mfc="none",
            label="front: held-out test")
    ax.scatter([r["energy"] for r in uniform], [100 * r["test_accuracy"] for r in uniform], marker="x", color="C2",
               label="one multiplier everywhere: test")
    for p in points:
        ax.scatter([p["energy"]], [100 * p["test_accuracy"]], s=120, facecolors="none", edgecolors="C3", lw=2)
        ax.annotate(p["tag"], (p["energy"], 100 * p["test_accuracy"]), textcoords="offset points", xytext=(6, -12))
    ax.axhline(100 * ref[1], color="grey", lw=0.7, ls=":", label="exact: test")
    ax.set_xlabel("relative multiplication energy (exact = 1)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title("Pareto front (selected points circled)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)


def _assignment_plot(path: Path, point: dict) -> None:
    plt = _plt()
    layers = point["mapping"]["layers"]
    names = sorted({n for l in layers for n in l["multipliers"]})
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(layers) + 2), 3.8))
    bottom = np.zeros(len(layers))
    for i, n in enumerate(names):
        v = np.array([l["multipliers"].get(n, 0.0) for l in layers])
        ax.bar(range(len(layers)), v, bottom=bottom, label=n, color=f"C{i % 10}")
        bottom += v
    ax.set_xticks(range(len(layers)), [f"{l['layer']}\nunit {l['unit']}" for l in layers], fontsize=7)
    ax.set_ylabel("share of the layer's kernels")
    ax.set_title(f"{point['tag']}: multiplier per layer")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def _schedule(point: dict) -> tuple[Any, int] | None:
    """The point's cycles on the device and the accelerator's unit count; None when the point
    has no weights.bin beside its config.bin (the model does not fit the device). The cycles:
    :class:`rtlgen.accel.schedule.NetworkCycles` (each descriptor's phases: the work) with, as
    ``device``, the device's schedules of one input and of two in one START
    (:func:`rtlgen.accel.schedule.batch_cycles`; None when the device would stop)."""
    from rtlgen.accel.config import load_config
    from rtlgen.accel.schedule import batch_cycles, network_cycles, slots_that_fit

    config_bin = Path(point["bitstream_file"])
    weights = next((f for f in (config_bin.with_name("weights.bin"),
                                Path(point.get("bitstream", config_bin)).with_name("weights.bin")) if f.is_file()), None)
    if weights is None:
        return None
    config = load_config(Path(point["accel"]["accel_dir"]) / "accel.toml")
    images = (config_bin.read_bytes(), weights.read_bytes())
    cycles = network_cycles(*images, config)
    device = None
    if cycles.stop is None:        # two inputs in as many slots (up to two) as the activation memory holds
        from rtlgen.bitstream.format import decode

        slots = slots_that_fit(config.activation_bytes, decode(images[0]).activation_span, most=2)
        device = (batch_cycles(*images, config), batch_cycles(*images, config, batch=2, slots=slots))
    return _Schedule(cycles, device), config.units


class _Schedule:
    """:class:`rtlgen.accel.schedule.NetworkCycles` with the device's schedules beside it."""

    def __init__(self, cycles: Any, device: Any):
        self.cycles, self.device = cycles, device

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cycles, name)

    def __eq__(self, other: Any) -> bool:
        return self.cycles == getattr(other, "cycles", other)


def _schedule_plot(path: Path, tag: str, sched: Any, n_units: int) -> dict[str, int]:
    """Gantt chart of two inputs in one START on the device (each unit's engine and vector-unit
    runs; the second input's bars lighter); returns the work by kind over one input (cycles of
    the descriptors' phases, summed over the walkers)."""
    plt = _plt()
    spent = {"engine": 0, "vector": 0, "weights": 0, "other": sched.header + sched.end}
    for d in sched.descriptors:
        for name, c in d.phases:
            kind = ("engine" if name == "engine" else "vector" if name == "vector"
                    else "weights" if name in ("copy", "params") else "other")
            spent[kind] += c
    one, two = sched.device
    rows = [f"unit {u}" for u in range(n_units)]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.6))
    colors = {"engine": "C0", "vector": "C2"}
    for r in two.runs:
        kind = "vector" if r.kind in ("add", "average_pool_2d", "max_pool_2d", "pad") else "engine"
        width = r.end - r.start + 1
        ax.barh(r.unit, width, left=r.start, height=0.6, color=colors[kind], alpha=1.0 if r.input == 0 else 0.5,
                linewidth=0)
        if width > 0.04 * two.total:          # name the wide bars
            ax.text(r.start + width / 2, r.unit, f"{r.key}/{r.input}", ha="center", va="center", fontsize=6,
                    color="white")
    labels = {"engine": "layer engine (conv, depthwise, FC)", "vector": "vector unit (ADD, pools, PAD)"}
    for kind, color in colors.items():
        ax.barh([0], [0], color=color, label=labels[kind])
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlim(0, max(two.total, 1))
    ax.set_xlabel("cycle (from START); bars: descriptor/input, the second input lighter")
    ax.set_title(f"{tag}: two inputs on the device, {two.total:,} cycles (one alone: {one.total:,})")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    fig.tight_layout()
    _save(fig, path)
    return spent


def _schedule_lines(tag: str, cycles: Any, spent: dict[str, int]) -> list[str]:
    """The report's lines on a point's schedule (``cycles`` None: the point has no weights.bin)."""
    if cycles is None:
        return ["Schedule on the device: none (the point has no weights.bin).", ""]
    if cycles.stop is not None:
        code, offset = cycles.stop
        return [f"Schedule on the device: none. The sequencer would stop with {code.name} at config.bin byte "
                f"{offset}: the point's config.bin has no activation-memory plan, because the model does not fit "
                "the accelerator's memories (the mapper's front row says what it needs); its layers run from the "
                "host in the HIL step.", ""]
    one, two = cycles.device
    work = sum(spent.values())
    share = ", ".join(f"{what} {100 * spent[k] / work:.1f}%" for k, what in (
        ("engine", "layer engine"), ("vector", "vector unit"), ("weights", "weight copy and parameters"),
        ("other", "descriptor fields and registers")))
    return [f"Schedule on the device (`rtlgen.accel.schedule`, from the point's config.bin and weights.bin): "
            f"{one.total:,} cycles per inference from START to NET_DONE ({one.total / 1e5:.2f} ms at 100 MHz); "
            f"two inputs in one START ({two.slots} activation slot{'s' if two.slots > 1 else ''}: "
            f"{'both in flight at once' if two.slots > 1 else 'the second waits for the first'}): "
            f"{two.total:,} cycles, the units working at the same time. The work of one input by kind: {share}.", "",
            f"![schedule {tag}](schedule_{tag}.png)", ""]


def _model_lines(tag: str, point: dict[str, Any], out: Path) -> tuple[list[str], list[str]]:
    """The report's lines on a point's schedule under the mapper's cycle model, and the figures
    drawn for it (none when the mapper wrote no ``schedule.json``: an older run)."""
    path = point.get("schedule")
    if not path or not Path(path).is_file():
        return [], []
    from rtlgen.mapper.figures import schedule_gantt

    doc = json.loads(Path(path).read_text())
    png = f"concurrent_{tag}.png"
    schedule_gantt(out / png, tag, doc)
    busy = ", ".join(f"unit {u} {b:,}" for u, b in enumerate(doc["busy"]))
    return [f"Cycle model of the accelerator with concurrent units (`rtlgen.mapper.throughput`, the mapper's "
            f"throughput objective): {doc['cycles_per_inference']:,} cycles per inference in steady state (the "
            f"cycles between outputs of a batch; each unit's walk per input: {busy}, the busiest a lower bound "
            f"that units in contiguous stretches of the layers reach), latency {doc['latency_cycles']:,} cycles "
            "for one input. The chart shows two consecutive inputs under the model's event rules.", "",
            f"![concurrent schedule {tag}]({png})", ""], [png]


def _error_plot(path: Path, libdir: str, names: Sequence[str]) -> list[dict[str, Any]]:
    from rtlgen.library.catalog import Catalog
    from rtlgen.netlist.table import exact_table

    plt = _plt()
    cat = Catalog.open(libdir)
    data, stats = [], []
    for n in names:
        e = cat.get(n)
        err = (cat.table(e.hash).astype(np.int64) - exact_table(e.signed).astype(np.int64)).ravel()
        data.append(err)
        stats.append({"name": n, "mean": float(err.mean()), "mae": float(np.abs(err).mean()),
                      "wce": int(np.abs(err).max()), "ep": float(np.mean(err != 0))})
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 4))
    ax.boxplot(data, whis=(0, 100), showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=60, ha="right", fontsize=7)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("T[a,b] - a*b (all 65,536 pairs; whiskers min..max)")
    ax.set_title("Error distribution of the candidate multipliers")
    fig.tight_layout()
    _save(fig, path)
    return stats


def _cost_plot(path: Path, cost: dict[str, dict[str, float]], layer_energy: dict[str, dict[str, Any]]) -> None:
    plt = _plt()
    ncols = 2 if layer_energy else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4))
    axes = np.atleast_1d(axes)
    names = list(cost)
    x = np.arange(len(names))
    ax = axes[0]
    ax.bar(x - 0.2, [cost[n]["area_um2"] for n in names], 0.4, label="area (um^2)", color="C0")
    ax2 = ax.twinx()
    ax2.bar(x + 0.2, [cost[n]["energy_pj"] for n in names], 0.4, label="energy/mult (pJ)", color="C1")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("area (um^2)", color="C0")
    ax2.set_ylabel("energy/mult. (pJ, uniform operands)", color="C1")
    ax.set_title("Candidates: area and energy")
    if layer_energy:
        ax = axes[1]
        tags = list(layer_energy)
        width = 0.8 / len(tags)
        for i, t in enumerate(tags):
            e = layer_energy[t]
            ax.bar(np.arange(len(e["layers"])) + i * width, e["energy_nj"], width, label=f"{t}")
        first = layer_energy[tags[0]]
        ax.plot(np.arange(len(first["layers"])) + 0.4 - width / 2, first["exact_nj"], "k_", ms=14, mew=2,
                label="reference multiplier")
        ax.set_xticks(np.arange(len(first["layers"])) + 0.4 - width / 2, first["layers"], rotation=60, ha="right",
                      fontsize=7)
        ax.set_ylabel("multiplication energy per image (nJ)")
        ax.set_title("Per layer: MACs x energy per multiplication")
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def _layer_energy(map_dir: Path, point: dict) -> dict[str, Any] | None:
    f = map_dir / "energy_per_mult.json"
    if not f.is_file():
        return None
    doc = json.loads(f.read_text())
    cands = doc["candidates"]
    energy = np.asarray(doc["energy"], dtype=float)  # [candidate, layer] pJ
    macs = doc["macs"]
    out, exact = [], []
    for li, layer in enumerate(point["mapping"]["layers"]):
        e = sum(share * energy[cands.index(n), li] for n, share in layer["multipliers"].items() if n in cands)
        out.append(e * macs[li] / 1000.0)
        exact.append(energy[0, li] * macs[li] / 1000.0)
    return {"layers": doc["layers"], "energy_nj": out, "exact_nj": exact}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _loss_ci(sel: dict[str, Any], split: str) -> str:
    """``1.20% [0.40, 2.00]``: a loss with its confidence interval (rtlgen.mapper.stats)."""
    ci = sel.get(f"{split}_ci")
    text = _pct(sel.get(f"{split}_loss"))
    return text if ci is None else f"{text} [{100 * ci['low']:.2f}, {100 * ci['high']:.2f}]"


def _accel_energy(p: dict[str, Any]) -> str:
    e = p.get("accel_energy_uj")
    return "-" if e is None else f"{e:.2f} uJ ({_pct(p['accel_energy_saving'])})"


def _selection_lines(summary: dict[str, Any]) -> list[str]:
    """Both selection rules' picks per loss bound, with the held-out loss and what it resolves."""
    within = summary.get("within_loss", {})
    if not within:
        return []
    conf = f"{100 * summary.get('confidence', 0.95):.0f}%"
    lines = ["## Selection rules and what the data resolve", "",
             f"Every loss is the exact model's {summary.get('quality', 'accuracy')} minus the point's, on the same "
             f"images, with its {conf} confidence interval in brackets ({summary.get('intervals', 'n/a')}). "
             f"*Plain*: the front point of least multiplication energy whose measured search loss is within the "
             f"bound. *Confident*: the least-energy one whose whole search-split interval is within it (the "
             f"mapper's rules, `summary.json`; the selected points above are the flow's). The held-out verdict says "
             f"whether the held-out images can tell the point's loss apart from 0 and from the bound.", "",
             "| bound | rule | multiplication energy saving | search loss [CI] | held-out loss [CI] | held-out verdict |",
             "|---|---|---|---|---|---|"]
    for bound, entry in within.items():
        for rule, key in (("plain", "selected_on_search"), ("confident", "selected_confident")):
            sel = entry.get("mapper", {}).get(key)
            if sel is None:
                lines.append(f"| {100 * float(bound):.1f}% | {rule} | no point | - | - | - |")
                continue
            lines.append(f"| {100 * float(bound):.1f}% | {rule} | {_pct(sel['energy_saving'])} | "
                         f"{_loss_ci(sel, 'search')} | {_loss_ci(sel, 'test')} | {sel.get('test_verdict', '-')} |")
    return lines + [""]


def write_report(cfg: Any, run: Path, entries: list[dict], candidates: Sequence[str], cost: dict[str, dict],
                 map_dir: str, points: list[dict], libdir: str) -> dict[str, Any]:
    out = Path(run) / "report"
    mdir = Path(map_dir)
    front_doc = json.loads((mdir / "front.json").read_text())
    summary = json.loads((mdir / "summary.json").read_text()) if (mdir / "summary.json").is_file() else {}
    uniform = []
    import csv

    with open(mdir / "baselines.csv") as f:
        for r in csv.DictReader(f):
            if r["kind"] == "uniform":
                uniform.append({"multiplier": r["multiplier"], "energy": float(r["energy"]),
                                "search_accuracy": float(r["search_accuracy"]),
                                "test_accuracy": float(r["test_accuracy"])})
    ref = (front_doc["reference_search_accuracy"], front_doc["reference_test_accuracy"])
    _pareto_plot(out / "pareto.png", front_doc["front"], uniform, points, ref)
    figs = ["pareto.png"]
    objectives = summary.get("objectives", ["quality", "energy"])
    if "throughput" in objectives:
        from rtlgen.mapper.figures import front_projections

        front_projections(out / "pareto_projections.png", front_doc["front"], quality=summary.get("quality", "accuracy"),
                          marked=[p for p in points if p.get("cycles_per_inference") is not None])
        figs.append("pareto_projections.png")
    schedules: dict[str, tuple[Any, dict[str, int]]] = {}
    for p in points:
        _assignment_plot(out / f"assignment_{p['tag']}.png", p)
        figs.append(f"assignment_{p['tag']}.png")
        sched = _schedule(p)
        if sched is not None and sched[0].stop is not None:    # config.bin without a plan: the device stops
            schedules[p["tag"]] = (sched[0], {})
        elif sched is not None:
            spent = _schedule_plot(out / f"schedule_{p['tag']}.png", p["tag"], *sched)
            schedules[p["tag"]] = (sched[0], spent)
            figs.append(f"schedule_{p['tag']}.png")
    err_stats = _error_plot(out / "errors.png", libdir, list(candidates))
    layer_energy = {p["tag"]: le for p in points if (le := _layer_energy(mdir, p)) is not None}
    _cost_plot(out / "cost.png", cost, layer_energy)
    figs += ["errors.png", "cost.png"]

    lines = [f"# rtlgen flow report: {cfg.name}", "",
             f"Flow file: `{cfg.source}`. Run folder: `{run}`.", "",
             "## Setup", "",
             f"- Model: `{cfg.model_zoo or cfg.model_path}`; images: search "
             f"{cfg.search_split}, held-out test {cfg.test_split}.",
             f"- Library: {len(entries)} multipliers; {len(candidates)} candidates for encoding `{cfg.encoding}` "
             f"(per layer: {', '.join(sorted(set(summary.get('layer_encodings', {}).values()))) or 'n/a'}) "
             f"({cfg.granularity} granularity).",
             f"- Accelerator shape: `{cfg.accel}`.",
             f"- Search: NSGA-II, population {cfg.population}, {cfg.generations} generations, seed {cfg.seed} "
             f"({summary.get('evaluations', '?')} evaluations).",
             f"- Quality objective: {summary.get('quality', 'accuracy')}; exact reference: search {_pct(ref[0])}, "
             f"test {_pct(ref[1])}.",
             "- Objectives (all minimised): " + ", ".join(
                 {"quality": f"{summary.get('quality', 'accuracy')} loss", "energy": "relative multiplication energy",
                  "throughput": "cycles per inference with concurrent units (`rtlgen.mapper.throughput`)"}.get(o, o)
                 for o in objectives) + ".", "",
             "## Selected points", "",
             "| point | loss bound | multiplication energy saving | search loss [CI] | test loss [CI] | test accuracy | bitstream | "
             "HIL images | HIL accuracy | RTL = emulation | cycles/image | model cycles/inference | "
             "accelerator energy/inference (saving) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_id = {r["id"]: r for r in front_doc["front"]}  # the front rows carry the loss intervals
    for p in points:
        h = p.get("hil")
        bounds = ", ".join(f"{100 * b:.1f}%" for b in p["loss_bounds"])
        bs_rel = Path(p["bitstream_file"]).relative_to(run)
        lines.append(
            f"| {p['tag']} | {bounds} | {_pct(p['energy_saving'])} | {_loss_ci(by_id.get(p['id'], p), 'search')} | "
            f"{_loss_ci(by_id.get(p['id'], p), 'test')} | {_pct(p['test_accuracy'])} | `{bs_rel}` | "
            f"{h['images'] if h else 'skipped'} | {_pct(h['accuracy']) if h else '-'} | "
            f"{('yes, bit for bit' if h['agree'] else 'NO') if h else '-'} | "
            f"{format(h['cycles_per_image'], ',.0f') if h else '-'} | "
            f"{format(p['cycles_per_inference'], ',') if p.get('cycles_per_inference') is not None else '-'} | "
            f"{_accel_energy(p)} |")
    if any(p.get("accel_energy_uj") is not None for p in points):
        model = summary.get("accelerator_energy") or {}
        mem = model.get("memories")
        memories = ("memories excluded (no SRAM macros for this PDK)" if not mem else
                    f"memories as {mem['macros']:,} SRAM macros ({mem['area_mm2']:.1f} mm^2, `rtlgen/accel/memories.py`: "
                    f"{mem['reference_uj']:.2f} uJ of the exact design's)")
        lines += ["", "Accelerator energy per inference: the per-component model calibrated on gate-level runs "
                  "(`rtlgen/accel/energy.py`, `rtlgen/mapper/energy.py`) at the model's clock, in the steady state "
                  f"of the concurrent units, {memories}; the saving is against the exact "
                  f"design on unit 0 ({model.get('reference_uj', float('nan')):.2f} uJ). Per loss bound the flow "
                  "selected the front point of least accelerator energy within the bound on the search split."]
    lines += ["", "![Pareto front](pareto.png)", ""]
    if "pareto_projections.png" in figs:
        lines += ["The front in its three objectives, projected pairwise (colour: the third objective; "
                  "selected points circled):", "", "![front projections](pareto_projections.png)", ""]
    lines += _selection_lines(summary)
    for p in points:
        units = "; ".join(f"unit {u}: {', '.join(b)}" for u, b in enumerate(p["mapping"]["units"]))
        lines += [f"### {p['tag']}", "", f"Multiplier banks: {units}.", "",
                  f"Accelerator RTL: `{Path(p['accel']['accel_dir']).relative_to(run)}` "
                  f"(config hash `{p['accel']['config_hash']}`).", ""]
        h = p.get("hil")
        if h:
            lines += [f"Hardware in the loop: {h['images']} images, accuracy {_pct(h['accuracy'])}, "
                      f"{h['cycles_per_image']:,.0f} cycles per image, {h['cycles_per_second']:,.0f} simulated "
                      f"cycles/s, {h['images_per_minute']:.1f} images/min (per CPU-second of the simulator: "
                      f"{h.get('cpu_cycles_per_second', 0):,.0f} cycles/s, {h.get('cpu_images_per_minute', 0):.1f} "
                      f"images/min); simulator start-up {h.get('startup_seconds', 0):.0f} s, Verilator build "
                      f"{h['build_seconds']:.0f} s{' (reused)' if h['build_reused'] else ''}.", "",
                      "| layer | unit | encoding | granularity | cycles/image | documented estimate |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {l['layer']} | {l['unit']} | {l['encoding']} | {l['granularity']} | "
                      f"{l['cycles_per_image']:,.0f} | {l['estimate']:,} |" for l in h["layers"]]
            lines.append("")
        lines += [f"![assignment {p['tag']}](assignment_{p['tag']}.png)", ""]
        lines += _schedule_lines(p["tag"], *schedules.get(p["tag"], (None, {})))
        model_lines, model_figs = _model_lines(p["tag"], p, out)
        lines += model_lines
        figs += model_figs
    lines += ["## Candidate multipliers", "",
              "| multiplier | MAE | WCE | mean error | error prob. | cells | area um^2 | delay ns | energy pJ |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in err_stats:
        c = cost.get(s["name"], {})
        lines.append(f"| {s['name']} | {s['mae']:.2f} | {s['wce']} | {s['mean']:.2f} | {100 * s['ep']:.1f}% | "
                     f"{c.get('cells', '-')} | {c.get('area_um2', float('nan')):.0f} | "
                     f"{c.get('delay_ns', float('nan')):.2f} | {c.get('energy_pj', float('nan')):.3f} |")
    lines += ["", "![error distributions](errors.png)", "", "![area and energy](cost.png)", "",
              "Files: the mapper's outputs (front, baselines, per-point bitstreams and emulation results) are in "
              f"`{mdir.relative_to(run) if mdir.is_relative_to(run) else mdir}`.", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    return {"report": str(out / "report.md"), "figures": [str(out / f) for f in figs]}
