"""The accelerator checks its two images itself, as the bytes arrive, and stores them.

One AXI4-Stream sink (8-bit ``tdata``, one image per frame, ``tlast`` on its last byte) takes
both images unchanged: ``config.bin`` exactly as :func:`rtlgen.bitstream.format.encode` writes it
(magic ``RTLB``) and ``weights.bin`` exactly as :func:`rtlgen.bitstream.weights.encode` writes it
(magic ``RTLW``). :class:`ImageLoader` tells them apart by the magic's last byte, so a driver
streams either file down the same channel (one DMA channel on a board) and reads the same
registers afterwards. Both formats share the first 12 bytes (magic, u16 version, u16 flags, u32
length N) and the trailing CRC-32 (zlib's, over bytes ``0 .. N-5``), so one checker serves both:
the header is 12 bytes for ``config.bin`` and 32 for ``weights.bin``. While the bytes stream in
it checks, in the order of the image's Python decoder (:func:`rtlgen.bitstream.format.decode`,
:func:`rtlgen.bitstream.weights.decode`):

1. magic, byte by byte: ``RTL`` then ``B`` or ``W`` (``BAD_MAGIC`` at the first differing byte);
2. once the header is in (12 or 32 bytes): version (``BAD_VERSION`` at 4: only format version
   :data:`~rtlgen.bitstream.format.VERSION` of ``config.bin``, although ``decode`` still reads
   versions 1 to 3, and version :data:`~rtlgen.bitstream.weights.VERSION` of ``weights.bin``), flags
   (``BAD_FLAGS`` at 6), a declared length of at least header + 4 (``BAD_LENGTH`` at 8); a frame
   that ends inside the header is ``TRUNCATED`` at the number of bytes received;
3. the declared length against the bytes received: ``tlast`` early is ``TRUNCATED`` (offset =
   bytes received), a byte at the declared length is ``TOO_LONG`` (offset = declared length; the
   rest of the frame is drained);
4. at the end: CRC-32 (computed one byte per cycle) against the stored one (``CRC_MISMATCH`` at
   ``N-4``); then whether the bytes from offset 12 to the CRC fitted the image's memory
   (``TOO_LARGE`` at 8: a check of this hardware only, which the decoders cannot make); then,
   for ``config.bin``, the accelerator hash, the ``str8`` at byte 12, against the one baked in
   (``ACCEL_HASH_MISMATCH`` at 12); for ``weights.bin``, its lane count L (u16 at 12) against
   this hardware's lanes (``LANES_MISMATCH`` at 12), that a ``config.bin`` is accepted
   (``NO_CONFIG`` at 16), and its model hash (the 16 characters at 16) against the model hash
   ``str8`` of the accepted ``config.bin`` (format versions 2, 3; ``MODEL_HASH_MISMATCH`` at 16 when
   they differ or the configuration names no 16-character model hash).

So on any image that its decoder rejects by its header, length or CRC, the hardware reports the
same check at the same byte offset; :func:`expected_verdict` and :func:`expected_weights_verdict`
say what it must report (:class:`DeviceModel` for a sequence of frames). The decoders' field
checks (values out of range, selects beyond a bank, the records of ``weights.bin`` and whether its
model hash is the SHA-256 of its payload) are not made here.

Loading order. ``config.bin`` first, then the ``weights.bin`` of the model it names: the weights
are checked against the configuration accepted when they arrive. What a frame invalidates:

* any frame clears ``WEIGHTS_VALID`` at its first byte (a ``weights.bin`` rewrites the store;
  any other frame replaces the configuration the weights were checked against);
* a ``config.bin`` frame clears ``CONFIG_VALID`` at its fourth byte (its kind is known then), and
  so does a frame rejected before its kind is known (bad magic, or fewer than 4 bytes); a
  ``weights.bin`` frame leaves the configuration valid;
* an accepted frame sets its image's valid bit; a rejected one sets ``ERROR``.

So after a new ``config.bin`` the weights must be loaded again, and ``START`` (gated by
:class:`DeviceFrontend`) needs both valid bits: a configuration and the weights of its model.

Storage: bytes ``12 .. N-5`` of an image (everything between the common 12-byte prefix and the
CRC) are written to its memory at address ``offset - 12``: ``config.bin`` to the configuration
memory (:attr:`ImageLoader.capacity` bytes, see :func:`config_capacity`), ``weights.bin`` to the
weights store (:attr:`ImageLoader.weights_capacity` bytes, the configuration's
``weights_store_bytes``). In the weights store, address ``a`` holds ``weights.bin`` byte
``a + 12``: L at 0, R at 2, the model hash at 4..19, record ``r`` at ``20 + 24 r``, and a
section whose file offset a record gives at that offset minus 12 (layout:
:mod:`rtlgen.bitstream.weights`); a sequencer reads it through the ``wmem_raddr``/``wmem_rdata``
port (one byte per cycle, data one cycle after the address). Error codes:
:class:`rtlgen.accel.regmap.ErrorCode`.

:class:`DeviceFrontend` puts the loader behind the AXI4-Lite registers of
:mod:`rtlgen.accel.regmap` and gates ``START``: it is refused (``STATUS.START_REFUSED``, no
``run_start`` pulse) unless a ``config.bin`` and a matching ``weights.bin`` are valid, nothing is
loading and the engine is idle.
"""
from __future__ import annotations

