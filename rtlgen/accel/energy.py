"""Energy per inference of the whole accelerator: a per-component model calibrated on gate level.

The gate-level power flow (:mod:`rtlgen.accel.power`) takes minutes per layer run; the mapper
needs an energy per inference in microseconds. This model splits a compute unit's energy into the
categories of :attr:`rtlgen.accel.power.LayerPower.breakdown` and charges each in proportion to
what drives it::

    E_inference = mul_scale * E_mul                          (multipliers)
                + logic_pj * active_cycles                   (datapath, requantizer, controller)
                + clocked_pj * clocked_cycles                (flip-flops and the clock cone)
                + leakage_mw * units * cycles * clock_ns     (leakage)

* ``E_mul``: the cost flow's energy of the inference's multiplications, ``sum_l MACs_l x
  E(c, hist_l)`` with each layer's multipliers and operand histograms (the mapper's energy
  table, :class:`rtlgen.mapper.objectives.EnergyTable`). ``mul_scale`` is what the bank slots draw
  in the accelerator per unit of that: their loads, operand order and layout differ from the
  cost flow's stand-alone netlist;
* ``active_cycles``: the cycles some unit runs a descriptor (the sum over an inference's
  descriptors of their run; :class:`rtlgen.accel.schedule.Run`); ``logic_pj`` is the datapath's
  energy per such cycle. An idle unit's logic holds still and is charged nothing;
* ``cycles``: cycles per inference (steady state, :attr:`rtlgen.accel.schedule.BatchCycles.
  interval`); leakage is charged per unit per cycle, which couples energy to throughput: a
  placement whose units overlap better has fewer cycles to pay for;
* ``clocked_cycles``: the cycles after which a unit's flip-flops get a clock edge, summed over
  the units; ``clocked_pj`` (the ``registers`` and ``clock`` categories per cycle) is charged per
  such cycle. On the device each engine has its own gated clock (:mod:`rtlgen.accel.top`): it is
  clocked after the cycles it runs or its walker writes it, ``ENGINE_CLOCKS``
  (:func:`rtlgen.accel.schedule.engine_clocks` per layer descriptor; the multipliers' operand
  registers are gated further, :mod:`rtlgen.accel.bank`). Without it (the host-port top,
  ``--no-clock-gating``) every unit is clocked every cycle: ``units * cycles``, the default.

Calibration (:func:`calibrate`): each coefficient is the ratio of sums over gate-level layer runs
of one compute unit (:class:`CalibrationRun`): ``mul_scale`` = the bank slots' dynamic energy /
``E_mul``; ``logic_pj`` = the ``logic`` category's dynamic energy / cycles; ``clocked_pj`` =
``registers`` + ``clock`` dynamic energy / cycles; ``leakage_mw`` = the mean leakage of every
category but the memories. In those runs the unit is busy every cycle, so ``active_cycles ==
cycles``. :func:`errors` compares the model with runs it was not fitted on.

What it leaves out (each stated where the figures are quoted):

* **memories** in the calibration: the gate-level flow maps memories to flip-flops sized for the
  test workload (a few hundred bytes), a register file's energy, not an SRAM's. Their measured
  energy per cycle is kept (:attr:`EnergyModel.memories_pj`) and reported, never extrapolated;
  memory read multiplexers and write decoders are in ``logic`` at the calibration design's size.
  The device's memories as SRAM macros are a separate term, ``memories_pj`` of
  :meth:`EnergyModel.inference`, from :mod:`rtlgen.accel.memories` (the PDK's macro liberty
  files, not a calibration): zero where none is given;
* the sequencer, loader, vector unit and bus front end (not in the one-unit layer-run design the
  calibration simulates); op descriptors (ADD, pools) count as cycles, not as active cycles;
* the same biases as the gate-level flow: zero-delay activity, no wires, no clock tree.

Shipped models (:data:`SHIPPED`, :func:`shipped_model`): ``sky130hd_16lanes.json`` and
``sky130hd_8lanes.json``, each fitted on twelve gate-level runs (crops of ResNet-8's conv layers
0-2, each slot of a bank of four; ``benchmarks/RESULTS.md``): a layer's runs predicted by the
model fitted on the other layers are within 1.6% (16 lanes) and 7.0% (8 lanes) of the gate level.

Energy scales with the clock only through leakage (dynamic energy per cycle does not depend on
the period), so :meth:`EnergyModel.inference` takes the clock of the Fmax it is quoted at.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

from rtlgen.accel.power import LayerPower
from rtlgen.errors import ConfigError
from rtlgen.paths import atomic_write_text

__all__ = ["CalibrationRun", "EnergyModel", "InferenceEnergy", "calibrate", "errors",
           "non_memory_energy_pj", "SHIPPED", "shipped_model", "shipped_model_path"]


@dataclass(frozen=True)
class CalibrationRun:
    """One gate-level layer run on one busy compute unit and the cost flow's energy of its
    multiplications (pJ, ``MACs x E(c, hist)`` summed over the multipliers the run used)."""

    power: LayerPower
    mul_pj: float


def _energy_pj(mw: float, run: LayerPower) -> float:
    return mw * run.cycles * run.clock_ns


def non_memory_energy_pj(run: LayerPower) -> float:
    """A gate-level run's energy (pJ) without the flip-flop memories: what the model predicts."""
    return _energy_pj(sum(c.total_mw for k, c in run.breakdown.items() if k != "memories"), run)


