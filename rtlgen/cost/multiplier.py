"""Hardware cost of a multiplier, computed the same way for every circuit.

Flow: Yosys maps the netlist to the liberty's cells (:mod:`rtlgen.cost.synth`); the cell count and
area (sum of liberty cell areas) follow. OpenSTA times it (:mod:`rtlgen.cost.sta`): critical-path
delay and every pin's slew. An operand stream (:mod:`rtlgen.cost.activity`) is simulated through the
*synthesized* netlist, and power follows from the simulated activity:

* internal: for every cell arc, output rises/falls per cycle (attributed to the toggling input,
  split by the input's direction) times the liberty ``rise_power``/``fall_power`` energy at the
  output net's load and that input's slew of that direction (from OpenSTA), bilinear
  interpolation as OpenSTA does;
* switching: per net, toggles per cycle x 1/2 C V^2, C = the pin capacitances of its loads plus
  ``output_load_pf`` per output port bit it drives (no wire load: the library has none); the
  nets of the inputs A and B count too (the multiplier's input capacitance);
* leakage: the sum of ``cell_leakage_power``.

The per-net and per-arc terms are :mod:`rtlgen.cost.power`'s (shared with the accelerator's power,
:mod:`rtlgen.accel.power`). Power is that energy per cycle at the clock of :class:`rtlgen.cost.sta.StaConfig` (default 10 ns,
100 MHz). Debian's OpenSTA cannot take per-net activity (see :mod:`rtlgen.cost.sta`), hence our own
sum; OpenSTA's estimate from the same input-bit activities, propagated with its independence
assumption, is kept as ``sta_power_mw`` for comparison.

Units: area um^2, delay ns, power mW, energy pJ (= mW x ns). Energy per multiplication is
power / clock frequency = power x clock period: one multiplication per cycle.

The process is a choice (:mod:`rtlgen.cost.pdk`): ``pdk`` names a registered PDK (default
``sky130hd``), whose prepared liberty file and timing environment (input driver, output load)
are used; ``liberty`` instead gives a file of the user's, timed in ``config`` (default
:class:`rtlgen.cost.sta.StaConfig`'s).

Results are cached (:class:`CostCache`) under the identity of everything they depend on: table
hash, netlist file hash, liberty file hash (so each PDK has its own figures), activity spec,
timing environment and model version.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from rtlgen.cost.activity import (ActivitySpec, CompiledNetlist, arc_activity, net_activity, simulate_stream,
                       tabulate_mapped)
from rtlgen.library.catalog import Catalog, Entry, Implementation
from rtlgen.errors import CatalogError, VerificationError
from rtlgen.netlist.liberty import read_liberty
from rtlgen.netlist.multiplier import read_multiplier
from rtlgen.paths import atomic_write_text, file_hash
from rtlgen.cost.pdk import Pdk, get_pdk, resolve_liberty
from rtlgen.cost.power import arc_energy, net_capacitance, switching_energy
from rtlgen.cost.sta import StaConfig, run_sta
from rtlgen.cost.synth import MappedNetlist, synthesize
from rtlgen.netlist.table import exact_table, table_hash

__all__ = [
    "MODEL_VERSION",
    "CostFigures",
    "CostCache",
    "JsonCostCache",
    "hardware_cost",
    "cost_of_mapped",
    "energy_per_mult",
    "power_from_activity",
    "cost_key",
    "CatalogCostCache",
    "catalog_cost",
    "catalog_costs",
    "implementation_costs",
    "exact_entry",
    "relative_to",
]

#: Bumped whenever a change alters figures, so that cached ones are recomputed.
MODEL_VERSION = 1


@dataclass(frozen=True)
class CostFigures:
    """Cost of one multiplier netlist (units in the field names)."""

    name: str
    signed: bool
    table_hash: str
    netlist_hash: str
    liberty_hash: str
    activity: str
    environment: str
    cells: int
    area_um2: float
    delay_ns: float
    clock_ns: float
    power_mw: float
    internal_mw: float
    switching_mw: float
    leakage_mw: float
    energy_pj: float              # per multiplication: power_mw * clock_ns
    sta_power_mw: float           # OpenSTA's own propagated estimate (cross-check)
    cell_counts: dict[str, int] = field(default_factory=dict)
    critical_path: tuple[str, ...] = ()

    def to_json(self) -> dict:
        d = asdict(self)
        d["critical_path"] = list(self.critical_path)
        d["model_version"] = MODEL_VERSION
        return d

    @classmethod
    def from_json(cls, d: dict) -> "CostFigures":
        d = dict(d)
        d.pop("model_version", None)
        d["critical_path"] = tuple(d.get("critical_path", ()))
        return cls(**d)


def cost_key(netlist_hash: str, liberty_hash: str, activity: ActivitySpec, config: StaConfig,
             table_hash_: str | None = None) -> str:
    parts = [f"v{MODEL_VERSION}", f"net={netlist_hash}", f"lib={liberty_hash}", activity.key, config.key]
    if table_hash_:
        parts.insert(1, f"table={table_hash_}")
    return "cost:" + "|".join(parts)


class CostCache(Protocol):
    def get(self, key: str) -> dict | None: ...
    def put(self, key: str, value: dict) -> None: ...


class JsonCostCache:
    """Cost figures in one JSON file (written atomically), for netlists outside a catalog."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._data: dict[str, dict] | None = None

    def _load(self) -> dict[str, dict]:
        if self._data is None:
            if self.path.is_file():
                try:
                    self._data = json.loads(self.path.read_text())
                except json.JSONDecodeError as exc:
                    raise CatalogError(f"cost cache {self.path} is corrupt: {exc}") from None
            else:
                self._data = {}
        return self._data

    def get(self, key: str) -> dict | None:
        return self._load().get(key)

    def put(self, key: str, value: dict) -> None:
        data = self._load()
        data[key] = value
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))


