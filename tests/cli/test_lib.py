"""CLI contracts of `rtlgen table` and `rtlgen lib ...` (called as main([...]))."""
from __future__ import annotations

import json
import zipfile

import numpy as np

from rtlgen.library.catalog import Catalog
from rtlgen.cli import main
from rtlgen.netlist.table import exact_table


def test_table_writes_int32_256x256(evoapprox_dir, tmp_path):
    out = tmp_path / "T.npy"
    src = evoapprox_dir / "8x8_signed/pareto_pwr_mae/mul8s_1KV6.v"
    assert main(["table", str(src), "--out", str(out)]) == 0
    t = np.load(out)
    assert t.dtype == np.int32 and t.shape == (256, 256)
    assert np.array_equal(t, exact_table(True))
    # explicit signedness overrides the name: the same netlist read as unsigned
    assert main(["table", str(src), "--out", str(out), "--unsigned"]) == 0
    assert np.load(out)[255, 255] == 1  # (-1) x (-1) = 1 -> pattern 0x0001
    assert np.load(out)[255, 1] == 0xFFFF


def test_table_error_goes_to_stderr_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.v"
    bad.write_text("module m(input [7:0] A, input [7:0] B, output [15:0] O);\n assign O = Q;\nendmodule\n")
    out = tmp_path / "T.npy"
    assert main(["table", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rtlgen table: error: {bad}:2: module m: Q is not declared")
    assert not out.exists()
    assert main(["table", str(tmp_path / "missing.v"), "--out", str(out)]) == 1
    assert "No such file" in capsys.readouterr().err and not out.exists()


def test_lib_import_list_show_export(evoapprox_dir, tmp_path, capsys):
    lib = tmp_path / "lib"
    sub = evoapprox_dir / "8x8_unsigned" / "pareto_pwr_mae"
    assert main(["lib", "import", str(sub), "--lib", str(lib)]) == 0
    assert "9 circuits" in capsys.readouterr().out
    assert main(["lib", "list", "--lib", str(lib)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "hash", "sign"] and len(lines) == 10
    assert main(["lib", "show", "mul8u_1JJQ", "--lib", str(lib), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"]["wce"] == 0 and sorted(doc["netlists"]) == ["generic", "pdk45"]
    out = tmp_path / "dg8.bin"
    assert main(["lib", "export", "mul8u_DG8", "--lib", str(lib), "--out", str(out)]) == 0
    assert out.stat().st_size == 131072
    assert main(["lib", "show", "mul8u_NOPE", "--lib", str(lib)]) == 1
    assert "no multiplier 'mul8u_NOPE'" in capsys.readouterr().err


def test_fetch_evoapprox_from_an_archive_url(evoapprox_dir, tmp_path, capsys):
    """The download path end to end, from a file:// URL laid out like GitHub's branch archive."""
    archive = tmp_path / "v2022.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in (evoapprox_dir / "8x8_signed").rglob("*"):
            if p.is_file():
                z.write(p, f"evoapproxlib-2022/multiplers/{p.relative_to(evoapprox_dir)}")
        z.write(evoapprox_dir / "LICENSE.md", "evoapproxlib-2022/LICENSE.md")
        z.writestr("evoapproxlib-2022/adders/8_unsigned/add8u_0FP.v", "not a multiplier")
    lib, dest = tmp_path / "lib", tmp_path / "dl"
    assert main(["lib", "fetch", "evoapprox", "--url", archive.as_uri(), "--dest", str(dest), "--lib", str(lib)]) == 0
    cat = Catalog.open(lib)
    assert len(cat) == 13 and all(e.signed for e in cat.entries)
    assert not list(dest.rglob("add8u_*"))
    assert main(["lib", "fetch", "evoapprox", "--url", (tmp_path / "none.zip").as_uri(), "--dest", str(dest),
                 "--lib", str(lib)]) == 1
    assert "cannot download" in capsys.readouterr().err
