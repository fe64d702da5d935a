"""SRAM macros: what an on-chip memory of a given shape costs when built from a PDK's macros.

The standard-cell flow (:mod:`rtlgen.cost.synth`) maps an Amaranth ``Memory`` to flip-flops,
which is a register file's area and energy, not an SRAM's. This module reads SRAM *macros*
(liberty files of hard memory blocks) and tiles a memory of ``width`` bits x ``depth`` words
with ``ports`` read ports onto them (:func:`plan_memory`).

Macros (:data:`MACROS`, per PDK; :func:`macros`): for ``sky130hd``, the OpenRAM-generated
SkyWater 130 nm macros taped out by VLSIDA (``github.com/VLSIDA/sky130_sram_macros`` at commit
965df15, Apache-2.0, ``rtlgen/data/pdk/sram/LICENSE``), typical corner (TT, 1.8 V, 25 C), each
with a read/write port 0 and a read-only port 1:

============================== ========= ========
macro                          words     bits
============================== ========= ========
sky130_sram_1kbyte_1rw1r_8x1024_8  1024      8
sky130_sram_1kbyte_1rw1r_32x256_8   256     32
sky130_sram_2kbyte_1rw1r_32x512_8   512     32
============================== ========= ========

Energy of a macro: the ``internal_power`` of its clock pins (``clk0``, ``clk1``), rise + fall,
in the ``when`` state of the access: a read on port 1 is ``!csb1``, a write on port 0
``!csb0 & !web0`` (:class:`SramMacro`). These liberty files are OpenRAM's *analytical* estimates:
the same energy in every state, deselected ones (``csb`` high) included, which silicon does not
do (``csb`` gates the macro's internal clock). So this model charges **a port only in a cycle it
accesses** (a deselected port costs nothing) and states the literal reading, every macro's both
ports every cycle, as an upper bound (:attr:`MemoryPlan.ungated_pj_per_cycle`). Leakage is the
file's ``cell_leakage_power``, per macro, always.

Tiling (:func:`plan_memory`): a word of ``width`` bits spans ``ceil(width / bits)`` macros side
by side (*columns*), or, narrower than a macro word, ``bits // width`` words share one macro word
(the read selects among them outside); ``rows`` macros cover the depth. A read port reads one
row's columns; every read port beyond the first takes a copy of the whole array on port 1 (the
writes go to every copy's port 0). The macro is the one whose access costs least, ties broken by
area: a byte-wide memory takes the 8x1024 macro, a 160-bit word the 32x256 one.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from rtlgen.errors import LibertyError
from rtlgen.netlist.liberty import CellLibrary, read_liberty

__all__ = ["SramMacro", "MemoryPlan", "MACROS", "macros", "read_macro", "plan_memory"]

_DIR = Path(__file__).resolve().parent.parent / "data" / "pdk" / "sram"

#: Per PDK, the liberty files of its SRAM macros (shipped in ``rtlgen/data/pdk/sram``).
MACROS: dict[str, tuple[str, ...]] = {
    "sky130hd": ("sky130_sram_1kbyte_1rw1r_8x1024_8_TT_1p8V_25C.lib.gz",
                 "sky130_sram_1kbyte_1rw1r_32x256_8_TT_1p8V_25C.lib.gz",
                 "sky130_sram_2kbyte_1rw1r_32x512_8_TT_1p8V_25C.lib.gz"),
}


@dataclass(frozen=True)
class SramMacro:
    """One macro: ``words`` x ``bits``, ``area_um2``, and per clock cycle on one port: ``read_pj``
    (port 1 reading), ``write_pj`` (port 0 writing), ``idle_pj`` (both ports deselected: what the
    liberty charges for a cycle with no access, used only for the upper bound);
    ``leakage_mw``."""

    name: str
    words: int
    bits: int
    area_um2: float
    read_pj: float
    write_pj: float
    idle_pj: float
    leakage_mw: float
    source: str


def _clock_energy(lib: CellLibrary, cell: str, pin: str, when: str) -> float:
    """Rise + fall energy (pJ) of clock ``pin``'s ``internal_power`` in state ``when``."""
    c = lib.cell(cell)
    if pin not in c.pins:
        raise LibertyError(f"SRAM macro {cell} has no clock pin {pin}; expected a 1rw1r macro (clk0, clk1)",
                           file=str(lib.path))
    norm = when.replace(" ", "")
    for ip in c.pins[pin].internal_power:
        if ip.when is not None and ip.when.replace(" ", "") == norm and ip.rise and ip.fall:
            return (float(ip.rise.values[0, 0]) + float(ip.fall.values[0, 0])) * lib.energy_unit_pj
    raise LibertyError(f"SRAM macro {cell}: clock pin {pin} has no internal_power when {when!r}; "
                       "expected OpenRAM's per-state scalar tables", file=str(lib.path))


