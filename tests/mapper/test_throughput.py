"""The cycle model of the throughput objective (rtlgen/mapper/throughput.py): its numbers on a
network small enough to count by hand, its agreement with the sequential device's exact count
(rtlgen.accel.schedule.network_cycles) when one unit runs everything, the bottleneck unit, and
the steady-state bound against the model's own event rules; and the three-objective search."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from mapper_standins import (SMALL_LANES, SMALL_POOL, SyntheticAccuracy, placed, small_device_space, synthetic_energy,
                             synthetic_layers, truncated_candidates)
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.schedule import engine_cycles, network_cycles, vector_cycles
from rtlgen.bitstream import format as bsm
from rtlgen.bitstream import weights as wm
from rtlgen.bitstream.format import Geometry, PoolDescriptor, Requant
from rtlgen.mapper import CycleModel, CycleSpec, LayerInfo, SearchSettings, SearchSpace, pareto_front, run_search
from rtlgen.mapper.search import EvaluatedPoint, dominates

LANES = SMALL_LANES
POOL = SMALL_POOL
_small_space = small_device_space
_placed = placed


def test_numbers_of_a_network_counted_by_hand() -> None:
    space = _small_space()
    model = CycleModel(space, lanes=LANES, ops=(POOL,))
    assert model.keys == ("0", "max_pool_2d:0", "fc:0")
    # prepare = fields 58 + search 4 + record 25 + copy (B + 3) + params 11 out_c + registers 26
    conv_prepare = 58 + 4 + 25 + (2 * 27 * 4 + 3) + 11 * 8 + 26          # 420
    fc_prepare = 58 + 4 + 25 + (3 * 64 * 4 + 3) + 11 * 10 + 26           # 994
    pool_prepare = 44
    conv_run = 1 + engine_cycles(space.layers[0].geometry, LANES) + 1
    fc_run = 1 + engine_cycles(space.layers[1].geometry, LANES) + 1
    pool_run = 1 + 4 * 4 * 8 * (2 * 2 + 3) + 1                          # 898
    assert (conv_prepare, fc_prepare, pool_run) == (420, 994, 898)
    assert pool_run == vector_cycles(POOL) + 2
    assert list(model.prepare) == [conv_prepare, pool_prepare, fc_prepare]
    assert list(model.run) == [conv_run, pool_run, fc_run]
    header = 13 + 3 * 2 + 5 * 4
    assert model.header == header

    # walking past another unit's descriptor reads its fields (an op's and one more cycle)
    assert list(model.skip) == [58, 44 + 1, 58]
    # conv on unit 0 (the pool after it too), fc on unit 1; per input each walker also walks past
    # the other's descriptors, takes a cycle to go on to the next input, and its record search
    # looks at both records once (4 cycles each; prepare counts one look per layer)
    _, m = _placed(space, (0, 1))
    c = model.evaluate(m)
    busy0 = conv_prepare + conv_run + pool_prepare + pool_run + 58 + 1 + 4
    busy1 = fc_prepare + fc_run + 58 + 45 + 1 + 4
    assert c.busy == (busy0, busy1) and c.per_inference == max(busy0, busy1)
    # the latency: the fc's copy overlaps the conv and the pool, its run waits for the pool
    pool_done = header + conv_prepare + conv_run + pool_prepare + pool_run
    assert header + fc_prepare < pool_done
    assert c.latency == pool_done + fc_run + 1
    # everything on unit 1: one walker, nothing overlaps
    _, m = _placed(space, (1, 1))
    c = model.evaluate(m)
    # the pool goes with conv 0; walker 0 walks past everything
    assert c.busy == (int(sum(model.skip)) + 1, int(sum(model.prepare) + sum(model.run)) + 1)
    assert c.latency == header + sum(model.prepare) + sum(model.run) + 1
    # an op before every layer runs on unit 0
    first = replace(POOL, after_layers=0, geometry=Geometry(8, 8, 3, 4, 4, 3, 2, 2, 2, 2))
    assert list(CycleModel(space, lanes=LANES, ops=(first,)).units_of((1, 1))) == [0, 1, 1]


def _device_images(space: SearchSpace, m, ops, seed: int = 0) -> tuple[bytes, bytes]:
    """config.bin (bases set so that the sequencer runs it, every layer on unit 0) and a
    weights.bin of random weights, for the sequential device's exact count."""
    rng = np.random.default_rng(seed)
    bs = space.bitstream(m, "ab" * 8)
    img = wm.WeightsImage(LANES, tuple(
        wm.LayerWeights(l.index, l.kind, rng.integers(-128, 128, (l.out_channels, l.geometry.k_h, l.geometry.k_w,
                                                                  l.in_channels)),
                        rng.integers(-9, 9, l.out_channels)) for l in space.layers))
    bs = replace(bs, layers=tuple(replace(d, in_base=0, out_base=1) for d in bs.layers),
                 model_hash=img.model_hash).with_layer_ops(ops)
    return bsm.encode(bs), wm.encode(img)


