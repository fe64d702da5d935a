"""``rtlgen map``: NSGA-II search of multiplier assignments for a model on an accelerator."""
from __future__ import annotations

import argparse
from pathlib import Path

from rtlgen.conventions import AUTO_ENCODING, DEFAULT_ENGINE, ENCODING_CHOICES, ENGINE_CHOICES, GRANULARITIES, WEIGHT_TUNINGS
from rtlgen.mapper.objectives import QUALITY_OBJECTIVES
from rtlgen.cli._args import non_negative_int, positive_int


def _run(args: argparse.Namespace) -> int:
    from rtlgen.mapper.job import MapJob, run_map_job
    from rtlgen.mapper.search import SearchSettings

    job = MapJob(model=Path(args.model), images=Path(args.images), accel=Path(args.accel), lib=Path(args.lib),
                 out=Path(args.out), search=args.search, test=args.test,
                 settings=SearchSettings(generations=args.generations, pop_size=args.pop, seed=args.seed,
                                         max_accuracy_loss=args.max_loss,
                                         objectives=("quality", "energy") + (("throughput",) if args.throughput else ())),
                 granularity=args.granularity, split_levels=args.split_levels, encoding=args.encoding,
                 candidates=tuple(args.candidates or ()), scheduler=args.scheduler, workers=args.workers,
                 layerwise_baseline=not args.no_layerwise, energy_vectors=args.energy_vectors,
                 pdk=args.pdk, pdk_dirs=tuple(args.pdk_dir),
                 weight_tuning=args.weight_tuning, split_layers=args.split_layers, engine=args.engine,
                 quality=args.quality,
                 prefix_cache_mb=args.prefix_cache_mb, progress=not args.quiet,
                 energy_model=args.energy_model)
    report = run_map_job(job)
    quality = report.summary.get("quality", "accuracy")
    print(f"reference {quality}: search {100 * report.reference_search:.2f}%, test {100 * report.reference_test:.2f}%")
    print(f"Pareto front ({len(report.front)} points) -> {job.out / 'front.csv'}, plot {job.out / 'pareto.png'}")
    conf = f"{100 * report.summary.get('confidence', 0.95):.0f}%"
    for loss, entry in report.summary["within_loss"].items():
        for rule, what in (("selected_on_search", "search loss"),
                           ("selected_confident", f"search loss at {conf} confidence")):
            sel = entry["mapper"][rule]
            head = f"  within {100 * float(loss):.1f}% {what}:"
            if sel is None:
                print(f"{head} no front point" + (" (only the exact design is certain to meet it)"
                                                  if rule == "selected_confident" else ""))
                continue
            accel = ("" if sel.get("accel_energy_uj") is None else
                     f" (accelerator energy per inference {sel['accel_energy_uj']:.2f} uJ, "
                     f"saving {100 * sel['accel_energy_saving']:.1f}%)")
            print(f"{head} multiplication energy saving {100 * sel['energy_saving']:.1f}%{accel}, "
                  f"search loss {_loss(sel, 'search')}, "
                  f"held-out loss {_loss(sel, 'test')} [{sel['test_verdict']}], bitstream {sel.get('bitstream')}")
    return 0


