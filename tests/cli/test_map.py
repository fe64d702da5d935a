from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from rtlgen.bitstream import format as bsm
from rtlgen.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.data]

NAMES = ("mul8u_1JJQ", "mul8u_2NDH", "mul8u_17R6")


@pytest.fixture(scope="module")
def small_lib(tmp_path_factory, evoapprox_dir: Path) -> Path:
    """A catalog of three EvoApprox multipliers (exact, mild, strong)."""
    src = tmp_path_factory.mktemp("netlists")
    for name in NAMES:
        found = sorted(evoapprox_dir.rglob(f"{name}.v"))
        assert found, f"{name}.v not in {evoapprox_dir}"
        (src / f"{name}.v").symlink_to(found[0])
    lib = tmp_path_factory.mktemp("lib")
    assert main(["lib", "import", str(src), "--lib", str(lib)]) == 0
    return lib


def test_map_digits_end_to_end(tmp_path, small_lib, capsys) -> None:
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    images = save_images_npz(tmp_path / "digits.npz", "test")
    accel = tmp_path / "accel.toml"
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 2\nlanes = 4\nmultipliers = 2\n"
                     "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
    out = tmp_path / "run"
    argv = ["map", "--model", str(digits_model_path()), "--images", str(images), "--accel", str(accel),
            "--lib", str(small_lib), "--out", str(out), "--search", "0:120", "--test", "120:240",
            "--generations", "2", "--pop", "8", "--seed", "5", "--workers", "1", "--energy-vectors", "512", "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert re.search(r"reference accuracy: search \d+\.\d\d%, test \d+\.\d\d%", text)
    front = json.loads((out / "front.json").read_text())
    assert front["front"]
    for row in front["front"]:
        bs = bsm.read_bitstream(out / row["bitstream"])
        folder = (out / row["bitstream"]).parent
        # the per-point accelerator config is the one the bitstream names
        from rtlgen.accel.config import load_config
        from rtlgen.library.catalog import Catalog

        cfg = load_config(folder / "accel.toml").resolved(Catalog.open(small_lib))
        assert cfg.config_hash() == bs.accel_hash
        assert main(["bitstream", "inspect", str(out / row["bitstream"]), "--accel", str(folder / "accel.toml"),
                     "--lib", str(small_lib)]) == 0
        emu = np.load(out / row["emulation"]["file"])
        assert emu["logits"].shape == (360, 10)
        # the pair the device loads: weights.bin, and config.bin with the activation-memory plan,
        # the same as 'rtlgen bitstream build' makes from the point's assignment
        assert row["device"].startswith("config.bin and weights.bin: the device runs them"), row["device"]
        assert bs.has_plan and bs.model_hash
        # its cycles per inference on the device, from the two images (rtlgen.accel.schedule)
        from rtlgen.accel.schedule import batch_cycles

        assert row["device_cycles"] == batch_cycles((out / row["bitstream"]).read_bytes(),
                                                    (folder / "weights.bin").read_bytes(),
                                                    load_config(folder / "accel.toml")).total > 0
        built = tmp_path / f"built-{row['id']}"
        assert main(["bitstream", "build", "--model", str(digits_model_path()), "--accel", str(folder / "accel.toml"),
                     "--lib", str(small_lib), "--assign", str(folder / "assignment.json"), "--out", str(built)]) == 0
        ref = bsm.read_bitstream(built / "config.bin")
        assert (folder / "weights.bin").read_bytes() == (built / "weights.bin").read_bytes()
        assert [(d.key, d.in_base, d.out_base) for d in bs.layers] == [(d.key, d.in_base, d.out_base) for d in ref.layers]
        assert bs.ops and bs.ops == ref.ops         # ADD, pools, PAD: the device runs them too
        assert (bs.input_base, bs.input_bytes, bs.output_base, bs.output_bytes) == \
            (ref.input_base, ref.input_bytes, ref.output_base, ref.output_bytes)
        assert row["emulation"]["search_accuracy"] == row["search_accuracy"]
        assert row["emulation"]["test_accuracy"] == row["test_accuracy"]
    assert (out / "pareto.png").stat().st_size > 1000
    base = (out / "baselines.csv").read_text().splitlines()
    assert base[0].startswith("kind,multiplier,search_accuracy,test_accuracy")
    assert sum(1 for l in base if l.startswith("uniform,")) == 3
    # an interrupted/finished run resumes: a second call re-evaluates nothing
    n = len((out / "search" / "evaluations.jsonl").read_text().splitlines())
    assert main(argv) == 0
    assert len((out / "search" / "evaluations.jsonl").read_text().splitlines()) == n


def test_map_splits_layers_over_the_units(tmp_path, small_lib) -> None:
    """--split-layers with the throughput objective on the digits model, 2 units of 4 lanes:
    front points run layers as shares on both units; each point's two images are the device's
    (activation plan, the ops after a split layer's last share), its modelled latency is the
    device's RUN_CYCLES counted from them, and its emulation from config.bin is the search's."""
    from rtlgen.accel.config import load_config
    from rtlgen.accel.schedule import batch_cycles
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    images = save_images_npz(tmp_path / "digits.npz", "test")
    accel = tmp_path / "accel.toml"
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 2\nlanes = 4\nmultipliers = 2\n"
                     "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
    out = tmp_path / "run"
    assert main(["map", "--model", str(digits_model_path()), "--images", str(images), "--accel", str(accel),
                 "--lib", str(small_lib), "--out", str(out), "--search", "0:100", "--test", "100:200",
                 "--generations", "2", "--pop", "8", "--seed", "3", "--workers", "1", "--energy-vectors", "512",
                 "--no-layerwise", "--throughput", "--split-layers", "--quiet"]) == 0
    front = json.loads((out / "front.json").read_text())["front"]
    shares = 0
    for row in front:
        folder = (out / row["bitstream"]).parent
        bs = bsm.read_bitstream(out / row["bitstream"])
        shares += sum(d.is_share for d in bs.layers)
        assert bs.has_plan and row["device"].startswith("config.bin and weights.bin: the device runs them")
        for op in bs.ops:       # no op between a split layer's shares
            before = bs.layers[op.after_layers - 1] if op.after_layers else None
            after = bs.layers[op.after_layers] if op.after_layers < len(bs.layers) else None
            assert not (before and after and before.key == after.key), op.key
        device = batch_cycles((out / row["bitstream"]).read_bytes(), (folder / "weights.bin").read_bytes(),
                              load_config(folder / "accel.toml")).total
        assert row["device_cycles"] == device == row["latency_cycles"]
        assert row["emulation"]["search_accuracy"] == row["search_accuracy"]
    assert shares > 0
    assert json.loads((out / "summary.json").read_text())["split_layers"] is True


def test_map_rejects_overlapping_splits(tmp_path, small_lib, capsys) -> None:
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    images = save_images_npz(tmp_path / "digits.npz", "test")
    rc = main(["map", "--model", str(digits_model_path()), "--images", str(images), "--accel",
               str(Path(__file__).parents[2] / "flows" / "accel_default.toml"), "--lib", str(small_lib),
               "--out", str(tmp_path / "r"), "--search", "0:100", "--test", "50:150", "--quiet"])
    assert rc == 1
    assert "--search 0:100 and --test 50:150 overlap" in capsys.readouterr().err


def test_map_with_weight_tuning(tmp_path, small_lib) -> None:
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    images = save_images_npz(tmp_path / "digits.npz", "test")
    accel = tmp_path / "accel.toml"
    # an activation memory too small for the model (it needs 1,600 bytes): the points' config.bin
    # then has no plan, and each row says why
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 1\nlanes = 4\nmultipliers = 2\n"
                     "[memory]\nactivation_bytes = 1024\nweight_words = 1024\nchannels = 64\n")
    out = tmp_path / "run"
    assert main(["map", "--model", str(digits_model_path()), "--images", str(images), "--accel", str(accel),
                 "--lib", str(small_lib), "--out", str(out), "--search", "0:100", "--test", "100:200",
                 "--generations", "1", "--pop", "6", "--workers", "1", "--energy-vectors", "512", "--no-layerwise",
                 "--weight-tuning", "histogram", "--quiet"]) == 0
    front = json.loads((out / "front.json").read_text())["front"]
    remapped = 0
    for row in front:
        bs = bsm.read_bitstream(out / row["bitstream"])
        remapped += sum(len(d.weight_remap) for d in bs.layers)
        assert not bs.has_plan and "need 1600 bytes of activation memory" in row["device"], row["device"]
        assert "device_cycles" not in row           # the device would refuse it: no count
        assert "the accelerator has 1024" in row["device"] and (out / row["bitstream"]).with_name("weights.bin").is_file()
        # emulation from the bitstream (remaps) reproduced the search's tuned accuracy exactly
        assert row["emulation"]["search_accuracy"] == row["search_accuracy"]
    assert remapped > 0
    assert json.loads((out / "summary.json").read_text())["weight_tuning"] == "histogram"


