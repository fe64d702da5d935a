"""The accelerator checks its configuration bitstream itself, as the bytes arrive.

:class:`ConfigLoader` is an AXI4-Stream sink (8-bit ``tdata``) for ``config.bin`` exactly as
:func:`rtlgen.bitstream.format.encode` writes it, one bitstream per frame (``tlast`` on its last
byte). While the bytes stream in it checks, in :func:`rtlgen.bitstream.format.decode`'s order:

1. magic ``RTLB``, byte by byte (``BAD_MAGIC`` at the first differing byte);
2. once the 12-byte header is in: version (``BAD_VERSION`` at 4: only format version
   :data:`~rtlgen.bitstream.format.VERSION`, although ``decode`` still reads version 1), flags (``BAD_FLAGS`` at 6), a
   declared length of at least 16 (``BAD_LENGTH`` at 8); a frame that ends inside the header is
   ``TRUNCATED`` at the number of bytes received;
3. the declared length against the bytes received: ``tlast`` early is ``TRUNCATED`` (offset =
   bytes received), a byte at the declared length is ``TOO_LONG`` (offset = declared length; the
   rest of the frame is drained);
4. at the end: CRC-32 (zlib's, computed one byte per cycle over bytes ``0 .. N-5``) against the
   stored one (``CRC_MISMATCH`` at ``N-4``); then whether the bytes after the header fitted the
   configuration memory (``TOO_LARGE`` at 8: a check of this hardware only, which
   :func:`~rtlgen.bitstream.format.decode` cannot make); then the accelerator hash, the ``str8``
   at byte 12, against the one baked in (``ACCEL_HASH_MISMATCH`` at 12).

So on any bitstream that ``decode`` rejects by its header, length, CRC or accelerator hash, the
hardware reports the same check at the same byte offset. ``decode``'s field checks (values out of
range, selects beyond a bank) are not made here yet: they come with the descriptor table that reads
the configuration memory.

The model hash that follows the accelerator hash (version 2: the ``weights.bin`` the
configuration goes with) is stored, not checked: that needs the weights image, which this
loader does not take yet.

Bytes ``12 .. N-5`` (everything between the header and the CRC) are written to the configuration
memory at address ``offset - 12`` (:meth:`ConfigLoader.capacity` bytes, see
:func:`config_capacity`). Error codes: :class:`rtlgen.accel.regmap.ErrorCode`.

:class:`DeviceFrontend` puts the loader behind the AXI4-Lite registers of
:mod:`rtlgen.accel.regmap` and gates ``START``: it is refused (``STATUS.START_REFUSED``, no
``run_start`` pulse) unless the last bitstream was accepted, nothing is loading and the engine is
idle.
"""
from __future__ import annotations

import math
from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtlgen.accel.axi import AxiLiteRegisters, AxiLiteSignature, AxiStreamSignature
from rtlgen.accel.regmap import ErrorCode, register
from rtlgen.bitstream.format import HEADER_SIZE, MAGIC, VERSION

__all__ = ["CRC32_POLY", "ConfigLoader", "DeviceFrontend", "config_capacity", "crc32_byte", "expected_verdict"]

#: zlib's CRC-32, reflected: polynomial 0x04C11DB7 bit-reversed, init and final XOR 0xFFFFFFFF.
CRC32_POLY = 0xEDB88320
_MIN_LENGTH = HEADER_SIZE + 4


def _crc32_taps() -> list[tuple[list[int], list[int]]]:
    """Per bit j of the next CRC register: the bits of the current register and of the byte
    whose XOR it is (the bytewise update is linear over GF(2); found by feeding unit vectors
    through the reflected shift-and-xor steps)."""
    def step(crc: int, byte: int) -> int:
        c = crc ^ byte
        for _ in range(8):
            c = (c >> 1) ^ (CRC32_POLY if c & 1 else 0)
        return c

    cols_crc = [step(1 << k, 0) for k in range(32)]
    cols_byte = [step(0, 1 << k) for k in range(8)]
    return [([k for k in range(32) if cols_crc[k] >> j & 1], [k for k in range(8) if cols_byte[k] >> j & 1])
            for j in range(32)]


_TAPS = _crc32_taps()


def crc32_byte(crc: Value, byte: Value) -> Value:
    """The running (un-inverted) CRC-32 register after one more byte, as logic: each bit an XOR
    of register and byte bits (:func:`_crc32_taps`)."""
    bits = []
    for from_crc, from_byte in _TAPS:
        terms = [crc[k] for k in from_crc] + [byte[k] for k in from_byte]
        bits.append(Cat(*terms).xor())
    return Cat(*bits)


def config_capacity(config: Any, *, layers: int = 16) -> int:
    """Bytes of configuration memory for ``config``: the hashes (accelerator, model), the banks (names up to 64 bytes) and
    ``layers`` filter-granularity descriptors of ``config.channels`` output channels, each with
    one weight remap, rounded up to a power of two. (The whole-network sequencer will size it
    from the memory plan instead.)"""
    banks = 1 + config.units * (1 + config.multipliers * (1 + 1 + 16 + 1 + 64))
    layer = 6 + 24 + 10 + 6 * config.channels + 1 + 257
    need = (1 + 16) + (1 + 16) + banks + 2 + layers * layer
    return 1 << math.ceil(math.log2(need))


class ConfigLoader(wiring.Component):
    """AXI4-Stream sink that checks a bitstream and stores it; see the module docstring.

    ``accel_hash`` is the accelerator's configuration hash (the str8 expected at byte 12);
    ``capacity`` the configuration memory's size in bytes.
    """

    def __init__(self, accel_hash: str, capacity: int):
        raw = accel_hash.encode("utf-8")
        problem = (f"accelerator hash must be 1..255 bytes, not {len(raw)}" if not 1 <= len(raw) <= 255
                   else f"configuration memory capacity must be at least 1 byte, not {capacity}"
                   if capacity < 1 else None)
        if problem:
            self._MustUse__silence = True    # never elaborated: no "created but never used" warning
            raise ValueError(problem)
        self.accel_hash = accel_hash
        self.capacity = capacity
        self._hash_str8 = bytes([len(raw)]) + raw
        self.addr_bits = max(1, (capacity - 1).bit_length())
        super().__init__({
            "s_axis": In(AxiStreamSignature(8)),
            "soft_reset": In(1),
            "loading": Out(1), "config_valid": Out(1), "error": Out(1),
            "error_code": Out(8), "error_offset": Out(32),
            "bytes_received": Out(32), "config_length": Out(32), "load_cycles": Out(32),
            "frame_start": Out(1),          # pulse: the first byte of a new frame was taken
            "mem_raddr": In(self.addr_bits), "mem_rdata": Out(8),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        s = self.s_axis
        m.submodules.mem = mem = Memory(shape=8, depth=self.capacity, init=[])
        wr = mem.write_port()
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(self.mem_raddr), self.mem_rdata.eq(rd.data)]

        in_frame = Signal()         # bytes of a frame have arrived, tlast not yet
        finishing = Signal()        # the cycle after a complete frame: the verdict
        failed = Signal()           # this frame already failed a check (drain to tlast)
        count = self.bytes_received
        version = Signal(16)
        flags = Signal(16)
        total = Signal(32)
        crc = Signal(32, init=0xFFFFFFFF)
        stored = Signal(32)
        hash_bad = Signal()
        overflow = Signal()
        cycles = self.load_cycles

        # ready but for the verdict cycle (kept independent of the register port's handshake,
        # so that no combinational path joins the two buses)
        m.d.comb += [s.tready.eq(~finishing),
                     self.loading.eq(in_frame | finishing)]
        fire = s.tvalid & s.tready
        first = fire & ~in_frame
        m.d.comb += self.frame_start.eq(first)
        b = s.tdata
        i = Mux(in_frame, count, 0)
        # this frame's state as the current byte sees it (a new frame starts clean)
        failed_now = failed & in_frame
        crc_now = Mux(in_frame, crc, 0xFFFFFFFF)
        total_now = Mux(i == HEADER_SIZE - 1, Cat(total[:24], b), total)
        magic = Array(Const(x, 8) for x in MAGIC)
        expect_hash = Array(Const(x, 8) for x in self._hash_str8)
        hash_len = len(self._hash_str8)

        def fail(code: ErrorCode, offset: Value | int) -> list:
            return [self.error.eq(1), self.error_code.eq(int(code)), self.error_offset.eq(offset),
                    failed.eq(1)]

        with m.If(self.soft_reset):     # a byte taken in this cycle is dropped with the frame
            m.d.sync += [in_frame.eq(0), finishing.eq(0), failed.eq(0), self.error.eq(0),
                         self.error_code.eq(0), self.error_offset.eq(0), self.config_valid.eq(0),
                         self.config_length.eq(0), count.eq(0), cycles.eq(0)]
        with m.Elif(finishing):
            m.d.sync += [finishing.eq(0), cycles.eq(cycles + 1)]
            with m.If(~crc != stored):
                m.d.sync += fail(ErrorCode.CRC_MISMATCH, total - 4)
            with m.Elif(overflow):
                m.d.sync += fail(ErrorCode.TOO_LARGE, 8)
            with m.Elif(hash_bad):
                m.d.sync += fail(ErrorCode.ACCEL_HASH_MISMATCH, HEADER_SIZE)
            with m.Else():
                m.d.sync += [self.config_valid.eq(1), self.config_length.eq(total)]
        with m.Elif(fire):
            m.d.sync += [count.eq(i + 1), in_frame.eq(~s.tlast), cycles.eq(Mux(first, 1, cycles + 1))]
            with m.If(first):
                m.d.sync += [self.error.eq(0), self.error_code.eq(0), self.error_offset.eq(0),
                             self.config_valid.eq(0), failed.eq(0), hash_bad.eq(0), overflow.eq(0)]
            # the header's fields, little-endian
            with m.Switch(i):
                for k in range(4, HEADER_SIZE):
                    with m.Case(k):
                        sig, lsb = (version, 4) if k < 6 else (flags, 6) if k < 8 else (total, 8)
                        m.d.sync += sig.word_select(k - lsb, 8).eq(b)
            with m.If(~failed_now):
                m.d.sync += crc.eq(crc_now)
                with m.If((i < HEADER_SIZE) | (i + 4 < total)):
                    m.d.sync += crc.eq(crc32_byte(crc_now, b))
                with m.Elif(i < total):
                    m.d.sync += stored.eq(Cat(stored[8:], b))
                in_hash = (i >= HEADER_SIZE) & (i < HEADER_SIZE + hash_len)
                with m.If(in_hash & (b != expect_hash[(i - HEADER_SIZE)[:8]])):
                    m.d.sync += hash_bad.eq(1)
                body = (i >= HEADER_SIZE) & (i + 4 < total)
                with m.If(body & (i - HEADER_SIZE < self.capacity)):
                    m.d.comb += [wr.addr.eq(i - HEADER_SIZE), wr.data.eq(b), wr.en.eq(1)]
                with m.Elif(body):
                    m.d.sync += overflow.eq(1)
                # checks, first failing one wins (decode's order)
                with m.If((i < 4) & (b != magic[i[:2]])):
                    m.d.sync += fail(ErrorCode.BAD_MAGIC, i)
                with m.Elif((i == HEADER_SIZE - 1) & (version != VERSION)):
                    m.d.sync += fail(ErrorCode.BAD_VERSION, 4)
                with m.Elif((i == HEADER_SIZE - 1) & (flags != 0)):
                    m.d.sync += fail(ErrorCode.BAD_FLAGS, 6)
                with m.Elif((i == HEADER_SIZE - 1) & (total_now < _MIN_LENGTH)):
                    m.d.sync += fail(ErrorCode.BAD_LENGTH, 8)
                with m.Elif((i >= HEADER_SIZE) & (i == total)):
                    m.d.sync += fail(ErrorCode.TOO_LONG, total)
                with m.Elif(s.tlast & ((i < HEADER_SIZE - 1) | (i + 1 < total_now))):
                    m.d.sync += fail(ErrorCode.TRUNCATED, i + 1)
                with m.Elif(s.tlast):
                    m.d.sync += finishing.eq(1)
        return m


class DeviceFrontend(wiring.Component):
    """The accelerator as seen from a CPU: AXI4-Lite registers (``s_axil_*``), the bitstream
    sink (``s_axis_*``) and the start gate towards the engine (``run_start`` pulse out,
    ``run_busy``/``run_done`` in)."""

    def __init__(self, accel_hash: str, capacity: int):
        self.loader = ConfigLoader(accel_hash, capacity)
        self.regs = AxiLiteRegisters()
        super().__init__({
            "s_axil": In(AxiLiteSignature(self.regs.addr_width)),
            "s_axis": In(AxiStreamSignature(8)),
            "run_start": Out(1), "run_busy": In(1), "run_done": In(1),
        })
        try:
            self.hash_value = int(accel_hash, 16) & ((1 << 64) - 1)
        except ValueError:
            self.hash_value = 0     # not hex: CONFIG_HASH reads 0, the check still uses the string

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.submodules.loader = ld = self.loader
        m.submodules.regs = regs = self.regs
        wiring.connect(m, wiring.flipped(self.s_axil), regs.bus)
        wiring.connect(m, wiring.flipped(self.s_axis), ld.s_axis)

        ctrl = register("CTRL")
        start_bit = ctrl.field("START").lsb
        reset_bit = ctrl.field("SOFT_RESET").lsb
        soft_reset = regs.ctrl_we & regs.ctrl_wdata[reset_bit]
        start = regs.ctrl_we & regs.ctrl_wdata[start_bit] & ~regs.ctrl_wdata[reset_bit]
        m.d.comb += [ld.soft_reset.eq(soft_reset), ld.mem_raddr.eq(regs.mem_addr)]

        refused = Signal()
        starts = Signal(32)
        accept = ld.config_valid & ~ld.loading & ~self.run_busy
        with m.If(soft_reset):
            m.d.sync += [refused.eq(0), starts.eq(0)]
        with m.Elif(ld.frame_start):
            m.d.sync += refused.eq(0)
        with m.Elif(start & accept):
            m.d.sync += starts.eq(starts + 1)
        with m.Elif(start):
            m.d.sync += refused.eq(1)
        m.d.comb += self.run_start.eq(start & accept)

        status = register("STATUS")
        bits = {f.name: f.lsb for f in status.fields}
        word = Signal(32)
        for name, value in (("BUSY", self.run_busy), ("DONE", self.run_done), ("ERROR", ld.error),
                            ("CONFIG_VALID", ld.config_valid), ("LOADING", ld.loading),
                            ("START_REFUSED", refused)):
            m.d.comb += word[bits[name]].eq(value)
        m.d.comb += [
            regs.id.eq(register("ID").reset), regs.version.eq(register("VERSION").reset),
            regs.status.eq(word), regs.error_code.eq(ld.error_code),
            regs.error_offset.eq(ld.error_offset),
            regs.config_hash_lo.eq(self.hash_value & 0xFFFFFFFF),
            regs.config_hash_hi.eq(self.hash_value >> 32),
            regs.bytes_received.eq(ld.bytes_received), regs.config_length.eq(ld.config_length),
            regs.config_capacity.eq(self.loader.capacity), regs.load_cycles.eq(ld.load_cycles),
            regs.starts.eq(starts), regs.mem_data.eq(ld.mem_rdata),
        ]
        return m


_DECODE_CHECKS: tuple[tuple[str, ErrorCode], ...] = (
    (r"not an rtlgen bitstream: magic", ErrorCode.BAD_MAGIC),
    (r"truncated: the stream ends inside the", ErrorCode.TRUNCATED),
    (r"truncated: header declares", ErrorCode.TRUNCATED),
    (r"unsupported bitstream format version", ErrorCode.BAD_VERSION),
    (r"header flags must be 0", ErrorCode.BAD_FLAGS),
    (r"declared length \d+ is shorter", ErrorCode.BAD_LENGTH),
    (r"\d+ unexpected bytes after the declared end", ErrorCode.TOO_LONG),
    (r"CRC mismatch", ErrorCode.CRC_MISMATCH),
)


def expected_verdict(data: bytes, accel_hash: str, capacity: int) -> tuple[ErrorCode, int]:
    """What :class:`ConfigLoader` must report for ``data``: ``(code, offset)``, derived from
    :func:`rtlgen.bitstream.format.decode` (header, length and CRC checks, in its order; any
    version but :data:`~rtlgen.bitstream.format.VERSION` is ``BAD_VERSION``) plus this
    hardware's own checks (capacity, then the accelerator hash). Field errors that ``decode``
    finds after the CRC are not checked by the hardware yet, so they are not errors here."""
    import re
    import struct

    from rtlgen.bitstream.format import decode
    from rtlgen.errors import BitstreamError

    if len(data) >= HEADER_SIZE and data[:4] == MAGIC and struct.unpack_from("<H", data, 4)[0] != VERSION:
        return ErrorCode.BAD_VERSION, 4     # decode reads older versions too; this hardware does not
    try:
        decode(data)
    except BitstreamError as exc:
        for pattern, code in _DECODE_CHECKS:
            if re.match(pattern, exc.message):
                return code, exc.offset  # type: ignore[attr-defined]
    if len(data) - HEADER_SIZE - 4 > capacity:
        return ErrorCode.TOO_LARGE, 8
    raw = accel_hash.encode("utf-8")
    if data[HEADER_SIZE:HEADER_SIZE + 1 + len(raw)] != bytes([len(raw)]) + raw:
        return ErrorCode.ACCEL_HASH_MISMATCH, HEADER_SIZE
    return ErrorCode.NONE, 0
