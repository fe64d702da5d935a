"""Standard-cell data read from a liberty file: what the cost model needs of each cell.

Read: library units and nominal voltage; per cell its area, leakage, pins (direction,
capacitance, Boolean ``function``) and ``internal_power`` tables. Units are the library's own and
are recorded in :class:`CellLibrary` (for OSU018: area um^2, time ns, capacitance pF, leakage nW,
internal energy pJ per transition, i.e. the library's capacitance unit times volt squared).

Cell functions follow the liberty expression syntax (``!``/``'`` not, ``^`` xor, ``&``/``*``/space
and, ``|``/``+`` or, highest to lowest precedence) and compile to functions over numpy boolean
arrays, so any combinational library works, not only OSU018.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import LibertyError

__all__ = [
    "CellLibrary",
    "Cell",
    "Pin",
    "PowerTable",
    "InternalPower",
    "read_liberty",
    "compile_function",
    "file_hash",
]


def file_hash(path: str | Path) -> str:
    """SHA-256 (hex, first 16 digits) of a file's bytes: the identity of a netlist or liberty."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# --- generic liberty syntax -------------------------------------------------------------------

@dataclass
class _Group:
    kind: str
    args: list[str]
    line: int
    attrs: dict[str, str] = field(default_factory=dict)
    complex: dict[str, list[str]] = field(default_factory=dict)
    groups: list["_Group"] = field(default_factory=list)

    def sub(self, kind: str) -> list["_Group"]:
        return [g for g in self.groups if g.kind == kind]


_TOKEN = re.compile(
    r'\s*(?:(?P<comment>/\*.*?\*/|//[^\n]*)|(?P<cont>\\\n)|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<punct>[(){};:,])|(?P<word>[^\s(){};:,\"]+))",
    re.S,
)


def _tokens(text: str, file: str):
    pos, line = 0, 1
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                return
            raise LibertyError(f"unexpected character {text[pos]!r}", file=file, line=line)
        start_line = line + text.count("\n", pos, m.start(m.lastgroup))
        line += text.count("\n", pos, m.end())
        pos = m.end()
        kind = m.lastgroup
        if kind in ("comment", "cont"):
            continue
        val = m.group(kind)
        if kind == "str":
            val = val[1:-1].replace("\\\n", "")
        yield kind, val, start_line


def _parse(text: str, file: str) -> _Group:
    toks = list(_tokens(text, file))
    i = 0

    def expect(val: str) -> int:
        nonlocal i
        if i >= len(toks) or toks[i][1] != val or toks[i][0] != "punct":
            got = toks[i][1] if i < len(toks) else "end of file"
            ln = toks[i][2] if i < len(toks) else (toks[-1][2] if toks else 1)
            raise LibertyError(f"expected {val!r}, found {got!r}", file=file, line=ln)
        i += 1
        return toks[i - 1][2]

    def parse_statement(parent: _Group) -> None:
        nonlocal i
        kind, name, line = toks[i]
        if kind == "punct":
            raise LibertyError(f"expected an attribute or group name, found {name!r}", file=file, line=line)
        i += 1
        if i < len(toks) and toks[i][1] == ":" and toks[i][0] == "punct":
            i += 1
            parts = []
            while i < len(toks) and not (toks[i][0] == "punct" and toks[i][1] in ";}"):
                parts.append(toks[i][1])
                i += 1
            if i < len(toks) and toks[i][1] == ";":
                i += 1
            parent.attrs[name] = " ".join(parts)
            return
        expect("(")
        args: list[str] = []
        while i < len(toks) and not (toks[i][0] == "punct" and toks[i][1] == ")"):
            if not (toks[i][0] == "punct" and toks[i][1] == ","):
                args.append(toks[i][1])
            i += 1
        expect(")")
        if i < len(toks) and toks[i][1] == "{" and toks[i][0] == "punct":
            i += 1
            group = _Group(name, args, line)
            while i < len(toks) and not (toks[i][0] == "punct" and toks[i][1] == "}"):
                parse_statement(group)
            expect("}")
            parent.groups.append(group)
        else:
            if i < len(toks) and toks[i][1] == ";":
                i += 1
            parent.complex[name] = args

    root = _Group("", [], 1)
    while i < len(toks):
        parse_statement(root)
    libs = root.sub("library")
    if len(libs) != 1:
        raise LibertyError(f"expected one library group, found {len(libs)}", file=file)
    return libs[0]


