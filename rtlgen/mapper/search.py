"""NSGA-II over the mapping space (pymoo), with checkpoint/resume and pluggable executors.

Objectives (all minimised, :attr:`SearchSettings.objectives`): the quality's shortfall (``1 -
quality``: top-1 error with ``accuracy``) on the search split and relative multiplication energy
(:mod:`rtlgen.mapper.objectives`), the default; with ``"throughput"`` also the cycles per
inference of the accelerator with concurrent units (:mod:`rtlgen.mapper.throughput`: the
steady-state bound ``max_u busy_u``), so that the unit of each layer trades placement for
overlap. Given a cycle model, every evaluated point carries its cycles per inference and latency
in both modes (they cost microseconds). With ``max_accuracy_loss`` an inequality constraint keeps
``accuracy >= reference - max_accuracy_loss`` (the reference being the exact multiplier).

A point is one mapping key (:meth:`SearchSpace.canonical`: what the network computes). Two
placements of the same multipliers share a key, its quality and its energy; in three-objective
mode the key's point is the placement with the fewest cycles met so far (the others are
dominated by it), in two-objective mode the first one met.

A run lives in a folder:

* ``evaluations.jsonl``: one line per distinct mapping evaluated, appended and flushed as each
  evaluation comes back from the executor (``key``, ``accuracy``: the quality, and ``outcomes``:
  the per-image values when the model offers them, see :func:`pack_outcomes`), so a killed run
  loses only the evaluations still with a worker;
* ``checkpoint.pkl``: the pymoo algorithm (population, random generator state) after the last
  finished generation, written atomically with the number of generations done and the identity
  of the search (space fingerprint, seed, population size, bound).

Speed: only the accuracy evaluations cost (energy is a table look-up). A generation's new
mappings are evaluated in :func:`reuse_order`, so that mappings sharing their first layers run
back to back in one worker, whose quality model resumes them after the shared layers
(:class:`rtlgen.mapper.network.EmulatorAccuracy`'s prefix cache, ``prefix_cache_bytes``; ``rtlgen
map --prefix-cache-mb``; flow files' ``[search] prefix_cache_mb``). Results do not depend on it.

Resuming loads both and continues; evaluations already in the log are not repeated. Because the
algorithm's random generator is part of the checkpoint and evaluations are deterministic, a run
that was killed and resumed ends exactly where an uninterrupted run with the same seed ends.
"""
from __future__ import annotations

import base64
import json
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtlgen.errors import ConfigError
from rtlgen.paths import atomic_write_bytes
from rtlgen.mapper.executors import Executor, SerialExecutor
from rtlgen.mapper.objectives import AccuracyModel, EnergyModel, EnergyTable, accuracy_task
from rtlgen.mapper.space import SearchSpace
from rtlgen.mapper.throughput import CycleModel

__all__ = ["OBJECTIVES", "SearchSettings", "EvaluatedPoint", "SearchResult", "MappingProblem", "run_search", "pareto_front",
           "dominates", "pack_outcomes", "unpack_outcomes", "reuse_order"]

CHECKPOINT = "checkpoint.pkl"
EVALUATIONS = "evaluations.jsonl"
_CHECKPOINT_FORMAT = 1

#: the objectives a search may have, in the order of its objective vector
OBJECTIVES = ("quality", "energy", "throughput")
#: the two searches there are: quality and energy (the default), and with throughput
_MODES = (("quality", "energy"), ("quality", "energy", "throughput"))


@dataclass(frozen=True)
class SearchSettings:
    generations: int = 20
    pop_size: int = 32
    seed: int = 1
    #: accuracy loss allowed against the exact multiplier (fraction, e.g. 0.02), or None
    max_accuracy_loss: float | None = None
    #: what NSGA-II minimises: ``("quality", "energy")`` or ``("quality", "energy", "throughput")``
    objectives: tuple[str, ...] = ("quality", "energy")

    def __post_init__(self) -> None:
        if self.generations < 1 or self.pop_size < 4:
            raise ValueError(f"need at least 1 generation and a population of 4, not {self.generations}, {self.pop_size}")
        if self.max_accuracy_loss is not None and not 0 <= self.max_accuracy_loss <= 1:
            raise ValueError(f"max_accuracy_loss must be a fraction in 0..1, not {self.max_accuracy_loss}")
        object.__setattr__(self, "objectives", tuple(self.objectives))
        if self.objectives not in _MODES:
            raise ValueError(f"objectives must be {' or '.join(repr(m) for m in _MODES)}, not {self.objectives!r}")

    @property
    def throughput(self) -> bool:
        """Whether cycles per inference is an objective."""
        return "throughput" in self.objectives


