r"""Synthesis of a generated accelerator to the cells of a liberty file (Yosys).

Script: read the netlists and the top, ``synth -flatten`` (memories become flip-flops and logic:
the synthesis maps no SRAM macros, so the area of a large memory configuration is that of a
register file; :mod:`rtlgen.accel.memories` gives it as sky130 SRAM macros), map flip-flops with ``dfflibmap`` and logic with ``abc -liberty``, and
report the cell area with ``stat -liberty``. Area is in the liberty's unit (um^2 for every PDK
of :mod:`rtlgen.cost.pdk`). The cells are those of a PDK's prepared liberty file (default
sky130hd; ``pdk=`` another, ``liberty=`` a file of one's own), so its ``dont_use`` cells (scan
flip-flops, clock gates, ...) are never chosen. :func:`accelerator_timing` adds the clock:
OpenSTA's worst register-to-register (or port) path on the mapped design, hence Fmax.

:func:`map_accelerator` runs the same script for the power flow (:mod:`rtlgen.accel.power`) with
one difference: each multiplier netlist module is synthesized on its own (``keep_hierarchy``
until the cells are mapped, then flattened), as the cost flow synthesizes it, so that its cells
keep the instance path in their names (``$flatten\unit0.lane3.bank.mul1.netlist.$abc$...``)
and the power of each bank slot can be told apart. It returns the mapped netlist as a
:class:`rtlgen.cost.synth.MappedNetlist`: the Yosys JSON module with its cells renamed ``c0``,
``c1``, ... in Yosys' order (each keeps its Yosys name under ``"path"``), and structural Verilog
written from it (nets ``n<ID>``, Yosys' bit ids), so that OpenSTA's pin names and the JSON agree.

**Buffering for timing.** Yosys' plain ``abc -liberty`` script ends with ``&nf`` (mapping):
it inserts no buffer and sizes no gate, so one small cell drives every load of a net, and this
design has nets of thousands of loads (the reset; registers that Yosys merges across lanes,
such as each lane's copy of ``first``), which made OpenSTA's worst path one X1 cell driving a
huge load through the wire-load model (Fmax 1-83 MHz, meaningless). With ``clock_target_ns``
set, :func:`map_accelerator` runs ABC with the script Yosys 0.23 uses for ``abc -constr``
(``help abc``), ``buffer -p`` spelled out: ``...; &nf -D <ps>; &put; buffer -p; upsize -D
<ps>; dnsize -D <ps>; stime -p``. ``-D`` (Yosys' delay target, in ps) makes ``&nf`` map for
that period rather than for area (for the shortest delay when it cannot be met); ``buffer``
splits every net into groups of at most 10 loads (ABC's default ``-N``; ``-p`` is "buffering
primary inputs" in its help: Yosys' ABC netlist has the ports and the flip-flop outputs as
primary inputs); ``upsize``/``dnsize`` size the gates on the critical paths against the
target. ``-constr`` gives ABC the PDK's driving cell and, per ABC output (a flip-flop D pin,
a port), one flip-flop D-pin load. ``buffer`` is timing-driven (ABC ``sclBufSize.c``): it
sorts a net's loads by departure time (delay from the load to the outputs, 0 for a
flip-flop D pin) and puts the ten least critical under a new buffer, which goes back into the
sorted list, until one load is left. A net with thousands of loads and a spread of departure
times thus becomes a chain of buffers, not a balanced tree: the critical loads stay near the
driver, loads just before a flip-flop end up deep, within the slack ABC computes for them.
On a 1-unit, 4-lane accelerator on sky130hd, Yosys' own ``-constr`` script (``buffer``
without ``-p``) gave the same netlist cell for cell, and targets of 2 and 10 ns the same
netlist too (both below the 12 ns ABC reached); ``-p`` is written out so as not to depend on
that.

What ABC cannot see stays unbuffered: the clock (timed as ideal, as a clock tree would make
it) and loads outside the ABC netlist, i.e. flip-flop pins wired straight to another
flip-flop or a port. The reset is not one of those: Amaranth's reset is synchronous, so it
reaches the flip-flops through logic that ABC maps, and it is buffered and timed like any
data input (a synchronous reset must meet the clock in silicon too, so no false path or
ideal network is set on it in OpenSTA).

The power flow keeps the plain mapping (``clock_target_ns=None``, the default of
:func:`map_accelerator`): buffering is closer to silicon there too (the buffer trees switch,
and the slews of today's huge nets exceed the liberty tables and are clamped), but it changes
every accelerator power figure and the cells each bank slot is charged with, so it is a change
of its own, to be made with the power benchmark re-measured.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rtlgen.errors import NetlistError, ToolError
from rtlgen.netlist.liberty import read_liberty
from rtlgen.paths import file_hash
from rtlgen.accel.manifest import read_manifest
from rtlgen.cost.pdk import Pdk, get_pdk, resolve_liberty
from rtlgen.cost.sta import StaConfig, run_sta
from rtlgen.cost.synth import MappedNetlist
from rtlgen.netlist.yosys import run_yosys, tcl_quote
from rtlgen.accel.generate import TOP_MODULE, GeneratedDesign

__all__ = ["AccelArea", "AccelTiming", "FMAX_CLOCK_TARGET_NS", "map_accelerator", "synthesize_accelerator",
           "accelerator_timing"]


@dataclass(frozen=True)
class AccelArea:
    cells: int
    area: float
    cell_counts: dict[str, int]


def synthesize_accelerator(design: GeneratedDesign, liberty: str | os.PathLike | None = None,
                           *, pdk: str | Pdk | None = None, timeout: float = 1200) -> AccelArea:
    lib = resolve_liberty(liberty, pdk)
    reads = "\n".join(f"read_verilog -sv {tcl_quote(p)}" for p in design.sources)
    script = f"""{reads}
