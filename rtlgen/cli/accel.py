"""``rtlgen accel power``: power and energy of the generated accelerator running conv layers of a
bitstream, from gate-level activity through the cost flow's liberty power model
(rtlgen/accel/power.py; workloads from rtlgen/accel/workload.py). With ``--calibrate
MODEL.json`` it also fits the per-component energy model to the runs (rtlgen/accel/energy.py;
the multipliers' energy from the cost flow on each layer's operand histograms) and writes it:
the accelerator should have one unit kept busy by the runs, as the model's coefficients are per
unit.

``rtlgen accel memories``: an accelerator configuration's memories as the PDK's SRAM macros
(rtlgen/accel/memories.py): macros, area, energy per read and write, leakage; with ``--images``
(a folder with ``config.bin`` and ``weights.bin``, as ``rtlgen bitstream build`` writes them)
also a network's reads and writes and the memories' energy per inference in the steady state of
a batch on the device (rtlgen/accel/schedule.py)."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path


from rtlgen.cli._args import non_negative_int, positive_float, positive_int


def _crop(text: str) -> tuple[int, int, int]:
    try:
        y0, x0, size = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--crop takes Y0,X0,SIZE (three integers), not {text!r}") from None
    return y0, x0, size


def _layers(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers takes conv layer indices like 0,3, not {text!r}") from None


def _power(args: argparse.Namespace) -> int:
    from rtlgen.accel.config import load_config
    from rtlgen.accel.generate import GeneratedDesign
    from rtlgen.accel.power import DEFAULT_ENVIRONMENT, accelerator_power
    from rtlgen.accel.workload import bitstream_jobs
    from rtlgen.cost.pdk import get_pdk
    from rtlgen.errors import VerificationError
    from rtlgen.paths import atomic_write_text

    design = GeneratedDesign.load(args.accel)
    config = load_config(Path(args.accel) / "accel.toml")
    work = bitstream_jobs(args.accel, args.bitstream, args.model, args.images, image=args.image,
                          layers=args.layers, crop=args.crop)
    env = replace(DEFAULT_ENVIRONMENT, clock_ns=args.clock_ns)
    power = accelerator_power(design, config, [(w.name, w.job) for w in work],
                              Path(args.work_dir) if args.work_dir else Path(args.accel) / "power-work",
                              environment=env, pdk=get_pdk(args.pdk).with_search(args.pdk_dir))
    for w, result in zip(work, power.results):
        mismatch = w.output_mismatch(result.output)
        if mismatch:
            raise VerificationError(mismatch)
    print(f"{args.pdk}: {power.cells:,} cells, {power.area_um2 / 1e6:.3f} mm^2; clock {args.clock_ns:g} ns; "
          f"{power.clamped_pins:,} pins' slews clamped to {power.max_slew_ns:g} ns")
    for run in power.runs:
        print(f"{run.name}: {run.cycles:,} cycles, {run.macs:,} MACs, output equals the emulation; "
              f"{run.total_mw:.3f} mW (internal {run.internal_mw:.3f}, switching "
              f"{run.switching_mw:.3f}, leakage {run.leakage_mw:.5f}), {run.energy_pj / 1e3:.2f} nJ "
              f"per run, {run.energy_per_mac_pj:.2f} pJ per MAC")
        for name, cat in run.breakdown.items():
            print(f"  {name:<28} {cat.total_mw:10.4f} mW  (dynamic {cat.dynamic_mw:.4f}, "
                  f"leakage {cat.leakage_mw:.6f})")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(power.to_dict(), indent=1) + "\n")
    if args.calibrate:
        _calibrate(args, config, work, power)
    return 0


def _calibrate(args: argparse.Namespace, config, work, power) -> None:
    from rtlgen.accel.energy import CalibrationRun, calibrate, errors
    from rtlgen.accel.manifest import read_manifest
    from rtlgen.cost.multiplier import energy_per_mult
    from rtlgen.cost.pdk import get_pdk

    pdk = get_pdk(args.pdk).with_search(args.pdk_dir)
    units = read_manifest(args.accel)["units"]
    runs = []
    for w, run in zip(work, power.runs):
        a, b = w.operand_hists
        bank = units[w.job.descriptor.unit]
        mul_pj = 0.0
        for slot, n in sorted(w.slot_macs.items()):
            s = bank[slot]
            netlist = Path(args.accel) / "netlists" / f"{s['module']}.v"
            mul_pj += n * energy_per_mult(netlist, a_hist=a, b_hist=b, n_vectors=4096, signed=bool(s["signed"]),
                                          top=s["module"], pdk=pdk)
        runs.append(CalibrationRun(run, mul_pj))
    model = calibrate(runs, pdk=args.pdk, lanes=config.lanes)
    model.to_json(args.calibrate)
    print(f"energy model ({len(runs)} runs) -> {args.calibrate}: multipliers {model.mul_scale:.3f} x the cost "
          f"flow's energy, datapath {model.logic_pj:.1f} pJ per active cycle, flip-flops and clock "
          f"{model.clocked_pj:.1f} pJ per clocked cycle of a unit, leakage {model.leakage_mw:.5f} mW per unit "
          f"(flip-flop memories {model.memories_pj:.1f} pJ per cycle, not in the model)")
    print("in-sample error per run: " + ", ".join(f"{w.name} {100 * e:+.1f}%" for w, e in zip(work, errors(model, runs))))


def _memories(args: argparse.Namespace) -> int:
    from rtlgen.accel.config import load_config
    from rtlgen.accel.memories import InferenceMemories, device_memories
    from rtlgen.cost.sram import MACROS
    from rtlgen.errors import ConfigError

    config = load_config(args.config)
    dev = device_memories(config, args.pdk)
    if dev is None:
        raise ConfigError(f"rtlgen has no SRAM macros for {args.pdk}; it has them for {', '.join(sorted(MACROS))}")
    print(f"{config.name} on {args.pdk} SRAM macros: {dev.macros:,} macros, {dev.area_mm2:.2f} mm^2, "
          f"leakage {dev.leakage_mw:.3f} mW; every read port has an enable")
    print(dev.table())
    if args.images is None:
        return 0
    from rtlgen.accel.schedule import batch_cycles, slots_that_fit
    from rtlgen.bitstream import format as bsmod
    from rtlgen.bitstream import weights as wmod

    folder = Path(args.images)
    blobs = {}
    for name, read in (("config.bin", bsmod.read_bitstream), ("weights.bin", wmod.read_weights)):
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"no {name} in {folder}; expected the folder 'rtlgen bitstream build' writes",
                              file=str(path))
        read(path)                          # a bad image: one line naming the file
        blobs[name] = path.read_bytes()
    from rtlgen.errors import BitstreamError

    slots = slots_that_fit(config.activation_bytes, bsmod.decode(blobs["config.bin"]).activation_span)
    try:
        sched = batch_cycles(blobs["config.bin"], blobs["weights.bin"], config, batch=args.batch, slots=slots)
    except BitstreamError as exc:       # images the device stops on: say which
        raise BitstreamError(exc.message, file=str(folder / "config.bin")) from None
    mem = InferenceMemories.from_config_bin(dev, blobs["config.bin"], config.lanes, config.units)
    cycles = sched.interval
    part = dev.parts(cycles=cycles, traffic=mem.traffic, clock_ns=args.clock_ns)
    print(f"{folder}: {args.batch} inputs in {slots} slots, {cycles:,.0f} cycles per inference (steady state); "
          f"reads {dict(mem.traffic.reads)}, writes {dict(mem.traffic.writes)}")
    print(f"memory energy per inference at {args.clock_ns:g} ns: {sum(part.values()) / 1e6:.3f} uJ "
          f"(reads {part['reads'] / 1e6:.3f}, "
          f"writes {part['writes'] / 1e6:.3f}, leakage {part['leakage'] / 1e6:.3f})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("accel", help="the generated accelerator: power, memories as SRAM macros",
                              description=__doc__)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = sub.add_parser("power", help="power and energy of conv layers on the mapped gates",
                       description=__doc__)
    q.add_argument("--accel", required=True, metavar="DIR", help="generated accelerator (rtlgen gen accel --out)")
    q.add_argument("--bitstream", required=True, metavar="CFG.bin", help="configuration bitstream for it")
    q.add_argument("--model", required=True, metavar="M.tflite")
    q.add_argument("--images", required=True, metavar="X.npz", help="'x' (uint8 NHWC)")
    q.add_argument("--image", type=non_negative_int, default=0, metavar="I", help="which image (default 0)")
    q.add_argument("--layers", type=_layers, default=None, metavar="L,...",
                   help="conv layers to run (default every CONV_2D the bitstream describes)")
    q.add_argument("--crop", type=_crop, default=None, metavar="Y0,X0,SIZE",
                   help="run a SIZE x SIZE window of each layer's input (a shorter simulation)")
    q.add_argument("--clock-ns", type=positive_float, default=DEFAULT_CLOCK_NS, metavar="NS",
                   help=f"clock period for power (default {DEFAULT_CLOCK_NS:g} ns, 100 MHz)")
    q.add_argument("--work-dir", metavar="DIR", help="simulation folder (default ACCEL/power-work)")
    from rtlgen.cost.pdk import DEFAULT_PDK, pdk_names

    q.add_argument("--pdk", choices=pdk_names(), default=DEFAULT_PDK,
                   help=f"process whose cells the design is mapped to (default {DEFAULT_PDK})")
    q.add_argument("--pdk-dir", action="append", default=[], metavar="DIR",
                   help="folder of the PDK's liberty files when they do not ship (gf180mcu, asap7)")
    q.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    q.add_argument("--calibrate", metavar="MODEL.json",
                   help="also fit the per-component energy model to the runs (rtlgen/accel/energy.py) and "
                        "write it")
    q.set_defaults(handler=_power)
    r = sub.add_parser("memories", help="an accelerator's memories as SRAM macros, and their energy per inference",
                       description=__doc__)
    r.add_argument("--config", required=True, metavar="ACCEL.toml", help="accelerator configuration")
    r.add_argument("--pdk", default="sky130hd", help="process of the macros (default sky130hd, the one with macros)")
    r.add_argument("--images", metavar="DIR", help="config.bin and weights.bin of a network ('rtlgen bitstream build')")
    r.add_argument("--batch", type=positive_int, default=16, metavar="N",
                   help="inputs in one START for the steady state (default 16)")
    r.add_argument("--clock-ns", type=positive_float, default=DEFAULT_CLOCK_NS, metavar="NS",
                   help=f"clock period for leakage (default {DEFAULT_CLOCK_NS:g} ns)")
    r.set_defaults(handler=_memories)


DEFAULT_CLOCK_NS = 10.0
