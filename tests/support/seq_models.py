"""Small int8 models for the sequencer tests, written with rtlgen's TFLite writer: a chain of
CONV_2D layers (3x3 SAME, 3x3 stride 2, 1x1), one with a DEPTHWISE_CONV_2D in the middle and
one with a PAD and a MAX_POOL_2D there.
Every activation has zero point -128 with a ReLU, so the ``signmag`` encoding takes any input."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rtlgen.nn.tflite_writer import Quant, TfliteGraph

ZP = -128


def _conv(g: TfliteGraph, rng: np.random.Generator, x: int, shape_in: tuple[int, int, int], cout: int, k: int,
          stride: int, padding: str, name: str, depthwise: bool = False,
          depth_multiplier: int = 1) -> tuple[int, tuple[int, int, int]]:
    h, w, cin = shape_in
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    wshape = (1, k, k, cout) if depthwise else (cout, k, k, cin)
    weights = rng.integers(-127, 128, wshape).astype(np.int8)
    axis = 3 if depthwise else 0
    w_scales = tuple(float(s) for s in rng.uniform(0.004, 0.01, cout))
    wt = g.tensor(f"{name}_w", wshape, "int8", data=weights, quant=Quant(w_scales, (0,) * cout, axis))
    in_scale = 0.05
    bias = rng.integers(-2000, 2000, cout).astype(np.int32)
    bt = g.tensor(f"{name}_b", (cout,), "int32", data=bias,
                  quant=Quant(tuple(in_scale * s for s in w_scales), (0,) * cout))
    y = g.tensor(name, (1, oh, ow, cout), "int8", quant=Quant((0.05,), (ZP,)))
    extra = {"depth_multiplier": depth_multiplier} if depthwise else {}
    g.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wt, bt], [y], padding=padding, stride=stride,
         activation="RELU", **extra)
    return y, (oh, ow, cout)


def conv_chain(path: Path, *, depthwise: bool = False, pad_pool: bool = False, seed: int = 3,
               depth_multiplier: int = 1) -> Path:
    """``path`` written: 6x6x3 -> conv 3x3 SAME (8) -> [depthwise 3x3 SAME (8 x depth_multiplier)] -> [PAD 1 row
    before, 1 column each side (7x8x8) -> MAX_POOL_2D 3x3 stride 2 SAME (4x4x8)] -> conv 3x3 stride 2
    VALID (6; with the pool: stride 1 SAME) -> conv 1x1 (5)."""
    rng = np.random.default_rng(seed)
    g = TfliteGraph("seq-test")
    x = g.tensor("x", (1, 6, 6, 3), "int8", quant=Quant((0.05,), (ZP,)))
    t, s = _conv(g, rng, x, (6, 6, 3), 8, 3, 1, "SAME", "c0")
    if depthwise:
        t, s = _conv(g, rng, t, s, 8 * depth_multiplier, 3, 1, "SAME", "dw", depthwise=True,
                     depth_multiplier=depth_multiplier)
    if pad_pool:
        pads = g.tensor("pads", (4, 2), "int32", data=np.array([[0, 0], [1, 0], [1, 1], [0, 0]], np.int32))
        padded = g.tensor("padded", (1, 7, 8, 8), "int8", quant=Quant((0.05,), (ZP,)))
        g.op("PAD", [t, pads], [padded])
        t = g.tensor("pooled", (1, 4, 4, 8), "int8", quant=Quant((0.05,), (ZP,)))
        g.op("MAX_POOL_2D", [padded, ], [t], filter=(3, 3), stride=(2, 2), padding="SAME", activation="NONE")
        s = (4, 4, 8)
    # after the pool: 3x3 SAME, so the output keeps 4x4 pixels
    t, s = _conv(g, rng, t, s, 6, 3, 1 if pad_pool else 2, "SAME" if pad_pool else "VALID", "c1")
    y, s = _conv(g, rng, t, s, 5, 1, 1, "SAME", "c2")
    path.write_bytes(g.to_bytes(inputs=[x], outputs=[y]))
    return path
