"""Error metrics of a multiplier table against the exact product, as EvoApprox defines them.

With ``e = T[a, b] - value(a) * value(b)`` over all 65,536 operand pairs:

* ``mae`` mean |e|; ``wce`` max |e|; ``mse`` mean e^2; ``bias`` mean e (signed mean error);
* ``ep`` error probability P(e != 0);
* ``mre`` mean of |e| / |exact| and ``wcre`` max of |e| / |exact|, both over the pairs whose
  exact product is non-zero (EvoApprox leaves the others out: 65,025 pairs unsigned, 65,025
  signed);
* percentage forms as EvoApprox publishes them: ``mae_pct = mae / 2**16 * 100``, ``wce_pct``
  likewise, ``ep_pct``, ``mre_pct``, ``wcre_pct`` = 100 x the fraction. The output range 2**16 is
  the same for signed and unsigned 8x8 multipliers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rtlgen.netlist.table import check_table, exact_table

__all__ = ["ErrorMetrics", "error_metrics"]


@dataclass(frozen=True)
class ErrorMetrics:
    mae: float
    wce: int
    mse: float
    bias: float
    ep_pct: float
    mre_pct: float
    wcre_pct: float
    mae_pct: float
    wce_pct: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def error_metrics(table: np.ndarray, signed: bool) -> ErrorMetrics:
    """All metrics of ``table`` (convention of :mod:`rtlgen.netlist.table`)."""
    t = check_table(table, signed).astype(np.int64)
    exact = exact_table(signed).astype(np.int64)
    e = t - exact
    ae = np.abs(e)
    nz = exact != 0
    rel = ae[nz] / np.abs(exact[nz])
    full = float(1 << 16)
    mae = float(ae.mean())
    wce = int(ae.max())
    return ErrorMetrics(
        mae=mae,
        wce=wce,
        mse=float((e * e).mean()),
        bias=float(e.mean()),
        ep_pct=float((ae > 0).mean() * 100),
        mre_pct=float(rel.mean() * 100),
        wcre_pct=float(rel.max() * 100),
        mae_pct=mae / full * 100,
        wce_pct=wce / full * 100,
    )