def _loss(sel: dict, split: str) -> str:
    """A loss with its interval, in percent."""
    ci = sel.get(f"{split}_ci")
    value = sel.get(f"{split}_loss")
    text = "n/a" if value is None else f"{100 * value:.2f}%"
    return text if ci is None else f"{text} (CI {100 * ci['low']:.2f}..{100 * ci['high']:.2f}%)"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("map", help="search multiplier assignments (NSGA-II): accuracy vs energy",
                              description=__doc__)
    p.add_argument("--model", required=True, metavar="M.tflite", help="int8 TFLite model")
    p.add_argument("--images", required=True, metavar="X.npz", help="images 'x' and labels 'y'")
    p.add_argument("--accel", required=True, metavar="ACCEL.toml", help="accelerator configuration (units, multipliers)")
    p.add_argument("--lib", required=True, metavar="LIBDIR", help="multiplier library (catalog)")
    p.add_argument("--out", required=True, metavar="RUN/", help="run folder (a re-run resumes from its checkpoints)")
    p.add_argument("--search", default="0:500", metavar="A:B", help="images searched on (default 0:500)")
    p.add_argument("--test", default="500:1017", metavar="A:B", help="held-out images (default 500:1017)")
    p.add_argument("--generations", type=non_negative_int, default=20, metavar="G")
    p.add_argument("--pop", type=positive_int, default=32, metavar="N", help="population size")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-loss", type=float, default=None, metavar="F",
                   help="accuracy-loss bound as a fraction (e.g. 0.02)")
    p.add_argument("--quality", choices=tuple(QUALITY_OBJECTIVES), default="accuracy",
                   help="quality objective: top-1 accuracy (labels), top-1 agreement with the exact model (no "
                        "labels), or reconstruction error relative to the exact model's (autoencoders)")
    p.add_argument("--throughput", action="store_true",
                   help="a third objective: cycles per inference of the accelerator with concurrent units "
                        "(rtlgen/mapper/throughput.py); every front row carries the cycles either way")
    p.add_argument("--granularity", choices=GRANULARITIES, default="filter",
                   help="how a layer is split between its unit's multipliers")
    p.add_argument("--split-layers", action="store_true",
                   help="also let a layer run split by output channels over every unit at once (config.bin "
                        "shares: the device runs them at once, the layer harness share by share)")
    p.add_argument("--split-levels", type=positive_int, default=8, metavar="K", help="split resolution (fractions of 1/K)")
    p.add_argument("--encoding", choices=ENCODING_CHOICES, default=AUTO_ENCODING,
                   help="operand encoding: auto (unsigned multipliers; per layer signmag where every input "
                        "code is at or above the zero point, else offset) or one for every layer "
                        "(raw: signed multipliers)")
    p.add_argument("--candidates", nargs="+", metavar="NAME", help="restrict to these catalog multipliers (names, or patterns such as 'mul8u_roup_*')")
    p.add_argument("--weight-tuning", choices=WEIGHT_TUNINGS, default="none",
                   help="retraining-free weight tuning (ALWANN uniform, or histogram on the search images); "
                        "the tuned codes go into each bitstream as weight remaps")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default=DEFAULT_ENGINE,
                   help="emulation engine: auto (default: native where a C compiler builds it, else fast; "
                        "one line on stderr says which), fast (numba), native (its inner loop in C, compiled "
                        "on first use), reference (slow oracle); all give the same bytes")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (tcp://host:8786)")
    p.add_argument("--workers", type=positive_int, default=None, help="local worker processes (1 = in this process)")
    p.add_argument("--prefix-cache-mb", type=non_negative_int, default=None, metavar="MB",
                   help="per worker: MiB of intermediate tensors kept so that a mapping sharing its first layers "
                        "with an earlier one resumes after them (default 512; 0: off); results are the same")
    p.add_argument("--no-layerwise", action="store_true", help="skip the layer-wise-only baseline search")
    p.add_argument("--energy-vectors", type=positive_int, default=4096, metavar="N",
                   help="operand vectors simulated per cost-flow energy figure")
    from rtlgen.cost.pdk import DEFAULT_PDK, pdk_names

    p.add_argument("--pdk", choices=pdk_names(), default=DEFAULT_PDK,
                   help=f"process of the multipliers' energy model (default {DEFAULT_PDK})")
    p.add_argument("--pdk-dir", action="append", default=[], metavar="DIR",
                   help="folder of the PDK's liberty files when they do not ship (gf180mcu, asap7; repeatable)")
    p.add_argument("--energy-model", type=Path, default=None, metavar="MODEL.json",
                   help="the accelerator's energy model (rtlgen accel power --calibrate) for every point's energy "
                        "per inference (default: the shipped one for the PDK and lanes, if any)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run)
