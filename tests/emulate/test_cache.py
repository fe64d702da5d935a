from __future__ import annotations

import numpy as np
import pytest

from rtlgen.emulate import Emulator, LayerPlan
from rtlgen.emulate.cache import PrefixCache
from rtlgen.nn import load_tflite
from rtlgen.zoo.digits import digits_model_path, load_digits_images

from emulate_helpers import truncated


@pytest.fixture(scope="module")
def digits():
    x, _ = load_digits_images("test")
    return load_tflite(digits_model_path()), x[:45]


def _plans(em, which: dict[int, int]):
    return {idx: LayerPlan("signmag", (truncated(False, bits),), np.zeros(em.layers[idx].kernel_shape, int))
            for idx, bits in which.items()}


def test_cached_runs_equal_uncached_and_skip_the_unchanged_prefix(digits):
    graph, x = digits
    base = Emulator(graph)
    macs = sorted(base.layers)
    first, last = macs[0], macs[-1]
    cache = PrefixCache()
    runs = [{first: 4}, {first: 4, last: 6}, {first: 4, last: 7}, {first: 5, last: 7}, {}]
    for which in runs:
        plans = _plans(base, which)
        want = Emulator(graph, plans, batch_size=20).run(x)
        before = cache.hits
        got = Emulator(graph, plans, batch_size=20).run(x, cache=cache)
        assert np.array_equal(got.logits, want.logits) and np.array_equal(got.output, want.output)
        if which in runs[1:3]:
            assert cache.hits > before  # the first layer's result (and more) was reused
    # a different image set never reuses the other's tensors
    other = x[::-1].copy()
    plans = _plans(base, {first: 4})
    got = Emulator(graph, plans, batch_size=20).run(other, cache=cache)
    assert np.array_equal(got.output, Emulator(graph, plans, batch_size=20).run(other).output)


def test_zero_budget_stores_nothing(digits):
    graph, x = digits
    cache = PrefixCache(max_bytes=0)
    em = Emulator(graph)
    em.run(x, cache=cache)
    em.run(x, cache=cache)
    assert cache.hits == 0


def test_several_prefixes_are_kept_and_the_least_recently_used_dropped(digits):
    graph, x = digits
    base = Emulator(graph)
    first = sorted(base.layers)[0]
    runs = {bits: _plans(base, {first: bits}) for bits in (3, 4, 5)}
    cache = PrefixCache()
    for bits in (3, 4):
        Emulator(graph, runs[bits], batch_size=20).run(x, cache=cache)
    before = cache.hits
    got = Emulator(graph, runs[3], batch_size=20).run(x, cache=cache)  # not the last run
    assert cache.hits > before
    assert np.array_equal(got.output, Emulator(graph, runs[3], batch_size=20).run(x).output)
    # a budget for about one run's tensors: the older prefixes go first
    one_run = cache._bytes // 3 + 1
    small = PrefixCache(max_bytes=one_run)
    for bits in (3, 4, 5):
        Emulator(graph, runs[bits], batch_size=20).run(x, cache=small)
    assert small._bytes <= one_run
    before = small.hits
    Emulator(graph, runs[3], batch_size=20).run(x, cache=small)
    assert small.hits == before  # bits=3 was evicted


def test_plan_digest_covers_tables_weights_and_encoding(digits):
    from rtlgen.emulate.cache import plan_digest

    graph, _x = digits
    layer = Emulator(graph).layers[sorted(Emulator(graph).layers)[0]]
    sel = np.zeros(layer.kernel_shape, int)
    a, b = truncated(False, 4), truncated(False, 6)
    raw = LayerPlan("signmag", (a,), sel)
    assert plan_digest(raw) != plan_digest(LayerPlan("signmag", (b,), sel))  # unvalidated: by table bytes
    v = raw.validate(layer)
    assert plan_digest(v) == plan_digest(LayerPlan("signmag", (a,), sel).validate(layer))
    assert plan_digest(v) != plan_digest(LayerPlan("offset", (a,), sel).validate(layer))
    tuned = LayerPlan("signmag", (a,), sel, weights=np.zeros_like(layer.weights)).validate(layer)
    assert plan_digest(v) != plan_digest(tuned)  # weight tuning is part of the key


def test_one_engine_instance_reuses_tables_across_emulators(digits, monkeypatch):
    from rtlgen.emulate import engines
    from rtlgen.emulate.engines import get_engine

    graph, x = digits
    base = Emulator(graph)
    macs = sorted(base.layers)
    runs = [_plans(base, {macs[0]: 4, macs[-1]: 6}), _plans(base, {macs[0]: 5}), _plans(base, {macs[0]: 4, macs[-1]: 6})]
    monkeypatch.setattr(engines, "VTAB_CACHE_BYTES", 1)  # keep only the newest table: eviction on every build
    for name in ("fast", "native"):
        shared = get_engine(name)
        for plans in runs:
            got = Emulator(graph, plans, engine=shared, batch_size=20).run(x)
            want = Emulator(graph, plans, engine=name, batch_size=20).run(x)
            assert np.array_equal(got.output, want.output) and np.array_equal(got.logits, want.logits)
        assert len(shared._vtabs) == 1
