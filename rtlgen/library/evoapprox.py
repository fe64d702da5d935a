"""What EvoApproxLib publishes beside its netlists, and how to download it.

Published figures come from three places, all kept as the printed strings:

* ``meta.json`` at the top of a release: per circuit ``params`` with ``mae%``, ``wce%``, ``ep%``,
  ``mre%``, ``wcre%`` (percent), ``pwr`` (mW, PDK45), ``area`` (um^2), ``delay`` (ns);
* each Pareto folder's ``README.md`` table (adds ``mse``);
* the comment header of each netlist (``// MAE% = 0.0018 %``, ``// PDK45_PWR = 0.422 mW``, ...).
"""
from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from rtlgen.errors import CatalogError

__all__ = ["published_metrics", "header_metrics", "fetch_evoapprox", "EVOAPPROX_RELEASES"]

#: Releases ``rtlgen lib fetch evoapprox`` knows: name -> archive URL.
EVOAPPROX_RELEASES = {
    "v2022": "https://github.com/ehw-fit/evoapproxlib/archive/refs/heads/v2022.zip",
    "master": "https://github.com/ehw-fit/evoapproxlib/archive/refs/heads/master.zip",
}

_HEADER = re.compile(r"^//\s*([A-Z0-9_%]+)\s*=\s*([-+0-9.eE]+)", re.M)
_HEADER_KEYS = {"MAE%": "mae%", "MAE": "mae", "WCE%": "wce%", "WCE": "wce", "WCRE%": "wcre%", "EP%": "ep%",
                "MRE%": "mre%", "MSE": "mse", "PDK45_PWR": "pwr", "PDK45_AREA": "area", "PDK45_DELAY": "delay"}


def header_metrics(text: str) -> dict[str, str]:
    """Figures from a netlist's ``// KEY = value`` comment header."""
    out = {}
    for key, value in _HEADER.findall(text[:4000]):
        if key in _HEADER_KEYS:
            out[_HEADER_KEYS[key]] = value
    return out


def _readme_tables(root: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for readme in sorted(root.rglob("README.md")):
        cols: list[str] | None = None
        for line in readme.read_text(errors="replace").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.lstrip().startswith("| Circuit name"):
                cols = [re.sub(r"<sub>%</sub>", "%", c).lower() for c in cells]
                continue
            if cols and line.lstrip().startswith("|") and not set(line.strip()) <= set("|- "):
                row = dict(zip(cols, cells))
                name = row.get("circuit name")
                if name:
                    out.setdefault(name, {}).update({k: v for k, v in row.items()
                                                     if k in ("mae%", "wce%", "ep%", "mre%", "mse")})
    return out


def _meta_json(root: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for meta in sorted(root.rglob("meta.json")):
        try:
            data = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{meta}:{exc.lineno}: cannot read EvoApprox meta.json: {exc.msg}") from None

        def walk(node):
            if isinstance(node, dict):
                if "name" in node and isinstance(node.get("params"), dict):
                    out.setdefault(node["name"], {}).update({k: str(v) for k, v in node["params"].items()})
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(data)
    return out


def published_metrics(root: str | Path) -> dict[str, dict[str, str]]:
    """Published figures per circuit name found under ``root`` (meta.json, then README tables)."""
    root = Path(root)
    out = _meta_json(root)
    for name, row in _readme_tables(root).items():
        merged = out.setdefault(name, {})
        for k, v in row.items():
            merged.setdefault(k, v)
    return out


def fetch_evoapprox(dest: str | Path, release: str = "v2022", *, url: str | None = None) -> Path:
    """Download an EvoApproxLib release and unpack its 8x8 multipliers into ``dest``.

    Returns the folder to pass to ``rtlgen lib import``. ``url`` overrides the archive location
    (any URL urllib opens, ``file://`` included).
    """
    if url is None:
        if release not in EVOAPPROX_RELEASES:
            raise CatalogError(f"unknown EvoApprox release {release!r} (known: {', '.join(EVOAPPROX_RELEASES)})")
        url = EVOAPPROX_RELEASES[release]
    dest = Path(dest)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
    except OSError as exc:
        raise CatalogError(f"cannot download {url}: {exc}") from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CatalogError(f"{url} is not a zip archive") from None
    keep = re.compile(r"(^|/)(multipliers|multiplers)/8x8_(un)?signed/|(^|/)(meta\.json|LICENSE(\.md)?)$")
    members = [m for m in archive.namelist() if keep.search(m) and not m.endswith("/")]
    if not any(m.endswith(".v") for m in members):
        raise CatalogError(f"{url}: no 8x8 multiplier netlists found in the archive")
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent if dest.parent.exists() else None))
    try:
        for m in members:
            parts = m.split("/")
            rel = Path(*parts[1:]) if len(parts) > 1 else Path(parts[0])  # drop the archive's top folder
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(m))
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest
