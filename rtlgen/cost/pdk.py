"""Process design kits (PDKs): which standard-cell library the cost flow maps, times and powers on.

A registry from name to :class:`Pdk` (the valid names are listed when one is unknown):

========== ====================================================== ============================
name       liberty file(s)                                        where rtlgen finds them
========== ====================================================== ============================
sky130hd   ``sky130_fd_sc_hd__tt_025C_1v80`` (1.8 V, 25 C)         inside the package
           (default)                                              (``rtlgen/data/pdk``, Apache-2.0)
osu018     OSU 0.18 um (``osu018_stdcells.lib``, 1.8 V)           Debian's ``qflow-tech-osu018``
                                                                  (:func:`rtlgen.paths.liberty_path`)
gf180mcu   ``gf180mcu_fd_sc_mcu7t5v0__tt_025C_5v00`` (7-track, 5 V) a folder the user gives
asap7      ``asap7sc7p5t_{AO,INVBUF,OA,SEQ,SIMPLE}_RVT_TT_nldm``  a folder the user gives
           (RVT, TT, 0.7 V; one library in five files, ps, fF)
========== ====================================================== ============================

Files that do not ship are looked for, in order, in the folders given to :meth:`Pdk.liberty`
(``rtlgen cost --pdk-dir``), in ``$RTLGEN_PDK_PATH`` (folders separated by ``os.pathsep``) and
in the shared test data (``../shared/data/liberty``, :func:`rtlgen.paths.shared_data_dir`);
each may be plain or gzipped. Nothing is ever downloaded.

**Prepared liberty file.** Yosys, OpenSTA and :mod:`rtlgen.netlist.liberty` all read one plain
file per PDK, written once into ``$RTLGEN_CACHE/pdk`` (default ``~/.cache/rtlgen/pdk``), named
after a hash of the source files and of the ``dont_use`` list: the sources decompressed, merged
into one ``library`` group (ASAP7: the header of the first file, the table templates the others
add, then every file's cells), without the ``dont_use`` cells. So the cells a synthesis may use
are decided here, once, by a documented list (:attr:`Pdk.dont_use`: a pattern and the reason),
not by trial; and a cost figure's cache key, which holds the hash of the prepared file, changes
when the list does. A PDK with nothing to remove and one plain file (osu018) uses that file as
it is. A cell group is taken to extend to the next cell group (liberty files list their cells
one after another after the header).

**Units** are read from each file by :func:`rtlgen.netlist.liberty.read_liberty` and converted
once there (ns, pF, pJ, mW); :meth:`Pdk.sta_config` gives the timing environment of a
multiplier in each process: the input driver (the PDK's smallest inverter) and the output
load (about one flip-flop D pin of the PDK, checked against the liberty in tests/cost/test_pdk.py).
"""
from __future__ import annotations

import fnmatch
import functools
import gzip
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from rtlgen.cost.sta import StaConfig
from rtlgen.errors import LibertyError
from rtlgen.netlist.liberty import CellLibrary, read_liberty
from rtlgen.paths import atomic_write_bytes, liberty_path, shared_data_dir

__all__ = ["Pdk", "PDKS", "DEFAULT_PDK", "get_pdk", "pdk_names", "resolve_liberty"]

#: The process a cost figure is computed in unless one is named.
DEFAULT_PDK = "sky130hd"

#: Bumped when the preparation of liberty files changes (part of the prepared file's name).
_PREP_VERSION = 1

_PACKAGE_PDK_DIR = Path(__file__).resolve().parent.parent / "data" / "pdk"


