"""The mapper on the MLPerf Tiny DS-CNN: per-layer encodings, depthwise and FULLY_CONNECTED layers."""
from __future__ import annotations

import re

import numpy as np
import pytest

from mapper_standins import synthetic_energy, truncated_candidates
from rtlgen.bitstream import format as bsm
from rtlgen.errors import ConfigError
from rtlgen.mapper import SearchSettings, SearchSpace
from rtlgen.mapper.network import EmulatorAccuracy, layer_encodings, layer_infos

pytestmark = [pytest.mark.data]


@pytest.fixture(scope="module")
def dscnn(shared_data):
    from rtlgen.nn.tflite import load_tflite

    graph = load_tflite(shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite")
    with np.load(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz") as f:
        x, y = f["x"][:48], f["y"][:48]
    return graph, x, y


def test_encoding_per_layer(dscnn) -> None:
    graph, _x, _y = dscnn
    kinds = [op.kind for op in graph.mac_ops()]
    assert kinds == ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * 4 + ["FULLY_CONNECTED"]
    # the input layer reads MFCC codes down to -128 with zero point 83: only offset fits;
    # every later layer reads ReLU outputs clamped at their zero point: signmag fits
    assert layer_encodings(graph) == ["offset"] + ["signmag"] * 9
    assert layer_encodings(graph, signed=True) == ["raw"] * 10
    assert layer_encodings(graph, "offset") == ["offset"] * 10
    with pytest.raises(ConfigError, match=r"encoding signmag cannot run layer 0:conv_2d@op0: its input can go down "
                                          r"to -128 with zero point 83, so x - z reaches -211"):
        layer_encodings(graph, "signmag")


def _space(graph, x, **kw) -> SearchSpace:
    layers = layer_infos(graph, x[:16])
    return SearchSpace(layers, truncated_candidates((0, 4, 8)), n_units=2, slots_per_unit=2, **kw)


def test_mixed_encodings_emulate_and_round_trip(dscnn) -> None:
    graph, x, y = dscnn
    space = _space(graph, x, granularity="filter", split_levels=4)
    assert [l.kind for l in space.layers][:2] == ["conv2d", "depthwise_conv2d"]
    assert [l.kind for l in space.layers][-2:] == ["conv2d", "fully_connected"]
    assert [l.key for l in space.layers][-1] == "fc:0"
    assert space.encodings == ("offset",) + ("signmag",) * 9
    # exact multipliers everywhere compute the exact model, offset layer included
    exact = space.decode(space.uniform_point(0))
    fast = EmulatorAccuracy(graph, x, y, {c.hash: c.table for c in space.candidates})
    ref_run = fast.run(space.assignment(exact))
    from rtlgen.emulate.emulator import Emulator

    assert np.array_equal(ref_run.logits, Emulator(graph).run(x).logits)
    # a mapping that splits every layer, the depthwise and FC ones included, between two multipliers
    xv = space.uniform_point(0)
    xv[:4] = [1, 2, 0, 2]
    um = 4
    n = len(space.layers)
    xv[um:um + n] = [0, 1] * (n // 2)
    xv[um + n:] = 2
    mapping = space.decode(xv)
    assignment = space.assignment(mapping)
    assert assignment["layers"]["0"]["encoding"] == "offset" and assignment["layers"]["fc:0"]["encoding"] == "signmag"
    assert all(len(set(np.ravel(mapping.candidates_of(li)))) == 2 for li in range(n))
    tables = {c.hash: c.table for c in space.candidates}
    got = EmulatorAccuracy(graph, x, y, tables, engine="fast").run(assignment)
    want = EmulatorAccuracy(graph, x, y, tables, engine="reference").run(assignment)
    assert np.array_equal(got.logits, want.logits)
    assert not np.array_equal(got.logits, ref_run.logits)  # the approximation shows
    # the bitstream carries each layer's encoding and computes the same
    data = bsm.encode(space.bitstream(mapping, "ab" * 32))
    decoded = bsm.decode(data)
    assert [(d.key, d.kind, d.encoding) for d in decoded.layers] == \
        [(l.key, l.kind, e) for l, e in zip(space.layers, space.encodings)]
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream

    from_bs = emulator_from_bitstream(graph, decoded, lambda h: (tables[h], False)).run(x)
    assert np.array_equal(from_bs.logits, got.logits)


def test_tiny_search_assigns_depthwise_and_fc(dscnn, tmp_path) -> None:
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream
    from rtlgen.mapper.flow import EmulationResult, map_network

    graph, x, y = dscnn
    layers = layer_infos(graph, x[:16])
    cands = truncated_candidates((0, 6, 10))
    tables = {c.hash: c.table for c in cands}
    search = EmulatorAccuracy(graph, x[:24], y[:24], tables)
    test = EmulatorAccuracy(graph, x[24:], y[24:], tables)

    def emulate(bs):
        res = emulator_from_bitstream(graph, bs, lambda h: (tables[h], False)).run(x)
        return EmulationResult(res.logits, search.quality(search.outcomes_of(type(res)(res.logits[:24], res.output[:24], res.pred[:24]))),
                               test.quality(test.outcomes_of(type(res)(res.logits[24:], res.output[24:], res.pred[24:]))))

    report = map_network(layers, cands, n_units=2, slots_per_unit=2, search_accuracy=search, test_accuracy=test,
                         energy=synthetic_energy, settings=SearchSettings(generations=2, pop_size=4, seed=3),
                         out_dir=tmp_path, accel_hash="cd" * 32, split_levels=2, emulate=emulate,
                         layerwise_baseline=False, progress=False)
    assert report.summary["layer_encodings"]["0:conv_2d@op0"] == "offset"
    names = [l["name"] for l in report.front[0]["mapping"]["layers"]]
    assert "1:depthwise_conv_2d@op1" in names and "9:fully_connected@op11" in names
    # the depthwise and FC layers are variables of the search: a uniform baseline puts the
    # approximate multiplier on them too, and the front's mappings list them
    space = report.search.space
    strong = space.assignment(space.decode(space.uniform_point(2)))
    assert strong["layers"]["fc:0"]["multiplier"] == space.candidates[2].hash
    assert strong["layers"]["1"]["multiplier"] == space.candidates[2].hash
    assert "layer1.cut0" in space.describe_variables() and "layerfc:0.cut0" in space.describe_variables()
    # every loss carries its interval; the exact point's is centred on 0
    for row in report.front + report.uniform:
        assert row["search_ci"]["low"] <= row["search_loss"] <= row["search_ci"]["high"]
        assert row["test_ci"]["low"] <= row["test_loss"] <= row["test_ci"]["high"]
    exact_row = next(r for r in report.uniform if r["multiplier"] == "exact")
    assert exact_row["search_ci"]["loss"] == 0 and exact_row["test_ci"]["worse"] == 0
    sel = report.summary["within_loss"]["0.02"]["mapper"]
    assert set(sel) == {"selected_on_search", "selected_confident", "best_on_test"}
    assert re.match(r"^(CI includes 0|a loss|a gain)", sel["selected_on_search"]["test_verdict"])


def test_cli_forced_encoding_names_the_layer(shared_data, tmp_path, capsys) -> None:
    from rtlgen.cli import main

    src = tmp_path / "netlists"
    src.mkdir()
    found = sorted((shared_data / "evoapproxlib-v2022").rglob("mul8u_1JJQ.v"))
    (src / "mul8u_1JJQ.v").symlink_to(found[0])
    lib = tmp_path / "lib"
    assert main(["lib", "import", str(src), "--lib", str(lib)]) == 0
    accel = tmp_path / "accel.toml"
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 1\nlanes = 4\nmultipliers = 1\n"
                     "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
    capsys.readouterr()
    argv = ["map", "--model", str(shared_data / "mlperf_tiny_kws" / "kws_ref_model.tflite"),
            "--images", str(shared_data / "mlperf_tiny_kws" / "kws01_test1000.npz"), "--accel", str(accel),
            "--lib", str(lib), "--out", str(tmp_path / "run"), "--search", "0:8", "--test", "8:16",
            "--encoding", "signmag", "--quiet", "--workers", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"encoding signmag cannot run layer 0:conv_2d@op0: .*use encoding auto", err[0])
    assert not (tmp_path / "run").exists()  # nothing half-written
