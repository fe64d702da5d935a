"""The multipliers of a generated accelerator, tabulated from the netlists in its folder."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from rtlgen.errors import VerificationError

__all__ = ["accel_tables"]


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
