"""Confidence intervals for quality losses, and the selection rule that uses them.

A mapping's *loss* is the exact model's quality minus the approximate one's, both measured on
the **same** images, so the two are paired: what varies between them is only the images whose
outcome changed. Intervals here use that pairing.

Top-1 accuracy and top-1 agreement (0/1 outcome per image): **Newcombe's hybrid score interval
for a difference of paired proportions** (Newcombe 1998, Statistics in Medicine 17:2635, method
10). With ``b`` images right with the exact model and wrong with the approximate one, ``c`` the
reverse, ``a`` right with both, ``d`` wrong with both, ``n`` images: the loss is
``D = p1 - p2 = (b - c) / n`` with ``p1 = (a+b)/n`` (exact) and ``p2 = (a+c)/n``
(approximate). With ``(l1, u1)``, ``(l2, u2)`` the Wilson score intervals of ``p1`` and ``p2``
and ``phi`` the correlation of the two outcomes (continuity-corrected: ``ad - bc`` less ``n/2``
when above ``n/2``, 0 between 0 and ``n/2``; 0 when a margin is empty)::

    low  = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
    high = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

Chosen over the exact conditional (McNemar) interval because it stays informative when no or
few images change outcome (the conditional interval is then the single point 0) and its coverage
is close to nominal at these sizes. The exact McNemar p-value (two-sided binomial test of ``b``
among ``b + c`` at 1/2) is reported beside it.

Top-1 agreement with the exact model: the exact model's own outcome is 1 on every image by
construction, so the loss is the disagreement rate ``k / n`` and its interval the **Wilson score
interval** of ``k`` disagreements in ``n`` images (never below 0).

Reconstruction error (a positive error per image): the loss is the relative increase of the
mean, ``mean(e_approx) / mean(e_exact) - 1``; its interval is a **seeded paired percentile
bootstrap** (images resampled with replacement, both errors of an image kept together).

:func:`select_points` offers two rules per loss bound: ``plain``, the least-energy point whose
measured search loss is within the bound, and ``confident``, the least-energy point whose loss
interval on the search split lies entirely within it (upper bound <= bound). :func:`verdict`
says in words what an interval can and cannot resolve. (The mapper gives the exact design, the
reference itself, the interval 0..0: its loss is 0 by construction, not an estimate.)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

import numpy as np

__all__ = ["LossInterval", "paired_binary_interval", "disagreement_interval", "paired_ratio_interval", "verdict", "select_points",
           "CONFIDENCE", "SelectionRule", "SELECTION_RULES"]

#: the confidence level of every interval the mapper reports
CONFIDENCE = 0.95

SelectionRule = Literal["plain", "confident"]
SELECTION_RULES: tuple[str, ...] = ("plain", "confident")


@dataclass(frozen=True)
class LossInterval:
    """A loss (fraction: exact minus approximate quality) with its two-sided interval."""

    loss: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    #: binary outcomes: images the approximation broke (``b``) and fixed (``c``); McNemar p
    worse: int | None = None
    better: int | None = None
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _check_pair(exact: np.ndarray, approx: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    e, a = np.asarray(exact).reshape(-1), np.asarray(approx).reshape(-1)
    if e.shape != a.shape:
        raise ValueError(f"{what}: {e.size} exact and {a.size} approximate outcomes; expected one of each per image")
    if e.size == 0:
        raise ValueError(f"{what}: no images")
    return e, a


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_binary_interval(exact_ok: np.ndarray, approx_ok: np.ndarray, confidence: float = CONFIDENCE) -> LossInterval:
    """Newcombe's hybrid score interval of ``mean(exact_ok) - mean(approx_ok)`` (module doc)."""
    e, a = _check_pair(exact_ok, approx_ok, "paired outcomes")
    e, a = e.astype(bool), a.astype(bool)
    n = e.size
    n11 = int(np.sum(e & a))
    b = int(np.sum(e & ~a))
    c = int(np.sum(~e & a))
    d = n - n11 - b - c
    z = _z(confidence)
    p1, p2 = (n11 + b) / n, (n11 + c) / n
    l1, u1 = _wilson(n11 + b, n, z)
    l2, u2 = _wilson(n11 + c, n, z)
    margins = (n11 + b) * (c + d) * (n11 + c) * (b + d)
    phi = 0.0
    if margins > 0:
        cross = n11 * d - b * c
        cross = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
        phi = cross / math.sqrt(margins)
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = diff + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    from scipy.stats import binomtest

    p_value = float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    return LossInterval(loss=diff, low=low, high=high, confidence=confidence, method="newcombe-paired", n=n,
                        worse=b, better=c, p_value=p_value)


