"""The shipped generated netlists: each equals its reference model, and regenerating them gives
the same files (no drift)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtlgen.cli import main
from rtlgen.gen import get_family, make_spec
from rtlgen.gen.sweep import (COST_FIELDS, MANIFEST_NAME, cost_model, first_difference,
                              generate_set, read_manifest, shipped_specs, without_cost)
from rtlgen.gen.synth import check_gate_netlist
from rtlgen.netlist.multiplier import netlist_table
from rtlgen.netlist.metrics import error_metrics
from rtlgen.paths import REPO_ROOT
from rtlgen.netlist.table import table_hash

SHIPPED = REPO_ROOT / "netlists" / "generated"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return read_manifest(SHIPPED)


def test_manifest_lists_the_shipped_set(manifest):
    names = [e["name"] for e in manifest["netlists"]]
    assert names == [s.module_name for s in shipped_specs()]
    on_disk = sorted(p.name for p in SHIPPED.iterdir() if p.suffix == ".v")
    assert on_disk == sorted(e["file"] for e in manifest["netlists"])
    roup = [e for e in manifest["netlists"] if e["family"] == "roup"]
    # distinct points after the R <= 2P rule: 9 + 7 + 5 signed, and + 3 unsigned for P = 3
    assert len(roup) == 21 + 24
    assert all(e["params"]["r"] == 0 or e["params"]["r"] > 2 * e["params"]["p"] for e in roup)


def test_every_shipped_netlist_equals_its_reference_model(manifest):
    for entry in manifest["netlists"]:
        path = SHIPPED / entry["file"]
        spec = make_spec(entry["family"], entry["signed"], **entry["params"])
        assert spec.module_name == entry["name"]
        text = path.read_text()
        check_gate_netlist(text, what=str(path))
        table = netlist_table(path, entry["signed"])
        expected = get_family(spec.family).reference_table(spec)
        where = first_difference(table, expected)
        assert where is None, (f"{path.name}: netlist differs from the reference model first at "
                               f"(a, b) = {where}: netlist {table[where]}, reference "
                               f"{expected[where]}")
        assert table_hash(table, spec.signed) == entry["table_hash"], path.name
        metrics = error_metrics(table, spec.signed).as_dict()
        for key, value in entry["metrics"].items():
            assert value == pytest.approx(metrics[key], rel=1e-9, abs=1e-12), (path.name, key)


def test_approximate_multipliers_are_distinct_and_exact_ones_exact(manifest):
    hashes = {}
    for entry in manifest["netlists"]:
        hashes.setdefault(entry["table_hash"], []).append(entry["name"])
    for names in hashes.values():
        if len(names) > 1:  # only the exact multipliers come in several structures
            for name in names:
                entry = next(e for e in manifest["netlists"] if e["name"] == name)
                assert entry["metrics"]["wce"] == 0, names


@pytest.mark.slow
def test_regenerating_the_shipped_set_gives_identical_files(tmp_path, manifest):
    # without cost (a minute and a half more); the costs are checked below on a sample
    assert main(["gen", "sweep", "--out", str(tmp_path), "--jobs", "2", "--no-cost"]) == 0
    fresh = read_manifest(tmp_path)
    if fresh["generator"] != manifest["generator"]:
        pytest.fail(f"the shipped set was made by {manifest['generator']}, this machine has "
                    f"{fresh['generator']}: regenerate with 'rtlgen gen sweep' and review")
    for entry in fresh["netlists"]:
        new = (tmp_path / entry["file"]).read_text()
        old_path = SHIPPED / entry["file"]
        assert old_path.is_file(), f"{entry['file']} is generated but not shipped"
        assert new == old_path.read_text(), (f"{entry['file']} drifted from the shipped netlist; "
                                            "run 'rtlgen gen sweep' and review the change")
    assert fresh == without_cost(manifest), "manifest drifted; run 'rtlgen gen sweep'"


def test_shipped_costs_are_complete(manifest):
    assert manifest["cost_model"] == cost_model()
    for entry in manifest["netlists"]:
        assert sorted(entry["cost"]) == sorted(COST_FIELDS), entry["name"]
        assert entry["cost"]["energy_pj"] > 0 and entry["cost"]["cells"] > 0, entry["name"]
    by_name = {e["name"]: e["cost"] for e in manifest["netlists"]}
    # perforating two of four Booth rows must save energy, or the cost flow is broken
    assert by_name["mul8s_roup_p2_r0"]["energy_pj"] < 0.7 * by_name["mul8s_roup_p0_r0"]["energy_pj"]


def test_generate_set_costs_and_removes_netlists_an_earlier_manifest_listed(tmp_path, manifest):
    specs = [make_spec("bam", False, h=3, v=9), make_spec("truncated", True, k=8, compensate=1)]
    first = generate_set(tmp_path, specs)
    shipped = {e["name"]: e for e in manifest["netlists"]}
    for entry in first["netlists"]:
        assert entry == shipped[entry["name"]], f"{entry['name']}: entry differs from the shipped one"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        MANIFEST_NAME, "mul8s_truncated_k8_compensate1.v", "mul8u_bam_h3_v9.v"]
    (tmp_path / "notes.txt").write_text("not ours")
    data = generate_set(tmp_path, specs[:1], cost=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        MANIFEST_NAME, "mul8u_bam_h3_v9.v", "notes.txt"]
    assert json.loads((tmp_path / MANIFEST_NAME).read_text()) == data


def test_a_failing_netlist_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    import numpy as np

    from rtlgen.errors import VerificationError
    from rtlgen.gen import sweep

    out = tmp_path / "set"
    out.mkdir()
    (out / "notes.txt").write_text("not ours")
    specs = [make_spec("bam", False, h=3, v=9), make_spec("bam", False, h=4, v=10)]
    real = sweep.netlist_table
    # the second netlist tabulates wrong: the first, already written and checked, must not land
    # (its file name decides: the staging folder's random name may contain "h4" too)
    monkeypatch.setattr(sweep, "netlist_table",
                        lambda path, signed: real(path, signed) + np.int32("h4" in Path(path).name))
    with pytest.raises(VerificationError, match=r"mul8u_bam_h4_v10\.v: netlist of .* disagrees with the reference"):
        generate_set(out, specs, cost=False)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["set", "set/notes.txt"]
