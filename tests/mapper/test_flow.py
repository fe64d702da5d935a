from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mapper_standins import SyntheticAccuracy, synthetic_energy, synthetic_layers, truncated_candidates
from rtlgen.bitstream import format as bsm
from rtlgen.errors import VerificationError
from rtlgen.mapper import CycleSpec, SearchSettings
from rtlgen.mapper.flow import EmulationResult, map_network
from rtlgen.mapper.search import EvaluatedPoint, dominates


class _Shifted(SyntheticAccuracy):
    """The 'test split': same sensitivities, a different base accuracy."""

    def accuracy(self, assignment):
        return super().accuracy(assignment) - 0.02


def _job(tmp_path, emulate=None, objectives=("quality", "energy"), cycles=None, accel_energy=None, memories=None,
         split_layers=False):
    layers, cands = synthetic_layers(), truncated_candidates()
    search, test = SyntheticAccuracy(layers, cands), _Shifted(layers, cands)

    def emu(bitstream):
        assignment = bsm.to_assignment(bitstream)
        return EmulationResult(logits=np.full((4, 10), len(assignment["layers"]), dtype=np.int8),
                               search_accuracy=search.accuracy(assignment), test_accuracy=test.accuracy(assignment))

    report = map_network(layers, cands, n_units=2, slots_per_unit=3, search_accuracy=search, test_accuracy=test,
                         energy=synthetic_energy,
                         settings=SearchSettings(generations=3, pop_size=12, seed=2, objectives=objectives),
                         out_dir=tmp_path, accel_hash="feedbeef", split_levels=4, emulate=emulate or emu,
                         progress=False, cycles=cycles, accel_energy=accel_energy, memories=memories,
                         split_layers=split_layers)
    return report, layers, cands


def test_map_network_outputs(tmp_path) -> None:
    report, layers, cands = _job(tmp_path)
    out = tmp_path
    for name in ("front.csv", "front.json", "baselines.csv", "summary.json", "pareto.png", "energy_per_mult.json"):
        assert (out / name).is_file(), name
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    front = json.loads((out / "front.json").read_text())
    assert front["reference_search_accuracy"] == pytest.approx(0.9)
    assert front["reference_test_accuracy"] == pytest.approx(0.88)
    rows = front["front"]
    assert rows and [r["energy"] for r in rows] == sorted(r["energy"] for r in rows)
    for i, r in enumerate(rows):
        assert r["test_accuracy"] == pytest.approx(r["search_accuracy"] - 0.02)
        bs = bsm.read_bitstream(out / r["bitstream"], expect_accel="feedbeef")
        assert len(bs.units) == 2 and all(len(b) == 3 for b in bs.units)
        assert r["emulation"]["search_accuracy"] == r["search_accuracy"]
        emu = np.load(out / r["emulation"]["file"])
        assert emu["logits"].shape == (4, 10)
        assign = json.loads((out / "points" / f"{i:02d}" / "assignment.json").read_text())
        assert assign == bsm.to_assignment(bs)
    with open(out / "baselines.csv") as f:
        base = list(csv.DictReader(f))
    uniform = [b for b in base if b["kind"] == "uniform"]
    assert [b["multiplier"] for b in uniform] == ["exact", "trunc2", "trunc4", "trunc6", "trunc8", "trunc10"]
    assert float(uniform[0]["energy"]) == pytest.approx(1.0) and float(uniform[0]["search_loss"]) == 0
    assert any(b["kind"] == "layerwise" for b in base)
    summary = json.loads((out / "summary.json").read_text())
    best = summary["within_loss"]["0.02"]["mapper"]["selected_on_search"]
    assert best["search_loss"] <= 0.02 and best["energy_saving"] > 0
    # the split search is at least as good as one multiplier everywhere at the same loss
    uni = summary["within_loss"]["0.02"]["uniform"]["selected_on_search"]
    assert best["energy_saving"] >= uni["energy_saving"] - 1e-9
    # re-running resumes everything: same front, nothing re-evaluated
    again, _, _ = _job(tmp_path)
    assert [r["key"] for r in again.front] == [r["key"] for r in rows]
    # without a cycle model the cycle columns are there, empty; no schedules, no projections
    with open(out / "front.csv") as f:
        head = next(csv.reader(f))
    assert head[8:11] == ["cycles_per_inference", "latency_cycles", "bitstream"]
    assert all(r["cycles_per_inference"] is None and "schedule" not in r for r in rows)
    assert not (out / "pareto_projections.png").exists() and summary["objectives"] == ["quality", "energy"]


