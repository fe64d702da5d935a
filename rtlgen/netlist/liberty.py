"""Standard cells read from a liberty file: functions, areas, pins, power tables and units.

One reader serves both users: the netlist reader (:mod:`rtlgen.netlist.reader`) takes the logic of cells
a netlist instantiates without defining them (EvoApprox ``_pdk45`` netlists use AND2X1, HAX1,
FAX1, ...) from the liberty ``function`` attributes, never from cell names, so any cell library
works; the cost flow (:mod:`rtlgen.cost.synth`, :mod:`rtlgen.cost.activity`, :mod:`rtlgen.cost.multiplier`) reads areas,
leakage, pin capacitances and ``internal_power`` tables.

Parsing is done by the ``liberty-parser`` package, which pulls in sympy (about half a second):
it is imported on the first read, and each file is read once per process (cached by path and
modification time). Its boolean functions (sympy expressions) are converted to small operator
trees: ``("const", 0|1)``, ``("pin", name)``, ``("not", x)`` and ``("and"|"or"|"xor", x, y, ...)``;
:func:`compile_function` turns a tree into an evaluator over numpy boolean arrays.

Units are the library's own (``time_unit``, ``capacitive_load_unit``, ``voltage_unit``,
``leakage_power_unit``), read from each file and recorded in :class:`CellLibrary` as factors to
ns, pF, V and mW, so that every user converts the same way: OSU018 and sky130 use ns, pF and
nW, gf180mcu ns, pF and uW, ASAP7 ps, fF and pW. Internal-power tables hold energy per
transition in the capacitance unit times the voltage unit squared (liberty has no energy unit
of its own; OpenSTA reads them the same way): pJ for OSU018, sky130 and gf180mcu, fJ for ASAP7
(:attr:`CellLibrary.energy_unit_pj`). A table may be a scalar (``scalar`` template, one value and
no index, as sky130 writes some). Files may be gzipped (``.gz``).
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from rtlgen.errors import LibertyError

__all__ = [
    "Expr",
    "PowerTable",
    "InternalPower",
    "Pin",
    "Cell",
    "FlipFlop",
    "CellLibrary",
    "read_liberty",
    "default_library",
    "parse_function",
    "compile_function",
]

#: A cell function as an operator tree (see the module docstring).
Expr = tuple


# --- boolean functions --------------------------------------------------------------------------

def _sympy_to_expr(e) -> Expr:
    from sympy import Symbol
    from sympy.logic import boolalg

    if e == boolalg.true:
        return ("const", 1)
    if e == boolalg.false:
        return ("const", 0)
    if isinstance(e, Symbol):
        return ("pin", str(e))
    args = tuple(_sympy_to_expr(a) for a in e.args)
    if isinstance(e, boolalg.Not):
        return ("not", args[0])
    if isinstance(e, boolalg.And):
        return ("and",) + args
    if isinstance(e, boolalg.Or):
        return ("or",) + args
    if isinstance(e, boolalg.Xor):
        return ("xor",) + args
    raise ValueError(f"the function uses {type(e).__name__}, which rtlgen cannot evaluate")


def parse_function(text: str) -> Expr:
    """The operator tree of a liberty ``function`` string; ValueError when it cannot be read.

    Syntax (liberty): ``!`` and postfix ``'`` not, ``^`` xor, ``&``/``*``/space and, ``|``/``+``
    or, from highest to lowest precedence; ``0``/``1`` constants.
    """
    from liberty.boolean_functions import parse_boolean_function

    try:
        sym = parse_boolean_function(text)
    except Exception as exc:  # lark raises errors of many kinds
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot parse liberty function {text!r}: {detail}") from None
    return _sympy_to_expr(sym)


def _pins_of(expr: Expr) -> set[str]:
    if expr[0] == "pin":
        return {expr[1]}
    if expr[0] == "const":
        return set()
    return set().union(*(_pins_of(a) for a in expr[1:]))


@functools.lru_cache(maxsize=None)
def compile_function(expr: Expr) -> tuple[tuple[str, ...], Callable[..., np.ndarray]]:
    """Compile an operator tree; return (its input pin names, sorted; evaluator).

    The evaluator takes one numpy boolean array per input name (keyword arguments; a function
    of no inputs takes any one array, which gives the length) and returns a boolean array.
    """

    def build(node: Expr) -> Callable[[dict], np.ndarray]:
        op = node[0]
        if op == "pin":
            name = node[1]
            return lambda env: env[name]
        if op == "const":
            value = bool(node[1])
            return lambda env: np.full(env["__n__"], value, dtype=bool)
        parts = [build(x) for x in node[1:]]
        if op == "not":
            (f,) = parts
            return lambda env: ~f(env)
        combine = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}.get(op)
        if combine is None:
            raise ValueError(f"unknown operator {op!r} in cell function {expr!r}")
        first, rest = parts[0], parts[1:]

        def fold(env: dict) -> np.ndarray:
            out = first(env)
            for f in rest:
                out = combine(out, f(env))
            return out

        return fold

    fn = build(expr)

    def evaluate(**inputs: np.ndarray) -> np.ndarray:
        n = len(next(iter(inputs.values()))) if inputs else 1
        return fn({**inputs, "__n__": n})

    return tuple(sorted(_pins_of(expr))), evaluate


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
    """``internal_power`` of an output pin for transitions caused by ``related_pin``; on an input
    pin (a clock), the energy of its own edges. ``when``: the liberty state condition the table
    holds in, as written (an SRAM macro's clock: ``"!csb0 & web0"``, a read), or None."""

    related_pin: str | None
    rise: PowerTable | None  # output rising
    fall: PowerTable | None  # output falling
    when: str | None = None


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str  # 'input' or 'output'
    capacitance: float
    function: str | None  # the liberty text; the parsed tree is in Cell.functions
    internal_power: tuple[InternalPower, ...] = ()


@dataclass(frozen=True)
class FlipFlop:
    """A cell's ``ff (STATE, STATE_N)`` group: edge-triggered storage.

    ``clocked_on`` is the pin whose rising edge loads ``next_state`` (an operator tree of input
    pins), or, with ``falling``, its falling edge; ``clear``/``preset`` (trees or ``None``) force
    the state asynchronously while true, clear taking precedence (OSU018's
    ``clear_preset_var1 : L``). Output pins read the state by the names ``state`` and
    ``state_n`` in their ``function``, as in :attr:`Cell.ff_outputs`.
    """

    state: str
    state_n: str
    next_state: Expr
    clocked_on: str
    falling: bool
    clear: Expr | None
    preset: Expr | None


@dataclass(frozen=True)
class Cell:
    """One cell. ``functions`` (output pin -> operator tree) is filled for combinational cells;
    ``ff`` for flip-flops, whose outputs are in ``ff_outputs`` (pin -> True for the state,
    False for its complement)."""

    name: str
    area: float
    leakage: float
    pins: dict[str, Pin]
    sequential: bool  # has a ff, latch or statetable group
    tristate: bool    # an output has a three_state attribute
    functions: dict[str, Expr]
    ff: FlipFlop | None = None
    ff_outputs: dict[str, bool] | None = None

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "output"]

    @property
    def combinational(self) -> bool:
        """Whether rtlgen can evaluate the cell: not sequential, not tri-state, with functions."""
        return not self.sequential and not self.tristate and bool(self.functions)


