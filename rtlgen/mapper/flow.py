"""The whole mapping job: searches, baselines, held-out test, bitstreams, tables and a plot.

:func:`map_network` runs, in ``out_dir``:

* the uniform baselines: every candidate multiplier used in every layer (their Pareto-optimal
  ones seed the first population of both searches);
* ``layerwise/``: NSGA-II restricted to one multiplier per layer (the layer-wise baseline);
* ``search/``: NSGA-II over the full space (filter or kernel split, :mod:`.space`), its first
  population seeded with the layer-wise front (the split space contains every layer-wise point);
* every front point and baseline on the held-out test split;

and writes ``front.csv``/``front.json`` (the Pareto front of the full search with search and
test accuracy and relative energy; with ``cycles``, a :class:`~rtlgen.mapper.throughput.CycleSpec`,
also every row's ``cycles_per_inference`` and ``latency_cycles`` from
:mod:`rtlgen.mapper.throughput`, in both modes; with ``accel_energy`` too, every row's
``accel_energy_uj`` and ``accel_energy_saving``, :mod:`rtlgen.mapper.energy`), ``baselines.csv``, ``summary.json`` (the energy
saving reached within given accuracy losses), ``pareto.png`` (with three objectives also
``pareto_projections.png``: the front's three pairwise projections), and for each point of the front
``points/NN/config.bin`` (the configuration bitstream; with ``accel_hash`` a callable, also
``points/NN/accel.toml``, the accelerator configuration carrying the point's multiplier banks, whose
hash the bitstream records), ``points/NN/assignment.json`` (the
emulator assignment decoded *from the bitstream*) and, when ``emulate`` is given (it runs the
emulator *from the decoded bitstream*), ``points/NN/emulation.npz`` (its logits on all images)
with the accuracies in ``front.json``; they must equal what the search measured. With ``device``
(:class:`DeviceImages`), each point also gets ``points/NN/weights.bin`` and its ``config.bin``
carries the activation-memory plan: the pair the accelerator loads and runs (``rtlgen hil
--config points/NN``), as ``rtlgen bitstream build`` writes it; the row's ``device`` says whether
the plan fitted. With ``cycles``, ``points/NN/schedule.json``: the cycle model's schedule of two
consecutive inputs (:meth:`rtlgen.mapper.throughput.CycleModel.schedule`).
All files are written atomically, each front point's folder whole (staged, then renamed); each
search resumes from its checkpoint when re-run.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rtlgen.accel.energy import EnergyModel as AccelEnergyModel
from rtlgen.bitstream import format as bsmod
from rtlgen.conventions import AUTO_ENCODING, EncodingChoice
from rtlgen.errors import BitstreamError, VerificationError
from rtlgen.paths import atomic_write_bytes, atomic_write_text, staged_folder
from rtlgen.accel.memories import DeviceMemories
from rtlgen.mapper.energy import AcceleratorEnergy
from rtlgen.mapper.executors import Executor, SerialExecutor
from rtlgen.mapper.objectives import AccuracyModel, EnergyModel, EnergyTable, accuracy_task
from rtlgen.mapper.search import EvaluatedPoint, SearchResult, SearchSettings, _EvaluationLog, pareto_front, run_search
from rtlgen.mapper.space import Candidate, Granularity, LayerInfo, SearchSpace
from rtlgen.mapper.stats import CONFIDENCE, select_points, verdict
from rtlgen.mapper.throughput import CycleModel, CycleSpec

__all__ = ["DeviceImages", "EmulationResult", "MapReport", "map_network", "evaluate_assignments", "DEFAULT_LOSSES"]

#: accuracy losses (fractions) at which summary.json reports the best energy saving
DEFAULT_LOSSES = (0.006, 0.02)


@dataclass(frozen=True)
class EmulationResult:
    """What the emulator reports for one assignment on all images of the job."""

    logits: np.ndarray
    search_accuracy: float
    test_accuracy: float


@dataclass
class MapReport:
    reference_search: float
    reference_test: float
    front: list[dict[str, Any]]
    layerwise: list[dict[str, Any]]
    uniform: list[dict[str, Any]]
    summary: dict[str, Any]
    out_dir: Path
    search: SearchResult = field(repr=False)


def evaluate_assignments(model: AccuracyModel, assignments: dict[str, dict[str, Any]], log_path: Path,
                         executor: Executor) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Quality of each keyed assignment, and its per-image outcomes where the model offers them,
    through ``executor``, cached in the JSONL ``log_path`` (a record of an older run without
    outcomes is evaluated again when the model offers them)."""
    log = _EvaluationLog(log_path)
    wants = callable(getattr(model, "outcomes", None))
    try:
        todo = [(k, a) for k, a in assignments.items() if k not in log.accuracy or (wants and k not in log.outcomes)]
        if todo:
            executor.start(accuracy_task, model)
            try:
                for i, (acc, outcomes) in executor.map([a for _, a in todo]):
                    log.add(todo[i][0], float(acc), outcomes)
            finally:
                executor.close()
        return ({k: log.accuracy[k] for k in assignments},
                {k: log.outcomes[k] for k in assignments if k in log.outcomes})
    finally:
        log.close()


