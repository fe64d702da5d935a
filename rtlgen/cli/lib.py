"""``rtlgen lib import|list|show|export|fetch``: the multiplier library."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rtlgen.library.catalog import Catalog
from rtlgen.library.evoapprox import EVOAPPROX_RELEASES, fetch_evoapprox
from rtlgen.netlist.export import EXPORT_FORMATS, export_table
from rtlgen.library.importer import import_folder
from rtlgen.cli._args import positive_int

DEFAULT_LIB = os.environ.get("RTLGEN_LIB", "build/lib")


def register(sub) -> None:
    p = sub.add_parser("lib", help="multiplier library: import, list, show, export, fetch")
    lsub = p.add_subparsers(dest="lib_command", metavar="ACTION", required=True)

    q = lsub.add_parser("import", help="scan a folder of netlists (recursively) into a library")
    q.add_argument("dir", help="folder of Verilog netlists")
    q.add_argument("--lib", default=DEFAULT_LIB, help=f"library folder (default: $RTLGEN_LIB or {DEFAULT_LIB})")
    q.add_argument("--release", help="release name recorded as provenance (default: the folder's name)")
    q.add_argument("--license", help="license recorded as provenance (default: detected from LICENSE*)")
    q.add_argument("--jobs", type=positive_int, help="parallel processes (default: CPU count)")
    q.set_defaults(handler=run_import)

    q = lsub.add_parser("list", help="print the library as a table")
    q.add_argument("--lib", default=DEFAULT_LIB)
    q.set_defaults(handler=run_list)

    q = lsub.add_parser("show", help="print one entry")
    q.add_argument("name", help="name, alias or hash (prefix of 6+ digits)")
    q.add_argument("--lib", default=DEFAULT_LIB)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(handler=run_show)

    q = lsub.add_parser("export", help="write an entry's table as .npy, TFApprox .bin or C header")
    q.add_argument("name")
    q.add_argument("--lib", default=DEFAULT_LIB)
    q.add_argument("--out", required=True)
    q.add_argument("--format", choices=EXPORT_FORMATS, help="default: from the --out suffix")
    q.set_defaults(handler=run_export)

    q = lsub.add_parser("fetch", help="download a public library (EvoApproxLib) and import it")
    q.add_argument("source", choices=["evoapprox"])
    q.add_argument("--release", default="v2022", choices=sorted(EVOAPPROX_RELEASES))
    q.add_argument("--dest", help="where to unpack (default: build/evoapproxlib-RELEASE)")
    q.add_argument("--url", help="archive URL (default: the release's GitHub archive)")
    q.add_argument("--lib", default=DEFAULT_LIB)
    q.set_defaults(handler=run_fetch)


def run_import(args) -> int:
    report = import_folder(args.dir, args.lib, release=args.release, license=args.license, jobs=args.jobs)
    print(f"imported {report.files} netlists ({report.unique_texts} distinct texts): {report.circuits} circuits, "
          f"{report.new_circuits} new; library {args.lib} now holds {len(report.catalog)}")
    return 0


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def run_list(args) -> int:
    cat = Catalog.open(args.lib)
    rows = [("name", "hash", "sign", "MAE%", "WCE%", "EP%", "MRE%", "netlists", "aliases")]
    for e in cat.entries:
        m = e.metrics
        rows.append((e.name, e.hash, "s" if e.signed else "u", _fmt(m.get("mae_pct")), _fmt(m.get("wce_pct")),
                     _fmt(m.get("ep_pct")), _fmt(m.get("mre_pct")), ",".join(sorted(e.netlists)),
                     ",".join(e.aliases)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def run_show(args) -> int:
    cat = Catalog.open(args.lib)
    e = cat.get(args.name)
    doc = {"name": e.name, "hash": e.hash, "signed": e.signed, "aliases": list(e.aliases),
           "netlists": {k: str(v) for k, v in e.netlists.items()},
           "implementations": [{"name": i.name, "kind": i.kind, "file": str(i.path), "digest": i.digest}
                               for i in e.implementations], "metrics": e.metrics,
           "published": e.published, "provenance": e.provenance, "sources": list(e.sources), "extra": e.extra}
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    print(f"{e.name}  ({'signed' if e.signed else 'unsigned'}, hash {e.hash})")
    if e.aliases:
        print(f"  aliases: {', '.join(e.aliases)}")
    defaults = e.netlists
    for i in e.implementations:
        print(f"  netlist {i.name} ({i.kind}{', default' if defaults[i.kind] == i.path else ''}): {i.path}")
    print("  metrics: " + ", ".join(f"{k}={_fmt(v)}" for k, v in e.metrics.items()))
    if e.published:
        print("  published: " + ", ".join(f"{k}={v}" for k, v in sorted(e.published.items())))
    print(f"  provenance: {e.provenance}; {len(e.sources)} source file(s)")
    for k, v in e.extra.items():
        print(f"  {k}: {json.dumps(v)[:200]}")
    return 0


def run_export(args) -> int:
    cat = Catalog.open(args.lib)
    e = cat.get(args.name)
    export_table(cat.table(args.name), e.signed, args.out, args.format, name=e.name)
    return 0


def run_fetch(args) -> int:
    dest = Path(args.dest or f"build/evoapproxlib-{args.release}")
    folder = fetch_evoapprox(dest, args.release, url=args.url)
    print(f"unpacked EvoApproxLib {args.release} into {folder}")
    report = import_folder(folder, args.lib, release=f"evoapproxlib-{args.release}")
    print(f"imported {report.circuits} circuits into {args.lib}")
    return 0
