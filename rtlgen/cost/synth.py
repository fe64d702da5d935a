"""Yosys synthesis of a combinational netlist to the cells of a liberty file.

Every circuit goes through the same script, whatever shape it came in (generic gates, cell
modules defined in the file, or standard cells of the same library), so that cost figures are
comparable: read the netlist, take the functions of cells it instantiates but does not define
from the liberty file, flatten, ``synth``, map with ``abc -liberty``, remove dangling logic.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rtlgen.errors import NetlistError, ToolError
from rtlgen.netlist.liberty import CellLibrary, read_liberty
from rtlgen.paths import file_hash, liberty_path
from rtlgen.netlist.yosys import yosys_executable

__all__ = ["MappedNetlist", "synthesize", "find_tool", "guess_top"]


def find_tool(name: str, env_var: str | None = None, package: str | None = None) -> str:
    """Absolute path of an executable on PATH (or in ``env_var``), else :class:`ToolError`."""
    if env_var and os.environ.get(env_var):
        cand = os.environ[env_var]
        found = shutil.which(cand)
        if found:
            return found
        raise ToolError(f"{name} not found: ${env_var} is {cand!r}, which is not an executable")
    path = shutil.which(name)
    if path is None:
        hint = f"apt-get install {package}; " if package else ""
        raise ToolError(f"{name} not found on PATH; install it (Debian: {hint}bootstrap.sh does)"
                        + (f" or set ${env_var}" if env_var else ""))
    return path


@dataclass(frozen=True)
class MappedNetlist:
    """A netlist after synthesis: only cells of ``library``, flattened into module ``top``.

    ``verilog`` is Yosys' structural Verilog (what OpenSTA reads); ``module`` is the same design
    as Yosys JSON (``write_json``), which the activity simulation reads: nets are integers, and
    constant drivers are the strings ``"0"``/``"1"``.
    """

    source: Path
    source_hash: str
    top: str
    library: CellLibrary
    verilog: str
    module: dict = field(repr=False)

    @property
    def cell_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for cell in self.module["cells"].values():
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
        return dict(sorted(counts.items()))

    @property
    def n_cells(self) -> int:
        return len(self.module["cells"])

    @property
    def area(self) -> float:
        """Sum of the liberty ``area`` of every cell (library unit, um^2 for OSU018)."""
        return float(sum(self.library.cell(c["type"]).area for c in self.module["cells"].values()))

    @property
    def ports(self) -> dict[str, tuple[str, list]]:
        """Port name -> (direction, bits), bit 0 first."""
        return {n: (p["direction"], list(p["bits"])) for n, p in self.module["ports"].items()}


_MODULE = re.compile(r"^\s*module\s+\\?([A-Za-z_][\w$]*)", re.M)
_INSTANCE = re.compile(r"^\s*\\?([A-Za-z_][\w$]*)\s+(?:#\s*\(.*?\)\s*)?\\?[A-Za-z_][\w$\[\]]*\s*\(", re.M)
_KEYWORDS = {"module", "input", "output", "inout", "wire", "assign", "reg", "always", "endmodule",
             "parameter", "localparam", "function", "task", "initial", "supply0", "supply1", "tri"}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def guess_top(path: str | Path) -> str:
    """The one module of a Verilog file that no other module of the file instantiates."""
    text = _strip_comments(Path(path).read_text(errors="replace"))
    modules = _MODULE.findall(text)
    if not modules:
        raise NetlistError("no module found", file=str(path))
    used = {m for m in _INSTANCE.findall(text) if m not in _KEYWORDS}
    tops = [m for m in modules if m not in used]
    if len(tops) != 1:
        raise NetlistError(
            f"cannot tell the top module: candidates {', '.join(tops) or 'none'}; give top=",
            file=str(path),
        )
    return tops[0]


_SCRIPT = """\
read_verilog -noautowire {netlist}
read_liberty -nooverwrite -ignore_miss_func {liberty}
{definitions}hierarchy -check -top {top}
proc
flatten
synth -flatten -top {top}
abc -liberty {liberty}
opt_clean -purge
rename -enumerate -pattern g%
write_verilog -noattr -noexpr -simple-lhs {out_v}
write_json {out_json}
"""


def synthesize(
    netlist: str | Path,
    *,
    top: str | None = None,
    liberty: str | Path | None = None,
    timeout: float = 600.0,
) -> MappedNetlist:
    """Synthesize ``netlist`` with Yosys to the cells of ``liberty`` (default: the prepared file
    of the default PDK, :mod:`rtlgen.cost.pdk`).

    Cells the netlist instantiates without defining them are taken from ``liberty`` or, when it
    lacks them, from the netlist reader's library (:func:`rtlgen.paths.liberty_path`, OSU018,
    whose cell names EvoApprox's ``_pdk45`` netlists use): their logic is flattened into the
    design before ``abc`` maps it to ``liberty``'s cells.

    Raises :class:`ToolError` when Yosys is missing or fails, :class:`NetlistError` when the
    result holds anything but combinational library cells (e.g. sequential logic).
    """
    netlist = Path(netlist).resolve()
    if not netlist.is_file():
        raise FileNotFoundError(f"netlist {netlist} not found")
    from rtlgen.cost.pdk import resolve_liberty

    lib = read_liberty(resolve_liberty(liberty))
    top = top or guess_top(netlist)
    definitions = ""
    try:
        reader_lib = liberty_path()
    except ToolError:  # no OSU018: netlists must use cells of ``liberty`` or define their own
        reader_lib = None
    if reader_lib is not None and Path(reader_lib).resolve() != lib.path:
        definitions = f"read_liberty -nooverwrite -ignore_miss_func {_q(reader_lib)}\n"
    yosys = yosys_executable()
    with tempfile.TemporaryDirectory(prefix="rtlgen-synth-") as tmp:
        tmpdir = Path(tmp)
        script = _SCRIPT.format(
            netlist=_q(netlist), liberty=_q(lib.path), top=top, definitions=definitions,
            out_v=_q(tmpdir / "mapped.v"), out_json=_q(tmpdir / "mapped.json"),
        )
        (tmpdir / "synth.ys").write_text(script)
        try:
            proc = subprocess.run(
                [yosys, "-q", "-l", str(tmpdir / "yosys.log"), "-s", str(tmpdir / "synth.ys")],
                capture_output=True, text=True, timeout=timeout, cwd=tmpdir,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"yosys did not finish synthesizing {netlist} within {timeout:.0f} s") from None
        if proc.returncode != 0:
            log = (tmpdir / "yosys.log").read_text(errors="replace") if (tmpdir / "yosys.log").exists() else ""
            errors = [ln for ln in (log + proc.stderr).splitlines() if "ERROR" in ln] or (log + proc.stderr).splitlines()[-5:]
            raise ToolError(f"yosys failed to synthesize {netlist} (exit {proc.returncode}): " + " | ".join(errors))
        verilog = (tmpdir / "mapped.v").read_text()
        design = json.loads((tmpdir / "mapped.json").read_text())
    module = design["modules"].get(top)
    if module is None:
        raise ToolError(f"yosys output lacks module {top} (synthesizing {netlist})")
    for name, cell in module["cells"].items():
        ctype = cell["type"]
        if ctype not in lib.cells or not lib.cells[ctype].combinational:
            what = "sequential logic" if ctype.startswith("$_DFF") or ctype.startswith("$_DLATCH") or (
                ctype in lib.cells and lib.cells[ctype].sequential) else f"cell {ctype}"
            raise NetlistError(
                f"after synthesis the design holds {what} ({name}); expected only combinational "
                f"cells of {lib.name}",
                file=str(netlist),
            )
    for pname, port in module["ports"].items():
        if port["direction"] not in ("input", "output"):
            raise NetlistError(f"port {pname} is {port['direction']}; expected input or output", file=str(netlist))
    return MappedNetlist(
        source=netlist, source_hash=file_hash(netlist), top=top, library=lib, verilog=verilog, module=module,
    )


def _q(path: Path | str) -> str:
    s = str(path)
    if any(c in s for c in ' "\n;'):
        raise ValueError(f"path {s!r} contains a space, quote or semicolon, which Yosys scripts cannot hold")
    return s
