"""One-call entry points from a netlist file to its truth table.

Signedness is explicit where the caller knows it; otherwise it defaults from the module or file
name: ``mul8s_*`` is signed, everything else unsigned (EvoApprox's naming).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rtlgen.netlist.evaluate import tabulate
from rtlgen.netlist.liberty import CellLibrary
from rtlgen.netlist.reader import Netlist, read_netlist

__all__ = ["default_signedness", "netlist_table", "read_multiplier"]


def default_signedness(name: str) -> bool:
    """True for EvoApprox-style signed names (``mul8s_...``), False otherwise."""
    return Path(name).name.lower().startswith("mul8s")


def read_multiplier(path: str | os.PathLike, *, signed: bool | None = None, top: str | None = None,
                    liberty: CellLibrary | str | os.PathLike | None = None) -> tuple[Netlist, np.ndarray, bool]:
    """Read a multiplier netlist; return it with its table and the signedness used."""
    netlist = read_netlist(path, top=top, liberty=liberty)
    if signed is None:
        signed = default_signedness(netlist.name)
    return netlist, tabulate(netlist, signed), signed


def netlist_table(path: str | os.PathLike, signed: bool | None = None, top: str | None = None,
                  liberty: CellLibrary | str | os.PathLike | None = None) -> np.ndarray:
    """The ``T[a, b]`` table (int32, 256x256) of the 8x8 multiplier in ``path``."""
    return read_multiplier(path, signed=signed, top=top, liberty=liberty)[1]
