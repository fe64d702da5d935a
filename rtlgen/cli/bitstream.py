"""``rtlgen bitstream build|encode|decode|inspect|emulate``: the accelerator's images.

``build`` makes ``config.bin`` and ``weights.bin`` of a model for an accelerator configuration
(:mod:`rtlgen.accel.images`); ``encode``/``decode`` turn ``config.bin`` into JSON and back;
``inspect`` lists either image's parts with their byte offsets; ``emulate`` runs the emulator
from ``config.bin`` (and ``weights.bin``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtlgen.bitstream import format as bsmod
from rtlgen.bitstream import weights as wmod
from rtlgen.errors import ConfigError
from rtlgen.paths import atomic_write_files
from rtlgen.cli._args import positive_int


def _expected_accel(args: argparse.Namespace, bs: bsmod.Bitstream | None = None) -> str | None:
    """The config hash a bitstream must carry: from ``--accel-hash``, or from ``--accel`` (the
    resolved configuration: its banks by table hash; a config without banks takes the
    bitstream's, so that only its shape is checked)."""
    if not getattr(args, "accel", None):
        return args.accel_hash
    from rtlgen.accel.config import load_config  # the accelerator issue owns configs

    config = load_config(args.accel)
    if config.unit_multipliers is None:
        if bs is None:
            raise ConfigError("lists no [[unit]] multipliers: give the bitstream's banks", file=args.accel)
        return config.with_multipliers([[m.hash for m in bank] for bank in bs.units]).config_hash()
    if args.lib:
        from rtlgen.library.catalog import Catalog

        config = config.resolved(Catalog.open(args.lib))
    return config.config_hash()


def _encode(args: argparse.Namespace) -> int:
    path = Path(args.spec)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not a text file; expected a bitstream description in JSON", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=exc.lineno) from None
    bs = bsmod.from_dict(spec, file=str(path))
    want = _expected_accel(args, bs)
    if want is not None and bs.accel_hash != bsmod.normalize_accel_hash(want):
        raise ConfigError(f"accel_hash {bs.accel_hash!r} is not the given accelerator's {want!r}", file=str(path))
    bsmod.write_bitstream(args.out, bs)
    print(f"wrote {args.out}: {len(bsmod.encode(bs))} bytes, {len(bs.units)} units, {len(bs.layers)} layers")
    return 0


def _decode(args: argparse.Namespace) -> int:
    bs = bsmod.read_bitstream(args.bitstream)
    want = _expected_accel(args, bs)
    if want is not None:
        bs = bsmod.read_bitstream(args.bitstream, expect_accel=want)
    text = bsmod.dumps_json(bs)
    files = {}      # written together: both files or neither
    if args.out:
        files[args.out] = text.encode("utf-8")
    if args.assignment:
        files[args.assignment] = (json.dumps(bsmod.to_assignment(bs), indent=1) + "\n").encode("utf-8")
    atomic_write_files(files)
    if not args.out:
        print(text, end="")
    return 0


def _split_spec(text: str) -> tuple[str, tuple[int, ...]]:
    """``--split KEY=U,U[,...]``: layer key (``N`` or ``fc:N``) and the units of its shares."""
    key, sep, units = text.partition("=")
    try:
        parsed = tuple(int(u) for u in units.split(","))
    except ValueError:
        parsed = ()
    if not sep or not key or len(parsed) < 2 or min(parsed) < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=UNIT,UNIT[,...] (e.g. 3=0,1 or fc:0=0,1)")
    return key, parsed


def _build(args: argparse.Namespace) -> int:
    from rtlgen.accel.config import load_config
    from rtlgen.accel.images import build_images, split_layer
    from rtlgen.emulate.assignment import load_assignment
    from rtlgen.library.catalog import Catalog
    from rtlgen.nn.images import load_images
    from rtlgen.nn.tflite import load_tflite

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError("is a file; expected the output folder (created if missing)", file=str(out))
    graph = load_tflite(args.model)
    config = load_config(args.accel)
    catalog = Catalog.open(args.lib)
    assignment = load_assignment(args.assign) if args.assign else None
    calib = None
    if assignment is not None and assignment.weight_tuning == "histogram":
        if not args.images:
            raise ConfigError("weight_tuning 'histogram' calibrates on images: give --images X.npz",
                              file=str(args.assign))
        calib, _ = load_images(args.images, 0, args.calib)
    images = build_images(graph, config, catalog, assignment, calib_images=calib)
    for key, units in args.split or ():
        images = split_layer(images, key, units)
    files = images.files()
    atomic_write_files({out / name: data for name, data in files.items()})
    described = len({d.key for d in images.config.layers})
    approx = len({d.key for d in images.config.layers
                  if any(images.config.units[d.unit][s].hash != _exact_hash(images.config.units[d.unit][s].signed)
                         for s in set(d.own_selects().tolist()))})
    print(f"wrote {out / 'config.bin'} ({len(files['config.bin'])} bytes, accelerator {images.config.accel_hash}, "
          f"{described} layers, {approx} approximate) and {out / 'weights.bin'} ({len(files['weights.bin'])} bytes, "
          f"{images.weights.lanes} lanes, model {images.weights.model_hash})"
          + (f"; banks chosen here: {out / 'accel.toml'}" if images.banks_chosen else ""))
    from rtlgen.accel.schedule import batch_cycles, network_cycles, slots_that_fit

    cycles = network_cycles(files["config.bin"], files["weights.bin"], config)
    if cycles.stop is None:
        one = batch_cycles(files["config.bin"], files["weights.bin"], config)
        slots = slots_that_fit(config.activation_bytes, images.config.activation_span)
        stream = batch_cycles(files["config.bin"], files["weights.bin"], config, batch=16, slots=slots)
        print(f"on the device: {one.total:,} cycles per inference from START to NET_DONE "
              f"(rtlgen.accel.schedule; {one.total / 1e5:.2f} ms at 100 MHz); 16 inputs in one START with "
              f"{slots} activation slot{'s' if slots > 1 else ''}: {stream.total:,} cycles, one output every "
              f"{stream.interval:,.0f} cycles at the end ({config.units} unit{'s' if config.units > 1 else ''} "
              "at once)")
    else:
        code, offset = cycles.stop
        print(f"on the device: the sequencer would stop with {code.name} at config.bin byte {offset} "
              f"after {cycles.total:,} cycles")
    return 0


def _exact_hash(signed: bool) -> str:
    from rtlgen.netlist.table import exact_table, table_hash

    return table_hash(exact_table(signed), signed)


def _inspect(args: argparse.Namespace) -> int:
    path = Path(args.bitstream)
    data = path.read_bytes()
    if data[:4] == wmod.MAGIC:      # weights.bin: no accelerator hash to check
        print(wmod.describe(data, file=str(path)))
        return 0
    print(bsmod.describe(data, file=str(path)))
    want = _expected_accel(args, bsmod.decode(data, file=str(path)))
    if want is not None:
        bsmod.decode(data, expect_accel=want, file=str(path))
        print("accelerator hash matches")
    return 0


def _emulate(args: argparse.Namespace) -> int:
    import numpy as np

    from rtlgen.library.catalog import Catalog
    from rtlgen.emulate.from_bitstream import emulator_from_bitstream, emulator_from_images
    from rtlgen.mapper.network import load_images
    from rtlgen.nn.tflite import load_tflite

    bs = bsmod.read_bitstream(args.bitstream)
    want = _expected_accel(args, bs)
    if want is not None:
        bs = bsmod.read_bitstream(args.bitstream, expect_accel=want)
    catalog = Catalog.open(args.lib)
    graph = load_tflite(args.model)
    x, y = load_images(args.images)
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    resolver = lambda name: (catalog.table(name), catalog.get(name).signed)  # noqa: E731
    if args.weights:
        emu = emulator_from_images(graph, bs, wmod.read_weights(args.weights), resolver,
                                   config_file=str(args.bitstream), weights_file=str(args.weights))
    else:
        emu = emulator_from_bitstream(graph, bs, resolver, file=str(args.bitstream))
    res = emu.run(x)
    acc = res.accuracy(y)
    import io

    from rtlgen.paths import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, logits=res.logits, output=res.output, pred=res.pred, accuracy=acc)
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"{len(x)} images, top-1 accuracy {100 * acc:.2f}% -> {args.out}")
    return 0


