"""The accelerator's control and status registers, as data: the one definition that the RTL
(:mod:`rtlgen.accel.axi`, :mod:`rtlgen.accel.loader`), the host driver (:mod:`rtlgen.hil.driver`)
and the generated documents (a Markdown table and a C header, written by ``rtlgen gen accel``)
all read.

Registers are 32 bits wide at byte offsets on the AXI4-Lite port (``s_axil_*``); a register is
read or written whole (``wstrb`` is ignored). ``access`` is ``ro`` (writes ignored), ``rw``, or
``wo`` (write-only command bits, reading 0). An unmapped offset answers ``SLVERR``.

Both images arrive unchanged on the one AXI4-Stream sink (``s_axis_*``, 8-bit ``tdata``, one
image per frame ending with ``tlast``): ``config.bin`` (:mod:`rtlgen.bitstream.format`, magic
``RTLB``) and ``weights.bin`` (:mod:`rtlgen.bitstream.weights`, magic ``RTLW``); the checker tells
them apart by the magic (:mod:`rtlgen.accel.loader` owns the rules: the loading order, what a
frame invalidates, what is stored where). ``ERROR_CODE`` and ``ERROR_OFFSET`` describe the last
frame, whichever image it was, reporting its first failed check in the order the image's Python
decoder checks (:class:`ErrorCode` lists the codes), or, after a run that the on-chip sequencer
(:mod:`rtlgen.accel.sequencer`) stopped, why it stopped and at which ``config.bin`` byte.

Running a network (accelerators generated with the front end in the top, ``gen accel --axi``):
write the network input into the activation memory (``ACT_ADDR`` = the input base that
``config.bin``'s header gives, then one ``ACT_DATA`` write per byte), write ``CTRL.START``, poll
``STATUS`` until ``NET_DONE`` (or ``ERROR``), read the output back (``ACT_ADDR`` = the output
base, one ``ACT_DATA`` read per byte). ``RUN_CYCLES`` and ``LAYERS_DONE`` say what the run took.
Several inputs in one ``START`` (the compute units work on consecutive inputs at once;
:mod:`rtlgen.accel.sequencer`): write ``BATCH``, ``SLOTS`` and ``BATCH_STRIDE`` (at least
``config.bin``'s plan span), the first ``SLOTS`` inputs at the input base + ``slot *
BATCH_STRIDE``, ``CTRL.START``; whenever ``OUTPUTS_DONE`` passes input k, read its output from
its slot and, if inputs remain, write input ``k + SLOTS`` into that slot and ``CTRL.POST``
(``ACT_ADDR``/``ACT_DATA`` have their own port, usable while the units run);
:meth:`rtlgen.hil.driver.AccelDriver.run_batch` does this.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from rtlgen.bitstream.format import VERSION as BITSTREAM_VERSION
from rtlgen.bitstream.weights import VERSION as WEIGHTS_VERSION

__all__ = ["Access", "Field", "Register", "ErrorCode", "REGISTERS", "ERROR_MEANINGS", "DEVICE_ID",
           "REGMAP_VERSION", "register", "error_meaning", "markdown_table", "c_header"]

Access = Literal["ro", "rw", "wo"]

#: ``ID`` register value: ASCII "RTLA" read as a little-endian word.
DEVICE_ID = int.from_bytes(b"RTLA", "little")
#: Version of this register map (``VERSION[15:0]``); bumped when an offset or a meaning changes.
REGMAP_VERSION = 6


class ErrorCode(enum.IntEnum):
    """``ERROR_CODE`` values: which check of the last frame (``config.bin`` or ``weights.bin``)
    failed first."""

    NONE = 0
    BAD_MAGIC = 1
    TRUNCATED = 2
    BAD_VERSION = 3
    BAD_FLAGS = 4
    BAD_LENGTH = 5
    TOO_LONG = 6
    CRC_MISMATCH = 7
    TOO_LARGE = 8
    ACCEL_HASH_MISMATCH = 9
    LANES_MISMATCH = 10
    NO_CONFIG = 11
    MODEL_HASH_MISMATCH = 12
    UNSUPPORTED_LAYER = 13
    NO_LAYER_WEIGHTS = 14
    NO_ACTIVATION_PLAN = 15


#: Per code: its meaning, and what ``ERROR_OFFSET`` then holds.
ERROR_MEANINGS: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.NONE: ("no error", "0"),
    ErrorCode.BAD_MAGIC: ("not an rtlgen image: the magic is neither RTLB (config.bin) nor RTLW (weights.bin)",
                          "the first differing byte"),
    ErrorCode.TRUNCATED: ("truncated: the frame ended (tlast) before the declared length",
                          "the number of bytes received"),
    ErrorCode.BAD_VERSION: ("unsupported format version of the image (VERSION register says which)", "4"),
    ErrorCode.BAD_FLAGS: ("header flags are not 0", "6"),
    ErrorCode.BAD_LENGTH: ("declared length is shorter than the header and the CRC", "8"),
    ErrorCode.TOO_LONG: ("bytes after the declared end", "the declared length"),
    ErrorCode.CRC_MISMATCH: ("CRC-32 mismatch: the image is corrupt", "the CRC field (length - 4)"),
    ErrorCode.TOO_LARGE: ("the image does not fit its on-chip memory (CONFIG_CAPACITY or WEIGHTS_CAPACITY)", "8"),
    ErrorCode.ACCEL_HASH_MISMATCH: ("the bitstream is for another accelerator configuration", "12"),
    ErrorCode.LANES_MISMATCH: ("weights.bin is laid out for another lane count than this hardware's (LANES)", "12"),
    ErrorCode.NO_CONFIG: ("weights.bin arrived with no accepted config.bin to check its model hash against", "16"),
    ErrorCode.MODEL_HASH_MISMATCH: ("weights.bin is for another model than the accepted config.bin names", "16"),
    ErrorCode.UNSUPPORTED_LAYER: ("the sequencer stopped at a layer descriptor of a kind this hardware cannot run "
                                  "(depthwise_conv2d)", "the descriptor's byte offset in config.bin"),
    ErrorCode.NO_LAYER_WEIGHTS: ("the sequencer stopped: weights.bin has no record of the layer (index and kind) "
                                 "that this config.bin descriptor names", "the descriptor's byte offset in config.bin"),
    ErrorCode.NO_ACTIVATION_PLAN: ("the sequencer stopped: the descriptor's in_base equals its out_base (config.bin "
                                   "has no activation-memory plan; 'rtlgen bitstream build' makes one)",
                                   "the descriptor's byte offset in config.bin"),
}


def error_meaning(code: int) -> str:
    """The meaning of an ``ERROR_CODE`` value; unknown values say so rather than raise."""
    try:
        return ERROR_MEANINGS[ErrorCode(code)][0]
    except ValueError:
        return f"unknown error code {code} (this rtlgen knows {', '.join(str(int(c)) for c in ErrorCode)})"


@dataclass(frozen=True)
class Field:
    """Bits ``lsb .. lsb+width-1`` of a register."""

    name: str
    lsb: int
    width: int
    meaning: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int        # byte offset on the AXI4-Lite port
    access: Access
    reset: int         # value after reset (for ro registers fed by the design: the value read then)
    meaning: str
    fields: tuple[Field, ...] = ()
    width: int = 32
    #: ``rw`` only: the device holds the value and acts on accesses (e.g. an address that
    #: auto-increments): :class:`rtlgen.accel.axi.AxiLiteRegisters` reads it from an input and
    #: gives the write strobe and data, and a read strobe ``<name>_re``.
    device_held: bool = False

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise ValueError(f"register {self.name} has no field {name!r}; it has "
                       f"{', '.join(f.name for f in self.fields) or 'none'}")


REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x00, "ro", DEVICE_ID, 'device identifier, ASCII "RTLA" (0x414c5452)'),
    Register("VERSION", 0x04, "ro", REGMAP_VERSION | (BITSTREAM_VERSION << 16) | (WEIGHTS_VERSION << 24),
             "register map version and the image format versions the checker reads",
             (Field("REGMAP", 0, 16, "register map version"),
              Field("BITSTREAM", 16, 8, "config.bin format version accepted"),
              Field("WEIGHTS", 24, 8, "weights.bin format version accepted"))),
    Register("CTRL", 0x08, "wo", 0, "commands; write 1 to a bit, bits read 0",
             (Field("START", 0, 1, "run the configured accelerator; refused (STATUS.START_REFUSED) "
                                   "unless CONFIG_VALID and WEIGHTS_VALID are set, nothing is loading and "
                                   "the engine is idle"),
              Field("SOFT_RESET", 1, 1, "forget the configuration, the weights, the error and the counters"),
              Field("POST", 2, 1, "the next input of the batch is in its slot (see SLOTS)"))),
    Register("STATUS", 0x0C, "ro", 0, "state",
             (Field("BUSY", 0, 1, "the engine or the sequencer is running"),
              Field("DONE", 1, 1, "the engine finished a layer since its last start"),
              Field("ERROR", 2, 1, "the last frame was rejected, or the sequencer stopped the last run "
                                   "(see ERROR_CODE)"),
              Field("CONFIG_VALID", 3, 1, "a config.bin passed every check and no later frame replaced it"),
              Field("LOADING", 4, 1, "a frame is being received or checked"),
              Field("START_REFUSED", 5, 1, "a START was refused since the last frame"),
              Field("WEIGHTS_VALID", 6, 1, "a weights.bin passed every check against this hardware and the "
                                           "accepted config.bin, and no later frame arrived"),
              Field("NET_DONE", 7, 1, "the sequencer ran every layer of config.bin since the last START"))),
    Register("ERROR_CODE", 0x10, "ro", 0, "first failed check of the last frame, or why the sequencer stopped "
                                          "the last run (ErrorCode)"),
    Register("ERROR_OFFSET", 0x14, "ro", 0, "byte offset in the last frame's image of the failed check, or of the "
                                            "descriptor in config.bin where the sequencer stopped"),
    Register("CONFIG_HASH_LO", 0x18, "ro", 0,
             "accelerator configuration hash baked in at generation, bits 31..0 (the hex string "
             "as a number)"),
    Register("CONFIG_HASH_HI", 0x1C, "ro", 0, "accelerator configuration hash, bits 63..32"),
    Register("BYTES_RECEIVED", 0x20, "ro", 0, "bytes of the current or last frame"),
    Register("CONFIG_LENGTH", 0x24, "ro", 0, "declared length of the last accepted config.bin"),
    Register("CONFIG_CAPACITY", 0x28, "ro", 0,
             "bytes of on-chip configuration memory (the bitstream after its 12-byte header, CRC "
             "excluded, must fit)"),
    Register("LOAD_CYCLES", 0x2C, "ro", 0, "cycles from the first byte of the last frame to its verdict"),
    Register("STARTS", 0x30, "ro", 0, "accepted STARTs since reset"),
    Register("MEM_ADDR", 0x34, "rw", 0, "byte address in the configuration memory for MEM_DATA"),
    Register("MEM_DATA", 0x38, "ro", 0, "configuration memory byte at MEM_ADDR (bitstream byte "
                                        "MEM_ADDR + 12)"),
    Register("LANES", 0x3C, "ro", 0, "lanes of this hardware: the L a weights.bin must be laid out for"),
    Register("WEIGHTS_LENGTH", 0x40, "ro", 0, "declared length of the last accepted weights.bin"),
    Register("WEIGHTS_CAPACITY", 0x44, "ro", 0,
             "bytes of the on-chip weights store (weights.bin after its first 12 bytes, CRC excluded, must fit)"),
    Register("WEIGHTS_ADDR", 0x48, "rw", 0, "byte address in the weights store for WEIGHTS_DATA"),
    Register("WEIGHTS_DATA", 0x4C, "ro", 0, "weights store byte at WEIGHTS_ADDR (weights.bin byte WEIGHTS_ADDR + 12)"),
    Register("RUN_CYCLES", 0x50, "ro", 0, "cycles of the last network run, from START to NET_DONE (or to the stop)"),
    Register("LAYERS_DONE", 0x54, "ro", 0, "descriptors (layer and op) the sequencer finished in the current or last run"),
    Register("ACT_ADDR", 0x58, "rw", 0, "byte address in the activation memory for ACT_DATA; every ACT_DATA "
                                        "access increments it", device_held=True),
    Register("ACT_DATA", 0x5C, "rw", 0, "activation memory byte: a write stores bits 7..0 at ACT_ADDR, a read "
                                        "returns the byte at ACT_ADDR; either increments ACT_ADDR (on a device "
                                        "with the sequencer through a port of its own, so also while it runs: "
                                        "only a slot the units are not using, see SLOTS; on an engine with "
                                        "host ports while BUSY is clear)", device_held=True),
    Register("BATCH", 0x60, "rw", 1, "inputs one START runs (0 counts as 1), one after another through the "
                                     "network, the compute units working on consecutive inputs at once"),
    Register("SLOTS", 0x64, "rw", 1, "activation slots (1..16; 0 counts as 1, more as 16): input n's activations "
                                     "lie at the plan's addresses + (n mod SLOTS) * BATCH_STRIDE; the first SLOTS "
                                     "inputs are in place at START, each further one is placed by the host after "
                                     "it read the output of the input SLOTS before it, then CTRL.POST"),
    Register("BATCH_STRIDE", 0x68, "rw", 0, "bytes between two slots in the activation memory (at least the "
                                            "plan's size)"),
    Register("OUTPUTS_DONE", 0x6C, "ro", 0, "inputs of the current or last run whose output is in place (in "
                                            "input order)"),
    Register("UNITS", 0x70, "ro", 0, "compute units of this hardware that run at the same time (0: a front end "
                                     "without the sequencer)"),
    Register("CONFIG_READS", 0x74, "ro", 0, "reads of the configuration memory by the sequencer's walkers in the "
                                            "current or last run (cycles with a walker's read enable, every "
                                            "walker's together; rtlgen.accel.schedule counts them)"),
    Register("WEIGHTS_READS", 0x78, "ro", 0, "reads of the weights store by the sequencer's walkers in the current "
                                             "or last run (as CONFIG_READS)"),
    Register("ENGINE_CLOCKS", 0x7C, "ro", 0, "cycles in which a layer engine ran or its walker wrote it, in the "
                                             "current or last run, every engine's together: with clock gating (the "
                                             "default) the only cycles after which an engine gets a clock edge; "
                                             "rtlgen.accel.schedule counts them"),
)


def register(name: str) -> Register:
    """The register called ``name``; a wrong name lists the valid ones."""
    for r in REGISTERS:
        if r.name == name:
            return r
    raise ValueError(f"no register {name!r}; registers: {', '.join(r.name for r in REGISTERS)}")


def markdown_table() -> str:
    """The register map and error codes as Markdown."""
    lines = ["| Offset | Register | Access | Reset | Meaning |", "|---|---|---|---|---|"]
    for r in REGISTERS:
        lines.append(f"| 0x{r.offset:02X} | {r.name} | {r.access} | 0x{r.reset:X} | {r.meaning} |")
        for f in r.fields:
            bits = f"{f.lsb}" if f.width == 1 else f"{f.lsb + f.width - 1}:{f.lsb}"
            lines.append(f"| | {r.name}.{f.name} [{bits}] | | | {f.meaning} |")
    lines += ["", "| ERROR_CODE | Name | Meaning | ERROR_OFFSET |", "|---|---|---|---|"]
    lines += [f"| {int(c)} | {c.name} | {ERROR_MEANINGS[c][0]} | {ERROR_MEANINGS[c][1]} |" for c in ErrorCode]
    return "\n".join(lines) + "\n"


def c_header(config_hash: str | None = None) -> str:
    """A C header: ``RTLGEN_REG_<NAME>`` offsets, ``RTLGEN_<REG>_<FIELD>`` masks, error codes."""
    out = ["/* Generated by rtlgen (rtlgen/accel/regmap.py); do not edit. */",
           "#ifndef RTLGEN_ACCEL_REGS_H", "#define RTLGEN_ACCEL_REGS_H", "",
           f"#define RTLGEN_DEVICE_ID 0x{DEVICE_ID:08X}u",
           f"#define RTLGEN_REGMAP_VERSION {REGMAP_VERSION}u"]
    if config_hash is not None:
        out.append(f'#define RTLGEN_CONFIG_HASH "{config_hash}"')
    out.append("")
    for r in REGISTERS:
        out.append(f"#define RTLGEN_REG_{r.name} 0x{r.offset:02X}u  /* {r.access}: {r.meaning} */")
        for f in r.fields:
            out.append(f"#define RTLGEN_{r.name}_{f.name} 0x{f.mask:08X}u")
    out.append("")
    for c in ErrorCode:
        out.append(f"#define RTLGEN_ERR_{c.name} {int(c)}u  /* {ERROR_MEANINGS[c][0]}; offset: {ERROR_MEANINGS[c][1]} */")
    out += ["", "#endif /* RTLGEN_ACCEL_REGS_H */", ""]
    return "\n".join(out)