hierarchy -check -top {TOP_MODULE}
synth -flatten -top {TOP_MODULE}
dfflibmap -liberty {tcl_quote(lib)}
abc -liberty {tcl_quote(lib)}
opt_clean -purge
tee -o stat.txt stat -liberty {tcl_quote(lib)}
"""
    log = run_yosys(script, cwd=design.out_dir, timeout=timeout)
    stat_file = design.out_dir / "stat.txt"
    text = stat_file.read_text() if stat_file.exists() else log
    cells = re.search(r"Number of cells:\s+(\d+)", text)
    area = re.search(r"Chip area for (?:top )?module .*?:\s+([\d.]+)", text)
    if cells is None or area is None:
        raise ToolError(f"Yosys reported no cell count or chip area for {TOP_MODULE}:\n{text[-2000:]}")
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", text, re.M)}
    return AccelArea(int(cells[1]), float(area[1]), counts)


#: The clock period (ns) :func:`accelerator_timing` asks ABC for: shorter than any PDK reaches on
#: an accelerator (the default one: 1.7 ns on ASAP7, benchmarks/RESULTS.md), so ABC maps,
#: buffers and sizes for the shortest delay it can; Fmax is what OpenSTA then measures.
FMAX_CLOCK_TARGET_NS = 0.1

# Yosys 0.23's ABC script for ``abc -liberty -constr`` (``help abc``) with ``buffer -p`` spelled
# out; Yosys replaces {D} by ``-D <ps>``. Commas stand for blanks in ``abc -script +...``.
_ABC_BUFFERED = ("+strash;&get,-n;&fraig,-x;&put;scorr;dc2;dretime;strash;&get,-n;&dch,-f;&nf,{D};&put;"
                 "buffer,-p;upsize,{D};dnsize,{D};stime,-p")


def _abc_command(lib_path: Path, clock_target_ns: float | None, constr: Path,
                 liberty: str | os.PathLike | None, pdk: str | Pdk | None) -> str:
    """The ``abc`` command: plain mapping, or mapping, buffering and sizing for a clock target
    (module docstring). Writes the constraint file ``constr`` when it is needed."""
    if clock_target_ns is None:
        return f"abc -liberty {tcl_quote(lib_path)}"
    if not (clock_target_ns > 0 and clock_target_ns < float("inf")):
        raise ValueError(f"clock_target_ns must be a positive number of ns, not {clock_target_ns}")
    lines = []
    if liberty is None:  # a PDK of the registry: its input driver and flip-flop D-pin load
        known = get_pdk(pdk)
        lines = [f"set_driving_cell {known.driving_cell}",
                 f"set_load {known.output_load_pf * 1e3:g}"]  # ABC reads fF
    constr.write_text("".join(line + "\n" for line in lines))
    delay_ps = max(1, round(clock_target_ns * 1e3))
    return (f"abc -liberty {tcl_quote(lib_path)} -constr {tcl_quote(constr)} -D {delay_ps} "
            f"-script {_ABC_BUFFERED}")


def map_accelerator(design: GeneratedDesign, liberty: str | os.PathLike | None = None,
                    *, pdk: str | Pdk | None = None, timeout: float = 1200,
                    clock_target_ns: float | None = None) -> MappedNetlist:
    """The design mapped to the liberty's cells, flattened, multipliers synthesized one by one.

    ``clock_target_ns`` None (the default, and what the power flow uses): Yosys' plain ABC
    mapping, no buffers. A period in ns: ABC also buffers every net it sees to at most 10 loads
    and sizes gates for that period (module docstring), as :func:`accelerator_timing` needs."""
    lib = read_liberty(resolve_liberty(liberty, pdk))
    manifest = read_manifest(design.out_dir)
    modules = sorted({slot["module"] for bank in manifest["units"] for slot in bank})
    reads = "\n".join(f"read_verilog -sv {tcl_quote(p)}" for p in design.sources)
    keep = " ".join(modules)
    with tempfile.TemporaryDirectory(prefix="rtlgen-accel-map-") as tmp:
        out_json = Path(tmp) / "mapped.json"
        abc = _abc_command(lib.path, clock_target_ns, Path(tmp) / "abc.constr", liberty, pdk)
        script = f"""{reads}