import math
from typing import Any

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtlgen.accel.axi import AxiLiteRegisters, AxiLiteSignature, AxiStreamSignature
from rtlgen.accel.ports import read_on_change
from rtlgen.accel.regmap import ErrorCode, register
from rtlgen.bitstream.format import HEADER_SIZE, MAGIC, VERSION
from rtlgen.bitstream.weights import HASH_CHARS as W_HASH_CHARS
from rtlgen.bitstream.weights import HASH_OFFSET as W_HASH_OFFSET
from rtlgen.bitstream.weights import HEADER_SIZE as W_HEADER_SIZE
from rtlgen.bitstream.weights import MAGIC as W_MAGIC
from rtlgen.bitstream.weights import VERSION as W_VERSION

__all__ = ["CRC32_POLY", "ImageLoader", "DeviceFrontend", "DeviceModel", "config_capacity", "crc32_byte",
           "expected_verdict", "expected_weights_verdict"]

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
    layer = 6 + 24 + 8 + 10 + 6 * config.channels + 1 + 257
    need = (1 + 16) + (1 + 16) + 16 + banks + 2 + layers * layer
    return 1 << math.ceil(math.log2(need))


class ImageLoader(wiring.Component):
    """AXI4-Stream sink that checks ``config.bin`` and ``weights.bin`` and stores them; see the
    module docstring.

    ``accel_hash`` is the accelerator's configuration hash (the str8 expected at byte 12 of
    ``config.bin``); ``capacity`` the configuration memory's size in bytes; ``lanes`` the L a
    ``weights.bin`` must carry; ``weights_capacity`` the weights store's size in bytes;
    ``seq_ports``: read ports of each memory for the sequencer (one per walker).
    """

    def __init__(self, accel_hash: str, capacity: int, *, lanes: int, weights_capacity: int,
                 seq_ports: int = 1):
        raw = accel_hash.encode("utf-8")
        problem = (f"accelerator hash must be 1..255 bytes, not {len(raw)}" if not 1 <= len(raw) <= 255
                   else f"configuration memory capacity must be at least 1 byte, not {capacity}"
                   if capacity < 1 else f"weights store capacity must be at least 1 byte, not {weights_capacity}"
                   if weights_capacity < 1 else f"lanes must lie in 1..65535, not {lanes}"
                   if not 1 <= lanes <= 0xFFFF else None)
        if problem:
            self._MustUse__silence = True    # never elaborated: no "created but never used" warning
            raise ValueError(problem)
        self.accel_hash = accel_hash
        self.capacity = capacity
        self.lanes = lanes
        self.weights_capacity = weights_capacity
        self.seq_ports = seq_ports
        self._hash_str8 = bytes([len(raw)]) + raw
        self.addr_bits = max(1, (capacity - 1).bit_length())
        self.waddr_bits = max(1, (weights_capacity - 1).bit_length())
        super().__init__({
            "s_axis": In(AxiStreamSignature(8)),
            "soft_reset": In(1),
            "loading": Out(1), "config_valid": Out(1), "weights_valid": Out(1), "error": Out(1),
            "error_code": Out(8), "error_offset": Out(32),
            "bytes_received": Out(32), "config_length": Out(32), "weights_length": Out(32),
            "load_cycles": Out(32),
            "frame_start": Out(1),          # pulse: the first byte of a new frame was taken
            "mem_raddr": In(self.addr_bits), "mem_rdata": Out(8),
            "wmem_raddr": In(self.waddr_bits), "wmem_rdata": Out(8),
            # more read ports, for the sequencer's walkers (rtlgen.accel.sequencer)
            "seq_raddr": In(self.addr_bits).array(seq_ports), "seq_rdata": Out(8).array(seq_ports),
            "seq_wraddr": In(self.waddr_bits).array(seq_ports), "seq_wrdata": Out(8).array(seq_ports),
            # their read enables: a port reads (and its macro spends energy) only when enabled;
            # its data holds otherwise
            "seq_ren": In(1, init=1).array(seq_ports), "seq_wren": In(1, init=1).array(seq_ports),
        })

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        s = self.s_axis
        m.submodules.mem = mem = Memory(shape=8, depth=self.capacity, init=[])
        m.submodules.wmem = wmem = Memory(shape=8, depth=self.weights_capacity, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        wwr, wrd = wmem.write_port(), wmem.read_port()
        m.d.comb += [rd.addr.eq(self.mem_raddr), self.mem_rdata.eq(rd.data),
                     wrd.addr.eq(self.wmem_raddr), self.wmem_rdata.eq(wrd.data)]
        # MEM_DATA's and WEIGHTS_DATA's ports read only when what they show may change
        read_on_change(m, rd, [wr])
        read_on_change(m, wrd, [wwr])
        for p in range(self.seq_ports):
            srd, swrd = mem.read_port(), wmem.read_port()
            m.d.comb += [srd.addr.eq(self.seq_raddr[p]), self.seq_rdata[p].eq(srd.data), srd.en.eq(self.seq_ren[p]),
                         swrd.addr.eq(self.seq_wraddr[p]), self.seq_wrdata[p].eq(swrd.data),
                         swrd.en.eq(self.seq_wren[p])]

        in_frame = Signal()         # bytes of a frame have arrived, tlast not yet
        finishing = Signal()        # the cycle after a complete frame: the verdict
        failed = Signal()           # this frame already failed a check (drain to tlast)
        is_w = Signal()             # this frame is a weights.bin (decided at byte 3)
        count = self.bytes_received
        version = Signal(16)
        flags = Signal(16)
        total = Signal(32)
        crc = Signal(32, init=0xFFFFFFFF)
        stored = Signal(32)
        hash_bad = Signal()
        overflow = Signal()
        lanes_field = Signal(16)    # weights.bin: L
        model_bad = Signal()        # weights.bin: a model-hash character differs from the config's
        # the model-hash str8 of the last config.bin frame: its length byte and first 16 bytes
        mh_len = Signal(8)
        mh = Signal(8 * W_HASH_CHARS)
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
        w_now = Mux(i == 3, b == ord("W"), is_w)       # meaningful from byte 3 on
        hdr_last = Mux(w_now, W_HEADER_SIZE - 1, HEADER_SIZE - 1)
        magic = Array(Const(x, 8) for x in MAGIC[:3])
        bad_magic = Mux(i < 3, b != magic[i[:2]], (i == 3) & (b != MAGIC[3]) & (b != W_MAGIC[3]))
        expect_hash = Array(Const(x, 8) for x in self._hash_str8)
        hash_len = len(self._hash_str8)
        mh_at = HEADER_SIZE + hash_len              # the model-hash str8 in config.bin

        def fail(code: ErrorCode, offset: Value | int) -> list:
            return [self.error.eq(1), self.error_code.eq(int(code)), self.error_offset.eq(offset),
                    failed.eq(1)]

        with m.If(self.soft_reset):     # a byte taken in this cycle is dropped with the frame
            m.d.sync += [in_frame.eq(0), finishing.eq(0), failed.eq(0), self.error.eq(0),
                         self.error_code.eq(0), self.error_offset.eq(0), self.config_valid.eq(0),
                         self.weights_valid.eq(0), self.config_length.eq(0), self.weights_length.eq(0),
                         count.eq(0), cycles.eq(0)]
        with m.Elif(finishing):
            m.d.sync += [finishing.eq(0), cycles.eq(cycles + 1)]
            with m.If(~crc != stored):
                m.d.sync += fail(ErrorCode.CRC_MISMATCH, total - 4)
            with m.Elif(overflow):
                m.d.sync += fail(ErrorCode.TOO_LARGE, 8)
            with m.Elif(is_w):
                with m.If(lanes_field != self.lanes):
                    m.d.sync += fail(ErrorCode.LANES_MISMATCH, 12)
                with m.Elif(~self.config_valid):
                    m.d.sync += fail(ErrorCode.NO_CONFIG, W_HASH_OFFSET)
                with m.Elif(model_bad | (mh_len != W_HASH_CHARS)):
                    m.d.sync += fail(ErrorCode.MODEL_HASH_MISMATCH, W_HASH_OFFSET)
                with m.Else():
                    m.d.sync += [self.weights_valid.eq(1), self.weights_length.eq(total)]
            with m.Elif(hash_bad):
                m.d.sync += fail(ErrorCode.ACCEL_HASH_MISMATCH, HEADER_SIZE)
            with m.Else():
                m.d.sync += [self.config_valid.eq(1), self.config_length.eq(total)]
        with m.Elif(fire):
            m.d.sync += [count.eq(i + 1), in_frame.eq(~s.tlast), cycles.eq(Mux(first, 1, cycles + 1))]
            with m.If(first):
                m.d.sync += [self.error.eq(0), self.error_code.eq(0), self.error_offset.eq(0),
                             self.weights_valid.eq(0), failed.eq(0), hash_bad.eq(0), overflow.eq(0),
                             model_bad.eq(0)]
            # the header's fields, little-endian (L only means something in weights.bin)
            with m.Switch(i):
                for k in range(3, HEADER_SIZE + 2):
                    with m.Case(k):
                        if k == 3:
                            m.d.sync += is_w.eq(b == ord("W"))
                            continue
                        sig, lsb = ((version, 4) if k < 6 else (flags, 6) if k < 8 else (total, 8) if k < 12
                                    else (lanes_field, 12))
                        m.d.sync += sig.word_select(k - lsb, 8).eq(b)
            with m.If(~failed_now):
                m.d.sync += crc.eq(crc_now)
                with m.If((i <= hdr_last) | (i + 4 < total)):
                    m.d.sync += crc.eq(crc32_byte(crc_now, b))
                with m.Elif(i < total):
                    m.d.sync += stored.eq(Cat(stored[8:], b))
                # which image this frame may have replaced: known not to be weights.bin
                with m.If(((i < 3) & (bad_magic | s.tlast)) | ((i == 3) & (b != W_MAGIC[3]))):
                    m.d.sync += self.config_valid.eq(0)
                with m.If(~w_now):
                    in_hash = (i >= HEADER_SIZE) & (i < HEADER_SIZE + hash_len)
                    with m.If(in_hash & (b != expect_hash[(i - HEADER_SIZE)[:8]])):
                        m.d.sync += hash_bad.eq(1)
                    with m.If(i == mh_at):
                        m.d.sync += mh_len.eq(b)
                    with m.If((i > mh_at) & (i <= mh_at + W_HASH_CHARS)):
                        m.d.sync += mh.word_select((i - (mh_at + 1))[:4], 8).eq(b)
                with m.Else():
                    in_mh = (i >= W_HASH_OFFSET) & (i < W_HASH_OFFSET + W_HASH_CHARS)
                    with m.If(in_mh & (b != mh.word_select((i - W_HASH_OFFSET)[:4], 8))):
                        m.d.sync += model_bad.eq(1)
                # bytes 12 .. N-5 of either image go to its memory at offset - 12
                body = (i >= HEADER_SIZE) & (i + 4 < total)
                addr = i - HEADER_SIZE
                with m.If(body & ~w_now & (addr < self.capacity)):
                    m.d.comb += [wr.addr.eq(addr), wr.data.eq(b), wr.en.eq(1)]
                with m.Elif(body & w_now & (addr < self.weights_capacity)):
                    m.d.comb += [wwr.addr.eq(addr), wwr.data.eq(b), wwr.en.eq(1)]
                with m.Elif(body):
                    m.d.sync += overflow.eq(1)
                # checks, first failing one wins (the decoders' order)
                with m.If((i < 4) & bad_magic):
                    m.d.sync += fail(ErrorCode.BAD_MAGIC, i)
                with m.Elif((i == hdr_last) & (version != Mux(w_now, W_VERSION, VERSION))):
                    m.d.sync += fail(ErrorCode.BAD_VERSION, 4)
                with m.Elif((i == hdr_last) & (flags != 0)):
                    m.d.sync += fail(ErrorCode.BAD_FLAGS, 6)
                with m.Elif((i == hdr_last) & (total_now < hdr_last + 5)):
                    m.d.sync += fail(ErrorCode.BAD_LENGTH, 8)
                with m.Elif((i > hdr_last) & (i == total)):
                    m.d.sync += fail(ErrorCode.TOO_LONG, total)
                with m.Elif(s.tlast & ((i < hdr_last) | (i + 1 < total_now))):
                    m.d.sync += fail(ErrorCode.TRUNCATED, i + 1)
                with m.Elif(s.tlast):
                    m.d.sync += finishing.eq(1)
        return m


class DeviceFrontend(wiring.Component):
    """The accelerator as seen from a CPU: AXI4-Lite registers (``s_axil_*``), the image sink
    (``s_axis_*``) and the start gate towards the engine (``run_start`` pulse out,
    ``run_busy``/``run_done`` in). Arguments as :class:`ImageLoader`'s.

    With ``engine`` (the engine's :class:`~rtlgen.accel.config.AccelConfig`; the top passes it)
    an accepted ``START`` starts the on-chip sequencer (:mod:`rtlgen.accel.sequencer`) instead
    of one layer: the ports ``eng_*`` drive the engine's host ports while ``seq_busy`` is high,
    and ``act_*`` (owned while ``act_owner`` is high) give ``ACT_ADDR``/``ACT_DATA`` the
    activation memory's host port (``act_rdata`` in: its read data, one cycle after
    ``act_addr``), and the sequencer's vector unit while it runs an op descriptor (ADD, pools;
    the engine is idle then)."""

    def __init__(self, accel_hash: str, capacity: int, *, lanes: int, weights_capacity: int,
                 engine: Any = None):
        self.loader = ImageLoader(accel_hash, capacity, lanes=lanes, weights_capacity=weights_capacity,
                                  seq_ports=1 if engine is None else engine.units)
        self.regs = AxiLiteRegisters()
        self.engine = engine
        ports: dict[str, Any] = {}
        if engine is not None:
            from rtlgen.accel.sequencer import Sequencer

            self.sequencer = Sequencer(engine, self.loader.addr_bits, self.loader.waddr_bits)
            seq = self.sequencer.signature.members
            # per unit: its engine's ports and its vector unit's activation-memory port; and
            # ACT_ADDR/ACT_DATA's own port (the host places inputs while the units run)
            ports = {name: seq[name] for name in seq if name.startswith("eng_") or name.startswith("act_")}
            ports.pop("act_own")
            ports.update({"seq_busy": Out(1), "host_act_we": Out(1), "host_act_addr": Out(engine.activation_addr_bits),
                          "host_act_wdata": Out(8), "host_act_rdata": In(8)})
        super().__init__({
            "s_axil": In(AxiLiteSignature(self.regs.addr_width)),
            "s_axis": In(AxiStreamSignature(8)),
            "run_start": Out(1), "run_busy": In(1), "run_done": In(1),
            **ports,
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
        m.d.comb += [ld.soft_reset.eq(soft_reset), ld.mem_raddr.eq(regs.mem_addr),
                     ld.wmem_raddr.eq(regs.weights_addr)]

        refused = Signal()
        starts = Signal(32)
        seq_busy, net_done, seq_error = Signal(), Signal(), Signal()
        seq_code, seq_offset, run_cycles, layers = Signal(8), Signal(32), Signal(32), Signal(16)
        act_addr = Signal(32)
        act_rdata = Signal(8)
        if self.engine is not None:
            m.submodules.sequencer = sq = self.sequencer
            m.d.comb += [sq.start.eq(self.run_start), sq.clear.eq(soft_reset | ld.frame_start),
                         sq.batch.eq(regs.batch), sq.slots.eq(regs.slots), sq.stride.eq(regs.batch_stride),
                         sq.post.eq(regs.ctrl_we & regs.ctrl_wdata[ctrl.field("POST").lsb]),
                         regs.outputs_done.eq(sq.outputs_done),
                         seq_busy.eq(sq.busy), net_done.eq(sq.net_done), seq_error.eq(sq.error),
                         seq_code.eq(sq.error_code), seq_offset.eq(sq.error_offset), run_cycles.eq(sq.cycles),
                         regs.config_reads.eq(sq.cfg_reads), regs.weights_reads.eq(sq.w_reads),
                         regs.engine_clocks.eq(sq.eng_clocks),
                         layers.eq(sq.layers), self.seq_busy.eq(sq.busy), act_rdata.eq(self.host_act_rdata)]
            for u in range(self.engine.units):
                m.d.comb += [sq.cfg_rdata[u].eq(ld.seq_rdata[u]), ld.seq_raddr[u].eq(sq.cfg_raddr[u]),
                             sq.w_rdata[u].eq(ld.seq_wrdata[u]), ld.seq_wraddr[u].eq(sq.w_raddr[u]),
                             ld.seq_ren[u].eq(sq.cfg_re[u]), ld.seq_wren[u].eq(sq.w_re[u]),
                             sq.eng_done[u].eq(self.eng_done[u]), sq.eng_busy[u].eq(self.eng_busy[u]),
                             sq.act_rdata[u].eq(self.act_rdata[u])]
                m.d.comb += [getattr(self, name)[u].eq(getattr(sq, name)[u]) for name in sq.signature.members
                             if (name.startswith("eng_") and name not in ("eng_done", "eng_busy"))
                             or name in ("act_addr", "act_re", "act_we", "act_wdata")]
            # ACT_ADDR / ACT_DATA: the activation memory's host port, auto-incrementing address
            m.d.comb += [self.host_act_addr.eq(act_addr), self.host_act_we.eq(regs.act_data_we),
                         self.host_act_wdata.eq(regs.act_data_wdata[:8])]
        with m.If(soft_reset):
            m.d.sync += act_addr.eq(0)
        with m.Elif(regs.act_addr_we):
            m.d.sync += act_addr.eq(regs.act_addr_wdata)
        with m.Elif(regs.act_data_we | regs.act_data_re):
            m.d.sync += act_addr.eq(act_addr + 1)
        # weights_valid implies they matched the configuration that is still valid (a new
        # config.bin frame clears them)
        accept = ld.config_valid & ld.weights_valid & ~ld.loading & ~self.run_busy & ~seq_busy
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
        for name, value in (("BUSY", self.run_busy | seq_busy), ("DONE", self.run_done),
                            ("ERROR", ld.error | seq_error),
                            ("CONFIG_VALID", ld.config_valid), ("LOADING", ld.loading),
                            ("START_REFUSED", refused), ("WEIGHTS_VALID", ld.weights_valid),
                            ("NET_DONE", net_done)):
            m.d.comb += word[bits[name]].eq(value)
        m.d.comb += [
            regs.id.eq(register("ID").reset), regs.version.eq(register("VERSION").reset),
            regs.status.eq(word), regs.error_code.eq(Mux(seq_error, seq_code, ld.error_code)),
            regs.error_offset.eq(Mux(seq_error, seq_offset, ld.error_offset)),
            regs.run_cycles.eq(run_cycles), regs.layers_done.eq(layers),
            regs.act_addr.eq(act_addr), regs.act_data.eq(act_rdata),
            regs.config_hash_lo.eq(self.hash_value & 0xFFFFFFFF),
            regs.config_hash_hi.eq(self.hash_value >> 32),
            regs.bytes_received.eq(ld.bytes_received), regs.config_length.eq(ld.config_length),
            regs.config_capacity.eq(self.loader.capacity), regs.load_cycles.eq(ld.load_cycles),
            regs.starts.eq(starts), regs.mem_data.eq(ld.mem_rdata),
            regs.lanes.eq(self.loader.lanes), regs.weights_length.eq(ld.weights_length),
            regs.units.eq(0 if self.engine is None else self.engine.units),
            regs.weights_capacity.eq(self.loader.weights_capacity), regs.weights_data.eq(ld.wmem_rdata),
        ]
        return m


#: Decoder messages -> the hardware's code: the header, length and CRC checks both images share
#: (the patterns are disjoint, so their order does not matter).
_SHARED_DECODE_CHECKS: tuple[tuple[str, ErrorCode], ...] = (
    (r"truncated: header declares", ErrorCode.TRUNCATED),
    (r"header flags must be 0", ErrorCode.BAD_FLAGS),
    (r"declared length \d+ is shorter", ErrorCode.BAD_LENGTH),
    (r"\d+ unexpected bytes after the declared end", ErrorCode.TOO_LONG),
    (r"CRC mismatch", ErrorCode.CRC_MISMATCH),
)
_DECODE_CHECKS: tuple[tuple[str, ErrorCode], ...] = (
    (r"not an rtlgen bitstream: magic", ErrorCode.BAD_MAGIC),
    (r"truncated: the stream ends inside the", ErrorCode.TRUNCATED),
    (r"unsupported bitstream format version", ErrorCode.BAD_VERSION),
) + _SHARED_DECODE_CHECKS
_WEIGHTS_DECODE_CHECKS: tuple[tuple[str, ErrorCode], ...] = (
    (r"not an rtlgen weights image: magic", ErrorCode.BAD_MAGIC),
    (r"truncated: the image ends inside the", ErrorCode.TRUNCATED),
    (r"unsupported weights image format version", ErrorCode.BAD_VERSION),
) + _SHARED_DECODE_CHECKS


def _decoder_verdict(decode: Any, data: bytes,
                     checks: tuple[tuple[str, ErrorCode], ...]) -> tuple[ErrorCode, int] | None:
    """The hardware's ``(code, offset)`` for the first of ``checks`` that ``decode`` fails on
    ``data``; None when it fails none of them."""
    import re

    from rtlgen.errors import BitstreamError

    try:
        decode(data)
    except BitstreamError as exc:
        for pattern, code in checks:
            if re.match(pattern, exc.message):
                return code, exc.offset  # type: ignore[attr-defined]
    return None


def expected_verdict(data: bytes, accel_hash: str, capacity: int) -> tuple[ErrorCode, int]:
    """What :class:`ImageLoader` must report for the ``config.bin`` frame ``data``: ``(code,
    offset)``, derived from :func:`rtlgen.bitstream.format.decode` (header, length and CRC checks, in its order; any
    version but :data:`~rtlgen.bitstream.format.VERSION` is ``BAD_VERSION``) plus this
    hardware's own checks (capacity, then the accelerator hash). Field errors that ``decode``
    finds after the CRC are not checked by the hardware yet, so they are not errors here."""
    import struct

    from rtlgen.bitstream.format import decode

    if len(data) >= HEADER_SIZE and data[:4] == MAGIC and struct.unpack_from("<H", data, 4)[0] != VERSION:
        return ErrorCode.BAD_VERSION, 4     # decode reads older versions too; this hardware does not
    failed = _decoder_verdict(decode, data, _DECODE_CHECKS)
    if failed is not None:
        return failed
    if len(data) - HEADER_SIZE - 4 > capacity:
        return ErrorCode.TOO_LARGE, 8
    raw = accel_hash.encode("utf-8")
    if data[HEADER_SIZE:HEADER_SIZE + 1 + len(raw)] != bytes([len(raw)]) + raw:
        return ErrorCode.ACCEL_HASH_MISMATCH, HEADER_SIZE
    return ErrorCode.NONE, 0


def expected_weights_verdict(data: bytes, lanes: int, capacity: int,
                             model_hash: str | None) -> tuple[ErrorCode, int]:
    """What :class:`ImageLoader` must report for the ``weights.bin`` frame ``data``: ``(code,
    offset)``, derived from :func:`rtlgen.bitstream.weights.decode` (header, length and CRC
    checks, in its order) plus this hardware's own checks (weights store ``capacity``, ``lanes``,
    then the model hash against ``model_hash``: that of the accepted ``config.bin``, ``None``
    when none is accepted). The decoder's field checks after the CRC are not made by the
    hardware, so they are not errors here."""
    import struct

    from rtlgen.bitstream.weights import decode

    failed = _decoder_verdict(decode, data, _WEIGHTS_DECODE_CHECKS)
    if failed is not None:
        return failed
    if len(data) - HEADER_SIZE - 4 > capacity:
        return ErrorCode.TOO_LARGE, 8
    if struct.unpack_from("<H", data, 12)[0] != lanes:
        return ErrorCode.LANES_MISMATCH, 12
    if model_hash is None:
        return ErrorCode.NO_CONFIG, W_HASH_OFFSET
    raw = model_hash.encode("utf-8")
    if len(raw) != W_HASH_CHARS or data[W_HASH_OFFSET:W_HASH_OFFSET + W_HASH_CHARS] != raw:
        return ErrorCode.MODEL_HASH_MISMATCH, W_HASH_OFFSET
    return ErrorCode.NONE, 0


class DeviceModel:
    """The front end's state in Python, frame by frame: the reference that tests compare the
    hardware's registers with (and a stand-in device for the driver's tests). :meth:`load`
    applies the module docstring's rules: which image a frame is, its verdict
    (:func:`expected_verdict`, :func:`expected_weights_verdict`), what it invalidates."""

    def __init__(self, accel_hash: str, capacity: int, *, lanes: int, weights_capacity: int):
        self.accel_hash, self.capacity = accel_hash, capacity
        self.lanes, self.weights_capacity = lanes, weights_capacity
        self.config_valid = self.weights_valid = False
        self.model_hash: str | None = None      # of the accepted config.bin

    @staticmethod
    def is_weights(data: bytes) -> bool:
        """Whether the hardware takes ``data`` for a ``weights.bin`` (its magic is ``RTLW``)."""
        return bytes(data[:4]) == W_MAGIC

    def load(self, data: bytes) -> tuple[ErrorCode, int]:
        """The verdict on one frame, the state updated."""
        from rtlgen.bitstream.format import decode

        data = bytes(data)
        self.weights_valid = False
        if self.is_weights(data):
            code, offset = expected_weights_verdict(data, self.lanes, self.weights_capacity,
                                                    self.model_hash if self.config_valid else None)
            self.weights_valid = code == ErrorCode.NONE
            return code, offset
        code, offset = expected_verdict(data, self.accel_hash, self.capacity)
        self.config_valid = code == ErrorCode.NONE
        self.model_hash = decode(data).model_hash if self.config_valid else None
        return code, offset

    @property
    def can_start(self) -> bool:
        return self.config_valid and self.weights_valid

    def soft_reset(self) -> None:
        self.config_valid = self.weights_valid = False
        self.model_hash = None
