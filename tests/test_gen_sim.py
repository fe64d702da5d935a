"""Simulation of the shipped generated netlists (rtlgen.verify): all 65,536 operand pairs of each
against its reference model's table.

Icarus checks every ROUP netlist (45); Verilator, whose C++ builds of a large bank are costly
on 2 cores, checks one netlist of each other structure beside two ROUP ones.
"""
from __future__ import annotations

import pytest

from rtlgen.gen import get_family, make_spec
from rtlgen.gen.sweep import read_manifest
from rtlgen.paths import REPO_ROOT
from rtlgen.verify import Multiplier, verify

SHIPPED = REPO_ROOT / "netlists" / "generated"

VERILATOR_SAMPLE = ("mul8s_roup_p1_r5", "mul8u_roup_p3_r8", "mul8u_array", "mul8s_baugh_wooley",
                    "mul8s_truncated_k6_compensate1", "mul8u_bam_h2_v6", "mul8u_drum_k4")


def _multipliers(select) -> list[Multiplier]:
    out = []
    for entry in read_manifest(SHIPPED)["netlists"]:
        if select(entry):
            spec = make_spec(entry["family"], entry["signed"], **entry["params"])
            out.append(Multiplier(entry["name"], SHIPPED / entry["file"],
                                  get_family(spec.family).reference_table(spec), spec.signed))
    return out


@pytest.mark.sim
@pytest.mark.slow
def test_every_roup_netlist_simulates_to_its_reference_table_on_icarus():
    multipliers = _multipliers(lambda e: e["family"] == "roup")
    assert len(multipliers) == 45
    report = verify(multipliers, simulator="icarus")
    assert [r.name for r in report.results] == [m.name for m in multipliers]
    report.raise_for_mismatch()


@pytest.mark.sim
@pytest.mark.slow
def test_each_structure_simulates_to_its_reference_table_on_verilator():
    multipliers = _multipliers(lambda e: e["name"] in VERILATOR_SAMPLE)
    assert sorted(m.name for m in multipliers) == sorted(VERILATOR_SAMPLE)
    report = verify(multipliers, simulator="verilator")
    assert all(r.pairs == 65536 for r in report.results)
    report.raise_for_mismatch()


@pytest.mark.sim
def test_a_wrong_table_entry_is_caught_with_its_operands():
    # the same bench must fail, naming (a, b), when the expected table is off in one entry
    [m] = _multipliers(lambda e: e["name"] == "mul8s_roup_p2_r8")
    table = m.table.copy()
    table[0x80, 0x7F] += 1
    report = verify([Multiplier(m.name, m.netlist, table, m.signed)], simulator="icarus")
    [result] = report.results
    assert result.mismatches == 1 and result.first == (0x80, 0x7F)
