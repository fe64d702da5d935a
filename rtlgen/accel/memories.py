"""The device's memories as SRAM macros, and their energy per inference.

The generated RTL's memories (Amaranth ``Memory``) synthesize to flip-flops in the cost flow;
a chip would build them from SRAM macros. :func:`device_memories` lists the device's memories
(:mod:`rtlgen.accel.top`, :mod:`rtlgen.accel.engine`, :mod:`rtlgen.accel.loader`) and tiles each
onto the PDK's macros (:func:`rtlgen.cost.sram.plan_memory`):

================ ========================== ======================= ==============================
memory           shape (bits x words)        reads                   writes per inference
================ ========================== ======================= ==============================
activation       8 x ``activation_bytes``    U + 1 ports: the host's the input (host), every layer's
                                             every cycle; a unit's   and op's output bytes
                                             every cycle but its
                                             engine's busy ones, then
                                             one per product issued
configuration    8 x ``config_capacity``     U + 1 ports: a walker's nothing (``config.bin``, once)
                                             in the states that read
                                             it; the host's
                                             (``MEM_DATA``) when its
                                             address or the memory
                                             changed: not in a run
weights store    8 x ``weights_store_bytes`` U + 1 ports, as the     nothing (``weights.bin``, once)
                                             configuration memory's
                                             (``WEIGHTS_DATA``)
weights (per     ``weight_word_bits`` x      one word per product    each layer's weight words
unit)            ``weight_words``            issued                  (copied before it runs)
parameters (per  70 x ``channels``           one word per output     one word per output channel
unit)                                        value                   per layer
================ ========================== ======================= ==============================

(U units; the host's ports are ``ACT_ADDR``/``ACT_DATA`` and the loader's own.) Reads follow
the RTL's read enables: the engine reads its weight memory and its activation-memory port only
in the cycles it issues a product (padding positions too: the byte is then not used) and its
parameter memory once per output value (:mod:`rtlgen.accel.engine`:
``act_re``, ``wgt_re``, ``par_re``, counted in ``tests/accel/test_top.py``), and each walker
reads the two image stores only in the states that read them (:mod:`rtlgen.accel.sequencer`,
"Reads": ``CONFIG_READS`` and ``WEIGHTS_READS`` count them, equal to
:func:`rtlgen.accel.schedule.batch_cycles`' count in ``tests/accel/test_sequencer.py``; per input
in the steady state :func:`rtlgen.accel.schedule.walker_reads`); the host's ports on the two
image stores (``MEM_DATA``, ``WEIGHTS_DATA``) read only in a cycle whose address differs from
their last read's or after the loader wrote the memory (:mod:`rtlgen.accel.loader`), so never
in a run unless the host reads them. The other read ports (the host's ``ACT_DATA``, which must
show the byte the engines may have just written, and a unit's activation port while its engine
is idle, which its walker's vector unit uses) have no enable and read every cycle. A read port of a macro that is not read in a
cycle costs nothing (:mod:`rtlgen.cost.sram`). So, per inference of ``cycles`` cycles, with
``issued`` products (per lane), ``busy`` engine cycles and ``outputs`` output values over its
layers and the walkers' ``config_reads`` and ``store_reads`` (:func:`inference_traffic`)::

    E_mem = cycles * sum(ports read every cycle x read_pj)
          + (issued - busy) * act.read_pj + issued * weights.read_pj + outputs * parameters.read_pj
          + config_reads * configuration.read_pj + store_reads * weights_store.read_pj
          + sum(writes x write_pj) + cycles * clock_ns * leakage_mw

(:meth:`DeviceMemories.energy`; bound to a network's traffic: :class:`InferenceMemories`, the
``memories`` term of :meth:`rtlgen.accel.energy.EnergyModel.inference`). The first term, fixed
per cycle like the flip-flops' clock (:mod:`rtlgen.accel.energy`), is what is left of ports
without an enable: the activation memory's (the host's, and idle engines'). What is not modelled: the activation memory's several
write ports (host, every engine) are taken to reach its macros' one write port each without
conflict; a layout would bank it by activation slot. The upper bound of
:mod:`rtlgen.cost.sram` (every macro's clocks every cycle, as the liberty files say) is
:attr:`DeviceMemories.ungated_pj_per_cycle`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from rtlgen.accel.config import AccelConfig
from rtlgen.accel.descriptor import PARAM_BITS
from rtlgen.cost.sram import MemoryPlan, plan_memory
from rtlgen.nn.geometry import Geometry

__all__ = ["MemorySpec", "DeviceMemories", "Traffic", "InferenceMemories", "device_memories",
           "inference_traffic", "MEMORY_NAMES"]

#: The memories' names, as :class:`Traffic` keys them.
MEMORY_NAMES = ("activation", "configuration", "weights store", "weights", "parameters")


@dataclass(frozen=True)
class MemorySpec:
    """One memory of the device on its macros: ``instances`` of the same plan (per-unit
    memories: one per unit), ``every_cycle`` of its read ports (over the instances) read every
    cycle."""

    plan: MemoryPlan
    instances: int
    every_cycle: int

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def reads_pj_per_cycle(self) -> float:
        """The ports read every cycle, per cycle."""
        return self.every_cycle * self.plan.read_pj

    @property
    def area_mm2(self) -> float:
        return self.instances * self.plan.area_mm2

    @property
    def macros(self) -> int:
        return self.instances * self.plan.count

    @property
    def leakage_mw(self) -> float:
        return self.instances * self.plan.leakage_mw


@dataclass(frozen=True)
class DeviceMemories:
    """Every memory of one device on ``pdk``'s SRAM macros."""

    pdk: str
    memories: tuple[MemorySpec, ...]

    @property
    def reads_pj_per_cycle(self) -> float:
        """The read ports without an enable (read every cycle), per cycle."""
        return sum(m.reads_pj_per_cycle for m in self.memories)

    @property
    def leakage_mw(self) -> float:
        return sum(m.leakage_mw for m in self.memories)

    @property
    def area_mm2(self) -> float:
        return sum(m.area_mm2 for m in self.memories)

    @property
    def macros(self) -> int:
        return sum(m.macros for m in self.memories)

    @property
    def ungated_pj_per_cycle(self) -> float:
        return sum(m.instances * m.plan.ungated_pj_per_cycle for m in self.memories)

    def _pj(self, counts: Mapping[str, int], per: str) -> float:
        """``counts`` (memory name -> accesses) times each plan's ``read_pj`` or ``write_pj``."""
        by_name = {m.name: m for m in self.memories}
        unknown = set(counts) - set(by_name)
        if unknown:
            raise ValueError(f"accesses to {sorted(unknown)}; the memories are {sorted(by_name)}")
        return float(sum(n * getattr(by_name[k].plan, per) for k, n in counts.items()))

    def writes_pj(self, writes: Mapping[str, int]) -> float:
        """The energy (pJ) of ``writes`` (memory name -> words written, summed over units)."""
        return self._pj(writes, "write_pj")

    def reads_pj(self, reads: Mapping[str, int]) -> float:
        """The energy (pJ) of ``reads`` (memory name -> words read on one port each) beyond the
        ports read every cycle (a negative count takes cycles off those: an engine's busy ones)."""
        return self._pj(reads, "read_pj")

    def parts(self, *, cycles: float, traffic: "Traffic", clock_ns: float) -> dict[str, float]:
        """One inference's memory energy (pJ) by term of the module docstring's ``E_mem``."""
        return {"every_cycle": cycles * self.reads_pj_per_cycle, "reads": self.reads_pj(traffic.reads),
                "writes": self.writes_pj(traffic.writes), "leakage": cycles * clock_ns * self.leakage_mw}

    def energy(self, *, cycles: float, traffic: "Traffic", clock_ns: float) -> float:
        """One inference's memory energy (pJ): the module docstring's ``E_mem``."""
        return sum(self.parts(cycles=cycles, traffic=traffic, clock_ns=clock_ns).values())

    def table(self) -> str:
        """One line per memory: shape, macro, count, area, the energy of a read and a write, and
        of the ports read every cycle."""
        lines = []
        for m in self.memories:
            p = m.plan
            every = (f"{m.every_cycle} port{'s' if m.every_cycle > 1 else ''} read every cycle: "
                     f"{m.reads_pj_per_cycle:.1f} pJ/cycle" if m.every_cycle else "read only when the data is used")
            lines.append(f"{p.name}: {m.instances} x {p.width} b x {p.depth} on {p.macro.name} "
                         f"({p.columns} x {p.rows} x {p.copies} copies = {m.macros} macros, "
                         f"{m.area_mm2:.2f} mm^2), {p.read_pj:.1f} pJ per read, {p.write_pj:.1f} per write; {every}")
        return "\n".join(lines)


