"""Search speed-ups that must not change a result: prefix reuse, weight-map memo, evaluation order."""
from __future__ import annotations

import operator

import numpy as np
import pytest

from rtlgen.mapper import EnergyTable, ProcessExecutor, SearchSettings, run_search
from rtlgen.mapper.search import reuse_order
from rtlgen.netlist.table import exact_table


@pytest.fixture(scope="module")
def resnet8(shared_data):
    """ResNet-8 (residual ADDs: cut tensors cross layers) on 24 images, three stand-in multipliers."""
    from rtlgen.emulate.emulator import Emulator
    from rtlgen.mapper import Candidate
    from rtlgen.mapper.network import layer_infos
    from rtlgen.nn.tflite import load_tflite

    graph = load_tflite(shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite")
    data = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")
    x, y = data["x"][:24], data["y"][:24]
    exact = exact_table(False)
    cands = [Candidate.from_table("exact", exact, False),
             Candidate.from_table("trunc7", exact & ~127, False),
             Candidate.from_table("noisy", np.clip(exact + (np.arange(256)[:, None] % 5) * 40, 0, 65535), False)]
    return graph, x, y, cands, layer_infos(graph, x), Emulator(graph).activation_histograms(x)


def _search(resnet8, run_dir, cache_bytes, executor=None, generations=3):
    from rtlgen.mapper import SearchSpace
    from rtlgen.mapper.network import EmulatorAccuracy

    graph, x, y, cands, layers, hists = resnet8
    space = SearchSpace(layers, cands, n_units=2, slots_per_unit=2, granularity="filter", split_levels=4,
                        weight_tuning="histogram")
    # batches of 10: two full ones and a partial one, each cached apart; the engine whose
    # kernels numba caches on disk (all engines compute the same bytes, tests/emulate)
    model = EmulatorAccuracy(graph, x, y, {c.hash: c.table for c in cands}, act_hists=hists, batch_size=10,
                             prefix_cache_bytes=cache_bytes, engine="fast")
    table = EnergyTable(space, lambda c, a, b: 1.0 + float(np.abs(c.table.astype(np.int64) - exact_table(False)).mean()))
    res = run_search(space, model, table, SearchSettings(generations=generations, pop_size=8, seed=3), run_dir,
                     executor=executor, progress=False)
    return res, model


def test_prefix_reuse_gives_the_same_search(resnet8, tmp_path) -> None:
    plain, off = _search(resnet8, tmp_path / "off", 0)
    cached, on = _search(resnet8, tmp_path / "on", 256 << 20)
    # a budget of about one cut's tensors: constant eviction
    tight, small = _search(resnet8, tmp_path / "tight", 3 << 20)
    assert off._cache is None
    assert on._cache.hits > 0 and small._cache.hits > 0  # layers were skipped, not just cached
    assert small._cache._bytes <= 3 << 20
    for res in (cached, tight):
        assert [(p.key, p.accuracy, p.energy) for p in res.points] == \
               [(p.key, p.accuracy, p.energy) for p in plain.points]
        assert res.outcomes.keys() == plain.outcomes.keys()
        for k, v in plain.outcomes.items():
            assert np.array_equal(res.outcomes[k], v)


def test_prefix_reuse_in_worker_processes(resnet8, tmp_path) -> None:
    plain, _ = _search(resnet8, tmp_path / "serial", 0, generations=2)
    pooled, _ = _search(resnet8, tmp_path / "pool", 64 << 20, executor=ProcessExecutor(workers=2), generations=2)
    assert [(p.key, p.accuracy) for p in pooled.points] == [(p.key, p.accuracy) for p in plain.points]


def test_weight_map_memo_equals_fresh_maps(resnet8) -> None:
    from rtlgen.emulate import LayerPlan
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.weight_tuning import tune_plan

    graph, x, y, cands, layers, hists = resnet8
    macs = compile_mac_layers(graph)
    memo: dict = {}
    for idx in sorted(macs)[:2]:
        layer = macs[idx]
        sel = np.arange(layer.kernel_shape[0])[:, None] % 2 * np.ones(layer.kernel_shape, int)
        plan = LayerPlan("signmag", (cands[1].table, cands[2].table), sel).validate(layer)
        for _ in range(2):  # the second time from the memo
            got = tune_plan(layer, plan, "histogram", hists[idx], memo=memo)
            assert np.array_equal(got.weights, tune_plan(layer, plan, "histogram", hists[idx]).weights)
    assert len(memo) == 4  # (layer, table) pairs


def test_reuse_order_groups_shared_prefixes() -> None:
    def a(*layers: str, tuning: str = "none") -> dict:
        return {"encoding": "signmag", "weight_tuning": tuning,
                "layers": {str(i): {"multiplier": m} for i, m in enumerate(layers)}}

    items = [a("B", "X"), a("A", "Y"), a("B", "Y"), a("A", "X"), a("A", "X", tuning="histogram")]
    order = sorted(items, key=reuse_order)
    firsts = [(o["weight_tuning"], o["layers"]["0"]["multiplier"]) for o in order]
    # same settings and first layer next to each other, then by the second layer
    assert firsts == sorted(firsts)
    assert [o["layers"]["1"]["multiplier"] for o in order if o["weight_tuning"] == "none"] == ["X", "Y", "X", "Y"]


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_process_executor_runs_hand_back_every_index(chunk) -> None:
    ex = ProcessExecutor(workers=2, chunk=chunk)
    ex.start(operator.add, 100)
    try:
        got = dict(ex.map(range(11)))
    finally:
        ex.close()
    assert got == {i: 100 + i for i in range(11)}
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        ProcessExecutor(chunk=0)
