from __future__ import annotations

import json
from dataclasses import replace
import re
import struct
import zlib

import numpy as np
import pytest

from rtlgen.bitstream import format as bsm
from rtlgen.bitstream.format import (Bitstream, Geometry, LayerDescriptor, MultiplierRef, Requant, WeightRemap,
                              decode, encode)
from rtlgen.errors import BitstreamError, ConfigError
from rtlgen.netlist.table import exact_table, table_hash

ACCEL = "0123456789abcdef"


def _refs() -> tuple[tuple[MultiplierRef, ...], ...]:
    rng = np.random.default_rng(0)
    exact = exact_table(False)
    tables = [exact, np.clip(exact + rng.integers(-3, 4, exact.shape), 0, 65535), exact & ~1]
    refs = [MultiplierRef(table_hash(t, False), False, f"mul8u_T{i}") for i, t in enumerate(tables)]
    signed = MultiplierRef(table_hash(exact_table(True), True), True, "mul8s_exact")
    return ((refs[0], refs[1], refs[2]), (refs[0], signed))


def _layer(index: int, unit: int, granularity: str, *, out_c: int = 4, in_c: int = 3, kind: str = "conv2d",
           remap: bool = False, encoding: str = "signmag", bank: int = 3) -> LayerDescriptor:
    rng = np.random.default_rng(index)
    geo = Geometry(8, 8, in_c, 8, 8, out_c, 3, 3, 1, 1, 1, 1)
    rq = Requant(-128, 5, -128, 127, tuple(int(x) for x in rng.integers(1 << 30, 1 << 31, out_c)),
                 tuple(int(x) for x in rng.integers(-10, 2, out_c)))
    k = 1 if kind == "depthwise_conv2d" else in_c
    n = {"layer": 1, "filter": out_c, "kernel": out_c * k}[granularity]
    sel = tuple(int(x) for x in rng.integers(0, bank, n))
    remaps = (WeightRemap(0, bytes(rng.integers(0, 256, 256, dtype=np.uint8))),) if remap else ()
    return LayerDescriptor(index, kind, unit, encoding, granularity, geo, rq, sel, remaps)


@pytest.fixture()
def stream() -> Bitstream:
    return Bitstream(ACCEL, _refs(), (
        _layer(0, 0, "layer"),
        _layer(1, 0, "filter", remap=True),
        _layer(2, 0, "kernel"),
        _layer(3, 1, "kernel", kind="depthwise_conv2d", out_c=5, in_c=5, encoding="raw", bank=2),
        # FULLY_CONNECTED layers are numbered apart from conv layers: this is "fc:0"
        _layer(0, 1, "filter", kind="fully_connected", out_c=2, in_c=6, encoding="offset", bank=2),
    ))


def test_roundtrip_exact(stream: Bitstream) -> None:
    data = encode(stream)
    assert data[:4] == b"RTLB"
    assert struct.unpack_from("<HHI", data, 4) == (bsm.VERSION, 0, len(data))
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])
    back = decode(data, expect_accel=ACCEL)
    assert back == stream
    assert encode(back) == data
    assert bsm.from_dict(json.loads(bsm.dumps_json(stream))) == stream


def test_layout_offsets_as_documented(stream: Bitstream) -> None:
    data = encode(stream)
    assert data[12] == len(ACCEL) and data[13:13 + len(ACCEL)] == ACCEL.encode()
    pos = 13 + len(ACCEL)
    assert data[pos] == 0 and bsm.model_hash_offset(stream) == pos  # model hash (version 2): none
    pos += 1
    assert data[pos:pos + 16] == bytes(16)  # activation plan (version 3): none
    pos += 16
    assert data[pos] == 2  # units
    assert data[pos + 1] == 3  # unit 0 bank size
    assert data[pos + 2] == 0  # unsigned flag of unit 0 slot 0
    h = stream.units[0][0].hash.encode()
    assert data[pos + 3] == len(h) and data[pos + 4:pos + 4 + len(h)] == h
    # describe() walks the same offsets: its CRC line must point at N-4
    text = bsm.describe(data)
    assert f"@{len(data) - 4} CRC-32" in text
    for layer in stream.layers:
        m = re.search(rf"@(\d+) layer {layer.index} ", text)
        assert m, text
        assert struct.unpack_from("<H", data, int(m.group(1)))[0] == layer.index