# --- Boolean functions --------------------------------------------------------------------------

_FTOK = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_\[\]\.]*|[01]|[!'&*|+^()])")


@functools.lru_cache(maxsize=None)
def compile_function(expr: str) -> tuple[tuple[str, ...], Callable[..., np.ndarray]]:
    """Compile a liberty ``function`` string; return (input names in order of use, evaluator).

    The evaluator takes one numpy boolean array per input name (keyword arguments) and returns a
    boolean array. Raises ValueError for a malformed expression.
    """
    toks: list[tuple[str, bool]] = []  # (token, preceded by whitespace)
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _FTOK.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read liberty function {expr!r} at {expr[pos:]!r}")
        toks.append((m.group(1), m.start(1) > pos))
        pos = m.end()
    i = 0
    names: list[str] = []

    def peek() -> str | None:
        return toks[i][0] if i < len(toks) else None

    def primary():
        nonlocal i
        t = peek()
        if t is None:
            raise ValueError(f"liberty function {expr!r} ends early")
        if t in ("!",):
            i += 1
            inner = primary()
            node = ("not", inner)
        elif t == "(":
            i += 1
            node = or_expr()
            if peek() != ")":
                raise ValueError(f"liberty function {expr!r}: missing ')'")
            i += 1
        elif t in ("0", "1"):
            i += 1
            node = ("const", t == "1")
        elif re.match(r"[A-Za-z_]", t):
            i += 1
            if t not in names:
                names.append(t)
            node = ("var", t)
        else:
            raise ValueError(f"liberty function {expr!r}: unexpected {t!r}")
        while peek() == "'":
            i += 1
            node = ("not", node)
        return node

    def xor_expr():
        nonlocal i
        node = primary()
        while peek() == "^":
            i += 1
            node = ("xor", node, primary())
        return node

    def and_expr():
        nonlocal i
        node = xor_expr()
        while True:
            t = peek()
            if t in ("&", "*"):
                i += 1
                node = ("and", node, xor_expr())
            elif t is not None and (t in ("(", "!", "0", "1") or re.match(r"[A-Za-z_]", t)):
                node = ("and", node, xor_expr())  # juxtaposition is AND
            else:
                return node

    def or_expr():
        nonlocal i
        node = and_expr()
        while peek() in ("|", "+"):
            i += 1
            node = ("or", node, and_expr())
        return node

    tree = or_expr()
    if i != len(toks):
        raise ValueError(f"liberty function {expr!r}: unexpected {toks[i][0]!r}")

    def build(node) -> Callable[[dict], np.ndarray]:
        op = node[0]
        if op == "var":
            name = node[1]
            return lambda env: env[name]
        if op == "const":
            value = node[1]
            return lambda env: np.full(env["__n__"], value, dtype=bool)
        if op == "not":
            f = build(node[1])
            return lambda env: ~f(env)
        f, g = build(node[1]), build(node[2])
        if op == "and":
            return lambda env: f(env) & g(env)
        if op == "or":
            return lambda env: f(env) | g(env)
        return lambda env: f(env) ^ g(env)

    fn = build(tree)

    def evaluate(**inputs: np.ndarray) -> np.ndarray:
        n = len(next(iter(inputs.values()))) if inputs else 1
        return fn({**inputs, "__n__": n})

    return tuple(names), evaluate


# --- cells ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PowerTable:
    """Energy per output transition, looked up by output load and input transition time."""

    load: np.ndarray    # axis of total output net capacitance (library capacitance unit)
    slew: np.ndarray    # axis of input transition time (library time unit)
    values: np.ndarray  # shape (len(load), len(slew)), energy in the library's energy unit

    def __call__(self, load: float, slew: float) -> float:
        """Bilinear interpolation, linear extrapolation outside the table (as OpenSTA does)."""
        i, u = _locate(self.load, load)
        j, v = _locate(self.slew, slew)
        t = self.values
        if len(self.load) == 1:
            return float(t[0, j] + v * (t[0, j + 1] - t[0, j])) if len(self.slew) > 1 else float(t[0, 0])
        if len(self.slew) == 1:
            return float(t[i, 0] + u * (t[i + 1, 0] - t[i, 0]))
        lo = t[i, j] + v * (t[i, j + 1] - t[i, j])
        hi = t[i + 1, j] + v * (t[i + 1, j + 1] - t[i + 1, j])
        return float(lo + u * (hi - lo))


def _locate(axis: np.ndarray, x: float) -> tuple[int, float]:
    """Segment index and fraction along it; fractions < 0 or > 1 extrapolate the end segments."""
    n = len(axis)
    if n == 1:
        return 0, 0.0
    j = min(max(bisect.bisect_right(axis.tolist(), x) - 1, 0), n - 2)
    return j, (x - axis[j]) / (axis[j + 1] - axis[j])


@dataclass(frozen=True)
class InternalPower:
    """``internal_power`` of an output pin for transitions caused by ``related_pin``."""

    related_pin: str | None
    rise: PowerTable | None  # output rising
    fall: PowerTable | None  # output falling


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str  # 'input' or 'output'
    capacitance: float
    function: str | None
    internal_power: tuple[InternalPower, ...] = ()


@dataclass(frozen=True)
class Cell:
    name: str
    area: float
    leakage: float
    pins: dict[str, Pin]
    sequential: bool

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "output"]