@dataclass(frozen=True)
class Pdk:
    """One standard-cell library and how rtlgen uses it.

    ``files``: liberty file names (gzipped or plain: both are looked for); ``source``: where they
    are (``"package"``: ``rtlgen/data/pdk``; ``"osu018"``: :func:`rtlgen.paths.liberty_path`;
    ``"user"``: a folder the user gives, see the module docstring). ``dont_use``: (fnmatch
    pattern over cell names, why) pairs; the matching cells are removed before any tool reads the
    library. ``driving_cell``: drives every input in timing; ``output_load_pf``: load on every
    output bit (pF), about one flip-flop D pin (``load_pin``: that flip-flop's cell and pin).
    """

    name: str
    title: str
    files: tuple[str, ...]
    source: Literal["package", "osu018", "user"]
    license: str
    driving_cell: str
    output_load_pf: float
    load_pin: tuple[str, str]
    dont_use: tuple[tuple[str, str], ...] = ()
    library_name: str | None = None  # name of the merged library group (several files)
    search: tuple[str, ...] = ()  # folders looked in first (see :meth:`with_search`)

    def with_search(self, folders: Sequence[str | os.PathLike]) -> Pdk:
        """This PDK, its files looked for in ``folders`` first (``rtlgen cost --pdk-dir``)."""
        return replace(self, search=tuple(str(f) for f in folders) + self.search)

    def excluded(self, cell: str) -> str | None:
        """Why ``cell`` is not to be used (its first matching ``dont_use`` reason), or None."""
        for pattern, why in self.dont_use:
            if fnmatch.fnmatchcase(cell, pattern):
                return why
        return None

    def locate(self, search: Sequence[str | os.PathLike] = ()) -> tuple[Path, ...]:
        """The source liberty files, found as the module docstring says; LibertyError if one
        is missing (naming every folder looked in)."""
        if self.source == "osu018":
            return (liberty_path(),)
        if self.source == "package":
            folders = [_PACKAGE_PDK_DIR]
        else:
            folders = [Path(p).expanduser() for p in (*search, *self.search)]
            folders += [Path(p).expanduser() for p in os.environ.get("RTLGEN_PDK_PATH", "").split(os.pathsep) if p]
            try:
                folders.append(shared_data_dir() / "liberty")
            except FileNotFoundError:
                pass
        found = []
        for name in self.files:
            for folder in folders:
                hit = next((folder / n for n in (name, name + ".gz") if (folder / n).is_file()), None)
                if hit is not None:
                    found.append(hit)
                    break
            else:
                raise LibertyError(
                    f"liberty file {name}(.gz) of PDK {self.name} not found; looked in "
                    + (", ".join(str(f) for f in folders) or "no folder")
                    + "; give its folder with --pdk-dir or $RTLGEN_PDK_PATH (rtlgen never downloads it)")
        return tuple(found)

    def liberty(self, search: Sequence[str | os.PathLike] = ()) -> Path:
        """The plain liberty file every tool reads (see "Prepared liberty file" above)."""
        return _prepared(self, self.locate(search))

    def library(self, search: Sequence[str | os.PathLike] = ()) -> CellLibrary:
        return read_liberty(self.liberty(search))

    def sta_config(self, **overrides) -> StaConfig:
        """The timing environment of a multiplier in this process; ``overrides`` (e.g.
        ``clock_ns``) replace fields."""
        return replace(StaConfig(output_load_pf=self.output_load_pf, driving_cell=self.driving_cell), **overrides)


_SKY130 = "sky130_fd_sc_hd__"
_GF180 = "gf180mcu_fd_sc_mcu7t5v0__"
_SCAN = "scan flip-flop: a scan chain is inserted after synthesis, not by it"
_GATE = "clock gate: placed by clock-gating insertion, not by logic mapping"
_PHYS = "physical-only cell (no logic: fill, tap, decap, end cap, antenna diode)"
_CLOCK = "clock-tree cell (balanced for clock nets, placed by clock-tree synthesis)"
_DELAY = "delay cell (hold fixing after placement; slow by design)"
_TRI = "tri-state driver: rtlgen evaluates two-valued logic, and a multiplier needs none"

