"""Running Yosys scripts, and flattening a gate-level netlist into one self-contained module.

Yosys is found as ``$YOSYS`` or ``yosys`` on ``PATH`` (Debian's ``yosys`` package). Every run
captures Yosys's log; a failure raises :class:`~rtlgen.errors.ToolError` carrying the command, the
script and the log's last lines.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rtlgen.errors import NetlistError, ToolError
from rtlgen.paths import atomic_write_text

__all__ = ["yosys_executable", "run_yosys", "Ports", "flatten_netlist", "tcl_quote"]

_INSTALL = "install Yosys (Debian: apt-get install yosys; bootstrap.sh does) or set $YOSYS to its executable"


def yosys_executable() -> str:
    """Path of the Yosys executable; :class:`ToolError` when there is none."""
    exe = os.environ.get("YOSYS") or shutil.which("yosys")
    if not exe or not (os.path.isfile(exe) or shutil.which(exe)):
        raise ToolError(f"Yosys not found ({'$YOSYS=' + exe if exe else 'no yosys on PATH'}); {_INSTALL}")
    return exe


def tcl_quote(path: str | os.PathLike) -> str:
    """A file name as one word of a Yosys script (Yosys scripts split words on blanks)."""
    text = str(path)
    if any(c in text for c in '"\n'):
        raise ValueError(f"file name {text!r} cannot be passed to Yosys: it contains a quote or newline")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def run_yosys(script: str, *, cwd: str | os.PathLike | None = None, timeout: float = 600) -> str:
    """Run a Yosys script (commands separated by newlines or ``;``); return the log.

    Raises :class:`ToolError` when Yosys is missing, fails or times out; the message holds the
    last lines of its log (which name the offending file and line for a bad netlist).
    """
    exe = yosys_executable()
    with tempfile.TemporaryDirectory(prefix="rtlgen-yosys-") as tmp:
        script_file = Path(tmp) / "script.ys"
        script_file.write_text(script)
        cmd = [exe, "-q", "-l", str(Path(tmp) / "yosys.log"), "-s", str(script_file)]
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"Yosys timed out after {timeout:g} s running:\n{script}") from None
        except OSError as exc:
            raise ToolError(f"cannot run Yosys ({exe}): {exc}; {_INSTALL}") from exc
        log_path = Path(tmp) / "yosys.log"
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    if proc.returncode != 0:
        lines = (log + proc.stdout + proc.stderr).strip().splitlines()
        errors = list(dict.fromkeys(ln.strip() for ln in lines if "ERROR:" in ln))
        tail = "\n".join(lines[-15:])
        first_cmd = script.strip().splitlines()[0] if script.strip() else ""
        raise ToolError(f"Yosys failed (exit {proc.returncode}) on a script starting '{first_cmd}': "
                        f"{' '.join(errors) or '(no ERROR line)'}\nlast lines of the log:\n{tail}")
    return log


@dataclass(frozen=True)
class Ports:
    """The ports of a module: name -> width in bits, in declaration order."""

    inputs: dict[str, int]
    outputs: dict[str, int]


def flatten_netlist(
    src: str | os.PathLike,
    top: str | None,
    dst: str | os.PathLike,
    *,
    name: str | None = None,
    liberty: str | os.PathLike | None = None,
) -> Ports:
    """Flatten the netlist ``src`` into a single module written to ``dst``; return its ports.

    ``top`` names the module to keep (None: the only or the top-most one, as Yosys's
    ``hierarchy -auto-top`` chooses). Cells that the file instantiates but does not define
    (standard cells of ``_pdk45`` netlists) are read from ``liberty``'s ``function``
    attributes; modules defined in the file take precedence over a liberty cell of the same
    name. The result contains only ``assign`` statements over the ports, so every simulator
    reads it quickly (no ``wire [2031:0]`` buses, no cell library). ``name`` renames the module
    (default: keep ``top``'s name). ``dst`` is written atomically.
    """
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"netlist {src} does not exist")
    with tempfile.TemporaryDirectory(prefix="rtlgen-flatten-") as tmp:
        out_v = Path(tmp) / "flat.v"
        out_json = Path(tmp) / "flat.json"
        top_sel = f"-top {top}" if top else "-auto-top"
        # The top is chosen before the liberty cells are read (they would be candidates for
        # -auto-top); the later passes keep the module marked top. The pass after flattening
        # drops the now unused cell modules.
        lines = [f"read_verilog -noautowire {tcl_quote(src)}", f"hierarchy {top_sel}"]
        if liberty is not None:
            lines.append(f"read_liberty -nooverwrite -ignore_miss_func {tcl_quote(liberty)}")
        lines += ["hierarchy -check", "flatten", "hierarchy", "proc", "opt_clean -purge", "check -assert"]
        if name:
            lines.append(f"rename -top {name}")
        lines += [f"write_json {tcl_quote(out_json)}", f"write_verilog -noattr {tcl_quote(out_v)}"]
        try:
            run_yosys("\n".join(lines))
        except ToolError as exc:
            raise NetlistError(f"cannot flatten with Yosys: {exc}", file=str(src)) from exc
        design = json.loads(out_json.read_text())
        modules = {m: d for m, d in design["modules"].items() if not d.get("attributes", {}).get("blackbox")}
        if len(modules) != 1:
            raise NetlistError(f"flattening left {len(modules)} modules ({', '.join(modules)}), expected one; "
                               "pass the top module's name", file=str(src))
        (module_name, module), = modules.items()
        for cell in module.get("cells", {}).values():
            if not str(cell["type"]).startswith("$"):
                where = f"the liberty file {liberty}" if liberty is not None else "a liberty file (none given)"
                raise NetlistError(f"cell type {cell['type']} is defined neither in the file nor in {where}",
                                   file=str(src))
        atomic_write_text(dst, out_v.read_text())
    inputs: dict[str, int] = {}
    outputs: dict[str, int] = {}
    for port, info in module["ports"].items():
        if info["direction"] == "input":
            inputs[port] = len(info["bits"])
        elif info["direction"] == "output":
            outputs[port] = len(info["bits"])
        else:
            raise NetlistError(f"port {port} of {module_name} is {info['direction']}; a multiplier has only "
                               "inputs and outputs", file=str(src))
    return Ports(inputs, outputs)
