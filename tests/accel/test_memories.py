"""The device's memories on SRAM macros and their energy per inference."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rtlgen.accel.config import load_config
from rtlgen.accel.descriptor import PARAM_BITS
from rtlgen.accel.energy import EnergyModel
from rtlgen.accel.loader import config_capacity
from rtlgen.accel.memories import MEMORY_NAMES, InferenceMemories, device_memories, inference_traffic
from rtlgen.bitstream.format import PoolDescriptor
from rtlgen.nn.geometry import Geometry

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_device_memories_and_their_ports():
    config = load_config(ROOT / "flows" / "accel_default.toml")
    dev = device_memories(config, "sky130hd")
    by = {m.name: m for m in dev.memories}
    assert tuple(by) == MEMORY_NAMES
    shapes = {k: (m.plan.width, m.plan.depth, m.plan.read_ports, m.instances) for k, m in by.items()}
    # the shared memories: a read port per unit and the host's
    assert shapes == {"activation": (8, 262144, 3, 1), "configuration": (8, config_capacity(config), 3, 1),
                      "weights store": (8, config.weights_store_bytes, 3, 1),
                      "weights": (config.weight_word_bits, 4096, 1, 2), "parameters": (PARAM_BITS, 256, 1, 2)}
    assert dev.macros == sum(m.instances * m.plan.count for m in dev.memories)
    # more units: more read ports on the shared memories, more per-unit memories
    four = device_memories(replace(config, units=4, unit_multipliers=config.unit_multipliers * 2), "sky130hd")
    assert four.area_mm2 > dev.area_mm2 and four.leakage_mw > dev.leakage_mw
    assert {m.name: m.plan.read_ports for m in four.memories}["activation"] == 5
    assert device_memories(config, "osu018") is None


def test_traffic_per_inference_and_the_energy_formula():
    conv = Geometry(8, 8, 3, 8, 8, 20, 3, 3, 1, 1, 1, 1)      # 20 channels on 16 lanes: 2 groups
    dw = Geometry(8, 8, 20, 4, 4, 20, 3, 3, 2, 2, 1, 1)
    # a 3x3 max pool, stride 2, padded: 2x2 outputs of 20 channels, 4 + 6 + 6 + 9 taps inside
    pool = PoolDescriptor(0, "max_pool_2d", Geometry(4, 4, 20, 2, 2, 20, 3, 3, 2, 2, 1, 1), 0, 1, after_layers=2)
    t = inference_traffic([("conv2d", conv, 0, 0), ("depthwise_conv2d", dw, 0, 0)], [pool], 16, input_bytes=192,
                          output_bytes=80, walker_reads=(500, 300))
    assert t.writes == {"activation": 192 + 8 * 8 * 20 + 4 * 4 * 20 + 2 * 2 * 20,
                        "weights": 2 * 3 * 3 * 3 + 2 * 3 * 3 * 1, "parameters": 40}
    issued = 2 * 8 * 8 * 27 + 20 * 4 * 4 * 9       # products per lane: groups x pixels x K; depthwise per channel
    # the activation memory: the engines' products, the pool's taps inside, the host's output bytes
    assert t.reads == {"activation": issued + (4 + 6 + 6 + 9) * 20 + 80, "weights": issued,
                       "parameters": 8 * 8 * 20 + 4 * 4 * 20, "configuration": 500, "weights store": 300}
    # a share [16, 20) of the conv: its one group, its 4 channels
    share = inference_traffic([("conv2d", conv, 16, 0)], [], 16, input_bytes=0, output_bytes=0, walker_reads=(0, 0))
    assert share.reads["weights"] == 8 * 8 * 27 and share.reads["parameters"] == 8 * 8 * 4
    assert share.writes == {"activation": 8 * 8 * 4, "weights": 27, "parameters": 4}
    config = load_config(ROOT / "flows" / "accel_default.toml")
    dev = device_memories(config, "sky130hd")
    mem = InferenceMemories(dev, t)
    by = {m.name: m for m in dev.memories}
    # nothing is paid per cycle but leakage: every read port has an enable
    expect = (sum(n * by[k].plan.read_pj for k, n in t.reads.items())
              + sum(n * by[k].plan.write_pj for k, n in t.writes.items()) + 1000 * 10.0 * dev.leakage_mw)
    assert mem.energy(1000, 10.0) == pytest.approx(expect)
    with pytest.raises(ValueError, match=r"accesses to \['nowhere'\]"):
        dev.writes_pj({"nowhere": 1})
    # in the energy model: a component of its own, in the total
    m = EnergyModel(mul_scale=1.0, logic_pj=1.0, clocked_pj=1.0, leakage_mw=0.0, memories_pj=0.0,
                    clock_ns=10.0, lanes=16, pdk="sky130hd", runs=1)
    without = m.inference(mul_pj=100.0, active_cycles=500, cycles=1000, units=2)
    with_mem = m.inference(mul_pj=100.0, active_cycles=500, cycles=1000, units=2, memories=mem.energy)
    assert with_mem.memories_pj == pytest.approx(expect) and without.memories_pj == 0.0
    assert with_mem.total_pj - without.total_pj == pytest.approx(expect)


def test_traffic_from_a_config_bin_is_its_descriptors():
    from bitstream_cases import LANES, small_bitstream

    from rtlgen.accel.config import AccelConfig

    dev = device_memories(AccelConfig(units=1, lanes=LANES, multipliers=2, activation_bytes=1024, weight_words=64,
                                      channels=16), "sky130hd")
    mem = InferenceMemories.from_config_bin(dev, small_bitstream(out_c=8), LANES, 1)
    geo = Geometry(6, 6, 3, 6, 6, 8, 3, 3, 1, 1, 1, 1)
    # the walker's reads per input: the layer's fields (58), the input's end (1), the copy of
    # 2 groups x 27 x 4 lanes streamed (B + 3 from both stores), 8 channels' parameters (6 and 5
    # each), the record (25) and one look at its one record (4)
    b = 2 * 27 * LANES
    walker = (58 + 1 + b + 3 + 6 * 8, 25 + b + 3 + 5 * 8 + 4)
    assert mem.traffic == inference_traffic([("conv2d", geo, 0, 0)], [], LANES, input_bytes=6 * 6 * 3,
                                            output_bytes=6 * 6 * 8, walker_reads=walker)
    assert mem.traffic.reads["weights"] == 2 * 36 * 27      # two groups of 4 lanes, 36 pixels, K = 27
