"""Generating the accelerator's Verilog, and what the HDL tools make of it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rtlgen.accel.config import AccelConfig, load_config
from rtlgen.accel.generate import TOP_MODULE, generate_accelerator
from rtlgen.sim.simulators import get_simulator
from rtlgen.accel.synth import synthesize_accelerator
from rtlgen.cli import main
from rtlgen.errors import ConfigError, NetlistError
from rtlgen.paths import REPO_ROOT

from accel_library import build_library

DEFAULT = REPO_ROOT / "flows" / "accel_default.toml"


@pytest.fixture(scope="module")
def library(tmp_path_factory, evoapprox_dir: Path):
    return build_library(evoapprox_dir, tmp_path_factory.mktemp("lib"))


@pytest.fixture(scope="module")
def default_design(tmp_path_factory, library):
    return generate_accelerator(load_config(DEFAULT), library, tmp_path_factory.mktemp("rtl"))


def test_outputs_and_manifest(default_design):
    d = default_design
    manifest = json.loads(d.manifest.read_text())
    assert manifest["top"] == TOP_MODULE
    assert manifest["config_hash"] == d.config_hash
    assert [s["name"] for s in manifest["units"][0]] == ["mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH",
                                                         "mul8u_C67"]
    assert (d.out_dir / "files.f").read_text().splitlines()[-1] == f"{TOP_MODULE}.v"
    top = d.top.read_text()
    # each unit x lane x slot instantiates the netlist module itself (2 x 16 x 4)
    assert sum(top.count(f"  {m} ") for m in ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_C67",
                                              "mul8s_1KV6", "mul8s_1L2J", "mul8u_GTR")) == 128
    assert "mul8u_2NDH" in top and ".Z(" in top    # 2NDH's output port is called Z


def test_generated_manifest_passes_its_reader(default_design, tmp_path):
    from rtlgen.accel.generate import GeneratedDesign
    from rtlgen.accel.manifest import read_manifest

    doc = read_manifest(default_design.out_dir)
    assert doc == json.loads(default_design.manifest.read_text())
    assert GeneratedDesign.load(default_design.out_dir) == default_design
    # one key less is an error naming the file and the key, not a KeyError in a consumer
    broken = tmp_path / "accel"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({k: v for k, v in doc.items() if k != "units"}))
    with pytest.raises(ConfigError, match=r"^.*accel/manifest\.json: 'units' is missing or not a list"):
        GeneratedDesign.load(broken)


def test_netlists_copied_unchanged_but_for_shared_helpers(default_design, library):
    for path in default_design.netlists:
        original = library.get(path.stem).netlists["generic"].read_text()
        copied = path.read_text()
        if "// rtlgen: module" not in copied:
            assert copied == original
        else:   # only whole helper modules defined in an earlier file are left out
            kept = [ln for ln in copied.splitlines() if not ln.startswith("// rtlgen: module")]
            assert set(kept) <= set(original.splitlines())
            assert f"module {path.stem}" in copied


def test_config_hash_is_the_resolved_one(default_design, library):
    cfg = load_config(DEFAULT)
    assert default_design.config_hash == cfg.resolved(library).config_hash()
    assert default_design.config_hash != cfg.config_hash()


def test_unknown_multiplier_is_a_config_error(tmp_path, library):
    cfg = AccelConfig(units=1, lanes=1, multipliers=1, activation_bytes=64, weight_words=8,
                      channels=4, unit_multipliers=(("mul8u_NOPE",),), source="x.toml")
    with pytest.raises(ConfigError, match=r"^x\.toml: unit\[0\]\.multipliers\[0\] = 'mul8u_NOPE': "
                                          r"no multiplier 'mul8u_NOPE'"):
        generate_accelerator(cfg, library, tmp_path)
    assert not (tmp_path / "manifest.json").exists()


def test_conflicting_helper_modules_rejected(tmp_path, library, monkeypatch):
    from rtlgen.accel import generate as gen

    a = tmp_path / "a.v"
    b = tmp_path / "b.v"
    a.write_text("module a(A, B, O);\nendmodule\nmodule H(x);\nendmodule\n")
    b.write_text("module b(A, B, O);\nendmodule\nmodule H(x, y);\nendmodule\n")
    with pytest.raises(NetlistError, match=r"b\.v: module H is defined differently here and in a\.v"):
        gen._deduplicate_helpers({"a": a, "b": b})


def test_cli_gen_accel(tmp_path, library, capsys):
    small = tmp_path / "small.toml"
    small.write_text(AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=64,
                                 weight_words=16, channels=4,
                                 unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),)).to_toml())
    rc = main(["gen", "accel", "--config", str(small), "--lib", str(library.root),
               "--out", str(tmp_path / "out")])
    assert rc == 0
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["clock_gating"] is True
    assert "config hash" in capsys.readouterr().out
    # one clock-gating enable per multiplier (1 unit x 2 lanes x 2 slots), captured on the falling edge
    assert (tmp_path / "out" / "rtlgen_accel.v").read_text().count("always @(negedge clk)") == 4
    rc = main(["gen", "accel", "--config", str(small), "--lib", str(library.root),
               "--out", str(tmp_path / "plain"), "--no-clock-gating"])
    assert rc == 0
    assert json.loads((tmp_path / "plain" / "manifest.json").read_text())["clock_gating"] is False
    assert "negedge" not in (tmp_path / "plain" / "rtlgen_accel.v").read_text()
    assert "no clock gating" in capsys.readouterr().out
    rc = main(["gen", "accel", "--config", str(DEFAULT), "--lib", str(tmp_path / "none"),
               "--out", str(tmp_path / "out2")])
    assert rc == 1
    assert "catalog.json not found" in capsys.readouterr().err


def test_a_device_clocks_each_engine_only_when_it_works(tmp_path, library):
    """The ``--axi`` device: each unit's engine on its own clock, ``clk`` gated by the
    sequencer's ``eng_clk_en`` captured on the falling edge (tests/accel/test_sequencer.py counts
    the enabled cycles against the schedule model and checks every output); without clock gating,
    every engine on ``clk``."""
    import re

    small = AccelConfig(units=2, lanes=2, multipliers=2, activation_bytes=256, weight_words=16, channels=4,
                        weights_store_bytes=256, unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),) * 2)
    text = generate_accelerator(small, library, tmp_path / "gated", axi=True).top.read_text()
    for u in range(2):
        assert f"assign eng{u}_clk = clk & eng{u}_clk_en;" in text
        # the engine module's flip-flops are on the gated clock, none on clk
        body = text[text.index(f"module \\rtlgen_accel.engine{u} "):]
        body = body[:body.index("endmodule")]
        assert f"posedge eng{u}_clk" in body and "posedge clk" not in body
    assert len(re.findall(r"eng\d_clk_en <= ", text)) == 2
    plain = generate_accelerator(small, library, tmp_path / "plain", axi=True, clock_gating=False).top.read_text()
    assert "assign eng0_clk" not in plain and "posedge eng0_clk" not in plain and "negedge clk" not in plain


@pytest.mark.sim
def test_verilator_lint_wall_clean(default_design):
    verilator = get_simulator("verilator")
    root = verilator.root
    env = dict(os.environ, **verilator.environment())
    proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "--top-module",
                           TOP_MODULE, "lint_waivers.vlt", "-f", "files.f"],
                          cwd=default_design.out_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "%Warning" not in proc.stderr and "%Error" not in proc.stderr


@pytest.mark.sim
def test_icarus_compiles(default_design, tmp_path):
    iverilog = shutil.which("iverilog")
    assert iverilog, "iverilog not found (apt-get install iverilog; bootstrap.sh does)"
    proc = subprocess.run([iverilog, "-g2012", "-s", TOP_MODULE, "-o", str(tmp_path / "a.vvp"),
                           "-c", "files.f"], cwd=default_design.out_dir, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_yosys_synthesizes_to_osu018(tmp_path, library):
    small = AccelConfig(units=2, lanes=2, multipliers=2, activation_bytes=64, weight_words=16,
                        channels=4, unit_multipliers=(("mul8u_1JJQ", "mul8u_17MJ"),
                                                      ("mul8s_1KV6", "mul8u_DG8")))
    design = generate_accelerator(small, library, tmp_path)
    area = synthesize_accelerator(design, pdk="osu018")  # other PDKs: tests/cost/test_pdk.py
    assert area.cells > 1000 and area.area > 0
    assert any(name.startswith("DFF") for name in area.cell_counts), area.cell_counts


@pytest.mark.slow
def test_yosys_synthesizes_the_device_top(tmp_path, library):
    """The ``--axi`` top (front end, sequencer, vector unit, engine) through Yosys's coarse
    synthesis with its memories kept as memory cells (SRAM macros on a real chip: as flip-flops the
    8 KiB configuration memory alone would take minutes), then ``check -assert``: no
    combinational loop, no undriven or multiply driven net."""
    from rtlgen.netlist.yosys import run_yosys

    small = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=256, weight_words=16, channels=4,
                        weights_store_bytes=256, unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),))
    design = generate_accelerator(small, library, tmp_path, axi=True)
    reads = "\n".join(f"read_verilog -sv {p}" for p in design.sources)
    run_yosys(f"{reads}\nhierarchy -check -top {TOP_MODULE}\nsynth -flatten -top {TOP_MODULE} -run begin:fine\n"
              "check -assert\ntee -o stat.txt stat\n", cwd=tmp_path)
    stat = (tmp_path / "stat.txt").read_text()
    cells = {line.split()[0]: int(line.split()[1]) for line in stat.splitlines()
             if line.strip().startswith("$") and len(line.split()) == 2}
    # at least the activation, weight, parameter, configuration and weights-store memories
    assert cells.get("$mem_v2", 0) >= 5, cells
    assert not any("latch" in name for name in cells), cells
    assert sum(cells.values()) > 1000


def test_a_name_selects_its_own_netlist_among_circuits_of_one_function(tmp_path):
    """mul8u_array and mul8u_roup_p0_r0 are one catalog entry (same table): a bank that names
    each gets each one's netlist, not the entry's first."""
    from rtlgen.accel.generate import hardware_specs
    from rtlgen.library.importer import import_folder

    shipped = REPO_ROOT / "netlists" / "generated"
    cat = import_folder(shipped, tmp_path / "lib").catalog
    cfg = AccelConfig(units=1, lanes=1, multipliers=2, activation_bytes=64, weight_words=8, channels=4,
                      unit_multipliers=(("mul8u_roup_p0_r0", "mul8u_array"),), source="x.toml")
    banks, files = hardware_specs(cfg, cat)
    assert [s.module for s in banks[0]] == ["mul8u_roup_p0_r0", "mul8u_array"]
    for module, path in files.items():
        assert path.read_bytes() == (shipped / f"{module}.v").read_bytes()


def test_a_design_folder_given_relative_is_held_absolute(tmp_path, monkeypatch):
    """The tools run in the design folder (Yosys with cwd=out_dir), so its paths are absolute
    whatever the caller gave (a relative --out once sent Yosys to build/x/build/x/...)."""
    from rtlgen.accel.generate import GeneratedDesign

    monkeypatch.chdir(tmp_path)
    d = GeneratedDesign(Path("acc"), Path("acc/top.v"), (Path("acc/netlists/m.v"),), Path("acc/files.f"),
                        Path("acc/manifest.json"), "0" * 16)
    assert d.out_dir == tmp_path / "acc" and d.sources == [tmp_path / "acc/netlists/m.v", tmp_path / "acc/top.v"]
    assert all(p.is_absolute() for p in (d.filelist, d.manifest))