@dataclass(frozen=True)
class CellLibrary:
    path: Path
    name: str
    hash: str
    voltage: float          # nominal supply (V)
    time_unit_ns: float     # one library time unit in ns
    cap_unit_pf: float      # one library capacitance unit in pF
    leakage_unit_mw: float  # one library leakage unit in mW
    cells: dict[str, Cell]

    @property
    def energy_unit_pj(self) -> float:
        """Internal-power tables hold energy in capacitance unit x V^2: this many pJ."""
        return self.cap_unit_pf

    def cell(self, name: str) -> Cell:
        try:
            return self.cells[name]
        except KeyError:
            raise LibertyError(
                f"cell {name!r} is not in the library {self.name}; it has "
                + ", ".join(sorted(self.cells)),
                file=str(self.path),
            ) from None


_UNIT = re.compile(r"^\s*([0-9.eE+-]*)\s*([a-zA-Z]+)\s*$")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}


def _unit(text: str, base: str, file: str) -> float:
    """Value in SI of a unit string like ``1ns`` / ``1nW``, for the given base letter (s, W, F)."""
    m = _UNIT.match(text.strip('"'))
    if not m or not m.group(2).endswith(base):
        raise LibertyError(f"cannot read unit {text!r} (expected a multiple of {base})", file=file)
    prefix = m.group(2)[: -len(base)]
    if prefix not in _SCALE:
        raise LibertyError(f"unknown unit prefix in {text!r}", file=file)
    return float(m.group(1) or 1.0) * _SCALE[prefix]