@dataclass(frozen=True)
class InferenceEnergy:
    """One inference's energy (pJ) by component at ``clock_ns``; ``memories_pj``: the SRAM
    macros' (:mod:`rtlgen.accel.memories`), 0 where not modelled."""

    multipliers_pj: float
    logic_pj: float
    clocked_pj: float
    leakage_pj: float
    cycles: float
    clock_ns: float
    memories_pj: float = 0.0

    @property
    def total_pj(self) -> float:
        return self.multipliers_pj + self.logic_pj + self.clocked_pj + self.leakage_pj + self.memories_pj

    @property
    def inferences_per_s(self) -> float:
        return 1e9 / (self.cycles * self.clock_ns)

    @property
    def power_mw(self) -> float:
        """Average power: energy per inference x inferences per second."""
        return self.total_pj / (self.cycles * self.clock_ns)

    def to_dict(self) -> dict:
        return dict(asdict(self), total_pj=self.total_pj, inferences_per_s=self.inferences_per_s,
                    power_mw=self.power_mw)


@dataclass(frozen=True)
class EnergyModel:
    """Per compute unit coefficients (see the module docstring) and where they come from."""

    mul_scale: float          # bank slots' dynamic energy per pJ of the cost flow's E_mul
    logic_pj: float           # per active cycle
    clocked_pj: float         # per clocked cycle of a unit
    leakage_mw: float         # per unit
    memories_pj: float        # flip-flop memories per cycle in the calibration design (reported only)
    clock_ns: float           # the calibration runs' clock
    lanes: int
    pdk: str
    runs: int                 # calibration runs

    def run_energy_pj(self, cycles: int, mul_pj: float) -> float:
        """A busy unit's energy (pJ) for one run of ``cycles`` whose multiplications cost
        ``mul_pj`` in the cost flow; memories not included (as the gate-level runs it is checked
        against: :func:`non_memory_energy_pj`)."""
        return self.inference(mul_pj=mul_pj, active_cycles=cycles, cycles=cycles, units=1).total_pj

    def inference(self, *, mul_pj: float, active_cycles: float, cycles: float, units: int,
                  clocked_cycles: float | None = None, clock_ns: float | None = None,
                  memories: Callable[[float, float], float] | None = None) -> InferenceEnergy:
        """Energy of one inference: multiplications costing ``mul_pj`` (cost flow), descriptors
        running for ``active_cycles`` in all, ``cycles`` per inference on ``units`` units whose
        flip-flops are clocked after ``clocked_cycles`` cycles in all (default ``units * cycles``:
        no gated engine clocks; the module docstring), at ``clock_ns`` (default the
        calibration's); ``memories``: the SRAM macros' energy (pJ) as a function of (cycles,
        clock_ns), e.g. :meth:`rtlgen.accel.memories.InferenceMemories.energy` (None: not
        included)."""
        clock = self.clock_ns if clock_ns is None else clock_ns
        clocked = units * cycles if clocked_cycles is None else clocked_cycles
        return InferenceEnergy(multipliers_pj=self.mul_scale * mul_pj,
                               logic_pj=self.logic_pj * active_cycles,
                               clocked_pj=self.clocked_pj * clocked,
                               leakage_pj=self.leakage_mw * units * cycles * clock,
                               cycles=cycles, clock_ns=clock,
                               memories_pj=0.0 if memories is None else float(memories(cycles, clock)))

    def to_json(self, path: str | os.PathLike) -> None:
        atomic_write_text(Path(path), json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "EnergyModel":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read the energy model ({e}); expected the JSON written by "
                              "EnergyModel.to_json", file=str(path)) from None
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ConfigError(f"energy model keys {got}; expected {sorted(names)}", file=str(path))
        return cls(**data)


