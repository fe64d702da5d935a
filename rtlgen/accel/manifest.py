"""``manifest.json`` of a generated accelerator folder (written by :mod:`rtlgen.accel.generate`,
last, so a folder with a manifest is complete): the one reader every consumer calls.

Format ``rtlgen-accel``, version 1: ``top``, ``name``, ``config_hash`` (str), ``config``,
``units`` (one list per unit of slots ``{"name", "hash", "signed", "module"}``, and ``"output"``:
the netlist's 16-bit output port, absent in folders written before it was recorded, which are read
as ``O``) and ``files``
(the Verilog sources relative to the folder, top last).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rtlgen.errors import ConfigError

__all__ = ["MANIFEST_NAME", "MANIFEST_FORMAT", "manifest_path", "read_manifest"]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "rtlgen-accel"
_SLOT_KEYS = {"name": str, "hash": str, "signed": bool, "module": str}


def manifest_path(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / MANIFEST_NAME


def read_manifest(accel_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of ``accel_dir``, checked: ConfigError naming the file and the first
    missing or mistyped key (rather than a KeyError wherever a consumer reads it)."""
    accel_dir = Path(accel_dir)
    path = manifest_path(accel_dir)
    if not accel_dir.is_dir():
        raise ConfigError("not a folder; expected a generated accelerator folder (rtlgen gen accel --out)",
                          file=str(accel_dir))
    if not path.is_file():
        raise ConfigError("is not a generated accelerator folder: it has no manifest.json (write one with "
                          "'rtlgen gen accel')", file=str(accel_dir))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("not a text file; expected the JSON manifest of a generated accelerator",
                          file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg} (column {exc.colno}); expected the manifest of a "
                          "generated accelerator", file=str(path), line=exc.lineno) from None

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{what}; expected a manifest of format {MANIFEST_FORMAT!r} (regenerate it with "
                           "'rtlgen gen accel')", file=str(path))

    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise bad("not an accelerator manifest")
    if not isinstance(doc.get("config_hash"), str):
        raise bad("'config_hash' is missing or not a string")
    files = doc.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise bad("'files' is missing or not a non-empty list of file names")
    units = doc.get("units")
    if not isinstance(units, list) or not all(isinstance(bank, list) for bank in units):
        raise bad("'units' is missing or not a list of lists of slots")
    for u, bank in enumerate(units):
        for s, slot in enumerate(bank):
            for key, kind in _SLOT_KEYS.items():
                if not isinstance(slot, dict) or not isinstance(slot.get(key), kind):
                    raise bad(f"units[{u}][{s}].{key} is missing or not a {kind.__name__}")
    return doc