def _interval(model: AccuracyModel, outcomes: np.ndarray | None) -> dict[str, Any] | None:
    """The loss interval (rtlgen.mapper.stats) of ``outcomes`` against the exact model."""
    if outcomes is None or not callable(getattr(model, "interval", None)):
        return None
    return model.interval(outcomes).to_json()  # type: ignore[attr-defined]


def _describe(space: SearchSpace, x: Sequence[int]) -> dict[str, Any]:
    m = space.decode(np.asarray(x))
    n = len(space.candidates)
    layers = []
    for li, layer in enumerate(space.layers):
        shares = m.shares(li, n)
        # a split layer: "unit" is every unit (list), "shares" their output channels
        split = m.is_split(li)
        layers.append({"layer": layer.index, "name": layer.name,
                       "unit": [u for u, _, _ in m.parts[li]] if split else m.layer_unit[li],
                       **({"shares": [[lo, hi] for _, lo, hi in m.parts[li]]} if split else {}),
                       "multipliers": {space.candidates[c].name: round(float(shares[c]), 6)
                                       for c in np.flatnonzero(shares)}})
    return {"units": [[space.candidates[c].name for c in bank] for bank in m.units], "layers": layers}


def _short(key: str) -> str:
    """A 12-digit id of a mapping key (keys of split mappings are long)."""
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _row(p: EvaluatedPoint, space: SearchSpace, test: dict[str, float], ref_s: float, ref_t: float,
         cis: tuple[dict[str, Any] | None, dict[str, Any] | None]) -> dict[str, Any]:
    t = test.get(p.key)
    return {"id": _short(p.key), "key": p.key, "search_accuracy": p.accuracy, "test_accuracy": t,
            "search_loss": ref_s - p.accuracy, "test_loss": None if t is None else ref_t - t,
            "search_ci": cis[0], "test_ci": cis[1],
            "energy": p.energy, "energy_saving": 1.0 - p.energy, "generation": p.generation,
            "cycles_per_inference": p.cycles, "latency_cycles": p.latency,
            "x": list(p.x), "mapping": _describe(space, p.x)}


def _schedule_json(model: CycleModel, x: Sequence[int]) -> str:
    """The cycle model's schedule of two consecutive inputs of point ``x`` (``points/NN/schedule.json``)."""
    m = model.space.decode(np.asarray(x))
    c = model.evaluate(m)
    return json.dumps({"model": "rtlgen.mapper.throughput", "units": model.n_units, "header": model.header,
                       "cycles_per_inference": c.per_inference, "latency_cycles": c.latency, "busy": list(c.busy),
                       "bars": [{"input": b.input, "position": b.position, "key": b.key, "unit": b.unit,
                                 "phase": b.phase, "start": b.start, "end": b.end}
                                for b in model.schedule(m, inputs=2)]}) + "\n"


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else (f"{r[c]:.6f}" if isinstance(r[c], float) else r[c]) for c in columns])
    return buf.getvalue()


def _best_within(rows: list[dict[str, Any]], loss: float, by: str) -> dict[str, Any] | None:
    ok = [r for r in rows if r[by] is not None and r[by] <= loss + 1e-12]
    return min(ok, key=lambda r: (r["energy"], -r["search_accuracy"])) if ok else None


