"""The PDK registry: units, excluded cells, one cell's energy by hand, and costs on every PDK.

Each PDK's liberty files are parsed once (tens of seconds for the large ones) and then kept in
``$RTLGEN_CACHE/liberty``; the hand computations below read the raw liberty text with regular
expressions, independently of :mod:`rtlgen.netlist.liberty`.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from rtlgen.cli import main
from rtlgen.cost.activity import ActivitySpec
from rtlgen.cost.multiplier import hardware_cost
from rtlgen.cost.pdk import DEFAULT_PDK, PDKS, get_pdk, pdk_names
from rtlgen.cost.power import arc_energy
from rtlgen.errors import LibertyError
from rtlgen.paths import shared_data_dir

FAST = ActivitySpec.make(n_vectors=2048, seed=1)
SHARED_LIBERTY = str(shared_data_dir() / "liberty")

# Units as the files' headers declare them, converted by hand: ns, pF, mW and V per library
# unit, and pJ per unit of an internal-power table (capacitance unit x voltage unit^2).
UNITS = {
    "osu018": dict(time=1.0, cap=1.0, leak=1e-6, volt=1.8, energy=1.0),      # ns, pF, nW; 1.8 V
    "sky130hd": dict(time=1.0, cap=1.0, leak=1e-6, volt=1.8, energy=1.0),    # ns, pF, nW; 1.8 V
    "gf180mcu": dict(time=1.0, cap=1.0, leak=1e-3, volt=5.0, energy=1.0),    # ns, pF, uW; 5 V
    "asap7": dict(time=1e-3, cap=1e-3, leak=1e-9, volt=0.7, energy=1e-3),    # ps, fF, pW; fJ
}


def _library(name: str):
    return get_pdk(name).with_search([SHARED_LIBERTY]).library()


def test_registry_names_and_default():
    assert pdk_names() == ["asap7", "gf180mcu", "osu018", "sky130hd"] and DEFAULT_PDK == "sky130hd"
    assert get_pdk() is PDKS["sky130hd"]
    with pytest.raises(ValueError, match=r"^unknown PDK 'tsmc7'; expected one of asap7, gf180mcu, osu018, sky130hd$"):
        get_pdk("tsmc7")


def test_sky130_ships_with_its_license():
    pdk = PDKS["sky130hd"]
    (path,) = pdk.locate()
    assert path.name.endswith(".lib.gz") and "rtlgen/data/pdk" in path.as_posix()
    license_text = (path.parent / "LICENSE.sky130").read_text()
    assert "Apache License" in license_text and "Version 2.0" in license_text
    assert "Apache-2.0" in pdk.license


def test_user_pdk_not_found_names_the_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("RTLGEN_SHARED_DATA", str(tmp_path))
    monkeypatch.delenv("RTLGEN_PDK_PATH", raising=False)
    with pytest.raises(LibertyError, match=r"^liberty file gf180mcu_fd_sc_mcu7t5v0__tt_025C_5v00\.lib\(\.gz\) of PDK "
                                           r"gf180mcu not found; looked in .*nowhere, .*liberty; give its folder "
                                           r"with --pdk-dir or \$RTLGEN_PDK_PATH \(rtlgen never downloads it\)$"):
        PDKS["gf180mcu"].with_search([tmp_path / "nowhere"]).locate()


@pytest.mark.parametrize("name", sorted(UNITS))
def test_units_are_read_from_each_file(name):
    lib, u = _library(name), UNITS[name]
    assert lib.time_unit_ns == pytest.approx(u["time"])
    assert lib.cap_unit_pf == pytest.approx(u["cap"])
    assert lib.leakage_unit_mw == pytest.approx(u["leak"])
    assert lib.voltage == pytest.approx(u["volt"])
    assert lib.energy_unit_pj == pytest.approx(u["energy"])
    # every cell leaks: cell_leakage_power, or leakage_power groups (gf180mcu, ASAP7)
    assert all(c.leakage > 0 for c in lib.cells.values() if c.combinational)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_timing_environment_is_the_pdks_own(name):
    pdk, lib = PDKS[name], _library(name)
    drive = lib.cell(pdk.driving_cell)
    assert drive.combinational and len(drive.inputs) == len(drive.outputs) == 1
    flop, pin = pdk.load_pin
    d_pin_pf = lib.cell(flop).pins[pin].capacitance * lib.cap_unit_pf
    assert lib.cell(flop).ff is not None
    assert pdk.output_load_pf == pytest.approx(d_pin_pf, rel=0.15)
    config = pdk.sta_config(clock_ns=4.0)
    assert (config.driving_cell, config.output_load_pf, config.clock_ns) == (pdk.driving_cell, pdk.output_load_pf, 4.0)


def _raw_sources(name: str) -> str:
    return "".join(gzip.decompress(p.read_bytes()).decode() if p.suffix == ".gz" else p.read_text()
                   for p in get_pdk(name).with_search([SHARED_LIBERTY]).locate())


def _cell_names(text: str) -> list[str]:
    return re.findall(r'^\s*cell\s*\(\s*"?([^")\s]+)"?\s*\)', text, re.M)


@pytest.mark.parametrize("name", ["sky130hd", "gf180mcu", "asap7"])
def test_dont_use_cells_are_removed_and_each_entry_matters(name):
    pdk = PDKS[name]
    raw = _cell_names(_raw_sources(name))
    lib = _library(name)
    kept = set(lib.cells)
    for pattern, why in pdk.dont_use:
        hits = [c for c in raw if pdk.excluded(c) == why and re.fullmatch(pattern.replace("*", ".*"), c)]
        assert hits, f"{pattern} matches no cell of {name}: a dead entry"
        assert not kept & set(hits)
    assert kept == {c for c in raw if pdk.excluded(c) is None}
    assert pdk.driving_cell in kept and pdk.load_pin[0] in kept


def test_sky130_excludes_scan_flops_clock_gates_and_physical_cells():
    pdk = PDKS["sky130hd"]
    for cell in ("sdfxtp_1", "sedfxtp_1", "dlclkp_1", "decap_3", "diode_2", "lpflow_bleeder_1",
                 "probe_p_8", "clkbuf_1", "dlygate4sd1_1", "ebufn_1"):
        assert pdk.excluded("sky130_fd_sc_hd__" + cell), cell
    for cell in ("dfxtp_1", "fa_1", "ha_1", "nand2_1", "xor2_1", "inv_1", "conb_1"):
        assert pdk.excluded("sky130_fd_sc_hd__" + cell) is None, cell


def _raw_power_table(text: str, cell: str, kind: str) -> tuple[list[float], list[float], list[float], str]:
    """(index_1, index_2, values, variable_1) of the first ``kind`` table of ``cell``, from text."""
    start = re.search(rf'^\s*cell\s*\(\s*"?{re.escape(cell)}"?\s*\)', text, re.M).end()
    nxt = re.compile(r'^\s*cell\s*\(', re.M).search(text, start)
    block = text[start:nxt.start() if nxt else len(text)]
    m = re.search(rf'\b{kind}\s*\(\s*"?(\w+)"?\s*\)\s*\{{(.*?)\}}', block, re.S)
    template, body = m.group(1), m.group(2)

    def numbers(key: str) -> list[float]:
        part = re.search(rf'{key}\s*\((.*?)\)\s*;', body, re.S).group(1)
        return [float(x) for x in re.findall(r'[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?', part)]

    tm = re.search(rf'power_lut_template\s*\(\s*"?{template}"?\s*\)\s*\{{(.*?)\}}', text, re.S)
    var1 = re.search(r'variable_1\s*:\s*"?(\w+)', tm.group(1)).group(1)
    return numbers("index_1"), numbers("index_2"), numbers("values"), var1


@pytest.mark.parametrize("name", sorted(UNITS))
def test_one_cell_energy_by_hand(name):
    """The driving inverter's output-rise energy (caused by its input falling) at the middle of
    the second cell of its table: the mean of four table entries, times the energy unit."""
    pdk, lib = PDKS[name], _library(name)
    cell = lib.cell(pdk.driving_cell)
    (in_pin,), (out_pin,) = cell.inputs, cell.outputs
    idx1, idx2, values, var1 = _raw_power_table(_raw_sources(name), pdk.driving_cell, "rise_power")
    n2 = len(idx2)
    corners = [values[i * n2 + j] for i in (1, 2) for j in (1, 2)]
    by_hand_pj = sum(corners) / 4 * UNITS[name]["energy"]
    mid1, mid2 = (idx1[1] + idx1[2]) / 2, (idx2[1] + idx2[2]) / 2
    slew, load = (mid1, mid2) if var1 == "input_transition_time" else (mid2, mid1)
    slew_ns = slew * UNITS[name]["time"]
    rise, fall = arc_energy(lib, cell.name, in_pin, out_pin, (0.0, 1.0, 0.0, 0.0), load, (9.9, slew_ns))
    assert fall == 0.0
    assert rise * lib.energy_unit_pj == pytest.approx(by_hand_pj, rel=1e-9)
    assert by_hand_pj > 0


def _find(evoapprox_dir: Path, name: str) -> Path:
    return next(evoapprox_dir.rglob(f"{name}.v"))


@pytest.mark.parametrize("name", sorted(UNITS))
def test_a_multiplier_costs_on_every_pdk(name, evoapprox_dir):
    pdk = get_pdk(name).with_search([SHARED_LIBERTY])
    lib = pdk.library()
    f = hardware_cost(_find(evoapprox_dir, "mul8u_DG8"), pdk=pdk, activity=FAST)
    assert f.liberty_hash == lib.hash and f.environment == pdk.sta_config().key
    assert all(c in lib.cells and pdk.excluded(c) is None for c in f.cell_counts)
    assert f.area_um2 == pytest.approx(sum(lib.cell(c).area * n for c, n in f.cell_counts.items()))
    assert f.cells > 50 and f.delay_ns > 0 and f.internal_mw > 0 and f.switching_mw > 0 and f.leakage_mw > 0


def test_cli_pdk_choice(evoapprox_dir, capsys):
    netlist = str(_find(evoapprox_dir, "mul8u_17MN"))
    assert main(["cost", netlist, "--vectors", "1024", "--pdk", "asap7", "--pdk-dir", SHARED_LIBERTY]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("# pdk asap7, clock 10 ns")
    row = out.splitlines()[1].split()
    assert row[0] == "mul8u_17MN" and 0 < float(row[2]) < 5.0  # a few ASAP7 cells: well under 5 um^2
    with pytest.raises(SystemExit) as exit_:  # argparse's usage error
        main(["cost", netlist, "--pdk", "tsmc7"])
    assert exit_.value.code == 2
    assert "invalid choice: 'tsmc7'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["cost", netlist, "--pdk", "osu018", "--liberty", "x.lib"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --liberty: not allowed with argument --pdk" in err[0]


ROOT = Path(__file__).resolve().parents[2]
_FLOW = """
[flow]
version = 1
name = "t"
[model]
zoo = "digits"
[accelerator]
config = "{accel}"
"""


def test_flows_choose_the_pdk(tmp_path):
    from rtlgen.errors import ConfigError
    from rtlgen.flow import load_flow

    base = _FLOW.format(accel=ROOT / "flows" / "accel_digits.toml")
    assert load_flow(ROOT / "flows" / "digits_default.toml").pdk == "sky130hd"
    assert load_flow(ROOT / "flows" / "resnet8_cifar10.toml").pdk == "sky130hd"
    (tmp_path / "f.toml").write_text(base)
    assert load_flow(tmp_path / "f.toml").pdk == DEFAULT_PDK  # no [cost]: the default
    (tmp_path / "libs").mkdir()
    (tmp_path / "f.toml").write_text(base + '[cost]\npdk = "asap7"\npdk_dirs = ["libs"]\n')
    cfg = load_flow(tmp_path / "f.toml")
    assert cfg.pdk == "asap7" and cfg.pdk_dirs == (tmp_path / "libs",)
    for extra, message in (('[cost]\npdk = "tsmc7"\n', r"cost\.pdk: 'tsmc7' is not one of asap7, gf180mcu, osu018, sky130hd$"),
                           ('[cost]\npdk_dirs = ["nowhere"]\n', r"cost\.pdk_dirs\[0\]: folder .*nowhere not found$"),
                           ('[cost]\nliberty = "x.lib"\n', r"unknown key cost\.liberty; valid keys of \[cost\]: pdk, pdk_dirs$")):
        (tmp_path / "f.toml").write_text(base + extra)
        with pytest.raises(ConfigError, match=message):
            load_flow(tmp_path / "f.toml")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(UNITS))
def test_a_small_accelerator_synthesizes_and_times_on_every_pdk(name, tmp_path, evoapprox_dir):
    from rtlgen.accel.config import AccelConfig
    from rtlgen.accel.generate import generate_accelerator
    from rtlgen.accel.synth import FMAX_CLOCK_TARGET_NS, accelerator_timing, map_accelerator

    from accel_library import build_library

    catalog = build_library(evoapprox_dir, tmp_path / "lib", names=("mul8u_1JJQ", "mul8u_17MJ"))
    small = AccelConfig(units=1, lanes=2, multipliers=2, activation_bytes=64, weight_words=16, channels=4,
                        unit_multipliers=(("mul8u_1JJQ", "mul8u_17MJ"),))
    design = generate_accelerator(small, catalog, tmp_path / "rtl")
    pdk = get_pdk(name).with_search([SHARED_LIBERTY])
    lib = pdk.library()
    mapped = map_accelerator(design, pdk=pdk, clock_target_ns=FMAX_CLOCK_TARGET_NS)
    timing = accelerator_timing(design, pdk=pdk, mapped=mapped)
    assert timing.cells > 500 and timing.area_um2 > 0
    assert 0 < timing.delay_ns < 100 and timing.fmax_mhz == pytest.approx(1e3 / timing.delay_ns)
    # the worst path ends at a flip-flop's data pin, not at a clock-gating cell (the multipliers'
    # operand registers are clock-gated: OpenSTA's gating checks are not delay paths)
    cell, pin = timing.critical_path[-1].split("/")
    ff = lib.cell(mapped.module["cells"][cell]["type"]).ff
    assert ff is not None and pin != ff.clocked_on, timing.critical_path


@pytest.mark.parametrize("name", sorted(UNITS))
def test_opensta_speaks_ns_and_pf_on_every_pdk(name, evoapprox_dir):
    """The input pins that ports drive see the input transition we set, in ns, whatever the
    library's time unit (ASAP7: ps); the clock period is ns too (OpenSTA's power scales with it)."""
    from rtlgen.cost.sta import StaConfig, run_sta
    from rtlgen.cost.synth import synthesize

    pdk = get_pdk(name).with_search([SHARED_LIBERTY])
    mapped = synthesize(_find(evoapprox_dir, "mul8u_17MN"), liberty=pdk.liberty())
    inputs = {b for n, (d, bits) in mapped.ports.items() if d == "input" for b in bits}
    lib = mapped.library
    port_pins = {f"{c}/{p}" for c, cell in mapped.module["cells"].items() for p, bits in cell["connections"].items()
                 if p in lib.cell(cell["type"]).inputs and bits[0] in inputs}
    assert port_pins
    config = StaConfig(driving_cell="(ideal)", input_transition_ns=0.05, clock_ns=10.0)
    report = run_sta(mapped, config)
    for pin in port_pins:
        assert report.slews_ns[pin] == pytest.approx((0.05, 0.05), abs=1e-6), pin
    slow = run_sta(mapped, StaConfig(driving_cell="(ideal)", input_transition_ns=0.05, clock_ns=20.0))
    assert slow.sta_power_mw["switching"] == pytest.approx(report.sta_power_mw["switching"] / 2, rel=1e-3)
    assert 0.02 < report.delay_ns < 5.0  # a few gates: tens of ps (ASAP7) to about a ns


def test_mapper_energy_model_costs_on_its_pdk(tmp_path, evoapprox_dir):
    import numpy as np

    from rtlgen.library.catalog import Catalog
    from rtlgen.mapper.job import CatalogEnergy
    from rtlgen.mapper.space import Candidate
    from rtlgen.netlist.multiplier import netlist_table

    path = _find(evoapprox_dir, "mul8u_17MN")
    cat = Catalog(tmp_path / "lib")
    entry = cat.add(netlist_table(path), False, "mul8u_17MN", netlist=path)
    cand = Candidate("mul8u_17MN", entry.hash, False, np.asarray(cat.table(entry.hash)))
    h = np.ones(256)
    energies = {}
    for pdk in ("osu018", "sky130hd"):
        model = CatalogEnergy(cat, n_vectors=1024, pdk=pdk)
        energies[pdk] = model(cand, h, h)
        spec = model._spec(h, h)
        assert energies[pdk] == hardware_cost(path, pdk=pdk, activity=spec).energy_pj
    assert energies["osu018"] > energies["sky130hd"] > 0  # 0.18 um costs more than 130 nm
    assert CatalogEnergy(cat, n_vectors=1024)(cand, h, h) == energies["sky130hd"]  # the default