SYNTH_OPS = (bsm.PadDescriptor(0, Geometry(16, 16, 3, 18, 18, 3, 1, 1, 1, 1, 1, 1), 0, 1, -128, after_layers=0),
             PoolDescriptor(0, "max_pool_2d", Geometry(16, 16, 12, 8, 8, 12, 2, 2, 2, 2), 0, 1, after_layers=2),
             bsm.AddDescriptor(0, 0, 100, 200, 37, (1, -3), (1 << 30, 1 << 29), (-1, -2), 20, 5, 1 << 30, -3,
                               after_layers=3))


def _synthetic(tuning: str):
    """The synthetic network's space on 2 units of 3 slots, its cycle model with SYNTH_OPS, and
    the accelerator configuration of that shape."""
    space = SearchSpace(synthetic_layers(), truncated_candidates(), n_units=2, slots_per_unit=3,
                        granularity="filter", split_levels=4, weight_tuning=tuning)
    config = AccelConfig(units=2, lanes=LANES, multipliers=3, activation_bytes=1 << 16, weight_words=4096, channels=64)
    return space, CycleModel(space, lanes=LANES, ops=SYNTH_OPS), config


@pytest.mark.parametrize("tuning", ["none", "uniform"])
def test_one_unit_is_the_sequential_device_exactly(tuning) -> None:
    """With every layer on one unit nothing overlaps: the latency is RUN_CYCLES of the device that
    runs one descriptor at a time, as rtlgen.accel.schedule counts it from the two images (with
    weight tuning, the remapped copies and the remaps' fields included)."""
    space, model, config = _synthetic(tuning)
    rng = np.random.default_rng(4)
    xl, xu = space.bounds()
    remapped = 0
    for _ in range(3):
        x = rng.integers(xl, xu + 1)
        x[6:9] = 0                                  # every layer on unit 0
        m = space.decode(x)
        remapped += sum(len(space.weight_remaps(m, li)) for li in range(len(space.layers)))
        device = network_cycles(*_device_images(space, m, SYNTH_OPS), config)
        assert device.stop is None
        c = model.evaluate(m)
        assert c.latency == device.total
        assert c.per_inference == device.total - device.header - device.end + 1 == c.busy[0]
        assert c.busy[1] == int(sum(model.skip_of(m))) + 1
    assert (remapped > 0) == (tuning != "none")     # the uniform tuning did remap weights


def _busy(model: CycleModel, units: list[int]) -> tuple[int, ...]:
    """Per unit, counted here from the descriptors' units: its own descriptors' prepare and run,
    the fields of the others', a cycle to the next input, and the record search's further looks
    (every record once per input, prepare counting one look per own layer)."""
    cost, layers = model.prepare + model.run, model.layer_of >= 0
    out = []
    for u in range(model.n_units):
        own = [d for d, v in enumerate(units) if v == u]
        k = sum(1 for d in own if layers[d])
        out.append(int(sum(cost[d] for d in own)) + int(sum(model.skip[d] for d in range(len(units)) if units[d] != u))
                   + 1 + (4 * (int(layers.sum()) - k) if k else 0))
    return tuple(out)


def _assert_per_input_counts(model: CycleModel, m, images: tuple[bytes, bytes], config: AccelConfig) -> None:
    """The walkers' reads per input in the steady state (what the memory energy charges): the
    model's, rtlgen.accel.schedule.walker_reads' from config.bin, and what one more input adds to
    batch_cycles' CONFIG_READS and WEIGHTS_READS (the device's counters, tests/accel/test_sequencer.py);
    and the engines' clocked cycles per input (what the flip-flop energy charges), the model's and
    what one more input adds to batch_cycles' ENGINE_CLOCKS."""
    from rtlgen.accel.schedule import batch_cycles, walker_reads

    three, four = (batch_cycles(*images, config, batch=b) for b in (3, 4))
    device = (four.config_reads - three.config_reads, four.weights_reads - three.weights_reads)
    assert model.walker_reads(m) == walker_reads(bsm.decode(images[0]), config.units, config.lanes) == device
    assert model.clocked_cycles(m) == four.engine_clocks - three.engine_clocks == four.engine_clocks // 4


