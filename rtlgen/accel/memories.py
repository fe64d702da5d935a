"""The device's memories as SRAM macros, and their energy per inference.

The generated RTL's memories (Amaranth ``Memory``) synthesize to flip-flops in the cost flow;
a chip would build them from SRAM macros. :func:`device_memories` lists the device's memories
(:mod:`rtlgen.accel.top`, :mod:`rtlgen.accel.engine`, :mod:`rtlgen.accel.loader`) and tiles each
onto the PDK's macros (:func:`rtlgen.cost.sram.plan_memory`):

================ ========================== ======================= ==============================
memory           shape (bits x words)        reads                   writes per inference
================ ========================== ======================= ==============================
activation       8 x ``activation_bytes``    U + 1 ports: an         the input (host), every layer's
                                             engine's per product    and op's output bytes
                                             issued, a vector
                                             unit's per byte used,
                                             the host's
                                             (``ACT_DATA``) when its
                                             address or that byte
                                             changed
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

(U units; the host's ports are ``ACT_ADDR``/``ACT_DATA`` and the loader's own.) Every read port
has an enable, and a read port of a macro that is not read in a cycle costs nothing
(:mod:`rtlgen.cost.sram`), so the memories' energy follows the data used:

* the engine reads its weight memory and its activation-memory port only in the cycles it issues
  a product (padding positions too: the byte is then not used) and its parameter memory once per
  output value (:mod:`rtlgen.accel.engine`: ``act_re``, ``wgt_re``, ``par_re``, counted in
  ``tests/accel/test_top.py``);
* a walker's vector unit reads the activation memory through its engine's port (idle then) once
  per byte it uses: two per ADD element, a pool's taps inside the input
  (:mod:`rtlgen.accel.vector`; :func:`rtlgen.accel.schedule.vector_reads`, counted in
  ``tests/accel/test_vector.py``);
* each walker reads the two image stores only in the states that read them
  (:mod:`rtlgen.accel.sequencer`, "Reads": ``CONFIG_READS`` and ``WEIGHTS_READS`` count them,
  equal to :func:`rtlgen.accel.schedule.batch_cycles`' count in ``tests/accel/test_sequencer.py``;
  per input in the steady state :func:`rtlgen.accel.schedule.walker_reads`);
* the host's ports (``ACT_DATA``, ``MEM_DATA``, ``WEIGHTS_DATA``) read only in a cycle whose
  address differs from their last read's or after a write to the byte (``ACT_DATA``: by anyone
  at its address; the image stores: by the loader) (:mod:`rtlgen.accel.top`,
  :mod:`rtlgen.accel.loader`): in a run, the host's one read per output byte it fetches.

So, per inference of ``cycles`` cycles, with ``issued`` products (per lane), ``vector`` bytes the
vector units use, ``outputs`` output values over its layers, ``logits`` the network's output
bytes and the walkers' ``config_reads`` and ``store_reads`` (:func:`inference_traffic`)::

    E_mem = (issued + vector + logits) * act.read_pj + issued * weights.read_pj
          + outputs * parameters.read_pj
          + config_reads * configuration.read_pj + store_reads * weights_store.read_pj
          + sum(writes x write_pj) + cycles * clock_ns * leakage_mw

(:meth:`DeviceMemories.energy`; bound to a network's traffic: :class:`InferenceMemories`, the
``memories`` term of :meth:`rtlgen.accel.energy.EnergyModel.inference`). Only leakage is paid per
cycle. What is not modelled: the activation memory's several write ports (host, every engine)
are taken to reach its macros' one write port each without conflict; a layout would bank it by
activation slot. The upper bound of :mod:`rtlgen.cost.sram` (every macro's clocks every cycle, as
the liberty files say) is :attr:`DeviceMemories.ungated_pj_per_cycle`.
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
           "inference_traffic", "op_output_bytes", "MEMORY_NAMES"]

#: The memories' names, as :class:`Traffic` keys them.
MEMORY_NAMES = ("activation", "configuration", "weights store", "weights", "parameters")


@dataclass(frozen=True)
class MemorySpec:
    """One memory of the device on its macros: ``instances`` of the same plan (per-unit
    memories: one per unit)."""

    plan: MemoryPlan
    instances: int

    @property
    def name(self) -> str:
        return self.plan.name

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
        """The energy (pJ) of ``reads`` (memory name -> words read on one port each)."""
        return self._pj(reads, "read_pj")

    def parts(self, *, cycles: float, traffic: "Traffic", clock_ns: float) -> dict[str, float]:
        """One inference's memory energy (pJ) by term of the module docstring's ``E_mem``."""
        return {"reads": self.reads_pj(traffic.reads),
                "writes": self.writes_pj(traffic.writes), "leakage": cycles * clock_ns * self.leakage_mw}

    def energy(self, *, cycles: float, traffic: "Traffic", clock_ns: float) -> float:
        """One inference's memory energy (pJ): the module docstring's ``E_mem``."""
        return sum(self.parts(cycles=cycles, traffic=traffic, clock_ns=clock_ns).values())

    def table(self) -> str:
        """One line per memory: shape, macro, count, area, the energy of a read and a write."""
        lines = []
        for m in self.memories:
            p = m.plan
            lines.append(f"{p.name}: {m.instances} x {p.width} b x {p.depth} on {p.macro.name} "
                         f"({p.columns} x {p.rows} x {p.copies} copies = {m.macros} macros, "
                         f"{m.area_mm2:.2f} mm^2), {p.read_pj:.1f} pJ per read, {p.write_pj:.1f} per write")
        return "\n".join(lines)


def device_memories(config: AccelConfig, pdk: str) -> DeviceMemories | None:
    """The device's memories (module docstring) on ``pdk``'s macros, or None where rtlgen has
    none for ``pdk`` (:data:`rtlgen.cost.sram.MACROS`)."""
    from rtlgen.accel.loader import config_capacity

    u = config.units
    # name, width, depth, read ports per instance, instances
    shapes = [("activation", 8, config.activation_bytes, u + 1, 1),
              ("configuration", 8, config_capacity(config), u + 1, 1),
              ("weights store", 8, config.weights_store_bytes, u + 1, 1),
              ("weights", config.weight_word_bits, config.weight_words, 1, u),
              ("parameters", PARAM_BITS, config.channels, 1, u)]
    out = []
    for name, width, depth, ports, instances in shapes:
        plan = plan_memory(name, width, depth, ports, pdk)
        if plan is None:
            return None
        out.append(MemorySpec(plan, instances))
    return DeviceMemories(pdk, tuple(out))


def op_output_bytes(op) -> int:
    """The bytes an op descriptor writes."""
    count = getattr(op, "count", None)
    if count is not None:                  # ADD: element count
        return int(count)
    g = op.geometry
    return g.out_h * g.out_w * g.in_c       # pools and PAD keep the channels


@dataclass(frozen=True)
class Traffic:
    """One inference's accesses (memory name -> words): ``reads`` and ``writes``."""

    reads: Mapping[str, int]
    writes: Mapping[str, int]