@dataclass(frozen=True)
class CellLibrary:
    """Every cell of a liberty file, by name, with the library's units and identity."""

    path: Path
    name: str
    sha256: str             # of the file's bytes
    nom_voltage: float | None
    time_unit_ns: float     # one library time unit in ns
    cap_unit_pf: float      # one library capacitance unit in pF
    leakage_unit_mw: float  # one library leakage unit in mW
    cells: dict[str, Cell]
    voltage_unit_v: float = 1.0  # one library voltage unit in V

    @property
    def hash(self) -> str:
        """Short identity (16 hex digits of the SHA-256) used in cost cache keys."""
        return self.sha256[:16]

    @property
    def voltage(self) -> float:
        """Nominal supply (V); the power model needs it."""
        if self.nom_voltage is None:
            raise LibertyError("the library has no positive nom_voltage", file=str(self.path))
        return self.nom_voltage * self.voltage_unit_v

    @property
    def energy_unit_pj(self) -> float:
        """Internal-power tables hold energy in capacitance unit x voltage unit^2: this many pJ."""
        return self.cap_unit_pf * self.voltage_unit_v ** 2

    def __contains__(self, name: str) -> bool:
        return name in self.cells

    def cell(self, name: str) -> Cell:
        try:
            return self.cells[name]
        except KeyError:
            raise LibertyError(
                f"cell {name!r} is not in the library {self.name}; it has "
                + ", ".join(sorted(self.cells)),
                file=str(self.path),
            ) from None