@dataclass(frozen=True)
class EvaluatedPoint:
    x: tuple[int, ...]
    key: str
    accuracy: float
    energy: float
    generation: int
    #: cycles per inference (steady-state bound) and latency, :mod:`rtlgen.mapper.throughput`;
    #: None without a cycle model
    cycles: int | None = None
    latency: int | None = None

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy


@dataclass
class SearchResult:
    space: SearchSpace
    energy: EnergyTable
    reference_accuracy: float
    #: every distinct mapping evaluated by the search, in the order first met
    points: list[EvaluatedPoint]
    #: the non-dominated points among ``points`` (max accuracy, min energy; and min cycles with
    #: three objectives), by rising energy
    front: list[EvaluatedPoint]
    generations: int
    #: per-image outcomes of the front points (by key), where the model offered them
    outcomes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    objectives: tuple[str, ...] = ("quality", "energy")
    #: the cycle model the points' cycles come from (None: no cycles)
    cycles: CycleModel | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"reference_accuracy": self.reference_accuracy, "generations": self.generations,
                "objectives": list(self.objectives),
                "front": [asdict(p) for p in self.front], "points": [asdict(p) for p in self.points]}


def dominates(p: EvaluatedPoint, q: EvaluatedPoint, objectives: tuple[str, ...] = ("quality", "energy")) -> bool:
    """Whether ``p`` is at least as good as ``q`` in every objective and better in one."""
    a, b = [(-x.accuracy, x.energy) + ((x.cycles,) if "throughput" in objectives else ()) for x in (p, q)]
    return all(u <= v for u, v in zip(a, b)) and a != b


def pareto_front(points: list[EvaluatedPoint], *, min_accuracy: float | None = None,
                 objectives: tuple[str, ...] = ("quality", "energy")) -> list[EvaluatedPoint]:
    """Non-dominated points (higher accuracy, lower energy; with ``"throughput"`` in
    ``objectives`` also fewer cycles per inference), one per distinct objective vector, by
    rising energy (then falling accuracy, rising cycles)."""
    pts = [p for p in points if min_accuracy is None or p.accuracy >= min_accuracy - 1e-12]
    if "throughput" not in objectives:
        pts = sorted(pts, key=lambda p: (p.energy, -p.accuracy, p.key))
        front: list[EvaluatedPoint] = []
        best = -1.0
        for p in pts:
            if p.accuracy > best:
                front.append(p)
                best = p.accuracy
        return front
    if any(p.cycles is None for p in pts):
        raise ValueError("a three-objective front needs every point's cycles (a cycle model)")
    # in this order whatever dominates a point (or equals it) comes before it
    pts = sorted(pts, key=lambda p: (p.energy, -p.accuracy, p.cycles, p.key))
    front = []
    for p in pts:
        if not any(q.accuracy >= p.accuracy and q.energy <= p.energy and q.cycles <= p.cycles  # type: ignore[operator]
                   for q in front):
            front.append(p)
    return front


try:
    from pymoo.core.problem import Problem as _PymooProblem
    from pymoo.core.sampling import Sampling as _PymooSampling
except ImportError as exc:  # pragma: no cover - pymoo is a declared dependency
    raise ImportError("rtlgen.mapper needs pymoo (pip install pymoo)") from exc


class MappingProblem(_PymooProblem):
    """The mapping space as a pymoo problem: integer variables, 2 or 3 objectives, 0 or 1
    constraint.

    The evaluation function is attached at run time and left out of pickles (checkpoints).
    """

    def __init__(self, space: SearchSpace, n_constraints: int, n_objectives: int = 2):
        xl, xu = space.bounds()
        super().__init__(n_var=space.n_var, n_obj=n_objectives, n_ieq_constr=n_constraints, xl=xl, xu=xu, vtype=int)
        self.evaluate_batch = None

    def _evaluate(self, X, out, *args, **kwargs):  # noqa: N803 - pymoo's signature
        if self.evaluate_batch is None:
            raise RuntimeError("MappingProblem has no evaluation function attached")
        F, G = self.evaluate_batch(np.asarray(X))
        out["F"] = F
        if self.n_ieq_constr:
            out["G"] = G

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["evaluate_batch"] = None
        return state


