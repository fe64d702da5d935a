"""rtlgen.conventions: each vocabulary once, and every format and registry agreeing with it."""
from __future__ import annotations

import struct
from typing import get_args

import numpy as np
import pytest

from rtlgen import conventions as cv
from rtlgen.accel import encoding as accel_encoding
from rtlgen.accel.descriptor import LayerDescriptor as AccelDescriptor
from rtlgen.bitstream import format as bsm
from rtlgen.emulate.encoding import TABLE_SIGNED
from rtlgen.emulate.engines import ENGINES
from rtlgen.errors import ConfigError, UnknownNameError
from rtlgen.nn.geometry import Geometry
from rtlgen.nn.graph import MAC_OPS


def test_names_are_the_literal_aliases_in_code_order():
    assert cv.ENCODINGS == get_args(cv.Encoding) == ("signmag", "raw", "offset")
    assert cv.GRANULARITIES == get_args(cv.Granularity) == ("layer", "filter", "kernel")
    assert cv.LAYER_KINDS == get_args(cv.LayerKind) == ("conv2d", "depthwise_conv2d", "fully_connected")
    assert cv.ENGINE_NAMES == get_args(cv.EngineName) == ("reference", "fast", "native")
    assert cv.WEIGHT_TUNINGS == get_args(cv.WeightTuning) == ("none", "uniform", "histogram")
    for names, codes in ((cv.ENCODINGS, cv.ENCODING_CODES), (cv.GRANULARITIES, cv.GRANULARITY_CODES),
                         (cv.LAYER_KINDS, cv.LAYER_KIND_CODES)):
        assert list(codes) == list(names) and list(codes.values()) == list(range(len(names)))


def test_bitstream_v1_codes_are_pinned():
    # format version 1 and the generated RTL depend on these numbers; they must never move
    assert cv.ENCODING_CODES == {"signmag": 0, "raw": 1, "offset": 2}
    assert cv.GRANULARITY_CODES == {"layer": 0, "filter": 1, "kernel": 2}
    assert cv.LAYER_KIND_CODES == {"conv2d": 0, "depthwise_conv2d": 1, "fully_connected": 2}
    # format version 4's op descriptors share the kind byte, after the layer kinds
    assert cv.OP_KIND_CODES == {"add": 3, "average_pool_2d": 4, "max_pool_2d": 5, "pad": 6}


def _bitstream_layer(kind: str, encoding: str, granularity: str) -> bytes:
    geo = Geometry(4, 4, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1)
    n = {"layer": 1, "filter": 3, "kernel": 3 * (1 if kind == "depthwise_conv2d" else 2)}[granularity]
    layer = bsm.LayerDescriptor(5, kind, 0, encoding, granularity, geo,  # type: ignore[arg-type]
                                bsm.Requant(0, 0, -128, 127, (1 << 30,) * 3, (-3,) * 3), (0,) * n)
    bs = bsm.Bitstream("ab", ((bsm.MultiplierRef("h0", False, "m"),),), (layer,))
    data = bsm.encode(bs)
    # format version 5 (as 3 without op descriptors and shares): header 12, accel hash str8 3, model hash str8 1
    # (empty), activation plan 16, U 1, M 1, slot flags 1, table hash str8 3, name str8 2, L 2
    assert bs.version == 5 and bs.model_hash == ""
    at = 12 + 3 + 1 + 16 + 1 + 1 + 1 + 3 + 2 + 2
    assert data[at:at + 2] == struct.pack("<H", 5)  # the descriptor's layer index
    return data[at + 2:at + 6]  # kind, unit, encoding, granularity


@pytest.mark.parametrize("kind", cv.LAYER_KINDS)
@pytest.mark.parametrize("encoding", cv.ENCODINGS)
@pytest.mark.parametrize("granularity", cv.GRANULARITIES)
def test_bitstream_and_accelerator_share_the_codes(kind, encoding, granularity):
    kind_b, unit_b, enc_b, gran_b = _bitstream_layer(kind, encoding, granularity)
    assert (kind_b, unit_b, enc_b, gran_b) == (cv.LAYER_KIND_CODES[kind], 0, cv.ENCODING_CODES[encoding],
                                               cv.GRANULARITY_CODES[granularity])
    d = AccelDescriptor(**AccelDescriptor.geometry_fields(Geometry(4, 4, 2, 4, 4, 3, 3, 3)), in_base=0,
                        out_base=32, w_base=0, p_base=0, unit=0, encoding=encoding, sel_mode=granularity,
                        layer_sel=0, z_x=0, z_y=0, act_min=-128, act_max=127)
    values = d.values()
    assert (values["encoding"], values["sel_mode"]) == (enc_b, gran_b)


def test_registries_and_tables_cover_the_vocabularies():
    assert tuple(ENGINES) == cv.ENGINE_NAMES
    assert set(TABLE_SIGNED) == set(cv.ENCODINGS)
    assert (accel_encoding.SIGNMAG, accel_encoding.RAW, accel_encoding.OFFSET) == (0, 1, 2)
    assert MAC_OPS == cv.TFLITE_MAC_OPS
    assert cv.TFLITE_OP_OF_KIND == {"conv2d": "CONV_2D", "depthwise_conv2d": "DEPTHWISE_CONV_2D",
                                    "fully_connected": "FULLY_CONNECTED"}
    assert {v: k for k, v in cv.KIND_OF_TFLITE_OP.items()} == cv.TFLITE_OP_OF_KIND
    # the modules that used to spell them re-export the one definition
    assert bsm.ENCODINGS is cv.ENCODINGS and bsm.GRANULARITIES is cv.GRANULARITIES


def test_check_name_lists_the_valid_names():
    assert cv.check_name("granularity", "kernel") == "kernel"
    with pytest.raises(UnknownNameError, match=r"^layer 3: unknown granularity 'channel'; valid: layer, filter, "
                                               r"kernel$"):
        cv.check_name("granularity", "channel", "layer 3")
    with pytest.raises(ConfigError, match=r"^a\.json: x: unknown emulation engine 'gpu'; valid: auto, reference, "
                                          r"fast, native$"):
        cv.check_name("emulation engine", "gpu", "x", file="a.json")
    with pytest.raises(ValueError, match=r"^unknown layer kind 3; valid: conv2d, depthwise_conv2d, "
                                         r"fully_connected$"):
        cv.check_name("layer kind", 3)
    with pytest.raises(UnknownNameError, match=r"^unknown vocabulary 'colour'; valid: encoding, encoding choice, granularity, "):
        cv.check_name("colour", "red")


def test_codes_both_ways():
    for kind, names in (("encoding", cv.ENCODINGS), ("granularity", cv.GRANULARITIES),
                        ("layer kind", cv.LAYER_KINDS)):
        for name in names:
            assert cv.name_of(kind, cv.code_of(kind, name)) == name
    with pytest.raises(UnknownNameError, match=r"^encoding code 7 is unknown; valid: 0 signmag, 1 raw, 2 offset$"):
        cv.name_of("encoding", 7)
    with pytest.raises(UnknownNameError, match=r"^vocabulary 'emulation engine' has no numeric codes; "):
        cv.code_of("emulation engine", "fast")
