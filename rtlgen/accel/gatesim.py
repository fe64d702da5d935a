"""The mapped accelerator simulated at gate level in Icarus, every net's value per clock cycle.

:func:`write_gate_netlist` writes a :class:`rtlgen.cost.synth.MappedNetlist` (liberty cells only) as
one flat Verilog module with the top's ports: every net is a scalar ``n<ID>`` (Yosys' bit id),
every combinational cell a continuous assignment of its liberty ``function``, every flip-flop an
instance of one small flop module (``rtlgen_gate_dff``, written after the top) driven by its
liberty ``ff`` group's clock, next-state, clear and preset expressions. Flip-flops are two-state, as in Verilator: 0 at
time zero, and an X or Z on the data input (ports not yet driven before the reset) is stored as
0. A memory's power-up contents are undefined in silicon; zero is what Amaranth's simulator and
Verilator give, and it keeps every net defined, which the activity needs. The logic is the liberty's, the same the cost flow evaluates; no cell names are
trusted. With the plusarg ``+rtlgen_vcd=FILE`` the module dumps its own nets (``$dumpvars``
depth 1) to a VCD.

:class:`GateLevelAccel` runs layer jobs on that netlist with the accelerator's cocotb testbench
(``sim/accel_tb.py``, Icarus through :mod:`rtlgen.sim.runner`, vvp writing VCD), reads back the outputs like
:class:`rtlgen.accel.rtlsim.VerilatorAccel`, and samples the VCD (:func:`read_cycles`): the
value of every net just before each rising clock edge, i.e. its settled zero-delay value in
each cycle, for the cycles of each layer run (``busy`` high, plus the cycle before and after,
so that the transitions into and out of the run count).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtlgen.errors import NetlistError, ToolError
from rtlgen.sim import runner
from rtlgen.sim.simulators import IcarusBackend
from rtlgen.cost.synth import MappedNetlist
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.generate import TOP_MODULE
from rtlgen.accel.job import ConvJob
from rtlgen.accel.rtlsim import TEST_MODULE, JobResult, jobs_payload, read_results

__all__ = ["GateLevelAccel", "RunWaves", "write_gate_netlist", "read_cycles"]

VCD_PLUSARG = "rtlgen_vcd"


def _expr(node, pins: dict[str, str]) -> str:
    op = node[0]
    if op == "pin":
        return pins[node[1]]
    if op == "const":
        return f"1'b{int(node[1])}"
    if op == "not":
        return f"~({_expr(node[1], pins)})"
    sym = {"and": " & ", "or": " | ", "xor": " ^ "}[op]
    return "(" + sym.join(_expr(x, pins) for x in node[1:]) + ")"


def _net(bit) -> str:
    if isinstance(bit, int):
        return f"n{bit}"
    return "1'b1" if bit == "1" else "1'b0"   # 'x'/'z' tied low, as rtlgen.cost.activity does


#: Every flip-flop is an instance of this module, not an ``always`` block in the top: Icarus's code
#: generator looks up each signal that procedural code names by a linear search of the signals of
#: its scope, so 8,000 ``always`` blocks beside 40,000 nets took 130 s to compile; inside a module
#: of five signals the lookups are free (6 s). Clear, then preset, then the clock, as the
#: liberty ``ff`` group orders them; a constant 0 clear/preset never fires.
_FLOP = "rtlgen_gate_dff"
_FLOP_MODULE = (
    f"module {_FLOP}(input clk, input d, input clear, input preset, output reg q);",
    # An initial block, not a declaration initializer: Icarus does not propagate the latter
    # through continuous assignments until the register first changes.
    "  initial q = 1'b0;",
    "  always @(posedge clk or posedge clear or posedge preset)",
    "    if (clear) q <= 1'b0; else if (preset) q <= 1'b1; else q <= d === 1'b1;",
    "endmodule",
    "",
)


def write_gate_netlist(mapped: MappedNetlist, path: str | os.PathLike) -> Path:
    """Write the flat simulation Verilog (see the module docstring); return its path."""
    lib = mapped.library
    mod = mapped.module
    ports = mapped.ports
    nets: set[int] = set()
    body: list[str] = []
    for name, (direction, bits) in ports.items():
        for i, b in enumerate(bits):
            ref = f"{name}[{i}]" if len(bits) > 1 else name
            if direction == "input":
                if isinstance(b, int):
                    nets.add(b)
                    body.append(f"  assign n{b} = {ref};")
            else:
                body.append(f"  assign {ref} = {_net(b)};")
    flops = 0
    for k, (cname, c) in enumerate(mod["cells"].items()):
        cell = lib.cell(c["type"])
        conn = {p: bits[0] for p, bits in c["connections"].items()}
        for b in conn.values():
            if isinstance(b, int):
                nets.add(b)
        pins = {p: _net(b) for p, b in conn.items()}
        if cell.ff is not None:
            ff = cell.ff
            flops += 1
            clock = pins[ff.clocked_on]
            clock = f"~({clock})" if ff.falling else clock   # two-state: posedge of ~clk = negedge
            clear = _expr(ff.clear, pins) if ff.clear is not None else "1'b0"
            preset = _expr(ff.preset, pins) if ff.preset is not None else "1'b0"
            body.append(f"  wire q{k};")
            body.append(f"  {_FLOP} f{k}({clock}, {_expr(ff.next_state, pins)}, {clear}, {preset}, q{k});")
            for pin, true_state in (cell.ff_outputs or {}).items():
                if isinstance(conn.get(pin), int):
                    body.append(f"  assign n{conn[pin]} = {'' if true_state else '~'}q{k};")
        elif cell.combinational:
            for pin, func in cell.functions.items():
                if isinstance(conn.get(pin), int):
                    body.append(f"  assign n{conn[pin]} = {_expr(func, pins)};")
        else:
            raise NetlistError(f"cell {cname} ({c['type']}) is neither combinational nor a "
                               f"flip-flop; it cannot be simulated", file=str(mapped.source))
    decl = []
    for name, (direction, bits) in ports.items():
        width = f"[{len(bits) - 1}:0] " if len(bits) > 1 else ""
        decl.append(f"  {direction} wire {width}{name};")
    text = [
        "// Generated by rtlgen.accel.gatesim from the mapped netlist; do not edit.",
        "`timescale 1ns/1ps",
        f"module {mapped.top}({', '.join(ports)});",
        *decl,
        *(f"  wire n{b};" for b in sorted(nets)),
        *body,
        "  reg [8*1024-1:0] vcd_file;",
        f'  initial if ($value$plusargs("{VCD_PLUSARG}=%s", vcd_file)) begin',
        f"    $dumpfile(vcd_file); $dumpvars(1, {mapped.top});",
        "  end",
        "endmodule",
        "",
        *(_FLOP_MODULE if flops else ()),
    ]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    return out


@dataclass(frozen=True)
class RunWaves:
    """Settled value of every net in ``cycles`` consecutive cycles of one layer run:
    ``values[net]`` boolean arrays of that length (cycle 0 = the one before ``busy`` rose), the
    value just before each rising clock edge; ``high[net]``, for the nets asked for, the value
    while the clock is high in the same cycles (just before the falling edge that follows each of
    those rising edges: a gated clock is high there in the cycles it pulses)."""

    values: dict[int, np.ndarray]
    cycles: int
    high: dict[int, np.ndarray] = field(default_factory=dict)


_VAR = re.compile(r"\$var\s+\S+\s+1\s+(\S+)\s+n(\d+)\s")


def _code_keys(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each identifier code ``buf[starts[i]:ends[i]]`` (1..8 printable bytes) packed into one
    integer, so that codes can be sorted and matched as numbers."""
    lengths = ends - starts
    if len(lengths) and (lengths.min() < 1 or lengths.max() > 8):
        raise ToolError(f"a VCD identifier code of {int(lengths.max())} bytes (1..8 expected)")
    keys = np.zeros(len(starts), dtype=np.int64)
    for j in range(int(lengths.max()) if len(lengths) else 0):
        byte = np.where(j < lengths, buf[np.minimum(starts + j, len(buf) - 1)], 0)
        keys = keys * 256 + byte
    return keys


