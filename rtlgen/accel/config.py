"""Accelerator configuration: the parameters of the generated hardware, read from TOML.

File format (version 1; ``flows/accel_default.toml`` is the shipped example)::

    version = 1
    name = "accel_default"

    [accelerator]
    units = 2               # U compute units; a layer runs on one unit
    lanes = 16              # L MAC lanes per unit; lane l computes output channel g*L + l
    multipliers = 4         # M multipliers in each unit's bank (per lane, selected at run time)

    [memory]
    activation_bytes = 32768   # on-chip activation memory (int8 codes, NHWC layers in and out)
    weight_words = 4096        # weight memory words; one word = L weights + L select fields
    channels = 256             # entries of the per-channel requantization parameter memory
    weights_store_bytes = 131072  # optional: the AXI front end's store for weights.bin

    [[unit]]                   # one table per unit, in unit order (optional: see below)
    multipliers = ["mul8u_1JJQ", "mul8u_DG8", "mul8u_2NDH", "mul8u_C67"]

A multiplier is named by a catalog name (or alias) or by its table hash
(:func:`rtlgen.netlist.table.table_hash`). The ``[[unit]]`` tables may be left out altogether: the
configuration then fixes the shape of the hardware and leaves the choice of multipliers to the
mapper, which fills them with :meth:`AccelConfig.with_multipliers`. Generating RTL needs them.

``weights_store_bytes`` (optional, default :data:`DEFAULT_WEIGHTS_STORE`) sizes the on-chip store
that the AXI front end (:mod:`rtlgen.accel.loader`) keeps an accepted ``weights.bin`` in: the
whole model's weights and biases, unlike ``weight_words`` (one layer's at a time). The default
holds MLPerf Tiny ResNet-8's (79,404 bytes at 16 lanes).

Identity: :meth:`AccelConfig.config_hash` hashes the canonical form of every field. The
configuration bitstream records the hash of the *resolved* configuration
(:meth:`AccelConfig.resolved`, multipliers replaced by their table hashes), so that renaming a
catalog alias does not change which hardware a bitstream is for.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from rtlgen.conventions import ENCODINGS as _ENCODINGS
from rtlgen.errors import CatalogError, ConfigError

__all__ = ["FORMAT_VERSION", "DEFAULT_WEIGHTS_STORE", "AccelConfig", "load_config", "parse_config", "ENCODINGS"]

FORMAT_VERSION = 1
#: ``weights_store_bytes`` when a configuration does not set it (128 KiB).
DEFAULT_WEIGHTS_STORE = 1 << 17

#: Operand encodings the hardware implements, in descriptor-code order (rtlgen.conventions).
ENCODINGS = _ENCODINGS

_LIMITS = {
    "units": (1, 16),
    "lanes": (1, 64),
    "multipliers": (1, 16),
    "activation_bytes": (16, 1 << 24),
    "weight_words": (1, 1 << 20),
    "channels": (1, 1 << 16),
    "weights_store_bytes": (16, 1 << 24),
}


class _Catalog(Protocol):  # the part of rtlgen.library.catalog.Catalog this module uses
    def get(self, name_or_hash: str) -> Any: ...


@dataclass(frozen=True)
class AccelConfig:
    """Shape and multiplier banks of one accelerator. Sizes are counts (not bits)."""

    units: int
    lanes: int
    multipliers: int
    activation_bytes: int
    weight_words: int
    channels: int
    #: ``unit_multipliers[u][m]``: name or table hash of multiplier ``m`` of unit ``u``; ``None``
    #: when the mapper is to choose them.
    unit_multipliers: tuple[tuple[str, ...], ...] | None = None
    name: str = "accel"
    #: bytes of the front end's weights store (module docstring)
    weights_store_bytes: int = DEFAULT_WEIGHTS_STORE
    #: Where the configuration was read from (for messages; not part of its identity).
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for key, (lo, hi) in _LIMITS.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"'{key}' must be an integer, not {value!r}", file=self.source)
            if not lo <= value <= hi:
                raise ConfigError(f"'{key}' must lie in {lo}..{hi}, not {value}", file=self.source)
        if self.unit_multipliers is not None:
            if len(self.unit_multipliers) != self.units:
                raise ConfigError(
                    f"[[unit]] lists {len(self.unit_multipliers)} units, but accelerator.units = "
                    f"{self.units}", file=self.source)
            for u, bank in enumerate(self.unit_multipliers):
                if len(bank) != self.multipliers:
                    raise ConfigError(
                        f"unit[{u}].multipliers lists {len(bank)} multipliers, but "
                        f"accelerator.multipliers = {self.multipliers}", file=self.source)
                for m, mult in enumerate(bank):
                    if not isinstance(mult, str) or not mult:
                        raise ConfigError(f"unit[{u}].multipliers[{m}] must be a catalog name or "
                                          f"table hash, not {mult!r}", file=self.source)

    # --- derived widths -------------------------------------------------------------------
    @property
    def select_bits(self) -> int:
        """Width of a multiplier select field (at least 1 bit, so that ports exist)."""
        return max(1, math.ceil(math.log2(self.multipliers)))

    @property
    def unit_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.units)))

    @property
    def activation_addr_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.activation_bytes)))

    @property
    def weight_addr_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.weight_words)))

    @property
    def channel_addr_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.channels)))

    @property
    def weight_word_bits(self) -> int:
        """Bits of one weight word: lane ``l`` holds weight bits ``[8l, 8l+8)`` and its select
        field at ``8L + l*select_bits``."""
        return self.lanes * (8 + self.select_bits)

    # --- identity -------------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """Every field that decides the hardware, as plain JSON data. ``weights_store_bytes``
        appears only when it is not the default, so that the hashes of configurations written
        before the field existed stay what they were."""
        out = {
            "version": FORMAT_VERSION,
            "units": self.units,
            "lanes": self.lanes,
            "multipliers": self.multipliers,
            "activation_bytes": self.activation_bytes,
            "weight_words": self.weight_words,
            "channels": self.channels,
            "unit_multipliers": None if self.unit_multipliers is None
            else [list(b) for b in self.unit_multipliers],
        }
        if self.weights_store_bytes != DEFAULT_WEIGHTS_STORE:
            out["weights_store_bytes"] = self.weights_store_bytes
        return out

    def config_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of :meth:`canonical`; ``name`` and ``source`` excluded."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(b"rtlgen-accel-v1:" + text.encode()).hexdigest()[:16]

    def with_multipliers(self, banks: list[list[str]] | tuple[tuple[str, ...], ...]) -> AccelConfig:
        """The same hardware shape carrying the given banks (``banks[u][m]``), validated."""
        return replace(self, unit_multipliers=tuple(tuple(b) for b in banks))

    def resolved(self, catalog: _Catalog) -> AccelConfig:
        """Multipliers replaced by their table hashes (the catalog entry's ``hash``)."""
        banks = self.require_multipliers()
        out = []
        for u, bank in enumerate(banks):
            row = []
            for m, ident in enumerate(bank):
                try:
                    row.append(catalog.get(ident).hash)
                except (CatalogError, KeyError) as exc:  # CatalogError lists the valid names
                    raise ConfigError(f"unit[{u}].multipliers[{m}] = {ident!r}: {exc}",
                                      file=self.source) from exc
            out.append(row)
        return self.with_multipliers(out)

    def require_multipliers(self) -> tuple[tuple[str, ...], ...]:
        if self.unit_multipliers is None:
            raise ConfigError("the configuration lists no [[unit]] multipliers; generating "
                              "hardware needs one 'multipliers' list per unit", file=self.source)
        return self.unit_multipliers

    def to_toml(self) -> str:
        """This configuration in the file format (round-trips through :func:`parse_config`)."""
        lines = [f"version = {FORMAT_VERSION}", f"name = {json.dumps(self.name)}", "",
                 "[accelerator]", f"units = {self.units}", f"lanes = {self.lanes}",
                 f"multipliers = {self.multipliers}", "", "[memory]",
                 f"activation_bytes = {self.activation_bytes}",
                 f"weight_words = {self.weight_words}", f"channels = {self.channels}"]
        if self.weights_store_bytes != DEFAULT_WEIGHTS_STORE:
            lines.append(f"weights_store_bytes = {self.weights_store_bytes}")
        for bank in self.unit_multipliers or ():
            lines += ["", "[[unit]]", "multipliers = [" + ", ".join(json.dumps(m) for m in bank) + "]"]
        return "\n".join(lines) + "\n"


_TOP_KEYS = {"version", "name", "accelerator", "memory", "unit"}
_SECTION_KEYS = {"accelerator": ("units", "lanes", "multipliers"),
                 "memory": ("activation_bytes", "weight_words", "channels")}
_OPTIONAL_KEYS = {"memory": {"weights_store_bytes": DEFAULT_WEIGHTS_STORE}}


def parse_config(data: dict[str, Any], *, source: str | None = None) -> AccelConfig:
    """Validate the parsed TOML ``data``; errors name the file and the key."""
    def fail(message: str) -> ConfigError:
        return ConfigError(message, file=source)

    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    if data.get("version") != FORMAT_VERSION:
        raise fail(f"'version' must be {FORMAT_VERSION}, not {data.get('version')!r}")
    name = data.get("name", "accel")
    if not isinstance(name, str):
        raise fail(f"'name' must be a string, not {name!r}")
    values: dict[str, int] = {}
    for section, keys in _SECTION_KEYS.items():
        table = data.get(section)
        if not isinstance(table, dict):
            raise fail(f"missing table [{section}] with keys {', '.join(keys)}")
        optional = _OPTIONAL_KEYS.get(section, {})
        extra = set(table) - set(keys) - set(optional)
        if extra:
            raise fail(f"unknown key(s) {sorted(extra)} in [{section}]; expected {[*keys, *optional]}")
        for key in (*keys, *optional):
            if key not in table and key in optional:
                values[key] = optional[key]
                continue
            if key not in table:
                raise fail(f"missing key '{section}.{key}'")
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail(f"'{section}.{key}' must be an integer, not {value!r}")
            lo, hi = _LIMITS[key]
            if not lo <= value <= hi:
                raise fail(f"'{section}.{key}' must lie in {lo}..{hi}, not {value}")
            values[key] = value
    banks = None
    if "unit" in data:
        units = data["unit"]
        if not isinstance(units, list):
            raise fail("'unit' must be an array of tables ([[unit]])")
        banks = []
        for u, table in enumerate(units):
            if not isinstance(table, dict) or set(table) != {"multipliers"}:
                raise fail(f"unit[{u}] must hold exactly the key 'multipliers'")
            mults = table["multipliers"]
            if not isinstance(mults, list) or not all(isinstance(m, str) and m for m in mults):
                raise fail(f"'unit[{u}].multipliers' must be a list of catalog names or table "
                           f"hashes, not {mults!r}")
            banks.append(tuple(mults))
        banks = tuple(banks)
    return AccelConfig(units=values["units"], lanes=values["lanes"],
                       multipliers=values["multipliers"],
                       activation_bytes=values["activation_bytes"],
                       weight_words=values["weight_words"], channels=values["channels"],
                       unit_multipliers=banks, name=name, source=source,
                       weights_store_bytes=values["weights_store_bytes"])


def load_config(path: str | os.PathLike) -> AccelConfig:
    """Read and validate an accelerator TOML file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc
    except UnicodeDecodeError:
        raise ConfigError("not a text file; expected an accelerator TOML file", file=str(path)) from None
    return parse_config(data, source=str(path))
