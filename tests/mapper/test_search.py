from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mapper_standins import SyntheticAccuracy, synthetic_energy, synthetic_layers, truncated_candidates
from rtlgen.bitstream import format as bsm
from rtlgen.errors import ConfigError
from rtlgen.mapper import (DaskExecutor, EnergyTable, ProcessExecutor, SearchSettings, SearchSpace, filter_sensitivity, kernel_sensitivity,
                           make_executor, pareto_front, run_search)
from rtlgen.mapper.search import EvaluatedPoint


@pytest.fixture(scope="module")
def parts():
    layers = synthetic_layers()
    cands = truncated_candidates()
    return layers, cands


def _space(parts, granularity="filter", units=2, slots=3):
    layers, cands = parts
    return SearchSpace(layers, cands[::-1], n_units=units, slots_per_unit=slots, granularity=granularity, split_levels=4)


def test_space_orders_candidates_and_bounds(parts) -> None:
    space = _space(parts)
    assert space.candidates[0].is_exact
    errs = [c.mean_abs_error() for c in space.candidates]
    assert errs == sorted(errs)
    xl, xu = space.bounds()
    assert space.n_var == 2 * 3 + 3 + 3 * 2
    assert list(xu[:6]) == [5] * 6 and list(xu[6:9]) == [1] * 3 and list(xu[9:]) == [4] * 6
    assert space.describe_variables()[9] == "layer0.cut0"
    with pytest.raises(ValueError, match=r"^variable layer0\.unit = 2 outside 0\.\.1$"):
        x = xl.copy()
        x[6] = 2
        space.decode(x)


def test_filter_split_follows_cuts_and_sensitivity(parts) -> None:
    space = _space(parts)
    layer = space.layers[1]  # 12 filters
    x = space.uniform_point(0)
    x[0:3] = [5, 0, 3]  # unit 0: worst, exact, middle
    x[6 + 1] = 0  # layer 1 on unit 0
    x[9 + 2:9 + 4] = [3, 1]  # layer 1 cuts (sorted: 1, 3) of K=4 -> 3 / 6 / 3 filters
    m = space.decode(x)
    sel = m.selects[1]
    assert sel.shape == (12,)
    counts = {s: int((sel == s).sum()) for s in range(3)}
    # most accurate slot (exact, slot 1) gets the first quarter, middle (slot 2) the next half
    assert counts == {1: 3, 2: 6, 0: 3}
    order = np.argsort(-layer.filter_sensitivity, kind="stable")
    assert set(np.flatnonzero(sel == 1)) == set(order[:3])
    assert set(np.flatnonzero(sel == 0)) == set(order[9:])
    shares = m.shares(1, len(space.candidates))
    assert shares[0] == 0.25 and shares[3] == 0.5 and shares[5] == 0.25


def test_kernel_and_layer_granularity(parts) -> None:
    space = _space(parts, "kernel")
    x = space.uniform_point(2)
    m = space.decode(x)
    assert m.selects[2].shape == (16, 12)
    assert np.all(m.candidates_of(2) == 2)
    lw = _space(parts, "layer")
    assert lw.n_var == 6 + 3 + 3
    x = lw.uniform_point(0)
    x[0:3] = [1, 2, 3]
    x[9:12] = [2, 0, 1]
    m = lw.decode(x)
    assert [int(m.candidates_of(i)) for i in range(3)] == [3, 1, 2]
    a = lw.assignment(m)
    assert a["layers"]["0"] == {"multiplier": lw.candidates[3].hash, "encoding": "signmag"}


def test_assignment_and_bitstream_agree(parts) -> None:
    space = _space(parts, "kernel")
    rng = np.random.default_rng(3)
    xl, xu = space.bounds()
    for _ in range(5):
        x = rng.integers(xl, xu + 1)
        m = space.decode(x)
        bs = space.bitstream(m, "abcd")
        back = bsm.decode(bsm.encode(bs), expect_accel="abcd")
        a1 = space.assignment(m)["layers"]
        a2 = bsm.to_assignment(back)["layers"]
        for li, layer in enumerate(space.layers):
            want = np.vectorize(lambda c: space.candidates[c].hash, otypes=[object])(m.candidates_of(li))
            e1, e2 = a1[str(layer.index)], a2[str(layer.index)]
            got1 = np.full(want.shape, e1["multiplier"], dtype=object) if "multiplier" in e1 else np.array(e1["kernels"], dtype=object)
            got2 = np.array(e2["kernels"], dtype=object)
            assert np.array_equal(got1, want) and np.array_equal(got2, want), f"layer {layer.index}"


