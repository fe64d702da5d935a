from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

import rtlgen.cost.multiplier as cost_mod
from rtlgen.cost.activity import ActivitySpec
from rtlgen.library.catalog import Catalog
from rtlgen.cli import main
from rtlgen.cost.multiplier import (CatalogCostCache, JsonCostCache, catalog_costs, cost_key, energy_per_mult, exact_entry,
                         hardware_cost, relative_to)
from rtlgen.errors import CatalogError, ToolError, VerificationError
from rtlgen.netlist.liberty import read_liberty
from rtlgen.netlist.multiplier import netlist_table
from rtlgen.paths import liberty_path
from rtlgen.cost.pdk import get_pdk
from rtlgen.cost.sta import StaConfig
from rtlgen.netlist.table import exact_table

FAST = ActivitySpec.make(n_vectors=4096, seed=1)


def _find(evoapprox_dir: Path, name: str) -> Path:
    return next(evoapprox_dir.rglob(f"{name}.v"))


@pytest.fixture(scope="module")
def exact_u(evoapprox_dir):
    return hardware_cost(_find(evoapprox_dir, "mul8u_1JJQ"), activity=FAST)


@pytest.fixture(scope="module")
def tiny_u(evoapprox_dir):
    return hardware_cost(_find(evoapprox_dir, "mul8u_17MN"), activity=FAST)


def test_exact_multiplier_costs_more_than_an_approximate_one(exact_u, tiny_u):
    assert exact_u.name == "mul8u_1JJQ" and not exact_u.signed
    assert exact_u.cells > 200 and tiny_u.cells < 20
    for field in ("area_um2", "delay_ns", "power_mw", "energy_pj", "internal_mw", "switching_mw", "leakage_mw"):
        assert getattr(exact_u, field) > 5 * getattr(tiny_u, field) > 0, field
    # an 8x8 array multiplier in 0.18 um: ns-scale carry chain, a few pJ to tens of pJ
    assert 1.0 < exact_u.delay_ns < 10.0
    assert 1.0 < exact_u.energy_pj < 100.0


def test_figures_are_consistent(exact_u):
    f = exact_u
    assert f.power_mw == pytest.approx(f.internal_mw + f.switching_mw + f.leakage_mw)
    assert f.energy_pj == pytest.approx(f.power_mw * f.clock_ns)  # mW x ns = pJ
    assert sum(f.cell_counts.values()) == f.cells
    lib = get_pdk().library()  # the default PDK's (prepared) library
    assert f.liberty_hash == lib.hash
    assert f.area_um2 == pytest.approx(sum(lib.cell(c).area * n for c, n in f.cell_counts.items()))
    assert f.critical_path[0][0] in "AB" and f.critical_path[-1].startswith("O[")
    assert f.sta_power_mw > 0
    assert f.table_hash == cost_mod.table_hash(exact_table(False), False)


def test_constant_multiplier_costs_nothing(evoapprox_dir):
    f = hardware_cost(_find(evoapprox_dir, "mul8u_TD3"), activity=FAST)  # output tied to 0
    assert (f.cells, f.area_um2, f.delay_ns, f.power_mw, f.energy_pj) == (0, 0.0, 0.0, 0.0, 0.0)


def test_operands_concentrated_on_zero_cost_less_energy(evoapprox_dir, exact_u):
    path = _find(evoapprox_dir, "mul8u_1JJQ")
    zero = np.zeros(256)
    zero[0] = 1.0
    e_zero = energy_per_mult(path, a_hist=zero, n_vectors=4096, seed=1)
    assert e_zero < 0.2 * exact_u.energy_pj  # A = 0: only B's input nets and the AND gates move

    def zeros(p: float) -> np.ndarray:
        h = np.full(256, (1 - p) / 255)
        h[0] = p
        return h

    e90 = energy_per_mult(path, a_hist=zeros(0.9), b_hist=zeros(0.9), n_vectors=4096, seed=1)
    e50 = energy_per_mult(path, a_hist=zeros(0.5), b_hist=zeros(0.5), n_vectors=4096, seed=1)
    assert e90 < e50 < 0.8 * exact_u.energy_pj


def test_leakage_only_when_nothing_toggles(evoapprox_dir):
    still = ActivitySpec.from_operands(np.full(64, 200), np.full(64, 77))
    f = hardware_cost(_find(evoapprox_dir, "mul8u_17MN"), activity=still)
    assert f.internal_mw == 0.0 and f.switching_mw == 0.0
    assert f.power_mw == f.leakage_mw > 0


