"""``rtlgen map`` as a library call: model + images + accelerator + library -> a mapping run.

Glue only: the model comes from :mod:`rtlgen.nn`, accuracy from the emulator
(:mod:`rtlgen.mapper.network`), energy per multiplication from the cost flow
(:func:`rtlgen.cost.multiplier.catalog_costs` with each layer's operand histograms, cached in the catalog),
the accelerator's shape (units x multipliers per unit) from its TOML configuration (its
``[[unit]]`` lists, if any, are what the search replaces: each front point gets its own
``accel.toml`` with the chosen banks, whose resolved hash its bitstream records), the cycle
model's inputs (the accelerator's lanes, the model's op descriptors:
:mod:`rtlgen.mapper.throughput`); the search and its outputs from
:func:`rtlgen.mapper.flow.map_network`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rtlgen.conventions import AUTO_ENCODING, DEFAULT_ENGINE, EncodingChoice, EngineChoice, Granularity, check_name
from rtlgen.emulate.encoding import TABLE_SIGNED
from rtlgen.errors import CatalogError, ConfigError
from rtlgen.mapper.executors import Executor, make_executor
from rtlgen.mapper.flow import DeviceImages, EmulationResult, MapReport, map_network
from rtlgen.mapper.network import EmulatorAccuracy, layer_infos, load_images, parse_split
from rtlgen.mapper.objectives import get_quality
from rtlgen.mapper.search import SearchSettings
from rtlgen.mapper.space import Candidate, LayerInfo
from rtlgen.mapper.throughput import CycleSpec

__all__ = ["CatalogEnergy", "MapJob", "run_map_job"]


#: multiplier signedness each operand encoding needs (rtlgen.emulate.encoding); "auto" chooses
#: signmag or offset per layer (rtlgen.emulate.encoding.layer_encodings), both unsigned
_SIGNED = {AUTO_ENCODING: False, **TABLE_SIGNED}


class CatalogEnergy:
    """Energy per multiplication (pJ) from the cost flow, for catalog candidates.

    Called per candidate (the :data:`EnergyModel` protocol) or, faster, for a whole table with
    :meth:`table` (one cost-flow call per layer, ``jobs`` processes). Results are cached in the
    catalog's entries (saved at the end).
    """

    def __init__(self, catalog: Any, *, jobs: int = 1, n_vectors: int = 4096, seed: int = 0, pdk: Any = None):
        # pdk: a name or rtlgen.cost.pdk.Pdk (None: the default PDK)
        self.catalog, self.jobs, self.n_vectors, self.seed, self.pdk = catalog, jobs, n_vectors, seed, pdk

    def _spec(self, a_hist: np.ndarray, b_hist: np.ndarray) -> Any:
        from rtlgen.cost.activity import ActivitySpec

        return ActivitySpec.make(a_hist / a_hist.sum(), b_hist / b_hist.sum(), n_vectors=self.n_vectors,
                                 seed=self.seed)

    def __call__(self, candidate: Candidate, a_hist: np.ndarray, b_hist: np.ndarray) -> float:
        return float(self.values([candidate], [(a_hist, b_hist)])[0, 0])

    def values(self, candidates: Sequence[Candidate], hists: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        from rtlgen.cost.multiplier import catalog_costs

        out = np.empty((len(candidates), len(hists)))
        for li, (a, b) in enumerate(hists):
            # by name: a name that selects one implementation of its entry costs that circuit
            figs = catalog_costs(self.catalog, [c.name for c in candidates], activity=self._spec(a, b), jobs=self.jobs,
                                 pdk=self.pdk)
            out[:, li] = [figs[c.hash].energy_pj for c in candidates]
        self.catalog.save()
        return out


@dataclass(frozen=True)
class MapJob:
    model: Path
    images: Path
    accel: Path
    lib: Path
    out: Path
    search: str = "0:500"
    test: str = "500:1017"
    settings: SearchSettings = SearchSettings()
    granularity: Granularity = "filter"
    split_levels: int = 8
    encoding: EncodingChoice = AUTO_ENCODING
    candidates: tuple[str, ...] = ()
    scheduler: str | None = None
    workers: int | None = None
    layerwise_baseline: bool = True
    energy_vectors: int = 4096
    weight_tuning: str = "none"
    #: the search may split a layer by output channels over every unit (rtlgen.mapper.space)
    split_layers: bool = False
    engine: EngineChoice = DEFAULT_ENGINE  # rtlgen.emulate.ENGINES, or auto; all compute the same bytes
    quality: str = "accuracy"    # rtlgen.mapper.objectives.QUALITY_OBJECTIVES
    progress: bool = True
    pdk: str = "sky130hd"        # process of the energy model (rtlgen.cost.pdk)
    pdk_dirs: tuple[str, ...] = ()  # where its liberty files are, when they do not ship
    #: the accelerator's energy model (rtlgen.accel.energy; None: the shipped one for pdk and
    #: the accelerator's lanes, if any): every point's energy per inference
    energy_model: Path | None = None
    #: per worker and split, MiB of intermediate tensors kept for prefix reuse (0: off; None:
    #: rtlgen.mapper.network.PREFIX_CACHE_BYTES); changes the speed, never a result
    prefix_cache_mb: int | None = None


def run_map_job(job: MapJob) -> MapReport:
    from rtlgen.accel.config import load_config
    from rtlgen.emulate.from_bitstream import model_weights
    from rtlgen.library.catalog import Catalog, expand_keys
    from rtlgen.nn.tflite import load_tflite

    signed = _SIGNED[check_name("encoding choice", job.encoding, "map job")]
    if Path(job.out).exists() and not Path(job.out).is_dir():
        raise ConfigError("is a file; expected the run folder (created if missing)", file=str(job.out))
    try:
        objective = get_quality(job.quality)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = load_config(job.accel)
    # whole-accelerator energy per inference where a model is calibrated for this PDK and lane count
    from rtlgen.accel.energy import EnergyModel, shipped_model

    if job.energy_model is not None:
        accel_energy = EnergyModel.from_json(job.energy_model)
        if (accel_energy.pdk, accel_energy.lanes) != (job.pdk, config.lanes):
            raise ConfigError(f"energy model calibrated for {accel_energy.pdk} at {accel_energy.lanes} lanes; "
                              f"expected {job.pdk} at the accelerator's {config.lanes}", file=str(job.energy_model))
    else:
        accel_energy = shipped_model(job.pdk, config.lanes)
    catalog = Catalog.open(job.lib)
    graph = load_tflite(job.model)
    x, y = load_images(job.images, labels=objective.needs_labels)
    s_sl = parse_split(job.search, len(x), "--search")
    t_sl = parse_split(job.test, len(x), "--test")
    if s_sl.start < t_sl.stop and t_sl.start < s_sl.stop:
        raise ValueError(f"--search {job.search} and --test {job.test} overlap: the test split must be held out")
    # candidates: the named ones, or every catalog multiplier of the encoding's signedness
    # (patterns such as mul8u_roup_* expand to the names they match: rtlgen.library.catalog).
    # A candidate keeps the name it was given when that name selects one of its entry's
    # implementations (mul8u_roup_p0_r0: the exact Booth circuit, not the entry's default
    # array netlist), so its energy and its hardware are that circuit's (Catalog.implementation).
    keys = expand_keys(job.candidates, (n for e in catalog.entries for n in e.all_names), what="candidates")
    named = [(catalog.get(k), k) for k in keys] if keys else [(e, e.name) for e in catalog.entries if e.signed == signed]
    wrong = [e.name for e, _ in named if e.signed != signed]
    if wrong:
        raise ConfigError(f"encoding {job.encoding} needs {'signed' if signed else 'unsigned'} multipliers; "
                          f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not")
    from rtlgen.cost.multiplier import exact_entry

    exact = exact_entry(catalog, signed)
    if exact.hash not in {e.hash for e, _ in named}:
        named = [(exact, exact.name)] + named
    chosen: dict[str, tuple[Any, str]] = {}
    for e, key in named:        # one candidate per function: the first name given for it
        chosen.setdefault(e.hash, (e, key if any(i.name == key for i in e.implementations) else e.name))
    if not chosen:
        raise CatalogError(f"{job.lib} holds no {'signed' if signed else 'unsigned'} multiplier")
    candidates = [Candidate.from_table(name, catalog.table(e.hash), e.signed) for e, name in chosen.values()]
    tables = {c.hash: c.table for c in candidates}
    layers: list[LayerInfo] = layer_infos(graph, x[s_sl], encoding=job.encoding, signed=signed)
    # weight tuning calibrates on the search images, for every split alike
    act_hists = None
    if job.weight_tuning == "histogram":
        from rtlgen.emulate.emulator import Emulator

        act_hists = Emulator(graph).activation_histograms(x[s_sl])
    cache_bytes = None if job.prefix_cache_mb is None else int(job.prefix_cache_mb) << 20
    search_model = EmulatorAccuracy(graph, x[s_sl], None if y is None else y[s_sl], tables, signed=signed,
                                    act_hists=act_hists, engine=job.engine, quality=job.quality,
                                    prefix_cache_bytes=cache_bytes)
    test_model = EmulatorAccuracy(graph, x[t_sl], None if y is None else y[t_sl], tables, signed=signed,
                                  act_hists=act_hists, engine=job.engine, quality=job.quality,
                                  prefix_cache_bytes=cache_bytes)
    # the exact runs once here, not in every worker (they travel with the models)
    search_model.exact_outcomes, test_model.exact_outcomes

    from rtlgen.cost.pdk import get_pdk

    energy = CatalogEnergy(catalog, jobs=job.workers or (os.cpu_count() or 1), n_vectors=job.energy_vectors,
                           pdk=get_pdk(job.pdk).with_search(job.pdk_dirs))

    def executor_factory() -> Executor:
        if job.scheduler:
            return make_executor("dask", scheduler=job.scheduler)
        if job.workers == 1:
            return make_executor("serial")
        return make_executor("local", workers=job.workers)

    names = {c.hash: c.name for c in candidates}

    def accel_for(banks: list[list[str]]) -> tuple[str, str]:
        resolved = config.with_multipliers(banks)
        named = config.with_multipliers([[names[h] for h in bank] for bank in banks])
        return resolved.config_hash(), named.to_toml()

    def emulate(bitstream: Any) -> EmulationResult:
        from rtlgen.emulate.from_bitstream import emulator_from_bitstream

        res = emulator_from_bitstream(graph, bitstream, lambda h: (tables[h], signed), engine=job.engine).run(x)
        split = {}
        for name, model, sl in (("search", search_model, s_sl), ("test", test_model, t_sl)):
            part = type(res)(logits=res.logits[sl], output=res.output[sl], pred=res.pred[sl])
            split[name] = model.quality(model.outcomes_of(part))
        return EmulationResult(logits=np.asarray(res.logits), search_accuracy=split["search"],
                               test_accuracy=split["test"])

    from rtlgen.accel.images import check_fits, with_plan
    from rtlgen.accel.memories import device_memories
    from rtlgen.bitstream import weights as wmod

    weights = model_weights(graph, config.lanes)

    def plan(stream: Any) -> Any:
        # what 'rtlgen bitstream build' checks: the plan fits the activation memory, the
        # layers the weight and parameter memories, both images their stores
        planned = with_plan(stream, graph, config.activation_bytes, source=config.source)
        check_fits(planned, weights, config)
        return planned

    # the cycle model: every point's cycles per inference, and the third objective when asked
    from rtlgen.bitstream.opdesc import op_descriptors
    from rtlgen.errors import BitstreamError

    try:
        cycle_spec: CycleSpec | None = CycleSpec(config.lanes, op_descriptors(graph))
    except BitstreamError as exc:   # an ADD or PAD the device cannot run: no device schedule to model
        if job.settings.throughput or job.split_layers:
            raise ConfigError(f"{'splitting layers' if job.split_layers else 'the throughput objective'} needs a model "
                              f"the device runs: {exc}") from None
        cycle_spec = None


    def device_cycles(config_bin: bytes, weights_bin: bytes) -> int:
        from rtlgen.accel.schedule import batch_cycles

        return batch_cycles(config_bin, weights_bin, config).total

    return map_network(layers, candidates, n_units=config.units, slots_per_unit=config.multipliers,
                       search_accuracy=search_model, test_accuracy=test_model, energy=energy,
                       settings=job.settings, out_dir=job.out, accel_hash=accel_for,
                       granularity=job.granularity, split_levels=job.split_levels,  # type: ignore[arg-type]
                       encoding=job.encoding, weight_tuning=job.weight_tuning,
                       executor_factory=executor_factory, emulate=emulate,
                       layerwise_baseline=job.layerwise_baseline, progress=job.progress,
                       model_hash=weights.model_hash,
                       device=DeviceImages(plan, wmod.encode(weights), cycles=device_cycles), cycles=cycle_spec,
                       accel_energy=accel_energy,
                       memories=None if accel_energy is None else device_memories(config, job.pdk),
                       split_layers=job.split_layers)
