"""Simulation of the shipped generated netlists (rtlgen.verify): all 65,536 operand pairs of each
against its reference model's table."""
from __future__ import annotations

import pytest

from rtlgen.gen import get_family, make_spec
from rtlgen.gen.sweep import read_manifest
from rtlgen.paths import REPO_ROOT
from rtlgen.verify import Multiplier, verify

SHIPPED = REPO_ROOT / "netlists" / "generated"


def _multipliers(families=None) -> list[Multiplier]:
    out = []
    for entry in read_manifest(SHIPPED)["netlists"]:
        if families is None or entry["family"] in families:
            spec = make_spec(entry["family"], entry["signed"], **entry["params"])
            out.append(Multiplier(entry["name"], SHIPPED / entry["file"],
                                  get_family(spec.family).reference_table(spec), spec.signed))
    return out


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("simulator,families", [("verilator", None), ("icarus", ("roup",))],
                         ids=["verilator-all", "icarus-roup"])
def test_shipped_netlists_simulate_to_their_reference_tables(simulator, families):
    multipliers = _multipliers(families)
    report = verify(multipliers, simulator=simulator)
    assert len(report.results) == len(multipliers)
    report.raise_for_mismatch()