def test_every_bit_flip_rejected(stream: Bitstream) -> None:
    data = encode(stream)
    buf = bytearray(data)
    for i in range(len(data)):
        for bit in range(8):
            buf[i] ^= 1 << bit
            with pytest.raises(BitstreamError, match=r"at byte offset \d+\)$") as info:
                decode(bytes(buf))
            buf[i] ^= 1 << bit
            assert 0 <= info.value.offset <= len(data)  # type: ignore[attr-defined]
    assert bytes(buf) == data


def test_flip_messages_say_what(stream: Bitstream) -> None:
    data = bytearray(encode(stream))
    data[0] ^= 0x20
    with pytest.raises(BitstreamError, match=r"^not an rtlgen bitstream: magic .* \(at byte offset 0\)$"):
        decode(bytes(data))
    data[0] ^= 0x20
    data[40] ^= 1
    with pytest.raises(BitstreamError, match=rf"^CRC mismatch: .* \(at byte offset {len(data) - 4}\)$"):
        decode(bytes(data))


def test_truncation_at_every_offset(stream: Bitstream) -> None:
    data = encode(stream)
    for n in range(len(data)):
        with pytest.raises(BitstreamError, match=r"truncated|not an rtlgen bitstream") as info:
            decode(data[:n])
        if n >= 12:
            assert str(info.value) == (f"truncated: header declares {len(data)} bytes, the stream ends after {n} "
                                       f"(at byte offset {n})")
    with pytest.raises(BitstreamError, match=r"^1 unexpected bytes after the declared end"):
        decode(data + b"\0")


def test_wrong_version_and_accelerator(stream: Bitstream) -> None:
    data = bytearray(encode(stream))
    struct.pack_into("<H", data, 4, 6)
    with pytest.raises(BitstreamError, match=r"^unsupported bitstream format version 6; this rtlgen reads versions 1 "
                                             r"and 2 and 3 and 4 and 5 \(at byte offset 4\)$"):
        decode(bytes(data))
    with pytest.raises(BitstreamError, match=r"^bitstream is for accelerator config '0123456789abcdef', not this one "
                                             r"\('ffff'\) \(at byte offset 12\)$"):
        decode(encode(stream), expect_accel=bytes([255, 255]))


def _recrc(buf: bytearray) -> bytes:
    struct.pack_into("<I", buf, len(buf) - 4, zlib.crc32(bytes(buf[:-4])))
    return bytes(buf)


def test_crafted_bad_fields_located(stream: Bitstream) -> None:
    data = encode(stream)
    text = bsm.describe(data)
    at = int(re.search(r"@(\d+) layer 0 ", text).group(1))
    buf = bytearray(data)
    buf[at + 3] = 7  # unit of layer 0
    with pytest.raises(BitstreamError, match=rf"^layer 0 runs on unit 7, but there are only 2 units \(at byte offset {at + 3}\)$"):
        decode(_recrc(buf))
    buf = bytearray(data)
    buf[at + 4] = 9  # encoding
    with pytest.raises(BitstreamError, match=rf"^encoding of layer 0 code 9 is unknown; valid: 0 signmag, 1 raw, 2 offset "
                                             rf"\(at byte offset {at + 4}\)$"):
        decode(_recrc(buf))
    sel_at = at + 6 + 24 + 8 + 10 + 5 * 4     # the 8: in_base, out_base (version 3)
    buf = bytearray(data)
    buf[sel_at] = 3
    with pytest.raises(BitstreamError, match=rf"^layer 0 select #0 is slot 3, but unit 0 has 3 multipliers "
                                             rf"\(at byte offset {sel_at}\)$"):
        decode(_recrc(buf))