def _accel_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--accel", metavar="ACCEL.toml", help="reject a bitstream made for another accelerator config")
    g.add_argument("--accel-hash", metavar="HASH", help="the same, given the config hash directly")
    p.add_argument("--lib", metavar="LIBDIR", help="catalog resolving the multiplier names of --accel")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bitstream", help="encode, decode and inspect configuration bitstreams",
                              description=__doc__)
    sub = p.add_subparsers(dest="bitstream_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="model + accelerator config (+ assignment) -> config.bin and weights.bin",
                       description="Write OUT/config.bin (every MAC layer's descriptor) and OUT/weights.bin (the "
                                   "model's weights and biases in the weight-memory layout), together or not at "
                                   "all. Without --assign every layer is exact. When ACCEL.toml lists no "
                                   "[[unit]] banks they are chosen from the assignment and written to "
                                   "OUT/accel.toml as well. config.bin carries the activation-memory plan "
                                   "(rtlgen.bitstream.memplan); a model the accelerator cannot hold (its "
                                   "activations, a layer's weights or channels, either image) is refused with "
                                   "one line naming the sizes needed and available, exit status 1.")
    b.add_argument("--model", required=True, metavar="M.tflite")
    b.add_argument("--accel", required=True, metavar="ACCEL.toml", help="accelerator configuration")
    b.add_argument("--lib", required=True, metavar="LIBDIR", help="catalog resolving the multiplier names")
    b.add_argument("--assign", metavar="A.json", help="emulator assignment (rtlgen.emulate.assignment); default exact")
    b.add_argument("--images", metavar="X.npz", help="calibration images, for histogram weight tuning")
    b.add_argument("--calib", type=positive_int, default=100, metavar="N",
                   help="calibrate on the first N of --images (default 100)")
    b.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created if missing)")
    b.add_argument("--split", type=_split_spec, action="append", metavar="KEY=U,U",
                   help="split layer KEY (N or fc:N) by output channels over these units, in equal whole groups of "
                        "lanes, each share with the layer's multipliers from its unit's bank (config.bin shares, "
                        "format version 5); repeatable")
    b.set_defaults(handler=_build)
    e = sub.add_parser("encode", help="JSON description -> bitstream")
    e.add_argument("spec", metavar="SPEC.json")
    e.add_argument("--out", "-o", required=True, metavar="OUT.bin")
    _accel_options(e)
    e.set_defaults(handler=_encode)
    d = sub.add_parser("decode", help="bitstream -> JSON description (and emulation assignment)")
    d.add_argument("bitstream", metavar="IN.bin")
    d.add_argument("--out", "-o", metavar="OUT.json", help="write here instead of printing")
    d.add_argument("--assignment", metavar="ASSIGN.json", help="also write the emulator's assignment")
    _accel_options(d)
    d.set_defaults(handler=_decode)
    i = sub.add_parser("inspect", help="list the parts of config.bin or weights.bin with their byte offsets")
    i.add_argument("bitstream", metavar="IN.bin")
    _accel_options(i)
    i.set_defaults(handler=_inspect)
    m = sub.add_parser("emulate", help="emulate a model configured by a bitstream (what the accelerator runs)")
    m.add_argument("bitstream", metavar="IN.bin")
    m.add_argument("--model", required=True, metavar="M.tflite")
    m.add_argument("--images", required=True, metavar="X.npz", help="images 'x' and labels 'y'")
    m.add_argument("--lib", required=True, metavar="LIBDIR", help="catalog holding the bitstream's multipliers")
    m.add_argument("--weights", metavar="W.bin", help="take the weights from this weights.bin (checked against --model)")
    m.add_argument("--limit", type=positive_int, metavar="N", help="only the first N images")
    m.add_argument("--out", "-o", required=True, metavar="OUT.npz", help="logits, output, pred, accuracy")
    m.add_argument("--accel", metavar="ACCEL.toml", help="reject a bitstream made for another accelerator config")
    m.add_argument("--accel-hash", metavar="HASH", help=argparse.SUPPRESS)
    m.set_defaults(handler=_emulate)
