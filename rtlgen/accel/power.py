"""Power and energy of the accelerator running conv layers, from gate-level activity.

Method
------
1. **Cells.** The generated design is mapped to the liberty's cells (:func:`rtlgen.accel.synth.
   map_accelerator`): ``synth -flatten``, ``dfflibmap``, ``abc``, each multiplier netlist module
   synthesized on its own (as the cost flow does) so that its cells keep their instance path.
2. **Activity.** That netlist runs the layer jobs in Icarus (:mod:`rtlgen.accel.gatesim`, the
   accelerator's cocotb testbench); the outputs come back for the caller to compare with the
   emulation, and every net's settled value is sampled once per clock cycle over each layer run.
3. **Slews.** OpenSTA times the netlist (:func:`rtlgen.cost.sta.run_sta` with the clock on ``clk``):
   the transition at every cell pin.
4. **Energy.** The liberty power model of the cost flow (:mod:`rtlgen.cost.power`): per combinational
   arc the internal energy of the output transitions, split by the toggling inputs' direction;
   per flip-flop the clock pin's energy per clock transition (twice a cycle on ``clk``; on a
   gated clock twice in each cycle it pulses), the data pin's per data toggle and the output's
   per output transition at the clock's slew; per net 1/2 C V^2 per toggle; leakage per cell.
   The clock's combinational cone (the clock-gating AND gates, :func:`clock_cone`) changes
   within a cycle, so its nets are sampled in both halves of each cycle (:mod:`rtlgen.accel.gatesim`)
   and counted over both. Power is energy per cycle at the clock period ``clock_ns`` of the
   :class:`rtlgen.cost.sta.StaConfig` (default 10 ns, 100 MHz, as the cost flow); energy per layer run
   = power x cycles x period; energy per MAC = that / (out_h x out_w x out_c x kh x kw x cin).

Assumptions (each biases the figures; they are the cost flow's where it has one)
---------------------------------------------------------------------------------
* zero-delay activity: every net settles once per cycle, glitches are not counted;
* no wire load and no placement: a net's capacitance is its loads' pin capacitances (plus
  ``output_load_pf`` per output port bit);
* no clock tree and no buffering: the clock is ideal (transition ``input_transition_ns`` at every
  clock pin; its net charged as the flip-flops' clock pins, two transitions a cycle), the host
  ports are ideal drivers with the same transition, and high-fanout nets inside the design are
  left as Yosys/ABC map them, unbuffered. Their slews come out of OpenSTA far beyond the
  liberty's characterization (up to 1 us on nets with hundreds of loads, about 1,000 at most in
  the small test designs, and long on the logic downstream of them, where the tables end at
  1.8 ns for OSU018); a real flow would insert buffers there. Slews are
  therefore clamped to the largest slew of the library's power tables
  (:attr:`AccelPower.clamped_pins` counts the pins), rather than extrapolated linearly two
  hundred times past the table, which would charge the missing buffers as absurd internal
  energy. The multipliers' own slews are within the tables, as in the cost flow;
* memories are flip-flops (the gate-level flow has no SRAM macros; :mod:`rtlgen.accel.memories`
  models them apart from their liberty files): their read and write logic is ordinary logic,
  and a large memory's energy is a register file's, not an SRAM's;
* flip-flops power up at 0 (:mod:`rtlgen.accel.gatesim`); the host ports are static while a
  layer runs.

Breakdown (:attr:`LayerPower.breakdown`), by the cells' names after synthesis:

* ``u{U}.s{S} NAME``: the cells of bank slot S of unit U (its multiplier, every lane);
* ``memories``: flip-flops of the activation, weight and parameter memories (their outputs keep
  the names ``act_mem[...]``, ``wgt_mem[...]``, ``par_mem[...]``);
* ``registers``: the other flip-flops (operand registers, accumulators, pipeline, controller);
* ``clock``: the cells of the clock's combinational cone (:func:`clock_cone`): the clock-gating
  AND gates and the inverters that clock the gates' falling-edge enable flip-flops;
* ``logic``: every other cell: the datapath around the multipliers, the requantizer, the
  controller and the memories' read multiplexers and write decoders (ABC does not keep names).

A net's switching energy is split between its load pins in proportion to their capacitance and
charged to the loads' categories (a multiplier's input capacitance is the multiplier's, as in the
cost flow, where the operand nets count); the share of an output port load goes to the driver's.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rtlgen.cost.activity import CompiledNetlist, Waveforms, arc_activity, net_activity
from rtlgen.cost.power import (arc_energy, flip_flop_output_energy, input_pin_energy, leakage_mw,
                     switching_energy)
from rtlgen.cost.sta import StaConfig, run_sta
from rtlgen.cost.synth import MappedNetlist
from rtlgen.accel.config import AccelConfig
from rtlgen.accel.gatesim import GateLevelAccel, RunWaves
from rtlgen.accel.generate import GeneratedDesign
from rtlgen.accel.job import ConvJob
from rtlgen.accel.rtlsim import JobResult
from rtlgen.accel.synth import map_accelerator
from rtlgen.accel.manifest import read_manifest
from rtlgen.cost.pdk import Pdk

__all__ = ["DEFAULT_ENVIRONMENT", "CategoryPower", "LayerPower", "AccelPower", "accelerator_power",
           "cell_categories", "clock_cone", "layer_power", "max_table_slew_ns"]

#: Ports are driven by the host, not by a cell of the design: ideal, at ``input_transition_ns``.
DEFAULT_ENVIRONMENT = StaConfig(driving_cell="(ideal)")

_SLOT = re.compile(r"(?:^|\\)unit(\d+)\.lane\d+\.bank\.mul(\d+)\.netlist\.")
_MEMORY = re.compile(r"^(?:act|wgt|par)_mem\[")


@dataclass(frozen=True)
class CategoryPower:
    """Average power (mW) of one category of cells over a layer run."""

    internal_mw: float
    switching_mw: float
    leakage_mw: float

    @property
    def dynamic_mw(self) -> float:
        return self.internal_mw + self.switching_mw

    @property
    def total_mw(self) -> float:
        return self.internal_mw + self.switching_mw + self.leakage_mw


@dataclass(frozen=True)
class LayerPower:
    """One layer run: cycles (the accelerator's ``cycles`` counter), MACs, power by category."""

    name: str
    cycles: int
    macs: int
    clock_ns: float
    breakdown: dict[str, CategoryPower]

    def _sum(self, attr: str) -> float:
        return float(sum(getattr(c, attr) for c in self.breakdown.values()))

    @property
    def internal_mw(self) -> float:
        return self._sum("internal_mw")

    @property
    def switching_mw(self) -> float:
        return self._sum("switching_mw")

    @property
    def leakage_mw(self) -> float:
        return self._sum("leakage_mw")

    @property
    def total_mw(self) -> float:
        return self.internal_mw + self.switching_mw + self.leakage_mw

    @property
    def energy_pj(self) -> float:
        """Energy of the whole run (pJ): power x cycles x clock period."""
        return self.total_mw * self.cycles * self.clock_ns

    @property
    def energy_per_mac_pj(self) -> float:
        return self.energy_pj / self.macs

    def slots(self) -> dict[str, CategoryPower]:
        """The multiplier bank slots' categories (``u{U}.s{S} NAME``)."""
        return {k: v for k, v in self.breakdown.items() if k[0] == "u"}

    def to_dict(self) -> dict:
        return {"name": self.name, "cycles": self.cycles, "macs": self.macs,
                "clock_ns": self.clock_ns, "total_mw": self.total_mw,
                "internal_mw": self.internal_mw, "switching_mw": self.switching_mw,
                "leakage_mw": self.leakage_mw, "energy_pj": self.energy_pj,
                "energy_per_mac_pj": self.energy_per_mac_pj,
                "breakdown": {k: dict(asdict(v), total_mw=v.total_mw) for k, v in self.breakdown.items()}}


@dataclass(frozen=True)
class AccelPower:
    """Every layer run's power, the testbench's results (outputs, counters) and the netlist's size."""

    runs: list[LayerPower]
    results: list[JobResult]
    cells: int
    area_um2: float
    delay_ns: float                      # OpenSTA's worst path (unbuffered netlist: pessimistic)
    clamped_pins: int                    # pins whose slew was clamped to the tables' range
    max_slew_ns: float                   # that range's end
    cell_counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"cells": self.cells, "area_um2": self.area_um2, "delay_ns": self.delay_ns,
                "clamped_pins": self.clamped_pins, "max_slew_ns": self.max_slew_ns,
                "runs": [r.to_dict() for r in self.runs]}