def test_dataclass_validation() -> None:
    refs = _refs()
    with pytest.raises(ValueError, match=r"^layer 0 with filter granularity needs 4 selects, not 3$"):
        LayerDescriptor(0, "conv2d", 0, "signmag", "filter", Geometry(8, 8, 3, 8, 8, 4, 3, 3),
                        Requant(0, 0, -128, 127, (1,) * 4, (0,) * 4), (0, 1, 2))
    with pytest.raises(ValueError, match=r"^layer 0: unknown encoding 'twos'; valid: signmag, raw, offset$"):
        _layer(0, 0, "layer", encoding="twos")
    with pytest.raises(ValueError, match=r"^layer 1 selects slot 2, but unit 1 has 2 multipliers$"):
        Bitstream(ACCEL, refs, (_layer(1, 1, "layer", bank=3).__class__(
            **{**_layer(1, 1, "layer").__dict__, "selects": (2,)}),))


def test_to_assignment(stream: Bitstream) -> None:
    a = bsm.to_assignment(stream)
    assert a["weight_tuning"] == "none"
    bank0 = stream.units[0]
    l0 = stream.layers[0]
    assert a["layers"]["0"] == {"encoding": "signmag", "multiplier": bank0[l0.selects[0]].hash}
    l1 = stream.layers[1]
    assert a["layers"]["1"]["filters"] == [bank0[s].hash for s in l1.selects]
    assert a["layers"]["1"]["weight_remap"] == {bank0[0].hash: list(l1.weight_remap[0].codes)}
    l2 = stream.layers[2]
    kern = a["layers"]["2"]["kernels"]
    assert len(kern) == 4 and len(kern[0]) == 3
    assert kern[2][1] == bank0[l2.selects[2 * 3 + 1]].hash
    assert len(a["layers"]["3"]["kernels"][0]) == 1  # depthwise: one kernel per channel
    assert a["layers"]["fc:0"]["encoding"] == "offset"
    assert stream.layer("fc:0").kind == "fully_connected" and stream.layer(0).kind == "conv2d"


def test_layer_numbering_is_per_kind(stream: Bitstream) -> None:
    """conv2d and depthwise_conv2d share the conv numbering; fully_connected has its own."""
    conv = _layer(0, 0, "layer")
    with pytest.raises(ValueError, match=r"^layer 0 is described twice \(not as consecutive shares\)$"):
        Bitstream(ACCEL, _refs(), (conv, _layer(0, 1, "kernel", kind="depthwise_conv2d", out_c=5, in_c=5, bank=2)))
    fc = _layer(1, 1, "layer", kind="fully_connected", out_c=2, in_c=6, bank=2)
    with pytest.raises(ValueError, match=r"^layer fc:1 is described twice \(not as consecutive shares\)$"):
        Bitstream(ACCEL, _refs(), (conv, fc, fc))
    # the same pair smuggled into the binary form: decode names the second descriptor's offset
    data = bytearray(encode(Bitstream(ACCEL, _refs(), (conv, fc, replace(fc, index=2)))))
    second = data.rfind(struct.pack("<HB", 2, bsm.LAYER_KINDS.index("fully_connected")))
    data[second:second + 2] = struct.pack("<H", 1)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(BitstreamError, match=rf"^layer fc:1 is described twice .*byte offset {second}\)$"):
        decode(bytes(data))