hierarchy -check -top {TOP_MODULE}
setattr -mod -set keep_hierarchy 1 {keep}
synth -flatten -top {TOP_MODULE}
dfflibmap -liberty {tcl_quote(lib.path)}
{abc}
setattr -mod -set keep_hierarchy 0 {keep}
flatten
opt_clean -purge
write_json {tcl_quote(out_json)}
"""
        run_yosys(script, cwd=design.out_dir, timeout=timeout)
        module = json.loads(out_json.read_text())["modules"].get(TOP_MODULE)
    if module is None:
        raise ToolError(f"Yosys wrote no module {TOP_MODULE} when mapping {design.out_dir}")
    for name, cell in module["cells"].items():
        if cell["type"] not in lib.cells:
            raise NetlistError(f"after mapping, cell {name} is a {cell['type']}, not a cell of "
                               f"{lib.name}", file=str(design.top))
    module = dict(module, cells={f"c{k}": dict(cell, path=name)
                                 for k, (name, cell) in enumerate(module["cells"].items())})
    return MappedNetlist(source=design.top, source_hash=file_hash(design.top), top=TOP_MODULE,
                         library=lib, verilog=_structural_verilog(module, TOP_MODULE), module=module)


@dataclass(frozen=True)
class AccelTiming:
    """Area and speed of a mapped accelerator (units in the names)."""

    cells: int
    area_um2: float
    delay_ns: float                  # worst register-to-register / port path
    critical_path: tuple[str, ...]

    @property
    def fmax_mhz(self) -> float:
        return 1e3 / self.delay_ns if self.delay_ns > 0 else float("inf")


def accelerator_timing(design: GeneratedDesign, liberty: str | os.PathLike | None = None, *,
                       pdk: str | Pdk | None = None, mapped: MappedNetlist | None = None,
                       environment: StaConfig = StaConfig(driving_cell="(ideal)"),
                       clock_target_ns: float | None = FMAX_CLOCK_TARGET_NS) -> AccelTiming:
    """Cells, area and Fmax of ``design`` on a PDK: OpenSTA times the mapped netlist with an ideal
    clock on ``clk`` (no clock tree, no wires beyond the liberty's wire-load model), inputs at
    ``environment``'s transition.

    The design is mapped with :func:`map_accelerator` at ``clock_target_ns`` (buffered and sized
    for that period; default :data:`FMAX_CLOCK_TARGET_NS`, i.e. as fast as ABC can; give the
    period you mean to run at to let ABC save area once it is met; None: unbuffered, which
    makes Fmax meaningless on a design with high-fanout nets). ``mapped`` reuses a
    :func:`map_accelerator` result instead (then ``clock_target_ns`` is not used: map it with
    one for a real Fmax)."""
    mapped = mapped if mapped is not None else map_accelerator(design, liberty, pdk=pdk,
                                                               clock_target_ns=clock_target_ns)
    report = run_sta(mapped, environment, clock_port="clk", delay_only=True)
    return AccelTiming(mapped.n_cells, mapped.area, report.delay_ns, report.critical_path)


def _structural_verilog(module: dict, top: str) -> str:
    def net(bit) -> str:
        return f"n{bit}" if isinstance(bit, int) else ("1'b1" if bit == "1" else "1'b0")

    ports = module["ports"]
    lines = [f"module {top}({', '.join(ports)});"]
    nets = set()
    assigns = []
    for name, port in ports.items():
        bits = port["bits"]
        width = f"[{len(bits) - 1}:0] " if len(bits) > 1 else ""
        lines.append(f"  {port['direction']} {width}{name};")
        for i, b in enumerate(bits):
            ref = f"{name}[{i}]" if len(bits) > 1 else name
            if isinstance(b, int):
                nets.add(b)
            assigns.append(f"  assign {net(b)} = {ref};" if port["direction"] == "input"
                           else f"  assign {ref} = {net(b)};")
    insts = []
    for cname, cell in module["cells"].items():
        conns = ", ".join(f".{p}({net(bits[0])})" for p, bits in cell["connections"].items())
        nets.update(bits[0] for bits in cell["connections"].values() if isinstance(bits[0], int))
        insts.append(f"  {cell['type']} {cname} ({conns});")
    lines += [f"  wire n{b};" for b in sorted(nets)] + assigns + insts + ["endmodule", ""]
    return "\n".join(lines)
