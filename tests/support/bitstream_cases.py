"""Small hand-made images for the front end's tests (the loader in Amaranth, the device in Icarus,
the host driver over a model bus): a config.bin of one conv layer and two multipliers, the
weights.bin of a small model, and the accelerator hashes."""
from __future__ import annotations

import numpy as np

from rtlgen.bitstream import weights as wmod
from rtlgen.bitstream.format import VERSION, Bitstream, Geometry, LayerDescriptor, MultiplierRef, Requant, encode

ACCEL = "0123456789abcdef"
OTHER = "fedcba9876543210"
#: lanes of the hardware the small images are for
LANES = 4


def small_weights_image(seed: int = 0, lanes: int = LANES) -> wmod.WeightsImage:
    """A small model's weights (a 3x3 conv of 6 channels, a 1x1 one, a classifier): seeds give
    other models (other model hashes)."""
    rng = np.random.default_rng(100 + seed)

    def layer(index, kind, shape):
        return wmod.LayerWeights(index, kind, rng.integers(-128, 128, shape), rng.integers(-5000, 5000, shape[0]))

    return wmod.WeightsImage(lanes, (layer(0, "conv2d", (6, 3, 3, 3)), layer(1, "conv2d", (8, 1, 1, 6)),
                                     layer(0, "fully_connected", (3, 1, 1, 8))))


def small_weights(seed: int = 0, lanes: int = LANES) -> bytes:
    return wmod.encode(small_weights_image(seed, lanes))


def small_bitstream(accel: str = ACCEL, out_c: int = 8, version: int = VERSION, model_hash: str | None = "") -> bytes:
    """``model_hash``: the str8 after the accelerator hash (versions 2, 3); ``None``: the hash of
    :func:`small_weights`'s model (seed 0)."""
    if model_hash is None:
        model_hash = small_weights_image().model_hash
    rng = np.random.default_rng(1)
    refs = (MultiplierRef("a" * 16, False, "mul8u_A"), MultiplierRef("b" * 16, False, "mul8u_B"))
    geo = Geometry(6, 6, 3, 6, 6, out_c, 3, 3, 1, 1, 1, 1)
    rq = Requant(-128, 3, -128, 127, tuple(int(x) for x in rng.integers(1 << 30, 1 << 31, out_c)),
                 tuple(int(x) for x in rng.integers(-9, 1, out_c)))
    layer = LayerDescriptor(0, "conv2d", 0, "signmag", "filter", geo, rq, tuple(i % 2 for i in range(out_c)))
    return encode(Bitstream(accel, (refs,), (layer,), version=version, model_hash=model_hash))
