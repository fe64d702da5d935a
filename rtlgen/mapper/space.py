"""The decision space of the mapper: multipliers per unit, unit per layer, split inside a layer.

An accelerator has ``U`` compute units, each with a bank of ``M`` multiplier slots. A point of the
space (an integer vector ``x``, what NSGA-II evolves) decides:

* ``x[u*M + s]`` (``U*M`` variables, ``0..C-1``): the candidate multiplier in slot ``s`` of unit
  ``u``. Candidates are sorted by mean absolute error (the exact multiplier first), so that
  neighbouring integers are similar circuits and integer crossover/mutation make sense.
* ``x[U*M + l]`` (``L`` variables, ``0..U-1``): the unit that runs layer ``l``. With
  ``split_layers`` (and ``U >= 2``), the value ``U`` is one more choice for every layer with at
  least ``U`` groups of ``lanes`` output channels: the layer *split* by output channels over all
  ``U`` units, share ``u`` on unit ``u`` with the channels
  :func:`rtlgen.accel.images.share_ranges` gives it (equal whole groups of lanes, the first
  shares one group more where they do not divide evenly; config.bin's shares,
  :mod:`rtlgen.bitstream.format`). The units then run the layer at the same time, each share with
  its own unit's bank.
* the split of each layer between the slots of its unit, by granularity:

  - ``"layer"`` (layer-wise only, ALWANN): one variable per layer, ``0..M-1``, the slot the
    whole layer uses;
  - ``"filter"`` / ``"kernel"`` (MAx-DNN): ``M-1`` cut variables per layer, ``0..K``
    (``K = split_levels``). Sorted, the cuts ``c_1 <= ... <= c_{M-1}`` with ``c_0 = 0``,
    ``c_M = K`` give group ``g`` the fraction ``(c_{g+1} - c_g) / K`` of the layer's filters
    (output channels) or kernels (output x input channel pairs). The layer's filters/kernels,
    most sensitive first (:mod:`rtlgen.mapper.sensitivity`), are dealt out in that order to the
    unit's slots ordered from the lowest to the highest expected error *on this layer's
    operands* (``sum_ab p_A(a) p_B(b) |T[a,b] - a*b|`` with the layer's operand histograms), so
    the most accurate multiplier takes the most sensitive filters. Group boundaries are
    ``floor(c_g * n / K)`` of ``n`` filters/kernels.

  A split layer deals its cuts out share by share: each share's own filters/kernels, most
  sensitive first, go to its unit's slots in that unit's order by the same fractions; with
  ``"layer"`` granularity the slot variable names the slot each share uses in its unit's bank.

A decoded point is a :class:`Mapping`; :meth:`SearchSpace.assignment` turns it into the
emulator's assignment and :meth:`SearchSpace.bitstream` into a configuration bitstream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from rtlgen.bitstream import format as bsmod
from rtlgen.conventions import DEFAULT_ENCODING, Encoding, Granularity, LayerKind, check_name
from rtlgen.netlist.table import check_table, exact_table, table_hash

__all__ = ["Candidate", "LayerInfo", "Mapping", "SearchSpace", "Granularity"]


@dataclass(frozen=True, eq=False)
class Candidate:
    """A catalog multiplier the search may place in a unit's slot."""

    name: str
    hash: str
    signed: bool
    table: np.ndarray = field(repr=False)

    @classmethod
    def from_table(cls, name: str, table: np.ndarray, signed: bool) -> "Candidate":
        t = check_table(table, signed, what=f"table of {name}")
        return cls(name=name, hash=table_hash(t, signed), signed=signed, table=t)

    @property
    def is_exact(self) -> bool:
        return bool(np.array_equal(self.table, exact_table(self.signed)))

    def mean_abs_error(self) -> float:
        return float(np.mean(np.abs(self.table.astype(np.int64) - exact_table(self.signed))))


