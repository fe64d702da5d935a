from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rtlgen.mapper.stats import paired_binary_interval, paired_ratio_interval, select_points, verdict


def _table(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image outcomes of a paired 2x2 table: a both right, b exact only, c approx only, d neither."""
    exact = np.array([1] * a + [1] * b + [0] * c + [0] * d)
    approx = np.array([1] * a + [0] * b + [1] * c + [0] * d)
    rng = np.random.default_rng(0)
    order = rng.permutation(exact.size)  # the pairing matters, the order does not
    return exact[order], approx[order]


def test_newcombe_interval_hand_worked() -> None:
    # n = 100 images: a = 80 right with both, b = 6 right only with the exact model, c = 2 right
    # only with the approximate one, d = 12 wrong with both.
    # p1 = 86/100, p2 = 82/100, loss D = 0.04.
    # Wilson 95% (scipy.stats.binomtest(k, 100).proportion_ci(0.95, method="wilson")):
    #   p1: (0.7786281179, 0.9147365634), p2: (0.7333264161, 0.8829977450)
    # phi: ad - bc = 960 - 12 = 948 > n/2, corrected 948 - 50 = 898;
    #   margins (a+b)(c+d)(a+c)(b+d) = 86 * 14 * 82 * 18 = 1,777,104; phi = 898 / 1333.0807 = 0.6736277
    # low  = 0.04 - sqrt(0.0813719^2 - 2 phi 0.0813719 * 0.0629977 + 0.0629977^2) = -0.0206938
    # high = 0.04 + sqrt(0.0547366^2 - 2 phi 0.0547366 * 0.0866736 + 0.0866736^2) = 0.1041618
    # exact McNemar: binomtest(6, 8, 0.5).pvalue = 0.2890625
    iv = paired_binary_interval(*_table(80, 6, 2, 12))
    assert iv.loss == pytest.approx(0.04)
    assert iv.low == pytest.approx(-0.0206938059, abs=1e-9)
    assert iv.high == pytest.approx(0.1041617780, abs=1e-9)
    assert (iv.worse, iv.better, iv.n) == (6, 2, 100)
    assert iv.p_value == pytest.approx(0.2890625)
    assert verdict(iv).startswith("CI includes 0")


def test_newcombe_interval_edges() -> None:
    # nothing changed: the loss is 0, but the interval is not a point (the data bound it)
    iv = paired_binary_interval(*_table(450, 0, 0, 50))
    assert iv.loss == 0 and iv.low < 0 < iv.high < 0.01
    # agreement: the exact model agrees with itself on every image (a margin is empty: phi = 0)
    ref = np.ones(500)
    approx = np.ones(500)
    approx[:25] = 0
    iv = paired_binary_interval(ref, approx)
    assert iv.loss == pytest.approx(0.05)
    # with p1 = 1 exactly, the interval is the Wilson interval of the disagreement rate
    z = 1.959963984540054
    p, n = 0.05, 500
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert iv.high == pytest.approx(centre + half)
    assert iv.low > 0 and verdict(iv, 0.02).startswith("a loss, shown at 95%; beyond the 2.0% bound")
    with pytest.raises(ValueError, match=r"^paired outcomes: 3 exact and 2 approximate outcomes"):
        paired_binary_interval(np.ones(3), np.ones(2))


def test_bootstrap_ratio_interval() -> None:
    rng = np.random.default_rng(3)
    exact = rng.gamma(2.0, 1.0, 400)
    approx = exact * 1.1 + rng.normal(0, 0.05, 400).clip(0)
    a = paired_ratio_interval(exact, approx, seed=7)
    b = paired_ratio_interval(exact, approx, seed=7)
    assert a == b  # seeded
    assert a.loss == pytest.approx(approx.mean() / exact.mean() - 1)
    assert a.low < a.loss < a.high and a.low > 0.05
    same = paired_ratio_interval(exact, exact)
    assert same.loss == 0 and same.low == pytest.approx(0) and same.high == pytest.approx(0)


def _row(energy: float, loss: float, lo: float, hi: float) -> dict:
    return {"energy": energy, "search_accuracy": 0.9 - loss, "search_loss": loss,
            "search_ci": {"low": lo, "high": hi, "confidence": 0.95}}


def test_selection_rules_on_a_synthetic_front() -> None:
    front = [_row(1.0, 0.0, -0.004, 0.004), _row(0.8, 0.002, -0.003, 0.009),
             _row(0.6, 0.005, 0.001, 0.016), _row(0.4, 0.03, 0.02, 0.045)]
    # plain: measured loss within 0.6% -> the 0.6 point; confident: the CI's upper end within
    # 0.6% holds only for the exact point (0.9% and 1.6% upper ends exceed it)
    assert select_points(front, 0.006, "plain")["energy"] == 0.6
    assert select_points(front, 0.006, "confident")["energy"] == 1.0
    assert select_points(front, 0.02, "confident")["energy"] == 0.6
    assert select_points(front, 0.02, "plain")["energy"] == 0.6
    assert select_points(front[3:], 0.006, "confident") is None
    assert re.match(r"^CI includes 0: no loss shown at 95%; cannot resolve the 0\.6% bound \(CI -0\.30\.\.0\.90%\)$",
                    verdict(front[1]["search_ci"], 0.006))
    with pytest.raises(ValueError, match=r"^unknown selection rule 'best'; valid: plain, confident$"):
        select_points(front, 0.006, "best")


def test_report_lists_both_rules_with_intervals() -> None:
    from rtlgen.flow.report import _selection_lines

    ci = {"low": -0.0098, "high": 0.0263, "confidence": 0.95}
    pick = {"energy_saving": 0.282, "search_loss": -0.002, "test_loss": 0.008, "search_ci": dict(ci, low=-0.0188, high=0.0147),
            "test_ci": ci, "test_verdict": verdict(ci, 0.006)}
    summary = {"quality": "accuracy", "confidence": 0.95, "intervals": "Newcombe",
               "within_loss": {"0.006": {"mapper": {"selected_on_search": pick, "selected_confident": None}}}}
    text = "\n".join(_selection_lines(summary))
    assert "| 0.6% | plain | 28.20% | -0.20% [-1.88, 1.47] | 0.80% [-0.98, 2.63] | CI includes 0" in text
    assert "cannot resolve the 0.6% bound" in text
    assert "| 0.6% | confident | no point | - | - | - |" in text
