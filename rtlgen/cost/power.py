"""The liberty power model, shared by the multiplier cost flow and the accelerator's power.

Given simulated zero-delay activity (:mod:`rtlgen.cost.activity`), every term is an energy per clock
cycle, in pJ unless a name says otherwise:

* **arc internal energy** of a combinational cell: for the arc ``in_pin -> out_pin``, output
  rises and falls per cycle attributed to the toggling input and split by that input's
  direction (:class:`rtlgen.cost.activity.ArcActivity`), times the liberty ``rise_power`` /
  ``fall_power`` at the output net's load and that input's slew of that direction;
* **flip-flop internal energy**: the output pin's table related to the clock pin, per output
  rise/fall, at the clock's slew; plus the input pins' own (passive) tables: the clock pin's
  once per rise and once per fall of the clock (every cycle), the data pin's per data toggle;
* **switching energy** of a net: toggles per cycle x 1/2 C V^2, C the pin capacitances of its
  loads plus any port load (no wire load: the libraries we use have none);
* **leakage** (mW): ``cell_leakage_power``.

Table lookups are :class:`rtlgen.netlist.liberty.PowerTable` (bilinear, OpenSTA's extrapolation).
Loads are in the library's capacitance unit, slews in ns (converted here), energies returned
in pJ (``CellLibrary.energy_unit_pj``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from rtlgen.netlist.liberty import CellLibrary

__all__ = ["net_capacitance", "arc_energy", "input_pin_energy", "flip_flop_output_energy",
           "switching_energy", "leakage_mw"]


def net_capacitance(lib: CellLibrary, net_loads: Mapping[int, Iterable[tuple[str, str]]],
                    cell_type: Mapping[str, str], port_loads: Mapping[int, float] | None = None
                    ) -> dict[int, float]:
    """Load of every net (library capacitance unit): its loads' pin capacitances, plus
    ``port_loads[net]`` (same unit) for nets that leave through a port."""
    load = {}
    for net, pins in net_loads.items():
        load[net] = sum(lib.cell(cell_type[c]).pins[p].capacitance for c, p in pins)
    for net, extra in (port_loads or {}).items():
        load[net] = load.get(net, 0.0) + extra
    return load


def arc_energy(lib: CellLibrary, cell_type: str, in_pin: str, out_pin: str,
               rates: tuple[float, float, float, float], c_out: float,
               slew_ns: tuple[float, float]) -> tuple[float, float]:
    """(output-rise, output-fall) internal energy per cycle of one arc, in the library's energy
    unit. ``rates`` = (out rise & in rise, out rise & in fall, out fall & in rise, out fall & in
    fall) per cycle; ``slew_ns`` = the input's (rise, fall) transition. (0, 0) when the pin has
    no table for that input."""
    pin = lib.cell(cell_type).pins[out_pin]
    tables = [ip for ip in pin.internal_power if ip.related_pin in (in_pin, None)]
    if not tables:
        return 0.0, 0.0
    ip = next((t for t in tables if t.related_pin == in_pin), tables[0])
    rr, rf, fr, ff = rates
    s_rise = slew_ns[0] / lib.time_unit_ns
    s_fall = slew_ns[1] / lib.time_unit_ns
    rise = rr * ip.rise(c_out, s_rise) + rf * ip.rise(c_out, s_fall) if ip.rise is not None else 0.0
    fall = fr * ip.fall(c_out, s_rise) + ff * ip.fall(c_out, s_fall) if ip.fall is not None else 0.0
    return rise, fall


def input_pin_energy(lib: CellLibrary, cell_type: str, pin: str, rise_rate: float,
                     fall_rate: float, slew_ns: tuple[float, float]) -> float:
    """Internal energy per cycle (library energy unit) of an input pin's own tables (liberty
    ``internal_power`` on an input pin, e.g. a flip-flop's clock), ``rise_rate``/``fall_rate``
    transitions of that pin per cycle at its (rise, fall) slew."""
    total = 0.0
    for ip in lib.cell(cell_type).pins[pin].internal_power:
        if ip.rise is not None:
            total += rise_rate * ip.rise(0.0, slew_ns[0] / lib.time_unit_ns)
        if ip.fall is not None:
            total += fall_rate * ip.fall(0.0, slew_ns[1] / lib.time_unit_ns)
    return total


def flip_flop_output_energy(lib: CellLibrary, cell_type: str, out_pin: str, rise_rate: float,
                            fall_rate: float, c_out: float, clock_slew_ns: tuple[float, float]) -> float:
    """Internal energy per cycle (library energy unit) of a flip-flop output's rises and falls,
    each caused by the active clock edge (rising, or falling for a negative-edge cell)."""
    cell = lib.cell(cell_type)
    assert cell.ff is not None, cell_type
    clock = cell.ff.clocked_on
    edge = (clock_slew_ns[1] if cell.ff.falling else clock_slew_ns[0]) / lib.time_unit_ns
    tables = [ip for ip in cell.pins[out_pin].internal_power if ip.related_pin in (clock, None)]
    if not tables:
        return 0.0
    ip = next((t for t in tables if t.related_pin == clock), tables[0])
    total = 0.0
    if ip.rise is not None:
        total += rise_rate * ip.rise(c_out, edge)
    if ip.fall is not None:
        total += fall_rate * ip.fall(c_out, edge)
    return total


def switching_energy(lib: CellLibrary, capacitance: float, rate: float) -> float:
    """1/2 C V^2 per toggle (pJ per cycle) of a net of ``capacitance`` (library unit) toggling
    ``rate`` times per cycle."""
    return 0.5 * capacitance * lib.cap_unit_pf * lib.voltage ** 2 * rate


def leakage_mw(lib: CellLibrary, cell_type: str) -> float:
    return lib.cell(cell_type).leakage * lib.leakage_unit_mw
