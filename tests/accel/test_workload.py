"""Jobs from a bitstream (rtlgen/accel/workload.py): the multiplications per bank slot that the
energy calibration charges (the gate-level jobs themselves: tests/accel/test_power.py)."""
from __future__ import annotations

from dataclasses import replace

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


def test_a_share_counts_its_own_channels():
    g = Geometry(4, 4, 3, 4, 4, 8, 3, 3, 1, 1, 1, 1)      # 8 filters
    rq = Requant(0, 0, -128, 127, (1 << 30,) * 8, (-7,) * 8)
    whole = LayerDescriptor(0, "conv2d", 0, "signmag", "filter", g, rq, (0, 0, 0, 0, 1, 1, 1, 2))
    share = replace(whole, co_first=4, co_end=8)
    assert slot_macs(share, 4, 4) == {1: 3 * 16 * 27, 2: 16 * 27}
    layer = replace(whole, granularity="layer", selects=(3,), co_first=0, co_end=4)
    assert slot_macs(layer, 4, 4) == {3: 4 * 16 * 27}
    kernel = replace(whole, granularity="kernel", selects=tuple(range(8)) * 3, co_first=4, co_end=8)
    # kernels (filter, input channel): rows 4-7 of the 8 x 3 selects, [4 5 6] [7 0 1] [2 3 4] [5 6 7]
    assert slot_macs(kernel, 4, 4) == {s: n * 16 * 9 for s, n in
                                       {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 2}.items()}