def test_power_of_one_gate_by_hand(tmp_path):
    path = tmp_path / "tiny.v"
    path.write_text("module tiny(A, B, O); input [7:0] A; input [7:0] B; output [15:0] O;\n"
                    "assign O = {15'b0, A[0] & B[0]}; endmodule\n")
    # A[0] toggles every cycle, B[0] stays 1: the AND output toggles every cycle.
    a = np.tile([0, 1], 50)
    b = np.ones(100, dtype=int)
    config = StaConfig(clock_ns=5.0, output_load_pf=0.02)
    # on OSU018 (1.8 V, AND2X1): the hand computation below is written for that library
    f = hardware_cost(path, activity=ActivitySpec.from_operands(a, b), config=config, signed=False,
                      liberty=liberty_path())
    lib = read_liberty(liberty_path())
    and2 = lib.cell("AND2X1")
    # A[0] feeds one AND2 input, pin A or B (Yosys chooses)
    c_in = min(and2.pins["A"].capacitance, and2.pins["B"].capacitance), max(
        and2.pins["A"].capacitance, and2.pins["B"].capacitance)
    # switching: output net (0.02 pF) and the toggling input net, each 1 toggle per cycle
    e_out = 0.5 * 0.02 * 1.8**2
    lo, hi = (0.5 * c * 1.8**2 for c in c_in)
    assert lo + e_out <= f.switching_mw * 5.0 + 1e-12 <= hi + e_out + 1e-12
    assert f.leakage_mw == pytest.approx(and2.leakage * 1e-6)
    # internal: one rise and one fall every two cycles, energies from the AND2X1 tables
    tables = [t for p in and2.pins["Y"].internal_power for t in (p.rise, p.fall)]
    e_min = min(float(t.values.min()) for t in tables)
    e_max = max(float(t.values.max()) for t in tables)
    assert e_min <= f.internal_mw * 5.0 <= e_max


def test_json_cache_returns_identical_figures_without_recomputing(evoapprox_dir, tmp_path, monkeypatch):
    path = _find(evoapprox_dir, "mul8u_17MN")
    cache = JsonCostCache(tmp_path / "cost.json")
    first = hardware_cost(path, activity=FAST, cache=cache)

    def boom(*args, **kwargs):
        raise AssertionError("cache miss: measured again")

    monkeypatch.setattr(cost_mod, "_measure", boom)
    again = hardware_cost(path, activity=FAST, cache=JsonCostCache(tmp_path / "cost.json"))
    assert again == first
    with pytest.raises(AssertionError, match="cache miss"):  # another activity is another key
        hardware_cost(path, activity=ActivitySpec.make(n_vectors=4096, seed=2), cache=cache)


def test_another_histogram_does_not_synthesize_again(evoapprox_dir, monkeypatch):
    path = _find(evoapprox_dir, "mul8u_R36")
    first = hardware_cost(path, activity=FAST)
    monkeypatch.setattr(cost_mod, "synthesize", lambda *a, **k: (_ for _ in ()).throw(AssertionError("again")))
    h = np.arange(256.0)
    other = hardware_cost(path, activity=ActivitySpec.make(h, h[::-1].copy(), n_vectors=4096))
    assert (other.area_um2, other.delay_ns, other.table_hash) == (first.area_um2, first.delay_ns, first.table_hash)
    assert other.energy_pj != first.energy_pj


def test_cost_key_names_every_dependency():
    k = cost_key("n1", "l1", FAST, StaConfig(), "t1")
    assert all(s in k for s in ("n1", "l1", "t1", FAST.key, StaConfig().key))
    assert k != cost_key("n1", "l1", FAST, StaConfig(clock_ns=5.0), "t1")


def test_missing_tools_are_named(evoapprox_dir, monkeypatch, tmp_path):
    path = _find(evoapprox_dir, "mul8u_17MN")
    cost_mod._prepare.cache_clear()  # synthesis results are kept in-process
    monkeypatch.setenv("YOSYS", str(tmp_path / "no-yosys"))
    with pytest.raises(ToolError, match=r"^Yosys not found"):
        hardware_cost(path, activity=FAST)
    monkeypatch.delenv("YOSYS")
    monkeypatch.setenv("PATH", str(tmp_path))  # neither tool on PATH
    cost_mod._prepare.cache_clear()
    with pytest.raises(ToolError, match=r"^Yosys not found \(no yosys on PATH\)"):
        hardware_cost(path, activity=FAST)
    monkeypatch.undo()
    monkeypatch.setenv("RTLGEN_STA", str(tmp_path / "no-sta"))
    with pytest.raises(ToolError, match=r"^sta not found: \$RTLGEN_STA is '.*no-sta', which is not an executable$"):
        hardware_cost(path, activity=FAST)
    monkeypatch.delenv("RTLGEN_STA")
    sta_dir = tmp_path / "bin"
    sta_dir.mkdir()
    import shutil
    (sta_dir / "yosys").symlink_to(shutil.which("yosys"))
    monkeypatch.setenv("PATH", str(sta_dir))  # yosys but no sta
    with pytest.raises(ToolError, match=r"^sta not found on PATH; install it \(Debian: apt-get install opensta"):
        hardware_cost(path, activity=FAST)


