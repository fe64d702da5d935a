"""Power per configuration: a ResNet-8 layer crop through the mapped accelerator's gates.

Two small accelerators (one unit x 4 lanes; memories sized for a 2x2 crop of conv layer 0):
a bank of four unsigned multipliers (exact mul8u_1JJQ, approximate DG8, 2NDH, 17MJ) and the
exact multiplier alone. The same crop runs with every lane selecting the exact multiplier, then
DG8, then 2NDH; each run's output must equal the emulation byte for byte (the gate-level netlist
computes what the RTL does) before its power counts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.gatesim import read_cycles
from rtlgen.accel.generate import generate_accelerator
from rtlgen.accel.energy import CalibrationRun, EnergyModel, calibrate, errors, non_memory_energy_pj
from rtlgen.accel.power import accelerator_power, max_table_slew_ns
from rtlgen.cost.activity import ActivitySpec
from rtlgen.cost.multiplier import catalog_costs, hardware_cost
from rtlgen.cost.pdk import get_pdk
from rtlgen.errors import ToolError
from rtlgen.netlist.liberty import default_library

from accel_cases import first_mismatch, layer_operand_hists, make_case
from accel_library import build_library

CROP = (10, 10, 2)       # 2x2 input pixels x 3 channels -> 2x2 x 16 output channels
BANK = ("mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_17MJ")


def _config(bank: tuple[str, ...]) -> AccelConfig:
    return AccelConfig(units=1, lanes=4, multipliers=len(bank), activation_bytes=80,
                       weight_words=108, channels=16, unit_multipliers=(bank,), name="power")


@pytest.fixture(scope="module")
def powered(tmp_path_factory, shared_data: Path, evoapprox_dir: Path):
    tmp = tmp_path_factory.mktemp("accel_power")
    catalog = build_library(evoapprox_dir, tmp / "lib", names=BANK)
    out = {}
    for key, bank, slots, gated in (("bank", BANK, (0, 1, 2), True), ("alone", BANK[:1], (0,), True),
                                    ("ungated", BANK, (0,), False)):
        config = _config(bank)
        design = generate_accelerator(config, catalog, tmp / key / "rtl", clock_gating=gated)
        cases = [make_case(f"{key}-slot{s}", shared_data, config, catalog, layer=0, unit=0,
                           bank_slots=[s], encoding="signmag", granularity="layer", crop=CROP)
                 for s in slots]
        power = accelerator_power(design, config, [(c.name, c.job) for c in cases], tmp / key / "work")
        out[key] = (cases, power)
    out["dir"] = tmp
    out["catalog"] = catalog
    return out


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_gate_level_outputs_match_emulation(powered):
    for cases, power in (powered["bank"], powered["alone"], powered["ungated"]):
        for case, result in zip(cases, power.results):
            message = first_mismatch(case, result.output)
            assert message is None, message


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_unselected_multipliers_do_not_toggle(powered):
    _, power = powered["bank"]
    for s, run in enumerate(power.runs):
        slots = run.slots()
        selected = slots[f"u0.s{s} {BANK[s]}"]
        assert selected.dynamic_mw > 0.1, (run.name, selected)
        for name, slot in slots.items():
            if name != f"u0.s{s} {BANK[s]}":
                assert slot.dynamic_mw < 1e-3 * selected.dynamic_mw, (run.name, name, slot)
                assert slot.leakage_mw > 0


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_approximate_selection_saves_multiplier_energy(powered):
    """Same layer, same operands: the lanes' multiplier energy falls with an approximate
    multiplier. (The total need not: the approximate products toggle the accumulators and the
    product multiplexer differently; with DG8 the rest of the datapath takes a few % more.)"""
    _, power = powered["bank"]
    energy = [run.slots()[f"u0.s{s} {BANK[s]}"].dynamic_mw for s, run in enumerate(power.runs)]
    assert energy[1] < 0.9 * energy[0] and energy[2] < 0.9 * energy[0], energy
    rest = [run.total_mw - sum(v.total_mw for v in run.slots().values()) for run in power.runs]
    # The rest of the datapath sees the same operands; only the products differ.
    assert max(rest) - min(rest) < 0.05 * max(rest), rest


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_bank_of_four_against_exact_alone(powered):
    """With the exact multiplier selected, the three extra multipliers add their leakage and
    nothing of their own dynamic power; the exact one's power is the same in both designs. Their
    operand registers get no clock: what the registers' power rises by is their clock-gating
    enables' flip-flops (one per multiplier), less than the held registers cost when clocked."""
    _, bank = powered["bank"]
    _, alone = powered["alone"]
    b, a = bank.runs[0], alone.runs[0]
    assert b.cycles == a.cycles
    exact_b, exact_a = b.slots()[f"u0.s0 {BANK[0]}"], a.slots()[f"u0.s0 {BANK[0]}"]
    assert exact_b.dynamic_mw == pytest.approx(exact_a.dynamic_mw, rel=0.05)
    extra = [v for k, v in b.slots().items() if not k.startswith("u0.s0 ")]
    assert len(extra) == 3
    assert sum(v.dynamic_mw for v in extra) < 1e-3 * exact_b.dynamic_mw
    assert sum(v.leakage_mw for v in extra) > 0
    assert b.leakage_mw > a.leakage_mw
    held = powered["ungated"][1].runs[0].breakdown["registers"].dynamic_mw - a.breakdown["registers"].dynamic_mw
    assert 0 < b.breakdown["registers"].dynamic_mw - a.breakdown["registers"].dynamic_mw < 0.5 * held


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_clock_gating_changes_no_output_and_saves_register_power(powered):
    """The same design and layer with and without clock gating (``--no-clock-gating``): the same
    outputs and cycles, the same multiplier power, less register and total power gated."""
    (case, *_), gated = powered["bank"]
    _, plain = powered["ungated"]
    g, p = gated.runs[0], plain.runs[0]
    assert gated.results[0].output.tobytes() == plain.results[0].output.tobytes()
    assert g.cycles == p.cycles
    mult = f"u0.s0 {BANK[0]}"
    assert g.slots()[mult].dynamic_mw == pytest.approx(p.slots()[mult].dynamic_mw, rel=0.02)
    assert g.breakdown["registers"].dynamic_mw < 0.95 * p.breakdown["registers"].dynamic_mw, (g, p)
    assert g.total_mw < p.total_mw


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_multiplier_energy_near_the_cost_flow(powered, evoapprox_dir: Path):
    """Energy per multiplication of the exact slot in the accelerator, against the cost flow's
    figure for the same netlist on uniform random operands: the same model, other operands
    (a real layer's are far from uniform) and loads, so only the order of magnitude must agree."""
    _, power = powered["bank"]
    run = power.runs[0]
    mults_per_cycle = run.macs / run.cycles       # about one per lane: every lane is busy
    assert 3.5 < mults_per_cycle <= 4
    per_mult = run.slots()[f"u0.s0 {BANK[0]}"].dynamic_mw * run.clock_ns / mults_per_cycle
    netlist = next(evoapprox_dir.rglob(f"{BANK[0]}.v"))
    uniform = hardware_cost(netlist).energy_pj
    assert 0.1 * uniform < per_mult < 2 * uniform, (per_mult, uniform)