def _ci_columns(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its intervals' ends as flat CSV columns (``search_loss_low`` ...)."""
    out = dict(row)
    for split in ("search", "test"):
        ci = row.get(f"{split}_ci")
        out[f"{split}_loss_low"] = None if ci is None else ci["low"]
        out[f"{split}_loss_high"] = None if ci is None else ci["high"]
    return out


_PICK_KEYS = ("energy_saving", "accel_energy_uj", "accel_energy_saving", "search_loss", "test_loss", "search_ci",
              "test_ci", "id", "multiplier", "bitstream")


def _pick(row: dict[str, Any] | None, bound: float) -> dict[str, Any] | None:
    """A selected row as summary.json lists it, with what its intervals resolve."""
    if row is None:
        return None
    out = {k: row.get(k) for k in _PICK_KEYS if k in row}
    out["search_verdict"] = verdict(row.get("search_ci"), bound)
    out["test_verdict"] = verdict(row.get("test_ci"), bound)
    return out


def _plot(path: Path, front: list[dict], layerwise: list[dict], uniform: list[dict], ref_s: float, ref_t: float,
          quality: str = "accuracy") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for rows, label, color in ((front, "mapper (split)", "C0"), (layerwise, "layer-wise only", "C1")):
        e = [r["energy"] for r in rows]
        ax.plot(e, [100 * r["search_accuracy"] for r in rows], "o-", color=color, ms=4, label=f"{label}: search")
        ax.plot(e, [100 * r["test_accuracy"] for r in rows], "s--", color=color, ms=4, mfc="none", label=f"{label}: test")
    ax.scatter([r["energy"] for r in uniform], [100 * r["search_accuracy"] for r in uniform], marker="x", color="C2",
               label="one multiplier everywhere: search")
    ax.scatter([r["energy"] for r in uniform], [100 * r["test_accuracy"] for r in uniform], marker="+", color="C3",
               label="one multiplier everywhere: test")
    ax.axhline(100 * ref_s, color="grey", lw=0.6, ls=":")
    ax.axhline(100 * ref_t, color="grey", lw=0.6, ls="-.")
    lo = min(ref_s, ref_t)
    ax.set_ylim(max(0.0, 100 * lo - 25), 100 * max(ref_s, ref_t) + 2)
    ax.set_xlabel("relative multiplication energy (exact = 1)")
    ax.set_ylabel({"accuracy": "top-1 accuracy (%)", "agreement": "top-1 agreement with the exact model (%)",
                   "reconstruction": "100 x (1 - relative increase of the reconstruction MSE)"}.get(quality, quality))
    ax.set_title(f"Pareto fronts: {quality} vs multiplication energy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


@dataclass(frozen=True)
class DeviceImages:
    """What makes a point's ``config.bin`` runnable on the device: ``plan`` adds the
    activation-memory plan to a bitstream (:func:`rtlgen.accel.images.with_plan`, checked
    against the accelerator's memories; a :class:`~rtlgen.errors.BitstreamError` when it does not
    fit), ``weights`` is the model's ``weights.bin`` (the same for every point); ``cycles``, when
    given, counts a point's cycles per inference on the device from its two images
    (:func:`rtlgen.accel.schedule.batch_cycles`: one input, the units concurrent), recorded as the front row's
    ``device_cycles``."""

    plan: Callable[[bsmod.Bitstream], bsmod.Bitstream]
    weights: bytes
    cycles: Callable[[bytes, bytes], int] | None = None


def _write_point(i: int, p: EvaluatedPoint, row: dict[str, Any], space: SearchSpace, folder: Path, encoding: str,
                 accel_hash: str | bytes | Callable[[list[list[str]]], tuple[str, str | None]],
                 emulate: Callable[[bsmod.Bitstream], EmulationResult] | None, model_hash: str = "",
                 device: DeviceImages | None = None, cycles: CycleModel | None = None) -> None:
    """Front point ``i``'s files in ``folder``: accel.toml (when ``accel_hash`` makes one per
    point), config.bin, assignment.json and, with ``emulate``, emulation.npz, which must
    reproduce the accuracies the search measured (VerificationError otherwise). With ``device``,
    also weights.bin, and config.bin carries the activation-memory plan; when the model does not
    fit the accelerator, config.bin has no plan and ``row["device"]`` says why."""
    mapping = space.decode(np.asarray(p.x))
    if callable(accel_hash):
        banks = [[space.candidates[c].hash for c in bank] for bank in mapping.units]
        point_hash, toml_text = accel_hash(banks)
        if toml_text is not None:
            atomic_write_text(folder / "accel.toml", toml_text)
    else:
        point_hash = bsmod.normalize_accel_hash(accel_hash)
    stream = space.bitstream(mapping, point_hash, model_hash=model_hash)
    planned = False
    if device is not None:
        try:
            stream = device.plan(stream)
            planned = True
            row["device"] = "config.bin and weights.bin: the device runs them (activation-memory plan included)"
        except BitstreamError as exc:
            row["device"] = f"config.bin without an activation-memory plan, which the device refuses: {exc}"
        atomic_write_bytes(folder / "weights.bin", device.weights)
    data = bsmod.encode(stream)
    if planned and device.cycles is not None:
        row["device_cycles"] = device.cycles(data, device.weights)
    atomic_write_bytes(folder / "config.bin", data)
    if cycles is not None:
        atomic_write_text(folder / "schedule.json", _schedule_json(cycles, p.x))
    decoded = bsmod.decode(data, expect_accel=point_hash)
    assignment = bsmod.to_assignment(decoded, default_encoding=encoding)
    atomic_write_text(folder / "assignment.json", json.dumps(assignment, indent=1) + "\n")
    if emulate is not None:
        em = emulate(decoded)
        buf = io.BytesIO()
        np.savez_compressed(buf, logits=np.asarray(em.logits), search_accuracy=em.search_accuracy,
                            test_accuracy=em.test_accuracy)
        atomic_write_bytes(folder / "emulation.npz", buf.getvalue())
        row["emulation"] = {"file": "emulation.npz",
                            "search_accuracy": em.search_accuracy, "test_accuracy": em.test_accuracy}
        # the bitstream must compute what the search evaluated
        if abs(em.search_accuracy - p.accuracy) > 1e-12 or abs(em.test_accuracy - row["test_accuracy"]) > 1e-12:
            raise VerificationError(
                f"front point {i}: emulation from its bitstream gives accuracy {em.search_accuracy} (search) / "
                f"{em.test_accuracy} (test), the search measured {p.accuracy} / {row['test_accuracy']}")


def map_network(layers: Sequence[LayerInfo], candidates: Sequence[Candidate], *, n_units: int, slots_per_unit: int,
                search_accuracy: AccuracyModel, test_accuracy: AccuracyModel, energy: EnergyModel,
                settings: SearchSettings, out_dir: str | os.PathLike,
                accel_hash: str | bytes | Callable[[list[list[str]]], tuple[str, str | None]],
                granularity: Granularity = "filter", split_levels: int = 8, encoding: EncodingChoice = AUTO_ENCODING,
                executor_factory: Callable[[], Executor] = SerialExecutor,
                weight_tuning: str = "none",
                emulate: Callable[[bsmod.Bitstream], EmulationResult] | None = None,
                layerwise_baseline: bool = True, losses: Sequence[float] = DEFAULT_LOSSES,
                progress: bool = True, model_hash: str = "", device: DeviceImages | None = None,
                cycles: CycleSpec | None = None, accel_energy: AccelEnergyModel | None = None,
                memories: DeviceMemories | None = None, split_layers: bool = False) -> MapReport:
    """The whole mapping job (module docstring) into ``out_dir``. ``model_hash``: the model's weights hash (:func:`rtlgen.emulate.from_bitstream.model_weights`),
    recorded in every point's ``config.bin`` to tie it to the model's ``weights.bin``.
    ``cycles``: the accelerator's lanes and the network's op descriptors for the cycle model
    (:mod:`rtlgen.mapper.throughput`), required when ``settings.objectives`` has
    ``"throughput"``; both searches (layer-wise and split) then have three objectives.
    ``accel_energy`` (with ``cycles``): the accelerator's per-component energy model
    (:mod:`rtlgen.accel.energy`); every row then also has ``accel_energy_uj``, its energy per
    inference in the steady state (:mod:`rtlgen.mapper.energy`; the SRAM macros' included when
    ``memories`` is given, :mod:`rtlgen.accel.memories`), and ``accel_energy_saving`` against
    the exact reference's. ``split_layers`` (with ``cycles``, for its lanes): the search may
    also split a layer by output channels over every unit (:class:`SearchSpace`); the layer-wise
    baseline (ALWANN) keeps whole layers."""
    if settings.throughput and cycles is None:
        raise ValueError("the throughput objective needs the cycle model's inputs (cycles=CycleSpec(lanes, ops))")
    if split_layers and cycles is None:
        raise ValueError("splitting layers needs the accelerator's lanes (cycles=CycleSpec(lanes, ops))")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # "auto": each layer carries its own encoding (rtlgen.emulate.encoding.layer_encodings); the
    # space's default then only covers layers without one
    requested_encoding = encoding
    if encoding not in bsmod.ENCODINGS:
        encoding = "raw" if all(c.signed for c in candidates) else "signmag"
    space = SearchSpace(layers, candidates, n_units=n_units, slots_per_unit=slots_per_unit, granularity=granularity,
                        split_levels=split_levels, encoding=encoding, weight_tuning=weight_tuning,
                        split_layers=split_layers, lanes=None if cycles is None else cycles.lanes)
    table = EnergyTable(space, energy)
    model = None if cycles is None else cycles.model(space)
    inference = (None if accel_energy is None or model is None
                 else AcceleratorEnergy(accel_energy, table, model, memories=memories))
    atomic_write_text(out / "energy_per_mult.json", json.dumps(
        {"candidates": [c.name for c in space.candidates], "layers": [l.name for l in space.layers],
         "energy": table.values.tolist(), "macs": [l.macs for l in space.layers]}, indent=1) + "\n")
    # uniform baselines first: their front seeds both searches
    uni_points = [space.uniform_point(c) for c in range(len(space.candidates))]
    uni = {space.canonical(space.decode(x)): space.assignment(space.decode(x)) for x in uni_points}
    uni_search, uni_out = evaluate_assignments(search_accuracy, uni, out / "baselines_search.jsonl", executor_factory())
    uni_cycles = [None if model is None else model.evaluate(space.decode(x)) for x in uni_points]
    uni_eval = [EvaluatedPoint(tuple(int(v) for v in x), k, uni_search[k], table.uniform(c), 0,
                               None if cy is None else cy.per_inference, None if cy is None else cy.latency)
                for c, (x, k, cy) in enumerate(zip(uni_points, uni, uni_cycles))]
    # every uniform design runs on unit 0 (one placement, one cycle count): the 2-D front seeds
    uni_front = [c for c, p in enumerate(uni_eval) if p in pareto_front(uni_eval)]
    lw_result = None
    uniform_seeds = [space.uniform_point(c) for c in uni_front]
    seeds = list(uniform_seeds)
    if layerwise_baseline:
        lw_space = SearchSpace(layers, candidates, n_units=n_units, slots_per_unit=slots_per_unit, granularity="layer",
                               encoding=encoding, weight_tuning=weight_tuning)
        lw_table = EnergyTable(lw_space, energy, values=table.values)
        lw_result = run_search(lw_space, search_accuracy, lw_table, settings, out / "layerwise",
                               executor=executor_factory(), seeds=np.array([lw_space.uniform_point(c) for c in uni_front]),
                               known=uni_search, known_outcomes=uni_out, progress=progress,
                               cycles=None if cycles is None else cycles.model(lw_space))
        if granularity != "layer":
            # the split space contains every layer-wise point: start from the layer-wise front
            seeds = [space.from_layerwise(p.x, lw_space) for p in lw_result.front] + seeds
    if split_layers:
        # each uniform seed with every layer that can split split: the same computation, its
        # work shared by the units
        seeds = [space.split_everywhere(x) for x in uniform_seeds] + seeds
    result = run_search(space, search_accuracy, table, settings, out / "search", executor=executor_factory(),
                        seeds=np.array(seeds), known=uni_search, known_outcomes=uni_out, progress=progress,
                        cycles=model)
    # held-out test accuracy of everything shown
    front_pts = result.front
    lw_pts = lw_result.front if lw_result is not None else []
    test_assign = dict(uni)
    for sp, pts in ((space, front_pts), (lw_result.space if lw_result else space, lw_pts)):
        for p in pts:
            test_assign[p.key] = sp.assignment(sp.decode(np.asarray(p.x)))
    test, test_out = evaluate_assignments(test_accuracy, test_assign, out / "test_evaluations.jsonl", executor_factory())
    ref_key = space.canonical(space.decode(space.uniform_point(0)))
    ref_s, ref_t = result.reference_accuracy, test[ref_key]
    search_out = dict(uni_out)
    search_out.update(result.outcomes)
    if lw_result is not None:
        search_out.update(lw_result.outcomes)

    def cis(key: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        s_ci, t_ci = _interval(search_accuracy, search_out.get(key)), _interval(test_accuracy, test_out.get(key))
        if key == ref_key:
            # the exact design *is* the reference: its loss is 0 by construction, not an estimate
            s_ci, t_ci = (None if ci is None else dict(ci, low=0.0, high=0.0, method="the reference itself")
                          for ci in (s_ci, t_ci))
        return s_ci, t_ci

    front_rows = [_row(p, space, test, ref_s, ref_t, cis(p.key)) for p in front_pts]
    lw_rows = [_row(p, lw_result.space, test, ref_s, ref_t, cis(p.key)) for p in lw_pts] if lw_result else []
    ref_energy = None
    if inference is not None:
        ref_energy = inference.evaluate(space.decode(space.uniform_point(0))).total_pj
        for sp, rows, pts in ((space, front_rows, front_pts), (lw_result.space if lw_result else space, lw_rows, lw_pts)):
            for row, p in zip(rows, pts):
                # a layer-wise point in the split space's terms (the same banks, units and cycles)
                x = np.asarray(p.x) if sp is space or space.granularity == "layer" else space.from_layerwise(p.x, sp)
                e = inference.evaluate(space.decode(x), p.cycles)
                row["accel_energy_uj"] = e.total_pj / 1e6
                row["accel_energy_saving"] = 1.0 - e.total_pj / ref_energy
    uniform_rows = []
    for c, cand in enumerate(space.candidates):
        key = space.canonical(space.decode(space.uniform_point(c)))
        s_ci, t_ci = cis(key)
        uniform_rows.append({"id": _short(key), "multiplier": cand.name, "hash": cand.hash, "search_accuracy": uni_search[key],
                             "test_accuracy": test[key], "search_loss": ref_s - uni_search[key],
                             "test_loss": ref_t - test[key], "search_ci": s_ci, "test_ci": t_ci, "energy": table.uniform(c),
                             "energy_saving": 1.0 - table.uniform(c),
                             "cycles_per_inference": uni_eval[c].cycles, "latency_cycles": uni_eval[c].latency})
        if inference is not None and ref_energy is not None:
            e = inference.evaluate(space.decode(space.uniform_point(c)), uni_eval[c].cycles)
            uniform_rows[-1]["accel_energy_uj"] = e.total_pj / 1e6
            uniform_rows[-1]["accel_energy_saving"] = 1.0 - e.total_pj / ref_energy
    # bitstreams and emulation from them
    for i, (p, row) in enumerate(zip(front_pts, front_rows)):
        folder = out / "points" / f"{i:02d}"
        # each point's folder lands whole or not at all (a failed check leaves no bitstream
        # that disagrees with the search): its files go to a staged sibling, renamed at the end
        row["bitstream"] = str((folder / "config.bin").relative_to(out))
        with staged_folder(folder) as stage:
            _write_point(i, p, row, space, stage, encoding, accel_hash, emulate, model_hash, device, model)
        if "emulation" in row:
            row["emulation"]["file"] = str((folder / "emulation.npz").relative_to(out))
        if model is not None:
            row["schedule"] = str((folder / "schedule.json").relative_to(out))
    objective = getattr(search_accuracy, "objective", None)
    summary: dict[str, Any] = {"reference_search_accuracy": ref_s, "reference_test_accuracy": ref_t,
                               "quality": getattr(objective, "name", "accuracy"),
                               "confidence": CONFIDENCE,
                               "intervals": "Newcombe hybrid score (accuracy, paired per image), Wilson "
                                            "(agreement: disagreement rate) or paired bootstrap "
                                            "(reconstruction); rtlgen.mapper.stats",
                               "generations": result.generations, "pop_size": settings.pop_size,
                               "weight_tuning": weight_tuning, "encoding": requested_encoding,
                               "layer_encodings": {l.name: e for l, e in zip(space.layers, space.encodings)},
                               "seed": settings.seed, "granularity": granularity, "split_layers": split_layers,
                               "objectives": list(settings.objectives),
                               "cycle_model": None if model is None else
                               "rtlgen.mapper.throughput: cycles per inference = the steady state of the "
                               "concurrent units (cycles between outputs of a batch); latency: one input",
                               "units": n_units, "slots_per_unit": slots_per_unit,
                               "accelerator_energy": None if inference is None else {
                                   "model": "rtlgen.mapper.energy (rtlgen.accel.energy): energy per inference in "
                                            "the steady state at the model's clock, "
                                            + ("memories excluded (no SRAM macros for the PDK)" if inference.memories is None
                                               else "memories as SRAM macros (rtlgen.accel.memories)"),
                                   "coefficients": asdict(inference.model), "reference_uj": ref_energy / 1e6,
                                   "memories": None if inference.memories is None else {
                                       "macros": inference.memories.device.macros,
                                       "area_mm2": inference.memories.device.area_mm2,
                                       "reads_per_inference": dict(inference.memories.traffic.reads),
                                       "writes_per_inference": dict(inference.memories.traffic.writes),
                                       "reference_uj": inference.evaluate(space.decode(space.uniform_point(0))).memories_pj / 1e6}},
                               "evaluations": len(result.points), "within_loss": {}}
    for loss in losses:
        entry: dict[str, Any] = {}
        for name, rows in (("mapper", front_rows), ("layerwise", lw_rows), ("uniform", uniform_rows)):
            # two rules (rtlgen.mapper.stats.select_points): the measured search loss within the
            # bound, and the whole search-split interval within it
            entry[name] = {
                "selected_on_search": _pick(select_points(rows, loss, "plain"), loss),
                "selected_confident": _pick(select_points(rows, loss, "confident"), loss),
                "best_on_test": _pick(_best_within(rows, loss, "test_loss"), loss),
            }
        summary["within_loss"][f"{loss:g}"] = entry
    cols = ["search_accuracy", "test_accuracy", "search_loss", "test_loss", "energy", "energy_saving", "generation", "id"]
    ci_cols = ["search_loss_low", "search_loss_high", "test_loss_low", "test_loss_high"]
    cycle_cols = ["cycles_per_inference", "latency_cycles"]
    if inference is not None:
        cycle_cols += ["accel_energy_uj", "accel_energy_saving"]
    atomic_write_text(out / "front.csv", _csv([_ci_columns(r) for r in front_rows],
                                              cols + cycle_cols + ["bitstream"] + ci_cols))
    atomic_write_text(out / "front.json", json.dumps({"reference_search_accuracy": ref_s, "reference_test_accuracy": ref_t,
                                                      "front": front_rows, "layerwise_front": lw_rows}, indent=1) + "\n")
    base_rows = [dict(r, kind="uniform") for r in uniform_rows] + [dict(r, kind="layerwise", multiplier="") for r in lw_rows]
    atomic_write_text(out / "baselines.csv", _csv([_ci_columns(r) for r in base_rows],
                                                  ["kind", "multiplier"] + cols[:6] + ["id"] + cycle_cols + ci_cols))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1) + "\n")
    _plot(out / "pareto.png", front_rows, lw_rows, uniform_rows, ref_s, ref_t, summary["quality"])
    if settings.throughput:
        from rtlgen.mapper.figures import front_projections

        front_projections(out / "pareto_projections.png", front_rows, quality=summary["quality"])
    return MapReport(reference_search=ref_s, reference_test=ref_t, front=front_rows, layerwise=lw_rows,
                     uniform=uniform_rows, summary=summary, out_dir=out, search=result)