def cell_categories(mapped: MappedNetlist, slot_names: list[list[str]]) -> dict[str, str]:
    """Category (see the module docstring) of every cell of ``mapped`` by cell name;
    ``slot_names[u][s]`` names the multiplier of unit u's slot s."""
    lib = mapped.library
    mod = mapped.module
    q_names: dict[int, str] = {}
    for name, net in mod["netnames"].items():
        for b in net["bits"]:
            if isinstance(b, int) and _MEMORY.match(name):
                q_names[b] = name
    out = {}
    for cname, cell in mod["cells"].items():
        path = cell.get("path", cname)
        m = _SLOT.search(path)
        if m:
            u, s = int(m.group(1)), int(m.group(2))
            out[cname] = f"u{u}.s{s} {slot_names[u][s]}"
        elif lib.cell(cell["type"]).ff is not None:
            outs = [b[0] for p, b in cell["connections"].items()
                    if lib.cell(cell["type"]).pins[p].direction == "output"]
            out[cname] = "memories" if any(b in q_names for b in outs) else "registers"
        else:
            out[cname] = "logic"
    return out


def layer_power(mapped: MappedNetlist, compiled: CompiledNetlist, run: RunWaves,
                slews_ns: dict[str, tuple[float, float]], categories: dict[str, str],
                environment: StaConfig, *, name: str, cycles: int, macs: int,
                clock_net: int, cone: tuple[list, set[int]] | None = None) -> LayerPower:
    """Power by category of one sampled layer run (see the module docstring); ``cone``: the
    clock's cone (:func:`clock_cone`) when the caller has it already."""
    lib = mapped.library
    waves = Waveforms(compiled, run.values, run.cycles)
    rates = net_activity(waves).toggle_rate
    rates[clock_net] = 2.0                 # sampled once a cycle, the clock rises and falls
    cone_cells, cone_nets = cone if cone is not None else clock_cone(compiled, clock_net)
    # The clock's cone changes within a cycle: its nets and its cells' arcs are counted over
    # both phases (low, high, low, ...: each cycle's two halves), so that a gated clock counts
    # two transitions in the cycles it pulses and none in the others.
    n = run.cycles
    low = {clock_net: np.zeros(n, dtype=bool)}
    high = {clock_net: np.ones(n, dtype=bool)}
    for net in {net for op in cone_cells for net in op.inputs.values() if isinstance(net, int)} | cone_nets:
        if net != clock_net:
            low[net] = run.values[net]
            high[net] = run.high[net]
    phases = {net: np.stack([low[net], high[net]], axis=1).ravel()[:-1] for net in low}

    def edges(net) -> tuple[float, float]:
        """Rising and falling transitions per cycle of a clock-cone net."""
        v = phases[net]
        return (np.count_nonzero(~v[:-1] & v[1:]) / (n - 1), np.count_nonzero(v[:-1] & ~v[1:]) / (n - 1))

    for net in cone_nets:
        rates[net] = sum(edges(net))
    internal = dict.fromkeys(set(categories.values()), 0.0)
    switching = dict(internal)
    leakage = dict(internal)
    cell_type = {n: c["type"] for n, c in mapped.module["cells"].items()}
    pin_cap = {}

    def cap(cname: str, pin: str) -> float:
        key = (cname, pin)
        if key not in pin_cap:
            pin_cap[key] = lib.cell(cell_type[cname]).pins[pin].capacitance
        return pin_cap[key]

    load = {net: sum(cap(c, p) for c, p in pins) for net, pins in compiled.net_loads.items()}
    port_load = environment.output_load_pf / lib.cap_unit_pf
    driver_of = {}
    for op in [*compiled.cells, *compiled.flops]:
        for net in op.outputs.values():
            driver_of[net] = op.name
    for bits in compiled.outputs.values():
        for b in bits:
            if isinstance(b, int):
                load[b] = load.get(b, 0.0) + port_load
                if b in driver_of:
                    switching[categories[driver_of[b]]] += switching_energy(lib, port_load, rates.get(b, 0.0))
    # Switching: each load pin's share of its net's 1/2 C V^2 per toggle.
    for net, pins in compiled.net_loads.items():
        rate = rates.get(net, 0.0)
        if rate == 0.0:
            continue
        for c, p in pins:
            switching[categories[c]] += switching_energy(lib, cap(c, p), rate)
    # Combinational arcs.
    outputs = {op.name: op.outputs for op in compiled.cells}
    arcs = arc_activity(waves).rates
    if cone_cells:
        cone_arcs = arc_activity(Waveforms(_Cells(cone_cells), phases, 2 * n - 1)).rates
        arcs.update({k: tuple(2.0 * x for x in r) for k, r in cone_arcs.items()})  # per half cycle -> per cycle
    for (cname, ipin, opin), r in arcs.items():
        if sum(r) == 0.0:
            continue
        rise, fall = arc_energy(lib, cell_type[cname], ipin, opin, r, load.get(outputs[cname][opin], 0.0),
                                slews_ns.get(f"{cname}/{ipin}", (0.0, 0.0)))
        internal[categories[cname]] += (rise + fall) * lib.energy_unit_pj
    # Flip-flops.
    m = run.cycles - 1
    for op in compiled.flops:
        cell = lib.cell(op.type)
        ff = cell.ff
        e = 0.0
        clk_slew = slews_ns.get(f"{op.name}/{ff.clocked_on}", (environment.input_transition_ns,) * 2)
        for pin, net in op.inputs.items():
            if pin == ff.clocked_on and net == clock_net:
                e += input_pin_energy(lib, op.type, pin, 1.0, 1.0, clk_slew)
            elif pin == ff.clocked_on and net in cone_nets:     # a gated (or inverted) clock
                e += input_pin_energy(lib, op.type, pin, *edges(net), clk_slew)
            elif isinstance(net, int):
                v = run.values[net]
                e += input_pin_energy(lib, op.type, pin, np.count_nonzero(~v[:-1] & v[1:]) / m,
                                      np.count_nonzero(v[:-1] & ~v[1:]) / m,
                                      slews_ns.get(f"{op.name}/{pin}", (0.0, 0.0)))
        for pin, net in op.outputs.items():
            v = run.values[net]
            e += flip_flop_output_energy(lib, op.type, pin, np.count_nonzero(~v[:-1] & v[1:]) / m,
                                         np.count_nonzero(v[:-1] & ~v[1:]) / m, load.get(net, 0.0),
                                         clk_slew)
        internal[categories[op.name]] += e * lib.energy_unit_pj
    for cname, t in cell_type.items():
        leakage[categories[cname]] += leakage_mw(lib, t)
    period = environment.clock_ns
    breakdown = {k: CategoryPower(internal[k] / period, switching[k] / period, leakage[k])
                 for k in sorted(internal)}
    return LayerPower(name, cycles, macs, period, breakdown)


