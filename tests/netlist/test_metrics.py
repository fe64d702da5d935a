"""Our error metrics reproduce EvoApprox's published figures for all 50 v2022 circuits."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.netlist.metrics import error_metrics
from rtlgen.netlist.table import exact_table


def _decimals(printed: str) -> int:
    mant = printed.lower().split("e")[0]
    exp = int(printed.lower().split("e")[1]) if "e" in printed.lower() else 0
    return (len(mant.split(".")[1]) if "." in mant else 0) - exp


def _agrees(ours: float, printed: str) -> bool:
    """``printed`` is ``ours`` rounded to the digits it shows (half a unit of its last digit)."""
    return abs(ours - float(printed)) <= 0.5 * 10.0 ** -_decimals(printed) * (1 + 1e-9)


def _sig2(x: float) -> float:
    return float(f"{x:.2g}")


def test_exact_tables_have_zero_error():
    for signed in (False, True):
        m = error_metrics(exact_table(signed), signed)
        assert (m.mae, m.wce, m.ep_pct, m.mre_pct, m.bias) == (0, 0, 0, 0, 0)


def test_metrics_of_a_known_table():
    t = exact_table(False).copy()
    t[3, 5] += 4  # one error of +4 where the product is 15
    t[0, 9] = 2  # an error where the product is 0 counts for MAE, not for MRE
    m = error_metrics(t, False)
    assert m.wce == 4 and m.mae == pytest.approx(6 / 65536) and m.bias == pytest.approx(6 / 65536)
    assert m.ep_pct == pytest.approx(2 / 65536 * 100)
    assert m.mre_pct == pytest.approx((4 / 15) / 65025 * 100)
    assert m.wcre_pct == pytest.approx(4 / 15 * 100)
    assert m.mse == pytest.approx(20 / 65536)


def test_all_50_circuits_match_published_metrics(evoapprox_library):
    cat = evoapprox_library
    assert len(cat) == 50
    failures = []
    for e in cat.entries:
        m = error_metrics(cat.table(e.hash), e.signed)
        assert e.metrics == m.as_dict()
        pub = e.published
        for key, ours in (("wce%", m.wce_pct), ("ep%", m.ep_pct), ("mre%", m.mre_pct), ("wcre%", m.wcre_pct)):
            if not _agrees(ours, pub[key]):
                failures.append(f"{e.name} {key}: ours {ours:.6g}, published {pub[key]}")
        # EvoApprox prints MAE% from its absolute MAE already rounded to 2 significant digits
        # (mul8s_1KV8: MAE 1.25 -> 1.2 -> 0.0018 %), so either route must agree.
        if not (_agrees(m.mae_pct, pub["mae%"]) or _agrees(_sig2(m.mae) / 65536 * 100, pub["mae%"])):
            failures.append(f"{e.name} mae%: ours {m.mae_pct:.6g}, published {pub['mae%']}")
        if "mse" in pub and not np.isclose(m.mse, float(pub["mse"]), rtol=0.051, atol=0.5):
            failures.append(f"{e.name} mse: ours {m.mse:.6g}, published {pub['mse']}")
    assert not failures, "\n".join(failures)