def power_from_activity(mapped: MappedNetlist, waves, slews_ns: dict[str, tuple[float, float]],
                        config: StaConfig) -> dict[str, float]:
    """Internal, switching, leakage and total power (mW) of simulated ``waves`` at ``config``'s
    clock, with the liberty power model of :mod:`rtlgen.cost.power`."""
    lib = mapped.library
    compiled: CompiledNetlist = waves.compiled
    nets = net_activity(waves)
    arcs = arc_activity(waves)
    types = {op.name: op for op in compiled.cells}
    port_loads = {b: config.output_load_pf / lib.cap_unit_pf
                  for bits in compiled.outputs.values() for b in bits if isinstance(b, int)}
    load = net_capacitance(lib, compiled.net_loads, {n: op.type for n, op in types.items()}, port_loads)
    internal = 0.0
    for (cname, ipin, opin), rates in arcs.rates.items():
        if sum(rates) == 0.0:
            continue
        op = types[cname]
        rise, fall = arc_energy(lib, op.type, ipin, opin, rates, load.get(op.outputs[opin], 0.0),
                                slews_ns.get(f"{cname}/{ipin}", (0.0, 0.0)))
        internal += rise
        internal += fall
    internal_pj = internal * lib.energy_unit_pj
    switching_pj = sum(switching_energy(lib, load.get(net, 0.0), rate)
                       for net, rate in nets.toggle_rate.items())
    leakage_mw = sum(lib.cell(op.type).leakage for op in compiled.cells) * lib.leakage_unit_mw
    internal_mw = internal_pj / config.clock_ns
    switching_mw = switching_pj / config.clock_ns
    return {"internal": internal_mw, "switching": switching_mw, "leakage": leakage_mw,
            "total": internal_mw + switching_mw + leakage_mw}


