"""The steps of a flow run: small functions, plain data in and out.

Each step takes paths and values and returns a JSON-ready dict; the runner
(:mod:`rtlgen.flow.run`) decides from :mod:`rtlgen.flow.cache` whether to call it. The work is
done by the modules that own it: netlist import (:mod:`rtlgen.library.importer`), generators
(:mod:`rtlgen.gen`), verification (:mod:`rtlgen.sim.verify`), cost (:mod:`rtlgen.cost.multiplier`), search
(:mod:`rtlgen.mapper.job`), accelerator (:mod:`rtlgen.accel.generate`), bitstream
(:mod:`rtlgen.bitstream.format`), hardware in the loop (:mod:`rtlgen.hil.host`).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from rtlgen.errors import CatalogError, ConfigError
from rtlgen.paths import atomic_write_bytes, atomic_write_text

__all__ = ["model_step", "generate_step", "library_step", "verify_step", "cost_step", "search_step",
           "select_step", "accel_step", "bitstream_step", "hil_step"]


def model_step(zoo: str | None, model: str | None, images: str | None, out_dir: str) -> dict[str, Any]:
    """The model and images the flow uses: given paths, or the embedded digits model with its
    test images written as an ``.npz`` into the run folder."""
    if zoo is None:
        return {"model": str(model), "images": str(images)}
    from rtlgen.zoo.digits import digits_model_path, save_images_npz

    dst = Path(out_dir) / "data" / "digits_test.npz"
    save_images_npz(dst, "test")
    return {"model": str(digits_model_path()), "images": str(dst)}


def generate_step(families: Sequence[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """Generate each ``{"family", "signed", "params"}`` multiplier into ``out_dir``."""
    from rtlgen.gen import make_spec, write_netlist

    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    files = []
    for f in families:
        spec = make_spec(f["family"], bool(f["signed"]), **dict(f["params"]))
        files.append(str(write_netlist(spec, out / f"{spec.module_name}.v")))
    return {"netlists": files, "folder": str(out) if files else None}


def library_step(folders: Sequence[str], libdir: str) -> dict[str, Any]:
    """A fresh catalog at ``libdir`` from every netlist under ``folders``."""
    from rtlgen.library.catalog import Catalog
    from rtlgen.library.importer import import_folder

    lib = Path(libdir)
    if lib.exists():
        shutil.rmtree(lib)
    for folder in folders:
        import_folder(folder, lib)
    cat = Catalog.open(lib)
    return {"lib": str(lib), "entries": [{"name": e.name, "names": list(e.all_names), "hash": e.hash, "signed": e.signed,
                                          "metrics": {k: v for k, v in e.metrics.items()
                                                      if isinstance(v, (int, float))}}
                                         for e in cat.entries]}


def candidate_names(entries: Sequence[dict[str, Any]], encoding: str, names: Sequence[str]) -> list[str]:
    """The multipliers the search may use: ``names`` (patterns such as ``mul8u_roup_*``
    expanded, :func:`rtlgen.library.catalog.expand_keys`), or every entry of the encoding's
    sign; the exact multiplier of that sign always (the mapper's reference)."""
    from rtlgen.emulate.encoding import TABLE_SIGNED
    from rtlgen.library.catalog import expand_keys

    signed = TABLE_SIGNED[encoding]
    if names:
        # an entry's "names": name, aliases and implementation names (older runs: its name)
        known = {n for e in entries for n in e.get("names", [e["name"]])}
        names = expand_keys(names, known, what="search.candidates")
        missing = [n for n in names if n not in known]
        if missing:
            raise CatalogError(f"search.candidates names {', '.join(missing)}, which the library lacks; "
                               f"it holds {', '.join(sorted(known))}")
        return list(names)
    return [e["name"] for e in entries if e["signed"] == signed]


def verify_step(libdir: str, names: Sequence[str] | None, work_dir: str, simulator: str = "verilator") -> dict[str, Any]:
    """Simulate the named catalog entries' netlists (all when None) against their tables."""
    from rtlgen.sim.verify import catalog_multipliers, verify

    mults = catalog_multipliers(libdir, list(names) if names is not None else None, kinds=("generic",))
    report = verify(mults, simulator=simulator, work_dir=work_dir)
    report.raise_for_mismatch()
    return {"verified": sorted({r.name for r in report.results}), "count": len(report.results)}


def cost_step(libdir: str, names: Sequence[str], out_file: str, jobs: int, *, pdk: str = "sky130hd",
              pdk_dirs: Sequence[str] = ()) -> dict[str, Any]:
    """Area, delay, power and energy per multiplication (uniform operands) of each multiplier, on
    ``pdk`` (:mod:`rtlgen.cost.pdk`; its liberty files looked for in ``pdk_dirs`` first)."""
    from rtlgen.cost.pdk import get_pdk
    from rtlgen.library.catalog import Catalog
    from rtlgen.cost.multiplier import implementation_costs

    cat = Catalog.open(libdir)
    # per name, not per entry: two names of one function may be two circuits (rtlgen.library.catalog)
    figs = {n: f for n, (_, _, f) in zip(names, implementation_costs(
        cat, list(names), jobs=jobs, pdk=get_pdk(pdk).with_search(pdk_dirs)))}
    cat.save()
    rows = {}
    for n in names:
        f = figs[n]
        rows[n] = {k: getattr(f, k) for k in ("cells", "area_um2", "delay_ns", "power_mw", "internal_mw",
                                               "switching_mw", "leakage_mw", "energy_pj")}
    atomic_write_text(Path(out_file), json.dumps(rows, indent=1) + "\n")
    return {"cost": rows, "file": out_file}


def search_step(model: str, images: str, accel: str, libdir: str, out_dir: str, *, search: str, test: str,
                encoding: str, granularity: str, weight_tuning: str, candidates: Sequence[str], generations: int, population: int,
                seed: int, workers: int, split_levels: int, energy_vectors: int, layerwise_baseline: bool,
                quality: str = "accuracy", progress: bool = True, pdk: str = "sky130hd",
                pdk_dirs: Sequence[str] = (), prefix_cache_mb: int | None = None,
                objectives: Sequence[str] = ("quality", "energy"),
                energy_model: str | None = None, split_layers: bool = False) -> dict[str, Any]:
    """NSGA-II mapping (:func:`rtlgen.mapper.job.run_map_job`): front, baselines, bitstreams;
    ``objectives``: :attr:`rtlgen.mapper.search.SearchSettings.objectives`."""
    from rtlgen.mapper.job import MapJob, run_map_job
    from rtlgen.mapper.search import SearchSettings

    job = MapJob(model=Path(model), images=Path(images), accel=Path(accel), lib=Path(libdir), out=Path(out_dir),
                 search=search, test=test,
                 settings=SearchSettings(generations=generations, pop_size=population, seed=seed,
                                         objectives=tuple(objectives)),
                 granularity=granularity, split_levels=split_levels, encoding=encoding,
                 weight_tuning=weight_tuning, candidates=tuple(candidates), workers=workers, layerwise_baseline=layerwise_baseline,
                 energy_vectors=energy_vectors, quality=quality, progress=progress, pdk=pdk, pdk_dirs=tuple(pdk_dirs),
                 prefix_cache_mb=prefix_cache_mb, energy_model=Path(energy_model) if energy_model else None,
                 split_layers=split_layers)
    rep = run_map_job(job)
    return {"map_dir": out_dir, "front": len(rep.front), "reference_search": rep.reference_search,
            "reference_test": rep.reference_test}


def select_step(map_dir: str, max_loss: Sequence[float]) -> dict[str, Any]:
    """Per loss bound, the front point of least energy (the whole accelerator's per inference when
    the map rows have it, else the multiplications') within that search-accuracy loss (ties:
    higher accuracy, then fewer cycles per inference); the same point chosen twice is listed once. Points are tagged ``selK``
    after the first bound ``max_loss[K]`` that chose them, so ``sel0`` (the tightest bound's
    point) has a stable name."""
    doc = json.loads((Path(map_dir) / "front.json").read_text())
    front = doc["front"]
    if not front:
        raise ConfigError(f"the search in {map_dir} found no front point")
    picked: dict[str, dict[str, Any]] = {}
    for k, loss in enumerate(max_loss):
        ok = [(i, r) for i, r in enumerate(front) if r["search_loss"] <= loss + 1e-12]
        if not ok:
            continue
        # the least energy: the whole accelerator's per inference where the map has its model
        # (rtlgen.mapper.energy), else the multiplications'; ties: the higher accuracy, then
        # the fewer modelled cycles per inference
        energy = "accel_energy_uj" if all("accel_energy_uj" in r for r in front) else "energy"
        i, r = min(ok, key=lambda t: (t[1][energy], -t[1]["search_accuracy"],
                                      t[1].get("cycles_per_inference") or 0))
        entry = picked.setdefault(r["id"], {
            "tag": f"sel{k}", "front_index": i, "id": r["id"], "loss_bounds": [],
            "energy": r["energy"], "energy_saving": r["energy_saving"],
            "search_accuracy": r["search_accuracy"], "test_accuracy": r["test_accuracy"],
            "search_loss": r["search_loss"], "test_loss": r["test_loss"],
            "cycles_per_inference": r.get("cycles_per_inference"), "latency_cycles": r.get("latency_cycles"),
            "accel_energy_uj": r.get("accel_energy_uj"), "accel_energy_saving": r.get("accel_energy_saving"),
            "schedule": str(Path(map_dir) / r["schedule"]) if r.get("schedule") else None,
            "bitstream": str(Path(map_dir) / r["bitstream"]),
            "accel_toml": str(Path(map_dir) / Path(r["bitstream"]).parent / "accel.toml"),
            "mapping": r["mapping"]})
        entry["loss_bounds"].append(loss)
    if not picked:
        raise ConfigError(f"no front point lies within the loss bounds {list(max_loss)} (the exact design "
                          "always has loss 0: is the front empty?)")
    return {"points": list(picked.values())}


def accel_step(accel_toml: str, libdir: str, out_dir: str) -> dict[str, Any]:
    """The accelerator RTL for one selected point (its multiplier banks)."""
    from rtlgen.accel.config import load_config
    from rtlgen.accel.generate import generate_accelerator
    from rtlgen.library.catalog import Catalog

    design = generate_accelerator(load_config(accel_toml), Catalog.open(libdir), out_dir)
    return {"accel_dir": str(design.out_dir), "config_hash": design.config_hash,
            "files": [str(p) for p in design.sources]}


def bitstream_step(src: str, dst: str, config_hash: str) -> dict[str, Any]:
    """Copy the point's bitstream beside its accelerator, checked against the accelerator's hash."""
    from rtlgen.bitstream.format import decode, describe

    data = Path(src).read_bytes()
    bs = decode(data, expect_accel=config_hash, file=src)
    atomic_write_bytes(Path(dst), data)
    atomic_write_text(Path(dst).with_suffix(".txt"), describe(data, file=src))
    return {"bitstream": dst, "bytes": len(data), "layers": len(bs.layers)}


def hil_step(accel_dir: str, bitstream: str, model: str, images: str, limit: int, workers: int,
             out_file: str, start: int = 0, optimize: bool = True, progress: bool = True) -> dict[str, Any]:
    """Hardware in the loop (:func:`rtlgen.hil.host.run_hil`); the report is saved as JSON."""
    from rtlgen.hil import HilJob, run_hil

    rep = run_hil(HilJob(accel=Path(accel_dir), bitstream=Path(bitstream), model=Path(model), images=Path(images),
                         limit=limit, start=start, workers=workers, optimize=optimize,
                         progress=progress))
    d = rep.to_dict()
    atomic_write_text(Path(out_file), json.dumps(d, indent=1) + "\n")
    return d

