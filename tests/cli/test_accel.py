"""``rtlgen accel memories``: a configuration's memories as SRAM macros and a network's memory
energy per inference (``rtlgen accel power`` runs gate level: tests/accel/test_power.py)."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.memories import InferenceMemories, device_memories
from rtlgen.accel.schedule import batch_cycles
from rtlgen.cli import main
from rtlgen.library.catalog import Catalog
from rtlgen.netlist.table import exact_table
from rtlgen.zoo import digits_model_path

CONFIG = AccelConfig(units=2, lanes=4, multipliers=1, name="t", unit_multipliers=(("mul8u_exact",),) * 2,
                     activation_bytes=8192, weight_words=512, channels=64)


def test_memories_of_a_configuration_and_a_network(tmp_path, capsys):
    toml = tmp_path / "accel.toml"
    toml.write_text(CONFIG.to_toml())
    assert main(["accel", "memories", "--config", str(toml)]) == 0
    out = capsys.readouterr().out
    dev = device_memories(CONFIG, "sky130hd")
    assert f"t on sky130hd SRAM macros: {dev.macros:,} macros, {dev.area_mm2:.2f} mm^2" in out
    # a weight word: 4 lanes x (8 weight bits + the select bits), on 32-bit macros
    assert f"weights: 2 x {CONFIG.weight_word_bits} b x 512 on sky130_sram_1kbyte_1rw1r_32x256_8" in out
    # a network: the digits model's images, its steady state over 4 inputs, at 20 ns
    lib = tmp_path / "lib"
    cat = Catalog(lib)
    cat.add(exact_table(False), False, "mul8u_exact")
    cat.save()
    imgs = tmp_path / "imgs"
    assert main(["bitstream", "build", "--model", str(digits_model_path()), "--accel", str(toml), "--lib", str(lib),
                 "--out", str(imgs)]) == 0
    capsys.readouterr()
    assert main(["accel", "memories", "--config", str(toml), "--images", str(imgs), "--batch", "4",
                 "--clock-ns", "20"]) == 0
    out = capsys.readouterr().out
    cfg, wts = (imgs / "config.bin").read_bytes(), (imgs / "weights.bin").read_bytes()
    mem = InferenceMemories.from_config_bin(dev, cfg, CONFIG.lanes, CONFIG.units)
    from rtlgen.bitstream import format as bsmod

    slots = min(16, CONFIG.activation_bytes // bsmod.decode(cfg).activation_span)
    cycles = batch_cycles(cfg, wts, CONFIG, batch=4, slots=slots).interval
    assert f"{cycles:,.0f} cycles per inference" in out
    assert f"memory energy per inference at 20 ns: {mem.energy(cycles, 20.0) / 1e6:.3f} uJ" in out
    assert mem.traffic.reads["weights"] > 0 and np.isfinite(mem.energy(cycles, 20.0))


def test_bad_inputs_are_one_line(tmp_path, capsys):
    toml = tmp_path / "accel.toml"
    toml.write_text(CONFIG.to_toml())
    assert main(["accel", "memories", "--config", str(toml), "--pdk", "osu018"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rtlgen has no SRAM macros for osu018; it has them for sky130hd" in err
    assert main(["accel", "memories", "--config", str(toml), "--images", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none/config.bin: no config.bin in" in err
    # images the device stops on (a config.bin without an activation-memory plan)
    from bitstream_cases import small_bitstream, small_weights

    imgs = tmp_path / "noplan"
    imgs.mkdir()
    (imgs / "config.bin").write_bytes(small_bitstream())
    (imgs / "weights.bin").write_bytes(small_weights())
    assert main(["accel", "memories", "--config", str(toml), "--images", str(imgs)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "noplan/config.bin: the device stops on these images (NO_ACTIVATION_PLAN" in err
    with pytest.raises(SystemExit) as exc:
        main(["accel", "memories", "--config", str(toml), "--batch", "0"])
    assert exc.value.code == 2
