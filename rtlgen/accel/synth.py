"""Synthesis of a generated accelerator to the cells of a liberty file (Yosys).

Script: read the netlists and the top, ``synth -flatten`` (memories become flip-flops and logic:
there is no SRAM macro in the open cell libraries, so the area of a large memory configuration is
that of a register file), map flip-flops with ``dfflibmap`` and logic with ``abc -liberty``, and
report the cell area with ``stat -liberty``. Area is in the liberty's unit (um^2 for OSU018).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError
from ..paths import liberty_path
from ..yosys import run_yosys, tcl_quote
from .generate import TOP_MODULE, GeneratedDesign

__all__ = ["AccelArea", "synthesize_accelerator"]


@dataclass(frozen=True)
class AccelArea:
    cells: int
    area: float
    cell_counts: dict[str, int]


def synthesize_accelerator(design: GeneratedDesign, liberty: str | os.PathLike | None = None,
                           *, timeout: float = 1200) -> AccelArea:
    lib = Path(liberty) if liberty is not None else liberty_path()
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
