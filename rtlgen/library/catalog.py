"""The multiplier library: a catalog of circuits identified by the hash of their tables.

On disk a library is a folder::

    LIBDIR/catalog.json          manifest (format "rtlgen-catalog", version 2), written last
    LIBDIR/tables/<hash>.npy     each circuit's T[a, b] table (int32 256x256)
    LIBDIR/netlists/<hash>/      the circuit's netlists, copied in: NAME.v, NAME_pdk45.v, ...

An entry's identity is :func:`rtlgen.netlist.table.table_hash` of its table and signedness: it is a
*function*. Names are aliases: EvoApprox names are not stable across releases, so a name that
already belongs to a different circuit is recorded as ``RELEASE:NAME``.

An entry keeps every distinct netlist that computes its function as an :class:`Implementation`
(distinct: :func:`netlist_digest`, the text without comments, so the copies of one EvoApprox
circuit in five Pareto folders are one implementation). Two different circuits of one function,
such as the exact array multiplier ``mul8u_array`` and the exact radix-4 Booth
``mul8u_roup_p0_r0``, are two implementations of one entry, each with its own area and energy.
An implementation is named by its file's stem and selected by that name
(:meth:`Catalog.implementation`); the first of each kind (generic / pdk45) in import order is the
entry's default for that kind (:attr:`Entry.netlists`). Every file read is listed in ``sources``.

Version 1 catalogs (one netlist per kind) are read as they are: each of their netlists becomes
an implementation; saving writes version 2.

Writes are atomic: tables and netlists are content-addressed files, and ``catalog.json`` is
replaced in one step at the end, so an interrupted import leaves the previous catalog intact.

Multiplier keys (a name, alias, implementation name or hash prefix: :meth:`Catalog.get`) may be
given as shell-style patterns where a list of them is taken (``search.candidates`` of a flow,
``rtlgen map --candidates``): a key holding ``*``, ``?`` or ``[`` stands for every name of the
library it matches (:func:`fnmatch.fnmatchcase`, case-sensitive), e.g. ``mul8u_roup_*`` for the
unsigned ROUP family; :func:`expand_keys` does the expansion and rejects a pattern that matches
nothing.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rtlgen.errors import CatalogError
from rtlgen.paths import atomic_write_bytes, atomic_write_text
from rtlgen.netlist.table import check_table, table_hash

__all__ = ["Entry", "Implementation", "Catalog", "CATALOG_FORMAT", "CATALOG_VERSION", "netlist_digest", "is_pattern",
           "expand_keys"]

CATALOG_FORMAT = "rtlgen-catalog"
CATALOG_VERSION = 2
#: Versions that :meth:`Catalog.open` reads (1: one netlist per kind, no implementations).
READABLE_VERSIONS = (1, 2)

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def netlist_digest(text: str) -> str:
    """Identity of a netlist: SHA-256 (hex) of its text without comments, so that copies that
    differ only in a header comment are one netlist."""
    return hashlib.sha256(_COMMENTS.sub("", text).encode()).hexdigest()


@dataclass(frozen=True)
class Implementation:
    """One netlist of a circuit: ``name`` (its file's stem, the name to select it by), ``kind``
    (``generic``, ``pdk45``), ``path`` (the copy inside the library, absolute) and ``digest``
    (:func:`netlist_digest`, first 16 hex digits)."""

    name: str
    kind: str
    path: Path
    digest: str


@dataclass(frozen=True)
class Entry:
    """One circuit of the library.

    ``implementations`` are its distinct netlists in import order; :attr:`netlists` maps each
    kind to its default (first) one. ``metrics`` are ours (:mod:`rtlgen.netlist.metrics`); ``published``
    are the figures the source publishes (EvoApprox: ``mae%``, ``wce%``, ``ep%``, ``mre%``, ``wcre%``, ``mse``,
    ``pwr`` mW, ``area`` um^2, ``delay`` ns, all as printed). ``extra`` holds cached data of other
    flows (e.g. cost figures) by key.
    """

    hash: str
    name: str
    signed: bool
    aliases: tuple[str, ...] = ()
    implementations: tuple[Implementation, ...] = ()
    sources: tuple[dict[str, str], ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    published: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,) + self.aliases

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every name that selects this entry: :attr:`names`, then its implementations' names."""
        return tuple(dict.fromkeys(self.names + tuple(i.name for i in self.implementations)))

    @property
    def netlists(self) -> dict[str, Path]:
        """Kind -> path of the default implementation of that kind (the first imported)."""
        out: dict[str, Path] = {}
        for imp in self.implementations:
            out.setdefault(imp.kind, imp.path)
        return out

    def default_implementation(self, kind: str = "generic") -> Implementation:
        """The first implementation of ``kind``, else the first of any kind."""
        for imp in self.implementations:
            if imp.kind == kind:
                return imp
        if not self.implementations:
            raise CatalogError(f"entry {self.name} ({self.hash}) has no netlist")
        return self.implementations[0]


class Catalog:
    """A library folder: look entries up by name, alias or hash (prefix of at least 6 digits)."""

    def __init__(self, root: str | os.PathLike, entries: Iterable[Entry] = ()):
        self.root = Path(root)
        self._entries: dict[str, Entry] = {}
        for e in entries:
            self._entries[e.hash] = e
        self._tables: dict[str, np.ndarray] = {}

    # ---- reading -----------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike) -> "Catalog":
        root = Path(root)
        manifest = root / "catalog.json"
        if not manifest.is_file():
            raise CatalogError(f"{root} is not a multiplier library: {manifest.name} not found "
                               "(create one with 'rtlgen lib import DIR --lib LIBDIR')")
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{manifest}:{exc.lineno}: corrupt catalog: {exc.msg}") from None
        except UnicodeDecodeError:
            raise CatalogError(f"{manifest}: corrupt catalog: not a text file (expected JSON)") from None
        if not isinstance(data, dict) or data.get("format") != CATALOG_FORMAT:
            raise CatalogError(f"{manifest}: not an rtlgen catalog (expected \"format\": \"{CATALOG_FORMAT}\")")
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise CatalogError(f"{manifest}: catalog version {version!r} is not supported "
                               f"(this rtlgen reads versions {', '.join(map(str, READABLE_VERSIONS))}; "
                               "re-import the netlists with 'rtlgen lib import DIR --lib LIBDIR')")
        entries = []
        for k, raw in enumerate(data.get("entries", [])):
            try:
                if version == 1:
                    imps = tuple(_v1_implementation(root, kind, rel) for kind, rel in raw.get("netlists", {}).items())
                else:
                    imps = tuple(Implementation(name=i["name"], kind=i["kind"], path=(root / i["file"]).resolve(),
                                                digest=i["digest"]) for i in raw.get("implementations", ()))
                entries.append(Entry(
                    hash=raw["hash"], name=raw["name"], signed=bool(raw["signed"]),
                    aliases=tuple(raw.get("aliases", ())),
                    implementations=imps,
                    sources=tuple(raw.get("sources", ())), metrics=dict(raw.get("metrics", {})),
                    published=dict(raw.get("published", {})), provenance=dict(raw.get("provenance", {})),
                    extra=dict(raw.get("extra", {})),
                ))
            except (KeyError, TypeError) as exc:
                raise CatalogError(f"{manifest}: entry {k} is malformed (missing {exc})") from None
        return cls(root, entries)

    @property
    def entries(self) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda e: (e.signed, e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        try:
            self.get(key)
            return True
        except CatalogError:
            return False

    def get(self, key: str) -> Entry:
        """The entry named ``key`` (name, alias or implementation name), or whose hash is or
        starts with ``key``."""
        if key in self._entries:
            return self._entries[key]
        by_name = [e for e in self._entries.values() if key in e.names]
        if not by_name:
            by_name = [e for e in self._entries.values() if any(i.name == key for i in e.implementations)]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise CatalogError(f"name {key} is ambiguous in {self.root}: "
                               + ", ".join(f"{e.name} ({e.hash})" for e in by_name))
        if len(key) >= 6:
            by_hash = [e for h, e in self._entries.items() if h.startswith(key.lower())]
            if len(by_hash) == 1:
                return by_hash[0]
        names = ", ".join(e.name for e in self.entries[:60])
        raise CatalogError(f"no multiplier {key!r} in {self.root} (entries: {names}"
                           + (", ..." if len(self) > 60 else "") + ")")

    def implementation(self, key: str, kind: str = "generic") -> Implementation:
        """The netlist that ``key`` selects: the implementation of that name when there is one
        (``mul8u_roup_p0_r0`` is the Booth netlist even though its entry's default is the array
        multiplier), else the default ``kind`` netlist of the entry that ``key`` names."""
        entry = self.get(key)
        named = [imp for imp in entry.implementations if imp.name == key]
        for imp in named:
            if imp.kind == kind:
                return imp
        # EvoApprox's mul8u_1JJQ names the entry and its generic file: with kind="pdk45" it
        # means the entry's pdk45 netlist, while mul8u_1JJQ_pdk45 names that netlist of any kind
        if named and not (key in entry.names and any(imp.kind == kind for imp in entry.implementations)):
            return named[0]
        return entry.default_implementation(kind)

    def implementations(self) -> list[tuple[Entry, Implementation]]:
        """Every netlist of the library with its entry, entries in catalog order."""
        return [(e, imp) for e in self.entries for imp in e.implementations]

    def table(self, key: str) -> np.ndarray:
        """The table of an entry (read-only int32 256x256, cached)."""
        entry = self.get(key)
        t = self._tables.get(entry.hash)
        if t is None:
            path = self.root / "tables" / f"{entry.hash}.npy"
            try:
                t = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise CatalogError(f"{path}: cannot read the table of {entry.name}: {exc}") from None
            t = check_table(t, entry.signed, what=str(path))
            if table_hash(t, entry.signed) != entry.hash:
                raise CatalogError(f"{path}: table does not match its hash {entry.hash} (corrupt library)")
            t.setflags(write=False)
            self._tables[entry.hash] = t
        return t

    # ---- writing -----------------------------------------------------------------------
    def add(self, table: np.ndarray, signed: bool, name: str, *, netlist: str | os.PathLike | None = None,
            kind: str = "generic", release: str = "", license: str = "",
            published: dict[str, str] | None = None, metrics: dict[str, float] | None = None) -> Entry:
        """Add a circuit (or another netlist/name of a known one); returns the updated entry.

        Call :meth:`save` to commit the manifest.
        """
        table = check_table(table, signed)
        h = table_hash(table, signed)
        tpath = self.root / "tables" / f"{h}.npy"
        if not tpath.exists():
            import io

            buf = io.BytesIO()
            np.save(buf, table, allow_pickle=False)
            atomic_write_bytes(tpath, buf.getvalue())
        entry = self._entries.get(h)
        owner = [e for e in self._entries.values() if name in e.names and e.hash != h]
        alias = name if not owner else f"{release or 'other'}:{name}"
        if entry is None:
            entry = Entry(hash=h, name=alias, signed=signed,
                          provenance={"release": release, "license": license})
        elif alias not in entry.names:
            entry = replace(entry, aliases=entry.aliases + (alias,))
        if netlist is not None:
            src = Path(netlist)
            source = {"file": str(src), "release": release, "license": license, "kind": kind}
            if source not in entry.sources:
                entry = replace(entry, sources=entry.sources + (source,))
            data = src.read_bytes()
            digest = netlist_digest(data.decode(errors="replace"))[:16]
            if all(imp.digest != digest for imp in entry.implementations):
                entry = replace(entry, implementations=entry.implementations
                                + (self._implementation(entry, src, data, digest, kind, release),))
        if published:
            entry = replace(entry, published={**published, **entry.published})
        if metrics is not None:
            entry = replace(entry, metrics=dict(metrics))
        self._entries[h] = entry
        self._tables[h] = table
        return entry

    def _implementation(self, entry: Entry, src: Path, data: bytes, digest: str, kind: str,
                        release: str) -> Implementation:
        """Copy a new netlist of ``entry`` into the library; a name or file name that another
        netlist of the entry already has gets the release (name) or the digest (file) added."""
        taken = {imp.name for imp in entry.implementations}
        name = src.stem if src.stem not in taken else f"{release or 'other'}:{src.stem}"
        if name in taken:
            name = f"{src.stem}@{digest[:8]}"
        folder = self.root / "netlists" / entry.hash
        dst = folder / src.name
        if dst.exists() and dst.read_bytes() != data:
            dst = folder / digest / src.name
        if not dst.exists():
            atomic_write_bytes(dst, data)
        return Implementation(name=name, kind=kind, path=dst.resolve(), digest=digest)

    def set_extra(self, key: str, name: str, value: Any) -> Entry:
        """Cache ``value`` (JSON-serialisable) under ``extra[name]`` of entry ``key``."""
        entry = self.get(key)
        entry = replace(entry, extra={**entry.extra, name: value})
        self._entries[entry.hash] = entry
        return entry

    def save(self) -> None:
        entries = []
        for e in self.entries:
            entries.append({
                "hash": e.hash, "name": e.name, "signed": e.signed, "aliases": list(e.aliases),
                "implementations": [{"name": i.name, "kind": i.kind, "digest": i.digest,
                                     "file": os.path.relpath(i.path, self.root.resolve())}
                                    for i in e.implementations],
                "sources": list(e.sources), "metrics": e.metrics, "published": e.published,
                "provenance": e.provenance, "extra": e.extra,
            })
        doc = {"format": CATALOG_FORMAT, "version": CATALOG_VERSION, "entries": entries}
        atomic_write_text(self.root / "catalog.json", json.dumps(doc, indent=1, sort_keys=False) + "\n")

    def remove_unreferenced(self) -> None:
        """Delete table and netlist files that no entry refers to."""
        keep = set(self._entries)
        for d in (self.root / "tables").glob("*.npy"):
            if d.stem not in keep:
                d.unlink()
        for d in (self.root / "netlists").glob("*"):
            if d.name not in keep:
                shutil.rmtree(d)


def is_pattern(key: str) -> bool:
    """Whether a multiplier key is a shell-style pattern (holds ``*``, ``?`` or ``[``)."""
    return any(c in key for c in "*?[")


def expand_keys(keys: Iterable[str], names: Iterable[str], *, what: str = "candidates") -> list[str]:
    """``keys`` in order, each pattern replaced by the ``names`` it matches (sorted), duplicates
    dropped. Plain keys pass unchecked (:meth:`Catalog.get` resolves them); a pattern that
    matches none of ``names`` raises :class:`CatalogError` naming ``what``."""
    pool = sorted(set(names))
    out: list[str] = []
    for key in keys:
        if not is_pattern(key):
            out.append(key)
            continue
        hits = [n for n in pool if fnmatch.fnmatchcase(n, key)]
        if not hits:
            sample = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
            raise CatalogError(f"{what} pattern {key!r} matches no multiplier of the library ({len(pool)} names: {sample})")
        out.extend(hits)
    return list(dict.fromkeys(out))


def _v1_implementation(root: Path, kind: str, rel: str) -> Implementation:
    """A version-1 netlist (``netlists: {kind: file}``) as an implementation named by its file."""
    path = (root / rel).resolve()
    try:
        digest = netlist_digest(path.read_text(errors="replace"))[:16]
    except OSError as exc:
        raise CatalogError(f"{root / 'catalog.json'}: netlist {rel} cannot be read: {exc}") from None
    return Implementation(name=path.stem, kind=kind, path=path, digest=digest)
