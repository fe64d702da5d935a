"""The host driver's register sequence (rtlgen/hil/driver.py) over a software stand-in for the
bus; the real bus (cocotbext-axi on the generated front end) is in tests/accel/test_loader.py."""
from __future__ import annotations

import asyncio
import re

import pytest

from rtlgen.accel.loader import DeviceModel
from rtlgen.accel.regmap import DEVICE_ID, REGISTERS, ErrorCode, register
from rtlgen.errors import BitstreamError, ToolError
from rtlgen.hil.driver import AccelDriver

from bitstream_cases import ACCEL, LANES, OTHER, small_bitstream, small_weights


class ModelBus:
    """Registers as a dict; a stream sets them from the Python reference's verdict
    (:class:`DeviceModel`, not the RTL)."""

    def __init__(self, ident: int = DEVICE_ID):
        self.regs = {r.name: r.reset for r in REGISTERS}
        self.regs.update(ID=ident, CONFIG_HASH_LO=int(ACCEL, 16) & 0xFFFFFFFF, CONFIG_HASH_HI=int(ACCEL, 16) >> 32,
                         CONFIG_CAPACITY=1024, LANES=LANES, WEIGHTS_CAPACITY=512)
        self.model = DeviceModel(ACCEL, 1024, lanes=LANES, weights_capacity=512)
        self.names = {r.offset: r.name for r in REGISTERS}
        self.log: list[tuple[str, str]] = []

    def _bit(self, reg: str, field: str) -> int:
        return register(reg).field(field).mask

    async def write(self, addr: int, data: bytes) -> None:
        name, value = self.names[addr], int.from_bytes(data, "little")
        self.log.append(("write", name))
        if name == "CTRL" and value & self._bit("CTRL", "START"):
            if self.model.can_start:
                self.regs["STARTS"] += 1
            else:
                self.regs["STATUS"] |= self._bit("STATUS", "START_REFUSED")

    async def read(self, addr: int, n: int) -> bytes:
        self.log.append(("read", self.names[addr]))
        return self.regs[self.names[addr]].to_bytes(n, "little")

    async def stream(self, data: bytes) -> None:
        self.log.append(("stream", str(len(data))))
        code, offset = self.model.load(data)
        status = ((self._bit("STATUS", "CONFIG_VALID") if self.model.config_valid else 0)
                  | (self._bit("STATUS", "WEIGHTS_VALID") if self.model.weights_valid else 0)
                  | (self._bit("STATUS", "ERROR") if code != ErrorCode.NONE else 0))
        self.regs.update(ERROR_CODE=int(code), ERROR_OFFSET=offset, BYTES_RECEIVED=len(data),
                         LOAD_CYCLES=len(data) + 1, STATUS=status)


def test_load_start_and_identify() -> None:
    bus = ModelBus()
    drv = AccelDriver(bus)

    async def go():
        ident = await drv.identify()
        res = await drv.load_config(small_bitstream(model_hash=None))
        without_weights = await drv.start()
        wres = await drv.load_weights(small_weights())
        return ident, res, without_weights, wres, await drv.start()

    ident, res, without_weights, wres, started = asyncio.run(go())
    assert ident["config_hash"] == ACCEL and ident["capacity"] == 1024
    assert (ident["lanes"], ident["weights_capacity"]) == (LANES, 512)
    assert res.accepted and not without_weights and res.describe().startswith("accepted the bitstream (")
    assert wres.accepted and started and wres.describe().startswith("accepted weights.bin (")
    # the sequence: stream, then poll STATUS before reading the error registers
    assert bus.log.index(("stream", str(len(small_bitstream(model_hash=None))))) < bus.log.index(("read", "STATUS"))


def test_rejection_names_code_meaning_and_offset() -> None:
    drv = AccelDriver(ModelBus())
    with pytest.raises(BitstreamError, match=r"^the accelerator rejected the bitstream: error 9 "
                                             r"ACCEL_HASH_MISMATCH, the bitstream is for another accelerator "
                                             r"configuration \(at byte offset 12\)$"):
        asyncio.run(drv.load_config(small_bitstream(OTHER), check=True))
    res = asyncio.run(drv.load_config(small_bitstream()[:-3]))
    assert (res.accepted, res.code) == (False, ErrorCode.TRUNCATED)
    assert asyncio.run(drv.start()) is False