#: The registry: name -> :class:`Pdk`.
PDKS: dict[str, Pdk] = {
    "sky130hd": Pdk(
        name="sky130hd", title="SkyWater sky130 high density, TT 25 C 1.80 V",
        files=("sky130_fd_sc_hd__tt_025C_1v80.lib.gz",), source="package",
        license="Apache-2.0 (SkyWater PDK authors), rtlgen/data/pdk/LICENSE.sky130",
        driving_cell=_SKY130 + "inv_1", output_load_pf=0.0017, load_pin=(_SKY130 + "dfxtp_1", "D"),
        dont_use=(
            (_SKY130 + "sdf*", _SCAN), (_SKY130 + "sedf*", _SCAN),
            (_SKY130 + "dlclkp_*", _GATE), (_SKY130 + "sdlclkp_*", _GATE),
            # (this liberty file holds no fill or tap cells: those are in the LEF only)
            (_SKY130 + "decap_*", _PHYS), (_SKY130 + "diode_*", _PHYS),
            (_SKY130 + "lpflow_*", "power-management cell (isolation, level shifter, keep-alive "
                                   "buffer, bleeder, decap on a switched supply): placed by power intent"),
            (_SKY130 + "macro_sparecell", "spare-cell macro (for metal-only fixes)"),
            (_SKY130 + "probe*", "probe cell (for silicon debug)"),
            (_SKY130 + "clkbuf_*", _CLOCK), (_SKY130 + "clkinv*", _CLOCK),
            (_SKY130 + "clkdlybuf*", _DELAY), (_SKY130 + "dlygate*", _DELAY), (_SKY130 + "dlymetal*", _DELAY),
            (_SKY130 + "ebufn_*", _TRI), (_SKY130 + "einv*", _TRI),
        ),
    ),
    "osu018": Pdk(
        name="osu018", title="OSU 0.18 um (qflow-tech-osu018), 1.8 V",
        files=("osu018_stdcells.lib",), source="osu018",
        license="Debian qflow-tech-osu018 (Oklahoma State University cells)",
        driving_cell="INVX1", output_load_pf=0.01, load_pin=("DFFPOSX1", "D"),
    ),
    "gf180mcu": Pdk(
        name="gf180mcu", title="GlobalFoundries gf180mcu 7-track, TT 25 C 5.00 V",
        files=("gf180mcu_fd_sc_mcu7t5v0__tt_025C_5v00.lib",), source="user",
        license="Apache-2.0 (GlobalFoundries, via open_pdks)",
        driving_cell=_GF180 + "inv_1", output_load_pf=0.0024, load_pin=(_GF180 + "dffq_1", "D"),
        dont_use=(
            (_GF180 + "sdff*", _SCAN), (_GF180 + "icgt*", _GATE),
            (_GF180 + "fill*", _PHYS), (_GF180 + "endcap", _PHYS), (_GF180 + "antenna", _PHYS),  # fill*: also fillcap_*, filltie
            (_GF180 + "clkbuf_*", _CLOCK), (_GF180 + "clkinv_*", _CLOCK),
            (_GF180 + "dly*", _DELAY), (_GF180 + "hold", "bus holder (keeps a floating net's level)"),
            (_GF180 + "bufz_*", _TRI), (_GF180 + "invz_*", _TRI),
        ),
    ),
    "asap7": Pdk(
        name="asap7", title="ASAP7 7.5-track RVT, TT 0.70 V (predictive 7 nm)",
        files=tuple(f"asap7sc7p5t_{part}_RVT_TT_nldm.lib" for part in ("INVBUF", "SIMPLE", "AO", "OA", "SEQ")),
        source="user", license="BSD-3-Clause (Arizona State University)",
        driving_cell="INVx1_ASAP7_75t_R", output_load_pf=0.00056, load_pin=("DFFHQNx1_ASAP7_75t_R", "D"),
        library_name="asap7sc7p5t_RVT_TT_nldm",
        dont_use=(
            ("SDF*_ASAP7_75t_R", _SCAN), ("ICG*_ASAP7_75t_R", _GATE),
            ("CKINVDC*_ASAP7_75t_R", _CLOCK),
            ("HB*_ASAP7_75t_R", _DELAY),
        ),
    ),
}


def pdk_names() -> list[str]:
    return sorted(PDKS)