@dataclass(frozen=True)
class _Cells:
    """The part of a :class:`CompiledNetlist` :func:`arc_activity` reads: its cells."""

    cells: list


def clock_cone(compiled: CompiledNetlist, clock_net: int) -> tuple[list, set[int]]:
    """The combinational cells driven, through other combinational cells only, by
    ``clock_net``, and their output nets: the gated and inverted clocks (:mod:`rtlgen.accel.bank`)
    and whatever else follows the clock within a cycle."""
    nets = {clock_net}
    cells = []
    for op in compiled.cells:                       # drivers come first
        if any(net in nets for net in op.inputs.values()):
            cells.append(op)
            nets.update(op.outputs.values())
    nets.discard(clock_net)
    return cells, nets


def accelerator_power(design: GeneratedDesign, config: AccelConfig,
                      jobs: list[tuple[str, ConvJob]], work_dir: str | os.PathLike, *,
                      environment: StaConfig = DEFAULT_ENVIRONMENT,
                      liberty: str | os.PathLike | None = None,
                      pdk: str | Pdk | None = None,
                      mapped: MappedNetlist | None = None) -> AccelPower:
    """Map ``design``, run ``jobs`` on its gates in Icarus and compute each run's power.

    ``mapped`` reuses an earlier :func:`~rtlgen.accel.synth.map_accelerator` result of the same
    design. ``pdk`` (default sky130hd) or ``liberty``: the cells, as in :mod:`rtlgen.accel.synth`.
    The caller compares :attr:`AccelPower.results` with its golden outputs."""
    work = Path(work_dir)
    mapped = mapped if mapped is not None else map_accelerator(design, liberty, pdk=pdk)
    manifest = read_manifest(design.out_dir)
    slot_names = [[slot["name"] for slot in bank] for bank in manifest["units"]]
    categories = cell_categories(mapped, slot_names)
    compiled = CompiledNetlist(mapped, sequential=True)
    sim = GateLevelAccel(mapped, work / "gatesim", config)
    clock_net = mapped.ports["clk"][1][0]
    cone_cells, cone_nets = clock_cone(compiled, clock_net)
    categories.update((op.name, "clock") for op in cone_cells)
    results, runs = sim.run(jobs, high_nets=(cone_nets | {net for op in cone_cells for net in op.inputs.values()
                                                          if isinstance(net, int)}) - {clock_net})
    report = run_sta(mapped, environment, clock_port="clk")
    top = max_table_slew_ns(mapped.library)
    slews = {pin: (min(r, top), min(f, top)) for pin, (r, f) in report.slews_ns.items()}
    clamped = sum(1 for r, f in report.slews_ns.values() if max(r, f) > top)
    layers = []
    for (name, job), result, run in zip(jobs, results, runs):
        d = job.descriptor
        layers.append(layer_power(mapped, compiled, run, slews, categories, environment,
                                  name=name, cycles=result.cycles, clock_net=clock_net,
                                  macs=d.out_h * d.out_w * (d.co_stop - d.co_first) * d.products, cone=(cone_cells, cone_nets)))
    return AccelPower(layers, results, mapped.n_cells, mapped.area, report.delay_ns, clamped, top,
                      mapped.cell_counts)


def max_table_slew_ns(lib) -> float:
    """The largest input transition (ns) any power table of ``lib`` is characterized at."""
    top = 0.0
    for cell in lib.cells.values():
        for pin in cell.pins.values():
            for ip in pin.internal_power:
                for t in (ip.rise, ip.fall):
                    if t is not None:
                        top = max(top, float(np.max(t.slew)))
    return top * lib.time_unit_ns
