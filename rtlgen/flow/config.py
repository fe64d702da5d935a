"""Flow configuration: what ``rtlgen flow run FLOW.toml`` does, read from TOML.

Format (version 1; ``flows/digits_default.toml`` and ``flows/resnet8_cifar10.toml`` are the
shipped examples). Relative paths resolve against the folder of the TOML file::

    [flow]
    version = 1
    name = "digits_default"
    out = "../build/flows/digits_default"   # run folder (default: build/flows/NAME in the working folder)

    [model]
    zoo = "digits"              # the embedded digits model and its test images (rtlgen.zoo), or
    # path = "model.tflite"     # an int8 TFLite file
    # images = "images.npz"     # with 'x' (uint8 NHWC) and 'y' (labels); needed with path
    search = "0:200"            # images the search optimises on
    test = "200:360"            # held-out images

    [library]
    generated = true            # the shipped netlists under netlists/generated
    netlists = []               # further folders of netlists (e.g. EvoApproxLib v2022)
    verify = "candidates"       # simulate netlists against their tables: all, candidates, none
    verify_simulator = "verilator"  # or "icarus" (no compile step: quicker for a few netlists)

    [[generate]]                # optional: multipliers to generate (rtlgen.gen families)
    family = "truncated"
    signed = false
    params = { k = 5, compensate = 1 }

    [accelerator]
    config = "accel_default.toml"   # its shape; the mapper chooses the multipliers
    energy_model = ""           # optional: an energy model JSON (rtlgen accel power --calibrate) for
                                # each point's energy per inference; default: the shipped one for the
                                # PDK and lanes, if any (rtlgen.accel.energy.shipped_model)

    [cost]
    pdk = "sky130hd"            # process of every cost figure (rtlgen.cost.pdk): sky130hd, osu018,
                                # gf180mcu, asap7
    pdk_dirs = []               # folders of liberty files that do not ship (gf180mcu, asap7)

    [search]
    encoding = "auto"           # auto (per layer: signmag where it fits, else offset), signmag, raw, offset
    quality = "accuracy"        # accuracy (labels), agreement (with the exact model), reconstruction
    objectives = ["quality", "energy"]  # add "throughput": cycles per inference of the accelerator
                                # with concurrent units (rtlgen.mapper.throughput); the quality may
                                # also go by its name (here "accuracy")
    granularity = "filter"      # layer, filter, kernel
    split_layers = false        # true: a layer may also run split by output channels over every
                                # unit at once (rtlgen.mapper.space; config.bin shares)
    weight_tuning = "none"      # none, uniform (ALWANN), histogram (the search images' activations)
    candidates = []             # catalog names or patterns ("mul8u_roup_*": rtlgen.library.catalog);
                                # empty = every multiplier of the encoding's sign
    generations = 20
    population = 32
    seed = 1
    workers = 2
    prefix_cache_mb = 512       # per worker: MiB of layer outputs reused between mappings (0: off);
                                # like workers, speed only: not in the search step's cache key
    split_levels = 8
    energy_vectors = 4096
    layerwise_baseline = true

    [select]
    max_loss = [0.006, 0.02]    # per bound: the front point of least energy within that loss

    [hil]
    images = 2                  # images through the RTL per selected point (0: skip HIL)
    workers = 1
    optimize = true             # optimised simulator build (false: quicker build, slower run)

Every key is checked: an unknown key, a wrong type or a value out of range raises
:class:`~rtlgen.errors.ConfigError` naming the file and the key.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtlgen.conventions import AUTO_ENCODING, ENCODING_CHOICES, GRANULARITIES, WEIGHT_TUNINGS, EncodingChoice, Granularity
from rtlgen.errors import ConfigError

__all__ = ["FLOW_VERSION", "FlowConfig", "FamilySpec", "load_flow", "parse_flow"]

FLOW_VERSION = 1
_VERIFY = ("all", "candidates", "none")
_ZOO = ("digits",)


@dataclass(frozen=True)
class FamilySpec:
    family: str
    signed: bool
    params: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class FlowConfig:
    name: str
    source: Path
    out: Path
    model_zoo: str | None
    model_path: Path | None
    images_path: Path | None
    search_split: str
    test_split: str
    generated: bool
    netlist_dirs: tuple[Path, ...]
    verify: str
    verify_simulator: str
    families: tuple[FamilySpec, ...]
    accel: Path
    encoding: EncodingChoice
    quality: str
    granularity: Granularity
    weight_tuning: str
    candidates: tuple[str, ...]
    generations: int
    population: int
    seed: int
    workers: int
    split_levels: int
    energy_vectors: int
    layerwise_baseline: bool
    max_loss: tuple[float, ...]
    hil_images: int
    hil_workers: int
    hil_optimize: bool
    pdk: str = "sky130hd"
    pdk_dirs: tuple[Path, ...] = ()
    prefix_cache_mb: int = 512
    #: the accelerator's energy model (None: the shipped one for the PDK and lanes, if any)
    energy_model: Path | None = None
    #: what the search minimises (rtlgen.mapper.search.SearchSettings.objectives)
    objectives: tuple[str, ...] = ("quality", "energy")
    #: the search may split a layer over every unit (rtlgen.mapper.space)
    split_layers: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class _Section:
    """Typed access to one table of the TOML, errors naming file and key."""

    def __init__(self, data: Any, name: str, file: Path, allowed: set[str]):
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}] must be a table", file=str(file))
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"unknown key {name}.{unknown[0]}; valid keys of [{name}]: "
                              f"{', '.join(sorted(allowed))}", file=str(file))
        self.data, self.name, self.file = data, name, file

    def fail(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.name}.{key}: {what}", file=str(self.file))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, lo: float | None = None,
            hi: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing (required)")
            return default
        v = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(v, bool) and bool not in kinds:
            raise self.fail(key, f"expected {' or '.join(k.__name__ for k in kinds)}, got a boolean")
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kinds):
            raise self.fail(key, f"expected {' or '.join(k.__name__ for k in kinds)}, got {type(v).__name__} {v!r}")
        if choices is not None and v not in choices:
            raise self.fail(key, f"{v!r} is not one of {', '.join(choices)}")
        if lo is not None and v < lo:
            raise self.fail(key, f"{v} is below the minimum {lo}")
        if hi is not None and v > hi:
            raise self.fail(key, f"{v} is above the maximum {hi}")
        return v

    def path(self, key: str, default: Any = ...) -> Path | None:
        v = self.get(key, str, default)
        if v is None:
            return None
        p = Path(os.path.expandvars(os.path.expanduser(v)))
        return Path(os.path.normpath(p if p.is_absolute() else (self.file.parent / p)))

    def str_list(self, key: str, default: Any = ()) -> tuple[str, ...]:
        v = self.get(key, list, list(default))
        for i, item in enumerate(v):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", f"expected a string, got {item!r}")
        return tuple(v)


def _split(sec: _Section, key: str, default: str) -> str:
    v = sec.get(key, str, default)
    parts = v.split(":")
    if len(parts) != 2 or not all(p == "" or p.isdigit() for p in parts):
        raise sec.fail(key, f"expected START:STOP (e.g. 0:200), got {v!r}")
    return v


def _objectives(sec: _Section, quality: str) -> tuple[str, ...]:
    """``search.objectives`` as the search's tuple (:data:`rtlgen.mapper.search.OBJECTIVES`
    order): quality and energy always, throughput when listed; the quality may go by its
    objective's name (``search.quality``)."""
    from rtlgen.mapper.search import OBJECTIVES

    names = sec.str_list("objectives", ("quality", "energy"))
    valid = ("quality", quality, "energy", "throughput")
    seen: list[str] = []
    for i, n in enumerate(names):
        if n not in valid:
            raise sec.fail(f"objectives[{i}]", f"{n!r} is not one of quality (or {quality!r}, the search.quality), "
                                               "energy, throughput")
        n = "quality" if n == quality else n
        if n in seen:
            raise sec.fail(f"objectives[{i}]", f"{names[i]!r} is listed twice")
        seen.append(n)
    missing = [n for n in ("quality", "energy") if n not in seen]
    if missing:
        raise sec.fail("objectives", f"must include quality and energy; {' and '.join(missing)} missing "
                                     f"(got {list(names)})")
    return tuple(n for n in OBJECTIVES if n in seen)