def get_pdk(name: str | Pdk | None = None) -> Pdk:
    """The registered PDK ``name`` (default :data:`DEFAULT_PDK`); ValueError listing the names."""
    if isinstance(name, Pdk):
        return name
    key = DEFAULT_PDK if name is None else name
    try:
        return PDKS[key]
    except KeyError:
        raise ValueError(f"unknown PDK {key!r}; expected one of {', '.join(pdk_names())}") from None


def resolve_liberty(liberty: str | os.PathLike | None = None, pdk: str | Pdk | None = None,
                    search: Sequence[str | os.PathLike] = ()) -> Path:
    """The liberty file a cost uses: ``liberty`` when given (a file of the user's, used as it is),
    else the prepared file of ``pdk`` (default :data:`DEFAULT_PDK`)."""
    if liberty is not None:
        return Path(liberty)
    return get_pdk(pdk).liberty(search)


# --- preparation ---------------------------------------------------------------------------------

_CELL = re.compile(r'^[ \t]*cell[ \t]*\([ \t]*"?([^")\s]+)"?[ \t]*\)[ \t]*\{', re.M)
_TEMPLATE = re.compile(r'^[ \t]*(?:lu_table_template|power_lut_template)[ \t]*\([ \t]*"?(\w+)"?[ \t]*\)[ \t]*\{.*?\}[ \t]*\n',
                       re.M | re.S)
_LIBRARY = re.compile(r'^(\s*library[ \t]*\()[^)]*(\))', re.M)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise LibertyError(f"cannot decompress: {exc}", file=str(path)) from None
    return data.decode("utf-8", errors="replace")


def _split(text: str, file: str) -> tuple[str, list[tuple[str, str]]]:
    """(header before the first cell, [(cell name, cell text)]); the final ``}`` is dropped."""
    starts = list(_CELL.finditer(text))
    if not starts:
        raise LibertyError("no cell group found", file=file)
    end = text.rstrip().rfind("}")
    if end < starts[-1].start():
        raise LibertyError("the library group is not closed after its last cell", file=file)
    bounds = [m.start() for m in starts] + [end]
    return text[:starts[0].start()], [(m.group(1), text[bounds[i]:bounds[i + 1]]) for i, m in enumerate(starts)]


def _cache_dir() -> Path:
    return Path(os.environ.get("RTLGEN_CACHE", Path.home() / ".cache" / "rtlgen")) / "pdk"


def _prepared(pdk: Pdk, sources: tuple[Path, ...]) -> Path:
    if len(sources) == 1 and not pdk.dont_use and sources[0].suffix != ".gz":
        return sources[0]
    return _prepare_cached(pdk, sources, tuple(p.stat().st_mtime for p in sources), str(_cache_dir()))


@functools.lru_cache(maxsize=16)
def _prepare_cached(pdk: Pdk, sources: tuple[Path, ...], mtimes: tuple[float, ...], cache: str) -> Path:
    h = hashlib.sha256(f"v{_PREP_VERSION}|{pdk.library_name}|{pdk.dont_use!r}".encode())
    for p in sources:
        h.update(hashlib.sha256(p.read_bytes()).digest())
    out = Path(cache) / f"{pdk.name}-{h.hexdigest()[:16]}.lib"
    if out.is_file():
        return out
    header, cells, templates = "", [], set()
    for i, path in enumerate(sources):
        head, file_cells = _split(_read_text(path), str(path))
        if i == 0:
            header = head
            if pdk.library_name:
                header = _LIBRARY.sub(lambda m: f"{m.group(1)}{pdk.library_name}{m.group(2)}", header, count=1)
            templates = {m.group(1) for m in _TEMPLATE.finditer(head)}
        else:  # table templates the first file lacks
            for m in _TEMPLATE.finditer(head):
                if m.group(1) not in templates:
                    templates.add(m.group(1))
                    header += m.group(0)
        cells += [text for name, text in file_cells if pdk.excluded(name) is None]
    body = header + "".join(c if c.endswith("\n") else c + "\n" for c in cells) + "}\n"
    atomic_write_bytes(out, body.encode("utf-8"))
    return out