def test_weights_rejection_names_code_meaning_and_offset() -> None:
    drv = AccelDriver(ModelBus())
    with pytest.raises(BitstreamError, match=r"^the accelerator rejected weights.bin: error 11 NO_CONFIG, "
                                             r"weights.bin arrived with no accepted config.bin .* "
                                             r"\(at byte offset 16\)$"):
        asyncio.run(drv.load_weights(small_weights()))
    asyncio.run(drv.load_config(small_bitstream(model_hash=None), check=True))
    with pytest.raises(BitstreamError, match=r"^the accelerator rejected weights.bin: error 12 MODEL_HASH_MISMATCH, "
                                             r"weights.bin is for another model than the accepted config.bin names "
                                             r"\(at byte offset 16\)$") as info:
        asyncio.run(drv.load_weights(small_weights(1)))
    assert info.value.offset == 16
    res = asyncio.run(drv.load_weights(small_weights(lanes=2), check=False))
    assert (res.accepted, res.code, res.offset) == (False, ErrorCode.LANES_MISMATCH, 12)
    assert asyncio.run(drv.start()) is False


def test_wrong_device_id() -> None:
    with pytest.raises(ToolError, match=r"^the device's ID register reads 0x12345678, expected 0x414c5452 "):
        asyncio.run(AccelDriver(ModelBus(ident=0x12345678)).identify())


def test_hil_loads_config_then_weights_and_stops_on_a_rejection() -> None:
    """What the HIL testbench does before any layer (rtlgen.hil.simside.load_on_device): both
    images in order, then START; a rejected image stops it, naming which image and the code."""
    from rtlgen.hil.simside import DeviceRejected, load_on_device

    cfg, w = small_bitstream(model_hash=None), small_weights()
    bus = ModelBus()
    said = asyncio.run(load_on_device(AccelDriver(bus), cfg, w))
    assert said["start"] == "taken" and said["config"]["verdict"].startswith("accepted the bitstream")
    assert [e for e in bus.log if e[0] == "stream"] == [("stream", str(len(cfg))), ("stream", str(len(w)))]
    with pytest.raises(DeviceRejected, match=r"^the accelerator rejected weights\.bin: error 12 MODEL_HASH_MISMATCH, ") as exc:
        asyncio.run(load_on_device(AccelDriver(ModelBus()), cfg, small_weights(seed=1)))
    assert exc.value.image == "weights"
    bus = ModelBus()
    with pytest.raises(DeviceRejected, match=r"^the accelerator rejected the bitstream: error 2 TRUNCATED, ") as exc:
        asyncio.run(load_on_device(AccelDriver(bus), cfg[:-3], w))
    assert exc.value.image == "config" and ("stream", str(len(w))) not in bus.log   # weights.bin never sent


