"""The register map as data (rtlgen/accel/regmap.py) and the documents generated from it."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rtlgen.accel import regmap
from rtlgen.accel.regmap import REGISTERS, ErrorCode, c_header, error_meaning, markdown_table, register


def test_offsets_distinct_aligned_and_fields_inside() -> None:
    offsets = [r.offset for r in REGISTERS]
    assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 for o in offsets)
    for r in REGISTERS:
        assert r.access in ("ro", "rw", "wo") and r.meaning
        used = 0
        for f in r.fields:
            assert f.lsb + f.width <= r.width and not used & f.mask, (r.name, f.name)
            used |= f.mask
    # every error code has a meaning; the names the issue asks for exist
    assert set(regmap.ERROR_MEANINGS) == set(ErrorCode)
    for name in ("ID", "VERSION", "CTRL", "STATUS", "ERROR_CODE", "ERROR_OFFSET", "CONFIG_HASH_LO",
                 "BYTES_RECEIVED", "LOAD_CYCLES", "LANES", "WEIGHTS_LENGTH", "WEIGHTS_CAPACITY", "WEIGHTS_DATA"):
        register(name)
    register("STATUS").field("WEIGHTS_VALID")
    for name in ("LANES_MISMATCH", "NO_CONFIG", "MODEL_HASH_MISMATCH"):
        assert regmap.ERROR_MEANINGS[ErrorCode[name]][1] in ("12", "16")


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"^no register 'NOPE'; registers: ID, VERSION, CTRL, "):
        register("NOPE")
    with pytest.raises(ValueError, match=r"^register STATUS has no field 'GO'; it has BUSY, DONE, "):
        register("STATUS").field("GO")
    assert error_meaning(200).startswith("unknown error code 200 (this rtlgen knows 0, 1, ")
    assert error_meaning(7).startswith("CRC-32 mismatch")


def test_markdown_lists_every_register_field_and_code() -> None:
    md = markdown_table()
    for r in REGISTERS:
        assert re.search(rf"^\| 0x{r.offset:02X} \| {r.name} \| {r.access} \|", md, re.M), r.name
        for f in r.fields:
            assert f"| {r.name}.{f.name} [" in md
    for c in ErrorCode:
        assert re.search(rf"^\| {int(c)} \| {c.name} \|", md, re.M)


def test_c_header_compiles_and_agrees(tmp_path) -> None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler is needed to check the generated header"
    (tmp_path / "regs.h").write_text(c_header("0123456789abcdef"))
    prints = [f'printf("{r.name} %u\\n", (unsigned)RTLGEN_REG_{r.name});' for r in REGISTERS]
    prints += [f'printf("ERR_{c.name} %u\\n", (unsigned)RTLGEN_ERR_{c.name});' for c in ErrorCode]
    prints += ['printf("START %u\\n", (unsigned)RTLGEN_CTRL_START);',
               'printf("HASH %s\\n", RTLGEN_CONFIG_HASH);', 'printf("DEVICE_ID %u\\n", (unsigned)RTLGEN_DEVICE_ID);']
    (tmp_path / "main.c").write_text('#include <stdio.h>\n#include "regs.h"\n#include "regs.h"\n'
                                     "int main(void) {\n" + "\n".join(prints) + "\nreturn 0;\n}\n")
    subprocess.run([gcc, "-Wall", "-Werror", "-std=c99", "-o", str(tmp_path / "a.out"), "main.c"],
                   cwd=tmp_path, check=True, capture_output=True)
    out = dict(line.split(" ", 1) for line in
               subprocess.run([str(tmp_path / "a.out")], capture_output=True, text=True, check=True).stdout.splitlines())
    for r in REGISTERS:
        assert int(out[r.name]) == r.offset
    for c in ErrorCode:
        assert int(out[f"ERR_{c.name}"]) == int(c)
    assert int(out["START"]) == register("CTRL").field("START").mask
    assert out["HASH"] == "0123456789abcdef" and int(out["DEVICE_ID"]) == regmap.DEVICE_ID


@pytest.fixture(scope="module")
def small_generated(tmp_path_factory, evoapprox_dir):
    """``rtlgen gen accel`` on a small configuration (CLI, as a user runs it)."""
    from accel_library import build_library
    from rtlgen.accel.config import AccelConfig
    from rtlgen.cli import main

    tmp = tmp_path_factory.mktemp("gen")
    lib = build_library(evoapprox_dir, tmp / "lib")
    cfg = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=64, weight_words=16, channels=4,
                      unit_multipliers=(("mul8u_1JJQ", "mul8u_DG8"),))
    (tmp / "small.toml").write_text(cfg.to_toml())
    assert main(["gen", "accel", "--config", str(tmp / "small.toml"), "--lib", str(lib.root),
                 "--out", str(tmp / "out")]) == 0
    return tmp / "out", cfg.resolved(lib)


def test_gen_accel_writes_the_register_documents(small_generated, capsys) -> None:
    import json

    from rtlgen.accel.loader import config_capacity

    out, resolved = small_generated
    assert (out / "regs.md").read_text() == markdown_table()
    assert (out / "rtlgen_accel_regs.h").read_text() == c_header(resolved.config_hash())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["device"] == {"top": "rtlgen_accel_device", "file": "device/rtlgen_accel_device.v",
                                  "config_capacity": config_capacity(resolved),
                                  "weights_capacity": resolved.weights_store_bytes, "in_top": False}
    device = (out / manifest["device"]["file"]).read_text()
    for port in ("s_axil_awaddr", "s_axil_rresp", "s_axis_tdata", "s_axis_tready", "s_axis_tlast"):
        assert re.search(rf"^\s*(input|output) (\[\d+:0\] )?{port};$", device, re.M), port
