"""Gate-level, purely combinational Verilog read into a bit-level DAG.

:func:`read_netlist` parses a file with pyverilog, elaborates the top module down to single
bits and returns a :class:`Netlist` whose ``graph`` is a networkx DAG. Accepted: non-ANSI and
ANSI module headers, any port names, vectors with bit and part selects, ``assign`` with
``& | ^ ~`` (and ``~& ~| ~^``, reductions, ``?:``, word-level ``+`` and ``-``), parentheses,
sized constants, concatenation and replication on either side of ``=``, gate primitives
(``and or xor nand nor xnor not buf``), instances of modules defined in the same file (their
bodies are read; a cell's name is never trusted) and of standard cells that the file does not
define, whose functions come from a liberty file (:mod:`rtlgen.netlist.liberty`).

Rejected with a :class:`~rtlgen.errors.NetlistError` that names file and line: syntax errors,
unknown modules or cells, combinational loops, undriven or multiply-driven nets, width
mismatches (a right-hand side wider than its target, a port connection of the wrong width),
missing or extra ports, and sequential logic (``always``/``initial`` blocks, ``reg``, flip-flop
or latch cells).

Graph encoding (what :mod:`rtlgen.netlist.evaluate` compiles): node ids are integers. Node 0 is the
constant 0 and node 1 the constant 1. Every node has an ``op`` attribute: ``const``, ``input``
(attribute ``bit`` = (port, index)), ``net`` (a named wire bit: a buffer of its single driver,
attribute ``name`` like ``N[5]`` or ``u1/x``), ``not``, ``and``, ``or``, ``xor``. Edges run from
operands to the node they feed; ``operands`` lists them in order.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from rtlgen.errors import NetlistError
from rtlgen.netlist.liberty import CellLibrary

__all__ = ["Netlist", "read_netlist", "parse_netlist_text"]

_PRIMITIVES = {"and", "or", "xor", "nand", "nor", "xnor", "not", "buf"}


@dataclass(eq=False)
class Netlist:
    """A combinational circuit elaborated to bits.

    ``inputs`` and ``outputs`` map port names to widths (in header order). ``output_nodes[port]``
    lists the graph nodes of the port's bits, least significant first; ``input_nodes`` likewise.
    ``net_nodes`` maps each named net bit (``"N[5]"``, ``"u1/x"``) to its node.
    """

    name: str
    file: str
    inputs: dict[str, int]
    outputs: dict[str, int]
    graph: nx.DiGraph
    input_nodes: dict[str, list[int]]
    output_nodes: dict[str, list[int]]
    net_nodes: dict[str, int]
    cell_counts: dict[str, int] = field(default_factory=dict)
    source_sha256: str = ""

    @property
    def gate_count(self) -> int:
        return sum(1 for _, op in self.graph.nodes(data="op") if op in ("not", "and", "or", "xor"))


# --------------------------------------------------------------------------------------------
# parsing

@functools.lru_cache(maxsize=1)
def _parser():
    import gc
    import warnings

    with warnings.catch_warnings():
        # pyverilog reads its VERSION file without closing it; collect the handle here, quietly
        warnings.simplefilter("ignore", ResourceWarning)
        import pyverilog.vparser
        from pyverilog.vparser.parser import VerilogParser

        gc.collect()

    # outputdir = the package folder: PLY finds its cached tables there instead of rebuilding.
    return VerilogParser(outputdir=os.path.dirname(pyverilog.vparser.__file__), debug=False)


_PARSE_ERR = re.compile(r"line:(\d+):\s*before:\s*(.*)")


def _parse(text: str, file: str):
    import warnings

    if not re.search(r"\bmodule\b", re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)):
        raise NetlistError("no module definition found", file=file)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser = _parser()
            parser.lexer.reset_lineno()  # PLY keeps counting lines across parses otherwise
            return parser.parse(text)
    except Exception as exc:  # pyverilog raises ParseError and lexer errors of its own
        msg = str(exc)
        m = _PARSE_ERR.search(msg)
        if m:
            token = m.group(2).strip().strip('"')
            raise NetlistError(f"syntax error before {token!r}", file=file, line=int(m.group(1))) from None
        raise NetlistError(f"syntax error: {msg}", file=file) from None


# --------------------------------------------------------------------------------------------
# elaboration

class _Builder:
    """Creates graph nodes with structural sharing of identical gates."""

    def __init__(self, file: str):
        self.file = file
        self.g = nx.DiGraph()
        self.g.add_node(0, op="const", operands=())
        self.g.add_node(1, op="const", operands=())
        self._next = 2
        self._cache: dict[tuple, int] = {}
        self.net_driver_line: dict[int, int] = {}
        self.net_use_line: dict[int, int] = {}

    def node(self, op: str, *operands: int, **attrs) -> int:
        nid = self._next
        self._next += 1
        self.g.add_node(nid, op=op, operands=tuple(operands), **attrs)
        for o in operands:
            self.g.add_edge(o, nid)
        return nid

    def gate(self, op: str, *xs: int) -> int:
        if op == "not":
            (x,) = xs
            if x in (0, 1):
                return 1 - x
            if self.g.nodes[x]["op"] == "not":
                return self.g.nodes[x]["operands"][0]
        elif op in ("and", "or", "xor") and len(xs) > 2:
            acc = xs[0]
            for x in xs[1:]:
                acc = self.gate(op, acc, x)
            return acc
        elif op == "and":
            a, b = xs
            if 0 in xs:
                return 0
            if a == 1:
                return b
            if b == 1 or a == b:
                return a
        elif op == "or":
            a, b = xs
            if 1 in xs:
                return 1
            if a == 0:
                return b
            if b == 0 or a == b:
                return a
        elif op == "xor":
            a, b = xs
            if a == 0:
                return b
            if b == 0:
                return a
            if a == b:
                return 0
            if a == 1:
                return self.gate("not", b)
            if b == 1:
                return self.gate("not", a)
        key = (op,) + (tuple(sorted(xs)) if op != "not" else xs)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self.node(op, *xs)
        return hit

    def drive(self, net: int, src: int, line: int, name: str) -> None:
        attrs = self.g.nodes[net]
        if attrs["op"] == "input":
            raise NetlistError(f"input port bit {name} is driven inside the module", file=self.file, line=line)
        if attrs["operands"]:
            raise NetlistError(
                f"net {name} has more than one driver (first driven at line {self.net_driver_line[net]})",
                file=self.file, line=line)
        attrs["operands"] = (src,)
        self.g.add_edge(src, net)
        self.net_driver_line[net] = line


@dataclass
class _Signal:
    msb: int
    lsb: int
    nodes: dict[int, int]  # verilog index -> node
    kind: str  # input / output / wire
    line: int

    @property
    def width(self) -> int:
        return abs(self.msb - self.lsb) + 1

    def indices(self) -> list[int]:
        """Verilog indices, least significant first."""
        step = 1 if self.msb >= self.lsb else -1
        return list(range(self.lsb, self.msb + step, step))


def _line(node) -> int:
    return getattr(node, "lineno", 0) or 0


class _ModuleElaborator:
    def __init__(self, top: "_Design", mod, prefix: str, builder: _Builder, depth: int = 0):
        self.design = top
        self.mod = mod
        self.prefix = prefix
        self.b = builder
        self.file = builder.file
        self.depth = depth
        self.signals: dict[str, _Signal] = {}
        self.port_order: list[str] = []
        # where each name got its direction and its net type, for redeclaration checks
        self.direction_lines: dict[str, int] = {}
        self.net_lines: dict[str, int] = {}
        self.ansi_ports: set[str] = set()

    # ---- helpers -----------------------------------------------------------------------
    def err(self, msg: str, node=None, line: int | None = None) -> NetlistError:
        return NetlistError(f"module {self.mod.name}: {msg}", file=self.file,
                            line=line if line is not None else (_line(node) if node is not None else None))

    def const_int(self, node) -> int:
        from pyverilog.vparser import ast

        if isinstance(node, ast.IntConst):
            return _int_value(node.value, self, node)[0]
        if isinstance(node, ast.Minus) and False:
            pass
        raise self.err("expected a constant integer (parameters and expressions in ranges are not supported)", node)

    def width_range(self, width) -> tuple[int, int]:
        if width is None:
            return 0, 0
        return self.const_int(width.msb), self.const_int(width.lsb)

    def declare(self, name: str, kind: str, width, line: int, bits: list[int] | None = None) -> None:
        msb, lsb = self.width_range(width)
        existing = self.signals.get(name)
        if existing is not None:
            if (existing.msb, existing.lsb) != (msb, lsb):  # IEEE 1364-2001 12.3.3: identical ranges
                raise self.err(f"{name} declared as [{existing.msb}:{existing.lsb}] at line "
                               f"{existing.line} and as [{msb}:{lsb}]", line=line)
            if kind in ("input", "output"):
                existing.kind = kind
            return
        sig = _Signal(msb, lsb, {}, kind, line)
        for k, idx in enumerate(sig.indices()):
            label = self.prefix + (name if sig.width == 1 and width is None else f"{name}[{idx}]")
            if bits is not None:
                sig.nodes[idx] = bits[k]
            else:
                sig.nodes[idx] = self.b.node("net", name=label)
        self.signals[name] = sig

    # ---- declarations -------------------------------------------------------------------
    def note_declaration(self, name: str, kind: str, line: int, *, ansi: bool = False) -> None:
        """Reject a name declared twice, by the rules of IEEE 1364-2001 section 12.3.

        A name has at most one direction (``input``/``output``) and at most one net declaration.
        A non-ANSI port (``module m(A, O); input [7:0] A;``) has no net type yet, so one
        ``wire [7:0] A;`` may follow (12.3.3; Yosys writes every port so); the ranges must be
        identical (checked by :meth:`declare`). A port declared in an ANSI header is complete
        and cannot be declared again (12.3.4); ``output wire [15:0] O;`` declares the direction
        and the net at once (pyverilog lists an Output and a Wire on one line).
        """
        if name in self.ansi_ports:
            raise self.err(f"{kind} {name} redeclares port {name}, declared completely in the ANSI module "
                           f"header at line {self.direction_lines[name]}", line=line)
        if kind in ("input", "output"):
            if name in self.direction_lines:
                raise self.err(f"port {name} is declared twice (first at line {self.direction_lines[name]})",
                               line=line)
            self.direction_lines[name] = line
            if ansi:
                self.ansi_ports.add(name)
                self.net_lines[name] = line
        else:
            if name in self.net_lines:
                raise self.err(f"{kind} {name} is declared twice (first at line {self.net_lines[name]})",
                               line=line)
            self.net_lines[name] = line

    def collect_declarations(self) -> None:
        from pyverilog.vparser import ast

        mod = self.mod
        for port in mod.portlist.ports:
            if isinstance(port, ast.Ioport):
                first = port.first
                kind = _io_kind(first)
                if kind is None:
                    raise self.err(f"port {first.name} has unsupported direction {type(first).__name__}", port)
                if port.second is not None and isinstance(port.second, ast.Reg):
                    raise self.err(f"port {first.name} is a reg: sequential logic is not supported", port)
                self.note_declaration(first.name, kind, _line(port), ansi=True)
                self.declare(first.name, kind, first.width, _line(port))
                self.port_order.append(first.name)
            elif isinstance(port, ast.Port):
                self.port_order.append(port.name)
            else:
                raise self.err(f"unsupported port declaration {type(port).__name__}", port)
        for item in mod.items:
            if isinstance(item, ast.Decl):
                for d in item.list:
                    kind = _io_kind(d)
                    if kind is not None:
                        self.note_declaration(d.name, kind, _line(d))
                        self.declare(d.name, kind, d.width, _line(d))
                    elif isinstance(d, (ast.Wire, ast.Supply)):
                        self.note_declaration(d.name, "wire", _line(d))
                        self.declare(d.name, "wire", d.width, _line(d))
                    elif isinstance(d, ast.Reg):
                        raise self.err(f"reg {d.name}: sequential logic is not supported "
                                       "(expected a purely combinational gate-level netlist)", d)
                    elif isinstance(d, (ast.Parameter, ast.Localparam)):
                        raise self.err(f"parameter {d.name}: parameters are not supported in gate-level netlists", d)
                    else:
                        raise self.err(f"unsupported declaration {type(d).__name__}", d)
        for name in self.port_order:
            sig = self.signals.get(name)
            if sig is None or sig.kind not in ("input", "output"):
                raise self.err(f"port {name} is listed in the header but has no input/output declaration")
        for name, sig in self.signals.items():
            if sig.kind in ("input", "output") and name not in self.port_order:
                raise self.err(f"{sig.kind} {name} is declared but not listed in the module header", line=sig.line)

    # ---- expressions: each returns a list of nodes, least significant bit first -----------
    def self_width(self, e) -> int:
        from pyverilog.vparser import ast

        if isinstance(e, ast.IntConst):
            return _int_value(e.value, self, e)[1]
        if isinstance(e, ast.Identifier):
            return self.signal(e).width
        if isinstance(e, ast.Pointer):
            return 1
        if isinstance(e, ast.Partselect):
            return abs(self.const_int(e.msb) - self.const_int(e.lsb)) + 1
        if isinstance(e, ast.Concat):
            return sum(self.self_width(x) for x in e.list)
        if isinstance(e, ast.Repeat):
            return self.const_int(e.times) * self.self_width(e.value)
        if isinstance(e, (ast.Uand, ast.Uor, ast.Uxor, ast.Unand, ast.Unor, ast.Uxnor, ast.Ulnot,
                          ast.Land, ast.Lor, ast.Eq, ast.NotEq, ast.Eql, ast.NotEql)):
            return 1
        if isinstance(e, ast.Unot) or isinstance(e, ast.Uplus):
            return self.self_width(e.right)
        if isinstance(e, (ast.And, ast.Or, ast.Xor, ast.Xnor, ast.Plus, ast.Minus)):
            return max(self.self_width(e.left), self.self_width(e.right))
        if isinstance(e, ast.Cond):
            return max(self.self_width(e.true_value), self.self_width(e.false_value))
        raise self.err(f"unsupported expression {type(e).__name__} (expected gate-level operators "
                       "& | ^ ~ + - ?: , concatenation, bit/part selects, constants)", e)

    def signal(self, ident) -> _Signal:
        sig = self.signals.get(ident.name)
        if sig is None:
            raise self.err(f"{ident.name} is not declared", ident)
        return sig

    def use(self, node: int, line: int) -> int:
        self.b.net_use_line.setdefault(node, line)
        return node

    def bit_of(self, sig: _Signal, idx: int, e) -> int:
        if idx not in sig.nodes:
            raise self.err(f"index {idx} is outside [{sig.msb}:{sig.lsb}]", e)
        return sig.nodes[idx]

    def select(self, e) -> list[int]:
        """Bits named by an identifier / bit select / part select (no operators)."""
        from pyverilog.vparser import ast

        if isinstance(e, ast.Identifier):
            sig = self.signal(e)
            return [sig.nodes[i] for i in sig.indices()]
        if isinstance(e, ast.Pointer):
            if not isinstance(e.var, ast.Identifier):
                raise self.err("bit select of an expression is not supported", e)
            sig = self.signal(e.var)
            return [self.bit_of(sig, self.const_int(e.ptr), e)]
        if isinstance(e, ast.Partselect):
            if not isinstance(e.var, ast.Identifier):
                raise self.err("part select of an expression is not supported", e)
            sig = self.signal(e.var)
            msb, lsb = self.const_int(e.msb), self.const_int(e.lsb)
            if (msb >= lsb) != (sig.msb >= sig.lsb) and msb != lsb:
                raise self.err(f"part select [{msb}:{lsb}] runs against the declared range "
                               f"[{sig.msb}:{sig.lsb}] of {e.var.name}", e)
            step = 1 if msb >= lsb else -1
            return [self.bit_of(sig, i, e) for i in range(lsb, msb + step, step)]
        raise self.err(f"expected a net, bit select or part select, not {type(e).__name__}", e)

    def expr(self, e, width: int) -> list[int]:
        """Elaborate ``e`` in a context of ``width`` bits (Verilog's rules for unsigned operands)."""
        from pyverilog.vparser import ast

        b = self.b
        line = _line(e)
        if isinstance(e, ast.IntConst):
            value, w = _int_value(e.value, self, e)
            return _extend([(value >> i) & 1 for i in range(w)], width)
        if isinstance(e, (ast.Identifier, ast.Pointer, ast.Partselect)):
            return _extend([self.use(n, line) for n in self.select(e)], width)
        if isinstance(e, ast.Concat):
            bits: list[int] = []
            for part in reversed(e.list):  # the first listed part is the most significant
                bits += self.expr(part, self.self_width(part))
            return _extend(bits, width)
        if isinstance(e, ast.Repeat):
            inner = self.expr(e.value, self.self_width(e.value))
            return _extend(inner * self.const_int(e.times), width)
        if isinstance(e, ast.Unot):
            return [b.gate("not", x) for x in self.expr(e.right, width)]
        if isinstance(e, ast.Uplus):
            return self.expr(e.right, width)
        if isinstance(e, (ast.And, ast.Or, ast.Xor, ast.Xnor)):
            left, right = self.expr(e.left, width), self.expr(e.right, width)
            op = {ast.And: "and", ast.Or: "or", ast.Xor: "xor", ast.Xnor: "xor"}[type(e)]
            out = [b.gate(op, x, y) for x, y in zip(left, right)]
            if isinstance(e, ast.Xnor):
                out = [b.gate("not", x) for x in out]
            return out
        if isinstance(e, (ast.Uand, ast.Uor, ast.Uxor, ast.Unand, ast.Unor, ast.Uxnor)):
            xs = self.expr(e.right, self.self_width(e.right))
            op = {ast.Uand: "and", ast.Unand: "and", ast.Uor: "or", ast.Unor: "or",
                  ast.Uxor: "xor", ast.Uxnor: "xor"}[type(e)]
            r = b.gate(op, *xs) if len(xs) > 1 else xs[0]
            if isinstance(e, (ast.Unand, ast.Unor, ast.Uxnor)):
                r = b.gate("not", r)
            return _extend([r], width)
        if isinstance(e, ast.Ulnot):
            xs = self.expr(e.right, self.self_width(e.right))
            r = b.gate("or", *xs) if len(xs) > 1 else xs[0]
            return _extend([b.gate("not", r)], width)
        if isinstance(e, (ast.Plus, ast.Minus)):
            left, right = self.expr(e.left, width), self.expr(e.right, width)
            if isinstance(e, ast.Minus):  # a - b = a + ~b + 1
                right = [b.gate("not", x) for x in right]
                carry = 1
            else:
                carry = 0
            out = []
            for x, y in zip(left, right):
                s = b.gate("xor", x, y)
                out.append(b.gate("xor", s, carry))
                carry = b.gate("or", b.gate("and", x, y), b.gate("and", s, carry))
            return out
        if isinstance(e, ast.Cond):
            cs = self.expr(e.cond, self.self_width(e.cond))
            c = b.gate("or", *cs) if len(cs) > 1 else cs[0]
            t, f = self.expr(e.true_value, width), self.expr(e.false_value, width)
            nc = b.gate("not", c)
            return [b.gate("or", b.gate("and", c, x), b.gate("and", nc, y)) for x, y in zip(t, f)]
        raise self.err(f"unsupported expression {type(e).__name__} (expected gate-level operators "
                       "& | ^ ~ + - ?: , concatenation, bit/part selects, constants)", e)

    def lvalue_bits(self, e) -> list[int]:
        """Net nodes of an assignment target, least significant first."""
        from pyverilog.vparser import ast

        if isinstance(e, ast.Lvalue):
            e = e.var
        if isinstance(e, (ast.Concat, ast.LConcat)):
            bits: list[int] = []
            for part in reversed(e.list):
                bits += self.lvalue_bits(part)
            return bits
        return self.select(e)

    def assign(self, lhs_bits: list[int], rhs, line: int, what: str) -> None:
        w = len(lhs_bits)
        sw = self.self_width(rhs)
        if sw > w and not _fits_unsized(rhs, w, self):
            raise self.err(f"{what}: right-hand side is {sw} bits wide, wider than its {w}-bit target", line=line)
        values = self.expr(rhs, max(w, sw))[:w]
        for net, src in zip(lhs_bits, values):
            self.b.drive(net, src, line, self.b.g.nodes[net].get("name", "?"))

    # ---- body -------------------------------------------------------------------------
    def elaborate_body(self) -> None:
        from pyverilog.vparser import ast

        for item in self.mod.items:
            if isinstance(item, ast.Decl):
                continue
            if isinstance(item, ast.Assign):
                lhs = self.lvalue_bits(item.left)
                self.assign(lhs, item.right.var, _line(item), "assign")
            elif isinstance(item, ast.InstanceList):
                for inst in item.instances:
                    self.instance(inst)
            elif isinstance(item, (ast.Always, ast.AlwaysFF, ast.AlwaysLatch, ast.AlwaysComb, ast.Initial)):
                raise self.err(f"{type(item).__name__.lower()} block: sequential or behavioural logic is "
                               "not supported (expected a purely combinational gate-level netlist)", item)
            else:
                raise self.err(f"unsupported module item {type(item).__name__}", item)

    def instance(self, inst) -> None:
        line = _line(inst)
        mname = inst.module
        if inst.parameterlist:
            raise self.err(f"instance {inst.name} of {mname}: parameter overrides are not supported", line=line)
        if mname in _PRIMITIVES:
            return self.primitive(inst, line)
        sub = self.design.modules.get(mname)
        if sub is not None:
            return self.submodule(inst, sub, line)
        lib = self.design.library()
        cell = lib.cells.get(mname)
        if cell is not None and not cell.combinational:
            raise self.err(f"instance {inst.name}: cell {mname} is sequential or tri-state; only "
                           "combinational logic is supported", line=line)
        if cell is None:
            raise self.err(f"instance {inst.name}: unknown module or cell {mname} (not defined in this file "
                           f"and not a cell of {lib.path.name})", line=line)
        conns = self.named_connections(inst, list(cell.inputs) + list(cell.outputs), line)
        pins: dict[str, int] = {}
        for pin in cell.inputs:
            if pin not in conns:
                raise self.err(f"instance {inst.name} of cell {mname}: input pin {pin} is not connected", line=line)
            pins[pin] = self.connect_input(conns[pin], 1, inst, pin, mname)[0]
        for pin, fn in cell.functions.items():
            if pin in conns and conns[pin] is not None:
                targets = self.connect_output(conns[pin], 1, inst, pin, mname)
                self.b.drive(targets[0], self.cell_function(fn, pins), line,
                             self.b.g.nodes[targets[0]].get("name", "?"))

    def cell_function(self, fn, pins: dict[str, int]) -> int:
        op = fn[0]
        if op == "const":
            return fn[1]
        if op == "pin":
            return pins[fn[1]]
        args = [self.cell_function(x, pins) for x in fn[1:]]
        return self.b.gate(op, *args)

    def named_connections(self, inst, valid: list[str], line: int) -> dict:
        conns = {}
        for arg in inst.portlist:
            if arg.portname is None:
                raise self.err(f"instance {inst.name} of {inst.module}: positional connections are not "
                               "supported for cells; bind ports by name (.A(x))", line=line)
            if arg.portname not in valid:
                raise self.err(f"instance {inst.name} of {inst.module}: no port named {arg.portname} "
                               f"(ports: {', '.join(valid)})", line=line)
            if arg.portname in conns:
                raise self.err(f"instance {inst.name}: port {arg.portname} connected twice", line=line)
            conns[arg.portname] = arg.argname
        return conns

    def connect_input(self, expr, width: int, inst, port: str, mname: str) -> list[int]:
        line = _line(inst)
        if expr is None:
            raise self.err(f"instance {inst.name} of {mname}: input {port} is left unconnected", line=line)
        sw = self.self_width(expr)
        if sw != width and not _fits_unsized(expr, width, self):
            raise self.err(f"instance {inst.name} of {mname}: port {port} is {width} bits wide, "
                           f"connected to a {sw}-bit expression", line=line)
        return self.expr(expr, width)

    def connect_output(self, expr, width: int, inst, port: str, mname: str) -> list[int]:
        bits = self.lvalue_bits(expr)
        if len(bits) != width:
            raise self.err(f"instance {inst.name} of {mname}: port {port} is {width} bits wide, "
                           f"connected to {len(bits)} bits", line=_line(inst))
        return bits

    def primitive(self, inst, line: int) -> None:
        args = [a.argname for a in inst.portlist]
        if any(a.portname is not None for a in inst.portlist) or len(args) < 2:
            raise self.err(f"gate {inst.module} {inst.name}: expected positional (output, inputs...)", line=line)
        out, ins = args[0], [self.connect_input(a, 1, inst, f"input {k + 1}", inst.module)[0]
                             for k, a in enumerate(args[1:])]
        m = inst.module
        if m in ("not", "buf"):
            if len(ins) != 1:
                raise self.err(f"gate {m} {inst.name}: expected one input", line=line)
            v = self.b.gate("not", ins[0]) if m == "not" else ins[0]
        else:
            base = m[1:] if m in ("nand", "nor", "xnor") else m
            v = self.b.gate(base, *ins) if len(ins) > 1 else ins[0]
            if m in ("nand", "nor", "xnor"):
                v = self.b.gate("not", v)
        target = self.connect_output(out, 1, inst, "output", m)[0]
        self.b.drive(target, v, line, self.b.g.nodes[target].get("name", "?"))

    def submodule(self, inst, sub, line: int) -> None:
        if self.depth > 32:
            raise self.err(f"instance {inst.name}: module hierarchy deeper than 32 (recursive instantiation?)",
                           line=line)
        child = _ModuleElaborator(self.design, sub, f"{self.prefix}{inst.name}/", self.b, self.depth + 1)
        child.collect_declarations()
        ports = child.port_order
        conns: dict[str, object] = {}
        if inst.portlist and all(a.portname is None for a in inst.portlist):
            if len(inst.portlist) != len(ports):
                raise self.err(f"instance {inst.name} of {sub.name}: {len(inst.portlist)} positional "
                               f"connections for {len(ports)} ports", line=line)
            conns = {p: a.argname for p, a in zip(ports, inst.portlist)}
        else:
            conns = self.named_connections(inst, ports, line)
        for p in ports:
            sig = child.signals[p]
            if p not in conns:
                if sig.kind == "input":
                    raise self.err(f"instance {inst.name} of {sub.name}: input port {p} is not connected", line=line)
                continue
            if sig.kind == "input":
                bits = self.connect_input(conns[p], sig.width, inst, p, sub.name)
                for net, src in zip([sig.nodes[i] for i in sig.indices()], bits):
                    self.b.drive(net, src, line, self.b.g.nodes[net]["name"])
        child.elaborate_body()
        for p in ports:
            sig = child.signals[p]
            if sig.kind == "output" and conns.get(p) is not None:
                targets = self.connect_output(conns[p], sig.width, inst, p, sub.name)
                for net, src in zip(targets, [sig.nodes[i] for i in sig.indices()]):
                    self.b.drive(net, src, line, self.b.g.nodes[net].get("name", "?"))


def _io_kind(d) -> str | None:
    from pyverilog.vparser import ast

    if isinstance(d, ast.Input):
        return "input"
    if isinstance(d, ast.Output):
        return "output"
    if isinstance(d, ast.Inout):
        return "inout-unsupported"
    return None


def _extend(bits: list[int], width: int) -> list[int]:
    """Zero-extend or truncate to ``width`` bits (operands are unsigned in these netlists)."""
    return (bits + [0] * width)[:width]


_SIZED = re.compile(r"^\s*(\d*)\s*'\s*([sS]?)([bBoOdDhH])\s*([0-9a-fA-F_xXzZ?]+)\s*$")


def _int_value(text: str, elab: _ModuleElaborator, node) -> tuple[int, int]:
    """(value, width) of a Verilog integer literal; unsized literals are 32 bits wide."""
    m = _SIZED.match(text)
    if m:
        size, _signed, base, digits = m.groups()
        digits = digits.replace("_", "")
        if re.search(r"[xXzZ?]", digits):
            raise elab.err(f"constant {text} has x/z bits; only 0/1 constants are supported", node)
        value = int(digits, {"b": 2, "o": 8, "d": 10, "h": 16}[base.lower()])
        width = int(size) if size else 32
        if width == 0:
            raise elab.err(f"constant {text} has zero width", node)
        return value & ((1 << width) - 1), width
    if re.fullmatch(r"\d[\d_]*", text.strip()):
        return int(text.replace("_", "")), 32
    raise elab.err(f"unsupported constant {text!r}", node)


def _fits_unsized(e, width: int, elab: _ModuleElaborator) -> bool:
    """An unsized decimal constant (32 bits in Verilog) may drive a narrower target if it fits."""
    from pyverilog.vparser import ast

    if isinstance(e, ast.IntConst) and "'" not in e.value:
        return _int_value(e.value, elab, e)[0] < (1 << width)
    return False


@dataclass
class _Design:
    modules: dict
    file: str
    liberty: CellLibrary | str | os.PathLike | None
    _lib: CellLibrary | None = None

    def library(self) -> CellLibrary:
        if self._lib is None:
            from rtlgen.netlist.liberty import default_library, read_liberty

            if isinstance(self.liberty, CellLibrary):
                self._lib = self.liberty
            elif self.liberty is not None:
                self._lib = read_liberty(self.liberty)
            else:
                self._lib = default_library()
        return self._lib


def _instantiated(mod) -> set[str]:
    from pyverilog.vparser import ast

    return {inst.module for item in mod.items if isinstance(item, ast.InstanceList) for inst in item.instances}


def parse_netlist_text(text: str, *, file: str = "<string>", top: str | None = None,
                       liberty: CellLibrary | str | os.PathLike | None = None) -> Netlist:
    """Elaborate Verilog source text; see :func:`read_netlist`."""
    from pyverilog.vparser import ast

    source = _parse(text, file)
    modules: dict = {}
    for d in source.description.definitions:
        if not isinstance(d, ast.ModuleDef):
            raise NetlistError(f"unsupported top-level item {type(d).__name__}", file=file, line=_line(d))
        if d.name in modules:
            raise NetlistError(f"module {d.name} is defined twice (first at line {_line(modules[d.name])})",
                               file=file, line=_line(d))
        modules[d.name] = d
    if not modules:
        raise NetlistError("no module definition found", file=file)
    if top is None:
        used = set().union(*(_instantiated(m) for m in modules.values()))
        roots = [n for n in modules if n not in used]
        stem = Path(file).stem
        if len(roots) == 1:
            top = roots[0]
        elif stem in roots or stem.removesuffix("_pdk45") in roots:
            top = stem if stem in roots else stem.removesuffix("_pdk45")
        else:
            raise NetlistError(f"cannot tell the top module: {', '.join(roots) or 'every module is instantiated'} "
                               "(pass top=... / --top)", file=file)
    if top not in modules:
        raise NetlistError(f"top module {top} not found (modules: {', '.join(modules)})", file=file)

    design = _Design(modules, file, liberty)
    builder = _Builder(file)
    elab = _ModuleElaborator(design, modules[top], "", builder)
    elab.collect_declarations()
    inputs: dict[str, int] = {}
    outputs: dict[str, int] = {}
    input_nodes: dict[str, list[int]] = {}
    output_nodes: dict[str, list[int]] = {}
    for p in elab.port_order:
        sig = elab.signals[p]
        nodes = [sig.nodes[i] for i in sig.indices()]
        if sig.kind == "input":
            inputs[p] = sig.width
            for k, n in enumerate(nodes):
                builder.g.nodes[n]["op"] = "input"
                builder.g.nodes[n]["bit"] = (p, k)
            input_nodes[p] = nodes
        elif sig.kind == "output":
            outputs[p] = sig.width
            output_nodes[p] = nodes
        else:
            raise NetlistError(f"port {p} of {top} is bidirectional; only input and output ports are supported",
                               file=file, line=sig.line)
    elab.elaborate_body()
    g = builder.g

    # every net that is read, or is an output, needs exactly one driver
    out_set = {n for ns in output_nodes.values() for n in ns}
    for n, attrs in g.nodes(data=True):
        if attrs["op"] == "net" and not attrs["operands"] and (g.out_degree(n) > 0 or n in out_set):
            where = builder.net_use_line.get(n)
            what = "output bit" if n in out_set else "net"
            raise NetlistError(f"{what} {attrs['name']} is never driven" + (" but is read here" if where else ""),
                               file=file, line=where)
    cycle = None if nx.is_directed_acyclic_graph(g) else nx.find_cycle(g)
    if cycle:
        names = [g.nodes[u].get("name") for u, _ in cycle if g.nodes[u]["op"] == "net"]
        line = min((builder.net_driver_line.get(u, 0) for u, _ in cycle if u in builder.net_driver_line),
                   default=None)
        raise NetlistError("combinational loop through " + " -> ".join(names[:12])
                           + (" ..." if len(names) > 12 else ""), file=file, line=line or None)

    net_nodes = {attrs["name"]: n for n, attrs in g.nodes(data=True) if attrs["op"] == "net"}
    counts: dict[str, int] = {}
    _count_cells(modules[top], modules, counts)
    return Netlist(top, file, inputs, outputs, g, input_nodes, output_nodes, net_nodes, counts,
                   hashlib.sha256(text.encode()).hexdigest())


def _count_cells(mod, modules, counts: dict[str, int]) -> None:
    from pyverilog.vparser import ast

    for item in mod.items:
        if isinstance(item, ast.InstanceList):
            for inst in item.instances:
                counts[inst.module] = counts.get(inst.module, 0) + 1
        elif isinstance(item, ast.Assign):
            counts["assign"] = counts.get("assign", 0) + 1


def read_netlist(path: str | os.PathLike, *, top: str | None = None,
                 liberty: CellLibrary | str | os.PathLike | None = None) -> Netlist:
    """Read a gate-level combinational Verilog file into a :class:`Netlist`.

    ``top`` picks the module (default: the one module no other module instantiates, or the one
    named like the file). ``liberty`` gives the functions of cells the file does not define
    (default: :func:`rtlgen.netlist.liberty.default_library`, read only when such a cell appears).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise NetlistError("not a text file (cannot decode as UTF-8)", file=str(path)) from None
    return parse_netlist_text(text, file=str(path), top=top, liberty=liberty)
