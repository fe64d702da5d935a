"""Generate the accelerator's Verilog: the Amaranth top plus the multipliers' netlists as is.

Output folder (every file written atomically; ``manifest.json`` last, so a folder with a
manifest is complete)::

    OUT/rtlgen_accel.v       the generated top (module ``rtlgen_accel``) and its submodules
    OUT/netlists/NAME.v      each distinct multiplier netlist, copied byte for byte from the library
    OUT/files.f              the source list, top last (for Verilator, Icarus, Yosys)
    OUT/lint_waivers.vlt     Verilator ``-Wall`` waivers, each justified (:data:`LINT_WAIVERS`)
    OUT/accel.toml           the configuration, multipliers resolved to table hashes
    OUT/regs.md              the control/status register map and error codes (Markdown)
    OUT/rtlgen_accel_regs.h  the same as C defines, with the baked-in config hash
    OUT/device/rtlgen_accel_device.v  the AXI front end (module ``rtlgen_accel_device``:
                             AXI4-Lite registers, AXI4-Stream checker of config.bin and
                             weights.bin, configuration memory and weights store;
                             :mod:`rtlgen.accel.loader`) on its own; with
                             ``axi=True`` (``gen accel --axi``) it is also embedded in the top
    OUT/manifest.json        config hash, top module, ports, and per unit/slot: name, hash,
                             signedness, netlist module; whether the multipliers' operand
                             registers are clock-gated

Netlist files are copied unchanged, with one exception: EvoApprox netlists carry their own copies
of small helper modules (``PDKGENHAX1``, ``PDKGENFAX1``, ...), and Verilog has one module namespace,
so a helper already defined by an earlier file is left out of a later one (the line
``// rtlgen: module X defined in netlists/Y.v`` marks the place). Two helpers of one name must be
identical up to whitespace, or generation stops with an error naming both files.

A multiplier netlist must have inputs ``A[7:0]``, ``B[7:0]`` and the output ``O[15:0]`` (or a single
16-bit output under another name: EvoApprox's ``mul8u_2NDH`` calls it ``Z``); its module is
instantiated under its own name, so two different circuits with the same module name cannot be
combined in one design (an error says which).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog

from rtlgen.library.catalog import Catalog
from rtlgen.errors import CatalogError, ConfigError, NetlistError
from rtlgen.netlist.reader import read_netlist
from rtlgen.paths import atomic_write_text
from rtlgen.accel import regmap
from rtlgen.accel.axi import verilog_ports
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.loader import DeviceFrontend, config_capacity
from rtlgen.accel.manifest import manifest_path, read_manifest
from rtlgen.accel.multiplier import MultiplierSpec
from rtlgen.accel.top import Accelerator

__all__ = ["LINT_WAIVERS", "TOP_MODULE", "DEVICE_MODULE", "GeneratedDesign", "hardware_specs", "table_specs",
           "generate_accelerator", "generate_device", "device_verilog"]

TOP_MODULE = "rtlgen_accel"
#: The AXI front end (registers, image checker) as its own module, until the top embeds it.
DEVICE_MODULE = "rtlgen_accel_device"
_PORTS = {"A": 8, "B": 8}


@dataclass(frozen=True)
class GeneratedDesign:
    out_dir: Path
    top: Path
    netlists: tuple[Path, ...]
    filelist: Path
    manifest: Path
    config_hash: str

    def __post_init__(self) -> None:
        # absolute, because the tools run with the design folder as their working directory
        # (a folder given as build/x would otherwise be looked for in build/x/build/x)
        for name in ("out_dir", "top", "filelist", "manifest"):
            object.__setattr__(self, name, Path(getattr(self, name)).resolve())
        object.__setattr__(self, "netlists", tuple(Path(p).resolve() for p in self.netlists))

    @property
    def sources(self) -> list[Path]:
        """Verilog files in compile order (netlists first)."""
        return [*self.netlists, self.top]

    @classmethod
    def load(cls, out_dir: str | os.PathLike) -> "GeneratedDesign":
        """A folder written by :func:`generate_accelerator` (its manifest lists the files)."""
        out = Path(out_dir)
        path = manifest_path(out)
        doc = read_manifest(out)
        files = [out / f for f in doc["files"]]
        return cls(out, files[-1], tuple(files[:-1]), out / "files.f", path, doc["config_hash"])


def hardware_specs(config: AccelConfig, catalog: Catalog) -> tuple[list[list[MultiplierSpec]], dict[str, Path]]:
    """Bank specs that instantiate netlists, and the netlist file of each module name."""
    files: dict[str, Path] = {}
    owners: dict[str, str] = {}
    banks = []
    for u, bank in enumerate(config.require_multipliers()):
        row = []
        for s, ident in enumerate(bank):
            try:
                entry = catalog.get(ident)
            except CatalogError as exc:
                raise ConfigError(f"unit[{u}].multipliers[{s}]: {exc}", file=config.source) from exc
            # the netlist that the name selects: mul8u_roup_p0_r0 and mul8u_array are one
            # function but two circuits (rtlgen.library.catalog)
            imp = catalog.implementation(ident, "generic")
            if imp.kind != "generic":
                raise ConfigError(f"unit[{u}].multipliers[{s}] = {ident!r}: the library has no "
                                  f"generic netlist for {entry.name}, only {imp.kind} {imp.name}",
                                  file=config.source)
            path = imp.path
            netlist = read_netlist(path)
            for port, width in _PORTS.items():
                have = netlist.inputs.get(port)
                if have != width:
                    raise NetlistError(f"multiplier {entry.name}: input {port} must be {width} "
                                       f"bits wide, found {have}", file=str(path))
            output = _output_port(netlist.outputs)
            if output is None:
                raise NetlistError(f"multiplier {entry.name}: expected a 16-bit output O (or a "
                                   f"single 16-bit output), found {netlist.outputs}",
                                   file=str(path))
            owner = f"{imp.name} of {entry.hash}"
            if owners.get(netlist.name, owner) != owner:
                raise ConfigError(f"modules of two different multipliers are both named "
                                  f"{netlist.name!r} ({owners[netlist.name]} and {owner})",
                                  file=config.source)
            owners[netlist.name] = owner
            files[netlist.name] = Path(path)
            row.append(MultiplierSpec(entry.name, entry.signed, module=netlist.name,
                                      output_port=output))
        banks.append(row)
    return banks, files


#: Verilator configuration that makes ``verilator --lint-only -Wall`` clean, and why each waiver
#: is safe. Every other warning (multiple drivers, latches, combinational loops, ...) stays on.
LINT_WAIVERS = """\
`verilator_config
// The generated tops (rtlgen_accel.v, device/rtlgen_accel_device.v) are written by Amaranth's
// Verilog backend (Yosys write_verilog). Amaranth's
// arithmetic is width-exact by construction and checked by its own simulator, so the backend's
// Verilog idioms are not design errors:
// - it keeps every named Amaranth signal as a wire for debugging, used or not;
lint_off -rule UNUSEDSIGNAL -file "*rtlgen_accel*.v"
// - it sizes operands by Verilog's context rules (e.g. `!sel` for `sel == 0`, `a == 1'h1`);
lint_off -rule WIDTHEXPAND -file "*rtlgen_accel*.v"
lint_off -rule WIDTHTRUNC -file "*rtlgen_accel*.v"
// - it emits `casez` with a default assignment before it instead of a default branch;
lint_off -rule CASEINCOMPLETE -file "*rtlgen_accel*.v"
// - it gives registers their reset values with initializers on the declaration;
lint_off -rule PROCASSINIT -file "*rtlgen_accel*.v"
// - it writes all submodules (named top.sub.sub) into one file.
lint_off -rule DECLFILENAME -file "*rtlgen_accel*.v"
// Multiplier netlists are instantiated as the library holds them: an approximate multiplier
// ignores some operand bits by design, and EvoApprox files define helper modules beside the
// multiplier.
lint_off -rule UNUSEDSIGNAL -file "*netlists/*.v"
lint_off -rule DECLFILENAME -file "*netlists/*.v"
"""


_ZERO_INIT = re.compile(r"^  initial begin\n(?:    \w+\[\d+\] = \d+'h0+;\n)+  end\n", re.M)


def _strip_memory_init(text: str) -> str:
    """Drop Amaranth's all-zero memory initialisers (one line per word, 40,000 lines for the
    default design): the host loads every memory before use, and a memory's power-up contents
    are not defined in silicon anyway."""
    return _ZERO_INIT.sub("", text)


def _output_port(outputs: dict[str, int]) -> str | None:
    if outputs.get("O") == 16:
        return "O"
    if len(outputs) == 1 and next(iter(outputs.values())) == 16:
        return next(iter(outputs))   # e.g. EvoApprox's mul8u_2NDH names it Z
    return None


def table_specs(config: AccelConfig, catalog: Catalog) -> list[list[MultiplierSpec]]:
    """Bank specs that model each multiplier by its table (for Amaranth's simulator)."""
    return [[MultiplierSpec(catalog.get(i).name, catalog.get(i).signed, table=catalog.table(i))
             for i in bank] for bank in config.require_multipliers()]


def generate_accelerator(config: AccelConfig, catalog: Catalog,
                         out_dir: str | os.PathLike, *, axi: bool = False,
                         clock_gating: bool = True) -> GeneratedDesign:
    """Elaborate the design for ``config`` and write it to ``out_dir``; with ``axi``, the top
    also embeds the AXI front end and the on-chip sequencer: a device whose ports are
    ``s_axil_*``, ``s_axis_*``, ``clk``, ``rst`` and the outputs ``busy``, ``done``, ``cycles``,
    ``issued`` (no host ports; ``CTRL.START`` runs the network after both images are accepted).
    ``clock_gating``: the multipliers' operand registers on gated clocks (:mod:`rtlgen.accel.bank`);
    the manifest records it."""
    out = Path(out_dir)
    resolved = config.resolved(catalog)
    banks, files = hardware_specs(config, catalog)
    capacity = config_capacity(config)
    top = Accelerator(config, banks,
                      device=DeviceFrontend(resolved.config_hash(), capacity, lanes=config.lanes,
                                            weights_capacity=config.weights_store_bytes, engine=config)
                      if axi else None, clock_gating=clock_gating)
    text = _strip_memory_init(verilog.convert(top, name=TOP_MODULE, emit_src=False,
                                              ports=verilog_ports(top)))
    if manifest_path(out).exists():
        manifest_path(out).unlink()     # the folder is incomplete until the new manifest lands
    netlist_paths = []
    for module, netlist_text in _deduplicate_helpers(files).items():
        dst = out / "netlists" / f"{module}.v"
        atomic_write_text(dst, netlist_text)
        netlist_paths.append(dst)
    top_path = out / f"{TOP_MODULE}.v"
    header = (f"// Generated by rtlgen (accelerator {config.name}, config hash "
              f"{resolved.config_hash()}); do not edit.\n")
    atomic_write_text(top_path, header + text)
    filelist = out / "files.f"
    atomic_write_text(filelist, "".join(f"{p.relative_to(out)}\n" for p in [*netlist_paths, top_path]))
    atomic_write_text(out / "accel.toml", resolved.to_toml())
    atomic_write_text(out / "lint_waivers.vlt", LINT_WAIVERS)
    atomic_write_text(out / "regs.md", regmap.markdown_table())
    atomic_write_text(out / "rtlgen_accel_regs.h", regmap.c_header(resolved.config_hash()))
    device = generate_device(resolved.config_hash(), capacity, out / "device", lanes=config.lanes,
                             weights_capacity=config.weights_store_bytes)
    doc = {
        "format": "rtlgen-accel", "version": 1, "top": TOP_MODULE, "name": config.name,
        "config_hash": resolved.config_hash(), "config": resolved.canonical(),
        "units": [[{"name": s.name, "hash": resolved.unit_multipliers[u][i], "signed": s.signed,
                    "module": s.module, "output": s.output_port} for i, s in enumerate(bank)]
                  for u, bank in enumerate(banks)],
        "files": [str(p.relative_to(out)) for p in [*netlist_paths, top_path]],
        "device": {"top": DEVICE_MODULE, "file": str(device.relative_to(out)),
                   "config_capacity": capacity, "weights_capacity": config.weights_store_bytes,
                   "in_top": axi},
        "clock_gating": clock_gating,
    }
    atomic_write_text(manifest_path(out), json.dumps(doc, indent=1) + "\n")
    return GeneratedDesign(out, top_path, tuple(netlist_paths), filelist, manifest_path(out),
                           resolved.config_hash())


def device_verilog(accel_hash: str, capacity: int, *, lanes: int, weights_capacity: int) -> str:
    """Verilog of the AXI front end (:class:`~rtlgen.accel.loader.DeviceFrontend`) for an
    accelerator of config hash ``accel_hash`` and ``lanes`` lanes, with ``capacity`` bytes of
    configuration memory and ``weights_capacity`` bytes of weights store; ports named
    ``s_axil_*``, ``s_axis_*`` (:func:`rtlgen.accel.axi.verilog_ports`)."""
    top = DeviceFrontend(accel_hash, capacity, lanes=lanes, weights_capacity=weights_capacity)
    text = verilog.convert(top, name=DEVICE_MODULE, ports=verilog_ports(top), emit_src=False)
    return (f"// Generated by rtlgen (AXI front end, config hash {accel_hash}, {lanes} lanes, {capacity} bytes "
            f"of configuration memory, {weights_capacity} bytes of weights store); do not edit.\n"
            + _strip_memory_init(text))


def generate_device(accel_hash: str, capacity: int, out_dir: str | os.PathLike, *, lanes: int,
                    weights_capacity: int) -> Path:
    """Write :func:`device_verilog` to ``out_dir/rtlgen_accel_device.v``; returns its path."""
    path = Path(out_dir) / f"{DEVICE_MODULE}.v"
    atomic_write_text(path, device_verilog(accel_hash, capacity, lanes=lanes, weights_capacity=weights_capacity))
    return path


_MODULE = re.compile(r"^[ \t]*module\s+([A-Za-z_][\w$]*).*?^[ \t]*endmodule\b[^\n]*\n?",
                     re.M | re.S)


def _deduplicate_helpers(files: dict[str, Path]) -> dict[str, str]:
    """Text of each netlist file, helper modules defined by an earlier file left out."""
    defined: dict[str, tuple[str, str]] = {}    # module -> (normalised text, file name)
    out = {}
    for module in sorted(files):
        path = files[module]
        text = path.read_text()
        pieces = []
        pos = 0
        for match in _MODULE.finditer(text):
            name = match.group(1)
            norm = " ".join(match.group(0).split())
            if name in defined and name != module:
                if defined[name][0] != norm:
                    raise NetlistError(f"module {name} is defined differently here and in "
                                       f"{defined[name][1]}; the two netlists cannot be combined",
                                       file=str(path))
                pieces.append(text[pos:match.start()])
                pieces.append(f"// rtlgen: module {name} defined in netlists/{defined[name][1]}\n")
                pos = match.end()
            else:
                defined[name] = (norm, f"{module}.v")
        pieces.append(text[pos:])
        out[module] = "".join(pieces)
    return out