def disagreement_interval(agree: np.ndarray, confidence: float = CONFIDENCE) -> LossInterval:
    """Wilson score interval of the disagreement rate ``1 - mean(agree)`` (module doc)."""
    a = np.asarray(agree).reshape(-1).astype(bool)
    if a.size == 0:
        raise ValueError("agreement outcomes: no images")
    n, k = a.size, int(np.sum(~a))
    low, high = _wilson(k, n, _z(confidence))
    return LossInterval(loss=k / n, low=low, high=high, confidence=confidence, method="wilson-disagreement", n=n,
                        worse=k, better=0)


def paired_ratio_interval(exact_err: np.ndarray, approx_err: np.ndarray, confidence: float = CONFIDENCE, *,
                          resamples: int = 2000, seed: int = 0) -> LossInterval:
    """Seeded paired percentile bootstrap of ``mean(approx_err) / mean(exact_err) - 1``."""
    e, a = _check_pair(exact_err, approx_err, "paired errors")
    e, a = e.astype(np.float64), a.astype(np.float64)
    if np.any(e < 0) or np.any(a < 0) or e.sum() <= 0:
        raise ValueError("paired errors must be non-negative, the exact model's not all zero")
    _z(confidence)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, e.size, size=(resamples, e.size))
    se = e[idx].sum(axis=1)
    ratios = np.where(se > 0, a[idx].sum(axis=1) / np.where(se > 0, se, 1.0), np.inf) - 1.0
    # no interpolation: a resample whose exact errors are all 0 has an unbounded ratio (inf)
    lo, hi = np.quantile(ratios, [0.5 - confidence / 2, 0.5 + confidence / 2], method="inverted_cdf")
    return LossInterval(loss=float(a.mean() / e.mean() - 1.0), low=float(lo), high=float(hi), confidence=confidence,
                        method=f"paired-bootstrap-{resamples}-seed{seed}", n=e.size)


def verdict(interval: LossInterval | dict[str, Any] | None, bound: float | None = None) -> str:
    """What ``interval`` resolves, in words: whether the loss is distinguishable from 0, and
    (with ``bound``) whether it is within the bound with the interval's confidence."""
    if interval is None:
        return "no per-image outcomes: cannot say"
    iv = interval if isinstance(interval, dict) else interval.to_json()
    lo, hi, conf = iv["low"], iv["high"], iv["confidence"]
    pct = f"{100 * conf:.0f}%"
    parts = []
    if lo <= 0 <= hi:
        parts.append(f"CI includes 0: no loss shown at {pct}")
    elif lo > 0:
        parts.append(f"a loss, shown at {pct}")
    else:
        parts.append(f"a gain, shown at {pct}")
    if bound is not None:
        if hi <= bound:
            parts.append(f"within the {100 * bound:.1f}% bound at {pct}")
        elif lo > bound:
            parts.append(f"beyond the {100 * bound:.1f}% bound at {pct}")
        else:
            parts.append(f"cannot resolve the {100 * bound:.1f}% bound (CI {100 * lo:.2f}..{100 * hi:.2f}%)")
    return "; ".join(parts)


def select_points(rows: Sequence[dict[str, Any]], bound: float, rule: str = "plain") -> dict[str, Any] | None:
    """The least-energy row (ties: higher search quality) meeting ``bound`` by ``rule``.

    ``plain``: measured ``search_loss <= bound``; ``confident``: the upper end of
    ``search_ci`` (a :meth:`LossInterval.to_json`) ``<= bound``; rows without one are skipped.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; valid: {', '.join(SELECTION_RULES)}")
    if rule == "plain":
        ok = [r for r in rows if r.get("search_loss") is not None and r["search_loss"] <= bound + 1e-12]
    else:
        ok = [r for r in rows if r.get("search_ci") is not None and r["search_ci"]["high"] <= bound + 1e-12]
    return min(ok, key=lambda r: (r["energy"], -r["search_accuracy"])) if ok else None