def test_three_objectives(tmp_path) -> None:
    from rtlgen.mapper.space import SearchSpace

    two, layers, cands = _job(tmp_path / "two", cycles=CycleSpec(lanes=8))
    three, _, _ = _job(tmp_path / "three", objectives=("quality", "energy", "throughput"), cycles=CycleSpec(lanes=8))
    # the two-objective run with a cycle model: cycles on every row, the same front as without one
    assert all(r["cycles_per_inference"] > 0 and r["latency_cycles"] > 0 for r in two.front + two.uniform)
    plain, _, _ = _job(tmp_path / "plain")
    assert [r["key"] for r in two.front] == [r["key"] for r in plain.front]
    out = tmp_path / "three"
    assert (out / "pareto_projections.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objectives"] == ["quality", "energy", "throughput"]
    rows = json.loads((out / "front.json").read_text())["front"]
    with open(out / "front.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["cycles_per_inference"]) for r in table] == [r["cycles_per_inference"] for r in rows]
    # the front is non-dominated in three dimensions and keeps points the 2-D front would drop
    pts = [EvaluatedPoint(tuple(r["x"]), r["key"], r["search_accuracy"], r["energy"], 0, r["cycles_per_inference"])
           for r in rows]
    obj = ("quality", "energy", "throughput")
    assert not any(dominates(p, q, obj) for p in pts for q in pts)
    assert any(dominates(p, q) for p in pts for q in pts)      # in quality and energy alone some are dominated
    # each point's schedule: two inputs, every descriptor prepared and run, the model's cycles
    space = SearchSpace(layers, cands, n_units=2, slots_per_unit=3, split_levels=4, encoding="signmag")
    model = CycleSpec(lanes=8).model(space)
    for i, r in enumerate(rows):
        doc = json.loads((out / r["schedule"]).read_text())
        assert r["schedule"] == f"points/{i:02d}/schedule.json"
        c = model.evaluate(space.decode(np.array(r["x"])))
        assert doc["cycles_per_inference"] == r["cycles_per_inference"] == c.per_inference >= max(doc["busy"])
        assert len(doc["bars"]) == 2 * 2 * len(layers)
        assert doc["latency_cycles"] == r["latency_cycles"] == model.evaluate(space.decode(np.array(r["x"]))).latency
    with pytest.raises(ValueError, match=r"^the throughput objective needs the cycle model's inputs"):
        _job(tmp_path / "none", objectives=("quality", "energy", "throughput"))


def test_rows_carry_the_accelerator_energy_per_inference(tmp_path) -> None:
    """With an energy model every row has its energy per inference (rtlgen.mapper.energy), the
    exact reference saves 0, and the three-objective front holds every point that is
    non-dominated in (quality, accelerator energy, cycles) among the evaluated ones. The device's
    SRAM memories are in it (rtlgen.accel.memories), and in the summary."""
    from rtlgen.accel.config import AccelConfig
    from rtlgen.accel.energy import EnergyModel
    from rtlgen.accel.memories import device_memories
    from rtlgen.mapper.energy import AcceleratorEnergy
    from rtlgen.mapper.objectives import EnergyTable
    from rtlgen.mapper.space import SearchSpace

    model = EnergyModel(mul_scale=1.1, logic_pj=20.0, clocked_pj=40.0, leakage_mw=0.2, memories_pj=5.0,
                        clock_ns=10.0, lanes=8, pdk="sky130hd", runs=1)
    memories = device_memories(AccelConfig(units=2, lanes=8, multipliers=3, activation_bytes=8192, weight_words=512,
                                           channels=64), "sky130hd")
    rep, layers, cands = _job(tmp_path, objectives=("quality", "energy", "throughput"), cycles=CycleSpec(lanes=8),
                              accel_energy=model, memories=memories)
    space = SearchSpace(layers, cands, n_units=2, slots_per_unit=3, split_levels=4, encoding="signmag")
    acc = AcceleratorEnergy(model, EnergyTable(space, synthetic_energy), CycleSpec(lanes=8).model(space),
                            memories=memories)
    exact = [r for r in rep.uniform if r["energy"] == 1.0]
    assert exact and exact[0]["accel_energy_saving"] == pytest.approx(0.0)
    for r in rep.front:
        e = acc.evaluate(space.decode(np.array(r["x"])))
        assert r["accel_energy_uj"] == pytest.approx(e.total_pj / 1e6)
        assert r["accel_energy_saving"] == pytest.approx(1 - e.total_pj / 1e6 / exact[0]["accel_energy_uj"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["accelerator_energy"]["coefficients"]["logic_pj"] == 20.0
    mem = summary["accelerator_energy"]["memories"]
    assert mem["macros"] == memories.macros and 0 < mem["reference_uj"] < exact[0]["accel_energy_uj"]
    assert mem["reads_per_inference"]["weights"] == acc.memories.traffic.reads["weights"] > 0
    with open(tmp_path / "front.csv") as f:
        assert [float(r["accel_energy_uj"]) for r in csv.DictReader(f)] == pytest.approx(
            [r["accel_energy_uj"] for r in rep.front])
    # the front in (quality, relative energy, cycles) holds the accelerator-energy front of all
    # evaluated points (the model is increasing in both)
    pts = list(rep.search.points)
    by_acc = {p.key: acc.evaluate(space.decode(np.array(p.x)), p.cycles).total_pj for p in pts}
    front_keys = {r["key"] for r in rep.front}
    for p in pts:
        if not any(q.accuracy >= p.accuracy and by_acc[q.key] <= by_acc[p.key] and q.cycles <= p.cycles
                   and (q.accuracy, by_acc[q.key], q.cycles) != (p.accuracy, by_acc[p.key], p.cycles) for q in pts):
            assert p.key in front_keys or any(
                (q.accuracy, by_acc[q.key], q.cycles) == (p.accuracy, by_acc[p.key], p.cycles)
                for q in pts if q.key in front_keys), p


def test_a_search_that_splits_layers(tmp_path) -> None:
    """split_layers: the three-objective search may run a layer as shares on both units. Its
    points' bitstreams carry the shares (and emulate to what the search measured: the flow checks
    it), their schedules and energies are the cycle model's and the energy model's for the
    split layout, and splitting pays: the search finds points that split."""
    from rtlgen.accel.energy import EnergyModel
    from rtlgen.mapper.energy import AcceleratorEnergy
    from rtlgen.mapper.objectives import EnergyTable
    from rtlgen.mapper.space import SearchSpace

    model = EnergyModel(mul_scale=1.1, logic_pj=20.0, clocked_pj=40.0, leakage_mw=0.2, memories_pj=5.0,
                        clock_ns=10.0, lanes=4, pdk="sky130hd", runs=1)
    rep, layers, cands = _job(tmp_path, objectives=("quality", "energy", "throughput"), cycles=CycleSpec(lanes=4),
                              accel_energy=model, split_layers=True)
    space = SearchSpace(layers, cands, n_units=2, slots_per_unit=3, split_levels=4, encoding="signmag",
                        split_layers=True, lanes=4)
    cycles = CycleSpec(lanes=4).model(space)
    acc = AcceleratorEnergy(model, EnergyTable(space, synthetic_energy), cycles)
    assert json.loads((tmp_path / "summary.json").read_text())["split_layers"] is True
    assert any(space.decode(np.array(p.x)).is_split(li) for p in rep.search.points for li in range(len(layers)))
    split_rows = 0
    for r in rep.front:
        m = space.decode(np.array(r["x"]))
        bs = bsm.read_bitstream(tmp_path / r["bitstream"], expect_accel="feedbeef")
        assert [(d.unit, d.co_first, d.co_end) for d in bs.layers] == [p for parts in m.parts for p in parts]
        doc = json.loads((tmp_path / r["schedule"]).read_text())
        assert len(doc["bars"]) == 2 * 2 * len(bs.layers)
        assert doc["cycles_per_inference"] == r["cycles_per_inference"] == cycles.evaluate(m).per_inference
        assert r["accel_energy_uj"] == pytest.approx(acc.evaluate(m).total_pj / 1e6)
        described = {l["layer"]: l for l in r["mapping"]["layers"]}
        for li, layer in enumerate(layers):
            if m.is_split(li):
                split_rows += 1
                assert described[layer.index]["unit"] == [0, 1]
                assert described[layer.index]["shares"] == [[lo, hi] for _, lo, hi in m.parts[li]]
    assert split_rows > 0
    with pytest.raises(ValueError, match=r"^splitting layers needs the accelerator's lanes"):
        _job(tmp_path / "none", split_layers=True)


def test_emulation_mismatch_is_caught(tmp_path) -> None:
    def wrong(bitstream):
        return EmulationResult(logits=np.zeros((1, 10)), search_accuracy=0.1, test_accuracy=0.1)

    with pytest.raises(VerificationError, match=r"^front point 0: emulation from its bitstream gives accuracy 0\.1"):
        _job(tmp_path, emulate=wrong)
    # the failed point's folder is not left half-written (nor its staged copy)
    assert sorted(p.name for p in (tmp_path / "points").iterdir()) == []