@functools.cache
def read_macro(path: str | Path) -> SramMacro:
    """The macro of an OpenRAM 1rw1r liberty file (one cell with a ``memory`` group)."""
    from liberty.parser import parse_liberty

    path = Path(path)
    lib = read_liberty(path)
    if len(lib.cells) != 1:
        raise LibertyError(f"{len(lib.cells)} cells; expected one SRAM macro", file=str(path))
    (name, cell), = lib.cells.items()
    # the memory group (words, bits) is not in CellLibrary: read it from the text
    import gzip
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    groups = parse_liberty(text).get_groups("cell")[0].get_groups("memory")
    if not groups:
        raise LibertyError(f"cell {name} has no memory group; expected an SRAM macro", file=str(path))
    bits, address = int(groups[0]["word_width"]), int(groups[0]["address_width"])
    read = _clock_energy(lib, name, "clk1", "!csb1")
    write = _clock_energy(lib, name, "clk0", "!csb0 & !web0")
    idle = _clock_energy(lib, name, "clk0", "csb0 & web0") + _clock_energy(lib, name, "clk1", "csb1")
    return SramMacro(name=name, words=1 << address, bits=bits, area_um2=cell.area, read_pj=read,
                     write_pj=write, idle_pj=idle, leakage_mw=cell.leakage * lib.leakage_unit_mw,
                     source=path.name)


def macros(pdk: str) -> tuple[SramMacro, ...]:
    """The SRAM macros of ``pdk`` (empty where rtlgen has none)."""
    return tuple(read_macro(_DIR / f) for f in MACROS.get(pdk, ()))


@dataclass(frozen=True)
class MemoryPlan:
    """A memory of ``width`` x ``depth`` with ``read_ports`` read ports tiled onto ``macro``:
    ``columns`` x ``rows`` macros per copy, ``copies`` copies (one per read port)."""

    name: str
    width: int
    depth: int
    read_ports: int
    macro: SramMacro
    columns: int
    rows: int
    copies: int

    @property
    def count(self) -> int:
        """Macros in all."""
        return self.columns * self.rows * self.copies

    @property
    def area_mm2(self) -> float:
        return self.count * self.macro.area_um2 * 1e-6

    @property
    def read_pj(self) -> float:
        """One read on one port: one row's columns."""
        return self.columns * self.macro.read_pj

    @property
    def write_pj(self) -> float:
        """One write: one row's columns in every copy."""
        return self.columns * self.copies * self.macro.write_pj

    @property
    def leakage_mw(self) -> float:
        return self.count * self.macro.leakage_mw

    @property
    def ungated_pj_per_cycle(self) -> float:
        """The liberty read literally: every macro's clocks charged every cycle, accessed or not
        (the upper bound of the module docstring)."""
        return self.count * max(self.macro.idle_pj, self.macro.read_pj + self.macro.write_pj)


def _tile(width: int, depth: int, macro: SramMacro) -> tuple[int, int]:
    if width >= macro.bits:
        return math.ceil(width / macro.bits), math.ceil(depth / macro.words)
    return 1, math.ceil(depth / (macro.words * (macro.bits // width)))


def plan_memory(name: str, width: int, depth: int, read_ports: int, pdk: str) -> MemoryPlan | None:
    """``width`` x ``depth`` with ``read_ports`` read ports on ``pdk``'s cheapest macro per
    access (module docstring), or None where the PDK has no macros."""
    if width < 1 or depth < 1 or read_ports < 1:
        raise ValueError(f"memory {name}: width {width}, depth {depth}, read ports {read_ports}; "
                         "expected each at least 1")
    best = None
    for m in macros(pdk):
        cols, rows = _tile(width, depth, m)
        key = (cols * m.read_pj, cols * rows * m.area_um2)
        if best is None or key < best[0]:
            best = (key, MemoryPlan(name, width, depth, read_ports, m, cols, rows, read_ports))
    return None if best is None else best[1]
