"""Flatten an Amaranth circuit into gate-level Verilog with Yosys.

The generated netlists use only what the library's reader accepts everywhere: ``assign`` of
expressions over ``& | ^ ~``, parentheses, sized constants, bit/part selects and (for outputs tied
to constants) concatenations. Amaranth emits
RTLIL (pure Python, no tool needed); Debian's Yosys (0.23 on Debian 12; Amaranth's built-in
WebAssembly Yosys lacks ``synth``/``abc``) maps it to 2-input gates with ABC and writes Verilog.
The result is checked before it is returned, so a Yosys that emits muxes or cell instances fails
here rather than in a reader later.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import rtlil
from amaranth.lib import wiring

from rtlgen.errors import ToolError
from rtlgen.netlist.yosys import yosys_executable

__all__ = ["GATES", "yosys_version", "flatten_to_gates", "check_gate_netlist"]

#: ABC's gate library: two-input gates only (no MUX, so no ``?:`` in the Verilog).
GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT"

_SCRIPT = """\
read_rtlil {il}
hierarchy -check -top {top}
proc
flatten
opt -full
techmap
opt -fast
abc -g {gates}
rename -hide w:* w:A %d w:B %d w:O %d
opt_clean -purge
write_verilog -noattr {out}
"""

_ALLOWED_LINE = re.compile(
    r"^\s*(?:"
    r"module \w+\((?:\s*\w+,?)*\);"
    r"|(?:input|output|wire)(?: \[\d+:\d+\])? \w+;"
    r"|assign [\w\[\]:{},\s]+ = [\w\[\]:'(){},&|^~\s]+;"
    r"|endmodule"
    r"|/\*.*\*/"
    r"|//.*"
    r"|"
    r")\s*$"
)


def yosys_version() -> str:
    """The first line of ``yosys -V``, e.g. ``Yosys 0.23 (git sha1 7ce5011c24b)``."""
    proc = subprocess.run([yosys_executable(), "-V"], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ToolError(f"yosys -V failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip().splitlines()[0]


def check_gate_netlist(text: str, *, what: str = "netlist") -> None:
    """Raise :class:`ToolError` unless every line is a gate-level construct the reader accepts."""
    for number, line in enumerate(text.splitlines(), 1):
        if not _ALLOWED_LINE.match(line) or "$" in line or "?" in line:
            raise ToolError(f"{what}:{number}: Yosys produced a line outside the gate-level subset "
                            f"(assign with & | ^ ~ only): {line.strip()!r}")


def flatten_to_gates(circuit: wiring.Component, top: str) -> str:
    """Synthesise ``circuit`` (a component with ports A, B, O) to gate-level Verilog text."""
    if not re.fullmatch(r"[A-Za-z_]\w*", top):
        raise ValueError(f"module name must be a Verilog identifier, not {top!r}")
    il = rtlil.convert(circuit, name=top, emit_src=False)
    with tempfile.TemporaryDirectory(prefix="rtlgen-gen-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "in.il").write_text(il)
        script = _SCRIPT.format(il=tmpdir / "in.il", top=top, gates=GATES, out=tmpdir / "out.v")
        (tmpdir / "flow.ys").write_text(script)
        proc = subprocess.run([yosys_executable(), "-q", "-s", str(tmpdir / "flow.ys")],
                              capture_output=True, text=True, check=False, cwd=tmpdir)
        if proc.returncode:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise ToolError(f"yosys failed (exit {proc.returncode}) flattening {top}:\n{tail}")
        text = (tmpdir / "out.v").read_text()
    check_gate_netlist(text, what=f"{top}.v")
    return text
