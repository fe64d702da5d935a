"""``rtlgen emulate``: run a quantized model exactly or with approximate multipliers."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from rtlgen.conventions import DEFAULT_ENGINE, ENGINE_CHOICES
from rtlgen.errors import ConfigError
from rtlgen.paths import atomic_write_bytes
from rtlgen.cli._args import non_negative_int, positive_int


def register(sub) -> None:
    p = sub.add_parser("emulate", help="bit-exact emulation of an int8 TFLite model",
                       description="Emulate an int8 TFLite model on images, exactly (as LiteRT's "
                                   "reference kernels) or with the multipliers of an assignment file. "
                                   "Writes logits (last FULLY_CONNECTED output), output (graph "
                                   "output) and pred to OUT.npz; prints top-1 accuracy when the "
                                   "images file has labels 'y'.")
    p.add_argument("--model", required=True, help="int8 .tflite model")
    p.add_argument("--images", required=True,
                   help=".npz with 'x' (int8 model codes, or real input units, e.g. uint8 pixels) "
                        "and optionally 'y' (labels)")
    p.add_argument("--lib", help="multiplier library folder (needed for catalog names)")
    p.add_argument("--assign", help="assignment JSON (see rtlgen.emulate.assignment); default exact")
    p.add_argument("--limit", type=positive_int, help="only the first N images")
    p.add_argument("--calib", type=non_negative_int, default=100,
                   help="images (from the start of --images) that calibrate histogram weight "
                        "tuning (default 100)")
    p.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINE_CHOICES,
                   help="emulation engine (default auto: native where a C compiler builds it, else fast; "
                        "one line on stderr says which; native: its inner loop in C, compiled on first "
                        "use; reference is the slow oracle); all give the same bytes")
    p.add_argument("--batch", type=positive_int, default=128, help="images per batch (bounds memory)")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(handler=run)


def run(args) -> int:
    from rtlgen.emulate import catalog_resolver, emulator_for, load_assignment
    from rtlgen.nn import load_tflite
    from rtlgen.nn.images import load_images

    if Path(args.out).is_dir():  # found before any work, and before the engine line below
        raise ConfigError("is a folder; expected a file name to write", file=args.out)
    graph = load_tflite(args.model)
    x, y = load_images(args.images, 0, args.limit)
    assignment = load_assignment(args.assign) if args.assign else None
    resolver = catalog_resolver(args.lib) if args.lib else None
    em = emulator_for(graph, assignment, resolver, calib_images=x[: args.calib],
                      engine=args.engine, batch_size=args.batch)
    res = em.run(x)
    buf = io.BytesIO()
    np.savez(buf, logits=res.logits, output=res.output, pred=res.pred)
    atomic_write_bytes(Path(args.out), buf.getvalue())
    print(f"emulated {x.shape[0]} images -> {args.out}")
    if y is not None:
        print(f"top-1 accuracy: {100 * res.accuracy(y):.2f}%")
    return 0
