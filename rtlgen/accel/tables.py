"""The multipliers of a generated accelerator, tabulated from the netlists in its folder."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from rtlgen.errors import VerificationError
from rtlgen.paths import atomic_write_text

__all__ = ["accel_tables", "table_models", "table_model_verilog"]


def accel_tables(accel_dir: Path) -> dict[str, np.ndarray]:
    """Table hash -> table of every multiplier of a generated accelerator, tabulated from the
    netlists in the folder (so the HIL needs no catalog); each must match the manifest's hash."""
    from rtlgen.accel.manifest import read_manifest

    manifest = read_manifest(accel_dir)
    out: dict[str, np.ndarray] = {}
    # a helper module (an EvoApprox half adder, say) is written once, in the first netlist file
    # that has it (rtlgen.accel.generate): each multiplier is read with every file's modules
    folder = Path(accel_dir) / "netlists"
    with tempfile.TemporaryDirectory() as tmp:
        combined = Path(tmp) / "netlists.v"
        combined.write_text("\n".join(f.read_text() for f in sorted(folder.glob("*.v"))))
        for bank in manifest["units"]:
            for slot in bank:
                if slot["hash"] in out:
                    continue
                out[slot["hash"]] = _tabulate(folder / f"{slot['module']}.v", combined, slot)
    return out


def _tabulate(path: Path, combined: Path, slot: dict) -> np.ndarray:
    from rtlgen.netlist.multiplier import netlist_table
    from rtlgen.netlist.table import table_hash

    table = netlist_table(combined, signed=bool(slot["signed"]), top=slot["module"])
    got = table_hash(table, bool(slot["signed"]))
    if got != slot["hash"]:
        raise VerificationError(f"netlist {path.name} tabulates to {got}, the manifest says "
                                f"{slot['hash']} ({slot['name']}): {path}")
    return table


def table_model_verilog(module: str, table: np.ndarray, *, output: str = "O", note: str = "") -> str:
    """A Verilog module named ``module`` with the netlist's ports (``A``, ``B``: 8 bits; ``output``:
    16 bits) whose output is looked up in ``table`` (``T[a, b]`` at ``{A, B}``, as
    :class:`rtlgen.accel.multiplier.TableMultiplier`): the same function as the netlist, for
    simulation only. The table is a constant array parameter, so every instance shares one copy."""
    words = (np.asarray(table, dtype=np.int64).ravel() & 0xFFFF)
    if words.size != 65536:
        raise ValueError(f"a multiplier table has 65,536 entries, not {words.size}")
    # a row of the table per line (Verilator refuses lines of more than 40,000 tokens)
    rows = words.reshape(256, 256).tolist()
    body = ",\n    ".join(",".join(f"'h{w:x}" for w in row) for row in rows)
    return (f"// Table model of multiplier {module}{note}: simulation only, not for synthesis.\n"
            f"module {module} (A, B, {output});\n  input [7:0] A;\n  input [7:0] B;\n  output [15:0] {output};\n"
            f"  localparam logic [15:0] T [0:65535] = '{{\n    {body}}};\n"
            f"  assign {output} = T[{{A, B}}];\nendmodule\n")


def table_models(accel_dir: Path, out_dir: Path, tables: dict[str, np.ndarray] | None = None) -> list[Path]:
    """One table model (:func:`table_model_verilog`) per multiplier module of the accelerator in
    ``accel_dir``, written to ``out_dir``, from the tables of its own netlists
    (:func:`accel_tables`, or ``tables`` when the caller has them); the files' paths."""
    from rtlgen.accel.manifest import read_manifest

    manifest = read_manifest(accel_dir)
    tables = accel_tables(accel_dir) if tables is None else tables
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for bank in manifest["units"]:
        for slot in bank:
            module = slot["module"]
            if module in paths:
                continue
            path = out_dir / f"{module}.v"
            # whole or not at all: the build's key hashes the file
            atomic_write_text(path, table_model_verilog(module, tables[slot["hash"]], output=slot.get("output", "O"),
                                                        note=f" ({slot['name']}, table {slot['hash']})"))
            paths[module] = path
    return list(paths.values())
