"""The multipliers of a generated accelerator, tabulated from the netlists in its folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rtlgen.errors import VerificationError

__all__ = ["accel_tables"]


def accel_tables(accel_dir: Path) -> dict[str, np.ndarray]:
    """Table hash -> table of every multiplier of a generated accelerator, tabulated from the
    netlists in the folder (so the HIL needs no catalog); each must match the manifest's hash."""
    from rtlgen.netlist.multiplier import netlist_table
    from rtlgen.netlist.table import table_hash

    from rtlgen.accel.manifest import read_manifest

    manifest = read_manifest(accel_dir)
    out: dict[str, np.ndarray] = {}
    for bank in manifest["units"]:
        for slot in bank:
            if slot["hash"] in out:
                continue
            path = Path(accel_dir) / "netlists" / f"{slot['module']}.v"
            table = netlist_table(path, signed=bool(slot["signed"]), top=slot["module"])
            got = table_hash(table, bool(slot["signed"]))
            if got != slot["hash"]:
                raise VerificationError(f"netlist {path.name} tabulates to {got}, the manifest says "
                                        f"{slot['hash']} ({slot['name']}): {path}")
            out[got] = table
    return out
