"""NSGA-II over the mapping space (pymoo), with checkpoint/resume and pluggable executors.

Objectives (both minimised): top-1 error on the search split, and relative multiplication energy
(:mod:`rtlgen.mapper.objectives`). With ``max_accuracy_loss`` an inequality constraint keeps
``accuracy >= reference - max_accuracy_loss`` (the reference being the exact multiplier).

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

__all__ = ["SearchSettings", "EvaluatedPoint", "SearchResult", "MappingProblem", "run_search", "pareto_front",
           "pack_outcomes", "unpack_outcomes", "reuse_order"]

CHECKPOINT = "checkpoint.pkl"
EVALUATIONS = "evaluations.jsonl"
_CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class SearchSettings:
    generations: int = 20
    pop_size: int = 32
    seed: int = 1
    #: accuracy loss allowed against the exact multiplier (fraction, e.g. 0.02), or None
    max_accuracy_loss: float | None = None

    def __post_init__(self) -> None:
        if self.generations < 1 or self.pop_size < 4:
            raise ValueError(f"need at least 1 generation and a population of 4, not {self.generations}, {self.pop_size}")
        if self.max_accuracy_loss is not None and not 0 <= self.max_accuracy_loss <= 1:
            raise ValueError(f"max_accuracy_loss must be a fraction in 0..1, not {self.max_accuracy_loss}")


@dataclass(frozen=True)
class EvaluatedPoint:
    x: tuple[int, ...]
    key: str
    accuracy: float
    energy: float
    generation: int

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
    #: the non-dominated points (max accuracy, min energy) among ``points``, by rising energy
    front: list[EvaluatedPoint]
    generations: int
    #: per-image outcomes of the front points (by key), where the model offered them
    outcomes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"reference_accuracy": self.reference_accuracy, "generations": self.generations,
                "front": [asdict(p) for p in self.front], "points": [asdict(p) for p in self.points]}


def pareto_front(points: list[EvaluatedPoint], *, min_accuracy: float | None = None) -> list[EvaluatedPoint]:
    """Non-dominated points (higher accuracy, lower energy); one per (accuracy, energy) pair."""
    pts = [p for p in points if min_accuracy is None or p.accuracy >= min_accuracy - 1e-12]
    pts = sorted(pts, key=lambda p: (p.energy, -p.accuracy, p.key))
    front: list[EvaluatedPoint] = []
    best = -1.0
    for p in pts:
        if p.accuracy > best:
            front.append(p)
            best = p.accuracy
    return front


try:
    from pymoo.core.problem import Problem as _PymooProblem
    from pymoo.core.sampling import Sampling as _PymooSampling
except ImportError as exc:  # pragma: no cover - pymoo is a declared dependency
    raise ImportError("rtlgen.mapper needs pymoo (pip install pymoo)") from exc


class MappingProblem(_PymooProblem):
    """The mapping space as a pymoo problem: integer variables, 2 objectives, 0 or 1 constraint.

    The evaluation function is attached at run time and left out of pickles (checkpoints).
    """

    def __init__(self, space: SearchSpace, n_constraints: int):
        xl, xu = space.bounds()
        super().__init__(n_var=space.n_var, n_obj=2, n_ieq_constr=n_constraints, xl=xl, xu=xu, vtype=int)
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
                 settings: SearchSettings, progress: Any):
        self.space, self.energy, self.log, self.executor = space, energy, log, executor
        self.settings = settings
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

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mappings = [self.space.decode(x) for x in X]
        keys = [self.space.canonical(m) for m in mappings]
        acc = self.accuracies({k: self.space.assignment(m) for k, m in zip(keys, mappings)})
        F = np.empty((len(X), 2))
        for i, (x, m, k) in enumerate(zip(X, mappings, keys)):
            e = self.energy.relative(m)
            F[i] = (1.0 - acc[k], e)
            if k not in self.points:
                self.points[k] = EvaluatedPoint(tuple(int(v) for v in x), k, acc[k], e, self.generation)
                self.order.append(k)
        G = np.zeros((len(X), 1))
        if self.settings.max_accuracy_loss is not None:
            assert self.reference_accuracy is not None
            G[:, 0] = (self.reference_accuracy - self.settings.max_accuracy_loss) - (1.0 - F[:, 0])
        return F, G


def _identity(space: SearchSpace, settings: SearchSettings) -> dict[str, Any]:
    # seeds are not part of it: they only shape the first population of a new run (so a longer
    # run of a flow whose seeds come from another search's front still resumes)
    return {"format": _CHECKPOINT_FORMAT, "space": space.fingerprint(), "seed": settings.seed,
            "pop_size": settings.pop_size, "max_accuracy_loss": settings.max_accuracy_loss}


def run_search(space: SearchSpace, accuracy: AccuracyModel, energy: EnergyModel | EnergyTable,
               settings: SearchSettings, run_dir: str | os.PathLike, *, executor: Executor | None = None,
               seeds: np.ndarray | None = None, known: dict[str, float] | None = None,
               known_outcomes: dict[str, np.ndarray] | None = None, progress: bool = True) -> SearchResult:
    """Run (or resume, when ``run_dir`` holds a checkpoint of the same search) NSGA-II.

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

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if seeds is not None:
        seeds = np.asarray(seeds, dtype=int).reshape(-1, space.n_var)
        for x in seeds:
            space.decode(x)  # in bounds
    identity = _identity(space, settings)
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
    problem = MappingProblem(space, 1 if settings.max_accuracy_loss is not None else 0)
    bar = tqdm(total=settings.generations, desc="NSGA-II", unit="gen", disable=not progress, dynamic_ncols=True)
    evaluator = _Evaluator(space, table, log, executor, settings, bar)
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
                evaluator.points[key] = EvaluatedPoint(tuple(x), key, log.accuracy[key], table.relative(m), gen)
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
            front = pareto_front(list(evaluator.points.values()))
            bar.set_postfix(evaluations=len(log.accuracy), front=len(front), refresh=False)
            bar.update(1)
    finally:
        bar.close()
        executor.close()
        log.close()
        problem.evaluate_batch = None
    points = [evaluator.points[k] for k in evaluator.order]
    min_acc = None if settings.max_accuracy_loss is None else reference - settings.max_accuracy_loss
    front = pareto_front(points, min_accuracy=min_acc)
    return SearchResult(space=space, energy=table, reference_accuracy=reference, points=points,
                        front=front, generations=done,
                        outcomes={p.key: log.outcomes[p.key] for p in front if p.key in log.outcomes})
