"""The accelerator's host driver: the register sequence, apart from the bus that carries it.

:class:`AccelDriver` programs the device through the registers of :mod:`rtlgen.accel.regmap`
(offsets, fields and error codes read from there, never written twice) over any
:class:`Transport`: ``write(addr, data)`` and ``read(addr, n)`` on the AXI4-Lite register port,
``stream(data)`` for one AXI4-Stream frame on the image port. :class:`CocotbAxiTransport`
is the simulation transport (cocotbext-axi's ``AxiLiteMaster`` and ``AxiStreamSource``); a board
would implement the same three methods over a memory-mapped device file and a DMA channel.

Programming sequence (what :meth:`AccelDriver.identify`, :meth:`AccelDriver.load_config`,
:meth:`AccelDriver.load_weights` and :meth:`AccelDriver.start` do):

1. read ``ID`` (and ``VERSION``, ``LANES``): this is an rtlgen accelerator with this register map;
2. stream ``config.bin`` unchanged as one frame (``tlast`` on its last byte);
3. poll ``STATUS`` until ``LOADING`` is clear; ``ERROR`` set means rejected: ``ERROR_CODE`` says
   which check failed and ``ERROR_OFFSET`` at which byte; ``CONFIG_VALID`` set means accepted;
4. stream the model's ``weights.bin`` unchanged as one frame on the same port (the device tells
   the images apart by their magic), after ``config.bin``: the device checks its model hash
   against the accepted configuration's, and any new ``config.bin`` invalidates the weights;
5. poll as in 3; ``WEIGHTS_VALID`` set means accepted, ``ERROR`` and the error registers as in 3;
6. write ``CTRL.START``; ``STARTS`` counts it when it was taken, ``STATUS.START_REFUSED`` is set
   when it was refused (it is unless ``CONFIG_VALID`` and ``WEIGHTS_VALID`` are both set).

Running a whole network on chip (a device whose top embeds the sequencer,
:mod:`rtlgen.accel.sequencer`), after 1-6 minus the start:

7. :meth:`AccelDriver.write_input`: ``ACT_ADDR`` = the input base of ``config.bin``'s plan,
   then the input bytes through ``ACT_DATA`` (the address increments itself);
8. :meth:`AccelDriver.run`: ``CTRL.START``, then poll ``STATUS`` until ``NET_DONE`` or
   ``ERROR`` (between polls the transport's ``pause(cycles)``, where it has one, lets the device
   run); ``RUN_CYCLES`` and ``LAYERS_DONE`` say what the run took, ``ERROR_CODE`` and
   ``ERROR_OFFSET`` why it stopped;
9. :meth:`AccelDriver.read_output`: ``ACT_ADDR`` = the output base, then the output bytes
   through ``ACT_DATA``.

The methods are coroutines (a simulated bus advances only when awaited); a blocking transport
can be wrapped in ``async def`` methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rtlgen.accel.regmap import DEVICE_ID, ErrorCode, error_meaning, register
from rtlgen.errors import BitstreamError, ToolError

__all__ = ["Transport", "CocotbAxiTransport", "AccelDriver", "LoadResult", "RunResult"]


class Transport(Protocol):
    """The bus under the driver: 32-bit little-endian registers, one stream frame per call."""

    async def write(self, addr: int, data: bytes) -> None: ...

    async def read(self, addr: int, n: int) -> bytes: ...

    async def stream(self, data: bytes) -> None:
        """Send ``data`` as one frame; return once the device has taken its last byte."""


class CocotbAxiTransport:
    """cocotbext-axi masters on a simulated device whose ports are ``<lite>_*`` (AXI4-Lite) and
    ``<stream>_*`` (AXI4-Stream), clock ``clk`` (period ``period_ns``) and active-high reset
    ``rst``. Only usable inside a cocotb test."""

    def __init__(self, dut: Any, *, lite: str = "s_axil", stream: str = "s_axis",
                 clock: str = "clk", reset: str = "rst", period_ns: float = 10):
        from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSource

        clk, rst = getattr(dut, clock), getattr(dut, reset)
        self.clk = clk
        self.period_ns = period_ns
        self.lite = AxiLiteMaster(AxiLiteBus.from_prefix(dut, lite), clk, rst)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, stream), clk, rst)

    async def write(self, addr: int, data: bytes) -> None:
        resp = await self.lite.write(addr, data)
        if int(resp.resp) != 0:
            raise ToolError(f"AXI4-Lite write to 0x{addr:02x} answered {resp.resp!r}, expected OKAY")

    async def read(self, addr: int, n: int) -> bytes:
        resp = await self.lite.read(addr, n)
        if int(resp.resp) != 0:
            raise ToolError(f"AXI4-Lite read of 0x{addr:02x} answered {resp.resp!r}, expected OKAY")
        return bytes(resp.data)

    async def stream(self, data: bytes) -> None:
        import cocotb
        from cocotb.triggers import RisingEdge

        # cocotbext-axi's AxiStreamSource runs Python on every clock edge, even idle, which caps
        # a whole-network run at ~30,000 simulated cycles per second: its coroutine runs only
        # while a frame is sent (started and killed as the source itself does on reset)
        if self.source._run_cr is None:
            self.source._run_cr = cocotb.start_soon(self.source._run())
        await self.source.send(bytes(data))
        await self.source.wait()
        await RisingEdge(self.clk)      # tvalid low again
        self.source._run_cr.kill()
        self.source._run_cr = None

    async def pause(self, cycles: int) -> None:
        """Let the device run ``cycles`` clock cycles with no bus traffic (one simulator timer,
        no Python per cycle)."""
        from cocotb.triggers import RisingEdge, Timer

        await Timer(cycles * self.period_ns, unit="ns")
        await RisingEdge(self.clk)


def _error_text(code: ErrorCode | int, meaning: str) -> str:
    """``error 7 CRC_MISMATCH, <meaning>``: how every device error is told (an unknown code by number)."""
    name = code.name if isinstance(code, ErrorCode) else str(code)
    return f"error {int(code)} {name}, {meaning}"


@dataclass(frozen=True)
class LoadResult:
    """What the device said about an image (``image``: how messages name it)."""

    accepted: bool
    code: ErrorCode | int
    meaning: str
    offset: int
    bytes_received: int
    cycles: int
    image: str = "the bitstream"

    def describe(self) -> str:
        if self.accepted:
            return f"accepted {self.image} ({self.bytes_received} bytes in {self.cycles} cycles)"
        return f"rejected {self.image}: {_error_text(self.code, self.meaning)} (at byte offset {self.offset})"


@dataclass(frozen=True)
class RunResult:
    """What the device said about a network run (:meth:`AccelDriver.run`)."""

    done: bool
    cycles: int
    layers: int
    code: ErrorCode | int = ErrorCode.NONE
    meaning: str = ""
    offset: int = 0

    def describe(self) -> str:
        if self.done:
            return f"ran {self.layers} layers in {self.cycles} cycles"
        return (f"stopped after {self.layers} layers: {_error_text(self.code, self.meaning)} "
                f"(at config.bin byte offset {self.offset})")


class AccelDriver:
    """The register sequence of :mod:`rtlgen.accel.regmap` over a :class:`Transport`."""

    def __init__(self, transport: Transport, *, max_polls: int = 10_000):
        self.bus = transport
        self.max_polls = max_polls

    async def read_reg(self, name: str) -> int:
        return int.from_bytes(await self.bus.read(register(name).offset, 4), "little")

    async def write_reg(self, name: str, value: int) -> None:
        await self.bus.write(register(name).offset, int(value).to_bytes(4, "little"))

    async def field(self, reg: str, name: str) -> int:
        f = register(reg).field(name)
        return (await self.read_reg(reg) & f.mask) >> f.lsb

    async def identify(self) -> dict[str, Any]:
        """``ID`` checked; the register map and image format versions, the baked-in hash, the
        lanes and the memory sizes."""
        ident = await self.read_reg("ID")
        if ident != DEVICE_ID:
            raise ToolError(f"the device's ID register reads 0x{ident:08x}, expected 0x{DEVICE_ID:08x} "
                            "(an rtlgen accelerator)")
        version = await self.read_reg("VERSION")
        fields = {f.name: (version & f.mask) >> f.lsb for f in register("VERSION").fields}
        lo, hi = await self.read_reg("CONFIG_HASH_LO"), await self.read_reg("CONFIG_HASH_HI")
        return {"regmap": fields["REGMAP"], "bitstream": fields["BITSTREAM"], "weights": fields["WEIGHTS"],
                "config_hash": f"{hi << 32 | lo:016x}", "capacity": await self.read_reg("CONFIG_CAPACITY"),
                "lanes": await self.read_reg("LANES"), "weights_capacity": await self.read_reg("WEIGHTS_CAPACITY")}

    async def status(self) -> dict[str, bool]:
        """``STATUS`` as ``{field name: bool}``."""
        word = await self.read_reg("STATUS")
        return {f.name: bool(word & f.mask) for f in register("STATUS").fields}

    async def error(self) -> tuple[ErrorCode | int, str, int]:
        """``(code, meaning, byte offset)`` of the last frame's first failed check."""
        raw = await self.read_reg("ERROR_CODE")
        code: ErrorCode | int = ErrorCode(raw) if raw in ErrorCode._value2member_map_ else raw
        return code, error_meaning(raw), await self.read_reg("ERROR_OFFSET")

    async def soft_reset(self) -> None:
        await self.write_reg("CTRL", register("CTRL").field("SOFT_RESET").mask)

    async def _load(self, data: bytes, valid: str, image: str, check: bool) -> LoadResult:
        """Stream one image, poll until the verdict, read it (``valid``: its STATUS bit)."""
        await self.bus.stream(bytes(data))
        for _ in range(self.max_polls):
            st = await self.status()
            if not st["LOADING"]:
                break
        else:
            raise ToolError(f"the device still reports STATUS.LOADING after {self.max_polls} polls")
        code, meaning, offset = await self.error()
        result = LoadResult(accepted=st[valid] and not st["ERROR"], code=code, meaning=meaning,
                            offset=offset, bytes_received=await self.read_reg("BYTES_RECEIVED"),
                            cycles=await self.read_reg("LOAD_CYCLES"), image=image)
        if check and not result.accepted:
            err = BitstreamError(f"the accelerator {result.describe()}")
            err.offset = offset  # type: ignore[attr-defined]
            raise err
        return result

    async def load_config(self, data: bytes, *, check: bool = False) -> LoadResult:
        """Stream ``config.bin`` and wait for the verdict; with ``check``, a rejection raises
        :class:`BitstreamError` naming the hardware's error code, meaning and offset."""
        return await self._load(data, "CONFIG_VALID", "the bitstream", check)

    async def load_weights(self, data: bytes, *, check: bool = True) -> LoadResult:
        """Stream ``weights.bin`` (after the ``config.bin`` of its model) and wait for the
        verdict. A rejection raises :class:`BitstreamError` naming the hardware's error code,
        meaning and offset; ``check=False`` returns it as a :class:`LoadResult` instead."""
        return await self._load(data, "WEIGHTS_VALID", "weights.bin", check)

    async def start(self) -> bool:
        """Write ``CTRL.START``; True when the device took it, False when it refused."""
        before = await self.read_reg("STARTS")
        await self.write_reg("CTRL", register("CTRL").field("START").mask)
        # STARTS counts accepted starts (START_REFUSED is sticky until the next frame)
        return await self.read_reg("STARTS") != before

    async def read_config_memory(self, addr: int, n: int) -> bytes:
        """``n`` bytes of the configuration memory from ``addr`` (bitstream offset ``addr + 12``),
        one ``MEM_ADDR`` write and ``MEM_DATA`` read per byte: for checks, not for speed."""
        return await self._read_bytes("MEM_ADDR", "MEM_DATA", addr, n)

    async def read_weights_store(self, addr: int, n: int) -> bytes:
        """``n`` bytes of the weights store from ``addr`` (``weights.bin`` offset ``addr + 12``),
        one ``WEIGHTS_ADDR`` write and ``WEIGHTS_DATA`` read per byte: for checks, not for speed."""
        return await self._read_bytes("WEIGHTS_ADDR", "WEIGHTS_DATA", addr, n)

    async def _read_bytes(self, addr_reg: str, data_reg: str, addr: int, n: int) -> bytes:
        """One memory's bytes through its address/data register pair, a byte per access."""
        out = bytearray()
        for a in range(addr, addr + n):
            await self.write_reg(addr_reg, a)
            out.append(await self.read_reg(data_reg) & 0xFF)
        return bytes(out)

    async def write_activations(self, addr: int, data: bytes) -> None:
        """Write ``data`` into the activation memory from byte ``addr`` (``ACT_ADDR`` once, then
        ``ACT_DATA`` per byte)."""
        await self.write_reg("ACT_ADDR", addr)
        for byte in bytes(data):
            await self.write_reg("ACT_DATA", byte)

    async def read_activations(self, addr: int, n: int) -> bytes:
        """``n`` bytes of the activation memory from byte ``addr`` (``ACT_ADDR`` once, then
        ``ACT_DATA`` per byte)."""
        await self.write_reg("ACT_ADDR", addr)
        return bytes([await self.read_reg("ACT_DATA") & 0xFF for _ in range(n)])

    async def write_input(self, config_bin: bytes, data: bytes) -> None:
        """Write the network input ``data`` (int8 bytes, NHWC) where ``config_bin``'s plan puts
        it; a size other than the plan's is a ValueError."""
        base, size = _plan(config_bin)["input"]
        if len(data) != size:
            raise ValueError(f"the network input is {size} bytes by config.bin's plan, not {len(data)}")
        await self.write_activations(base, data)

    async def read_output(self, config_bin: bytes) -> bytes:
        """The network output (int8 bytes) where ``config_bin``'s plan puts it."""
        base, size = _plan(config_bin)["output"]
        return await self.read_activations(base, size)

    async def run(self, *, poll_cycles: int = 2000) -> RunResult:
        """``CTRL.START`` the sequencer and poll until ``NET_DONE`` or ``ERROR`` (at most
        :attr:`max_polls` polls, ``poll_cycles`` apart where the transport can ``pause``). A
        refused start is a :class:`ToolError` naming the status."""
        if not await self.start():
            raise ToolError(f"the device refused START (STATUS {await self.status()})")
        pause = getattr(self.bus, "pause", None)
        for _ in range(self.max_polls):
            if pause is not None:
                await pause(poll_cycles)
            st = await self.status()
            if st["NET_DONE"] or (st["ERROR"] and not st["BUSY"]):
                break
        else:
            raise ToolError(f"the device still runs after {self.max_polls} polls {poll_cycles} cycles apart")
        cycles, layers = await self.read_reg("RUN_CYCLES"), await self.read_reg("LAYERS_DONE")
        if st["NET_DONE"]:
            return RunResult(True, cycles, layers)
        code, meaning, offset = await self.error()
        return RunResult(False, cycles, layers, code, meaning, offset)


    async def run_batch(self, config_bin: bytes, inputs: list[bytes], *, slots: int,
                        poll_cycles: int = 2000) -> tuple[RunResult, list[bytes]]:
        """Run ``inputs`` (int8 bytes each, NHWC) in one ``START`` with ``slots`` activation
        slots (``BATCH``, ``SLOTS``, ``BATCH_STRIDE`` = the plan's span): the first ``slots``
        inputs are written before ``START``; whenever ``OUTPUTS_DONE`` says input k is done, its
        output is read back and input k + slots written into its slot, then ``CTRL.POST``. Returns
        the run (``RUN_CYCLES``: from ``START`` to the last output) and the outputs (those done
        before a stop)."""
        from rtlgen.bitstream.format import decode

        bs = decode(config_bin)
        (in_base, in_size), (out_base, out_size) = _plan(config_bin).values()
        if any(len(x) != in_size for x in inputs):
            raise ValueError(f"every network input is {in_size} bytes by config.bin's plan")
        b = len(inputs)
        s = max(1, min(slots, b, 16))
        stride = bs.activation_span
        await self.write_reg("BATCH", b)
        await self.write_reg("SLOTS", s)
        await self.write_reg("BATCH_STRIDE", stride)
        for n in range(s):
            await self.write_activations(in_base + n * stride, inputs[n])
        if not await self.start():
            raise ToolError(f"the device refused START (STATUS {await self.status()})")
        pause = getattr(self.bus, "pause", None)
        outputs: list[bytes] = []
        st: dict[str, bool] = {}
        for _ in range(self.max_polls):
            if pause is not None:
                await pause(poll_cycles)
            done = await self.read_reg("OUTPUTS_DONE")
            while len(outputs) < min(done, b):
                k = len(outputs)
                outputs.append(await self.read_activations(out_base + (k % s) * stride, out_size))
                if k + s < b:
                    await self.write_activations(in_base + (k % s) * stride, inputs[k + s])
                    await self.write_reg("CTRL", register("CTRL").field("POST").mask)
            st = await self.status()
            if (st["NET_DONE"] and len(outputs) == b) or (st["ERROR"] and not st["BUSY"]):
                break
        else:
            raise ToolError(f"the device still runs after {self.max_polls} polls {poll_cycles} cycles apart")
        cycles, layers = await self.read_reg("RUN_CYCLES"), await self.read_reg("LAYERS_DONE")
        await self.write_reg("BATCH", 1)
        await self.write_reg("SLOTS", 1)
        if st["NET_DONE"]:
            return RunResult(True, cycles, layers), outputs
        code, meaning, offset = await self.error()
        return RunResult(False, cycles, layers, code, meaning, offset), outputs


def _plan(config_bin: bytes) -> dict[str, tuple[int, int]]:
    """``{"input": (base, bytes), "output": (base, bytes)}`` of a version-3 ``config.bin``."""
    from rtlgen.bitstream.format import decode

    bs = decode(config_bin)
    if not bs.has_plan:
        raise BitstreamError(f"config.bin (format version {bs.version}) has no activation-memory plan; "
                             "build it with this rtlgen ('rtlgen bitstream build')")
    return {"input": (bs.input_base, bs.input_bytes), "output": (bs.output_base, bs.output_bytes)}