def inference_traffic(layers: Sequence[tuple[str, Geometry, int, int]], ops: Sequence[object], lanes: int,
                      input_bytes: int, output_bytes: int, *, walker_reads: tuple[int, int]) -> Traffic:
    """The accesses of one inference (module docstring): ``layers`` as ``(kind, geometry,
    co_first, co_end)`` (the channels a descriptor runs; ``co_end`` 0 = ``out_c``) in any order,
    ``ops`` the op descriptors (:class:`rtlgen.bitstream.format.OpDescriptor`), ``input_bytes``
    the input the host writes, ``output_bytes`` the output it reads (the last descriptor's),
    ``walker_reads`` the walkers' reads of the configuration memory and of the weights store
    (:func:`rtlgen.accel.schedule.walker_reads`)."""
    from rtlgen.accel.schedule import vector_reads

    act, wgt, par = input_bytes, 0, 0
    issued = outputs = 0
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
    act += sum(op_output_bytes(op) for op in ops)
    vector = sum(vector_reads(op) for op in ops)
    return Traffic(reads={"activation": issued + vector + output_bytes, "weights": issued, "parameters": outputs,
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
        layers, ops, first, last = [], [], None, 0
        for d in bs.descriptors():
            g = d.geometry if hasattr(d, "geometry") else None
            if first is None and g is not None:
                first = g.in_h * g.in_w * g.in_c
            if isinstance(d, bsmod.LayerDescriptor):
                layers.append((d.kind, g, d.co_first, d.co_end))
                last = g.out_h * g.out_w * g.out_c
            else:
                ops.append(d)
                last = op_output_bytes(d)
        return cls(device, inference_traffic(layers, ops, lanes, first or 0, last,
                                             walker_reads=walker_reads(bs, units, lanes)))
