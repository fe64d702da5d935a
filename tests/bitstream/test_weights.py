"""weights.bin (rtlgen.bitstream.weights): layout, round trip, and every corruption located."""
from __future__ import annotations

import re
import struct
import zlib

import numpy as np
import pytest

from rtlgen.bitstream import weights as wmod
from rtlgen.bitstream.weights import LayerWeights, WeightsImage, decode, encode
from rtlgen.errors import BitstreamError


def _image(lanes: int = 4, seed: int = 0) -> WeightsImage:
    rng = np.random.default_rng(seed)

    def layer(index, kind, shape):
        return LayerWeights(index, kind, rng.integers(-128, 128, shape), rng.integers(-(1 << 31), 1 << 31, shape[0]))

    return WeightsImage(lanes, (
        layer(0, "conv2d", (5, 3, 3, 2)),                # 2 groups of 4 lanes, 3 lanes empty
        layer(1, "depthwise_conv2d", (3, 3, 3, 1)),
        layer(2, "conv2d", (8, 1, 1, 3)),                # full groups
        layer(0, "fully_connected", (2, 1, 1, 7)),       # numbered apart from conv layers: "fc:0"
    ))


def _recrc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])))
    return bytes(data)


def _offset_of(data: bytes) -> int:
    with pytest.raises(BitstreamError) as info:
        decode(data)
    assert re.search(rf"\(at byte offset {info.value.offset}\)$", info.value.message)
    return info.value.offset


@pytest.mark.parametrize("lanes", [1, 3, 4, 16])
def test_roundtrip(lanes: int) -> None:
    img = _image(lanes)
    data = encode(img)
    back = decode(data, expect_model=img.model_hash)
    assert back == img and encode(back) == data
    assert [l.key for l in back.layers] == ["0", "1", "2", "fc:0"]
    assert all(l.weights.dtype == np.int8 and l.bias.dtype == np.int32 for l in back.layers)