def hardware_cost(
    netlist: str | os.PathLike,
    *,
    signed: bool | None = None,
    top: str | None = None,
    liberty: str | os.PathLike | None = None,
    pdk: str | Pdk | None = None,
    activity: ActivitySpec | None = None,
    config: StaConfig | None = None,
    cache: CostCache | None = None,
    name: str | None = None,
    expected_table: np.ndarray | None = None,
) -> CostFigures:
    """Area, delay, power and energy per multiplication of one 8x8 multiplier netlist.

    ``signed`` defaults from the module name (``mul8s_*``). The table of the synthesized netlist
    must equal the source netlist's (or ``expected_table``; given together with ``signed``, the
    source is not read again): a mismatch raises, naming the first operands. Synthesis results
    are kept in-process, so the same netlist under another activity only re-simulates.
    """
    netlist = Path(netlist)
    if not netlist.is_file():
        raise FileNotFoundError(f"netlist {netlist} not found")
    lib_path, config = _environment(liberty, pdk, config)
    activity = activity or ActivitySpec.make()
    n_hash, l_hash = file_hash(netlist), read_liberty(lib_path).hash
    if expected_table is not None and signed is not None:
        # The caller (e.g. a catalog) knows the circuit: the synthesized netlist is checked below.
        table = np.asarray(expected_table)
        signed = bool(signed)
    else:
        # The source netlist's own table identifies the circuit and checks the synthesis below.
        # a PDK's cells are not the ones netlists instantiate (EvoApprox _pdk45 netlists use
        # OSU018 names): the reader then uses its own default library
        source, table, signed = read_multiplier(netlist, signed=signed, top=top, liberty=liberty)
        top = top or source.name
        if expected_table is not None:
            _check_same(table, expected_table, what=f"{netlist} (as read)")
    t_hash = table_hash(table, signed)
    key = cost_key(n_hash, l_hash, activity, config, t_hash)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None and hit.get("model_version") == MODEL_VERSION:
            return CostFigures.from_json(hit)
    prepared = _prepare(str(netlist.resolve()), n_hash, top, str(Path(lib_path).resolve()), l_hash, signed)
    _check_same(prepared.table, table, what=f"{prepared.mapped.top} after synthesis ({netlist})")
    figures = _measure(prepared, signed=signed, activity=activity, config=config,
                       name=name or prepared.mapped.top, t_hash=t_hash)
    if cache is not None:
        cache.put(key, figures.to_json())
    return figures


def _environment(liberty: str | os.PathLike | None, pdk: str | Pdk | None,
                 config: StaConfig | None) -> tuple[Path, StaConfig]:
    """The liberty file and timing environment of a cost: ``liberty`` (with ``config`` or the
    default :class:`StaConfig`), else ``pdk``'s prepared file (with ``config`` or its own)."""
    if liberty is not None:
        if pdk is not None:
            raise ValueError(f"give a PDK ({pdk}) or a liberty file ({liberty}), not both")
        return Path(liberty), config or StaConfig()
    return resolve_liberty(None, pdk), config or get_pdk(pdk).sta_config()


@dataclass(frozen=True)
class _Prepared:
    mapped: MappedNetlist
    compiled: CompiledNetlist
    table: np.ndarray  # of the synthesized netlist


@functools.lru_cache(maxsize=128)
def _prepare(path: str, n_hash: str, top: str | None, lib_path: str, l_hash: str, signed: bool) -> _Prepared:
    """Synthesis and tabulation of one netlist, kept in-process: costing the same circuit under
    many operand histograms (one per DNN layer) then only re-simulates and re-times it.
    ``n_hash``/``l_hash`` are part of the key so that an edited file is synthesized again."""
    mapped = synthesize(path, top=top, liberty=lib_path)
    compiled = CompiledNetlist(mapped)
    table = tabulate_mapped(compiled, signed)
    table.setflags(write=False)
    return _Prepared(mapped, compiled, table)


def _measure(prepared: _Prepared, *, signed: bool, activity: ActivitySpec, config: StaConfig, name: str,
             t_hash: str) -> CostFigures:
    mapped, compiled = prepared.mapped, prepared.compiled
    waves = simulate_stream(compiled, activity)
    nets = net_activity(waves)
    report = run_sta(mapped, config, input_activity=nets.port_bits(compiled))
    power = power_from_activity(mapped, waves, report.slews_ns, config)
    return CostFigures(
        name=name,
        signed=signed,
        table_hash=t_hash,
        netlist_hash=mapped.source_hash,
        liberty_hash=mapped.library.hash,
        activity=activity.key,
        environment=config.key,
        cells=mapped.n_cells,
        area_um2=mapped.area,
        delay_ns=report.delay_ns,
        clock_ns=config.clock_ns,
        power_mw=power["total"],
        internal_mw=power["internal"],
        switching_mw=power["switching"],
        leakage_mw=power["leakage"],
        energy_pj=power["total"] * config.clock_ns,
        sta_power_mw=report.sta_power_mw["total"],
        cell_counts=mapped.cell_counts,
        critical_path=report.critical_path,
    )


