"""The two images an accelerator loads for a model: ``config.bin`` and ``weights.bin``.

What ``rtlgen bitstream build`` writes. From a model, an accelerator configuration
(:mod:`rtlgen.accel.config`), a catalog and, optionally, an emulator assignment
(:mod:`rtlgen.emulate.assignment`, any file of that schema; none = exact everywhere):

* ``config.bin`` (:mod:`rtlgen.bitstream.format`) describes **every** MAC layer of the model
  (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED; those the assignment does not list run the exact
  multiplier in its default encoding, as the emulator computes them, or in ``offset`` where the
  default is ``signmag`` and the layer's input can go below its zero point). A layer's granularity is
  the coarsest that expresses its selects (one multiplier: ``layer``; one per output channel:
  ``filter``; else ``kernel``). With weight tuning (``uniform``, or ``histogram`` on calibration
  images, as :func:`rtlgen.emulate.emulator_for` tunes) the tuned codes travel as weight remaps
  of the slots whose map is not the identity, as the mapper writes them.
* ``weights.bin`` (:mod:`rtlgen.bitstream.weights`): the model's own weights (not tuned) and
  biases in the weight-memory layout of the configuration's ``lanes``. Its model hash is also
  in ``config.bin`` (format version 2), which ties the two images together.
* ``config.bin`` (format version 4) also describes, in graph order, every ADD, AVERAGE_POOL_2D,
  MAX_POOL_2D and PAD (op descriptors, :mod:`rtlgen.bitstream.opdesc`: their parameters as the
  emulator derives them from the model); RESHAPE needs none (the plan aliases it) and a trailing
  SOFTMAX stays on the host (the plan's output is its input, the int8 logits).

Units. When the configuration lists its ``[[unit]]`` banks, each layer runs on the first unit
whose bank holds every multiplier it uses (matched by table hash, so an exact multiplier under
any catalog name serves ``"exact"``); a layer no unit can run is an error naming its multipliers
and the banks. When it lists none, the banks are filled from the assignment: layer after layer in
graph order, on the unit that already holds the most of its multipliers and still has room
(first such unit on ties); free slots get the exact multiplier of the unit's signedness. The
chosen configuration (:attr:`Images.accel`, named with catalog names where the catalog has the
multiplier, else by table hash) is then part of the result, to generate the matching hardware.

Splits. :func:`split_layer` splits a layer of built images by output channels over several units
(``rtlgen bitstream build --split KEY=U,U``): ``config.bin``'s shares (format version 5,
:mod:`rtlgen.bitstream.format`), one per unit, in equal whole groups of lanes
(:func:`share_ranges`), each share's channels on the same multipliers, found by table hash in its
unit's bank.

Fit. ``config.bin`` (format version 3) carries the activation-memory plan
(:mod:`rtlgen.bitstream.memplan`); images the accelerator cannot hold (activations, a layer's
weights or channels, either image's memory) are refused with one line (:func:`check_fits`).

The accelerator hash in ``config.bin`` is the configuration's :meth:`AccelConfig.config_hash`
with its banks resolved to table hashes: the hash the mapper records
(:func:`rtlgen.mapper.job.run_map_job`) and the generated accelerator bakes in, computed
without generating RTL.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtlgen.accel.config import AccelConfig
from rtlgen.bitstream import format as bsmod
from rtlgen.bitstream import weights as wmod
from rtlgen.bitstream.memplan import plan_activations
from rtlgen.bitstream.opdesc import op_descriptors
from rtlgen.errors import BitstreamError, CatalogError, ConfigError

__all__ = ["Images", "build_images", "check_fits", "with_plan", "split_layer", "share_ranges"]


@dataclass(frozen=True)
class Images:
    """What :func:`build_images` makes: the two images and the configuration they are for."""

    config: bsmod.Bitstream
    weights: wmod.WeightsImage
    #: the configuration with its banks, named (catalog names where possible)
    accel: AccelConfig
    #: whether the banks were chosen here (the given configuration listed none)
    banks_chosen: bool

    def files(self) -> dict[str, bytes]:
        """File name -> bytes: ``config.bin``, ``weights.bin`` and, when the banks were chosen
        here, ``accel.toml`` (the configuration ``config.bin``'s accelerator hash names)."""
        out = {"config.bin": bsmod.encode(self.config), "weights.bin": wmod.encode(self.weights)}
        if self.banks_chosen:
            out["accel.toml"] = self.accel.to_toml().encode("utf-8")
        return out


def _granularity(sel: np.ndarray) -> tuple[str, tuple[int, ...]]:
    """The coarsest granularity that expresses slot selects ``sel[o, g]``, and its selects."""
    if (sel == sel.flat[0]).all():
        return "layer", (int(sel.flat[0]),)
    if (sel == sel[:, :1]).all():
        return "filter", tuple(int(s) for s in sel[:, 0])
    return "kernel", tuple(int(s) for s in sel.ravel())


def _pack(needs: list[tuple[str, list[str]]], units: int, slots: int,
          source: str | None = None) -> tuple[list[list[str]], list[int]]:
    """Banks (table hashes) holding each layer's multipliers, and each layer's unit; see the
    module docstring. ``needs``: (layer key, hashes it uses) in graph order."""
    banks: list[list[str]] = [[] for _ in range(units)]
    where = []
    for key, need in needs:
        best = None
        for u, bank in enumerate(banks):
            missing = [h for h in need if h not in bank]
            if len(bank) + len(missing) <= slots and (best is None or len(need) - len(missing) > best[1]):
                best = (u, len(need) - len(missing))
        if best is None:
            raise ConfigError(f"layer {key} uses {len(need)} multipliers, which no unit has room for: the "
                              f"{units} unit(s) of {slots} slots hold {[len(b) for b in banks]} already; list "
                              "the banks as [[unit]] tables in the accelerator configuration, or give it more "
                              "units or multipliers", file=source)
        u = best[0]
        banks[u] += [h for h in need if h not in banks[u]]
        where.append(u)
    return banks, where


def build_images(graph: Any, config: AccelConfig, catalog: Any, assignment: Any = None, *,
                 calib_images: np.ndarray | None = None) -> Images:
    """``config.bin`` and ``weights.bin`` of ``graph`` for ``config`` (module docstring).

    ``catalog``: a :class:`rtlgen.library.catalog.Catalog` resolving the assignment's and the
    configuration's multiplier names; ``assignment``: an :class:`~rtlgen.emulate.assignment.Assignment`
    (None: exact everywhere); ``calib_images``: the images histogram weight tuning measures on.
    Raises ConfigError when a layer cannot be placed on a unit."""
    from rtlgen.conventions import DEFAULT_ENCODING
    from rtlgen.emulate.assignment import parse_assignment
    from rtlgen.emulate.encoding import TABLE_SIGNED
    from rtlgen.emulate.from_bitstream import _mac_keys, model_weights
    from rtlgen.emulate.layers import compile_mac_layers
    from rtlgen.emulate.plan import LayerPlan
    from rtlgen.emulate.weight_tuning import weight_map
    from rtlgen.netlist.table import exact_table, table_hash

    if assignment is None:
        assignment = parse_assignment({"encoding": DEFAULT_ENCODING}, "<exact>")
    layers = compile_mac_layers(graph)

    def resolve(name: str) -> tuple[np.ndarray, bool]:
        return catalog.table(name), catalog.get(name).signed

    plans = assignment.plans(graph, resolve, layers)
    hists = None
    if assignment.weight_tuning == "histogram":
        if calib_images is None:
            raise ConfigError("weight_tuning 'histogram' needs calibration images", file=assignment.source)
        from rtlgen.emulate.emulator import Emulator

        hists = Emulator(graph).activation_histograms(calib_images)
    tables: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    signed_of: dict[str, bool] = {}

    def name_of(h: str, fallback: str) -> str:
        try:
            return catalog.get(h).name
        except (CatalogError, KeyError):
            return fallback

    keyed = []      # (op, kind, index, key, plan, hashes per table)
    # an exact layer runs in the assignment's default encoding, except where signmag cannot take
    # its operands (an input below its zero point, e.g. DS-CNN's first layer): there in offset,
    # as the mapper's "auto" chooses (the same unsigned exact multiplier)
    from rtlgen.emulate.encoding import layer_encodings

    auto = dict(zip((op.index for op in graph.mac_ops()),
                    layer_encodings(graph, "auto", signed=TABLE_SIGNED[assignment.encoding], layers=layers)))
    for op, kind, index in _mac_keys(graph):
        layer = layers[op]
        plan = plans.get(op)
        if plan is None:    # exact, in the assignment's default encoding (or offset, above)
            enc = auto[op] if assignment.encoding == "signmag" else assignment.encoding
            plan = LayerPlan(enc, (exact_table(TABLE_SIGNED[enc]),), np.zeros(layer.kernel_shape, dtype=np.int64),
                             ("exact",)).validate(layer)
        signed = TABLE_SIGNED[plan.encoding]
        for t, h, n in zip(plan.tables, plan.hashes, plan.names):
            tables.setdefault(h, t)
            signed_of[h] = signed
            names.setdefault(h, name_of(h, n))
        key = f"fc:{index}" if kind == "fully_connected" else str(index)
        keyed.append((op, kind, index, key, plan))

    def used(plan: Any) -> list[str]:
        return [plan.hashes[i] for i in sorted(set(int(s) for s in np.asarray(plan.select).ravel()))]

    chosen = config.unit_multipliers is None
    if chosen:
        banks, unit_of = _pack([(key, used(plan)) for *_, key, plan in keyed], config.units, config.multipliers,
                                config.source)
        for bank in banks:
            signed = signed_of[bank[0]] if bank else False
            exact_h = table_hash(exact_table(signed), signed)
            tables.setdefault(exact_h, exact_table(signed))
            signed_of.setdefault(exact_h, signed)
            names.setdefault(exact_h, name_of(exact_h, "exact"))
            bank += [exact_h] * (config.multipliers - len(bank))
    else:
        banks = [list(b) for b in config.resolved(catalog).require_multipliers()]
        for bank in banks:
            for h in bank:
                entry = catalog.get(h)
                signed_of.setdefault(h, entry.signed)
                names.setdefault(h, entry.name)
        unit_of = []
        for *_, key, plan in keyed:
            need = used(plan)
            u = next((u for u, bank in enumerate(banks) if all(h in bank for h in need)), None)
            if u is None:
                listing = "; ".join(f"unit {u}: {', '.join(names.get(h, h) for h in bank)}"
                                    for u, bank in enumerate(banks))
                raise ConfigError(f"layer {key} uses {', '.join(names[h] for h in need)}, which no unit carries "
                                  f"together ({listing})", file=config.source)
            unit_of.append(u)

    mem = plan_activations(graph, config.activation_bytes, source=config.source)
    descs = []
    for (op, kind, index, key, plan), u in zip(keyed, unit_of):
        layer = layers[op]
        bank = banks[u]
        slot_of_table = np.array([bank.index(h) for h in plan.hashes], dtype=np.int64)
        sel = slot_of_table[np.asarray(plan.select)]
        granularity, selects = _granularity(sel)
        remaps = []
        if assignment.weight_tuning != "none" and op in plans:
            codes = np.arange(256)
            w_of_code = np.where(codes >= 128, codes - 256, codes)
            for slot in sorted(set(int(s) for s in sel.ravel())):
                m = weight_map(tables[bank[slot]], plan.encoding, layer.z_in,
                               hists[op] if hists is not None else None)
                tuned = m[w_of_code + 128]
                if not np.array_equal(tuned, w_of_code):
                    remaps.append(bsmod.WeightRemap(slot, bytes((tuned & 0xFF).astype(np.uint8))))
        descs.append(bsmod.LayerDescriptor(
            index=index, kind=kind, unit=u, encoding=plan.encoding, granularity=granularity,  # type: ignore[arg-type]
            geometry=bsmod.Geometry.from_mac_layer(layer), requant=bsmod.Requant.from_mac_layer(layer),
            selects=selects, weight_remap=tuple(remaps),
            **dict(zip(("in_base", "out_base"), mem.op_bases(graph.ops[op])))))
    resolved = config.with_multipliers(banks)
    named = config.with_multipliers([[name_of(h, h) for h in bank] for bank in banks]) if chosen else config
    units = tuple(tuple(bsmod.MultiplierRef(h, signed_of[h], names.get(h, "")) for h in bank) for bank in banks)
    weights = model_weights(graph, config.lanes, layers)
    (in_base, in_bytes), (out_base, out_bytes) = mem.input, mem.output
    stream = bsmod.Bitstream(accel_hash=resolved.config_hash(), units=units, layers=tuple(descs),
                             model_hash=weights.model_hash, input_base=in_base, input_bytes=in_bytes,
                             output_base=out_base, output_bytes=out_bytes, ops=op_descriptors(graph, mem))
    check_fits(stream, weights, config)
    return Images(stream, weights, named, chosen)


def share_ranges(out_c: int, shares: int, lanes: int) -> list[tuple[int, int]]:
    """Output-channel ranges of ``shares`` equal shares of ``out_c`` channels: whole groups of
    ``lanes`` (the engine runs a share's groups from the first), the first shares one group more
    where they do not divide evenly. Fewer groups than shares is a ValueError."""
    groups = -(-out_c // lanes)
    if not 1 <= shares <= groups:
        raise ValueError(f"{out_c} output channels are {groups} group(s) of {lanes} lanes: they split in 1 to "
                         f"{groups} shares, not {shares}")
    out, g = [], 0
    for s in range(shares):
        n = groups // shares + (s < groups % shares)
        out.append((g * lanes, min(out_c, (g + n) * lanes)))
        g += n
    return out


def split_layer(images: Images, key: str, units: tuple[int, ...] | list[int]) -> Images:
    """``images`` with layer ``key`` (``"N"`` or ``"fc:N"``) split by output channels into one
    share per unit of ``units``, in that order (:func:`share_ranges`; config.bin's "Shares",
    :mod:`rtlgen.bitstream.format`): share s runs on unit ``units[s]`` with the same multipliers
    as before, found by table hash in that unit's bank, and the same weight remaps. Raises
    ConfigError (one line) for a layer already split, a unit that does not exist or lacks one of
    the share's multipliers, or more shares than the layer has groups of lanes."""
    from dataclasses import replace

    stream, config = images.config, images.accel
    try:
        d = stream.layer(key)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"cannot split layer {key}: {exc.args[0]}", file=config.source) from None
    if len(set(units)) != len(units) or any(not 0 <= u < len(stream.units) for u in units):
        raise ConfigError(f"layer {key} cannot be split over units {list(units)}: name distinct units of the "
                          f"{len(stream.units)} the accelerator has", file=config.source)
    try:
        ranges = share_ranges(d.geometry.out_c, len(units), config.lanes)
    except ValueError as exc:
        raise ConfigError(f"layer {key}: {exc}", file=config.source) from None
    old_bank = stream.units[d.unit]
    sel = d.select_array()
    remap_of = {old_bank[r.slot].hash: r.codes for r in d.weight_remap}
    shares = []
    for u, (lo, hi) in zip(units, ranges):
        bank = [m.hash for m in stream.units[u]]
        need = sorted({old_bank[int(s)].hash for s in np.unique(replace(d, co_first=lo, co_end=hi).own_selects())})
        missing = [h for h in need if h not in bank]
        if missing:
            names = {m.hash: m.name or m.hash for m in old_bank}
            raise ConfigError(f"layer {key}: unit {u} lacks {', '.join(names[h] for h in missing)}, which output "
                              f"channels {lo}..{hi - 1} use", file=config.source)
        slot = np.array([bank.index(m.hash) if m.hash in bank else 0 for m in old_bank], dtype=np.int64)
        new_sel = slot[sel].copy()
        if d.granularity != "layer":     # the selects of other shares' channels go unused: 0
            new_sel[:lo] = 0
            new_sel[hi:] = 0
        remaps = tuple(bsmod.WeightRemap(bank.index(h), remap_of[h]) for h in sorted(need, key=bank.index)
                       if h in remap_of)
        shares.append(replace(d, unit=u, selects=tuple(int(v) for v in new_sel.ravel()), weight_remap=remaps,
                              co_first=lo, co_end=hi))
    at = stream.layers.index(d)
    layers = (*stream.layers[:at], *shares, *stream.layers[at + 1:])
    # op descriptors after this layer stay after it: each more share is one more layer before them
    ops = tuple(replace(op, after_layers=op.after_layers + len(shares) - 1) if op.after_layers > at else op
                for op in stream.ops)
    out = replace(stream, version=bsmod.VERSION, layers=layers, ops=ops)
    check_fits(out, images.weights, config)
    return replace(images, config=out)


def check_fits(stream: bsmod.Bitstream, weights: wmod.WeightsImage, config: AccelConfig) -> None:
    """Refuse (one :class:`BitstreamError` line: what, needed, available) images that the
    accelerator ``config`` cannot hold: a layer the sequencer runs (CONV_2D, FULLY_CONNECTED)
    whose weights exceed the weight memory (``weight_words``) or whose output channels exceed the
    parameter memory (``channels``), a ``config.bin`` beyond the configuration memory
    (:func:`rtlgen.accel.loader.config_capacity`), a ``weights.bin`` beyond the weights store
    (``weights_store_bytes``). The activation memory is checked by the plan
    (:func:`rtlgen.bitstream.memplan.plan_activations`)."""
    from rtlgen.accel.loader import config_capacity

    for layer in stream.layers:
        g = layer.geometry
        lanes = config.lanes
        if layer.co_first % lanes or (layer.co_end % lanes and layer.co_end != g.out_c):
            raise BitstreamError(f"layer {layer.key}'s share [{layer.co_first}, {layer.co_end}) does not start and "
                                 f"end at groups of the accelerator's {lanes} lanes; the engine runs a share's "
                                 "groups whole", file=config.source)
        if layer.kind == "depthwise_conv2d":
            continue
        channels = layer.co_end - layer.co_first
        words = -(-channels // lanes) * g.k_h * g.k_w * g.in_c
        if words > config.weight_words:
            raise BitstreamError(f"layer {layer.key} needs {words} weight-memory words "
                                 f"({channels} channels in groups of {lanes} x {g.k_h}x{g.k_w}x{g.in_c}), "
                                 f"the accelerator has {config.weight_words} (weight_words)", file=config.source)
        if g.out_c > config.channels:
            raise BitstreamError(f"layer {layer.key} needs {g.out_c} parameter-memory entries, the accelerator "
                                 f"has {config.channels} (channels)", file=config.source)
    for name, size, capacity, what in (
            ("config.bin", len(bsmod.encode(stream)), config_capacity(config), "configuration memory"),
            ("weights.bin", len(wmod.encode(weights)), config.weights_store_bytes,
             "weights store (weights_store_bytes)")):
        if size - 16 > capacity:
            raise BitstreamError(f"{name} needs {size - 16} bytes of {what}, the accelerator has {capacity}",
                                 file=config.source)


def with_plan(stream: Any, graph: Any, capacity: int | None = None, *, source: str | None = None) -> Any:
    """``stream`` (a :class:`~rtlgen.bitstream.format.Bitstream` describing every MAC layer of
    ``graph``, as the mapper writes it) made runnable on the device: ``graph``'s plan (each
    descriptor's ``in_base``/``out_base``, the network's input and output regions) and the op
    descriptors of its other operators (:func:`rtlgen.bitstream.opdesc.op_descriptors`), in the
    current format version: what :func:`rtlgen.accel.images.build_images` writes.
    ``capacity``/``source``: as :func:`plan_activations` (a :class:`BitstreamError` when the
    activations do not fit)."""
    from dataclasses import replace

    from rtlgen.bitstream.format import VERSION
    from rtlgen.bitstream.opdesc import op_descriptors
    from rtlgen.emulate.from_bitstream import op_of_key

    ops = op_of_key(graph)
    if sorted({d.key for d in stream.layers}) != sorted(ops):
        raise BitstreamError(f"the bitstream describes {len({d.key for d in stream.layers})} of the {len(ops)} MAC layers of "
                             f"{graph.source}; a device run needs all of them", file=source)
    plan = plan_activations(graph, capacity, source=source)
    layers = tuple(replace(d, **dict(zip(("in_base", "out_base"), plan.op_bases(graph.ops[ops[d.key]]))))
                   for d in stream.layers)
    (in_base, in_bytes), (out_base, out_bytes) = plan.input, plan.output
    # op_descriptors counts layers; a split layer's shares are a descriptor each
    return replace(stream, version=VERSION, layers=layers, input_base=in_base, input_bytes=in_bytes,
                   output_base=out_base, output_bytes=out_bytes).with_layer_ops(op_descriptors(graph, plan))