@pytest.mark.parametrize("tuning", ["none", "uniform"])
def test_mixed_units_are_the_concurrent_device_exactly(tuning) -> None:
    """Layers on both units, several inputs, fewer slots than inputs: the model's RUN_CYCLES is
    rtlgen.accel.schedule.batch_cycles' (the concurrent device's count, equal to its RTL
    counters in tests/accel/test_sequencer.py), and its one-input latency too."""
    from rtlgen.accel.schedule import batch_cycles

    space, model, config = _synthetic(tuning)
    rng = np.random.default_rng(5)
    xl, xu = space.bounds()
    placements = set()
    for _ in range(6):
        m = space.decode(rng.integers(xl, xu + 1))
        placements.add(tuple(m.layer_unit))
        images = _device_images(space, m, SYNTH_OPS)
        assert model.evaluate(m).latency == batch_cycles(*images, config).total
        for inputs, slots in ((3, 3), (4, 2)):
            assert model.run_cycles(m, inputs, slots) == batch_cycles(*images, config, batch=inputs, slots=slots).total
        _assert_per_input_counts(model, m, images, config)
    assert len(placements) > 2


@pytest.mark.parametrize("granularity,tuning", [("filter", "none"), ("kernel", "uniform"), ("layer", "uniform")])
def test_split_layers_are_the_concurrent_device_exactly(granularity, tuning) -> None:
    """With split_layers a layer may run as shares on both units at once (config.bin's shares):
    the model's latency and RUN_CYCLES of batches are still batch_cycles' count from the images
    the space writes (shares, their own copies, ranges and remaps; the ops after a split layer's
    last share), and a split layer's shares are what the bitstream says."""
    from rtlgen.accel.schedule import batch_cycles

    space = SearchSpace(synthetic_layers(), truncated_candidates(), n_units=2, slots_per_unit=3,
                        granularity=granularity, split_levels=4, weight_tuning=tuning, split_layers=True, lanes=LANES)
    model = CycleModel(space, lanes=LANES, ops=SYNTH_OPS)
    config = AccelConfig(units=2, lanes=LANES, multipliers=3, activation_bytes=1 << 16, weight_words=4096, channels=64)
    assert space.bounds()[1][6:9].tolist() == [2, 2, 2]     # 2 groups of lanes or more: every layer splits
    rng = np.random.default_rng(6)
    xl, xu = space.bounds()
    splits = 0
    for trial in range(6):
        x = rng.integers(xl, xu + 1)
        x[6 + trial % 3] = 2                            # at least one layer split
        m = space.decode(x)
        splits += sum(m.is_split(li) for li in range(3))
        bs = space.bitstream(m, "ab" * 8)
        for li, layer in enumerate(space.layers):
            shares = bs.shares(layer.key)
            assert [(d.unit, d.co_first, d.co_end) for d in shares] == list(m.parts[li])
        images = _device_images(space, m, SYNTH_OPS)
        lay = model.layout(m)
        assert len(lay.keys) == len(bsm.decode(images[0]).descriptors())
        assert model.evaluate(m).latency == batch_cycles(*images, config).total
        for inputs, slots in ((3, 3), (4, 2)):
            assert model.run_cycles(m, inputs, slots) == batch_cycles(*images, config, batch=inputs, slots=slots).total
        _assert_per_input_counts(model, m, images, config)
    assert splits >= 6
    # layer 1's 12 channels are 3 groups of 4 lanes: unit 0 takes two
    x = space.uniform_point(0)
    x[7] = 2
    assert space.decode(x).parts[1] == ((0, 0, 8), (1, 8, 12))


