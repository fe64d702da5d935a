from __future__ import annotations

import json

import numpy as np
import pytest

from rtlgen.library.catalog import Catalog
from rtlgen.emulate import Emulator, catalog_resolver, emulator_for, load_assignment, parse_assignment
from rtlgen.errors import ConfigError
from rtlgen.nn import load_tflite
from rtlgen.netlist.table import exact_table, table_hash
from rtlgen.zoo.digits import digits_model_path, load_digits_images

from emulate_helpers import perturbed, truncated, weight_minus_one


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    root = tmp_path_factory.mktemp("lib")
    cat = Catalog(root)
    cat.add(truncated(False, 5), False, "mul8u_T5")
    cat.add(perturbed(False, 1), False, "mul8u_P1")
    cat.add(perturbed(True, 2), True, "mul8s_P2")
    cat.add(weight_minus_one(), False, "mul8u_WM1")
    cat.save()
    return root


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits_images("test")
    return load_tflite(digits_model_path()), x[:40], y[:40]


def test_layer_filter_kernel_forms_build_the_right_selects(lib, digits):
    graph, x, _ = digits
    em = Emulator(graph)
    convs = graph.conv_ops()
    o1, g1 = em.layers[convs[1].index].kernel_shape
    o2, g2 = em.layers[convs[2].index].kernel_shape
    a = parse_assignment({
        "default": "mul8u_T5",
        "layers": {"1": {"filters": ["mul8u_P1", "mul8u_T5"] * (o1 // 2) + ["exact"] * (o1 % 2)},
                   "2": {"kernels": [["mul8u_P1"] * g2 for _ in range(o2)]},
                   "0": {"multiplier": "mul8s_P2", "encoding": "raw"}},
    })
    plans = a.plans(graph, catalog_resolver(lib))
    assert set(plans) == {op.index for op in convs}  # FC stays exact unless listed
    p0 = plans[convs[0].index]
    assert p0.encoding == "raw" and p0.names == ("mul8s_P2",)
    p1 = plans[convs[1].index]
    assert p1.select[:2, 0].tolist() == [0, 1] and p1.names[:2] == ("mul8u_P1", "mul8u_T5")
    assert (p1.select == p1.select[:, :1]).all()
    assert plans[convs[2].index].names == ("mul8u_P1",)
    res = Emulator(graph, plans).run(x)
    assert res.logits.shape == (40, 10)


def test_keys_by_tensor_name_hash_and_fc(lib, digits):
    graph, x, _ = digits
    conv0 = graph.conv_ops()[0]
    name = graph.tensors[conv0.outputs[0]].name
    h = table_hash(truncated(False, 5), False)
    plans = parse_assignment({"layers": {name: h, "fc:0": "mul8u_P1"}}).plans(graph, catalog_resolver(lib))
    assert set(plans) == {conv0.index, graph.last_fc().index}
    assert np.array_equal(plans[conv0.index].tables[0], truncated(False, 5))


@pytest.mark.parametrize("doc, message", [
    ([], r"an assignment must be a JSON object"),
    ({"encodng": "raw"}, r"unknown key\(s\) encodng; expected default, encoding, layers, weight_tuning"),
    ({"encoding": "twos"}, r"encoding: unknown encoding 'twos'; valid: signmag, raw, offset"),
    ({"weight_tuning": "all"}, r"weight_tuning: unknown weight tuning 'all'; valid: none, uniform, histogram"),
    ({"layers": {"99": "mul8u_T5"}}, r"layers: no layer '99'; conv layers are 0\.\.\d+"),
    ({"layers": {"0": {"filters": ["mul8u_T5"]}}}, r"layers\['0'\]: 'filters' must list \d+ multipliers"),
    ({"layers": {"0": {"kernels": [["mul8u_T5"]]}}}, r"layers\['0'\]: 'kernels' must be \d+ lists of \d+"),
    ({"layers": {"0": {"multiplier": "mul8u_T5", "filters": []}}}, r"layers\['0'\]: expected exactly one of 'multiplier', 'filters', 'kernels'"),
    ({"layers": {"0": "mul8s_P2"}}, r"layers\['0'\]: multiplier mul8s_P2 is signed, but encoding "
                                    r"'signmag' needs an unsigned multiplier"),
    ({"default": "mul8u_NOPE"}, r"default: no multiplier 'mul8u_NOPE' in .*entries: mul8u_P1"),
    ({"layers": {"0": 5}}, r"layers\['0'\]: a multiplier must be a name or hash string, not 5"),
])
def test_bad_assignments_are_clear(lib, digits, doc, message):
    graph, _, _ = digits
    with pytest.raises(ConfigError, match=r"^a\.json: " + message):
        parse_assignment(doc, "a.json").plans(graph, catalog_resolver(lib))


def test_names_need_a_library(digits):
    graph, _, _ = digits
    with pytest.raises(ConfigError, match=r"^a\.json: default: multiplier 'mul8u_T5' needs a library"):
        parse_assignment({"default": "mul8u_T5"}, "a.json").plans(graph, None)
    # 'exact' needs none
    assert parse_assignment({"default": "exact"}).plans(graph, None)


def test_invalid_json_names_file_and_line(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"default":\n  mul8u}')
    with pytest.raises(ConfigError, match=r"a\.json:2: invalid JSON"):
        load_assignment(p)


def test_weight_tuning_from_assignment_recovers_accuracy(lib, digits):
    graph, x, y = digits
    base = {"default": "mul8u_WM1"}  # computes a * (b - 1): tuning can undo it exactly
    res = {}
    for mode in ("none", "uniform", "histogram"):
        em = emulator_for(graph, parse_assignment({**base, "weight_tuning": mode}),
                          catalog_resolver(lib), calib_images=x)
        res[mode] = em.run(x)
        tuned = [p.weights is not None for p in em.plans.values()]
        assert all(tuned) == (mode != "none")
    exact = emulator_for(graph).run(x)

    def err(r):
        return np.abs(r.logits.astype(int) - exact.logits).mean()

    # every weight but +-127 maps to w + sign(w): the tuned network is nearly exact
    assert err(res["none"]) > 0.5
    assert err(res["uniform"]) < err(res["none"]) / 2
    assert err(res["histogram"]) < err(res["none"]) / 2


def test_operand_histograms_follow_the_assignment_encoding(lib, digits):
    from rtlgen.emulate import operand_histograms

    graph, x, _ = digits
    conv0 = graph.conv_ops()[0].index
    a = parse_assignment({"layers": {"0": {"multiplier": "mul8s_P2", "encoding": "raw"}}})
    raw = operand_histograms(graph, x[:5], a, catalog_resolver(lib))
    sm = operand_histograms(graph, x[:5])
    layer = Emulator(graph).layers[conv0]
    assert raw[conv0][0].sum() == sm[conv0][0].sum() == 5 * layer.macs
    # raw: B is the weight's two's-complement pattern, so negative weights land in 129..255
    assert raw[conv0][1][129:].sum() > 0 and sm[conv0][1][128:].sum() == 0