@dataclass(frozen=True, eq=False)
class LayerInfo:
    """What the mapper needs to know about one conv/fc layer of the network.

    ``act_hist``/``weight_hist`` (256 counts each) are the operand patterns as the multiplier sees
    them on ports A and B (after the encoding); ``filter_sensitivity`` (``out_channels``) and
    ``kernel_sensitivity`` (``out_channels x in_channels``) order the split. ``kind``,
    ``geometry`` and ``requant`` (and ``input_hist`` with histogram weight tuning) are only
    needed to write bitstreams. ``index`` numbers the layer among its kind (:attr:`key`).
    """

    index: int
    name: str
    macs: int
    out_channels: int
    in_channels: int
    act_hist: np.ndarray = field(repr=False)
    weight_hist: np.ndarray = field(repr=False)
    filter_sensitivity: np.ndarray = field(repr=False)
    kernel_sensitivity: np.ndarray = field(repr=False)
    kind: LayerKind = "conv2d"
    geometry: bsmod.Geometry | None = None
    requant: bsmod.Requant | None = None
    #: histogram of the layer's int8 input codes (index ``x + 128``) on calibration images: the
    #: ``p(x)`` of histogram weight tuning
    input_hist: np.ndarray | None = field(default=None, repr=False)
    #: the operand encoding the histograms were taken in (None: the search space's encoding)
    encoding: str | None = None

    @property
    def key(self) -> str:
        """The layer's key in an emulator assignment and a bitstream: ``index`` counts
        conv/depthwise layers and FULLY_CONNECTED layers apart, the latter keyed ``fc:N``."""
        return f"fc:{self.index}" if self.kind == "fully_connected" else str(self.index)

    def __post_init__(self) -> None:
        for name in ("act_hist", "weight_hist"):
            h = np.asarray(getattr(self, name), dtype=np.float64)
            if h.shape != (256,) or h.min() < 0 or h.sum() <= 0:
                raise ValueError(f"layer {self.index} {name} must be 256 non-negative counts, not all zero")
            object.__setattr__(self, name, h)
        fs = np.asarray(self.filter_sensitivity, dtype=np.float64)
        ks = np.asarray(self.kernel_sensitivity, dtype=np.float64)
        if fs.shape != (self.out_channels,):
            raise ValueError(f"layer {self.index} filter_sensitivity must have shape ({self.out_channels},), not {fs.shape}")
        if ks.shape != (self.out_channels, self.in_channels):
            raise ValueError(f"layer {self.index} kernel_sensitivity must have shape "
                             f"({self.out_channels}, {self.in_channels}), not {ks.shape}")
        object.__setattr__(self, "filter_sensitivity", fs)
        object.__setattr__(self, "kernel_sensitivity", ks)
        if self.macs <= 0:
            raise ValueError(f"layer {self.index} must have a positive MAC count, not {self.macs}")


@dataclass(frozen=True, eq=False)
class Mapping:
    """A decoded point: candidate per unit slot, unit per layer, slot per filter/kernel."""

    units: tuple[tuple[int, ...], ...]
    #: per layer, its unit; ``len(units)`` for a layer split over every unit (:attr:`parts`)
    layer_unit: tuple[int, ...]
    #: per layer, slot of the layer's unit (of each share's unit for a split layer, by absolute
    #: output channel): shape () layer, (out_c,) filter, (out_c, in_c) kernel
    selects: tuple[np.ndarray, ...]
    #: per layer, its descriptors as ``(unit, co_first, co_end)``: one for a whole layer, one per
    #: share for a split one (output channels ``[co_first, co_end)``)
    parts: tuple[tuple[tuple[int, int, int], ...], ...]

    def is_split(self, layer: int) -> bool:
        return len(self.parts[layer]) > 1

    def candidates_of(self, layer: int) -> np.ndarray:
        """Candidate index per select of ``layer`` (shaped like its selects); for a split layer
        with ``"layer"`` granularity, per output channel (each share's slot in its own bank)."""
        sel = np.asarray(self.selects[layer])
        if not self.is_split(layer):
            return np.asarray(self.units[self.layer_unit[layer]])[sel]
        banks = np.asarray(self.units)
        unit_of = np.concatenate([np.full(hi - lo, u) for u, lo, hi in self.parts[layer]])
        if sel.ndim == 0:
            return banks[unit_of, int(sel)]
        return banks[unit_of.reshape((-1,) + (1,) * (sel.ndim - 1)), sel]

    def shares(self, layer: int, n_candidates: int) -> np.ndarray:
        """Fraction of ``layer``'s multiplications done by each candidate (sums to 1)."""
        c = np.asarray(self.candidates_of(layer)).ravel()
        return np.bincount(c, minlength=n_candidates) / c.size