def _calibration_runs(powered, shared_data: Path) -> list[CalibrationRun]:
    """The bank design's runs (exact, DG8, 2NDH on every lane) with the cost flow's energy of
    their multiplications on layer 0's operand histograms, as the mapper computes it."""
    _, power = powered["bank"]
    a, b = layer_operand_hists(shared_data, 0, "signmag")
    spec = ActivitySpec.make(a, b, n_vectors=4096, seed=0)
    catalog = powered["catalog"]
    figs = catalog_costs(catalog, list(BANK[:3]), activity=spec)
    return [CalibrationRun(run, run.macs * figs[catalog.get(BANK[s]).hash].energy_pj)
            for s, run in enumerate(power.runs)]


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_energy_model_predicts_a_run_it_was_not_fitted_on(powered, shared_data: Path, tmp_path):
    """Fitted on the exact and DG8 runs, the per-component model predicts the 2NDH run's energy
    (memories excluded) within 3%, and its multipliers' share within 25%: the multiplier term
    follows the cost flow's energy on the layer's operand histograms."""
    runs = _calibration_runs(powered, shared_data)
    model = calibrate(runs[:2], pdk="sky130hd", lanes=4)
    assert model.runs == 2 and model.logic_pj > 0 and model.clocked_pj > 0 and model.leakage_mw > 0
    assert 0.2 < model.mul_scale < 5, model
    (err,) = errors(model, runs[2:])
    assert abs(err) < 0.03, (err, model)
    held = runs[2].power
    measured = sum(c.dynamic_mw for k, c in held.slots().items()) * held.cycles * held.clock_ns
    predicted = model.mul_scale * runs[2].mul_pj
    assert predicted == pytest.approx(measured, rel=0.25), (predicted, measured)
    # a busy unit: the inference form with active cycles == cycles is the run's energy
    e = model.inference(mul_pj=runs[2].mul_pj, active_cycles=held.cycles, cycles=held.cycles, units=1)
    assert e.total_pj == pytest.approx(model.run_energy_pj(held.cycles, runs[2].mul_pj))
    assert e.total_pj == pytest.approx(non_memory_energy_pj(held), rel=0.03)
    # a second, idle unit adds its clocked flip-flops and leakage, not logic or multipliers
    two = model.inference(mul_pj=runs[2].mul_pj, active_cycles=held.cycles, cycles=held.cycles, units=2)
    assert two.total_pj - e.total_pj == pytest.approx(e.clocked_pj + e.leakage_pj)
    model.to_json(tmp_path / "m.json")
    assert EnergyModel.from_json(tmp_path / "m.json") == model


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_slews_clamped_to_the_tables(powered):
    _, power = powered["bank"]
    assert power.max_slew_ns == pytest.approx(max_table_slew_ns(get_pdk().library()))  # the default PDK's
    assert 0 < power.clamped_pins < power.cells * 3


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.data
def test_cli_power_of_a_bitstream(powered, shared_data: Path, tmp_path, capsys):
    """``rtlgen accel power`` on a bitstream that splits layer 0's filters between the exact
    multiplier and DG8 and the layer itself into two shares of 8 channels (config.bin's shares,
    both on the one unit here): each share runs as its own job and is checked on its channels,
    both slots work, the other two stay still."""
    import json
    from dataclasses import replace

    from rtlgen.bitstream.format import write_bitstream
    from rtlgen.cli import main
    from rtlgen.accel.compose import accel_bitstream, conv_descriptor
    from rtlgen.nn import load_tflite

    model = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    accel = powered["dir"] / "bank" / "rtl"
    desc = conv_descriptor(load_tflite(model), 0, unit=0, granularity="filter",
                           selects=[i % 2 for i in range(16)])
    shares = [replace(desc, co_first=0, co_end=8), replace(desc, co_first=8, co_end=16)]
    write_bitstream(tmp_path / "cfg.bin", accel_bitstream(accel, shares))
    rc = main(["accel", "power", "--accel", str(accel), "--bitstream", str(tmp_path / "cfg.bin"),
               "--model", str(model), "--images", str(shared_data / "cifar10" / "cifar10_test_first1017.npz"),
               "--crop", "10,10,2", "--work-dir", str(tmp_path / "work"), "--json", str(tmp_path / "p.json"),
               "--calibrate", str(tmp_path / "energy.json")])
    assert rc == 0
    out = capsys.readouterr().out
    names = ["layer 0 channels 0-7 on unit 0", "layer 0 channels 8-15 on unit 0"]
    runs = json.loads((tmp_path / "p.json").read_text())["runs"]
    assert [r["name"] for r in runs] == names
    for run in runs:
        assert f"{run['name']}: {run['cycles']:,} cycles" in out and "output equals the emulation" in out
        assert run["macs"] == 2 * 2 * 8 * 27          # the share's own channels
        dyn = {k: v["internal_mw"] + v["switching_mw"] for k, v in run["breakdown"].items()}
        assert dyn["u0.s0 mul8u_1JJQ"] > 0.05 and dyn["u0.s1 mul8u_DG8"] > 0.05
        assert dyn["u0.s2 mul8u_2NDH"] == 0 and dyn["u0.s3 mul8u_17MJ"] == 0
        assert run["energy_pj"] == pytest.approx(run["total_mw"] * run["cycles"] * run["clock_ns"])
    # the energy model fitted to the two shares: half the multiplications on each slot in each
    model = EnergyModel.from_json(tmp_path / "energy.json")
    assert model.runs == 2 and model.lanes == 4 and model.pdk == "sky130hd" and 0.2 < model.mul_scale < 5
    line = next(l for l in out.splitlines() if l.startswith("in-sample error per run: "))
    errs = [float(part.rsplit(" ", 1)[1].rstrip("%")) for part in line.split(": ", 1)[1].split(", ")]
    assert len(errs) == 2 and all(abs(e) < 3 for e in errs), line