def cost_of_mapped(mapped: MappedNetlist, *, signed: bool, activity: ActivitySpec, config: StaConfig,
                   name: str, expected_table: np.ndarray | None = None) -> CostFigures:
    """Cost of an already synthesized netlist (no cache)."""
    compiled = CompiledNetlist(mapped)
    table = tabulate_mapped(compiled, signed)
    if expected_table is not None:
        _check_same(table, expected_table, what=f"{mapped.top} after synthesis ({mapped.source})")
    return _measure(_Prepared(mapped, compiled, table), signed=signed, activity=activity, config=config,
                    name=name, t_hash=table_hash(table, signed))


def _check_same(got: np.ndarray, expected: np.ndarray, *, what: str) -> None:
    diff = np.argwhere(np.asarray(expected) != got)
    if len(diff):
        a, b = (int(x) for x in diff[0])
        raise VerificationError(
            f"{what} differs from the expected table at {len(diff)} operand pairs; first "
            f"(a={a}, b={b}): expected {int(expected[a, b])}, got {int(got[a, b])}"
        )


def energy_per_mult(
    netlist: str | os.PathLike,
    *,
    a_hist=None,
    b_hist=None,
    n_vectors: int = 16384,
    seed: int = 0,
    **kwargs,
) -> float:
    """Energy per multiplication (pJ) of ``netlist`` when port A's bit patterns follow ``a_hist``
    and port B's follow ``b_hist`` (length-256 probabilities; ``None`` = uniform), drawn
    independently each cycle. Other keyword arguments go to :func:`hardware_cost`."""
    spec = ActivitySpec.make(a_hist, b_hist, n_vectors=n_vectors, seed=seed)
    return hardware_cost(netlist, activity=spec, **kwargs).energy_pj


class CatalogCostCache:
    """Cost figures kept in a catalog entry's ``extra`` (call ``catalog.save()`` to persist)."""

    def __init__(self, catalog: Catalog, entry_hash: str):
        self.catalog = catalog
        self.entry_hash = entry_hash

    def get(self, key: str) -> dict | None:
        value = self.catalog.get(self.entry_hash).extra.get(key)
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict) -> None:
        self.catalog.set_extra(self.entry_hash, key, value)


def _cost_job(job: tuple) -> CostFigures:
    path, signed, liberty, activity, config, name, table = job
    return hardware_cost(path, signed=signed, liberty=liberty, activity=activity, config=config,
                         name=name, expected_table=table)


_POOLS: dict[int, object] = {}


def _pool(jobs: int):
    """A process pool kept for the session, so that its workers keep their synthesis caches
    between calls (the mapper costs every candidate once per layer histogram)."""
    from concurrent.futures import ProcessPoolExecutor

    pool = _POOLS.get(jobs)
    if pool is None or getattr(pool, "_broken", False):
        pool = _POOLS[jobs] = ProcessPoolExecutor(max_workers=jobs)
    return pool