class NetworkBus(ModelBus):
    """ModelBus plus the activation memory behind ACT_ADDR/ACT_DATA (auto-increment) and a
    network run: START copies the input region reversed into the output region after two polls,
    or stops with ``stop`` = (code, offset)."""

    def __init__(self, plan: tuple[int, int, int, int], stop: tuple[int, int] | None = None):
        super().__init__()
        self.mem = bytearray(256)
        self.plan, self.stop, self.polls = plan, stop, -1

    async def write(self, addr: int, data: bytes) -> None:
        await super().write(addr, data)
        name, value = self.names[addr], int.from_bytes(data, "little")
        if name == "ACT_ADDR":
            self.regs["ACT_ADDR"] = value
        elif name == "ACT_DATA":
            self.mem[self.regs["ACT_ADDR"]] = value & 0xFF
            self.regs["ACT_ADDR"] += 1
        elif name == "CTRL" and value & self._bit("CTRL", "START") and self.model.can_start:
            self.polls = 2
            self.regs["STATUS"] |= self._bit("STATUS", "BUSY")

    async def read(self, addr: int, n: int) -> bytes:
        name = self.names[addr]
        if name == "ACT_DATA":
            self.log.append(("read", name))
            value = self.mem[self.regs["ACT_ADDR"]]
            self.regs["ACT_ADDR"] += 1
            return value.to_bytes(n, "little")
        if name == "STATUS" and self.polls >= 0:
            self.polls -= 1
            if self.polls < 0:
                ib, n_in, ob, n_out = self.plan
                self.regs["STATUS"] &= ~self._bit("STATUS", "BUSY")
                if self.stop is None:
                    self.mem[ob:ob + n_out] = bytes(reversed(self.mem[ib:ib + n_in]))[:n_out]
                    self.regs.update(RUN_CYCLES=1234, LAYERS_DONE=1)
                    self.regs["STATUS"] |= self._bit("STATUS", "NET_DONE")
                else:
                    self.regs.update(ERROR_CODE=self.stop[0], ERROR_OFFSET=self.stop[1], LAYERS_DONE=0)
                    self.regs["STATUS"] |= self._bit("STATUS", "ERROR")
        return await super().read(addr, n)


def _planned(plan: tuple[int, int, int, int]) -> bytes:
    from dataclasses import replace

    from rtlgen.bitstream.format import decode, encode

    bs = decode(small_bitstream(model_hash=None))
    return encode(replace(bs, input_base=plan[0], input_bytes=plan[1], output_base=plan[2], output_bytes=plan[3]))


def test_network_input_run_and_output() -> None:
    plan = (10, 6, 100, 4)
    cfg = _planned(plan)
    bus = NetworkBus(plan)
    drv = AccelDriver(bus)

    async def go():
        await drv.load_config(cfg, check=True)
        await drv.load_weights(small_weights())
        await drv.write_input(cfg, bytes([1, 2, 3, 4, 5, 6]))
        res = await drv.run()
        return res, await drv.read_output(cfg)

    res, out = asyncio.run(go())
    assert res.done and (res.cycles, res.layers) == (1234, 1) and res.describe() == "ran 1 layers in 1234 cycles"
    assert bus.mem[10:16] == bytes([1, 2, 3, 4, 5, 6]) and out == bytes([6, 5, 4, 3])
    # one ACT_ADDR write per transfer, then ACT_DATA per byte (the address increments itself)
    writes = [e[1] for e in bus.log if e[0] == "write"]
    assert writes[writes.index("ACT_ADDR"):writes.index("ACT_ADDR") + 7] == ["ACT_ADDR"] + ["ACT_DATA"] * 6
    with pytest.raises(ValueError, match=r"^the network input is 6 bytes by config.bin's plan, not 5$"):
        asyncio.run(drv.write_input(cfg, bytes(5)))
    with pytest.raises(BitstreamError, match=r"has no activation-memory plan"):
        asyncio.run(drv.write_input(small_bitstream(model_hash=None), bytes(6)))


def test_network_run_that_stops_says_why_and_where() -> None:
    plan = (0, 6, 8, 4)
    cfg = _planned(plan)
    drv = AccelDriver(NetworkBus(plan, stop=(int(ErrorCode.UNSUPPORTED_LAYER), 77)))

    async def go():
        await drv.load_config(cfg, check=True)
        await drv.load_weights(small_weights())
        return await drv.run()

    res = asyncio.run(go())
    assert not res.done and (res.code, res.offset, res.layers) == (ErrorCode.UNSUPPORTED_LAYER, 77, 0)
    assert re.match(r"^stopped after 0 layers: error 13 UNSUPPORTED_LAYER, the sequencer stopped at a layer "
                    r"descriptor of a kind this hardware cannot run \(depthwise_conv2d\) \(at config.bin byte "
                    r"offset 77\)$", res.describe())
    with pytest.raises(ToolError, match=r"^the device refused START"):
        asyncio.run(AccelDriver(NetworkBus(plan)).run())
