"""``rtlgen hil``: run a network's conv layers through the generated accelerator's RTL (Verilator)
and check every layer output against the emulation bit for bit (see rtlgen/hil/host.py)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtlgen.cli._args import non_negative_int, positive_int


def _run(args: argparse.Namespace) -> int:
    from rtlgen.hil import HilJob, run_hil
    from rtlgen.paths import atomic_write_text

    rep = run_hil(HilJob(accel=Path(args.accel), bitstream=Path(args.bitstream), model=Path(args.model),
                         images=Path(args.images), limit=args.limit, start=args.start, workers=args.workers, optimize=not args.quick_build,
                         work_dir=Path(args.work_dir) if args.work_dir else None,
                         keep_runs=args.keep_runs))
    print(rep.summary())
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(rep.to_dict(), indent=1) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("hil", help="hardware in the loop: conv layers through the RTL, checked bit for bit",
                              description=__doc__)
    p.add_argument("--accel", required=True, metavar="DIR", help="generated accelerator (rtlgen gen accel --out)")
    p.add_argument("--bitstream", required=True, metavar="CFG.bin", help="configuration bitstream for it")
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
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(handler=_run)