# --- reading ------------------------------------------------------------------------------------

_UNIT = re.compile(r"^\s*([0-9.eE+-]*)\s*([a-zA-Z]+)\s*$")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3}


def _text(value) -> str:
    """An attribute value as plain text (liberty-parser keeps quoted strings as EscapedString)."""
    return str(getattr(value, "value", value)).strip().strip('"')


def _unit(text: str, base: str, file: str) -> float:
    """Value in SI of a unit string like ``1ns`` / ``1nW``, for the given base letter (s, W, F)."""
    m = _UNIT.match(text)
    if not m or not m.group(2).endswith(base):
        raise LibertyError(f"cannot read unit {text!r} (expected a multiple of {base})", file=file)
    prefix = m.group(2)[: -len(base)]
    if prefix not in _SCALE:
        raise LibertyError(f"unknown unit prefix in {text!r}", file=file)
    return float(m.group(1) or 1.0) * _SCALE[prefix]


def _unit_text(text: str, key: str, default: str) -> str:
    """A library-level unit attribute as written (``time_unit : 1ns ;`` unquoted, as gf180mcu
    writes it, reaches liberty-parser as the number 1.0: the unit is read from the text)."""
    head = text[:text.find("cell")] if "cell" in text else text
    m = re.search(rf"^\s*{key}\s*:\s*\"?([^\";]*?)\"?\s*;", head, re.M)
    return m.group(1).strip() if m else default


def _number(group, key: str, default: float, what: str, file: str) -> float:
    value = group.get(key)
    if value is None:
        return default
    try:
        return float(_text(value))
    except ValueError:
        raise LibertyError(f"{what}: {key} is {_text(value)!r}, expected a number", file=file) from None


def _parse_error(exc: Exception, data: str, file: str) -> LibertyError:
    """liberty-parser's error, located: its line count is 0-based, and its lexer names tokens."""
    from liberty.parser import ExceptionWithLineNum
    from liberty.tokenized import UnexpectedEndOfFile, UnexpectedToken

    line = None
    inner = exc
    if isinstance(exc, ExceptionWithLineNum):
        line = min(exc.line_num + 1, data.count("\n") + 1)
        inner = exc.e
    if isinstance(inner, UnexpectedEndOfFile) or (isinstance(inner, UnexpectedToken) and inner.args[1] is None):
        what = "unexpected end of file"
        if isinstance(inner, UnexpectedToken):
            what += f" (expected {inner.args[0]})"
    elif isinstance(inner, UnexpectedToken):
        what = f"unexpected {inner.args[1]!r} (expected {inner.args[0]})"
    else:
        what = str(inner) or type(inner).__name__
    return LibertyError(f"cannot parse liberty file: {what}", file=file, line=line)