def read_cycles(vcd: str | os.PathLike, clock_net: int, busy_net: int, high_nets=()) -> list[RunWaves]:
    """Per layer run (each maximal stretch of cycles with ``busy`` high), every net's value
    just before each rising edge of ``clock_net``, from one cycle before the stretch to one
    after, and the value of each of ``high_nets`` just before the falling edge that follows each
    of those rising edges (:attr:`RunWaves.high`). X or Z in a sampled value raises: the netlist
    is written so that none occurs.

    The value changes are read as arrays (a power run's VCD has millions of lines): each scalar
    change ``<value><code>`` gets the time of the last ``#t`` line before it; the changes are
    grouped by net, and a net's value just before time ``t`` is its last change before ``t``."""
    data = Path(vcd).read_bytes()
    end_defs = data.find(b"$enddefinitions")
    if end_defs < 0:
        raise ToolError(f"the VCD {vcd} has no $enddefinitions")
    codes: dict[str, int] = {}
    for line in data[:end_defs].decode("ascii", "replace").splitlines():
        m = _VAR.search(line)
        if m:
            codes[m.group(1)] = int(m.group(2))
    body_at = data.find(b"\n", end_defs) + 1
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf[body_at:] == 10) + body_at
    starts = np.concatenate(([body_at], nl + 1))
    ends = np.concatenate((nl, [len(buf)]))
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    first = buf[np.minimum(starts, len(buf) - 1)]
    is_time = first == ord("#")
    time_lines = np.flatnonzero(is_time)
    stamps = np.array([int(data[starts[i] + 1:ends[i]]) for i in time_lines], dtype=np.int64)
    # time of each line: the last #t line at or before it (0 before the first, as in the file)
    last_time = np.maximum.accumulate(np.where(is_time, np.arange(len(starts)), -1))
    line_time = np.where(last_time >= 0, np.concatenate((stamps, [0]))[
        np.searchsorted(time_lines, np.maximum(last_time, 0))], 0)
    # scalar changes (vectors start with b/r, keywords with $: nothing else we need)
    is_change = np.isin(first, np.frombuffer(b"01xzXZ", dtype=np.uint8))
    ch = np.flatnonzero(is_change)
    keys = _code_keys(buf, starts[ch] + 1, ends[ch])
    names = list(codes)
    name_bytes = np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)
    name_len = np.array([len(n) for n in names], dtype=np.int64)
    name_start = np.concatenate(([0], np.cumsum(name_len)[:-1])).astype(np.int64)
    name_keys = _code_keys(name_bytes, name_start, name_start + name_len)
    order = np.argsort(name_keys, kind="stable")
    sorted_keys = name_keys[order]
    slot = np.searchsorted(sorted_keys, keys)
    slot_ok = (slot < len(sorted_keys)) & (sorted_keys[np.minimum(slot, len(sorted_keys) - 1)] == keys)
    ch, slot = ch[slot_ok], slot[slot_ok]
    group = np.argsort(slot, kind="stable")          # by net, each net's changes in file order
    g_slot, g_time, g_val = slot[group], line_time[ch][group], first[ch][group]
    g_begin = np.searchsorted(g_slot, np.arange(len(sorted_keys)), side="left")
    g_end = np.searchsorted(g_slot, np.arange(len(sorted_keys)), side="right")
    net_slot = {codes[names[order[k]]]: k for k in range(len(order))}
    for net, what in ((clock_net, "clock"), (busy_net, "busy")):
        if net not in net_slot:
            raise ToolError(f"the VCD {vcd} lacks the {what} net n{net}")
    k = net_slot[clock_net]
    ct, cv = g_time[g_begin[k]:g_end[k]], g_val[g_begin[k]:g_end[k]]
    edges = ct[1:][(cv[1:] == ord("1")) & (cv[:-1] == ord("0"))]
    falls = ct[1:][(cv[1:] == ord("0")) & (cv[:-1] == ord("1"))]
    # one sorted key per change: (net slot, time), so one searchsorted samples every net
    span = int(g_time.max(initial=0)) + 2
    composite = g_slot * span + g_time

    def sample(slots: np.ndarray, at: np.ndarray, strict: bool = True) -> np.ndarray:
        """``[len(slots), len(at)]`` booleans: each net's value just before each time."""
        idx = np.searchsorted(composite, slots[:, None] * span + at[None, :], side="left") - 1
        missing = idx < g_begin[slots][:, None]
        if missing.any():
            r, c = np.argwhere(missing)[0]
            raise ToolError(f"net n{codes[names[order[slots[r]]]]} has no value before t={int(at[c])} in {vcd}")
        v = g_val[idx]
        bad = (v != ord("0")) & (v != ord("1"))
        if strict and bad.any():
            r, c = np.argwhere(bad)[0]
            raise ToolError(f"net n{codes[names[order[slots[r]]]]} is {chr(v[r, c])} in a sampled cycle "
                            f"(t={int(at[c])}) of {vcd}")
        return v == ord("1")

    busy = sample(np.array([net_slot[busy_net]]), edges, strict=False)[0]  # X before the reset is not busy
    nets = np.array(list(net_slot), dtype=np.int64)
    slots = np.array([net_slot[n] for n in nets], dtype=np.int64)
    high_nets = sorted(set(high_nets))
    for net in high_nets:
        if net not in net_slot:
            raise ToolError(f"the VCD {vcd} lacks the net n{net}")
    high_slots = np.array([net_slot[n] for n in high_nets], dtype=np.int64)
    runs = []
    k = 0
    while k < len(busy):
        if not busy[k]:
            k += 1
            continue
        end = k
        while end < len(busy) and busy[end]:
            end += 1
        lo, hi = max(k - 1, 0), min(end + 1, len(busy))
        at = edges[lo:hi]
        values: dict[int, np.ndarray] = {}
        for b in range(0, len(slots), 4096):          # bounded memory: 4,096 nets at a time
            block = sample(slots[b:b + 4096], at)
            values.update(zip(nets[b:b + 4096].tolist(), block))
        high: dict[int, np.ndarray] = {}
        if high_nets:
            after = np.searchsorted(falls, at, side="right")
            if after[-1] >= len(falls):
                raise ToolError(f"the clock does not fall after the edge at t={int(at[-1])} in {vcd}")
            high = dict(zip(high_nets, sample(high_slots, falls[after])))
        runs.append(RunWaves(values, len(at), high))
        k = end
    return runs