@pytest.mark.parametrize("granularity", ["filter", "kernel", "layer"])
def test_split_layers_deal_each_share_to_its_own_units_bank(parts, granularity) -> None:
    """split_layers: unit value 2 splits a layer over both units; each share's channels take
    multipliers from its own unit's bank (by the same cuts, most sensitive first within the
    share); the assignment and the bitstream's shares agree multiplier for multiplier."""
    layers, cands = parts
    space = SearchSpace(layers, cands[::-1], n_units=2, slots_per_unit=3, granularity=granularity, split_levels=4,
                        split_layers=True, lanes=4)
    xl, xu = space.bounds()
    assert list(xu[6:9]) == [2, 2, 2]
    x = space.uniform_point(0)
    x[0:6] = [5, 0, 3, 1, 2, 4]             # unit 0: worst, exact, middle; unit 1: three others
    x[6:9] = [2, 0, 2]                      # layers 0 and 2 split, layer 1 whole on unit 0
    x[9:] = 1 if granularity == "layer" else [1, 3] * 3
    m = space.decode(x)
    assert m.parts[0] == ((0, 0, 4), (1, 4, 8)) and m.parts[1] == ((0, 0, 12),)
    assert m.parts[2] == ((0, 0, 8), (1, 8, 16))
    for li in (0, 2):
        c = np.asarray(m.candidates_of(li))
        per_channel = c if c.ndim == 1 else c.reshape(c.shape[0], -1)
        for u, lo, hi in m.parts[li]:
            assert set(np.unique(per_channel[lo:hi])) <= set(m.units[u]), (li, u)
        if granularity == "layer":          # slot 1 of each unit's bank
            assert list(c) == [0] * 4 + [2] * 4 if li == 0 else [0] * 8 + [2] * 8
        elif granularity == "filter":       # each share: a quarter, a half, a quarter of its filters
            lo_c = c[:4] if li == 0 else c[:8]
            assert sorted(np.bincount(lo_c, minlength=6)[[0, 3, 5]]) == sorted([len(lo_c) // 4, len(lo_c) // 2,
                                                                                len(lo_c) - len(lo_c) // 4 - len(lo_c) // 2])
    bs = space.bitstream(m, "abcd")
    back = bsm.decode(bsm.encode(bs), expect_accel="abcd")
    assert [(d.key, d.unit, d.co_first, d.co_end) for d in back.layers] == [
        ("0", 0, 0, 4), ("0", 1, 4, 8), ("1", 0, 0, 12), ("2", 0, 0, 8), ("2", 1, 8, 16)]
    a1, a2 = space.assignment(m)["layers"], bsm.to_assignment(back)["layers"]
    for li, layer in enumerate(space.layers):
        want = np.vectorize(lambda c: space.candidates[c].hash, otypes=[object])(m.candidates_of(li))
        for e in (a1[layer.key], a2[layer.key]):
            got = (np.full(want.shape, e["multiplier"], dtype=object) if "multiplier" in e else
                   np.array(e["filters"] if "filters" in e else e["kernels"], dtype=object))
            if got.shape != want.shape:     # per kernel where the selects are per filter
                got = got[:, 0] if want.ndim == 1 else got
            assert np.array_equal(got, want), (granularity, layer.key)
    # a layer with fewer groups of lanes than units never splits
    narrow = SearchSpace(layers, cands, n_units=2, slots_per_unit=3, granularity=granularity, split_levels=4,
                         split_layers=True, lanes=8)
    assert list(narrow.bounds()[1][6:9]) == [1, 2, 2]
    with pytest.raises(ValueError, match="at least two units"):
        SearchSpace(layers, cands, n_units=1, slots_per_unit=3, split_layers=True, lanes=4)
    with pytest.raises(ValueError, match="lanes"):
        SearchSpace(layers, cands, n_units=2, slots_per_unit=3, split_layers=True)


def test_energy_table(parts) -> None:
    space = _space(parts)
    table = EnergyTable(space, synthetic_energy)
    m0 = space.decode(space.uniform_point(0))
    assert table.relative(m0) == pytest.approx(1.0)
    m5 = space.decode(space.uniform_point(5))
    assert table.relative(m5) == pytest.approx(table.uniform(5)) and table.uniform(5) < 0.5
    # hand computation of a mixed mapping
    x = space.uniform_point(0)
    x[0:3] = [5, 0, 3]
    x[6:9] = [0, 0, 1]
    x[9:15] = [1, 3] * 3
    m = space.decode(x)
    num = sum(l.macs * sum(frac * synthetic_energy(space.candidates[c], l.act_hist, l.weight_hist)
                           for c, frac in enumerate(m.shares(i, 6))) for i, l in enumerate(space.layers))
    den = sum(l.macs * synthetic_energy(space.candidates[0], l.act_hist, l.weight_hist) for l in space.layers)
    assert table.relative(m) == pytest.approx(num / den, rel=1e-12)


def test_sensitivity_definition() -> None:
    w = np.zeros((2, 3, 3, 2), dtype=np.int8)
    w[0, :, :, 0] = -2
    w[1, 0, 0, 1] = 5
    s = kernel_sensitivity(w, np.array([0.5, 2.0]), np.array([10.0, 1.0]))
    assert np.allclose(s, [[0.5 * 10 * 18, 0.0], [0.0, 2.0 * 1 * 5]])
    assert np.allclose(filter_sensitivity(s), [90.0, 10.0])
    dw = kernel_sensitivity(np.ones((4, 3, 3, 1)), 1.0, np.arange(4.0)[:, None])
    assert dw.shape == (4, 1) and np.allclose(dw[:, 0], 9 * np.arange(4.0))
    with pytest.raises(ValueError, match=r"^act_mean_abs of shape \(3,\) does not fit kernels \(2, 2\)$"):
        kernel_sensitivity(w, 1.0, np.ones(3))


SETTINGS = SearchSettings(generations=4, pop_size=12, seed=7)


def _run(parts, run_dir, settings=SETTINGS, executor=None, granularity="filter"):
    layers, cands = parts
    space = _space(parts, granularity)
    return run_search(space, SyntheticAccuracy(layers, cands), synthetic_energy, settings, run_dir,
                      executor=executor, progress=False)


def _summary(result):
    return [(p.key, p.accuracy, p.energy, p.generation) for p in result.points], [p.key for p in result.front]


def test_search_reproducible_and_front_nondominated(parts, tmp_path) -> None:
    r1 = _run(parts, tmp_path / "a")
    r2 = _run(parts, tmp_path / "b")
    assert _summary(r1) == _summary(r2)
    assert r1.reference_accuracy == pytest.approx(0.9)
    assert len(r1.points) > SETTINGS.pop_size  # later generations found new mappings
    for p in r1.front:
        assert not any(q.accuracy >= p.accuracy and q.energy <= p.energy and (q.accuracy, q.energy) != (p.accuracy, p.energy)
                       for q in r1.points), p
    assert any(p.energy < 0.7 for p in r1.front)
    r3 = _run(parts, tmp_path / "c", SearchSettings(generations=4, pop_size=12, seed=8))
    assert _summary(r3) != _summary(r1)


def test_resume_equals_uninterrupted(parts, tmp_path) -> None:
    full = _run(parts, tmp_path / "full")
    part = _run(parts, tmp_path / "part", SearchSettings(generations=2, pop_size=12, seed=7))
    assert part.generations == 2
    n_before = len((tmp_path / "part" / "evaluations.jsonl").read_text().splitlines())
    resumed = _run(parts, tmp_path / "part")
    assert resumed.generations == 4
    assert _summary(resumed) == _summary(full)
    # a resumed run re-evaluated nothing it had logged
    lines = (tmp_path / "part" / "evaluations.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines)) and len(lines) > n_before
    with pytest.raises(ConfigError, match=r"checkpoint\.pkl: checkpoint is of a different search"):
        _run(parts, tmp_path / "part", SearchSettings(generations=4, pop_size=12, seed=9))


_KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path[:0] = {paths!r}
    from mapper_standins import SyntheticAccuracy, synthetic_energy, synthetic_layers, truncated_candidates
    from rtlgen.mapper import SearchSettings, SearchSpace, run_search
    layers, cands = synthetic_layers(), truncated_candidates()
    space = SearchSpace(layers, cands[::-1], n_units=2, slots_per_unit=3, granularity="filter", split_levels=4)
    run_search(space, SyntheticAccuracy(layers, cands, delay=0.1), synthetic_energy,
               SearchSettings(generations=4, pop_size=12, seed=7), {run!r}, progress=False)
""")


def test_killed_run_resumes_losing_nothing(parts, tmp_path) -> None:
    run = tmp_path / "killed"
    tests = Path(__file__).resolve().parents[1]
    script = _KILL_SCRIPT.format(paths=[str(tests / "support"), str(tests.parent)], run=str(run))
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 300  # generous: CI machines may be loaded
        while time.time() < deadline:
            ckpt = run / "checkpoint.pkl"
            if ckpt.exists() and pickle.loads(ckpt.read_bytes())["generations"] >= 2:
                break
            assert proc.poll() is None, "search finished or died before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("no checkpoint of generation 2 within 300 s")
        proc.send_signal(signal.SIGKILL)  # generation 3 is under way (each takes >= 0.8 s)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = len((run / "evaluations.jsonl").read_bytes().splitlines())
    done = pickle.loads((run / "checkpoint.pkl").read_bytes())["generations"]
    assert done in (2, 3)
    layers, cands = parts
    model = SyntheticAccuracy(layers, cands)
    resumed = run_search(_space(parts), model, synthetic_energy, SETTINGS, run, progress=False)
    full = _run(parts, tmp_path / "full")
    assert _summary(resumed) == _summary(full)
    # everything logged before the kill was reused: only the rest was evaluated
    n_full = len((tmp_path / "full" / "evaluations.jsonl").read_bytes().splitlines())
    assert model.calls == n_full - logged


def test_accuracy_bound(parts, tmp_path) -> None:
    r = _run(parts, tmp_path / "b", SearchSettings(generations=3, pop_size=12, seed=7, max_accuracy_loss=0.01))
    assert r.front and all(p.accuracy >= r.reference_accuracy - 0.01 - 1e-12 for p in r.front)


def test_process_pool_matches_serial(parts, tmp_path) -> None:
    settings = SearchSettings(generations=2, pop_size=12, seed=3)
    serial = _run(parts, tmp_path / "s", settings)
    pooled = _run(parts, tmp_path / "p", settings, executor=ProcessExecutor(workers=2))
    assert _summary(pooled) == _summary(serial)


@pytest.mark.parametrize("processes", [False, True])
def test_dask_cluster_matches_serial(parts, tmp_path, processes) -> None:
    from distributed import LocalCluster

    settings = SearchSettings(generations=2, pop_size=12, seed=3)
    serial = _run(parts, tmp_path / "s", settings)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None) as cluster:
        dask = _run(parts, tmp_path / "d", settings, executor=DaskExecutor(scheduler=cluster.scheduler_address))
    assert _summary(dask) == _summary(serial)


def test_executor_registry() -> None:
    assert isinstance(make_executor("local", workers=1), ProcessExecutor)
    with pytest.raises(ValueError, match=r"^unknown executor 'mpi'; valid: serial, local, dask$"):
        make_executor("mpi")


def test_pareto_front_helper() -> None:
    pts = [EvaluatedPoint((0,), k, a, e, 1) for k, a, e in
           [("a", 0.9, 1.0), ("b", 0.85, 0.6), ("c", 0.8, 0.7), ("d", 0.85, 0.5), ("e", 0.5, 0.1)]]
    assert [p.key for p in pareto_front(pts)] == ["e", "d", "a"]
    assert [p.key for p in pareto_front(pts, min_accuracy=0.85)] == ["d", "a"]


def test_from_layerwise_computes_the_same(parts) -> None:
    layers, cands = parts
    split = _space(parts, "kernel")
    lw = _space(parts, "layer")
    rng = np.random.default_rng(11)
    xl, xu = lw.bounds()
    for _ in range(20):
        x = rng.integers(xl, xu + 1)
        y = split.from_layerwise(x, lw)
        a, b = lw.decode(x), split.decode(y)
        for li in range(len(layers)):
            assert np.all(b.candidates_of(li) == a.candidates_of(li)), li
        assert lw.canonical(a) == split.canonical(b)


def test_seeds_join_first_population(parts, tmp_path) -> None:
    layers, cands = parts
    space = _space(parts)
    seed_x = space.uniform_point(0)
    seed_x[0:3] = [4, 4, 4]
    seed_x[6:9] = [0, 0, 0]
    r = run_search(space, SyntheticAccuracy(layers, cands), synthetic_energy,
                   SearchSettings(generations=1, pop_size=12, seed=1), tmp_path, seeds=seed_x[None, :], progress=False)
    key = space.canonical(space.decode(seed_x))
    assert any(p.key == key and p.generation == 1 for p in r.points)
