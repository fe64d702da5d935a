"""``rtlgen flow run FLOW.toml``: from netlists and a network to verified RTL, bitstreams and a report.

Steps, in order (each a function of :mod:`rtlgen.flow.steps`; its cache key, :mod:`.cache`, in
brackets)::

    model      the model and images                          [model file, images file]
    generate   [[generate]] multipliers -> RUN/generated      [families]
    library    catalog RUN/lib from netlists/generated, the   [every netlist folder]
               [library] netlists folders and RUN/generated
    verify     simulate the candidates' (or all) netlists     [library]
    cost       area/delay/power/energy of the candidates      [library, liberty file]
    search     NSGA-II mapping -> RUN/map                      [library, model, images, accel, settings]
    select     the Pareto points within the loss bounds       [search, bounds]
    accel      per point: RTL -> RUN/points/TAG/accel          [select, library]
    bitstream  per point: RUN/points/TAG/config.bin            [accel]
    hil        per point: RTL vs emulation, accuracy, speed    [bitstream, model, images, hil settings]
    report     RUN/report/report.md with plots                 [everything above]

Every key also holds rtlgen's version and the versions of the tools the step runs (generate:
Yosys; verify: Yosys and the simulator; cost: Yosys and OpenSTA, besides the liberty file's
content; hil: Verilator), read once per run. A rerun of the same file reuses every step whose key
is unchanged and whose output files are intact; a changed input or tool reruns its step and every
step after it that depends on it.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rtlgen import resources
from rtlgen.cost.pdk import get_pdk
from rtlgen.flow.cache import StepCache, ToolVersions, step_key
from rtlgen.flow.config import FlowConfig, load_flow
from rtlgen.flow import steps

__all__ = ["FlowResult", "run_flow", "GENERATED_DIR"]

GENERATED_DIR = resources.GENERATED_NETLISTS


@dataclass
class FlowResult:
    run_dir: Path
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return Path(self.outputs["report"]["report"])


def _claim(workdir: Path, key: str) -> None:
    """Make ``workdir`` the working folder of the step with ``key``: a folder left by the same
    step (killed before it finished) is kept so the step can resume from its checkpoints; one
    left by a step with other inputs is emptied, since its checkpoints belong to another run."""
    import shutil

    stamp = workdir / ".flow-key"
    if workdir.exists() and (not stamp.is_file() or stamp.read_text().strip() != key):
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key + "\n")


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def run_flow(config: FlowConfig | str | os.PathLike, *, out: str | os.PathLike | None = None,
             quiet: bool = False, progress: bool = True) -> FlowResult:
    cfg = config if isinstance(config, FlowConfig) else load_flow(config)
    run = Path(out) if out is not None else cfg.out
    run.mkdir(parents=True, exist_ok=True)
    cache = StepCache(run)
    res = FlowResult(run)
    versions = ToolVersions()   # one reading of each tool's version per run
    pdk_dirs = [str(d) for d in cfg.pdk_dirs]
    # the cost step needs the PDK's liberty file: a missing one fails now, not minutes later
    liberty = get_pdk(cfg.pdk).with_search(pdk_dirs).liberty()

    def step(name: str, params: Any, files: list[Any], upstream: list[str], fn: Callable[[], dict[str, Any]],
             outputs_files: Callable[[dict[str, Any]], list[Any]] = lambda o: [],
             workdir: Path | None = None, tools: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
        key = step_key(name, params, files, upstream, versions("rtlgen", *tools))
        hit = cache.lookup(name, key)
        if hit is not None:
            res.cached.append(name)
            res.outputs[name] = hit
            _say(f"[flow] {name}: cached", quiet)
            return hit, key
        if workdir is not None:
            _claim(workdir, key)
        _say(f"[flow] {name}: running", quiet)
        t = time.perf_counter()
        out_data = fn()
        res.seconds[name] = time.perf_counter() - t
        cache.store(name, key, out_data, outputs_files(out_data))
        res.ran.append(name)
        res.outputs[name] = out_data
        _say(f"[flow] {name}: done in {res.seconds[name]:.1f} s", quiet)
        return out_data, key

    model_files = [p for p in (cfg.model_path, cfg.images_path) if p is not None]
    if cfg.model_zoo == "digits":
        from rtlgen.zoo.digits import digits_model_path

        model_files.append(digits_model_path())     # a retrained embedded model reruns the flow
    m, k_model = step("model", {"zoo": cfg.model_zoo, "model": str(cfg.model_path), "images": str(cfg.images_path)},
                      model_files, [],
                      lambda: steps.model_step(cfg.model_zoo, cfg.model_path and str(cfg.model_path),
                                               cfg.images_path and str(cfg.images_path), str(run)),
                      lambda o: [o["model"], o["images"]])
    fams = [{"family": f.family, "signed": f.signed, "params": dict(f.params)} for f in cfg.families]
    g, k_gen = step("generate", fams, [], [], lambda: steps.generate_step(fams, str(run / "generated")),
                    lambda o: o["netlists"], tools=("yosys",) if fams else ())
    folders = ([str(GENERATED_DIR)] if cfg.generated else []) + [str(d) for d in cfg.netlist_dirs]
    if g["folder"]:
        folders.append(g["folder"])
    if not folders:
        from rtlgen.errors import ConfigError

        raise ConfigError("the flow has no netlists: set library.generated = true, list library.netlists "
                          "or add [[generate]] entries", file=str(cfg.source))
    lib, k_lib = step("library", folders, [f for f in folders if f != g["folder"]], [k_gen],
                      lambda: steps.library_step(folders, str(run / "lib")))
    libdir = lib["lib"]
    cands = steps.candidate_names(lib["entries"], cfg.encoding, cfg.candidates)
    if cfg.verify != "none":
        names = None if cfg.verify == "all" else cands
        step("verify", {"names": names, "simulator": cfg.verify_simulator}, [], [k_lib],
             lambda: steps.verify_step(libdir, names, str(run / "work" / "verify"), cfg.verify_simulator),
             tools=("yosys", cfg.verify_simulator))
    cost, k_cost = step("cost", {"names": cands, "pdk": cfg.pdk}, [liberty], [k_lib],
                        lambda: steps.cost_step(libdir, cands, str(run / "cost.json"), cfg.workers,
                                                pdk=cfg.pdk, pdk_dirs=pdk_dirs),
                        lambda o: [o["file"]], tools=("yosys", "sta"))
    search_params = {"search": cfg.search_split, "test": cfg.test_split, "encoding": cfg.encoding, "quality": cfg.quality,
                     "granularity": cfg.granularity, "weight_tuning": cfg.weight_tuning,
                     "candidates": list(cfg.candidates),
                     "generations": cfg.generations, "population": cfg.population, "seed": cfg.seed,
                     "split_levels": cfg.split_levels, "energy_vectors": cfg.energy_vectors,
                     "layerwise_baseline": cfg.layerwise_baseline, "pdk": cfg.pdk}
    if cfg.objectives != ("quality", "energy"):     # the default stays out: cached searches stay valid
        search_params["objectives"] = list(cfg.objectives)
    if cfg.split_layers:                            # likewise
        search_params["split_layers"] = True
    # the energy model is an input of the search: the flow file's, or the shipped one it would use
    from rtlgen.accel.config import load_config
    from rtlgen.accel.energy import shipped_model_path

    if cfg.energy_model is not None:
        search_params["energy_model"] = str(cfg.energy_model)
    energy_model = cfg.energy_model or shipped_model_path(cfg.pdk, load_config(cfg.accel).lanes)
    energy_files = [] if energy_model is None else [energy_model]
    sr, k_search = step("search", search_params, [m["model"], m["images"], cfg.accel, *energy_files], [k_lib, k_model],
                        lambda: steps.search_step(m["model"], m["images"], str(cfg.accel), libdir, str(run / "map"),
                                                  workers=cfg.workers, progress=progress and not quiet,
                                                  pdk_dirs=pdk_dirs, prefix_cache_mb=cfg.prefix_cache_mb,
                                                  **search_params),
                        lambda o: [run / "map" / "front.json"], workdir=run / "map")
    sel, k_sel = step("select", {"max_loss": list(cfg.max_loss)}, [], [k_search],
                      lambda: steps.select_step(str(run / "map"), cfg.max_loss))
    points = []
    for p in sel["points"]:
        tag = p["tag"]
        pdir = run / "points" / tag
        acc, k_acc = step(f"accel-{tag}", {}, [p["accel_toml"]], [k_sel, k_lib],
                          lambda: steps.accel_step(p["accel_toml"], libdir, str(pdir / "accel")),
                          lambda o: o["files"])
        bs, k_bs = step(f"bitstream-{tag}", {}, [p["bitstream"]], [k_acc],
                        lambda: steps.bitstream_step(p["bitstream"], str(pdir / "config.bin"), acc["config_hash"]),
                        lambda o: [o["bitstream"]])
        hil = None
        if cfg.hil_images > 0:
            hil, _ = step(f"hil-{tag}", {"images": cfg.hil_images, "workers": cfg.hil_workers,
                                         "optimize": cfg.hil_optimize}, [],
                          [k_bs, k_model],
                          lambda: steps.hil_step(acc["accel_dir"], bs["bitstream"], m["model"], m["images"],
                                                 cfg.hil_images, cfg.hil_workers, str(pdir / "hil.json"),
                                                 optimize=cfg.hil_optimize, progress=progress and not quiet),
                          lambda o: [pdir / "hil.json"], tools=("verilator",))
        points.append({**p, "accel": acc, "bitstream_file": bs["bitstream"], "hil": hil})
    from rtlgen.flow.report import write_report

    # the report reads everything above: the selection (hence the search), the costs and each
    # point's accelerator, bitstream and HIL figures
    points_key = step_key("points", [{k: v for k, v in pt.items() if k != "mapping"} for pt in points])
    rep, _ = step("report", {"v": 1}, [], [k_sel, k_cost, points_key],
        lambda: write_report(cfg, run, lib["entries"], cands, cost["cost"], str(run / "map"), points, libdir),
        lambda o: [o["report"]])
    res.outputs["report"] = rep
    return res