def test_the_busiest_unit_sets_the_cycles() -> None:
    space = SearchSpace(synthetic_layers(), truncated_candidates(), n_units=2, slots_per_unit=3,
                        granularity="filter", split_levels=4)
    model = CycleModel(space, lanes=LANES, ops=SYNTH_OPS)
    cost = model.prepare + model.run
    # descriptors: pad:0 (unit 0), 0, 1, max_pool_2d:0 (unit of layer 1), 2, add:0 (unit of layer 2)
    assert list(model.owner) == [-1, 0, 1, 1, 2, 2]
    _, m = _placed(space, (0, 0, 0))
    everything = model.evaluate(m)
    assert everything.busy == (int(cost.sum()) + 1, int(model.skip.sum()) + 1) == _busy(model, [0] * 6)
    # layer 2 (and the ADD after it) to unit 1: their cycles move, each unit walks past the other's
    _, m = _placed(space, (0, 0, 1))
    moved = model.evaluate(m)
    assert moved.busy == _busy(model, [0, 0, 0, 0, 1, 1])
    assert moved.busy[0] == int(cost[:4].sum() + model.skip[4:].sum()) + 1 + 4
    assert moved.per_inference == max(moved.busy) < everything.per_inference
    # layer 1 (and its pool) joins layer 2: unit 1 becomes the bottleneck
    _, m = _placed(space, (0, 1, 1))
    both = model.evaluate(m)
    assert both.busy == _busy(model, [0, 0, 1, 1, 1, 1])
    assert both.per_inference == both.busy[1] > moved.per_inference
    # one unit: the latency is the serial sum
    assert everything.latency == model.header + int(cost.sum()) + 1 >= moved.latency


def _periods(model: CycleModel, m, inputs: int = 12) -> list[int]:
    """Cycles between consecutive inputs' last descriptor ends under the event rules."""
    last = len(model.keys) - 1
    ends = [b.end for b in model.schedule(m, inputs) if b.position == last and b.phase == "run"]
    return [b - a for a, b in zip(ends, ends[1:])]


def test_steady_state_bound_and_the_event_rules() -> None:
    space = SearchSpace(synthetic_layers(), truncated_candidates(), n_units=2, slots_per_unit=3,
                        granularity="filter", split_levels=4)
    model = CycleModel(space, lanes=LANES, ops=SYNTH_OPS)
    # contiguous stretches per unit (pipeline stages): the bound is the period
    _, m = _placed(space, (0, 0, 1))
    c = model.evaluate(m)
    assert _periods(model, m)[-3:] == [c.per_inference] * 3
    bars = model.schedule(m, inputs=2)
    assert len(bars) == 2 * 2 * len(model.keys)
    runs = {(b.input, b.position): b for b in bars if b.phase == "run"}
    # two inputs overlap: input 1's first layer runs on unit 0 while input 0's last one runs on unit 1
    assert runs[1, 1].start < runs[0, 5].end and runs[1, 1].unit != runs[0, 5].unit
    # a run starts when its descriptor is prepared and the one before it (same input) is done
    for (n, d), b in runs.items():
        prep = next(p for p in bars if p.input == n and p.position == d and p.phase == "prepare")
        assert b.start == max(prep.end, runs[n, d - 1].end if d else model.header)
    assert c.per_inference == max(c.busy)        # pipeline stages: the bound is the period
    # interleaved units (0, 1, 0): unit 0 waits for unit 1 inside every input, the bound is not
    # reached, and the objective is the period, not the bound
    _, m = _placed(space, (0, 1, 0))
    c = model.evaluate(m)
    assert _periods(model, m)[-3:] == [c.per_inference] * 3 and c.per_inference > max(c.busy)


def test_pareto_front_in_three_objectives() -> None:
    pts = [EvaluatedPoint((0,), k, a, e, 1, cyc) for k, a, e, cyc in
           [("a", 0.9, 1.0, 100), ("b", 0.9, 1.0, 80), ("c", 0.85, 0.6, 50), ("d", 0.85, 0.6, 40),
            ("e", 0.8, 0.7, 10), ("f", 0.8, 0.7, 10), ("g", 0.5, 0.1, 200), ("h", 0.5, 0.2, 200)]]
    front = pareto_front(pts, objectives=("quality", "energy", "throughput"))
    assert [p.key for p in front] == ["g", "d", "e", "b"]
    # the same points in two objectives: cycles ignored
    assert [p.key for p in pareto_front(pts)] == ["g", "c", "a"]
    assert dominates(pts[1], pts[0], ("quality", "energy", "throughput")) and not dominates(pts[1], pts[0])
    with pytest.raises(ValueError, match=r"^a three-objective front needs every point's cycles"):
        pareto_front([EvaluatedPoint((0,), "x", 0.5, 0.5, 1)], objectives=("quality", "energy", "throughput"))
    with pytest.raises(ValueError, match=r"^objectives must be \('quality', 'energy'\) or "
                                         r"\('quality', 'energy', 'throughput'\), not \('energy', 'quality'\)$"):
        SearchSettings(objectives=("energy", "quality"))


