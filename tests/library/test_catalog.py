"""The library catalog: import of the v2022 release, identity by hash, lookups, atomicity."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rtlgen.library.catalog import Catalog
from rtlgen.errors import CatalogError, NetlistError
from rtlgen.library.importer import import_folder
from rtlgen.netlist.multiplier import netlist_table
from rtlgen.netlist.table import exact_table, table_hash


def test_v2022_imports_50_circuits_with_both_netlist_kinds(evoapprox_library, evoapprox_dir):
    cat = evoapprox_library
    assert len(cat) == 50
    assert sum(e.signed for e in cat.entries) == 13
    pdk_names = {p.stem.removesuffix("_pdk45") for p in evoapprox_dir.rglob("*_pdk45.v")}
    with_pdk = {e.name for e in cat.entries if "pdk45" in e.netlists}
    assert with_pdk == pdk_names and len(with_pdk) == 14
    # a generic and a _pdk45 netlist of one circuit landed in one entry: their tables are equal
    for e in cat.entries:
        assert "generic" in e.netlists
        for kind, path in e.netlists.items():
            assert path.is_file()
            t = netlist_table(path, signed=e.signed)
            diff = np.argwhere(t != cat.table(e.hash))
            assert diff.size == 0, f"{e.name} {kind}: first difference at (a, b) = {tuple(diff[0])}"
    exact = cat.get("mul8u_1JJQ")
    assert exact.hash == table_hash(exact_table(False), False)
    assert cat.get("mul8s_1KV6").hash == table_hash(exact_table(True), True)
    assert exact.provenance == {"release": "evoapproxlib-v2022", "license": "MIT"}
    assert len(exact.sources) == 10  # 5 Pareto folders x (generic + pdk45)


def test_lookup_by_name_hash_prefix_and_unknown(evoapprox_library):
    cat = evoapprox_library
    e = cat.get("mul8u_DG8")
    assert cat.get(e.hash) is e and cat.get(e.hash[:8]) is e
    with pytest.raises(CatalogError, match=r"^no multiplier 'mul8u_NOPE' in .* \(entries: mul8u_0AB, "):
        cat.get("mul8u_NOPE")
    assert cat.table("mul8u_DG8").flags.writeable is False


def test_reopen_roundtrip_and_reimport_is_idempotent(evoapprox_library, evoapprox_dir, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(evoapprox_library.root, lib)
    before = (lib / "catalog.json").read_text()
    again = import_folder(evoapprox_dir, lib)
    assert again.new_circuits == 0 and len(again.catalog) == 50
    assert json.loads((lib / "catalog.json").read_text()) == json.loads(before)
    reopened = Catalog.open(lib)
    assert [e.hash for e in reopened.entries] == [e.hash for e in evoapprox_library.entries]


def test_name_of_another_circuit_becomes_a_release_alias(tmp_path):
    lib = Catalog(tmp_path / "lib")
    lib.add(exact_table(False), False, "mul8u_X", release="r1")
    t = exact_table(False).copy()
    t[1, 1] = 0
    e = lib.add(t, False, "mul8u_X", release="r2")
    assert e.name == "r2:mul8u_X"
    assert lib.get("mul8u_X").hash == table_hash(exact_table(False), False)


def test_failed_import_leaves_catalog_untouched(evoapprox_library, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(evoapprox_library.root, lib)
    before = (lib / "catalog.json").read_bytes()
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.v").write_text("module good(input [7:0] A, input [7:0] B, output [15:0] O);\n"
                                " assign O = {A, B};\nendmodule\n")
    (src / "bad.v").write_text("module bad(input [7:0] A, input [7:0] B, output [15:0] O);\n"
                               " assign O = A &;\nendmodule\n")
    with pytest.raises(NetlistError, match=r"bad\.v:2: syntax error"):
        import_folder(src, lib, jobs=1)
    assert (lib / "catalog.json").read_bytes() == before


@pytest.mark.parametrize("content, message", [
    ("{", r"corrupt catalog"),
    ('{"format": "other"}', r"not an rtlgen catalog"),
    ('{"format": "rtlgen-catalog", "version": 99}',
     r"^.*catalog\.json: catalog version 99 is not supported \(this rtlgen reads versions 1, 2; "
     r"re-import the netlists with 'rtlgen lib import DIR --lib LIBDIR'\)$"),
])
def test_corrupt_catalog_is_rejected(tmp_path, content, message):
    (tmp_path / "catalog.json").write_text(content)
    with pytest.raises(CatalogError, match=message):
        Catalog.open(tmp_path)


def test_tampered_table_is_detected(evoapprox_library, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(evoapprox_library.root, lib)
    cat = Catalog.open(lib)
    e = cat.get("mul8u_DG8")
    t = np.load(lib / "tables" / f"{e.hash}.npy")
    t[7, 7] += 1
    np.save(lib / "tables" / f"{e.hash}.npy", t)
    with pytest.raises(CatalogError, match=r"table does not match its hash"):
        cat.table("mul8u_DG8")


def test_missing_library_says_how_to_make_one(tmp_path):
    with pytest.raises(CatalogError, match=r"rtlgen lib import DIR --lib LIBDIR"):
        Catalog.open(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------
# Two circuits of one function: an entry keeps each of them

GENERATED = Path(__file__).resolve().parents[2] / "netlists" / "generated"
SAME_FUNCTION = {"mul8u_array": "mul8u_roup_p0_r0", "mul8s_baugh_wooley": "mul8s_roup_p0_r0"}


@pytest.fixture(scope="module")
def generated_library(tmp_path_factory) -> Catalog:
    return import_folder(GENERATED, tmp_path_factory.mktemp("generated-lib")).catalog


def test_same_function_netlists_are_each_kept_and_selected_by_name(generated_library):
    cat = generated_library
    assert len(cat) == 66 and len(cat.implementations()) == 68
    for first, second in SAME_FUNCTION.items():
        entry = cat.get(second)
        assert entry is cat.get(first) and entry.name == first
        assert [i.name for i in entry.implementations] == [first, second]
        for name in (first, second):
            imp = cat.implementation(name)
            assert imp.name == name and imp.kind == "generic"
            assert imp.path.read_bytes() == (GENERATED / f"{name}.v").read_bytes()
        # the entry's own name, its hash: the default (first imported) netlist
        assert cat.implementation(entry.hash).name == first == Path(entry.netlists["generic"]).stem


def test_every_implementation_survives_reopening_and_reimport(generated_library, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(generated_library.root, lib)
    doc = json.loads((lib / "catalog.json").read_text())
    assert doc["version"] == 2
    again = import_folder(GENERATED, lib)
    assert again.new_circuits == 0 and len(again.catalog.implementations()) == 68
    reopened = Catalog.open(lib)
    def listing(cat):
        return [(i.name, i.path.relative_to(cat.root.resolve()), i.digest) for _, i in cat.implementations()]

    assert listing(reopened) == listing(generated_library)
    assert reopened.implementation("mul8s_roup_p0_r0").path.read_bytes() == \
        (GENERATED / "mul8s_roup_p0_r0.v").read_bytes()


def test_copies_that_differ_in_comments_only_are_one_implementation(evoapprox_library):
    exact = evoapprox_library.get("mul8u_1JJQ")
    assert len(exact.sources) == 10  # 5 Pareto folders x (generic + pdk45), headers differ
    assert [(i.name, i.kind) for i in exact.implementations] == [("mul8u_1JJQ", "generic"),
                                                                 ("mul8u_1JJQ_pdk45", "pdk45")]
    assert evoapprox_library.implementation("mul8u_1JJQ_pdk45").kind == "pdk45"
    assert evoapprox_library.get("mul8u_1JJQ_pdk45") is exact


def test_another_netlist_under_a_taken_file_name_is_kept_apart(tmp_path):
    """Same function, same file name, different circuit (a second release): both are kept, the
    second under its release's name and in a folder of its own."""
    a, b = tmp_path / "r1", tmp_path / "r2"
    a.mkdir(), b.mkdir()
    shutil.copy(GENERATED / "mul8u_array.v", a / "mul8u_array.v")
    shutil.copy(GENERATED / "mul8u_roup_p0_r0.v", b / "mul8u_array.v")
    lib = tmp_path / "lib"
    import_folder(a, lib, release="r1")
    cat = import_folder(b, lib, release="r2").catalog
    [entry] = cat.entries
    assert [i.name for i in entry.implementations] == ["mul8u_array", "r2:mul8u_array"]
    first, second = entry.implementations
    assert first.path != second.path and first.path.name == second.path.name == "mul8u_array.v"
    assert first.path.read_bytes() == (GENERATED / "mul8u_array.v").read_bytes()
    assert cat.implementation("r2:mul8u_array").path.read_bytes() == (GENERATED / "mul8u_roup_p0_r0.v").read_bytes()