def parse_flow(data: dict[str, Any], source: str | os.PathLike) -> FlowConfig:
    from rtlgen.mapper.objectives import QUALITY_OBJECTIVES

    file = Path(source).resolve()
    top = _Section(data, "file", file, {"flow", "model", "library", "generate", "accelerator", "cost", "search",
                                        "select", "hil"})
    flow = _Section(data.get("flow", None) if "flow" in data else None, "flow", file, {"version", "name", "out"}) \
        if "flow" in data else None
    if flow is None:
        raise ConfigError("missing [flow] table (with version = 1)", file=str(file))
    version = flow.get("version", int)
    if version != FLOW_VERSION:
        raise flow.fail("version", f"flow format version {version} is not supported (expected {FLOW_VERSION})")
    name = flow.get("name", str, file.stem)
    if not name or any(c in name for c in "/\\"):
        raise flow.fail("name", f"must be a non-empty name without slashes, not {name!r}")
    # Without ``out``, the run goes to the working folder: a flow shipped inside the installed
    # package must not write beside itself.
    out = flow.path("out", None) or (Path.cwd() / "build" / "flows" / name)

    model = _Section(data.get("model", {}), "model", file, {"zoo", "path", "images", "search", "test"})
    zoo = model.get("zoo", str, None, choices=_ZOO)
    mpath = model.path("path", None)
    images = model.path("images", None)
    if (zoo is None) == (mpath is None):
        raise model.fail("zoo", "give exactly one of model.zoo (embedded model) and model.path (a .tflite file)")
    if mpath is not None and images is None:
        raise model.fail("images", "model.path needs model.images (an .npz with 'x' and 'y')")
    for key, p in (("path", mpath), ("images", images)):
        if p is not None and not p.is_file():
            raise model.fail(key, f"file {p} not found")
    search = _split(model, "search", "0:200" if zoo == "digits" else "0:500")
    test = _split(model, "test", "200:360" if zoo == "digits" else "500:1017")

    lib = _Section(data.get("library", {}), "library", file, {"generated", "netlists", "verify", "verify_simulator"})
    generated = lib.get("generated", bool, True)
    dirs = []
    for i, d in enumerate(lib.str_list("netlists")):
        p = Path(os.path.expandvars(os.path.expanduser(d)))
        p = Path(os.path.normpath(p if p.is_absolute() else file.parent / p))
        if not p.is_dir():
            raise lib.fail(f"netlists[{i}]", f"folder {p} not found")
        dirs.append(p)
    verify = lib.get("verify", str, "candidates", choices=_VERIFY)
    verify_sim = lib.get("verify_simulator", str, "verilator", choices=("verilator", "icarus"))

    fams = []
    gen = data.get("generate", [])
    if not isinstance(gen, list):
        raise ConfigError("generate must be an array of tables ([[generate]])", file=str(file))
    for i, g in enumerate(gen):
        sec = _Section(g, f"generate[{i}]", file, {"family", "signed", "params"})
        params = sec.get("params", dict, {})
        for k, v in params.items():
            if not isinstance(v, int) or isinstance(v, bool):
                raise sec.fail(f"params.{k}", f"expected an integer, got {v!r}")
        fams.append(FamilySpec(sec.get("family", str), sec.get("signed", bool, False), tuple(sorted(params.items()))))

    acc = _Section(data.get("accelerator", {}), "accelerator", file, {"config", "energy_model"})
    accel = acc.path("config")
    if accel is None or not accel.is_file():
        raise acc.fail("config", f"file {accel} not found")
    energy_model = acc.path("energy_model", None) if acc.get("energy_model", str, "") else None
    if energy_model is not None and not energy_model.is_file():
        raise acc.fail("energy_model", f"file {energy_model} not found")

    from rtlgen.cost.pdk import DEFAULT_PDK, pdk_names

    cost = _Section(data.get("cost", {}), "cost", file, {"pdk", "pdk_dirs"})
    pdk = cost.get("pdk", str, DEFAULT_PDK, choices=tuple(pdk_names()))
    pdk_dirs = []
    for i, d in enumerate(cost.str_list("pdk_dirs")):
        p = Path(os.path.expandvars(os.path.expanduser(d)))
        p = Path(os.path.normpath(p if p.is_absolute() else file.parent / p))
        if not p.is_dir():
            raise cost.fail(f"pdk_dirs[{i}]", f"folder {p} not found")
        pdk_dirs.append(p)

    s = _Section(data.get("search", {}), "search", file,
                 {"encoding", "quality", "objectives", "granularity", "split_layers", "weight_tuning", "candidates",
                  "generations",
                  "population", "seed", "workers", "prefix_cache_mb", "split_levels", "energy_vectors",
                  "layerwise_baseline"})
    quality = s.get("quality", str, "accuracy", choices=tuple(QUALITY_OBJECTIVES))
    sel = _Section(data.get("select", {}), "select", file, {"max_loss"})
    losses = sel.get("max_loss", list, [0.006, 0.02])
    for i, v in enumerate(losses):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise sel.fail(f"max_loss[{i}]", f"expected a fraction in 0..1, got {v!r}")
    hil = _Section(data.get("hil", {}), "hil", file, {"images", "workers", "optimize"})
    return FlowConfig(
        name=name, source=file, out=Path(out), model_zoo=zoo, model_path=mpath, images_path=images,
        search_split=search, test_split=test, generated=generated, netlist_dirs=tuple(dirs), verify=verify,
        verify_simulator=verify_sim,
        families=tuple(fams), accel=accel, energy_model=energy_model,
        encoding=s.get("encoding", str, AUTO_ENCODING, choices=ENCODING_CHOICES),
        quality=quality, objectives=_objectives(s, quality),
        granularity=s.get("granularity", str, "filter", choices=GRANULARITIES),
        weight_tuning=s.get("weight_tuning", str, "none", choices=WEIGHT_TUNINGS),
        split_layers=s.get("split_layers", bool, False),
        candidates=s.str_list("candidates"),
        generations=s.get("generations", int, 20, lo=1, hi=10000),
        population=s.get("population", int, 32, lo=2, hi=100000),
        seed=s.get("seed", int, 1),
        workers=s.get("workers", int, min(2, os.cpu_count() or 1), lo=1, hi=1024),
        prefix_cache_mb=s.get("prefix_cache_mb", int, 512, lo=0, hi=1 << 20),
        split_levels=s.get("split_levels", int, 8, lo=1, hi=64),
        energy_vectors=s.get("energy_vectors", int, 4096, lo=16, hi=1 << 22),
        layerwise_baseline=s.get("layerwise_baseline", bool, True),
        max_loss=tuple(float(v) for v in losses),
        hil_images=hil.get("images", int, 2, lo=0, hi=1 << 20),
        hil_workers=hil.get("workers", int, 1, lo=1, hi=64),
        hil_optimize=hil.get("optimize", bool, True),
        pdk=pdk, pdk_dirs=tuple(pdk_dirs),
        raw=data,
    )


def load_flow(path: str | os.PathLike) -> FlowConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the flow file: {exc.strerror}", file=str(p)) from exc
    except UnicodeDecodeError:
        raise ConfigError("not a text file; expected a flow TOML file", file=str(p)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        import re

        found = re.search(r"line (\d+)", str(exc))     # tomllib puts the place in the message
        raise ConfigError(f"not valid TOML: {exc}", file=str(p), line=int(found[1]) if found else None) from exc
    return parse_flow(data, p)