def device_memories(config: AccelConfig, pdk: str) -> DeviceMemories | None:
    """The device's memories (module docstring) on ``pdk``'s macros, or None where rtlgen has
    none for ``pdk`` (:data:`rtlgen.cost.sram.MACROS`)."""
    from rtlgen.accel.loader import config_capacity

    u = config.units
    # name, width, depth, read ports per instance, instances, ports read every cycle
    shapes = [("activation", 8, config.activation_bytes, u + 1, 1, u + 1),
              ("configuration", 8, config_capacity(config), u + 1, 1, 0),
              ("weights store", 8, config.weights_store_bytes, u + 1, 1, 0),
              ("weights", config.weight_word_bits, config.weight_words, 1, u, 0),
              ("parameters", PARAM_BITS, config.channels, 1, u, 0)]
    out = []
    for name, width, depth, ports, instances, every_cycle in shapes:
        plan = plan_memory(name, width, depth, ports, pdk)
        if plan is None:
            return None
        out.append(MemorySpec(plan, instances, every_cycle))
    return DeviceMemories(pdk, tuple(out))


def _output_bytes(op) -> int:
    count = getattr(op, "count", None)
    if count is not None:                  # ADD: element count
        return int(count)
    g = op.geometry
    return g.out_h * g.out_w * g.in_c       # pools and PAD keep the channels