def calibrate(runs: Sequence[CalibrationRun], *, pdk: str, lanes: int) -> EnergyModel:
    """Fit the coefficients to gate-level runs of one busy unit (the module docstring)."""
    if not runs:
        raise ValueError("calibration needs at least one gate-level run")
    clocks = {r.power.clock_ns for r in runs}
    if len(clocks) != 1:
        raise ValueError(f"calibration runs at different clocks {sorted(clocks)}; expected one")
    cycles = sum(r.power.cycles for r in runs)

    def dynamic(pred) -> float:
        return float(sum(_energy_pj(sum(c.dynamic_mw for k, c in r.power.breakdown.items() if pred(k)), r.power)
                         for r in runs))

    mul_pj = float(sum(r.mul_pj for r in runs))
    if mul_pj <= 0:
        raise ValueError("the runs' multiplication energy must be positive")
    leak = [sum(c.leakage_mw for k, c in r.power.breakdown.items() if k != "memories") for r in runs]
    return EnergyModel(mul_scale=dynamic(lambda k: k.startswith("u")) / mul_pj,
                       logic_pj=dynamic(lambda k: k == "logic") / cycles,
                       clocked_pj=dynamic(lambda k: k in ("registers", "clock")) / cycles,
                       leakage_mw=float(sum(leak) / len(leak)),
                       memories_pj=dynamic(lambda k: k == "memories") / cycles,
                       clock_ns=clocks.pop(), lanes=lanes, pdk=pdk, runs=len(runs))


def errors(model: EnergyModel, runs: Sequence[CalibrationRun]) -> list[float]:
    """Relative error (model / gate level - 1) of each run's energy without the memories."""
    return [model.run_energy_pj(r.power.cycles, r.mul_pj) / non_memory_energy_pj(r.power) - 1.0
            for r in runs]


#: models calibrated by ``benchmarks/bench_accel_power.py --calibrate``, shipped with the package
SHIPPED = Path(__file__).resolve().parent.parent / "data" / "energy"


def shipped_model_path(pdk: str, lanes: int) -> Path | None:
    """The shipped model's file for ``pdk`` and ``lanes`` lanes per unit
    (``SHIPPED/{pdk}_{lanes}lanes.json``), or None where none was calibrated (the coefficients
    are per unit of that many lanes)."""
    path = SHIPPED / f"{pdk}_{lanes}lanes.json"
    return path if path.is_file() else None


def shipped_model(pdk: str, lanes: int) -> EnergyModel | None:
    """The shipped model for ``pdk`` and ``lanes`` (:func:`shipped_model_path`), or None."""
    path = shipped_model_path(pdk, lanes)
    return None if path is None else EnergyModel.from_json(path)
