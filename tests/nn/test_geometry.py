"""rtlgen.nn.geometry: one Geometry from the emulator's layers to the bitstream and the accelerator."""
from __future__ import annotations

import numpy as np
import pytest

from rtlgen import resources
from rtlgen.accel.compose import conv_descriptor
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.job import conv_job
from rtlgen.emulate.layers import compile_mac_layers
from rtlgen.nn.geometry import Geometry
from rtlgen.nn.tflite import load_tflite


def test_geometry_checks_its_fields():
    g = Geometry(8, 6, 3, 4, 3, 5, 3, 3, 2, 2, 1, 0)
    assert (g.in_shape, g.out_shape, g.stride, g.padding) == ((8, 6, 3), (4, 3, 5), (2, 2), (1, 0))
    assert isinstance(Geometry(np.int64(2), 2, 1, 2, 2, 1, 1, 1).in_h, int)
    with pytest.raises(ValueError, match=r"^geometry\.pad_top must be >= 0, not -1$"):
        Geometry(8, 8, 3, 8, 8, 4, 3, 3, 1, 1, -1, 0)
    with pytest.raises(ValueError, match=r"^geometry\.out_c must be at least 1$"):
        Geometry(8, 8, 3, 8, 8, 0, 3, 3)
    with pytest.raises(TypeError, match=r"^geometry\.k_h must be an int, not float$"):
        Geometry(8, 8, 3, 8, 8, 4, 3.0, 3)  # type: ignore[arg-type]


def test_one_geometry_from_model_to_bitstream_to_accelerator():
    graph = load_tflite(resources.DIGITS_MODEL)
    layers = compile_mac_layers(graph)
    config = AccelConfig(units=1, lanes=4, multipliers=2, activation_bytes=1 << 14, weight_words=4096,
                         channels=256)
    seen = set()
    for key, op in [(str(i), op) for i, op in enumerate(graph.conv_ops())] + [("fc:0", graph.last_fc())]:
        layer = layers[op.index]
        g = layer.geometry
        # the layer's own shapes, read independently of Geometry.from_mac_layer
        assert g.in_shape == tuple(layer.in_shape) and g.out_shape == tuple(layer.out_shape)
        assert (g.k_h, g.k_w) == layer.weights.shape[1:3]
        assert g.stride == tuple(layer.stride) and g.padding == (layer.pads[0][0], layer.pads[1][0])
        d = conv_descriptor(graph, key, unit=0)
        assert d.geometry == g
        seen.add(d.kind)
        if d.kind == "depthwise_conv2d":
            continue  # the accelerator runs conv and fully connected layers
        x = np.zeros(g.in_shape, dtype=np.int8)
        job = conv_job(config, x, layer.weights, layer.bias, layer.multiplier, layer.shift, geometry=g,
                       z_x=layer.z_in, z_y=layer.z_out, act_min=layer.act[0], act_max=layer.act[1])
        assert job.descriptor.geometry == g
    assert seen == {"conv2d", "depthwise_conv2d", "fully_connected"}


def test_conv_job_rejects_tensors_of_another_geometry():
    config = AccelConfig(units=1, lanes=4, multipliers=2, activation_bytes=4096, weight_words=512, channels=64)
    g = Geometry(4, 4, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1)
    w = np.zeros((3, 3, 3, 2), dtype=np.int8)
    ones = np.ones(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"^x must be \[4, 4, 2\] and weights \[3, 3, 3, 2\] for geometry "):
        conv_job(config, np.zeros((4, 5, 2), dtype=np.int8), w, ones, ones, ones, geometry=g, z_x=0, z_y=0,
                 act_min=-128, act_max=127)