def test_cli_rejects_a_bad_crop(capsys):
    from rtlgen.cli import main

    with pytest.raises(SystemExit):
        main(["accel", "power", "--accel", "x", "--bitstream", "y", "--model", "m", "--images", "i",
              "--crop", "1,2"])
    assert "--crop takes Y0,X0,SIZE (three integers), not '1,2'" in capsys.readouterr().err


def _vcd(tmp_path: Path, changes: str) -> Path:
    path = tmp_path / "t.vcd"
    path.write_text("$timescale 1ps $end\n$scope module t $end\n"
                    "$var wire 1 ! n1 $end\n$var wire 1 \" n2 $end\n$var wire 1 # n3 $end\n"
                    "$upscope $end\n$enddefinitions $end\n" + changes)
    return path


def test_read_cycles_samples_before_each_rising_edge(tmp_path):
    # n1 clock (period 10), n2 busy for the edges at 20 and 30, n3 data changing at edges.
    changes = "#0\n$dumpvars\n0!\n0\"\n0#\n$end\n"
    for t in range(5, 60, 5):
        changes += f"#{t}\n{int(t % 10 == 0)}!\n"
        if t == 15:
            changes += "1\"\n"          # busy rises after the edge at 10: sampled at 20, 30
        if t == 35:
            changes += "0\"\n"
        if t in (20, 40):
            changes += f"{int(t == 20)}#\n"
    (run,) = read_cycles(_vcd(tmp_path, changes), clock_net=1, busy_net=2)
    # edges at 10..50; busy sampled high at 20 and 30; the run spans 10..40
    assert run.cycles == 4
    assert run.values[2].tolist() == [False, True, True, False]
    assert run.values[3].tolist() == [False, False, True, True]