@dataclass(frozen=True)
class Traffic:
    """One inference's accesses beyond the ports read every cycle (memory name -> words):
    ``reads`` (may be negative: see :meth:`DeviceMemories.reads_pj`) and ``writes``."""

    reads: Mapping[str, int]
    writes: Mapping[str, int]


def inference_traffic(layers: Sequence[tuple[str, Geometry, int, int]], ops: Sequence[object], lanes: int,
                      input_bytes: int, *, walker_reads: tuple[int, int]) -> Traffic:
    """The accesses of one inference (module docstring): ``layers`` as ``(kind, geometry,
    co_first, co_end)`` (the channels a descriptor runs; ``co_end`` 0 = ``out_c``) in any order,
    ``ops`` the op descriptors (:class:`rtlgen.bitstream.format.OpDescriptor`), ``input_bytes``
    the input the host writes, ``walker_reads`` the walkers' reads of the configuration memory
    and of the weights store (:func:`rtlgen.accel.schedule.walker_reads`)."""
    from rtlgen.accel.schedule import engine_cycles

    act, wgt, par = input_bytes, 0, 0
    issued = busy = outputs = 0
    for kind, g, co_first, co_end in layers:
        depthwise = kind == "depthwise_conv2d"
        end = co_end or g.out_c
        k = g.k_h * g.k_w * (1 if depthwise else g.in_c)
        groups = math.ceil(end / lanes) - co_first // lanes
        passes = (end - co_first) if depthwise else groups      # one channel at a time, or a group
        words = groups * k
        values = g.out_h * g.out_w * (end - co_first)
        act += values
        outputs += values
        wgt += words
        par += end - co_first
        issued += passes * g.out_h * g.out_w * k
        busy += engine_cycles(g, lanes, depthwise=depthwise, co_first=co_first, co_end=co_end or None)
    act += sum(_output_bytes(op) for op in ops)
    return Traffic(reads={"activation": issued - busy, "weights": issued, "parameters": outputs,
                          "configuration": int(walker_reads[0]), "weights store": int(walker_reads[1])},
                   writes={"activation": act, "weights": wgt, "parameters": par})


@dataclass(frozen=True)
class InferenceMemories:
    """One network's memory traffic on one device: :meth:`energy` is the ``memories`` term of
    :meth:`rtlgen.accel.energy.EnergyModel.inference`."""

    device: DeviceMemories
    traffic: Traffic

    def energy(self, cycles: float, clock_ns: float) -> float:
        """``E_mem`` (pJ) of one inference of ``cycles`` cycles at ``clock_ns``."""
        return self.device.energy(cycles=cycles, traffic=self.traffic, clock_ns=clock_ns)

    @classmethod
    def from_config_bin(cls, device: DeviceMemories, config_bin: bytes, lanes: int, units: int) -> "InferenceMemories":
        """The traffic of the descriptors ``config_bin`` lists (shares with their channel
        ranges) on a device of ``units`` units, per input in the steady state."""
        from rtlgen.accel.schedule import walker_reads
        from rtlgen.bitstream import format as bsmod

        bs = bsmod.decode(config_bin)
        layers, ops, first = [], [], None
        for d in bs.descriptors():
            g = d.geometry if hasattr(d, "geometry") else None
            if first is None and g is not None:
                first = g.in_h * g.in_w * g.in_c
            if isinstance(d, bsmod.LayerDescriptor):
                layers.append((d.kind, g, d.co_first, d.co_end))
            else:
                ops.append(d)
        return cls(device, inference_traffic(layers, ops, lanes, first or 0, walker_reads=walker_reads(bs, units, lanes)))
