"""Figures of a three-objective mapping (matplotlib, PNG): the front's pairwise projections and
the Gantt chart of a point's schedule under the cycle model (:mod:`rtlgen.mapper.throughput`).

Both read the mapper's JSON (front rows of ``front.json``, a point's ``schedule.json``), so the
mapper's flow and the flow's report draw the same pictures from the same files.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

from rtlgen.paths import atomic_write_bytes

__all__ = ["front_projections", "schedule_gantt", "pyplot", "save_png"]


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG (110 dpi) atomically and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def front_projections(path: str | Path, rows: Sequence[dict[str, Any]], *, quality: str = "accuracy",
                      marked: Sequence[dict[str, Any]] = ()) -> None:
    """Three scatter panels of the front ``rows`` (``search_accuracy``, ``energy``,
    ``cycles_per_inference``; test accuracy as open marks): quality against energy, quality
    against cycles, energy against cycles. ``marked`` rows (with a ``tag``) are circled."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    rows = [r for r in rows if r.get("cycles_per_inference") is not None]
    scale = {"energy": 1.0, "search_accuracy": 100.0, "test_accuracy": 100.0, "cycles_per_inference": 1e-3}
    label = {"energy": "relative multiplication energy (exact = 1)",
             "search_accuracy": {"accuracy": "top-1 accuracy (%)",
                                 "agreement": "top-1 agreement (%)"}.get(quality, f"{quality} (x100)"),
             "cycles_per_inference": "kcycles per inference (steady state)"}
    # (x, y, colour): each panel coloured by the third objective
    panels = (("energy", "search_accuracy", "cycles_per_inference"),
              ("cycles_per_inference", "search_accuracy", "energy"),
              ("energy", "cycles_per_inference", "search_accuracy"))

    def values(key: str, rs: Sequence[dict[str, Any]]) -> list[float]:
        return [r[key] * scale[key] for r in rs]

    for ax, (kx, ky, kc) in zip(axes, panels):
        sc = ax.scatter(values(kx, rows), values(ky, rows), c=values(kc, rows), cmap="viridis", s=22)
        if ky == "search_accuracy" and rows and all(r.get("test_accuracy") is not None for r in rows):
            ax.scatter(values(kx, rows), values("test_accuracy", rows), marker="s", s=14, facecolors="none",
                       edgecolors="grey", lw=0.7, label="held-out test")
            ax.legend(fontsize=7, loc="lower right")
        for m in marked:
            ax.scatter(values(kx, [m]), values(ky, [m]), s=120, facecolors="none", edgecolors="C3", lw=2)
            ax.annotate(m.get("tag", ""), (values(kx, [m])[0], values(ky, [m])[0]), textcoords="offset points",
                        xytext=(6, -12), fontsize=8)
        fig.colorbar(sc, ax=ax).set_label(label[kc], fontsize=7)
        ax.set_xlabel(label[kx], fontsize=8)
        ax.set_ylabel(label[ky], fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Three-objective front, pairwise projections (search split; colour: the third objective)")
    fig.tight_layout()
    save_png(fig, Path(path))


def schedule_gantt(path: str | Path, title: str, schedule: dict[str, Any]) -> None:
    """Gantt chart of a ``schedule.json`` document: one row per unit, each descriptor's prepare
    (light) and run (dark) as bars, the two inputs in two colours, run bars wide enough named."""
    plt = pyplot()
    bars = schedule["bars"]
    n_units = int(schedule["units"])
    end = max((b["end"] for b in bars), default=1)
    fig, ax = plt.subplots(figsize=(10, 0.7 * n_units + 1.8))
    colors = ("C0", "C1", "C2", "C3")
    for b in bars:
        width = b["end"] - b["start"]
        if width <= 0:
            continue
        color = colors[b["input"] % len(colors)]
        run = b["phase"] == "run"
        y = b["unit"] + (0.0 if run else -0.3)
        ax.barh(y, width, left=b["start"], height=0.5 if run else 0.14, color=color, alpha=1.0 if run else 0.45,
                linewidth=0)
        if run and width > 0.05 * end:
            ax.text(b["start"] + width / 2, y, b["key"], ha="center", va="center", fontsize=6, color="white")
    for n in sorted({b["input"] for b in bars}):
        ax.barh([0], [0], color=colors[n % len(colors)], label=f"input {n}: run (thick), prepare (thin, light)")
    ax.set_yticks(range(n_units), [f"unit {u}" for u in range(n_units)])
    ax.invert_yaxis()
    ax.set_xlim(0, end)
    ax.set_xlabel("cycle (from START)")
    ax.set_title(f"{title}: {schedule['cycles_per_inference']:,} cycles per inference (steady state), "
                 f"latency {schedule['latency_cycles']:,}", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=2)
    fig.tight_layout()
    save_png(fig, Path(path))