def implementation_costs(
    catalog: Catalog,
    keys: list[str] | None = None,
    *,
    kind: str = "generic",
    activity: ActivitySpec | None = None,
    config: StaConfig | None = None,
    liberty: str | os.PathLike | None = None,
    pdk: str | Pdk | None = None,
    jobs: int = 1,
) -> list[tuple[Entry, Implementation, CostFigures]]:
    """Cost of netlists of the catalog: one figure per netlist, since two circuits of one function
    (an entry's implementations) differ in area and energy.

    ``keys`` select netlists as :meth:`Catalog.implementation` does (an implementation's name
    selects that netlist; an entry's name, alias or hash its default ``kind`` netlist); None
    selects every ``kind`` implementation of every entry (an entry without one: its first).
    Results come one per key, in the order of ``keys`` (each netlist costed once), figures
    named after the implementation. Each netlist must tabulate to its entry's table. Figures are
    cached in the entries' ``extra`` under :func:`cost_key` (which holds the netlist's hash);
    call ``catalog.save()`` to keep them. ``jobs`` > 1 computes misses in that many processes.
    ``pdk``/``liberty``/``config``: as in :func:`hardware_cost`.
    """
    activity = activity or ActivitySpec.make()
    lib_path, config = _environment(liberty, pdk, config)
    l_hash = read_liberty(lib_path).hash
    if keys:
        chosen = [(catalog.get(k), catalog.implementation(k, kind)) for k in keys]
    else:
        chosen = [(e, imp) for e in catalog.entries
                  for imp in ([i for i in e.implementations if i.kind == kind] or [e.default_implementation(kind)])]
    found: dict[tuple[str, Path], CostFigures] = {}
    todo: list[tuple[Entry, Implementation, str, tuple]] = []
    for entry, imp in {(e.hash, imp.path): (e, imp) for e, imp in chosen}.values():
        key = cost_key(file_hash(imp.path), l_hash, activity, config, entry.hash)
        hit = CatalogCostCache(catalog, entry.hash).get(key)
        if hit is not None and hit.get("model_version") == MODEL_VERSION:
            # the key holds the netlist's hash; the name is only the label of the figures
            found[entry.hash, imp.path] = replace(CostFigures.from_json(hit), name=imp.name)
        else:
            todo.append((entry, imp, key, (imp.path, entry.signed, lib_path, activity, config, imp.name,
                                           np.asarray(catalog.table(entry.hash)))))
    if jobs > 1 and len(todo) > 1:
        results = list(_pool(jobs).map(_cost_job, [job for *_, job in todo]))
    else:
        results = [_cost_job(job) for *_, job in todo]
    for (entry, imp, key, _), figures in zip(todo, results):
        catalog.set_extra(entry.hash, key, figures.to_json())
        found[entry.hash, imp.path] = figures
    return [(e, imp, found[e.hash, imp.path]) for e, imp in chosen]


def catalog_costs(
    catalog: Catalog,
    keys: list[str] | None = None,
    *,
    kind: str = "generic",
    activity: ActivitySpec | None = None,
    config: StaConfig | None = None,
    liberty: str | os.PathLike | None = None,
    pdk: str | Pdk | None = None,
    jobs: int = 1,
) -> dict[str, CostFigures]:
    """Cost of catalog entries (names, aliases or hashes; default all), by entry hash.

    Each key selects one netlist as in :func:`implementation_costs` (keys=None: each entry's
    default ``kind`` netlist). Two keys that select different netlists of one entry raise
    :class:`CatalogError` (the result has one figure per entry): cost them with
    :func:`implementation_costs`.
    """
    if not keys:
        keys = [e.hash for e in catalog.entries]
    out: dict[str, CostFigures] = {}
    for entry, imp, figures in implementation_costs(catalog, keys, kind=kind, activity=activity, config=config,
                                                    liberty=liberty, pdk=pdk, jobs=jobs):
        if entry.hash in out and out[entry.hash].name != imp.name:
            raise CatalogError(f"{out[entry.hash].name} and {imp.name} are two netlists of one circuit "
                               f"({entry.name}, {entry.hash}); cost them with implementation_costs")
        out[entry.hash] = figures
    return out


def catalog_cost(catalog: Catalog, key: str, **kwargs) -> CostFigures:
    """Cost of one catalog entry; see :func:`catalog_costs`."""
    return next(iter(catalog_costs(catalog, [key], **kwargs).values()))


def exact_entry(catalog: Catalog, signed: bool) -> Entry:
    """The catalog's exact multiplier of that signedness, found by its table (any name)."""
    h = table_hash(exact_table(signed), signed)
    try:
        return catalog.get(h)
    except CatalogError:
        kind = "signed" if signed else "unsigned"
        example = "mul8s_1KV6" if signed else "mul8u_1JJQ"
        raise CatalogError(
            f"{catalog.root} holds no exact {kind} multiplier (table hash {h}), so costs cannot be "
            f"given relative to one; import an exact netlist such as EvoApprox's {example}"
        ) from None


def relative_to(figures: CostFigures, reference: CostFigures) -> dict[str, float]:
    """Area, delay, power and energy as fractions of ``reference``'s (NaN where it is 0)."""
    def ratio(x: float, y: float) -> float:
        return x / y if y else float("nan")

    return {
        "area": ratio(figures.area_um2, reference.area_um2),
        "delay": ratio(figures.delay_ns, reference.delay_ns),
        "power": ratio(figures.power_mw, reference.power_mw),
        "energy": ratio(figures.energy_pj, reference.energy_pj),
    }

