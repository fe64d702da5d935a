"""Scan a folder of multiplier netlists into a library catalog.

Every ``*.v`` file below the folder is read and tabulated (in parallel; files whose text is the
same once comments are removed are tabulated once). Circuits are grouped by table hash, so one
circuit that appears in several files is one entry, and each distinct netlist of it one of the
entry's implementations (:mod:`rtlgen.library.catalog`). A file whose name ends in ``_pdk45`` is a
``pdk45`` netlist, any other a ``generic`` one. Published figures (EvoApprox
``meta.json``, folder READMEs, netlist headers) are attached by circuit name.

An import is all or nothing: any unreadable netlist aborts it before the catalog is touched.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtlgen.library.catalog import Catalog, netlist_digest
from rtlgen.errors import CatalogError
from rtlgen.library.evoapprox import header_metrics, published_metrics
from rtlgen.netlist.metrics import error_metrics

__all__ = ["import_folder", "ImportReport"]


@dataclass(frozen=True)
class ImportReport:
    files: int
    unique_texts: int
    circuits: int
    new_circuits: int
    catalog: Catalog


def _tabulate_text(args: tuple[str, str, str | None]) -> tuple[str, bool, bytes]:
    path, text, liberty = args
    from rtlgen.netlist.evaluate import tabulate
    from rtlgen.netlist.multiplier import default_signedness
    from rtlgen.netlist.reader import parse_netlist_text

    netlist = parse_netlist_text(text, file=path, liberty=liberty)
    signed = default_signedness(netlist.name)
    return netlist.name, signed, tabulate(netlist, signed).tobytes()


def _warm_up(liberty) -> None:
    from rtlgen.errors import RtlgenError
    from rtlgen.netlist.liberty import default_library, read_liberty
    from rtlgen.netlist.reader import _parser

    _parser()
    try:
        read_liberty(liberty) if liberty is not None else default_library()
    except RtlgenError:
        pass  # a worker that needs the cells reports the problem with the netlist's name


def _license_of(root: Path) -> str:
    for lic in sorted(root.glob("LICENSE*")):
        text = lic.read_text(errors="replace")
        if "Permission is hereby granted, free of charge" in text:
            return "MIT"
        return f"see {lic.name}"
    return ""


def import_folder(src: str | os.PathLike, libdir: str | os.PathLike, *, release: str | None = None,
                  license: str | None = None, jobs: int | None = None,
                  liberty: str | os.PathLike | None = None) -> ImportReport:
    """Import every netlist under ``src`` into the library at ``libdir`` (created if missing)."""
    src = Path(src)
    if not src.is_dir():
        raise CatalogError(f"{src} is not a folder of netlists")
    files = sorted(p for p in src.rglob("*.v") if p.is_file())
    if not files:
        raise CatalogError(f"no Verilog netlists (*.v) found under {src}")
    release = release or src.resolve().name
    license = license if license is not None else _license_of(src)
    libdir = Path(libdir)
    catalog = Catalog.open(libdir) if (libdir / "catalog.json").exists() else Catalog(libdir)
    before = {e.hash for e in catalog.entries}

    texts = {p: p.read_text(errors="replace") for p in files}
    key_of = {p: netlist_digest(t) for p, t in texts.items()}
    first: dict[str, Path] = {}
    for p in files:
        first.setdefault(key_of[p], p)
    work = [(str(p), texts[p], None if liberty is None else str(liberty)) for p in first.values()]
    jobs = jobs or min(len(work), os.cpu_count() or 1)
    if jobs > 1 and len(work) > 4:
        _warm_up(liberty)  # forked workers inherit the parser and cell library
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_tabulate_text, work, chunksize=max(1, len(work) // (4 * jobs))))
    else:
        results = [_tabulate_text(w) for w in work]
    by_key = dict(zip(first, results))

    published = published_metrics(src)
    seen: set[str] = set()
    for p in files:
        name, signed, raw = by_key[key_of[p]]
        table = np.frombuffer(raw, dtype=np.int32).reshape(256, 256)
        kind = "pdk45" if p.stem.endswith("_pdk45") else "generic"
        pub = dict(published.get(name, {}))
        for k, v in header_metrics(texts[p]).items():
            pub.setdefault(k, v)
        entry = catalog.add(table, signed, name, netlist=p, kind=kind, release=release, license=license,
                            published=pub)
        if entry.hash not in seen:
            catalog.add(table, signed, name, metrics=error_metrics(table, signed).as_dict(),
                        release=release, license=license)
            seen.add(entry.hash)
    catalog.save()
    after = {e.hash for e in catalog.entries}
    return ImportReport(len(files), len(first), len(seen), len(after - before), catalog)