#: Bumped whenever the reader's output changes, so that parsed libraries kept on disk are redone.
_READER_VERSION = 3


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, mtime: float) -> CellLibrary:
    """Parsing takes 20 to 100 s for the large PDK files (liberty-parser is pure Python), so the
    result is also kept on disk, in ``$RTLGEN_CACHE/liberty`` (default ``~/.cache/rtlgen``),
    named after the file's SHA-256 and the reader's version: every process after the first
    loads it in well under a second."""
    import pickle

    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    import os

    store = Path(os.environ.get("RTLGEN_CACHE", Path.home() / ".cache" / "rtlgen")) / "liberty" / f"{sha[:32]}-v{_READER_VERSION}.pickle"
    if store.is_file():
        try:
            lib = pickle.loads(store.read_bytes())
            if isinstance(lib, CellLibrary) and lib.sha256 == sha:
                return replace(lib, path=path)
        except Exception:  # a stale or truncated file: parse again and rewrite it
            pass
    lib = _parse(path, data)
    from rtlgen.paths import atomic_write_bytes

    try:
        atomic_write_bytes(store, pickle.dumps(lib, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:  # a read-only home: parse every time
        pass
    return lib


def _parse(path: Path, data: bytes) -> CellLibrary:
    from liberty.parser import parse_liberty

    file = str(path)
    raw = data
    if path.suffix == ".gz":
        import gzip

        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise LibertyError(f"cannot decompress: {exc}", file=file) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        lib = parse_liberty(text)
    except Exception as exc:  # the parser raises errors of many kinds
        raise _parse_error(exc, text, file) from None
    if lib.group_name != "library":
        raise LibertyError(f"expected a library group, found {lib.group_name}", file=file)

    templates: dict[str, tuple[str, str]] = {}
    for kind in ("power_lut_template", "lu_table_template"):
        for g in lib.get_groups(kind):
            if g.args:
                templates[_text(g.args[0])] = (_text(g.get("variable_1", "")), _text(g.get("variable_2", "")))
    time_s = _unit(_unit_text(text, "time_unit", "1ns"), "s", file)
    leak_w = _unit(_unit_text(text, "leakage_power_unit", "1nW"), "W", file)
    cap = lib.get("capacitive_load_unit", [1, "pf"])
    if not isinstance(cap, list) or len(cap) != 2:
        raise LibertyError(f"capacitive_load_unit is {cap!r}, expected (number, unit)", file=file)
    cap_name = _text(cap[1]).lower()  # pf, ff: the prefix, then the farad
    cap_f = float(_text(cap[0])) * _unit("1" + cap_name[:-1] + cap_name[-1:].upper(), "F", file)
    voltage = _number(lib, "nom_voltage", 0.0, "library", file)
    volt_v = _unit(_unit_text(text, "voltage_unit", "1V"), "V", file)

    def table(g, cell: str) -> PowerTable:
        var1, var2 = templates.get(_text(g.args[0]) if g.args else "", ("", ""))
        try:
            idx1 = g.get_array("index_1").ravel() if "index_1" in g else None
            idx2 = g.get_array("index_2").ravel() if "index_2" in g else None
            values = g.get_array("values") if "values" in g else np.zeros(0)
        except (ValueError, TypeError, AttributeError) as exc:
            raise LibertyError(f"power table of cell {cell}: cannot read its numbers ({exc})", file=file) from None
        if idx1 is None and values.size == 1:  # a scalar table: one energy whatever load and slew
            return PowerTable(load=np.array([0.0]), slew=np.array([0.0]), values=values.reshape(1, 1))
        if idx1 is None or values.size == 0:
            raise LibertyError(f"power table of cell {cell} lacks index_1 or values", file=file)
        if idx2 is None:  # one-dimensional table
            idx2 = np.array([0.0])
        if values.size != len(idx1) * len(idx2):
            raise LibertyError(f"power table of cell {cell} holds {values.size} values for a "
                               f"{len(idx1)}x{len(idx2)} index", file=file)
        values = values.reshape(len(idx1), len(idx2))
        if var1 == "input_transition_time" and var2 == "total_output_net_capacitance":
            return PowerTable(load=idx2, slew=idx1, values=values.T.copy())
        if var1 == "input_transition_time" and not var2:
            return PowerTable(load=np.array([0.0]), slew=idx1, values=values.reshape(1, -1))
        if var1 == "total_output_net_capacitance" and not var2:
            return PowerTable(load=idx1, slew=np.array([0.0]), values=values.reshape(-1, 1))
        return PowerTable(load=idx1, slew=idx2, values=values)

    cells: dict[str, Cell] = {}
    for cg in lib.get_groups("cell"):
        name = _text(cg.args[0]) if cg.args else "?"
        pin_groups = list(cg.get_groups("pin"))
        for bus in cg.get_groups("bus"):
            pin_groups += bus.get_groups("pin")
        pins: dict[str, Pin] = {}
        tristate = False
        for pg in pin_groups:
            powers = []
            for ip in pg.get_groups("internal_power"):
                rise = [table(t, name) for t in ip.get_groups("rise_power")]
                fall = [table(t, name) for t in ip.get_groups("fall_power")]
                related = _text(ip.get("related_pin", "")) or None
                when = _text(ip.get("when", "")) or None
                powers.append(InternalPower(related, rise[0] if rise else None, fall[0] if fall else None, when))
            func = pg.get("function")
            tristate = tristate or "three_state" in pg
            for pname in pg.args:
                pname = _text(pname)
                pins[pname] = Pin(
                    name=pname,
                    direction=_text(pg.get("direction", "")),
                    capacitance=_number(pg, "capacitance", 0.0, f"cell {name} pin {pname}", file),
                    function=_text(func) if func is not None else None,
                    internal_power=tuple(powers),
                )
        sequential = bool(cg.get_groups("ff") or cg.get_groups("latch") or cg.get_groups("statetable"))
        functions: dict[str, Expr] = {}
        if not sequential and not tristate:
            inputs = [p.name for p in pins.values() if p.direction == "input"]
            for pin in pins.values():
                if pin.direction != "output" or pin.function is None:
                    continue
                try:
                    expr = parse_function(pin.function)
                except ValueError as exc:
                    raise LibertyError(f"cell {name} pin {pin.name}: {exc}", file=file) from None
                unknown = _pins_of(expr) - set(inputs)
                if unknown:
                    raise LibertyError(f"cell {name} pin {pin.name}: function refers to {sorted(unknown)}, "
                                       f"which are not input pins ({inputs})", file=file)
                functions[pin.name] = expr
        ff, ff_outputs = _flip_flop(cg, pins, name, file)
        cells[name] = Cell(
            name=name,
            area=_number(cg, "area", 0.0, f"cell {name}", file),
            leakage=_leakage(cg, name, file),
            pins=pins,
            sequential=sequential,
            tristate=tristate,
            functions=functions,
            ff=ff,
            ff_outputs=ff_outputs,
        )
    return CellLibrary(
        path=path, name=_text(lib.args[0]) if lib.args else "?", sha256=hashlib.sha256(data).hexdigest(),
        nom_voltage=voltage if voltage > 0 else None, time_unit_ns=time_s / 1e-9, cap_unit_pf=cap_f / 1e-12,
        leakage_unit_mw=leak_w / 1e-3, cells=cells, voltage_unit_v=volt_v,
    )


def _leakage(cg, name: str, file: str) -> float:
    """``cell_leakage_power``; without it (gf180mcu, ASAP7), the ``leakage_power`` group that has no
    ``when``, else the mean over the state-dependent ones (every input state equally likely)."""
    if cg.get("cell_leakage_power") is not None:
        return _number(cg, "cell_leakage_power", 0.0, f"cell {name}", file)
    plain, states = [], []
    for g in cg.get_groups("leakage_power"):
        value = _number(g, "value", 0.0, f"cell {name} leakage_power", file)
        (states if g.get("when") is not None else plain).append(value)
    if plain:
        return sum(plain)
    return sum(states) / len(states) if states else 0.0


def _flip_flop(cg, pins: dict[str, Pin], name: str, file: str) -> tuple[FlipFlop | None, dict[str, bool] | None]:
    """The cell's one ``ff`` group, or (None, None); latches and state tables are left as
    ``sequential`` without a model."""
    groups = list(cg.get_groups("ff"))
    if len(groups) != 1 or cg.get_groups("latch") or cg.get_groups("statetable"):
        return None, None
    g = groups[0]
    if len(g.args) != 2:
        raise LibertyError(f"cell {name}: ff group needs two state names, has {len(g.args)}", file=file)
    state, state_n = (_text(a) for a in g.args)

    def expr(key: str) -> Expr | None:
        value = g.get(key)
        if value is None:
            return None
        try:
            return parse_function(_text(value))
        except ValueError as exc:
            raise LibertyError(f"cell {name} ff {key}: {exc}", file=file) from None

    clocked = expr("clocked_on")
    if clocked is None:
        raise LibertyError(f"cell {name}: ff group lacks clocked_on", file=file)
    falling = clocked[0] == "not"
    clock = clocked[1] if falling else clocked
    if clock[0] != "pin":
        raise LibertyError(f"cell {name}: clocked_on must be a pin or its complement, not "
                           f"{_text(g.get('clocked_on'))!r}", file=file)
    ff = FlipFlop(state, state_n, expr("next_state") or ("const", 0), clock[1], falling,
                  expr("clear"), expr("preset"))
    outputs = {}
    for pin in pins.values():
        if pin.direction != "output":
            continue
        if pin.function in (state, state_n):
            outputs[pin.name] = pin.function == state
        else:
            raise LibertyError(f"cell {name} pin {pin.name}: function {pin.function!r} must be the "
                               f"ff state {state} or {state_n}", file=file)
    return ff, outputs


def read_liberty(path: str | Path) -> CellLibrary:
    """Read (once per process: cached per file and modification time) every cell of a liberty file."""
    p = Path(path).resolve()
    if not p.is_file():
        raise LibertyError("liberty file not found", file=str(path))
    return _read_cached(p, p.stat().st_mtime)


def default_library() -> CellLibrary:
    """The OSU018 library located by :func:`rtlgen.paths.liberty_path`."""
    from rtlgen.paths import liberty_path

    return read_liberty(liberty_path())