def _space(granularity: str = "filter") -> SearchSpace:
    return SearchSpace(synthetic_layers(), truncated_candidates()[::-1], n_units=2, slots_per_unit=3,
                       granularity=granularity, split_levels=4)


THREE = SearchSettings(generations=4, pop_size=12, seed=7, objectives=("quality", "energy", "throughput"))


def test_three_objective_search_returns_a_front_in_three_dimensions(tmp_path) -> None:
    space = _space()
    model = CycleModel(space, lanes=LANES, ops=SYNTH_OPS)
    r = run_search(space, SyntheticAccuracy(synthetic_layers(), truncated_candidates()), synthetic_energy, THREE,
                   tmp_path, progress=False, cycles=model)
    assert r.objectives == THREE.objectives and len(r.points) > THREE.pop_size
    for p in r.points:
        assert p.cycles == model.evaluate(space.decode(np.array(p.x))).per_inference
    objectives = THREE.objectives
    for p in r.front:
        assert not any(dominates(q, p, objectives) for q in r.points), p
    # every point left out is dominated by one kept, or has the same three values as one
    kept = {p.key for p in r.front}
    for q in r.points:
        if q.key not in kept:
            assert any(dominates(p, q, objectives) or (p.accuracy, p.energy, p.cycles) == (q.accuracy, q.energy, q.cycles)
                       for p in r.front), q
    # the search used the second unit: some front point is faster than one unit running everything
    one_unit = model.evaluate(space.decode(space.uniform_point(0))).per_inference
    assert min(p.cycles for p in r.front) < one_unit
    # some front points are kept for their cycles alone: the two-objective front would drop them
    assert len(r.front) > len(pareto_front(r.points))
    # the checkpoint is of a three-objective search: the two-objective one does not resume it
    from rtlgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"checkpoint\.pkl: checkpoint is of a different search"):
        run_search(space, SyntheticAccuracy(synthetic_layers(), truncated_candidates()), synthetic_energy,
                   replace(THREE, objectives=("quality", "energy")), tmp_path, progress=False, cycles=model)
    with pytest.raises(ValueError, match=r"^the throughput objective needs a cycle model"):
        run_search(space, SyntheticAccuracy(synthetic_layers(), truncated_candidates()), synthetic_energy, THREE,
                   tmp_path / "none", progress=False)


def _digest(result) -> str:
    rows = [(p.key, round(p.accuracy, 12), round(p.energy, 12), p.generation) for p in result.points]
    return hashlib.sha256(json.dumps([rows, [p.key for p in result.front]]).encode()).hexdigest()[:16]


#: _digest of the two-objective search below, run on the code before the throughput objective
#: existed (commit 8cae23c): the default mode must find the same points and front
TWO_OBJECTIVE_DIGEST = "b20dda200238edc0"


def test_the_two_objective_mode_is_unchanged(tmp_path) -> None:
    space = _space()
    settings = SearchSettings(generations=4, pop_size=12, seed=7)
    acc = SyntheticAccuracy(synthetic_layers(), truncated_candidates())
    plain = run_search(space, acc, synthetic_energy, settings, tmp_path / "plain", progress=False)
    assert _digest(plain) == TWO_OBJECTIVE_DIGEST
    assert all(p.cycles is None and p.latency is None for p in plain.points)
    # a cycle model only annotates the points: same search, same front
    model = CycleModel(space, lanes=LANES, ops=SYNTH_OPS)
    annotated = run_search(space, acc, synthetic_energy, settings, tmp_path / "cycles", progress=False, cycles=model)
    assert _digest(annotated) == TWO_OBJECTIVE_DIGEST
    assert all(p.cycles == model.evaluate(space.decode(np.array(p.x))).per_inference for p in annotated.points)
    # and its checkpoint is the same search as one without cycles (old run folders resume)
    again = run_search(space, acc, synthetic_energy, settings, tmp_path / "cycles", progress=False)
    assert _digest(again) == TWO_OBJECTIVE_DIGEST


def test_cycle_spec_and_bad_inputs() -> None:
    space = _small_space()
    assert CycleSpec(LANES, (POOL,)).model(space).keys == CycleModel(space, lanes=LANES, ops=(POOL,)).keys
    with pytest.raises(ValueError, match=r"^max_pool_2d:0 comes after 3 layers; the network has 2$"):
        CycleModel(space, lanes=LANES, ops=(replace(POOL, after_layers=3),))
    with pytest.raises(ValueError, match=r"^layer_unit must give 2 units, not 3$"):
        CycleModel(space, lanes=LANES).units_of((0, 0, 0))