def test_wrong_expected_table_names_the_operands(evoapprox_dir):
    wrong = exact_table(False).copy()
    wrong[3, 250] += 1
    with pytest.raises(VerificationError, match=r"first \(a=3, b=250\): expected 751, got 750$"):
        hardware_cost(_find(evoapprox_dir, "mul8u_1JJQ"), activity=FAST, expected_table=wrong)


def test_generic_and_pdk45_netlists_are_one_circuit(evoapprox_dir):
    generic = hardware_cost(_find(evoapprox_dir, "mul8s_1L12"), activity=FAST)
    pdk45 = hardware_cost(_find(evoapprox_dir, "mul8s_1L12_pdk45"), activity=FAST)
    assert generic.signed and pdk45.signed
    assert generic.table_hash == pdk45.table_hash
    assert generic.netlist_hash != pdk45.netlist_hash
    assert pdk45.area_um2 == pytest.approx(generic.area_um2, rel=0.25)


@pytest.fixture()
def small_lib(evoapprox_dir, tmp_path) -> Path:
    cat = Catalog(tmp_path / "lib")
    for name in ("mul8u_1JJQ", "mul8u_17MN", "mul8s_1L12"):
        path = _find(evoapprox_dir, name)
        cat.add(netlist_table(path), name.startswith("mul8s"), name, netlist=path)
    cat.save()
    return tmp_path / "lib"


def test_catalog_costs_are_cached_in_the_catalog(small_lib, monkeypatch):
    cat = Catalog.open(small_lib)
    figs = catalog_costs(cat, ["mul8u_17MN", "mul8u_1JJQ"], activity=FAST)
    cat.save()
    entry = cat.get("mul8u_17MN")
    assert figs[entry.hash].name == "mul8u_17MN" and figs[entry.hash].table_hash == entry.hash
    reopened = Catalog.open(small_lib)
    assert any(k.startswith("cost:") for k in reopened.get("mul8u_17MN").extra)
    monkeypatch.setattr(cost_mod, "_measure", lambda *a, **k: (_ for _ in ()).throw(AssertionError("miss")))
    assert catalog_costs(reopened, ["mul8u_17MN", "mul8u_1JJQ"], activity=FAST) == figs
    rel = relative_to(figs[entry.hash], figs[exact_entry(reopened, False).hash])
    assert 0 < rel["area"] < 0.1 and 0 < rel["energy"] < 0.1
    with pytest.raises(CatalogError, match=r"holds no exact signed multiplier .* such as EvoApprox's mul8s_1KV6$"):
        exact_entry(reopened, True)
    assert isinstance(CatalogCostCache(reopened, entry.hash).get("cost:nothing"), type(None))


def test_cli_costs_library_entries_relative_to_exact(small_lib, capsys):
    assert main(["cost", "--lib", str(small_lib), "mul8u_17MN", "mul8s_1L12", "--vectors", "4096"]) == 0
    out, err = capsys.readouterr()
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("mul8")}
    header = out.splitlines()[0].split()
    assert header[:6] == ["name", "cells", "area_um2", "delay_ns", "power_mW", "energy_pJ"]
    row = dict(zip(header, lines["mul8u_17MN"]))
    assert row["exact"] == "mul8u_1JJQ" and 0 < float(row["energy/x"]) < 0.1
    assert dict(zip(header, lines["mul8s_1L12"]))["exact"] == "-"
    assert "no exact signed multiplier" in err


