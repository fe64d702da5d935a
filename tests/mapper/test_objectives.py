from __future__ import annotations

import numpy as np
import pytest

from mapper_standins import truncated_candidates
from rtlgen.emulate.emulator import EmulationResult
from rtlgen.errors import ConfigError
from rtlgen.mapper.objectives import QUALITY_OBJECTIVES, accuracy_task, get_quality


def _result(pred, output=None) -> EmulationResult:
    pred = np.asarray(pred)
    out = np.zeros((len(pred), 2), np.int8) if output is None else np.asarray(output, np.int8)
    return EmulationResult(logits=out, output=out, pred=pred)


class _Tensor:
    def __init__(self, scale: float, zero_point: int):
        self.scale, self.zero_point = scale, zero_point


class _Graph:
    """An 'autoencoder' whose input has scale 0.5, zero point 10 and output scale 0.25, zero point -4."""

    input = _Tensor(0.5, 10)
    tensors = {7: _Tensor(0.25, -4)}
    outputs = [7]


def test_registry_names_and_unknown() -> None:
    assert list(QUALITY_OBJECTIVES) == ["accuracy", "agreement", "reconstruction"]
    with pytest.raises(ValueError, match=r"^unknown quality objective 'psnr'; valid: accuracy, agreement, reconstruction$"):
        get_quality("psnr")


def test_accuracy_and_agreement_on_a_tiny_case() -> None:
    labels = np.array([0, 1, 2, 1])
    exact = _result([0, 1, 2, 2])     # 3 of 4 right
    approx = _result([0, 2, 2, 1])    # right on 0, 2, 3; agrees with exact on 0, 2
    acc = get_quality("accuracy")
    e, a = acc.per_image(exact, exact, labels, None, None), acc.per_image(approx, exact, labels, None, None)
    assert e.tolist() == [1, 1, 1, 0] and a.tolist() == [1, 0, 1, 1]
    assert acc.quality(a, e) == 0.75
    iv = acc.interval(e, a)
    assert iv.loss == 0 and (iv.worse, iv.better) == (1, 1)
    agree = get_quality("agreement")
    assert not agree.needs_labels and acc.needs_labels
    g = agree.per_image(approx, exact, None, None, None)
    assert g.tolist() == [1, 0, 1, 0] and agree.quality(g, np.ones(4)) == 0.5
    iv = agree.interval(np.ones(4), g)
    assert iv.loss == 0.5 and iv.method == "wilson-disagreement"
    # Wilson 95% of 2 in 4 (scipy.stats.binomtest(2, 4).proportion_ci(method="wilson")): 0.1500..0.8500
    assert iv.low == pytest.approx(0.15003898, abs=1e-7) and iv.high == pytest.approx(0.84996102, abs=1e-7)
    none = agree.interval(np.ones(24), np.ones(24))
    assert none.low == pytest.approx(0, abs=1e-12) and none.high == pytest.approx(1.959964 ** 2 / (24 + 1.959964 ** 2), abs=1e-6)


def test_reconstruction_on_a_tiny_case() -> None:
    rec = get_quality("reconstruction")
    x = np.array([[10, 12], [14, 10]], np.int8)                # real: [0, 1], [2, 0]
    exact = _result([0, 0], [[-4, 0], [4, 0]])                  # real: [0, 1], [2, 1] -> errors 0, 0.5
    approx = _result([0, 0], [[0, 0], [4, -4]])                 # real: [1, 1], [2, 0] -> errors 0.5, 0
    worse = _result([0, 0], [[0, 4], [4, 0]])                   # real: [1, 2], [2, 1] -> errors 1, 0.5
    e = rec.per_image(exact, exact, None, x, _Graph())
    assert e.tolist() == [0.0, 0.5]
    a = rec.per_image(approx, exact, None, x, _Graph())
    w = rec.per_image(worse, exact, None, x, _Graph())
    # quality 1 - (mean error / exact mean error - 1): the same mean error scores 1, 3x scores -1
    assert rec.quality(a, e) == 1.0 and rec.quality(w, e) == -1.0
    assert not rec.fraction
    iv = rec.interval(e, w)
    assert iv.loss == pytest.approx(2.0) and iv.method.startswith("paired-bootstrap")


class _Model:
    """accuracy_task with a model that offers outcomes uses them for the quality."""

    objective = get_quality("accuracy")

    def outcomes(self, assignment):
        return np.array([1, 0, 1, 1])

    def quality(self, outcomes):
        return float(np.mean(outcomes))


def test_accuracy_task_returns_outcomes() -> None:
    acc, out = accuracy_task(_Model(), {})
    assert acc == 0.75 and out.tolist() == [1, 0, 1, 1]


@pytest.mark.data
def test_autoencoder_reconstruction(shared_data) -> None:
    """The MLPerf Tiny anomaly-detection autoencoder (FULLY_CONNECTED only, no data set): seeded
    random int8 inputs; the exact model scores 1, an approximate one on all layers less."""
    from rtlgen.mapper import SearchSpace
    from rtlgen.mapper.network import EmulatorAccuracy, layer_infos
    from rtlgen.nn.tflite import load_tflite

    graph = load_tflite(shared_data / "mlperf_tiny_ad" / "ad01_int8.tflite")
    x = np.random.default_rng(5).integers(-128, 128, (12, 640)).astype(np.int8)
    layers = layer_infos(graph, x)
    assert [l.key for l in layers] == [f"fc:{i}" for i in range(10)]
    space = SearchSpace(layers, truncated_candidates((0, 8)), n_units=1, slots_per_unit=1, granularity="layer")
    tables = {c.hash: c.table for c in space.candidates}
    model = EmulatorAccuracy(graph, x, None, tables, quality="reconstruction")
    exact = space.assignment(space.decode(space.uniform_point(0)))
    approx = space.assignment(space.decode(space.uniform_point(1)))
    assert model.accuracy(exact) == 1.0
    q = model.accuracy(approx)
    assert q < 1.0
    iv = model.interval(model.outcomes(approx))
    assert iv.loss == pytest.approx(1.0 - q)
    with pytest.raises(ConfigError, match=r"^quality objective 'accuracy' needs labels"):
        EmulatorAccuracy(graph, x, None, tables)


@pytest.mark.data
def test_flow_file_chooses_the_quality(shared_data) -> None:
    import tomllib
    from pathlib import Path

    from rtlgen.flow.config import load_flow, parse_flow

    path = Path(__file__).resolve().parents[2] / "flows" / "kws_dscnn.toml"
    cfg = load_flow(path)
    assert (cfg.quality, cfg.encoding, cfg.search_split, cfg.test_split) == ("accuracy", "auto", "0:500", "500:1000")
    data = tomllib.loads(path.read_text())
    data["search"]["quality"] = "agreement"
    assert parse_flow(data, path).quality == "agreement"
    data["search"]["quality"] = "psnr"
    with pytest.raises(ConfigError, match=r"quality.*psnr.*accuracy, agreement, reconstruction"):
        parse_flow(data, path)
