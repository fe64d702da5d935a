"""Simulation of the shipped generated netlists (rtlgen.sim.verify): all 65,536 operand pairs of every
one of them, on Verilator and on Icarus, against its reference model's table.

The builds are shared by the tests of a session (keyed by content): the Verilator mutation test
re-runs the very build that checked the shipped netlists, only with other expected tables.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rtlgen.gen import get_family, make_spec
from rtlgen.gen.sweep import read_manifest
from rtlgen.paths import REPO_ROOT
from rtlgen.sim.verify import Multiplier, verify

SHIPPED = REPO_ROOT / "netlists" / "generated"
SIMULATORS = ["verilator", "icarus"]

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def shipped() -> list[Multiplier]:
    """Every netlist of the manifest, in its order, with the table its reference model computes."""
    out = []
    for entry in read_manifest(SHIPPED)["netlists"]:
        spec = make_spec(entry["family"], entry["signed"], **entry["params"])
        out.append(Multiplier(entry["name"], SHIPPED / entry["file"],
                              get_family(spec.family).reference_table(spec), spec.signed))
    return out


@pytest.fixture(scope="module")
def gen_builds(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gen-sim-builds")


@pytest.fixture(scope="module")
def shipped_reports(shipped, gen_builds):
    reports = {}

    def get(sim: str):
        if sim not in reports:
            reports[sim] = verify(shipped, simulator=sim, work_dir=gen_builds)
        return reports[sim]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_every_shipped_netlist_simulates_to_its_reference_table(sim, shipped, shipped_reports):
    files = sorted(p.name for p in SHIPPED.glob("*.v"))
    assert len(shipped) == len(files) == 68
    assert sorted(m.netlist.name for m in shipped) == files
    report = shipped_reports(sim)
    assert report.simulator == sim
    assert [r.name for r in report.results] == [m.name for m in shipped]
    assert all(r.pairs == 65536 for r in report.results)
    report.raise_for_mismatch()


#: name -> (a, b, delta): one changed entry each, in a signed and an unsigned ROUP netlist and
#: in two other structures; (0x80, 0x7F) is (-128) * 127 for the signed one.
MUTATIONS = {
    "mul8s_roup_p2_r8": (0x80, 0x7F, 1),
    "mul8u_roup_p0_r0": (255, 255, -3),
    "mul8u_array": (201, 77, 1),
    "mul8u_drum_k4": (3, 200, -1),
}
CONTROL = "mul8s_baugh_wooley"


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_a_wrong_table_entry_is_caught_with_its_operands(sim, shipped, shipped_reports, gen_builds):
    """Exactly the changed pair of each mutated table is reported, with the netlist's true output;
    nothing else moves. Verilator re-runs the shipped build (cached); Icarus, whose builds cost
    nothing but whose simulation is slow, checks the mutated netlists and a control alone."""
    shipped_reports(sim)  # the shipped builds exist
    builds = sorted(gen_builds.glob(f"{sim}-*"))
    items = list(shipped)
    for i, m in enumerate(items):
        if m.name in MUTATIONS:
            a, b, delta = MUTATIONS[m.name]
            table = m.table.copy()
            table[a, b] += delta
            items[i] = replace(m, table=table)
    if sim == "icarus":
        items = [m for m in items if m.name in MUTATIONS or m.name == CONTROL]
    report = verify(items, simulator=sim, work_dir=gen_builds)
    by_name = {r.name: r for r in report.results}
    original = {m.name: m.table for m in shipped}
    assert sorted(r.name for r in report.failures) == sorted(MUTATIONS)
    for name, (a, b, delta) in MUTATIONS.items():
        r = by_name[name]
        assert r.mismatches == 1, r.describe()
        assert r.first == (a, b)
        assert r.expected == int(original[name][a, b]) + delta
        assert r.got == int(original[name][a, b])
    assert by_name["mul8s_roup_p2_r8"].got < 0  # read back as two's complement
    assert by_name[CONTROL].ok
    if sim == "verilator":
        assert sorted(gen_builds.glob(f"{sim}-*")) == builds, "the shipped builds were not reused"
        # small benches compile as one unit: no 90 MB precompiled headers (rtlgen.sim.simulators)
        assert list(gen_builds.glob("verilator-*/Vtop__ALL.o")) and not list(gen_builds.glob("verilator-*/*.gch"))


@pytest.mark.slow
def test_a_catalog_of_the_shipped_set_verifies_both_circuits_of_each_shared_function(tmp_path, gen_builds):
    """Imported into a catalog, the exact array and Booth multipliers (and Baugh-Wooley and the
    signed Booth) are one entry each pair; verification still simulates both netlists."""
    from rtlgen.library.importer import import_folder
    from rtlgen.sim.verify import catalog_multipliers

    cat = import_folder(SHIPPED, tmp_path / "lib").catalog
    items = catalog_multipliers(cat)
    assert len(items) == 68 and len(cat) == 66
    pairs = {"mul8u_array": "mul8u_roup_p0_r0", "mul8s_baugh_wooley": "mul8s_roup_p0_r0"}
    chosen = catalog_multipliers(cat, list(pairs))
    assert [(m.name, m.netlist.name) for m in chosen] == [
        (n, f"{n}.v") for first, second in pairs.items() for n in (first, second)]
    report = verify(chosen, simulator="verilator", work_dir=gen_builds)
    assert [r.name for r in report.results] == [m.name for m in chosen]
    report.raise_for_mismatch()