def test_layout_as_documented() -> None:
    img = _image(4)
    data = encode(img)
    assert data[:4] == b"RTLW"
    assert struct.unpack_from("<HHIHH", data, 4) == (1, 0, len(data), 4, 4)
    assert data[16:32].decode() == img.model_hash and re.fullmatch(r"[0-9a-f]{16}", img.model_hash)
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])
    assert len(data) % 4 == 0
    pos = 32 + 24 * 4
    for r, layer in enumerate(img.layers):
        index, kind, reserved, o, kh, kw, g, w_off, nw, b_off = struct.unpack_from("<HBB4HIII", data, 32 + 24 * r)
        assert (index, kind, reserved, (o, kh, kw, g)) == (layer.index, {"conv2d": 0, "depthwise_conv2d": 1,
                                                                         "fully_connected": 2}[layer.kind], 0,
                                                           layer.shape)
        assert w_off == pos and w_off % 4 == 0 and b_off % 4 == 0
        groups, k = -(-o // 4), kh * kw * g
        assert nw == groups * k * 4
        w = layer.weights
        for gr in range(groups):          # byte (gr*K + k)*L + l = w[gr*L + l, ky, kx, g]
            for kk in range(k):
                for lane in range(4):
                    co = gr * 4 + lane
                    want = w[co].reshape(-1)[kk] if co < o else 0
                    assert (data[w_off + (gr * k + kk) * 4 + lane] ^ 0x80) - 0x80 == want
        assert np.array_equal(np.frombuffer(data, "<i4", o, b_off), layer.bias)
        pos = b_off + 4 * o
    assert pos == len(data) - 4


def test_weight_section_is_the_weight_memory_without_selects() -> None:
    """Independent oracle: the accelerator's own weight-memory image (rtlgen.accel.descriptor)."""
    from rtlgen.accel.config import AccelConfig
    from rtlgen.accel.descriptor import weight_image

    for lanes in (1, 4, 16):
        config = AccelConfig(units=1, lanes=lanes, multipliers=4, activation_bytes=4096, weight_words=4096,
                             channels=64)
        for layer in _image(lanes).layers:
            rng = np.random.default_rng(1)
            selects = rng.integers(0, 4, layer.shape[0])
            words = weight_image(layer.weights, selects, config)
            low = b"".join((w & ((1 << (8 * lanes)) - 1)).to_bytes(lanes, "little") for w in words)
            assert layer.weight_section(lanes) == low


def test_model_hash_is_of_the_weights() -> None:
    a = _image(4)
    assert _image(16).model_hash == a.model_hash           # the layout does not change it
    w = a.layers[0].weights.copy()
    w[0, 0, 0, 0] ^= 1
    changed = WeightsImage(4, (LayerWeights(0, "conv2d", w, a.layers[0].bias),) + a.layers[1:])
    assert changed.model_hash != a.model_hash
    b = a.layers[3].bias.copy()
    b[1] += 1
    assert WeightsImage(4, a.layers[:3] + (LayerWeights(0, "fully_connected", a.layers[3].weights, b),)
                        ).model_hash != a.model_hash


def test_every_header_bit_flip_rejected_with_its_offset() -> None:
    data = encode(_image(4))
    n = len(data)
    for byte in range(wmod.HEADER_SIZE):
        for bit in range(8):
            bad = bytearray(data)
            bad[byte] ^= 1 << bit
            if byte < 4:
                want = byte                                  # magic: the differing byte
            elif byte < 6:
                want = 4                                     # version
            elif byte < 8:
                want = 6                                     # flags
            elif byte < 12:                                  # length: too short, truncated or too long
                total = struct.unpack_from("<I", bad, 8)[0]
                want = 8 if total < wmod.HEADER_SIZE + 4 else n if total > n else total
            else:
                want = n - 4                                 # lanes, record count, model hash: CRC
            assert _offset_of(bytes(bad)) == want, (byte, bit)


def test_sample_of_payload_bit_flips_rejected() -> None:
    data = encode(_image(4))
    rng = np.random.default_rng(0)
    for pos in rng.choice(np.arange(wmod.HEADER_SIZE * 8, len(data) * 8), 300, replace=False):
        bad = bytearray(data)
        bad[pos // 8] ^= 1 << (pos % 8)
        with pytest.raises(BitstreamError, match=r"^CRC mismatch: .*\(at byte offset %d\)$" % (len(data) - 4)):
            decode(bytes(bad))


def test_every_truncation_rejected_with_its_offset() -> None:
    data = encode(_image(3))
    for n in range(len(data)):
        off = _offset_of(data[:n])
        assert off == n, (n, off)
    with pytest.raises(BitstreamError, match=r"^4 unexpected bytes after the declared end of \d+ bytes "
                                             r"\(at byte offset %d\)$" % len(data)):
        decode(data + bytes(4))


def test_messages_say_what_was_expected() -> None:
    data = encode(_image(4))
    cases = [
        (b"RTLB" + data[4:], r"^not an rtlgen weights image: magic is 52544c42, expected 52544c57 \(RTLW\) "
                             r"\(at byte offset 3\)$"),
        (data[:4] + b"\x02\x00" + data[6:], r"^unsupported weights image format version 2; this rtlgen reads "
                                            r"version 1 \(at byte offset 4\)$"),
        (data[:6] + b"\x01\x00" + data[8:], r"^header flags must be 0 in format version 1, not 0x0001 "
                                            r"\(at byte offset 6\)$"),
        (data[:8] + struct.pack("<I", 8) + data[12:], r"^declared length 8 is shorter than the header and CRC "
                                                      r"\(36 bytes\) \(at byte offset 8\)$"),
        (data[:20], r"^truncated: the image ends inside the 32-byte header \(20 bytes\) \(at byte offset 20\)$"),
        (data[:-1], r"^truncated: header declares %d bytes, the image ends after %d \(at byte offset %d\)$"
         % (len(data), len(data) - 1, len(data) - 1)),
    ]
    for bad, pattern in cases:
        with pytest.raises(BitstreamError, match=pattern):
            decode(bad)


def _crafted(change) -> bytes:
    data = bytearray(encode(_image(4)))
    change(data)
    return _recrc(data)


@pytest.mark.parametrize("change, offset, pattern", [
    (lambda d: struct.pack_into("<H", d, 12, 0), 12, r"^lane count L is 0"),
    (lambda d: d.__setitem__(slice(16, 18), b"XY"), 16, r"^model hash b'XY.*' is not 16 lowercase hex digits"),
    (lambda d: d.__setitem__(16, ord("0") if d[16] != ord("0") else ord("1")), 16,
     r"^model hash \w+ does not describe the weights the image carries"),
    (lambda d: struct.pack_into("<H", d, 14, 200), 32, r"^truncated: 200 layer records need"),
    (lambda d: d.__setitem__(32 + 2, 7), 34, r"^record 0: layer kind code 7 is unknown; valid: 0 conv2d, "
                                              r"1 depthwise_conv2d, 2 fully_connected"),
    (lambda d: d.__setitem__(32 + 3, 1), 35, r"^record 0 \(layer 0\): reserved byte must be 0"),
    (lambda d: struct.pack_into("<H", d, 32 + 4, 0), 36, r"^record 0 \(layer 0\): O is 0"),
    (lambda d: struct.pack_into("<H", d, 56 + 10, 2), 66, r"^record 1 \(layer 1\): a depthwise layer has G = 1"),
    (lambda d: struct.pack_into("<H", d, 104 + 6, 3), 110, r"^record 3 \(layer fc:0\): a fully connected layer "
                                                            r"has a 1x1 kernel, not 3x1"),
    (lambda d: struct.pack_into("<H", d, 56, 0), 56, r"^record 1: layer 0 follows layer 0 .*graph order"),
    (lambda d: struct.pack_into("<I", d, 32 + 12, 132), 44, r"^record 0 \(layer 0\): weight offset is 132, "
                                                            r"expected 128"),
    (lambda d: struct.pack_into("<I", d, 32 + 16, 8), 48, r"^record 0 \(layer 0\): weight bytes is 8, expected "
                                                          r"144 = 2 groups x 18 words x 4 lanes"),
    (lambda d: struct.pack_into("<I", d, 32 + 20, 0), 52, r"^record 0 \(layer 0\): bias offset is 0"),
    # layer 0 has O = 5: lanes 1..3 of its second group are empty; its first empty byte is
    # at 128 + (1*18 + 0)*4 + 1
    (lambda d: d.__setitem__(128 + 18 * 4 + 1, 9), 128 + 18 * 4 + 1,
     r"^layer 0: lane 1 of the last group is beyond its 5 output channels and must hold 0"),
])
def test_crafted_bad_fields_located(change, offset: int, pattern: str) -> None:
    bad = _crafted(change)
    with pytest.raises(BitstreamError) as info:
        decode(bad, file="w.bin")
    assert re.match(pattern, info.value.message), info.value.message
    assert info.value.message.endswith(f"(at byte offset {offset})"), info.value.message
    assert info.value.offset == offset and str(info.value).startswith("w.bin: ")


def test_padding_must_be_zero() -> None:
    layer = LayerWeights(0, "fully_connected", np.ones((2, 1, 1, 3), dtype=np.int8), np.zeros(2, dtype=np.int32))
    # lanes = 3: 1 group x 3 words x 3 lanes = 9 bytes of weights at 56, padding at 65..67
    data = bytearray(encode(WeightsImage(3, (layer,))))
    assert struct.unpack_from("<III", data, 32 + 12) == (56, 9, 68)
    data[66] = 1
    with pytest.raises(BitstreamError, match=r"^padding after a weight section must be 0, not 0x01 "
                                             r"\(at byte offset 66\)$"):
        decode(_recrc(data))


def test_other_model_rejected() -> None:
    img = _image(4)
    with pytest.raises(BitstreamError, match=r"^weights image is for the model with weights hash %s, not this one "
                                             r"\(0123456789abcdef\) \(at byte offset 16\)$" % img.model_hash):
        decode(encode(img), expect_model="0123456789abcdef")


def test_dataclass_validation() -> None:
    w = np.zeros((2, 3, 3, 4), dtype=np.int8)
    with pytest.raises(ValueError, match=r"^layer 0: weights must be int8 codes"):
        LayerWeights(0, "conv2d", w.astype(np.int64) + 200, np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"^layer 0: weights must be an integer array \[O, KH, KW, G\], not float64"):
        LayerWeights(0, "conv2d", w.astype(float), np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"^layer 0: bias must be an integer array \[2\]"):
        LayerWeights(0, "conv2d", w, np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"^layer 0: a depthwise layer has G = 1"):
        LayerWeights(0, "depthwise_conv2d", w, np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"^layer fc:0: a fully connected layer has a 1x1 kernel"):
        LayerWeights(0, "fully_connected", w, np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"unknown layer kind 'pool'"):
        LayerWeights(0, "pool", w, np.zeros(2, dtype=np.int32))   # type: ignore[arg-type]
    a = LayerWeights(1, "conv2d", w, np.zeros(2, dtype=np.int32))
    with pytest.raises(ValueError, match=r"^layer 1 is out of graph order or listed twice"):
        WeightsImage(4, (a, a))
    with pytest.raises(ValueError, match=r"^lanes must lie in 1..65535, not 0"):
        WeightsImage(0, (a,))
    assert not a.weights.flags.writeable


def test_describe_lists_offsets() -> None:
    data = encode(_image(4))
    text = wmod.describe(data)
    assert "@16 model hash" in text and "@32 layer 0 conv2d [5, 3, 3, 2]: weights @128 (144 bytes)" in text
    assert text.splitlines()[-1] == f"  @{len(data) - 4} CRC-32"