class _SeededSampling(_PymooSampling):
    """First generation: the exact design, uniform designs of a spread of candidates, the caller's
    seed points (e.g. a layer-wise front), then random points."""

    def __init__(self, space: SearchSpace, seeds: np.ndarray | None = None):
        super().__init__()
        # rows, not the space: this object is pickled into every checkpoint
        self.uniform = np.array([space.uniform_point(c) for c in range(len(space.candidates))])
        self.seeds = np.zeros((0, space.n_var), dtype=int) if seeds is None else np.asarray(seeds, dtype=int)

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        xl, xu = problem.bounds()
        n_cand = len(self.uniform)
        n_uniform = min(n_cand, max(1, n_samples // 4))
        picks = np.unique(np.linspace(0, n_cand - 1, n_uniform).round().astype(int))
        rows = [self.uniform[c] for c in picks]
        seen = {tuple(r) for r in rows}
        n_seeds = n_samples - len(rows) - max(1, n_samples // 6)  # keep some random points
        for r in self.seeds:
            if len(rows) < len(picks) + n_seeds and tuple(r) not in seen:
                rows.append(r)
                seen.add(tuple(r))
        while len(rows) < n_samples:
            rows.append(np.array([random_state.integers(xl[k], xu[k] + 1) for k in range(problem.n_var)]))
        return np.array(rows[:n_samples], dtype=int)


def pack_outcomes(values: np.ndarray) -> dict[str, Any]:
    """Per-image outcomes as JSON: 0/1 values as packed bits (``{"bits": base64, "n": N}``),
    others as little-endian float64 (``{"f64": base64}``)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if np.all((v == 0) | (v == 1)):
        return {"bits": base64.b64encode(np.packbits(v.astype(np.uint8)).tobytes()).decode(), "n": int(v.size)}
    return {"f64": base64.b64encode(v.astype("<f8").tobytes()).decode()}


def unpack_outcomes(doc: dict[str, Any]) -> np.ndarray:
    if "bits" in doc:
        bits = np.unpackbits(np.frombuffer(base64.b64decode(doc["bits"]), dtype=np.uint8))
        return bits[:int(doc["n"])].astype(np.float64)
    return np.frombuffer(base64.b64decode(doc["f64"]), dtype="<f8").astype(np.float64)


class _EvaluationLog:
    """``evaluations.jsonl``: key -> quality (and per-image outcomes), appended line by line."""

    def __init__(self, path: Path):
        self.path = path
        self.accuracy: dict[str, float] = {}
        self.outcomes: dict[str, np.ndarray] = {}
        if path.exists():
            lines = path.read_bytes().split(b"\n")
            good = []
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    self.accuracy[rec["key"]] = float(rec["accuracy"])
                    if rec.get("outcomes") is not None:
                        self.outcomes[rec["key"]] = unpack_outcomes(rec["outcomes"])
                    good.append(line)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    if i < len(lines) - 1 and any(l.strip() for l in lines[i + 1:]):
                        raise ConfigError(f"corrupt evaluation record (not the last line, so not an interrupted "
                                          f"write)", file=str(path), line=i + 1) from None
                    # the last line of a run killed while writing: drop it
            atomic_write_bytes(path, b"".join(l + b"\n" for l in good))
        self._f = open(path, "a", encoding="utf-8")

    def add(self, key: str, accuracy: float, outcomes: np.ndarray | None = None) -> None:
        self.accuracy[key] = accuracy
        rec: dict[str, Any] = {"key": key, "accuracy": accuracy}
        if outcomes is not None:
            self.outcomes[key] = np.asarray(outcomes, dtype=np.float64)
            rec["outcomes"] = pack_outcomes(outcomes)
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def reuse_order(assignment: dict[str, Any]) -> tuple[str, ...]:
    """Sort key that puts assignments sharing their first layers' choices next to each other.

    A generation's evaluations run in this order (and an executor hands contiguous runs of them
    to one worker, :class:`~rtlgen.mapper.executors.ProcessExecutor`), so each worker's prefix
    cache (:class:`rtlgen.emulate.PrefixCache`) resumes after the longest shared prefix. The
    assignment's ``layers`` are in graph order (:meth:`SearchSpace.assignment`); the global
    settings come first because they change every layer. Only the order changes: every result
    is the same.
    """
    head = json.dumps({k: v for k, v in assignment.items() if k != "layers"}, sort_keys=True)
    return (head,) + tuple(json.dumps(e, sort_keys=True) for e in assignment.get("layers", {}).values())


class _Evaluator:
    """Evaluates batches of points: energy here, accuracy through the executor, all cached."""

    def __init__(self, space: SearchSpace, energy: EnergyTable, log: _EvaluationLog, executor: Executor,
                 settings: SearchSettings, progress: Any, cycles: CycleModel | None = None):
        self.space, self.energy, self.log, self.executor = space, energy, log, executor
        self.settings = settings
        self.cycles = cycles
        self.progress = progress
        self.points: dict[str, EvaluatedPoint] = {}
        self.order: list[str] = []
        self.generation = 0
        self.reference_accuracy: float | None = None

    def accuracies(self, keys_assignments: dict[str, dict[str, Any]]) -> dict[str, float]:
        todo = {k: a for k, a in keys_assignments.items() if k not in self.log.accuracy}
        items = sorted(todo.items(), key=lambda ka: reuse_order(ka[1]))
        for i, (acc, outcomes) in self.executor.map([a for _, a in items]):
            self.log.add(items[i][0], float(acc), outcomes)
            if self.progress is not None:
                self.progress.set_postfix(evaluations=len(self.log.accuracy), refresh=False)
        return {k: self.log.accuracy[k] for k in keys_assignments}

    def reference(self) -> float:
        x = self.space.uniform_point(0)
        m = self.space.decode(x)
        key = self.space.canonical(m)
        self.reference_accuracy = self.accuracies({key: self.space.assignment(m)})[key]
        return self.reference_accuracy

    def point(self, x: Any, key: str, accuracy: float, mapping: Any, generation: int) -> EvaluatedPoint:
        cyc = None if self.cycles is None else self.cycles.evaluate(mapping)
        return EvaluatedPoint(tuple(int(v) for v in x), key, accuracy, self.energy.relative(mapping), generation,
                              None if cyc is None else cyc.per_inference, None if cyc is None else cyc.latency)

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mappings = [self.space.decode(x) for x in X]
        keys = [self.space.canonical(m) for m in mappings]
        acc = self.accuracies({k: self.space.assignment(m) for k, m in zip(keys, mappings)})
        three = self.settings.throughput
        F = np.empty((len(X), 3 if three else 2))
        for i, (x, m, k) in enumerate(zip(X, mappings, keys)):
            p = self.point(x, k, acc[k], m, self.generation)
            F[i] = (1.0 - acc[k], p.energy) + ((float(p.cycles),) if three else ())  # type: ignore[arg-type]
            if k not in self.points:
                self.points[k] = p
                self.order.append(k)
            elif three and p.cycles < self.points[k].cycles:  # type: ignore[operator]
                self.points[k] = p  # the same computation placed with fewer cycles
        G = np.zeros((len(X), 1))
        if self.settings.max_accuracy_loss is not None:
            assert self.reference_accuracy is not None
            G[:, 0] = (self.reference_accuracy - self.settings.max_accuracy_loss) - (1.0 - F[:, 0])
        return F, G


def _identity(space: SearchSpace, settings: SearchSettings, cycles: CycleModel | None) -> dict[str, Any]:
    # seeds are not part of it: they only shape the first population of a new run (so a longer
    # run of a flow whose seeds come from another search's front still resumes); the objectives
    # and the cycle model only where cycles are an objective, so that two-objective checkpoints
    # of earlier versions still resume
    out = {"format": _CHECKPOINT_FORMAT, "space": space.fingerprint(), "seed": settings.seed,
           "pop_size": settings.pop_size, "max_accuracy_loss": settings.max_accuracy_loss}
    if settings.throughput:
        out["objectives"] = list(settings.objectives)
        out["cycles"] = None if cycles is None else cycles.fingerprint()
    return out


def run_search(space: SearchSpace, accuracy: AccuracyModel, energy: EnergyModel | EnergyTable,
               settings: SearchSettings, run_dir: str | os.PathLike, *, executor: Executor | None = None,
               seeds: np.ndarray | None = None, known: dict[str, float] | None = None,
               known_outcomes: dict[str, np.ndarray] | None = None, progress: bool = True,
               cycles: CycleModel | None = None) -> SearchResult:
    """Run (or resume, when ``run_dir`` holds a checkpoint of the same search) NSGA-II.

    ``cycles`` (:class:`rtlgen.mapper.throughput.CycleModel` of ``space``): every point's cycles
    per inference and latency; required when ``settings.objectives`` has ``"throughput"``.

    ``settings.generations`` is the total: resuming a run that did 2 of 5 does 3 more; a finished
    run asked for more generations continues from its last one. ``seeds`` (points of ``space``)
    join the first population after the uniform designs; a resumed run ignores them. ``known``
    (mapping key -> accuracy, e.g. the uniform baselines; ``known_outcomes``: their per-image
    outcomes) enters the evaluation log unevaluated.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.termination import NoTermination
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from tqdm.auto import tqdm

    if settings.throughput and cycles is None:
        raise ValueError("the throughput objective needs a cycle model (cycles=, rtlgen.mapper.throughput)")
    if cycles is not None and cycles.space is not space:
        raise ValueError("the cycle model belongs to another search space")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if seeds is not None:
        seeds = np.asarray(seeds, dtype=int).reshape(-1, space.n_var)
        for x in seeds:
            space.decode(x)  # in bounds
    identity = _identity(space, settings, cycles)
    ckpt_path = run_dir / CHECKPOINT
    state = None
    if ckpt_path.exists():
        try:
            state = pickle.loads(ckpt_path.read_bytes())
        except Exception as exc:  # a pickle of another version or a damaged file
            raise ConfigError(f"cannot read checkpoint: {exc}", file=str(ckpt_path)) from None
        if state.get("identity") != identity:
            raise ConfigError(f"checkpoint is of a different search ({state.get('identity')}, this one is {identity}); "
                              "use another run folder or delete it", file=str(ckpt_path))
    table = energy if isinstance(energy, EnergyTable) else EnergyTable(space, energy)
    log = _EvaluationLog(run_dir / EVALUATIONS)
    for key, acc in (known or {}).items():  # accuracies measured elsewhere (same model, same split)
        if key not in log.accuracy:
            log.add(key, float(acc), (known_outcomes or {}).get(key))
    executor = executor or SerialExecutor()
    problem = MappingProblem(space, 1 if settings.max_accuracy_loss is not None else 0, len(settings.objectives))
    bar = tqdm(total=settings.generations, desc="NSGA-II", unit="gen", disable=not progress, dynamic_ncols=True)
    evaluator = _Evaluator(space, table, log, executor, settings, bar, cycles)
    problem.evaluate_batch = evaluator
    executor.start(accuracy_task, accuracy)
    try:
        reference = evaluator.reference()
        if state is None:
            algorithm = NSGA2(pop_size=settings.pop_size, sampling=_SeededSampling(space, seeds),
                              crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
                              mutation=PM(eta=20, vtype=float, repair=RoundingRepair()),
                              eliminate_duplicates=True, seed=settings.seed)
            algorithm.setup(problem, termination=NoTermination())
            done = 0
            history: list[str] = []
        else:
            algorithm = state["algorithm"]
            algorithm.problem = problem
            done = state["generations"]
            history = state["order"]
            # re-create the points seen before the interruption from the log (no re-evaluation)
            for key, x, gen in history:
                m = space.decode(np.array(x))
                evaluator.points[key] = evaluator.point(x, key, log.accuracy[key], m, gen)
                evaluator.order.append(key)
        bar.update(done)
        while done < settings.generations:
            evaluator.generation = done + 1
            pop = algorithm.ask()
            algorithm.evaluator.eval(problem, pop)
            algorithm.tell(infills=pop)
            done += 1
            order = [(k, list(evaluator.points[k].x), evaluator.points[k].generation) for k in evaluator.order]
            atomic_write_bytes(ckpt_path, pickle.dumps({"identity": identity, "algorithm": algorithm,
                                                        "generations": done, "order": order}))
            front = pareto_front(list(evaluator.points.values()), objectives=settings.objectives)
            bar.set_postfix(evaluations=len(log.accuracy), front=len(front), refresh=False)
            bar.update(1)
    finally:
        bar.close()
        executor.close()
        log.close()
        problem.evaluate_batch = None
    points = [evaluator.points[k] for k in evaluator.order]
    min_acc = None if settings.max_accuracy_loss is None else reference - settings.max_accuracy_loss
    front = pareto_front(points, min_accuracy=min_acc, objectives=settings.objectives)
    return SearchResult(space=space, energy=table, reference_accuracy=reference, points=points,
                        front=front, generations=done,
                        outcomes={p.key: log.outcomes[p.key] for p in front if p.key in log.outcomes},
                        objectives=settings.objectives, cycles=cycles)
