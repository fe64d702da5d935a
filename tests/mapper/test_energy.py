"""Whole-accelerator energy per inference of a mapping (rtlgen/mapper/energy.py): the per-component
model fed from the energy table and the cycle model, and monotone in both (why the
three-objective front holds the accelerator-energy front)."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen.accel.energy import EnergyModel
from rtlgen.mapper import CycleModel
from rtlgen.mapper.energy import AcceleratorEnergy
from rtlgen.mapper.objectives import EnergyTable

from mapper_standins import SMALL_LANES as LANES, SMALL_POOL as POOL, placed as _placed, small_device_space as _small_space

MODEL = EnergyModel(mul_scale=1.2, logic_pj=30.0, clocked_pj=50.0, leakage_mw=0.5, memories_pj=9.0,
                    clock_ns=10.0, lanes=LANES, pdk="sky130hd", runs=1)


def _setup():
    space = _small_space()
    # pJ per multiplication: the exact candidate 2.0 on every layer, the truncated one 1.0
    table = EnergyTable(space, None, values=np.array([[2.0, 2.0], [1.0, 1.0]]))  # type: ignore[arg-type]
    cycles = CycleModel(space, lanes=LANES, ops=(POOL,))
    return space, table, cycles, AcceleratorEnergy(MODEL, table, cycles)


def test_energy_per_inference_from_the_table_and_the_cycle_model():
    space, table, cycles, acc = _setup()
    _, m = _placed(space, (0, 1))
    c = cycles.evaluate(m).per_inference
    e = acc.evaluate(m)
    macs = sum(l.macs for l in space.layers)
    assert e.multipliers_pj == pytest.approx(1.2 * 2.0 * macs)
    # the active cycles are the layers' runs, not the pool's
    assert acc.active_cycles == int(cycles.run[0] + cycles.run[2])
    assert e.logic_pj == pytest.approx(30.0 * acc.active_cycles)
    # the engines' gated clocks: their runs and their walkers' writes, fewer than 2 units x c
    clocked = cycles.clocked_cycles(m)
    assert acc.active_cycles < clocked < 2 * c
    assert e.clocked_pj == pytest.approx(50.0 * clocked) and e.leakage_pj == pytest.approx(0.5 * 2 * c * 10.0)
    assert acc.evaluate(m, c) == e


def test_cheaper_multipliers_and_fewer_cycles_both_lower_the_energy():
    space, table, cycles, acc = _setup()
    _, exact = _placed(space, (0, 0), candidate=0)
    _, cheap = _placed(space, (0, 0), candidate=1)
    assert table.relative(cheap) < table.relative(exact)
    assert acc.evaluate(cheap).total_pj < acc.evaluate(exact).total_pj
    split = _placed(space, (0, 1))[1]
    c_one, c_split = cycles.evaluate(exact).per_inference, cycles.evaluate(split).per_inference
    assert c_split < c_one
    # same multipliers, fewer cycles per inference: less flip-flop and leakage energy
    assert acc.evaluate(split).total_pj < acc.evaluate(exact).total_pj


def test_a_model_calibrated_for_other_lanes_is_refused():
    space, table, cycles, _ = _setup()
    other = EnergyModel(**{**MODEL.__dict__, "lanes": 16})
    with pytest.raises(ValueError, match="calibrated for 16 lanes; the accelerator has 4"):
        AcceleratorEnergy(other, table, cycles)


def test_sram_memories_are_a_component_of_their_own():
    """With the device's memories (rtlgen.accel.memories) the energy gains their term: the
    network's reads and writes (its layers' products, outputs, weight words and parameters, the
    pool's taps and output, the input, the output the host reads), leakage; nothing else
    changes."""
    from rtlgen.accel.config import AccelConfig
    from rtlgen.accel.memories import InferenceMemories, device_memories, inference_traffic

    space, table, cycles, acc = _setup()
    dev = device_memories(AccelConfig(units=2, lanes=LANES, multipliers=2, activation_bytes=4096, weight_words=256,
                                      channels=16), "sky130hd")
    with_mem = AcceleratorEnergy(MODEL, table, cycles, memories=dev)
    layers = [(l.kind, l.geometry, 0, 0) for l in space.layers]
    g0 = space.layers[0].geometry
    whole = space.decode(space.uniform_point(0))
    gl = space.layers[-1].geometry        # the pool runs after the first layer: the last layer's output is read
    out = gl.out_h * gl.out_w * gl.out_c
    assert POOL.after_layers < len(space.layers)
    assert with_mem.memories.traffic == inference_traffic(layers, (POOL,), LANES, g0.in_h * g0.in_w * g0.in_c, out,
                                                          walker_reads=cycles.walker_reads(whole))
    _, m = _placed(space, (0, 1))
    # the walkers' reads depend on where the layers go: two owners search the records twice
    traffic = inference_traffic(layers, (POOL,), LANES, g0.in_h * g0.in_w * g0.in_c, out,
                                walker_reads=cycles.walker_reads(m))
    assert traffic.reads["weights store"] == with_mem.memories.traffic.reads["weights store"] + 4 * 2
    assert traffic.writes["activation"] > g0.in_h * g0.in_w * g0.in_c and traffic.reads["weights"] > 0
    c = cycles.evaluate(m).per_inference
    e, plain = with_mem.evaluate(m), acc.evaluate(m)
    assert e.memories_pj == pytest.approx(InferenceMemories(dev, traffic).energy(c, MODEL.clock_ns))
    assert e.memories_pj > c * MODEL.clock_ns * dev.leakage_mw
    assert e.total_pj - plain.total_pj == pytest.approx(e.memories_pj)