def test_map_passes_the_pdk_to_the_energy_model(tmp_path, monkeypatch) -> None:
    """--pdk/--pdk-dir reach the MapJob (whose CatalogEnergy costs on that PDK)."""
    from rtlgen.mapper import job as job_module

    seen = []

    def stop(job):
        seen.append(job)
        raise job_module.ConfigError("stopped by the test")

    monkeypatch.setattr(job_module, "run_map_job", stop)
    args = ["map", "--model", "m.tflite", "--images", "x.npz", "--accel", "a.toml", "--lib", "lib",
            "--out", str(tmp_path / "run")]
    assert main(args + ["--pdk", "gf180mcu", "--pdk-dir", str(tmp_path)]) == 1
    assert main(args) == 1
    assert [(j.pdk, j.pdk_dirs) for j in seen] == [("gf180mcu", (str(tmp_path),)), ("sky130hd", ())]
    assert main(args + ["--prefix-cache-mb", "0"]) == 1
    assert [j.prefix_cache_mb for j in seen] == [None, None, 0]  # None: the mapper's default


def test_map_with_an_energy_model(tmp_path, small_lib, capsys) -> None:
    """``--energy-model``: every front row gets the accelerator's energy per inference; the
    selections in the CLI's lines too. A model calibrated for other lanes is one clear error."""
    from rtlgen.accel.energy import EnergyModel
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    images = save_images_npz(tmp_path / "digits.npz", "test")
    accel = tmp_path / "accel.toml"
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 2\nlanes = 4\nmultipliers = 2\n"
                     "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
    model = EnergyModel(mul_scale=0.7, logic_pj=100.0, clocked_pj=80.0, leakage_mw=0.001, memories_pj=0.0,
                        clock_ns=10.0, lanes=4, pdk="sky130hd", runs=1)
    model.to_json(tmp_path / "energy.json")
    argv = ["map", "--model", str(digits_model_path()), "--images", str(images), "--accel", str(accel),
            "--lib", str(small_lib), "--search", "0:100", "--test", "100:200", "--generations", "1", "--pop", "6",
            "--workers", "1", "--energy-vectors", "512", "--no-layerwise", "--quiet"]
    assert main(argv + ["--out", str(tmp_path / "run"), "--energy-model", str(tmp_path / "energy.json")]) == 0
    front = json.loads((tmp_path / "run" / "front.json").read_text())["front"]
    assert front and all(r["accel_energy_uj"] > 0 for r in front)
    assert "(accelerator energy per inference " in capsys.readouterr().out
    EnergyModel(**{**model.__dict__, "lanes": 16}).to_json(tmp_path / "e16.json")
    assert main(argv + ["--out", str(tmp_path / "r2"), "--energy-model", str(tmp_path / "e16.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rtlgen map: error: {tmp_path / 'e16.json'}: energy model calibrated for sky130hd at 16 "
                   f"lanes; expected sky130hd at the accelerator's 4"], err
    assert not (tmp_path / "r2").exists()       # refused before anything was written
