"""Jobs from a bitstream (rtlgen/accel/workload.py): the multiplications per bank slot that the
energy calibration charges (the gate-level jobs themselves: tests/accel/test_power.py)."""
from __future__ import annotations

from rtlgen.accel.workload import slot_macs
from rtlgen.bitstream.format import Geometry, LayerDescriptor, Requant

G = Geometry(4, 4, 3, 4, 4, 2, 3, 3, 1, 1, 1, 1)       # 4x4x3 -> 4x4x2, 3x3 SAME
RQ = Requant(0, 0, -128, 127, (1 << 30,) * 2, (-7,) * 2)


def _layer(granularity, selects, kind="conv2d", g=G, rq=RQ):
    return LayerDescriptor(0, kind, 0, "signmag", granularity, g, rq, selects)


def test_multiplications_per_slot_follow_the_selects():
    # per output pixel and filter: 3x3 taps x 3 input channels = 27 multiplications
    assert slot_macs(_layer("layer", (2,)), 4, 4) == {2: 16 * 2 * 27}
    assert slot_macs(_layer("filter", (0, 1)), 4, 4) == {0: 16 * 27, 1: 16 * 27}
    assert slot_macs(_layer("kernel", (0, 1, 1, 1, 1, 0)), 2, 2) == {0: 2 * 4 * 9, 1: 4 * 4 * 9}
    # a crop's smaller output counts what it runs; every multiplication is on some slot
    assert sum(slot_macs(_layer("filter", (1, 1)), 2, 3).values()) == 6 * 2 * 27


def test_a_depthwise_layer_reads_one_input_channel_per_filter():
    g = Geometry(4, 4, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1)
    assert slot_macs(_layer("filter", (0, 1), kind="depthwise_conv2d", g=g), 4, 4) == {0: 16 * 9, 1: 16 * 9}