def test_read_cycles_samples_a_gated_clock_while_the_clock_is_high(tmp_path):
    # n3 a gated clock: it pulses with the clock's high phase after the edge at 20 only
    changes = "#0\n$dumpvars\n0!\n0\"\n0#\n$end\n"
    for t in range(5, 60, 5):
        changes += f"#{t}\n{int(t % 10 == 0)}!\n"
        changes += {15: "1\"\n", 35: "0\"\n", 20: "1#\n", 25: "0#\n"}.get(t, "")
    (run,) = read_cycles(_vcd(tmp_path, changes), clock_net=1, busy_net=2, high_nets=[3])
    assert run.values[3].tolist() == [False] * 4           # low before every rising edge
    assert run.high[3].tolist() == [False, True, False, False]
    assert set(run.high) == {3}


def test_read_cycles_rejects_x_in_a_run(tmp_path):
    changes = "#0\n$dumpvars\n0!\n0\"\nx#\n$end\n"
    for t in range(5, 40, 5):
        changes += f"#{t}\n{int(t % 10 == 0)}!\n" + ("1\"\n" if t == 15 else "")
    with pytest.raises(ToolError, match=r"^net n3 is x in a sampled cycle"):
        read_cycles(_vcd(tmp_path, changes), clock_net=1, busy_net=2)


def test_flip_flops_read_from_liberty():
    lib = default_library()
    pos, neg, sr = lib.cell("DFFPOSX1").ff, lib.cell("DFFNEGX1").ff, lib.cell("DFFSR").ff
    assert (pos.clocked_on, pos.falling, pos.next_state) == ("CLK", False, ("pin", "D"))
    assert neg.falling and neg.clear is None
    assert sr.clear == ("not", ("pin", "R")) and sr.preset == ("not", ("pin", "S"))
    assert lib.cell("DFFPOSX1").ff_outputs == {"Q": True}
    assert lib.cell("LATCH").ff is None and lib.cell("NAND2X1").ff is None
    assert np.isclose(max_table_slew_ns(lib), 1.8)


def test_design_folder_without_manifest_is_rejected(tmp_path):
    from rtlgen.accel.generate import GeneratedDesign
    from rtlgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^.* is not a generated accelerator folder: it has no manifest\.json"):
        GeneratedDesign.load(tmp_path)