def _floats(text: str) -> np.ndarray:
    return np.array([float(x) for x in re.split(r"[,\s]+", text.strip().strip('"')) if x], dtype=float)


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime: float) -> CellLibrary:
    text = Path(path).read_text(errors="replace")
    lib = _parse(text, path)
    templates: dict[str, tuple[str, str]] = {}
    for g in lib.groups:
        if g.kind in ("power_lut_template", "lu_table_template") and g.args:
            templates[g.args[0]] = (g.attrs.get("variable_1", ""), g.attrs.get("variable_2", ""))
    time_s = _unit(lib.attrs.get("time_unit", "1ns"), "s", path)
    leak_w = _unit(lib.attrs.get("leakage_power_unit", "1nW"), "W", path)
    cap = lib.complex.get("capacitive_load_unit", ["1", "pf"])
    cap_f = float(cap[0]) * _unit("1" + cap[1].lower().replace("f", "F"), "F", path)
    voltage = float(lib.attrs.get("nom_voltage", "0") or 0)
    if voltage <= 0:
        raise LibertyError("the library has no positive nom_voltage", file=path)

    def table(g: _Group, cell: str) -> PowerTable:
        var1, var2 = templates.get(g.args[0] if g.args else "", ("", ""))
        idx1 = _floats(g.complex.get("index_1", [""])[0]) if "index_1" in g.complex else None
        idx2 = _floats(g.complex.get("index_2", [""])[0]) if "index_2" in g.complex else None
        rows = [_floats(r) for r in g.complex.get("values", [])]
        values = np.array(rows, dtype=float)
        if idx1 is None or values.size == 0:
            raise LibertyError(f"power table of cell {cell} lacks index_1 or values", file=path, line=g.line)
        if idx2 is None:  # one-dimensional table
            idx2 = np.array([0.0])
            values = values.reshape(len(idx1), 1) if values.shape != (len(idx1), 1) else values
        values = values.reshape(len(idx1), len(idx2))
        if var1 == "input_transition_time" and var2 == "total_output_net_capacitance":
            return PowerTable(load=idx2, slew=idx1, values=values.T.copy())
        if var1 == "input_transition_time" and not var2:
            return PowerTable(load=np.array([0.0]), slew=idx1, values=values.reshape(1, -1))
        if var1 == "total_output_net_capacitance" and not var2:
            return PowerTable(load=idx1, slew=np.array([0.0]), values=values.reshape(-1, 1))
        return PowerTable(load=idx1, slew=idx2, values=values)

    cells: dict[str, Cell] = {}
    for cg in lib.sub("cell"):
        name = cg.args[0] if cg.args else "?"
        pins: dict[str, Pin] = {}
        pin_groups = list(cg.sub("pin"))
        for bus in cg.sub("bus"):
            pin_groups += bus.sub("pin")
        for pg in pin_groups:
            powers = []
            for ip in pg.sub("internal_power"):
                rise = [table(t, name) for t in ip.sub("rise_power")]
                fall = [table(t, name) for t in ip.sub("fall_power")]
                powers.append(InternalPower(ip.attrs.get("related_pin", "").strip('"') or None,
                                            rise[0] if rise else None, fall[0] if fall else None))
            func = pg.attrs.get("function")
            for pname in pg.args:
                pins[pname] = Pin(
                    name=pname,
                    direction=pg.attrs.get("direction", "").strip('"'),
                    capacitance=float(pg.attrs.get("capacitance", "0") or 0),
                    function=func.strip('"') if func else None,
                    internal_power=tuple(powers),
                )
        cells[name] = Cell(
            name=name,
            area=float(cg.attrs.get("area", "0") or 0),
            leakage=float(cg.attrs.get("cell_leakage_power", "0") or 0),
            pins=pins,
            sequential=bool(cg.sub("ff") or cg.sub("latch") or cg.sub("statetable")),
        )
    return CellLibrary(
        path=Path(path), name=lib.args[0] if lib.args else "?", hash=file_hash(path),
        voltage=voltage, time_unit_ns=time_s / 1e-9, cap_unit_pf=cap_f / 1e-12,
        leakage_unit_mw=leak_w / 1e-3, cells=cells,
    )


def read_liberty(path: str | Path) -> CellLibrary:
    """Read (and cache per file and modification time) the cells of a liberty file."""
    p = Path(path).resolve()
    if not p.is_file():
        raise FileNotFoundError(f"liberty file {p} not found")
    return _read_cached(str(p), p.stat().st_mtime)
