"""``rtlgen hil``: run a network's MAC layers through the generated accelerator's RTL (Verilator)
and check every layer output against the emulation bit for bit (see rtlgen/hil/host.py).

With ``--config DIR`` (``DIR/config.bin`` and ``DIR/weights.bin``, as ``rtlgen bitstream build``
writes them) the simulation first streams both images, unchanged, into the device's AXI front end
and reads its verdict over AXI4-Lite; an image it rejects stops the run with the hardware's error
code, its meaning and the byte offset (exit status 1). ``--bitstream CFG.bin`` only has the host
read a ``config.bin`` (no ``weights.bin``, nothing loaded into the device), as the flow's HIL step
does. On an accelerator generated without ``--axi`` the layers are driven one by one through the
engine's direct ports; one generated with ``gen accel --axi`` runs the whole network on chip
(its sequencer; needs ``--config``), each image's output checked against the emulation, and a
run the device stops exits with status 1 and the hardware's error code (rtlgen/hil/network.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtlgen.cli._args import non_negative_int, positive_int


def _run(args: argparse.Namespace) -> int:
    from rtlgen.errors import ConfigError
    from rtlgen.hil import HilJob, run_hil
    from rtlgen.paths import atomic_write_text

    kw = dict(limit=args.limit, start=args.start, workers=args.workers, optimize=not args.quick_build,
              batch=args.batch, slots=args.slots,
              multipliers=args.multipliers,
              work_dir=Path(args.work_dir) if args.work_dir else None, keep_runs=args.keep_runs,
              # the bar redraws one line with carriage returns: on a terminal only, so that a log
              # or a captured stderr holds just the error line when a run fails
              progress=sys.stderr.isatty())
    if args.config:
        folder = Path(args.config)
        if not folder.is_dir():
            raise ConfigError("not a folder; expected the folder of config.bin and weights.bin "
                              "('rtlgen bitstream build --out')", file=str(folder))
        job = HilJob.from_config_dir(Path(args.accel), folder, Path(args.model), Path(args.images), **kw)
    else:
        job = HilJob(accel=Path(args.accel), bitstream=Path(args.bitstream), model=Path(args.model),
                     images=Path(args.images), **kw)
    rep = run_hil(job)
    print(rep.summary())
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(rep.to_dict(), indent=1) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("hil", help="hardware in the loop: the device loads config.bin and weights.bin, "
                                          "MAC layers run through the RTL, checked bit for bit",
                              description=__doc__)
    p.add_argument("--accel", required=True, metavar="DIR", help="generated accelerator (rtlgen gen accel --out)")
    images = p.add_mutually_exclusive_group(required=True)
    images.add_argument("--config", metavar="DIR",
                        help="folder of config.bin and weights.bin (rtlgen bitstream build --out), loaded into the device")
    images.add_argument("--bitstream", metavar="CFG.bin", help="a config.bin read by the host only (not loaded into the device)")
    p.add_argument("--model", required=True, metavar="M.tflite")
    p.add_argument("--images", required=True, metavar="X.npz", help="'x' (uint8 NHWC) and optionally 'y'")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="number of images (default all)")
    p.add_argument("--start", type=non_negative_int, default=0, metavar="I", help="first image")
    p.add_argument("--workers", type=positive_int, default=1, metavar="K", help="simulator processes in parallel")
    p.add_argument("--work-dir", metavar="DIR", help="Verilator builds and runs (default ACCEL/hil-work)")
    p.add_argument("--keep-runs", action="store_true",
                   help="keep each run's folder (spec, simulator log, result) under the work folder; a failed run's is always kept")
    p.add_argument("--quick-build", action="store_true",
                   help="compile the model without optimisation: a quicker build, a slower simulation")
    p.add_argument("--multipliers", choices=("netlist", "table"), default="netlist",
                   help="simulate the multipliers as their gate-level netlists (default) or as table models of "
                        "those netlists (the same function, looked up: a faster simulation; the rest of the RTL "
                        "unchanged)")
    p.add_argument("--batch", type=positive_int, default=None, metavar="N",
                   help="whole-network device: inputs per START, the units working on consecutive inputs at once "
                        "(default: all images of a worker, at most 16)")
    p.add_argument("--slots", type=positive_int, default=None, metavar="S",
                   help="whole-network device: activation slots, inputs in flight at once (default: as many as the "
                        "activation memory holds)")
    p.add_argument("--json", metavar="FILE", help="also write the figures (pred and logits per image) as JSON")
    p.set_defaults(handler=_run)
