from __future__ import annotations

import numpy as np
import pytest

from rtlgen.emulate import Emulator, LayerPlan
from rtlgen.emulate.encoding import dot
from rtlgen.nn import load_tflite
from rtlgen.netlist.table import exact_table
from rtlgen.emulate.weight_tuning import tune_plan, weight_map
from rtlgen.zoo.digits import digits_model_path

from emulate_helpers import truncated, weight_minus_one


@pytest.mark.parametrize("encoding", ["signmag", "raw", "offset"])
def test_exact_multiplier_maps_every_weight_to_itself(encoding):
    t = exact_table(encoding == "raw")
    m = weight_map(t, encoding, -128)
    assert m[1:].tolist() == list(range(-127, 128))


def test_biased_multiplier_is_undone():
    m = weight_map(weight_minus_one(), "signmag", -128)
    w = np.arange(-126, 127)
    assert m[w + 128].tolist() == (w + np.sign(w)).tolist()


def test_remap_minimises_the_weighted_error_by_brute_force():
    rng = np.random.default_rng(5)
    t = truncated(False, 6)
    p = rng.random(256)
    p[:40] = 0  # ReLU-clamped codes never below z = -88
    z = -88
    m = weight_map(t, "signmag", z, p)
    xs = np.arange(z, 128)
    pv = p[xs + 128] / p[xs + 128].sum()
    for w in rng.integers(-127, 128, 12):
        def cost(v):
            prod = dot(t, xs[:, None], np.full((xs.size, 1), v), z, "signmag")
            return float(pv @ np.abs(prod - (xs - z) * w))
        best = min(cost(v) for v in range(-127, 128))
        assert cost(int(m[w + 128])) == pytest.approx(best, rel=1e-9), f"weight {w}"


def test_histogram_and_uniform_differ_when_activations_are_skewed():
    a = np.arange(256)[:, None]
    b = np.arange(256)[None, :]
    t = np.where(a >= 200, a * np.maximum(b - 1, 0), a * b).astype(np.int32)  # wrong for large a
    p = np.zeros(256)
    p[128 + 100: 128 + 110] = 1  # activations x - z in 228..237 only
    uni = weight_map(t, "signmag", -128)
    hist = weight_map(t, "signmag", -128, p)
    w = np.arange(-126, 127)
    assert uni[w + 128].tolist() == w.tolist()  # mostly-exact on average: keep the weights
    assert hist[w + 128].tolist() == (w + np.sign(w)).tolist()  # exactly wrong where it matters


def test_tune_plan_applies_the_map_per_kernel_table():
    g = load_tflite(digits_model_path())
    em = Emulator(g)
    idx, layer = next(iter(em.layers.items()))
    tables = (exact_table(False), weight_minus_one())
    sel = np.zeros(layer.kernel_shape, dtype=np.int64)
    sel[::2] = 1
    plan = LayerPlan("signmag", tables, sel).validate(layer)
    tuned = tune_plan(layer, plan, "uniform")
    w = layer.weights.astype(int)
    fixed = np.where(np.abs(w) < 127, w + np.sign(w), w)
    assert np.array_equal(tuned.weights[::2], fixed[::2])
    assert np.array_equal(tuned.weights[1::2], w[1::2])
    assert tune_plan(layer, plan, "none") is plan
    with pytest.raises(ValueError, match=r"^histogram weight tuning needs the layer's activation"):
        tune_plan(layer, plan, "histogram")
    with pytest.raises(ValueError, match=r"^unknown weight tuning 'x'; valid: none, uniform, histogram$"):
        tune_plan(layer, plan, "x")
