"""Switching activity of a synthesized multiplier under a stream of operands.

Stream model (owned here): the multiplier performs one multiplication per clock cycle. In cycle
``t`` port A carries the bit pattern ``a[t]`` and port B ``b[t]`` (0..255, the same encoding as
:mod:`rtlgen.netlist.table`: for a signed multiplier pattern 0xFF is -1). An :class:`ActivitySpec` draws
``a[t]`` from the histogram ``a_hist`` and ``b[t]`` from ``b_hist`` (length-256 probabilities over
bit patterns; ``None`` = uniform), independently per cycle and per port, from a seeded
generator; or it carries an explicit operand sequence.

The mapped netlist is simulated with zero delay (every net settles once per cycle: glitches are
not counted). Per net we report the *toggle rate*, transitions per clock cycle (the fraction of
consecutive cycle pairs whose value differs, 0..1), and the *static probability* of logic 1. Per
cell arc (input pin -> output pin) we count output rises and falls per cycle, attributing each
output transition equally to the cell inputs that toggled in that cycle, split by the input's
own direction; the cost model weighs them with the liberty's internal-power tables.
"""
from __future__ import annotations

import graphlib
import hashlib
from dataclasses import dataclass, field

import numpy as np

from rtlgen.errors import NetlistError
from rtlgen.netlist.liberty import compile_function
from rtlgen.cost.synth import MappedNetlist
from rtlgen.netlist.table import output_bits_to_value

__all__ = [
    "ActivitySpec",
    "CompiledNetlist",
    "Waveforms",
    "NetActivity",
    "ArcActivity",
    "operand_stream",
    "simulate",
    "net_activity",
    "arc_activity",
    "tabulate_mapped",
]

DEFAULT_VECTORS = 16384


