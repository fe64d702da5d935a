"""Bit-parallel evaluation of a :class:`~rtlgen.netlist.reader.Netlist` with numpy.

Every node of the netlist graph becomes one row of ``uint64`` words; bit ``j`` of word ``w``
is the node's value for input vector ``64 * w + j``. One pass in topological order evaluates all
vectors at once: the 65,536 operand pairs of a truth table are 1,024 words per node.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from rtlgen.netlist.reader import Netlist
from rtlgen.netlist.table import output_bits_to_value

__all__ = ["Program", "compile_netlist", "simulate", "net_bits", "tabulate", "tabulate_raw"]

_OPS = {"not": 0, "and": 1, "or": 2, "xor": 3}


@dataclass(frozen=True)
class Program:
    """A netlist compiled to straight-line word operations.

    ``slot[node]`` is the row holding a node's value (net buffers share their driver's row);
    rows 0 and 1 hold the constants; ``steps`` are (opcode, dst, a, b) in evaluation order.
    """

    n_rows: int
    slot: dict[int, int]
    steps: tuple[tuple[int, int, int, int], ...]
    input_rows: dict[str, list[int]]
    output_rows: dict[str, list[int]]


def compile_netlist(netlist: Netlist) -> Program:
    cached = getattr(netlist, "_program", None)
    if cached is not None:
        return cached
    g = netlist.graph
    slot: dict[int, int] = {0: 0, 1: 1}
    steps = []
    rows = 2
    for n in nx.topological_sort(g):
        attrs = g.nodes[n]
        op = attrs["op"]
        if op == "const":
            continue
        if op == "input":
            slot[n] = rows
            rows += 1
        elif op == "net":
            ops = attrs["operands"]
            slot[n] = slot[ops[0]] if ops else 0  # undriven, unread nets are constant 0
        else:
            args = [slot[o] for o in attrs["operands"]]
            slot[n] = rows
            steps.append((_OPS[op], rows, args[0], args[1] if len(args) > 1 else 0))
            rows += 1
    program = Program(
        rows, slot, tuple(steps),
        {p: [slot[n] for n in ns] for p, ns in netlist.input_nodes.items()},
        {p: [slot[n] for n in ns] for p, ns in netlist.output_nodes.items()},
    )
    netlist._program = program  # type: ignore[attr-defined]
    return program


def _run(program: Program, inputs: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Evaluate all rows for ``n`` vectors; ``inputs[port]`` holds unsigned ints per vector."""
    words = (n + 63) // 64
    vals = np.zeros((program.n_rows, words), dtype=np.uint64)
    vals[1] = ~np.uint64(0)
    for port, rows in program.input_rows.items():
        if port not in inputs:
            raise ValueError(f"no values given for input port {port} (ports: {', '.join(program.input_rows)})")
        v = np.asarray(inputs[port], dtype=np.int64)
        if v.shape != (n,):
            raise ValueError(f"input port {port}: expected {n} values, got shape {v.shape}")
        if v.size and (v.min() < 0 or v.max() >= 1 << len(rows)):
            raise ValueError(f"input port {port} is {len(rows)} bits wide; values must lie in 0..{(1 << len(rows)) - 1}")
        for k, r in enumerate(rows):
            bits = ((v >> k) & 1).astype(np.uint8)
            vals[r] = np.packbits(np.pad(bits, (0, words * 64 - n)), bitorder="little").view(np.uint64)
    unknown = set(inputs) - set(program.input_rows)
    if unknown:
        raise ValueError(f"unknown input ports {sorted(unknown)} (ports: {', '.join(program.input_rows)})")
    band, bor, bxor, bnot = np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert
    for op, dst, a, b in program.steps:
        if op == 1:
            band(vals[a], vals[b], out=vals[dst])
        elif op == 3:
            bxor(vals[a], vals[b], out=vals[dst])
        elif op == 2:
            bor(vals[a], vals[b], out=vals[dst])
        else:
            bnot(vals[a], out=vals[dst])
    return vals


def _unpack(vals: np.ndarray, rows: list[int], n: int) -> np.ndarray:
    """Bits of the given rows as a (len(rows), n) uint8 array."""
    sel = np.ascontiguousarray(vals[rows])
    return np.unpackbits(sel.view(np.uint8), axis=1, bitorder="little")[:, :n]


def simulate(netlist: Netlist, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs (unsigned ints, int64) for vectors of input values given per port."""
    program = compile_netlist(netlist)
    n = len(next(iter(inputs.values()))) if inputs else 1
    vals = _run(program, inputs, n)
    out = {}
    for port, rows in program.output_rows.items():
        bits = _unpack(vals, rows, n).astype(np.int64)
        out[port] = (bits << np.arange(len(rows), dtype=np.int64)[:, None]).sum(axis=0)
    return out


def net_bits(netlist: Netlist, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Value (bool per vector) of every named net bit and port bit, e.g. for switching activity."""
    program = compile_netlist(netlist)
    n = len(next(iter(inputs.values())))
    vals = _run(program, inputs, n)
    names: list[str] = []
    rows: list[int] = []
    for name, node in netlist.net_nodes.items():
        names.append(name)
        rows.append(program.slot.get(node, 0))
    for port, ns in list(netlist.input_nodes.items()) + list(netlist.output_nodes.items()):
        for k, node in enumerate(ns):
            label = f"{port}[{k}]" if len(ns) > 1 else port
            if label not in netlist.net_nodes:
                names.append(label)
                rows.append(program.slot.get(node, 0))
    bits = _unpack(vals, rows, n).astype(bool)
    return dict(zip(names, bits))


def _multiplier_ports(netlist: Netlist) -> str:
    """Check the 8x8 multiplier interface; return the name of the 16-bit output port."""
    from rtlgen.errors import NetlistError

    ins, outs = netlist.inputs, netlist.outputs
    if set(ins) != {"A", "B"}:
        raise NetlistError(f"module {netlist.name}: a multiplier needs input ports A and B, found "
                           f"{', '.join(ins) or 'none'}", file=netlist.file)
    for p in ("A", "B"):
        if ins[p] != 8:
            raise NetlistError(f"module {netlist.name}: port {p} must be 8 bits wide, not {ins[p]}", file=netlist.file)
    if len(outs) != 1:
        raise NetlistError(f"module {netlist.name}: a multiplier needs exactly one output port, found "
                           f"{', '.join(outs) or 'none'}", file=netlist.file)
    (oname, width), = outs.items()
    if width != 16:
        raise NetlistError(f"module {netlist.name}: output {oname} must be 16 bits wide, not {width}",
                           file=netlist.file)
    return oname


def tabulate_raw(netlist: Netlist) -> np.ndarray:
    """Raw 16-bit output patterns, int32 (256, 256), indexed ``[a, b]`` (see :mod:`rtlgen.netlist.table`)."""
    oname = _multiplier_ports(netlist)
    idx = np.arange(1 << 16, dtype=np.int64)
    out = simulate(netlist, {"A": idx >> 8, "B": idx & 0xFF})[oname]
    return out.reshape(256, 256).astype(np.int32)


def tabulate(netlist: Netlist, signed: bool) -> np.ndarray:
    """The truth table ``T[a, b]`` of an 8x8 multiplier netlist (ports bound by name: A, B)."""
    return output_bits_to_value(tabulate_raw(netlist), signed)
