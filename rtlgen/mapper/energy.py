"""Whole-accelerator energy per inference of a mapping, for the mapper's points.

The per-component model of :mod:`rtlgen.accel.energy` (calibrated on gate-level runs) fed from
what the search already has: the multiplications' cost-flow energy from the energy table
(:class:`rtlgen.mapper.objectives.EnergyTable`: relative energy x the exact mapping's), the
layers' run cycles and the engines' clocked cycles from the cycle model
(:class:`rtlgen.mapper.throughput.CycleModel`, the same for every mapping that splits no layer;
the device gates an idle engine's clock) and the mapping's steady-state cycles per inference;
with ``memories`` (a
:class:`~rtlgen.accel.memories.DeviceMemories`), the SRAM macros' energy too, their writes
and reads counted from the space's layers and the cycle model's ops, and the walkers' reads of
the image stores from where the layers go (:meth:`rtlgen.mapper.throughput.CycleModel.walker_reads`).
Microseconds per point.

Why the search need not optimise it directly: the model is increasing in both the relative
multiplication energy and the cycles per inference, with almost everything else fixed by the
network, so a point that is dominated in (quality, relative energy, cycles) is dominated in
(quality, accelerator energy, cycles) too, up to small terms that depend on the placement; the
three-objective front holds the accelerator-energy front up to those, and the reports give each
point its energy per inference. The terms: each unit that owns a layer searches ``weights.bin``'s
records once per input (4 weights-store reads per record: 40 for ResNet-8's ten layers, under
1 nJ); a split layer's shares each round up to whole groups of lanes and drain their own
pipelines (``split_layers``), so its engine cycles and weight writes differ a little from the
whole layer's; and weight remaps lengthen the copies that carry them.
"""
from __future__ import annotations

from rtlgen.accel.energy import EnergyModel, InferenceEnergy
from rtlgen.accel.memories import DeviceMemories, InferenceMemories, inference_traffic, op_output_bytes
from rtlgen.mapper.objectives import EnergyTable
from rtlgen.mapper.space import Mapping
from rtlgen.mapper.throughput import CycleModel, Layout

__all__ = ["AcceleratorEnergy"]


class AcceleratorEnergy:
    """Energy per inference (:class:`~rtlgen.accel.energy.InferenceEnergy`) of a mapping."""

    def __init__(self, model: EnergyModel, table: EnergyTable, cycles: CycleModel, *,
                 clock_ns: float | None = None, memories: DeviceMemories | None = None):
        if model.lanes != cycles.lanes:
            raise ValueError(f"the energy model is calibrated for {model.lanes} lanes; the accelerator has "
                             f"{cycles.lanes}")
        self.model, self.table, self.cycles, self.clock_ns = model, table, cycles, clock_ns
        self.device = memories
        self._memories: dict[tuple[object, ...], InferenceMemories] = {}
        # what the host writes and reads per inference, the same for every mapping: the first
        # descriptor's input, the last one's output (an op after every layer, else the last layer)
        layers, ops = cycles.space.layers, cycles.ops
        first = next((op.geometry for op in ops if op.after_layers == 0 and hasattr(op, "geometry")),
                     layers[0].geometry if layers else None)
        last = layers[-1].geometry if layers else None
        self._host_bytes = (0 if first is None else first.in_h * first.in_w * first.in_c,
                            op_output_bytes(ops[-1]) if ops and ops[-1].after_layers == len(layers)
                            else 0 if last is None else last.out_h * last.out_w * last.out_c)
        whole = cycles.space.decode(cycles.space.uniform_point(0))    # every layer whole, on unit 0
        #: engine runs of the layer descriptors with every layer whole: the cycles some unit's
        #: datapath works (a mapping that splits layers: :meth:`CycleModel.active_cycles`)
        self.active_cycles = cycles.active_cycles(whole)
        #: the SRAM macros bound to the traffic of whole layers (None: not modelled)
        self.memories = self._memories_of(whole, cycles.layout(whole))

    def _memories_of(self, mapping: Mapping, layout: Layout) -> InferenceMemories | None:
        """The macros bound to ``mapping``'s traffic (``layout``: its descriptors): a split
        layer's shares each copy and run their own groups of lanes; the walkers' reads depend on
        where the layers go."""
        if self.device is None:
            return None
        reads = self.cycles.walker_reads(layout)
        key = (tuple(mapping.parts), reads)
        if key not in self._memories:
            cycles = self.cycles
            layers = [(layer.kind, layer.geometry, lo, hi) for layer, parts in zip(cycles.space.layers, mapping.parts)
                      for _, lo, hi in parts]
            traffic = inference_traffic(layers, cycles.ops, cycles.lanes, *self._host_bytes, walker_reads=reads)
            self._memories[key] = InferenceMemories(self.device, traffic)
        return self._memories[key]

    def evaluate(self, mapping: Mapping, cycles_per_inference: int | None = None) -> InferenceEnergy:
        """``mapping``'s energy per inference (``cycles_per_inference``: its steady state when
        already known)."""
        if cycles_per_inference is None:
            cycles_per_inference = self.cycles.evaluate(mapping).per_inference
        layout = self.cycles.layout(mapping)
        memories = self._memories_of(mapping, layout)
        return self.model.inference(mul_pj=self.table.relative(mapping) * self.table.reference,
                                    active_cycles=self.cycles.active_cycles(layout), cycles=cycles_per_inference,
                                    units=self.cycles.n_units, clocked_cycles=self.cycles.clocked_cycles(layout),
                                    clock_ns=self.clock_ns,
                                    memories=None if memories is None else memories.energy)