def _check_hist(hist, what: str) -> np.ndarray | None:
    if hist is None:
        return None
    h = np.asarray(hist, dtype=np.float64)
    if h.shape != (256,):
        raise ValueError(f"{what} must be a length-256 array of probabilities over bit patterns 0..255, "
                         f"not shape {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError(f"{what} must hold finite non-negative weights")
    total = h.sum()
    if total <= 0:
        raise ValueError(f"{what} sums to {total}; it needs at least one positive weight")
    if np.all(h == h[0]):
        return None  # uniform: the same stream (and key) as no histogram
    h = h / total
    h.setflags(write=False)
    return h


@dataclass(frozen=True, eq=False)
class ActivitySpec:
    """Which operand stream drives the activity simulation. Build with :meth:`make` or
    :meth:`from_operands`; :attr:`key` identifies it in cost caches."""

    a_hist: np.ndarray | None = None
    b_hist: np.ndarray | None = None
    n_vectors: int = DEFAULT_VECTORS
    seed: int = 0
    operands: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def make(cls, a_hist=None, b_hist=None, *, n_vectors: int = DEFAULT_VECTORS, seed: int = 0) -> "ActivitySpec":
        if not isinstance(n_vectors, (int, np.integer)) or n_vectors < 2:
            raise ValueError(f"n_vectors must be an integer >= 2 (two cycles make one transition), not {n_vectors!r}")
        return cls(_check_hist(a_hist, "a_hist"), _check_hist(b_hist, "b_hist"), int(n_vectors), int(seed))

    @classmethod
    def from_operands(cls, a, b) -> "ActivitySpec":
        """An explicit stream: ``a[t]``, ``b[t]`` bit patterns (0..255) in cycle order."""
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.shape != b_arr.shape or a_arr.ndim != 1 or len(a_arr) < 2:
            raise ValueError(f"operand sequences must be 1-D, of equal length >= 2; got {a_arr.shape} and {b_arr.shape}")
        for arr, what in ((a_arr, "a"), (b_arr, "b")):
            if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
                raise ValueError(f"operand sequence {what} must hold bit patterns 0..255")
        a_arr, b_arr = a_arr.astype(np.uint8), b_arr.astype(np.uint8)
        a_arr.setflags(write=False)
        b_arr.setflags(write=False)
        return cls(None, None, len(a_arr), 0, (a_arr, b_arr))

    @property
    def key(self) -> str:
        """A stable text identity: equal streams, equal keys (on every machine)."""
        if self.operands is not None:
            h = hashlib.sha256(self.operands[0].tobytes() + b"|" + self.operands[1].tobytes()).hexdigest()[:16]
            return f"ops:{h}:n={self.n_vectors}"

        def part(h: np.ndarray | None) -> str:
            if h is None:
                return "uniform"
            return "hist:" + hashlib.sha256(np.round(h, 12).astype("<f8").tobytes()).hexdigest()[:16]

        return f"a={part(self.a_hist)},b={part(self.b_hist)},n={self.n_vectors},seed={self.seed}"


def operand_stream(spec: ActivitySpec) -> tuple[np.ndarray, np.ndarray]:
    """The operand patterns (uint8 arrays of length ``spec.n_vectors``) for A and B, in cycle order."""
    if spec.operands is not None:
        return spec.operands
    rng = np.random.default_rng(spec.seed)
    n = spec.n_vectors
    a = rng.choice(256, size=n, p=spec.a_hist) if spec.a_hist is not None else rng.integers(0, 256, n)
    b = rng.choice(256, size=n, p=spec.b_hist) if spec.b_hist is not None else rng.integers(0, 256, n)
    return a.astype(np.uint8), b.astype(np.uint8)


@dataclass(frozen=True)
class _CellOp:
    name: str
    type: str
    inputs: dict[str, object]          # pin -> net (int) or constant '0'/'1'
    outputs: dict[str, int]            # pin -> net
    functions: dict[str, tuple[tuple[str, ...], object]]  # output pin -> (arg pins, evaluator)


class CompiledNetlist:
    """A :class:`MappedNetlist` in evaluation order: cells sorted so that drivers come first.

    Nets are Yosys' integer bit ids; ``net_loads[net]`` lists (cell, pin) pairs it feeds.
    With ``sequential``, flip-flops (liberty ``ff`` cells) are allowed: they are kept apart in
    ``flops`` (same record as a cell, no functions), their outputs count as sources of the
    combinational logic in ``cells``, and their input pins as loads.
    """

    def __init__(self, mapped: MappedNetlist, *, sequential: bool = False):
        self.mapped = mapped
        lib = mapped.library
        mod = mapped.module
        self.inputs: dict[str, list] = {}
        self.outputs: dict[str, list] = {}
        for name, (direction, bits) in mapped.ports.items():
            (self.inputs if direction == "input" else self.outputs)[name] = bits
        driver: dict[int, str] = {}
        for bits in self.inputs.values():
            for b in bits:
                if isinstance(b, int):
                    driver[b] = "<input>"
        cells: dict[str, _CellOp] = {}
        self.flops: list[_CellOp] = []
        self.net_loads: dict[int, list[tuple[str, str]]] = {}
        for cname, c in mod["cells"].items():
            cell = lib.cell(c["type"])
            is_flop = sequential and cell.ff is not None
            ins: dict[str, object] = {}
            outs: dict[str, int] = {}
            funcs = {}
            for pin, bits in c["connections"].items():
                if len(bits) != 1:
                    raise NetlistError(f"cell {cname} pin {pin} connects {len(bits)} bits; expected 1",
                                       file=str(mapped.source))
                bit = bits[0]
                direction = c.get("port_directions", {}).get(pin) or cell.pins[pin].direction
                if direction == "output":
                    if not isinstance(bit, int):
                        continue
                    if bit in driver:
                        raise NetlistError(f"net {bit} is driven by both {driver[bit]} and {cname}",
                                           file=str(mapped.source))
                    driver[bit] = cname
                    outs[pin] = bit
                    if is_flop:
                        continue
                    func = cell.functions.get(pin)
                    if func is None:
                        raise NetlistError(f"cell {c['type']} output {pin} has no liberty function",
                                           file=str(mapped.source))
                    funcs[pin] = compile_function(func)
                else:
                    ins[pin] = bit if isinstance(bit, int) else str(bit)
                    if isinstance(bit, int):
                        self.net_loads.setdefault(bit, []).append((cname, pin))
            if is_flop:
                self.flops.append(_CellOp(cname, c["type"], ins, outs, {}))
            else:
                cells[cname] = _CellOp(cname, c["type"], ins, outs, funcs)
        flop_names = {op.name for op in self.flops}
        graph = graphlib.TopologicalSorter()
        for cname, op in cells.items():
            deps = {driver.get(n) for n in op.inputs.values() if isinstance(n, int)}
            missing = [n for n in op.inputs.values() if isinstance(n, int) and n not in driver]
            if missing:
                raise NetlistError(f"cell {cname} reads undriven net {missing[0]}", file=str(mapped.source))
            graph.add(cname, *(d for d in deps if d not in (None, "<input>") and d not in flop_names))
        try:
            order = list(graph.static_order())
        except graphlib.CycleError as exc:
            raise NetlistError(f"combinational loop through cells {exc.args[1]}", file=str(mapped.source)) from None
        self.cells: list[_CellOp] = [cells[n] for n in order]
        self.driver = driver
        for name, bits in self.outputs.items():
            for b in bits:
                if isinstance(b, int) and b not in driver:
                    raise NetlistError(f"output {name} has an undriven bit", file=str(mapped.source))

    def operand_ports(self) -> tuple[str, str, str]:
        """Names of the A and B inputs (8 bits each) and of the one output port."""
        if set(self.inputs) != {"A", "B"} or any(len(v) != 8 for v in self.inputs.values()):
            got = ", ".join(f"{n}[{len(v)}]" for n, v in self.inputs.items())
            raise NetlistError(f"expected two 8-bit inputs A and B, found {got or 'none'}",
                               file=str(self.mapped.source))
        if len(self.outputs) != 1:
            raise NetlistError(f"expected one output port, found {', '.join(self.outputs) or 'none'}",
                               file=str(self.mapped.source))
        (out,) = self.outputs
        if len(self.outputs[out]) > 16:
            raise NetlistError(f"output {out} has {len(self.outputs[out])} bits; expected at most 16",
                               file=str(self.mapped.source))
        return "A", "B", out


@dataclass(frozen=True)
class Waveforms:
    """Zero-delay values of every net, one boolean per cycle: ``values[net]`` (length ``n``)."""

    compiled: CompiledNetlist
    values: dict[int, np.ndarray] = field(repr=False)
    n: int

    def value(self, net) -> np.ndarray:
        if isinstance(net, int):
            return self.values[net]
        return np.full(self.n, net == "1", dtype=bool)


def simulate(compiled: CompiledNetlist, port_values: dict[str, np.ndarray]) -> Waveforms:
    """Evaluate every net for integer input words (one array per input port, bit 0 = LSB)."""
    n = None
    values: dict[int, np.ndarray] = {}
    for name, bits in compiled.inputs.items():
        if name not in port_values:
            raise ValueError(f"no values for input port {name}; the netlist has {', '.join(compiled.inputs)}")
        words = np.asarray(port_values[name]).astype(np.int64)
        if n is None:
            n = len(words)
        elif len(words) != n:
            raise ValueError("every input port needs the same number of values")
        for i, b in enumerate(bits):
            if isinstance(b, int):
                values[b] = ((words >> i) & 1).astype(bool)
    n = n or 0
    const = {"0": np.zeros(n, dtype=bool), "1": np.ones(n, dtype=bool)}
    for op in compiled.cells:
        env = {}
        for pin, net in op.inputs.items():
            if isinstance(net, int):
                env[pin] = values[net]
            elif net in const:
                env[pin] = const[net]
            else:  # 'x' or 'z' from Yosys: tie low, deterministically
                env[pin] = const["0"]
        for pin, net in op.outputs.items():
            names, fn = op.functions[pin]
            values[net] = fn(**{k: env[k] for k in names}) if names else fn(__dummy=const["0"])
    return Waveforms(compiled, values, n)


def tabulate_mapped(compiled: CompiledNetlist, signed: bool) -> np.ndarray:
    """The truth table ``T[a, b]`` (see :mod:`rtlgen.netlist.table`) of the synthesized netlist."""
    a_port, b_port, out = compiled.operand_ports()
    a = np.repeat(np.arange(256), 256)
    b = np.tile(np.arange(256), 256)
    waves = simulate(compiled, {a_port: a, b_port: b})
    raw = np.zeros(65536, dtype=np.int64)
    for i, bit in enumerate(compiled.outputs[out]):
        raw |= waves.value(bit).astype(np.int64) << i
    return output_bits_to_value(raw, signed).reshape(256, 256)


def simulate_stream(compiled: CompiledNetlist, spec: ActivitySpec) -> Waveforms:
    a_port, b_port, _ = compiled.operand_ports()
    a, b = operand_stream(spec)
    return simulate(compiled, {a_port: a, b_port: b})


@dataclass(frozen=True)
class NetActivity:
    """Per net: toggles per clock cycle and probability of logic 1, over ``n_cycles`` cycles."""

    toggle_rate: dict[int, float]
    prob_one: dict[int, float]
    n_cycles: int

    def port_bits(self, compiled: CompiledNetlist) -> dict[str, tuple[float, float]]:
        """Input bits by OpenSTA name (``A[3]``) -> (toggle rate, probability of 1)."""
        out = {}
        for name, bits in compiled.inputs.items():
            for i, b in enumerate(bits):
                if isinstance(b, int):
                    out[f"{name}[{i}]" if len(bits) > 1 else name] = (self.toggle_rate[b], self.prob_one[b])
        return out


def net_activity(waves: Waveforms) -> NetActivity:
    if waves.n < 2:
        raise ValueError("activity needs at least two cycles")
    toggles, prob = {}, {}
    for net, v in waves.values.items():
        toggles[net] = float(np.count_nonzero(v[1:] != v[:-1])) / (waves.n - 1)
        prob[net] = float(np.count_nonzero(v)) / waves.n
    return NetActivity(toggles, prob, waves.n)


@dataclass(frozen=True)
class ArcActivity:
    """Output transitions per cycle of each cell arc, attributed to the toggling inputs.

    ``rates[(cell, in_pin, out_pin)] = (out rise & in rise, out rise & in fall,
    out fall & in rise, out fall & in fall)``, each in transitions per clock cycle.
    """

    rates: dict[tuple[str, str, str], tuple[float, float, float, float]]
    n_cycles: int


def arc_activity(waves: Waveforms) -> ArcActivity:
    compiled = waves.compiled
    m = waves.n - 1
    if m < 1:
        raise ValueError("activity needs at least two cycles")
    rates: dict[tuple[str, str, str], tuple[float, float, float, float]] = {}
    for op in compiled.cells:
        in_rise, in_fall, toggled = {}, {}, []
        for pin, net in op.inputs.items():
            if isinstance(net, int):
                v = waves.values[net]
                in_rise[pin] = (~v[:-1] & v[1:]).view(np.int8)
                in_fall[pin] = (v[:-1] & ~v[1:]).view(np.int8)
                toggled.append(in_rise[pin] + in_fall[pin])
        if not toggled:
            continue
        # Integer shares (scale = lcm(1..k)) keep the sums exact and off BLAS.
        scale = int(np.lcm.reduce(np.arange(1, len(toggled) + 1)))
        k = np.maximum(np.sum(toggled, axis=0, dtype=np.int32), 1)
        share = (scale // k).astype(np.int32)
        for opin, onet in op.outputs.items():
            v = waves.values[onet]
            o_rise = (~v[:-1] & v[1:]) * share
            o_fall = (v[:-1] & ~v[1:]) * share
            d = float(m * scale)
            for pin in in_rise:
                rates[(op.name, pin, opin)] = (
                    int(np.dot(o_rise, in_rise[pin])) / d, int(np.dot(o_rise, in_fall[pin])) / d,
                    int(np.dot(o_fall, in_rise[pin])) / d, int(np.dot(o_fall, in_fall[pin])) / d,
                )
    return ArcActivity(rates, waves.n)
