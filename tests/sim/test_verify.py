"""Exhaustive verification by simulation: the whole EvoApprox catalog on both simulators.

Every netlist of every catalog entry (generic and ``_pdk45``) is simulated over all 65,536
operand pairs on Verilator and on Icarus and compared with the entry's table, which the numpy
evaluator computed at import: numpy == Icarus == Verilator, and generic == ``_pdk45`` since both
netlists of an entry must reproduce its one table. Builds are cached per test session, so the
mutation tests and the CLI re-run simulations without rebuilding.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rtlgen.cli import main
from rtlgen.errors import ConfigError, NetlistError, VerificationError
from rtlgen.netlist.table import exact_table
from rtlgen.sim.verify import Multiplier, catalog_multipliers, verify, verify_netlist, write_table_hex

SIMULATORS = ["verilator", "icarus"]

pytestmark = [pytest.mark.sim, pytest.mark.data]


@pytest.fixture(scope="session")
def verify_builds(tmp_path_factory) -> Path:
    """Simulator builds shared by the tests of a session (keyed by content, see rtlgen.sim.verify)."""
    return tmp_path_factory.mktemp("verify-builds")


@pytest.fixture(scope="session")
def catalog_items(evoapprox_library) -> list[Multiplier]:
    return catalog_multipliers(evoapprox_library)


@pytest.fixture(scope="session")
def catalog_reports(catalog_items, verify_builds):
    reports = {}

    def get(sim: str):
        if sim not in reports:
            reports[sim] = verify(catalog_items, simulator=sim, work_dir=verify_builds)
        return reports[sim]

    return get


def _find(items: list[Multiplier], label: str) -> int:
    return next(i for i, m in enumerate(items) if m.name == label)


# ---------------------------------------------------------------------------------------------
# The catalog


def test_catalog_lists_both_netlists_of_every_entry(evoapprox_library, catalog_items):
    entries = evoapprox_library.entries
    assert len(entries) == 50
    pdk45 = sum(1 for e in entries if "pdk45" in e.netlists)
    assert pdk45 >= 14
    assert len(catalog_items) == len(entries) + pdk45
    assert all(m.netlist.is_file() for m in catalog_items)


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_every_catalog_netlist_matches_its_table(sim, catalog_reports, catalog_items):
    report = catalog_reports(sim)
    assert report.simulator == sim
    assert [r.name for r in report.results] == [m.name for m in catalog_items]
    assert all(r.pairs == 65536 for r in report.results)
    failures = "\n".join(r.describe() for r in report.failures)
    assert report.ok, f"{len(report.failures)} netlists disagree with their tables on {sim}:\n{failures}"
    report.raise_for_mismatch()


@pytest.mark.slow
@pytest.mark.parametrize("sim", SIMULATORS)
def test_mutated_tables_are_caught_at_exactly_the_changed_operands(sim, catalog_reports, catalog_items, verify_builds):
    """One changed entry in each of three tables: exactly that pair is reported, nothing else moves;
    and a table wrong almost everywhere has every differing pair counted.

    Verilator re-runs the whole catalog build (cached); Icarus builds are cheap, so it checks the
    changed multipliers and one unchanged control on their own.
    """
    catalog_reports(sim)  # the builds exist
    mutations = {  # label -> (a, b, delta)
        "mul8u_1JJQ": (201, 77, 1),
        "mul8s_1KV6 (pdk45)": (0x80, 0x7F, -5),   # (-128) * 127: a negative signed value
        "mul8u_0AB": (255, 255, -3),
    }
    items = list(catalog_items)
    for label, (a, b, delta) in mutations.items():
        i = _find(items, label)
        t = items[i].table.copy()
        t[a, b] += delta
        items[i] = replace(items[i], table=t)
    # The exact signed multiplier against halved unsigned products: wrong at most pairs.
    wrong = exact_table(False) // 2
    i = _find(items, "mul8s_1KV6")
    items[i] = replace(items[i], table=wrong)
    control = "mul8u_1JJQ (pdk45)"
    if sim == "icarus":
        items = [m for m in items if m.name in mutations or m.name in ("mul8s_1KV6", control)]
    report = verify(items, simulator=sim, work_dir=verify_builds)
    by_name = {r.name: r for r in report.results}
    for label, (a, b, _) in mutations.items():
        r = by_name[label]
        original = next(m for m in catalog_items if m.name == label).table
        mutated = next(m for m in items if m.name == label).table
        assert r.mismatches == 1, r.describe()
        assert r.first == (a, b)
        assert r.expected == int(mutated[a, b])
        assert r.got == int(original[a, b])
    assert by_name["mul8s_1KV6 (pdk45)"].got == -128 * 127

    r = by_name["mul8s_1KV6"]
    differs = wrong != exact_table(True)
    first = int(np.flatnonzero(differs.reshape(-1))[0])
    assert r.mismatches == int(np.count_nonzero(differs)) > 60000
    assert r.first == (first >> 8, first & 0xFF)
    assert (r.expected, r.got) == (int(wrong[r.first]), int(exact_table(True)[r.first]))

    assert by_name[control].ok
    assert sum(not r.ok for r in report.results) == 4
    with pytest.raises(VerificationError, match=r"(?m)^mul8u_1JJQ: 1 of 65536 pairs differ \(%s\); first at \(a, b\) = "
                       r"\(201, 77\): expected 15478, got 15477 " % sim):
        report.raise_for_mismatch()


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.mark.slow
def test_cli_verilator_whole_library_reuses_the_session_builds(evoapprox_library, catalog_reports, verify_builds,
                                                                capsys):
    catalog_reports("verilator")
    code = main(["verify", "--lib", str(evoapprox_library.root), "--all", "--sim", "verilator",
                 "--build-dir", str(verify_builds)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verilator: 64 of 64 netlists match their tables" in out or out.count("ok    ") >= 64


@pytest.mark.parametrize("signed,name", [(False, "mul8u_1JJQ"), (True, "mul8s_1KV6")])
def test_cli_single_netlist_exact(tmp_path, evoapprox_dir, verify_builds, capsys, signed, name):
    netlist = next(evoapprox_dir.rglob(f"{name}_pdk45.v"))
    table = tmp_path / "t.npy"
    np.save(table, exact_table(signed))
    code = main(["verify", str(netlist), "--table", str(table), "--sim", "icarus", "--build-dir", str(verify_builds)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"ok    {name}_pdk45: 65536 pairs match" in out


def test_cli_build_dir_given_relative(tmp_path, evoapprox_dir, capsys, monkeypatch):
    """A relative --build-dir: the simulator runs in a folder of its own, and still finds the
    files the testbench reads and writes (it once looked for rel/b/.../result.json inside rel/b)."""
    netlist = next(evoapprox_dir.rglob("mul8u_1JJQ_pdk45.v"))
    np.save(tmp_path / "t.npy", exact_table(False))
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(netlist), "--table", "t.npy", "--sim", "icarus", "--build-dir", "rel/b"])
    out = capsys.readouterr().out
    assert code == 0 and "ok    mul8u_1JJQ_pdk45: 65536 pairs match" in out, out


def test_cli_mismatch_prints_count_operands_expected_and_got(tmp_path, evoapprox_dir, verify_builds, capsys):
    netlist = next(evoapprox_dir.rglob("mul8s_1KV6.v"))
    t = exact_table(True)
    t[0xFF, 0x02] = 7  # (-1) * 2 = -2
    t[0x03, 0x04] = 13
    np.save(tmp_path / "t.npy", t)
    code = main(["verify", str(netlist), "--table", str(tmp_path / "t.npy"), "--sim", "icarus", "--signed",
                 "--build-dir", str(verify_builds)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  mul8s_1KV6: 2 of 65536 pairs differ; first (a, b) = (3, 4): expected 13, got 12" in out


def test_cli_signedness_defaults_from_the_name(tmp_path, evoapprox_dir, verify_builds, capsys):
    # mul8s_* defaults to signed: an unsigned table's values above 32767 are rejected up front.
    netlist = next(evoapprox_dir.rglob("mul8s_1KV6.v"))
    np.save(tmp_path / "u.npy", exact_table(False))
    code = main(["verify", str(netlist), "--table", str(tmp_path / "u.npy"), "--sim", "icarus"])
    err = capsys.readouterr().err
    assert code == 1
    assert "u.npy: table" in err and "-32768..32767" in err


def test_cli_lib_names(evoapprox_library, verify_builds, capsys):
    code = main(["verify", "--lib", str(evoapprox_library.root), "mul8u_1JJQ", "mul8s_1KV6", "--sim", "icarus",
                 "--build-dir", str(verify_builds)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "icarus: 4 of 4 netlists match their tables" in out


@pytest.mark.parametrize("argv,message", [
    (["verify"], r"give one NETLIST with --table"),
    (["verify", "x.v"], r"netlist x.v does not exist|--table T.npy is required"),
    (["verify", "--lib", "L"], r"with --lib give either --all or entry NAMES"),
    (["verify", "--lib", "L", "--all", "mul8u_1JJQ"], r"with --lib give either --all or entry NAMES"),
    (["verify", "--lib", "L", "--all", "--table", "t.npy"], r"--table, --top, --signed and --unsigned apply"),
])
def test_cli_usage_errors(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("rtlgen verify: error: ")
    import re

    assert re.search(message, err), err


def test_cli_bad_table_file(tmp_path, evoapprox_dir, capsys):
    netlist = next(evoapprox_dir.rglob("mul8u_1JJQ.v"))
    np.save(tmp_path / "small.npy", np.zeros((16, 16), dtype=np.int32))
    assert main(["verify", str(netlist), "--table", str(tmp_path / "small.npy")]) == 1
    err = capsys.readouterr().err
    assert "small.npy: table" in err and "must have shape (256, 256), not (16, 16)" in err


# ---------------------------------------------------------------------------------------------
# Pieces


def test_wrong_interface_is_rejected_before_simulation(tmp_path, verify_builds):
    bad = tmp_path / "adder.v"
    bad.write_text("module add8(input [7:0] A, input [7:0] B, output [8:0] S);\n  assign S = A + B;\nendmodule\n")
    with pytest.raises(NetlistError, match=r"adder\.v: the netlist's top module must have one 16-bit output, not S\[9\]$"):
        verify([Multiplier("add8", bad, exact_table(False), False)], simulator="icarus", work_dir=verify_builds)
    swapped = tmp_path / "xy.v"
    swapped.write_text("module m(input [7:0] X, input [7:0] B, output [15:0] O);\n  assign O = X * B;\nendmodule\n")
    with pytest.raises(NetlistError, match=r"xy\.v: the netlist's top module must have 8-bit inputs A and B "
                                           r"\(bound by name\), not X\[8\], B\[8\]$"):
        verify([Multiplier("m", swapped, exact_table(False), False)], simulator="icarus", work_dir=verify_builds)


def test_ports_are_bound_by_name_not_position(tmp_path, verify_builds):
    """A multiplier declaring B before A, computing A*2+B: swapped binding would be caught."""
    src = tmp_path / "ba.v"
    src.write_text("module ba(B, O, A);\n input [7:0] B; output [15:0] O; input [7:0] A;\n"
                   " assign O = {A, 1'b0} + B;\nendmodule\n")
    v = np.arange(256)
    table = (2 * v[:, None] + v[None, :]).astype(np.int32)
    result = verify_netlist(src, table, signed=False, simulator="icarus", work_dir=verify_builds)
    assert result.ok, result.describe()


def test_table_hex_layout(tmp_path):
    t = np.zeros((256, 256), dtype=np.int32)
    t[1, 2] = -2
    t[255, 255] = 0x1234
    write_table_hex(tmp_path / "t.hex", [t, exact_table(False)])
    lines = (tmp_path / "t.hex").read_text().splitlines()
    assert len(lines) == 2 * 65536
    assert lines[1 * 256 + 2] == "fffe"
    assert lines[65535] == "1234"
    assert lines[65536 + (3 << 8 | 5)] == f"{15:04x}"


def test_multiplier_rejects_a_bad_table():
    with pytest.raises(ValueError, match=r"^table of m must have shape \(256, 256\), not \(2, 2\)$"):
        Multiplier("m", Path("m.v"), np.zeros((2, 2), dtype=np.int32), False)
    with pytest.raises(ValueError, match=r"^nothing to verify"):
        verify([], simulator="icarus")