class GateLevelAccel:
    """The mapped netlist of one accelerator in Icarus; :meth:`run` simulates layer jobs."""

    def __init__(self, mapped: MappedNetlist, build_dir: str | os.PathLike, config: AccelConfig):
        self.mapped = mapped
        # absolute: the simulator runs in another folder and reads the files the environment names
        self.build_dir = Path(build_dir).resolve()
        self.config = config
        self._built = False
        #: Icarus with vvp writing VCD: the netlist's own $dumpvars gives the nets' values.
        self.simulator = IcarusBackend(dump="vcd")

    def build(self) -> None:
        source = write_gate_netlist(self.mapped, self.build_dir / "gates.v")
        runner.build(self.simulator, [source], TOP_MODULE, self.build_dir, always=True)
        self._built = True

    def run(self, jobs: list[tuple[str, ConvJob]], *, timeout_cycles: int | None = None,
            high_nets=()) -> tuple[list[JobResult], list[RunWaves]]:
        """Outputs and counters of each job, and its cycles' net values (``high_nets`` also
        while the clock is high: :func:`read_cycles`)."""
        if not self._built:
            self.build()
        vcd = self.build_dir / "nets.vcd"
        jobs_file, results_file = self.build_dir / "jobs.json", self.build_dir / "results.json"
        jobs_file.write_text(jobs_payload(jobs, self.config, timeout_cycles))
        for stale in (results_file, vcd):
            if stale.exists():
                stale.unlink()
        runner.test(self.simulator, TEST_MODULE, TOP_MODULE, self.build_dir, self.build_dir,
                    plusargs=[f"+{VCD_PLUSARG}={vcd}"],
                    env={"RTLGEN_ACCEL_JOBS": str(jobs_file), "RTLGEN_ACCEL_RESULTS": str(results_file)})
        results = read_results(results_file, jobs)
        ports = self.mapped.ports
        clock, busy = ports["clk"][1][0], ports["busy"][1][0]
        if not isinstance(busy, int):
            raise NetlistError("the mapped accelerator's busy output is a constant", file=str(self.mapped.source))
        waves = read_cycles(vcd, clock, busy, high_nets)
        if len(waves) != len(jobs):
            raise ToolError(f"the VCD {vcd} shows {len(waves)} layer runs (busy high), expected {len(jobs)}")
        return results, waves