def test_cli_roundtrip(tmp_path, stream: Bitstream, capsys) -> None:
    from rtlgen.cli import main

    spec = tmp_path / "spec.json"
    spec.write_text(bsm.dumps_json(stream))
    out = tmp_path / "cfg.bin"
    assert main(["bitstream", "encode", str(spec), "--out", str(out), "--accel-hash", ACCEL]) == 0
    assert out.read_bytes() == encode(stream)
    back = tmp_path / "back.json"
    assign = tmp_path / "assign.json"
    assert main(["bitstream", "decode", str(out), "-o", str(back), "--assignment", str(assign)]) == 0
    assert bsm.from_dict(json.loads(back.read_text())) == stream
    assert json.loads(assign.read_text()) == bsm.to_assignment(stream)
    capsys.readouterr()
    assert main(["bitstream", "inspect", str(out)]) == 0
    assert "layer 2 conv2d on unit 0, signmag, kernel selects" in capsys.readouterr().out
    bad = tmp_path / "bad.bin"
    bad.write_bytes(out.read_bytes()[:50])
    assert main(["bitstream", "inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"bad\.bin: truncated: header declares \d+ bytes, the stream ends after 50 \(at byte offset 50\)", err)
    assert main(["bitstream", "decode", str(out), "--accel-hash", "beef"]) == 1
    assert "not this one ('beef')" in capsys.readouterr().err
    spec.write_text('{"units": [}')
    assert main(["bitstream", "encode", str(spec), "--out", str(tmp_path / "x.bin")]) == 1
    assert re.search(r"spec\.json:1: not valid JSON", capsys.readouterr().err)
    assert not (tmp_path / "x.bin").exists()


def test_cli_accel_config_check(tmp_path, stream: Bitstream, capsys) -> None:
    """--accel with a shape-only config: the bitstream must carry the hash of that shape with its
    own banks (rtlgen.accel.config's resolved form)."""
    import dataclasses

    from rtlgen.accel.config import load_config
    from rtlgen.cli import main

    accel = tmp_path / "accel.toml"
    accel.write_text("version = 1\nname = \"t\"\n[accelerator]\nunits = 2\nlanes = 4\nmultipliers = 3\n"
                     "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
    cfg = load_config(accel)
    # a shape-only config cannot describe a unit with 2 multipliers: give both units 3
    units = (stream.units[0], stream.units[1] + (stream.units[0][2],))
    good = dataclasses.replace(stream, units=units,
                               accel_hash=cfg.with_multipliers([[m.hash for m in b] for b in units]).config_hash())
    path = tmp_path / "good.bin"
    bsm.write_bitstream(path, good)
    assert main(["bitstream", "inspect", str(path), "--accel", str(accel)]) == 0
    assert "accelerator hash matches" in capsys.readouterr().out
    bad = tmp_path / "bad.bin"
    bsm.write_bitstream(bad, dataclasses.replace(good, accel_hash="0" * 16))
    assert main(["bitstream", "decode", str(bad), "--accel", str(accel)]) == 1
    assert re.search(r"bad\.bin: bitstream is for accelerator config '0{16}', not this one \('[0-9a-f]{16}'\) "
                     r"\(at byte offset 12\)", capsys.readouterr().err)


def test_version_2_carries_the_model_hash(stream: Bitstream) -> None:
    tied = replace(stream, model_hash="0123456789abcdef")
    data = encode(tied)
    at = bsm.model_hash_offset(tied)
    assert data[at] == 16 and data[at + 1:at + 17] == b"0123456789abcdef"
    assert decode(data) == tied and len(data) == len(encode(stream)) + 16
    assert "model hash 0123456789abcdef" in bsm.describe(data)
    assert bsm.from_dict(json.loads(bsm.dumps_json(tied))) == tied


def test_version_1_still_read_and_written_back(stream: Bitstream) -> None:
    """Version 1 (no model-hash field) decodes as version 1 and encodes back byte for byte."""
    v1 = replace(stream, version=1)
    data = encode(v1)
    assert struct.unpack_from("<H", data, 4)[0] == 1 and len(data) == len(encode(replace(stream, version=2))) - 1
    # the version-2 bytes without the (empty) model-hash byte, with the version and CRC fixed
    v2 = bytearray(encode(replace(stream, version=2)))
    at = bsm.model_hash_offset(stream)
    manual = bytearray(v2[:at] + v2[at + 1:])
    struct.pack_into("<HHI", manual, 4, 1, 0, len(manual))
    assert _recrc(manual) == data
    back = decode(data)
    assert back == v1 and back.version == 1 and back.model_hash == "" and encode(back) == data
    assert back.layers == stream.layers and back.units == stream.units
    with pytest.raises(ValueError, match=r"^a version-1 bitstream has no model hash; write version 2 or later$"):
        replace(stream, version=1, model_hash="ab")


def test_version_3_carries_the_plan_and_version_2_is_still_read(stream: Bitstream) -> None:
    """Version 3 adds the activation plan (16 header bytes, 8 per descriptor); version 2 is
    version 3 without them, read back with zero plan fields and written back byte for byte."""
    planned = replace(stream, input_base=100, input_bytes=48, output_base=7, output_bytes=2,
                      layers=tuple(replace(l, in_base=10 * i, out_base=10 * i + 5) for i, l in enumerate(stream.layers)))
    data = encode(planned)
    at = bsm.model_hash_offset(planned) + 1
    assert struct.unpack_from("<4I", data, at) == (100, 48, 7, 2)
    assert len(data) == len(encode(stream)) and decode(data) == planned
    assert bsm.from_dict(json.loads(bsm.dumps_json(planned))) == planned
    text = bsm.describe(data)
    assert "activation memory: input 48 bytes at 100, output 2 bytes at 7" in text
    for i, layer in enumerate(planned.layers):
        m = re.search(rf"@(\d+) layer {layer.index} {layer.kind}", text)
        assert struct.unpack_from("<II", data, int(m.group(1)) + 6 + 24) == (10 * i, 10 * i + 5)
    v2 = encode(replace(stream, version=2))
    assert len(v2) == len(data) - 16 - 8 * len(stream.layers) and struct.unpack_from("<H", v2, 4)[0] == 2
    back = decode(v2)
    assert back.version == 2 and back.layers == stream.layers and not back.has_plan and encode(back) == v2
    with pytest.raises(ValueError, match=r"^a version-2 bitstream has no activation-memory plan; write version 3$"):
        replace(planned, version=2)


def _ops() -> tuple[bsm.OpDescriptor, ...]:
    add = bsm.AddDescriptor(0, in_base=0, in2_base=64, out_base=128, count=64, input_zero_points=(-3, 17),
                            input_multipliers=(1 << 30, 1717986918), input_shifts=(0, -2), left_shift=20,
                            output_zero_point=-128, output_multiplier=1518500250, output_shift=-19, act_min=-128,
                            act_max=127, after_layers=2)
    avg = bsm.PoolDescriptor(0, "average_pool_2d", Geometry(8, 8, 4, 1, 1, 4, 8, 8), in_base=128, out_base=0,
                             act_min=-100, act_max=127, after_layers=5)
    mx = bsm.PoolDescriptor(0, "max_pool_2d", Geometry(5, 5, 3, 3, 3, 3, 2, 2, 2, 2, 0, 0), 0, 200,
                            after_layers=0)
    pad = bsm.PadDescriptor(0, Geometry(4, 4, 8, 6, 7, 8, 1, 1, 1, 1, 1, 2), in_base=0, out_base=300, value=-128,
                            after_layers=5)
    return (add, avg, mx, pad)


def test_version_4_op_descriptors_round_trip_in_graph_order(stream: Bitstream) -> None:
    """Op descriptors sit between the layer descriptors (after ``after_layers`` of them), each
    in its documented size; the layer count counts both; v4 reads back equal."""
    v4 = replace(stream, ops=_ops())
    data = encode(v4)
    assert struct.unpack_from("<H", data, 4)[0] == 5 == bsm.VERSION
    assert len(data) == len(encode(stream)) + 49 + 37 + 37 + 36
    back = decode(data)
    assert back == v4 and encode(back) == data and back.layers == stream.layers
    assert bsm.from_dict(json.loads(bsm.dumps_json(v4))) == v4
    order = [d.key for d in v4.descriptors()]
    assert order == ["max_pool_2d:0", "0", "1", "add:0", "2", "3", "fc:0", "average_pool_2d:0", "pad:0"]
    text = bsm.describe(data)
    assert "5 layer descriptors and 4 op descriptors" in text
    (count_at,) = (int(m) for m in re.findall(r"@(\d+) 5 layer descriptors", text))
    assert struct.unpack_from("<H", data, count_at)[0] == 9
    # each op at its offset: index, kind code, then its bases
    at = int(re.search(r"@(\d+) op 0 add", text).group(1))
    assert struct.unpack_from("<HB4I", data, at) == (0, 3, 0, 64, 128, 64)
    assert struct.unpack_from("<iibiib B", data, at + 19)[:7] == (-3, 1 << 30, 0, 17, 1717986918, -2, 20)
    at = int(re.search(r"@(\d+) op 0 average_pool_2d", text).group(1))
    assert struct.unpack_from("<HBII12Hbb", data, at) == (0, 4, 128, 0, 8, 8, 4, 1, 1, 4, 8, 8, 1, 1, 0, 0, -100, 127)
    pad_at = int(re.search(r"@(\d+) op 0 pad", text).group(1))
    assert pad_at - at == 37
    assert struct.unpack_from("<HBII12Hb", data, pad_at) == (0, 6, 0, 300, 4, 4, 8, 6, 7, 8, 1, 1, 1, 1, 1, 2, -128)
    assert int(re.search(r"@(\d+) CRC-32", text).group(1)) - pad_at == 36
    at = int(re.search(r"@(\d+) op 0 max_pool_2d", text).group(1))
    assert data[at + 2] == 5 and int(re.search(r"@(\d+) layer 0 conv2d", text).group(1)) - at == 37


def test_version_3_is_still_read_and_has_no_ops(stream: Bitstream) -> None:
    v3 = encode(replace(stream, version=3))
    assert struct.unpack_from("<H", v3, 4)[0] == 3 and len(v3) == len(encode(stream))
    back = decode(v3)
    assert back.version == 3 and back.ops == () and back.layers == stream.layers and encode(back) == v3
    with pytest.raises(ValueError, match=r"^a version-3 bitstream has no op descriptors; write version 4$"):
        replace(stream, version=3, ops=_ops())
    # in version 3 an op's kind code is unknown
    data = bytearray(encode(replace(stream, version=3)))
    at = int(re.search(r"@(\d+) layer 0 conv2d", bsm.describe(bytes(data))).group(1))
    data[at + 2] = 3
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(data[:-4]))
    with pytest.raises(BitstreamError, match=rf"^kind of layer 0 code 3 is unknown; valid: 0 conv2d, 1 "
                                             rf"depthwise_conv2d, 2 fully_connected \(at byte offset {at + 2}\)$"):
        decode(bytes(data))


def test_version_4_bad_op_descriptors_are_refused_at_their_offset(stream: Bitstream) -> None:
    data = bytearray(encode(replace(stream, ops=_ops())))
    at = int(re.search(r"@(\d+) op 0 add", bsm.describe(bytes(data))).group(1))
    struct.pack_into("<b", data, at + 19 + 8, 3)          # first input's shift: a left shift
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(data[:-4]))
    with pytest.raises(BitstreamError, match=rf"^op descriptor: add 0 input_shifts\[0\] must lie in -31..0, not 3 "
                                             rf"\(at byte offset {at}\)$"):
        decode(bytes(data))
    with pytest.raises(ValueError, match=r"^average_pool_2d:0 has 4 input channels but 5 output channels; a pool "
                                         r"keeps them$"):
        bsm.PoolDescriptor(0, "average_pool_2d", Geometry(8, 8, 4, 1, 1, 5, 8, 8), 0, 10)
    with pytest.raises(ValueError, match=r"^pad:0 output 5x7 cannot hold the 4x4 input after padding 2,2$"):
        bsm.PadDescriptor(0, Geometry(4, 4, 8, 5, 7, 8, 1, 1, 1, 1, 2, 2), 0, 300, 0)
    with pytest.raises(ValueError, match=r"^add:0 is described twice$"):
        replace(stream, ops=_ops()[:1] * 2)
    with pytest.raises(ValueError, match=r"^add:0 comes after 9 layer descriptors, but there are 5$"):
        replace(stream, ops=(replace(_ops()[0], after_layers=9),))


def _split(d: LayerDescriptor, units: tuple[int, ...], bounds: tuple[int, ...]) -> tuple[LayerDescriptor, ...]:
    """``d`` as shares on ``units`` over channel ranges bounds[i]..bounds[i+1] (same selects)."""
    return tuple(replace(d, unit=u, co_first=lo, co_end=hi) for u, lo, hi in zip(units, bounds, bounds[1:]))


def test_shares_round_trip_with_the_flag_and_range_in_place(stream: Bitstream) -> None:
    """Version 5: a split layer is consecutive descriptors of the same key, each with the share
    flag (bit 7 of the granularity byte) and its u16 channel range right after that byte; the
    unsplit descriptors keep version 4's bytes."""
    one = stream.layers[2]                          # kernel selects, out_c 4; unit 1's bank is 2 wide
    one = replace(one, selects=tuple(s % 2 for s in one.selects))
    shares = _split(one, (1, 0), (0, 2, 4))
    split = replace(stream, layers=(*stream.layers[:2], *shares, *stream.layers[3:]))
    data = encode(split)
    assert decode(data) == split and encode(decode(data)) == data
    assert bsm.from_dict(json.loads(bsm.dumps_json(split))) == split
    assert [d.is_share for d in split.layers] == [False, False, True, True, False, False]
    assert split.shares(2) == shares and split.shares("fc:0") == (stream.layers[4],)
    with pytest.raises(ValueError, match=r"^layer 2 is split in 2 shares; use Bitstream.shares$"):
        split.layer(2)
    # in the bytes: each share's granularity byte has bit 7, the range follows it
    text = bsm.describe(data)
    ats = [int(a) for a in re.findall(r"@(\d+) layer 2 conv2d, output channels (?:0\.\.1|2\.\.3) \(a share\)", text)]
    assert len(ats) == 2 and text.splitlines()[-1] == f"  @{len(data) - 4} CRC-32"
    for at, (lo, hi), unit in zip(ats, ((0, 2), (2, 4)), (1, 0)):
        assert data[at + 3] == unit and data[at + 5] == bsm.GRANULARITY_CODES["kernel"] | bsm.SHARE_FLAG
        assert struct.unpack_from("<HH", data, at + 6) == (lo, hi)
    # the other descriptors' bytes are version 4's: the same bitstream without the split differs
    # from version 4 only in the version field (and the CRC)
    v4 = bytearray(encode(replace(stream, version=4)))
    struct.pack_into("<H", v4, 4, 5)
    assert bytes(v4[:-4]) == encode(stream)[:-4]


def test_share_rules_name_the_layer_and_offset(stream: Bitstream) -> None:
    d = stream.layers[0]                            # layer selects, out_c 4
    others = stream.layers[1:]

    def bs(*layers, **kw):
        return Bitstream(ACCEL, _refs(), (*layers, *others), **kw)

    with pytest.raises(ValueError, match=r"^layer 0: its shares \[0, 2\) do not cover its 4 output channels$"):
        bs(*_split(d, (0,), (0, 2)))
    with pytest.raises(ValueError, match=r"^layer 0: its first share starts at channel 1, not 0$"):
        bs(*_split(d, (0, 0), (1, 2, 4)))
    with pytest.raises(ValueError, match=r"^layer 0: share \[3, 4\) does not start where the one before it ends \(2\)"):
        bs(*_split(d, (0,), (0, 2)), *_split(d, (0,), (3, 4)))
    with pytest.raises(ValueError, match=r"^layer 0: share \[2, 4\) has another requant than the layer's first share"):
        a, b = _split(d, (0, 1), (0, 2, 4))
        bs(a, replace(b, requant=replace(b.requant, output_zero_point=6)))
    with pytest.raises(ValueError, match=r"^layer 0 has a channel range, which a version-4 bitstream cannot hold"):
        bs(*_split(d, (0, 1), (0, 2, 4)), version=4)
    with pytest.raises(ValueError, match=r"channel range \[2, 2\) is not a nonempty part of its 4 output channels"):
        replace(d, co_first=2, co_end=2)
    # one multiplier remapped in one share and not in the other: the emulator's assignment has one
    # remap per multiplier and layer
    a, b = _split(replace(d, selects=(0,)), (0, 1), (0, 2, 4))
    with pytest.raises(ValueError, match=r"^layer 0: share \[2, 4\) remaps multiplier \w+ otherwise than an earlier"):
        bs(a, replace(b, weight_remap=(WeightRemap(0, bytes(range(255, -1, -1))),)))
    bs(a, b)                                        # the same multiplier, neither remapped: fine
    # an op descriptor between two shares splits them: the layer is then described twice
    with pytest.raises(ValueError, match=r"^layer 0: its shares \[0, 2\) do not cover"):
        Bitstream(ACCEL, _refs(), (a, b, *others), ops=(replace(_ops()[0], after_layers=1),))
    # in the binary form: decode names the offending descriptor's byte offset
    good = encode(bs(a, b))
    at = [int(x) for x in re.findall(r"@(\d+) layer 0 conv2d, output channels", bsm.describe(good))][1]
    bad = bytearray(good)
    struct.pack_into("<H", bad, at + 6, 3)           # the second share now starts at 3
    bad[-4:] = struct.pack("<I", zlib.crc32(bytes(bad[:-4])))
    with pytest.raises(BitstreamError, match=rf"^layer 0: share \[3, 4\) does not start where .*byte offset {at}\)$"):
        decode(bytes(bad))
    bad = bytearray(encode(bs(d)))                   # the flag on a descriptor without a range
    first = 13 + len(ACCEL) + 1 + 16 + 1 + sum(1 + sum(3 + len(m.hash) + len(m.name) for m in bank) for bank in _refs()) + 2
    bad[first + 5] |= bsm.SHARE_FLAG
    bad[first + 6:first + 6] = struct.pack("<HH", 0, 4)
    struct.pack_into("<I", bad, 8, len(bad))
    bad[-4:] = struct.pack("<I", zlib.crc32(bytes(bad[:-4])))
    with pytest.raises(BitstreamError, match=rf"^layer 0 has the share flag but covers all its 4 output channels "
                                             rf"\(at byte offset {first}\)$"):
        decode(bytes(bad))


def test_assignment_of_a_split_layer_takes_each_channels_share(stream: Bitstream) -> None:
    """Each output channel gets the multiplier its share's unit has at its select: two layer-wide
    shares on banks with different multipliers become one per filter."""
    d = replace(stream.layers[0], selects=(1,))     # unit 0 slot 1: T1; unit 1 slot 1: signed exact
    units = ((stream.units[0][0], stream.units[0][1], stream.units[0][2]), (stream.units[0][2], stream.units[0][1]))
    a, b = _split(d, (0, 1), (0, 3, 4))
    split = Bitstream(ACCEL, units, (a, replace(b, selects=(0,)), *stream.layers[1:3]))
    got = bsm.to_assignment(split)["layers"]["0"]
    t1, t2 = units[0][1].hash, units[0][2].hash
    assert got == {"encoding": "signmag", "filters": [t1, t1, t1, t2]}
    same = Bitstream(ACCEL, units, (a, replace(b, selects=(1,)), *stream.layers[1:3]))
    assert bsm.to_assignment(same)["layers"]["0"] == {"encoding": "signmag", "multiplier": t1}