def test_cli_costs_one_file(evoapprox_dir, capsys, tmp_path):
    out_json = tmp_path / "fig.json"
    assert main(["cost", str(_find(evoapprox_dir, "mul8u_17MN")), "--vectors", "4096", "--pdk", "osu018",
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:3] == ["mul8u_17MN", "5", "144"]  # 5 OSU018 cells
    assert '"area_um2": 144.0' in out_json.read_text()
    # the default PDK, sky130hd: 4 of its cells
    assert main(["cost", str(_find(evoapprox_dir, "mul8u_17MN")), "--vectors", "4096"]) == 0
    out = capsys.readouterr().out
    row = out.splitlines()[1].split()
    lib = get_pdk().library()
    assert out.splitlines()[-1].startswith("# pdk sky130hd, clock 10 ns")
    assert row[:2] == ["mul8u_17MN", "4"] and all(c.startswith("sky130_fd_sc_hd__") for c in lib.cells)


def test_cli_costs_one_file_relative_to_a_library(evoapprox_dir, small_lib, capsys):
    netlist = _find(evoapprox_dir, "mul8u_DG8")  # not in the library; its exact multiplier is
    assert main(["cost", str(netlist), "--lib", str(small_lib), "--vectors", "2048"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = dict(zip(lines[0].split(), lines[1].split()))
    assert row["name"] == "mul8u_DG8" and row["exact"] == "mul8u_1JJQ"
    assert 0.5 < float(row["area/x"]) < 1.0


def test_cli_rejects_a_bad_histogram(evoapprox_dir, tmp_path, capsys):
    bad = tmp_path / "h.npy"
    np.save(bad, np.ones(10))
    assert main(["cost", str(_find(evoapprox_dir, "mul8u_17MN")), "--a-hist", str(bad)]) == 1
    assert "a_hist must be a length-256 array" in capsys.readouterr().err


@pytest.mark.slow
def test_power_ranks_like_evoapprox_pdk45(evoapprox_dir, tmp_path):
    """All 50 circuits: Spearman rank correlation of our power with EvoApprox's PDK45 power."""
    import re

    cat = Catalog(tmp_path / "lib")
    published = {}
    for path in sorted(evoapprox_dir.rglob("mul8*.v")):
        if path.stem.endswith("_pdk45") or path.stem in published:
            continue
        m = re.search(r"^//\s*PDK45_PWR\s*=\s*([0-9.]+)", path.read_text(), re.M)
        published[path.stem] = float(m.group(1))
        cat.add(netlist_table(path), path.stem.startswith("mul8s"), path.stem, netlist=path)
    assert len(published) == 50
    figs = catalog_costs(cat, activity=ActivitySpec.make(n_vectors=2048), jobs=2)
    ours = {f.name: f.power_mw for f in figs.values()}
    names = sorted(published)
    rho = spearmanr([ours[n] for n in names], [published[n] for n in names]).statistic
    assert rho >= 0.9, f"Spearman {rho:.3f} < 0.9"


def test_two_circuits_of_one_function_are_costed_each(tmp_path):
    """The exact array and the exact radix-4 Booth multiplier share a catalog entry (one table),
    but each name is costed on its own netlist, to the figures the shipped manifest records."""
    from rtlgen.gen.sweep import read_manifest
    from rtlgen.library.importer import import_folder
    from rtlgen.paths import REPO_ROOT

    shipped = REPO_ROOT / "netlists" / "generated"
    manifest = {e["name"]: e["cost"] for e in read_manifest(shipped)["netlists"]}
    cat = import_folder(shipped, tmp_path / "lib").catalog
    names = ["mul8u_array", "mul8u_roup_p0_r0"]
    # the manifest's figures were computed on OSU018 (its "liberty" field)
    rows = cost_mod.implementation_costs(cat, names, pdk="osu018")
    assert [imp.name for _, imp, _ in rows] == [f.name for _, _, f in rows] == names
    assert rows[0][0] is rows[1][0]  # one entry
    for name, (_, _, f) in zip(names, rows):
        assert f.cells == manifest[name]["cells"] and f.area_um2 == pytest.approx(manifest[name]["area_um2"])
        assert f.energy_pj == pytest.approx(manifest[name]["energy_pj"], rel=1e-6)
    assert rows[0][2].area_um2 != rows[1][2].area_um2
    # per entry: each key's own netlist, and two netlists of one entry cannot share one figure
    assert catalog_costs(cat, ["mul8u_roup_p0_r0"], pdk="osu018")[cat.get("mul8u_array").hash] == rows[1][2]
    with pytest.raises(CatalogError, match=r"^mul8u_array and mul8u_roup_p0_r0 are two netlists of one circuit "
                                           r"\(mul8u_array, [0-9a-f]+\); cost them with implementation_costs$"):
        catalog_costs(cat, names)
