"""Small hand-made bitstreams for the configuration front end's tests (the loader in Amaranth,
the host driver over a model bus): one conv layer, two multipliers, and the accelerator hashes."""
from __future__ import annotations

import numpy as np

from rtlgen.bitstream.format import Bitstream, Geometry, LayerDescriptor, MultiplierRef, Requant, encode

ACCEL = "0123456789abcdef"
OTHER = "fedcba9876543210"


def small_bitstream(accel: str = ACCEL, out_c: int = 8, version: int = 2) -> bytes:
    rng = np.random.default_rng(1)
    refs = (MultiplierRef("a" * 16, False, "mul8u_A"), MultiplierRef("b" * 16, False, "mul8u_B"))
    geo = Geometry(6, 6, 3, 6, 6, out_c, 3, 3, 1, 1, 1, 1)
    rq = Requant(-128, 3, -128, 127, tuple(int(x) for x in rng.integers(1 << 30, 1 << 31, out_c)),
                 tuple(int(x) for x in rng.integers(-9, 1, out_c)))
    layer = LayerDescriptor(0, "conv2d", 0, "signmag", "filter", geo, rq, tuple(i % 2 for i in range(out_c)))
    return encode(Bitstream(accel, (refs,), (layer,), version=version))
