"""Standard-cell functions and areas read from a liberty file.

Cells that a netlist instantiates without defining them (EvoApprox ``_pdk45`` netlists use
AND2X1, HAX1, FAX1, ...) take their logic from the liberty ``function`` attributes, never from
their names, so any cell library works. Parsing is done by the ``liberty-parser`` package;
boolean functions come back as sympy expressions and are converted to the small operator trees
that :mod:`rtlgen.netlist` elaborates.

Operator trees: ``("const", 0|1)``, ``("pin", name)``, ``("not", x)``, and ``("and"|"or"|"xor",
x, y, ...)``.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from .errors import LibertyError

__all__ = ["Cell", "CellLibrary", "read_liberty", "default_library"]

Expr = tuple


@dataclass(frozen=True)
class Cell:
    """One combinational cell: its pins and the function of each output pin."""

    name: str
    area: float
    inputs: tuple[str, ...]
    outputs: dict[str, Expr]


@dataclass(frozen=True)
class CellLibrary:
    """The combinational cells of a liberty file, by name; sequential cells are listed apart."""

    path: Path
    sha256: str
    cells: dict[str, Cell]
    sequential: frozenset[str]

    def __contains__(self, name: str) -> bool:
        return name in self.cells or name in self.sequential


def _sympy_to_expr(e, cell: str, path: Path) -> Expr:
    import sympy
    from sympy.logic import boolalg

    if e is sympy.true or e == boolalg.true:
        return ("const", 1)
    if e is sympy.false or e == boolalg.false:
        return ("const", 0)
    if isinstance(e, sympy.Symbol):
        return ("pin", str(e))
    args = tuple(_sympy_to_expr(a, cell, path) for a in e.args)
    if isinstance(e, boolalg.Not):
        return ("not", args[0])
    if isinstance(e, boolalg.And):
        return ("and",) + args
    if isinstance(e, boolalg.Or):
        return ("or",) + args
    if isinstance(e, boolalg.Xor):
        return ("xor",) + args
    raise LibertyError(f"cell {cell}: function uses {type(e).__name__}, which rtlgen cannot evaluate",
                       file=str(path))


def _pins_of(expr: Expr) -> set[str]:
    if expr[0] == "pin":
        return {expr[1]}
    if expr[0] == "const":
        return set()
    return set().union(*(_pins_of(a) for a in expr[1:]))


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, mtime: float) -> CellLibrary:
    from liberty.boolean_functions import parse_boolean_function
    from liberty.parser import parse_liberty

    data = path.read_bytes()
    try:
        lib = parse_liberty(data.decode("utf-8", errors="replace"))
    except Exception as exc:  # the parser raises lark errors of many kinds
        raise LibertyError(f"cannot parse liberty file: {exc}", file=str(path)) from None
    cells: dict[str, Cell] = {}
    sequential: set[str] = set()
    for group in lib.get_groups("cell"):
        name = str(group.args[0]).strip('"')
        if group.get_groups("ff") or group.get_groups("latch") or group.get_groups("statetable"):
            sequential.add(name)
            continue
        inputs, outputs, tristate = [], {}, False
        for pin in group.get_groups("pin"):
            pname = str(pin.args[0]).strip('"')
            direction = str(pin["direction"]).strip('"') if pin["direction"] is not None else ""
            if pin["three_state"] is not None:
                tristate = True
            if direction == "input":
                inputs.append(pname)
            elif direction == "output":
                func = pin["function"]
                if func is None:
                    continue
                text = str(func).strip('"')
                try:
                    sym = parse_boolean_function(text)
                except Exception as exc:
                    raise LibertyError(f"cell {name} pin {pname}: cannot parse function {text!r}: {exc}",
                                       file=str(path)) from None
                outputs[pname] = _sympy_to_expr(sym, name, path)
        if tristate or not outputs:
            sequential.add(name)  # not a combinational function rtlgen can evaluate
            continue
        for pname, expr in outputs.items():
            unknown = _pins_of(expr) - set(inputs)
            if unknown:
                raise LibertyError(f"cell {name} pin {pname}: function refers to {sorted(unknown)}, "
                                   f"which are not input pins ({inputs})", file=str(path))
        area = float(group["area"]) if group["area"] is not None else 0.0
        cells[name] = Cell(name, area, tuple(inputs), outputs)
    return CellLibrary(path, hashlib.sha256(data).hexdigest(), cells, frozenset(sequential))


def read_liberty(path: str | Path) -> CellLibrary:
    """Read (and cache) the combinational cells of a liberty file."""
    p = Path(path).resolve()
    if not p.is_file():
        raise LibertyError("liberty file not found", file=str(path))
    return _read_cached(p, p.stat().st_mtime)


def default_library() -> CellLibrary:
    """The OSU018 library located by :func:`rtlgen.paths.liberty_path`."""
    from .paths import liberty_path

    return read_liberty(liberty_path())