@pytest.mark.sim
def test_gate_netlist_is_two_state_and_follows_the_liberty(tmp_path):
    """A hand-made mapped netlist (a DFFPOSX1 toggling through an inverter, and a NAND of its
    output with an input) in Icarus: the flip-flop starts at 0 and toggles every rising edge."""
    import subprocess

    from rtlgen.accel.gatesim import write_gate_netlist
    from rtlgen.cost.synth import MappedNetlist

    lib = default_library()
    module = {
        "ports": {"clk": {"direction": "input", "bits": [2]}, "a": {"direction": "input", "bits": [3]},
                  "q": {"direction": "output", "bits": [4]}, "y": {"direction": "output", "bits": [6]}},
        "cells": {
            "c0": {"type": "DFFPOSX1", "connections": {"CLK": [2], "D": [5], "Q": [4]}},
            "c1": {"type": "INVX1", "connections": {"A": [4], "Y": [5]}},
            "c2": {"type": "NAND2X1", "connections": {"A": [4], "B": [3], "Y": [6]}},
        },
        "netnames": {},
    }
    mapped = MappedNetlist(source=tmp_path / "x.v", source_hash="", top="toy", library=lib,
                           verilog="", module=module)
    write_gate_netlist(mapped, tmp_path / "toy.v")
    (tmp_path / "tb.v").write_text(
        "`timescale 1ns/1ps\nmodule tb; reg clk = 0, a = 1; wire q, y; toy dut(.clk(clk), .a(a), .q(q), .y(y));\n"
        "initial begin #1 $display(\"%b%b\", q, y); repeat (3) begin #5 clk = 1; #1 $display(\"%b%b\", q, y); #4 clk = 0; end end\n"
        "endmodule\n")
    subprocess.run(["iverilog", "-o", str(tmp_path / "a.vvp"), str(tmp_path / "toy.v"), str(tmp_path / "tb.v")],
                   check=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "a.vvp")], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["01", "10", "01", "10"]


@pytest.mark.sim
def test_gate_netlist_falling_edge_and_asynchronous_clear_and_preset(tmp_path):
    """DFFNEGX1 loads on the falling edge; DFFSR (clear = !R, preset = !S) is forced at once,
    without a clock edge, and loads D on the rising edge otherwise. (D is 0 while the clock
    leaves X at time 0: that first transition is an edge in Verilog.)"""
    import subprocess

    from rtlgen.accel.gatesim import write_gate_netlist
    from rtlgen.cost.synth import MappedNetlist

    lib = default_library()
    ports = {"clk": ("input", 2), "d": ("input", 3), "r": ("input", 4), "s": ("input", 5),
             "qn": ("output", 6), "qsr": ("output", 7)}
    module = {
        "ports": {k: {"direction": d, "bits": [b]} for k, (d, b) in ports.items()},
        "cells": {
            "c0": {"type": "DFFNEGX1", "connections": {"CLK": [2], "D": [3], "Q": [6]}},
            "c1": {"type": "DFFSR", "connections": {"CLK": [2], "D": [3], "R": [4], "S": [5], "Q": [7]}},
        },
        "netnames": {},
    }
    mapped = MappedNetlist(source=tmp_path / "x.v", source_hash="", top="toy", library=lib,
                           verilog="", module=module)
    write_gate_netlist(mapped, tmp_path / "toy.v")
    show = '$display("%b%b", qn, qsr);'
    (tmp_path / "tb.v").write_text(
        "`timescale 1ns/1ps\nmodule tb; reg clk = 0, d = 0, r = 1, s = 1; wire qn, qsr;\n"
        "toy dut(.clk(clk), .d(d), .r(r), .s(s), .qn(qn), .qsr(qsr));\n"
        f"initial begin #1 {show}\n"
        f"  d = 1; #1 clk = 1; #1 {show}\n"    # rising edge: DFFSR loads 1, DFFNEGX1 holds 0
        f"  #1 clk = 0; #1 {show}\n"            # falling edge: DFFNEGX1 loads 1
        f"  #1 r = 0; #1 {show}\n"              # clear, no clock edge
        f"  #1 r = 1; #1 {show}\n"              # released: holds 0 until an edge
        f"  #1 s = 0; #1 {show}\n"              # preset, no clock edge
        "end\nendmodule\n")
    subprocess.run(["iverilog", "-o", str(tmp_path / "a.vvp"), str(tmp_path / "toy.v"), str(tmp_path / "tb.v")],
                   check=True)
    out = subprocess.run(["vvp", "-n", str(tmp_path / "a.vvp")], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["00", "01", "11", "10", "10", "11"]