class SearchSpace:
    """The integer decision space for one network, one accelerator shape and a candidate set."""

    def __init__(self, layers: Sequence[LayerInfo], candidates: Sequence[Candidate], *, n_units: int,
                 slots_per_unit: int, granularity: Granularity = "filter", split_levels: int = 8,
                 encoding: Encoding = DEFAULT_ENCODING, weight_tuning: str = "none", split_layers: bool = False,
                 lanes: int | None = None):
        """``split_layers``: the unit variables may also split a layer over every unit (module
        docstring); the shares' channels depend on the accelerator's ``lanes``, required then."""
        if not layers:
            raise ValueError("the search space needs at least one layer")
        if not candidates:
            raise ValueError("the search space needs at least one candidate multiplier")
        if n_units < 1 or slots_per_unit < 1:
            raise ValueError(f"need at least one unit and one slot, not {n_units} x {slots_per_unit}")
        check_name("granularity", granularity, "search space")
        if split_levels < 1:
            raise ValueError(f"split_levels must be at least 1, not {split_levels}")
        check_name("weight tuning", weight_tuning, "search space")
        check_name("encoding", encoding, "search space")
        signed = {c.signed for c in candidates}
        if len(signed) != 1:
            raise ValueError("candidates must all be signed or all unsigned (one multiplier type per search)")
        from rtlgen.emulate.encoding import TABLE_SIGNED

        #: per layer: its own encoding (chosen by rtlgen.emulate.encoding.layer_encodings), else ``encoding``
        self.encodings: tuple[str, ...] = tuple(l.encoding or encoding for l in layers)
        for l, e in zip(layers, self.encodings):
            if e not in bsmod.ENCODINGS:
                raise ValueError(f"layer {l.name} encoding must be one of {', '.join(bsmod.ENCODINGS)}, not {e!r}")
            if TABLE_SIGNED[e] not in signed:
                raise ValueError(f"layer {l.name} uses encoding {e}, which needs "
                                 f"{'signed' if TABLE_SIGNED[e] else 'unsigned'} multipliers; the candidates are not")
        hashes = [c.hash for c in candidates]
        if len(set(hashes)) != len(hashes):
            raise ValueError("candidates must be distinct multipliers (duplicate table hash)")
        # ordinal order of the categorical variable: exact first, then by mean absolute error
        order = sorted(range(len(candidates)), key=lambda i: (not candidates[i].is_exact,
                                                              candidates[i].mean_abs_error(), candidates[i].hash))
        self.candidates: tuple[Candidate, ...] = tuple(candidates[i] for i in order)
        if not self.candidates[0].is_exact:
            raise ValueError("the candidates must include the exact multiplier (the energy reference)")
        self.layers = tuple(layers)
        self.n_units = int(n_units)
        self.slots_per_unit = int(slots_per_unit)
        self.granularity: Granularity = granularity
        self.split_levels = int(split_levels)
        self.encoding = encoding
        self.weight_tuning = weight_tuning
        self.signed = signed.pop()
        self.split_layers = bool(split_layers)
        self.lanes = None if lanes is None else int(lanes)
        #: per layer, its shares' channel ranges when split over every unit (None: never split)
        self.share_ranges: tuple[tuple[tuple[int, int], ...] | None, ...] = (None,) * len(self.layers)
        if self.split_layers:
            from rtlgen.accel.images import share_ranges

            if self.n_units < 2:
                raise ValueError(f"splitting layers over units needs at least two units, not {self.n_units}")
            if self.lanes is None or self.lanes < 1:
                raise ValueError(f"splitting layers needs the accelerator's lanes (at least 1), not {lanes}")
            self.share_ranges = tuple(
                tuple(share_ranges(l.out_channels, self.n_units, self.lanes))
                if -(-l.out_channels // self.lanes) >= self.n_units else None for l in self.layers)
        # error of each candidate on each layer's operands, and sensitivity orders
        self.layer_error = np.array([[self._expected_error(c, l) for l in self.layers] for c in self.candidates])
        self._order = []
        for l in self.layers:
            s = l.filter_sensitivity if granularity == "filter" else l.kernel_sensitivity.ravel()
            # most sensitive first; ties by position for determinism
            self._order.append(np.lexsort((np.arange(s.size), -s)))

    @staticmethod
    def _expected_error(c: Candidate, layer: LayerInfo) -> float:
        pa = layer.act_hist / layer.act_hist.sum()
        pb = layer.weight_hist / layer.weight_hist.sum()
        err = np.abs(c.table.astype(np.float64) - exact_table(c.signed))
        return float(pa @ err @ pb)

    # -- variables ------------------------------------------------------------------------------
    @property
    def n_split_vars(self) -> int:
        return 1 if self.granularity == "layer" else self.slots_per_unit - 1

    @property
    def n_var(self) -> int:
        return self.n_units * self.slots_per_unit + len(self.layers) * (1 + self.n_split_vars)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        um = self.n_units * self.slots_per_unit
        split_hi = self.slots_per_unit - 1 if self.granularity == "layer" else self.split_levels
        unit_hi = [self.n_units - (r is None) for r in self.share_ranges]   # n_units: split over all
        xu = np.concatenate([np.full(um, len(self.candidates) - 1), unit_hi,
                             np.full(len(self.layers) * self.n_split_vars, split_hi)]).astype(int)
        return np.zeros(self.n_var, dtype=int), xu

    def describe_variables(self) -> list[str]:
        names = [f"unit{u}.slot{s}" for u in range(self.n_units) for s in range(self.slots_per_unit)]
        names += [f"layer{l.key}.unit" for l in self.layers]
        for l in self.layers:
            if self.granularity == "layer":
                names.append(f"layer{l.key}.slot")
            else:
                names += [f"layer{l.key}.cut{g}" for g in range(self.n_split_vars)]
        return names

    def _slot_order(self, bank: Sequence[int], li: int) -> list[int]:
        """The slots of ``bank`` from the most to the least accurate on layer ``li``'s operands."""
        return sorted(range(self.slots_per_unit), key=lambda s: (self.layer_error[bank[s], li], bank[s], s))

    # -- decoding ---------------------------------------------------------------------------------
    def decode(self, x: Sequence[int] | np.ndarray) -> Mapping:
        x = np.asarray(x)
        if x.shape != (self.n_var,):
            raise ValueError(f"a point of this space has {self.n_var} variables, not shape {x.shape}")
        xl, xu = self.bounds()
        xi = np.rint(x).astype(int)
        if np.any(xi < xl) or np.any(xi > xu):
            bad = int(np.flatnonzero((xi < xl) | (xi > xu))[0])
            raise ValueError(f"variable {self.describe_variables()[bad]} = {xi[bad]} outside {xl[bad]}..{xu[bad]}")
        um = self.n_units * self.slots_per_unit
        units = tuple(tuple(int(v) for v in xi[u * self.slots_per_unit:(u + 1) * self.slots_per_unit])
                      for u in range(self.n_units))
        layer_unit = tuple(int(v) for v in xi[um:um + len(self.layers)])
        split = xi[um + len(self.layers):].reshape(len(self.layers), self.n_split_vars)
        selects, parts = [], []
        for li, layer in enumerate(self.layers):
            u = layer_unit[li]
            ranges = self.share_ranges[li]
            part = (tuple((v, lo, hi) for v, (lo, hi) in enumerate(ranges)) if u == self.n_units and ranges
                    else ((u, 0, layer.out_channels),))
            parts.append(part)
            if self.granularity == "layer":
                selects.append(np.array(split[li, 0]))
                continue
            cuts = np.concatenate([[0], np.sort(split[li]), [self.split_levels]])
            shape = (layer.out_channels,) if self.granularity == "filter" else (layer.out_channels, layer.in_channels)
            per_channel = 1 if self.granularity == "filter" else layer.in_channels
            flat = np.empty(int(np.prod(shape)), dtype=np.int64)
            for v, lo, hi in part:
                bank = units[v]
                # slots from the most to the least accurate on this layer's operands
                slot_order = self._slot_order(bank, li)
                order = self._order[li]
                if len(part) > 1:           # this share's filters/kernels, most sensitive first
                    ch = order // per_channel
                    order = order[(ch >= lo) & (ch < hi)]
                n = order.size
                bounds = cuts * n // self.split_levels
                for g, s in enumerate(slot_order):
                    flat[order[bounds[g]:bounds[g + 1]]] = s
            selects.append(flat.reshape(shape))
        return Mapping(units=units, layer_unit=layer_unit, selects=tuple(selects), parts=tuple(parts))

    def uniform_point(self, candidate: int) -> np.ndarray:
        """The point where every slot carries ``candidate`` (so every layer uses it throughout)."""
        xl, xu = self.bounds()
        x = xl.copy()
        x[:self.n_units * self.slots_per_unit] = candidate
        if self.granularity != "layer":
            x[self.n_units * self.slots_per_unit + len(self.layers):] = self.split_levels
        return x

    def split_everywhere(self, x: Sequence[int] | np.ndarray) -> np.ndarray:
        """Point ``x`` with every layer that can split split over every unit (``split_layers``)."""
        out = np.asarray(x, dtype=int).copy()
        um = self.n_units * self.slots_per_unit
        for li, ranges in enumerate(self.share_ranges):
            if ranges is not None:
                out[um + li] = self.n_units
        return out

    def from_layerwise(self, x: Sequence[int] | np.ndarray, layerwise: "SearchSpace") -> np.ndarray:
        """The point of this (split) space computing what point ``x`` of a ``"layer"`` space
        computes: same banks and units, each layer's cuts giving its whole layer to its slot."""
        if layerwise.granularity != "layer" or self.granularity == "layer":
            raise ValueError("from_layerwise converts a layer-granularity point into a split space")
        if (layerwise.n_units, layerwise.slots_per_unit) != (self.n_units, self.slots_per_unit) or \
                [c.hash for c in layerwise.candidates] != [c.hash for c in self.candidates]:
            raise ValueError("the two spaces must share units, slots and candidates")
        m = layerwise.decode(x)
        xi = np.asarray(x, dtype=int).copy()
        um = self.n_units * self.slots_per_unit
        out = np.concatenate([xi[:um + len(self.layers)], np.zeros(len(self.layers) * self.n_split_vars, dtype=int)])
        for li in range(len(self.layers)):
            if m.is_split(li) and layerwise.share_ranges[li] != self.share_ranges[li]:
                raise ValueError(f"layer {self.layers[li].key} is split in the layer-wise point; this space "
                                 "splits it otherwise or not at all")
            slot = int(m.selects[li])
            ranks = set()
            for u, _, _ in m.parts[li]:
                bank = m.units[u]
                ranks.add(self._slot_order(bank, li).index(slot))
            if len(ranks) > 1:      # one set of cuts for every share: the slot must rank alike
                raise ValueError(f"layer {self.layers[li].key} is split over units whose banks order slot {slot} "
                                 "differently: no point of this space computes the same")
            rank = ranks.pop()
            cuts = [0] * rank + [self.split_levels] * (self.n_split_vars - rank)
            base = um + len(self.layers) + li * self.n_split_vars
            out[base:base + self.n_split_vars] = cuts
        return out

    # -- outputs ------------------------------------------------------------------------------------
    def canonical(self, mapping: Mapping) -> str:
        """A key equal for two mappings that compute the same thing (same multiplier everywhere)."""
        parts = []
        for li in range(len(self.layers)):
            c = np.asarray(mapping.candidates_of(li)).ravel()
            parts.append(str(c[0]) if np.all(c == c[0]) else ",".join(map(str, c)))
        return "|".join(parts)

    def assignment(self, mapping: Mapping) -> dict[str, Any]:
        """The emulator's assignment (multipliers by table hash) for ``mapping``."""
        layers: dict[str, Any] = {}
        for li, layer in enumerate(self.layers):
            c = np.asarray(mapping.candidates_of(li))
            flat = c.ravel()
            entry: dict[str, Any]
            if np.all(flat == flat[0]):
                entry = {"multiplier": self.candidates[int(flat[0])].hash}
            elif c.ndim == 1:       # filter granularity, or a split layer's shares with a slot each
                entry = {"filters": [self.candidates[int(i)].hash for i in c]}
            else:
                entry = {"kernels": [[self.candidates[int(i)].hash for i in row] for row in c]}
            entry["encoding"] = self.encodings[li]
            layers[layer.key] = entry
        return {"encoding": self.encoding, "layers": layers, "weight_tuning": self.weight_tuning}

    def tuned_weight_codes(self, li: int, candidate: int) -> np.ndarray | None:
        """The weight code (int8 bit pattern) that replaces each of the 256 codes of layer
        ``li`` when candidate ``candidate`` multiplies them, under this space's weight tuning
        (:mod:`rtlgen.emulate.weight_tuning`); None when that map is the identity (always with
        weight tuning ``"none"``)."""
        if self.weight_tuning == "none":
            return None
        from rtlgen.emulate.weight_tuning import weight_map

        layer = self.layers[li]
        if layer.requant is None or (self.weight_tuning == "histogram" and layer.input_hist is None):
            raise ValueError(f"layer {layer.index} lacks requant/input histogram: cannot tune its weights")
        codes_w = np.arange(256)
        w_of_code = np.where(codes_w >= 128, codes_w - 256, codes_w)  # int8 value of bit pattern u
        m = weight_map(self.candidates[candidate].table, self.encodings[li], layer.requant.input_zero_point,
                       layer.input_hist if self.weight_tuning == "histogram" else None)
        tuned = m[w_of_code + 128]
        if np.array_equal(tuned, w_of_code):
            return None
        return (tuned & 0xFF).astype(np.uint8)

    def used_slots(self, mapping: Mapping, li: int, share: int = 0) -> list[int]:
        """The slots of its unit's bank that share ``share`` of layer ``li`` uses (the whole
        layer's for a layer that is not split), ascending."""
        sel = np.asarray(mapping.selects[li])
        if sel.ndim:
            _, lo, hi = mapping.parts[li][share]
            sel = sel[lo:hi]
        return sorted(set(int(s) for s in sel.ravel()))

    def weight_remaps(self, mapping: Mapping, li: int, share: int = 0) -> tuple[bsmod.WeightRemap, ...]:
        """The weight remaps of share ``share`` of layer ``li`` (the whole layer's when it is not
        split) that this space's weight tuning implies (one per used slot whose map is not the
        identity, :meth:`tuned_weight_codes`), in slots of that share's unit's bank."""
        out = []
        bank = mapping.units[mapping.parts[li][share][0]]
        for slot in self.used_slots(mapping, li, share):
            codes = self.tuned_weight_codes(li, bank[slot])
            if codes is not None:
                out.append(bsmod.WeightRemap(slot, bytes(codes)))
        return tuple(out)

    def bitstream(self, mapping: Mapping, accel_hash: str | bytes, *, model_hash: str = "") -> bsmod.Bitstream:
        """The configuration bitstream of ``mapping`` (needs each layer's kind/geometry/requant);
        with weight tuning, the tuned weight codes travel as weight remaps. ``model_hash``: the
        weights hash of the model's ``weights.bin`` (empty: not tied to one)."""
        units = tuple(tuple(bsmod.MultiplierRef(self.candidates[c].hash, self.candidates[c].signed,
                                                self.candidates[c].name) for c in bank) for bank in mapping.units)
        descs = []
        for li, layer in enumerate(self.layers):
            if layer.geometry is None or layer.requant is None:
                raise ValueError(f"layer {layer.index} lacks geometry/requantization: cannot write a bitstream")
            sel = np.asarray(mapping.selects[li])
            for k, (u, lo, hi) in enumerate(mapping.parts[li]):
                own = sel.copy()
                if mapping.is_split(li) and own.ndim:   # other shares' selects go unused: 0 (format)
                    own[:lo] = 0
                    own[hi:] = 0
                descs.append(bsmod.LayerDescriptor(
                    index=layer.index, kind=layer.kind, unit=u,  # type: ignore[arg-type]
                    encoding=self.encodings[li], granularity=self.granularity,  # type: ignore[arg-type]
                    geometry=layer.geometry, requant=layer.requant, selects=tuple(own.ravel()),
                    weight_remap=self.weight_remaps(mapping, li, k), co_first=lo, co_end=hi))
        return bsmod.Bitstream(accel_hash=accel_hash, units=units, layers=tuple(descs), model_hash=model_hash)

    def fingerprint(self) -> str:
        """Identity of the space (for refusing to resume a run on a different problem)."""
        import hashlib

        h = hashlib.sha256()
        h.update(repr(self.encodings).encode())
        h.update(repr((self.n_units, self.slots_per_unit, self.granularity, self.split_levels, self.encoding,
                       self.weight_tuning)).encode())
        if self.split_layers:       # (kept out otherwise: earlier runs' fingerprints stay valid)
            h.update(repr(("split", self.lanes)).encode())
        for c in self.candidates:
            h.update(c.hash.encode())
        for l in self.layers:
            h.update(repr((l.key, l.macs, l.out_channels, l.in_channels)).encode())
            for arr in (l.act_hist, l.weight_hist, l.filter_sensitivity, l.kernel_sensitivity):
                h.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        return h.hexdigest()[:16]