def test_version_1_catalog_is_read_with_its_netlists_as_implementations(generated_library, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(generated_library.root, lib)
    doc = json.loads((lib / "catalog.json").read_text())
    for raw in doc["entries"]:  # what version 1 wrote: the first netlist of each kind only
        imps = raw.pop("implementations")
        raw["netlists"] = {}
        for imp in imps:
            raw["netlists"].setdefault(imp["kind"], imp["file"])
    doc["version"] = 1
    (lib / "catalog.json").write_text(json.dumps(doc))
    cat = Catalog.open(lib)
    assert len(cat.implementations()) == 66
    assert cat.implementation("mul8u_array").path == (lib / cat.get("mul8u_array").netlists["generic"]).resolve()
    assert cat.implementation("mul8u_array").digest == generated_library.implementation("mul8u_array").digest
    cat.save()
    assert json.loads((lib / "catalog.json").read_text())["version"] == 2
    assert len(Catalog.open(lib).implementations()) == 66


def test_kind_picks_among_the_netlists_of_a_name(evoapprox_library):
    cat = evoapprox_library
    assert cat.implementation("mul8u_1JJQ").name == "mul8u_1JJQ"
    assert cat.implementation("mul8u_1JJQ", "pdk45").name == "mul8u_1JJQ_pdk45"
    assert cat.implementation("mul8u_1JJQ_pdk45", "generic").name == "mul8u_1JJQ_pdk45"  # named exactly
    assert cat.implementation("mul8u_DG8", "pdk45").name == "mul8u_DG8"  # no pdk45 netlist: its only one


def test_candidate_patterns_expand_to_matching_names():
    from rtlgen.library.catalog import expand_keys, is_pattern

    names = ["mul8u_array", "mul8u_roup_p0_r0", "mul8u_roup_p2_r8", "mul8s_roup_p1_r0", "mul8u_drum_k4"]
    assert is_pattern("mul8u_roup_*") and is_pattern("mul8u_roup_p[12]_r0") and not is_pattern("mul8u_array")
    # patterns: sorted matches in place; plain keys kept as given (Catalog.get resolves them); no duplicates
    assert expand_keys(["mul8u_drum_k4", "mul8u_roup_*", "mul8u_roup_p2_r8"], names) == \
        ["mul8u_drum_k4", "mul8u_roup_p0_r0", "mul8u_roup_p2_r8"]
    assert expand_keys(["*roup_p?_r0"], names) == ["mul8s_roup_p1_r0", "mul8u_roup_p0_r0"]
    with pytest.raises(CatalogError, match=r"^search\.candidates pattern 'mul8u_ROUP_\*' matches no multiplier "
                                           r"of the library \(5 names: "):
        expand_keys(["mul8u_ROUP_*"], names, what="search.candidates")   # case-sensitive
