"""SRAM macros read from their liberty files, and memories tiled onto them."""
from __future__ import annotations

import gzip

import pytest

from rtlgen.cost.sram import MACROS, _DIR, macros, plan_memory, read_macro
from rtlgen.errors import LibertyError


def test_the_shipped_sky130_macros_read_as_their_files_say():
    by_name = {m.name: m for m in macros("sky130hd")}
    assert len(by_name) == len(MACROS["sky130hd"]) == 3
    m = by_name["sky130_sram_1kbyte_1rw1r_8x1024_8"]
    assert (m.words, m.bits) == (1024, 8)
    # the file's numbers: clk1 rise and fall 9.389093 pJ each; area; cell_leakage_power (mW)
    assert m.read_pj == pytest.approx(2 * 9.389093)
    assert m.write_pj == pytest.approx(2 * 9.389093)
    assert m.idle_pj == pytest.approx(4 * 9.389093)
    assert m.area_um2 == pytest.approx(203273.238)
    assert m.leakage_mw == pytest.approx(0.009517)
    wide = by_name["sky130_sram_2kbyte_1rw1r_32x512_8"]
    assert (wide.words, wide.bits) == (512, 32) and wide.read_pj == pytest.approx(2 * 13.8084)
    # each file ships with the license it came under
    assert "Apache License" in (_DIR / "LICENSE").read_text()
    assert macros("osu018") == ()


def test_a_memory_is_tiled_by_columns_rows_and_a_copy_per_read_port():
    # byte-wide: the 8-bit macro (cheapest read); 256 KiB = 256 macros per copy, 3 read ports
    act = plan_memory("activation", 8, 262144, 3, "sky130hd")
    assert act.macro.bits == 8 and (act.columns, act.rows, act.copies) == (1, 256, 3)
    assert act.count == 768
    assert act.read_pj == pytest.approx(act.macro.read_pj)
    assert act.write_pj == pytest.approx(3 * act.macro.write_pj)      # every copy takes the write
    assert act.area_mm2 == pytest.approx(768 * 203273.238e-6)
    # 160-bit words: five 32-bit macros side by side, 4096 words = 16 rows of 256
    wgt = plan_memory("weights", 160, 4096, 1, "sky130hd")
    assert wgt.macro.bits == 32 and wgt.macro.words == 256
    assert (wgt.columns, wgt.rows, wgt.copies) == (5, 16, 1)
    assert wgt.read_pj == pytest.approx(5 * wgt.macro.read_pj)
    # 70-bit parameter words: three 32-bit columns
    assert plan_memory("x", 70, 256, 1, "sky130hd").columns == 3
    assert plan_memory("x", 8, 100, 1, "osu018") is None
    with pytest.raises(ValueError, match="memory x: width 0"):
        plan_memory("x", 0, 16, 1, "sky130hd")


def test_a_macro_file_without_per_state_clock_power_is_one_clear_error(tmp_path):
    text = gzip.decompress((_DIR / MACROS["sky130hd"][0]).read_bytes()).decode()
    bad = tmp_path / "bad.lib"
    bad.write_text(text.replace('when : "!csb1"', 'when : "!csb1 & x"'))
    with pytest.raises(LibertyError, match=r"bad\.lib: SRAM macro .* clock pin clk1 has no internal_power when '!csb1'"):
        read_macro(bad)
