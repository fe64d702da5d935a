"""Every CLI command turns bad input into one line on stderr, a documented exit status, no
traceback and nothing written (issue #17, "No tracebacks, no half-written output").

Commands are enumerated from the parser, so a new command without a case here fails
:func:`test_every_command_has_cases`. Each case runs ``main([...])`` in a scratch folder (also
the working directory) and compares its listing before and after. Bad inputs must fail before
any simulator or synthesis run, so this module stays fast.
"""
from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from rtlgen.bitstream import format as bsm
from rtlgen.cli import EXIT_STATUSES, build_parser, main
from rtlgen.gen import FAMILIES
from rtlgen.library.catalog import Catalog
from rtlgen.netlist.table import exact_table, table_hash
from rtlgen.zoo.digits import digits_model_path, save_images_npz

ACCEL_HASH = "0123456789abcdef"
ACCEL_TOML = ("version = 1\nname = \"t\"\n[accelerator]\nunits = 1\nlanes = 4\nmultipliers = 1\n"
              "[memory]\nactivation_bytes = 4096\nweight_words = 1024\nchannels = 64\n")
NETLIST = ("module m(A, B, O);\n  input [7:0] A; input [7:0] B; output [15:0] O;\n"
           "  assign O = {A, B};\nendmodule\n")


# ---- good inputs, made once ------------------------------------------------------------------
@dataclass(frozen=True)
class Good:
    root: Path
    model: Path
    images: Path
    lib: Path
    accel_toml: Path
    bitstream: Path
    spec: Path
    netlist: Path
    table: Path
    accel_dir: Path       # a generated-accelerator folder as far as its readers look: manifest, accel.toml
    flow: Path


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Good:
    root = tmp_path_factory.mktemp("good")
    images = save_images_npz(root / "digits.npz", "test")
    lib = root / "lib"
    cat = Catalog(lib)
    cat.add(exact_table(False), False, "mul8u_exact")
    cat.save()
    ref = bsm.MultiplierRef(table_hash(exact_table(False), False), False, "mul8u_exact")
    stream = bsm.Bitstream(ACCEL_HASH, ((ref,),), ())
    bitstream = root / "cfg.bin"
    bitstream.write_bytes(bsm.encode(stream))
    spec = root / "spec.json"
    spec.write_text(bsm.dumps_json(stream))
    accel_toml = root / "accel.toml"
    accel_toml.write_text(ACCEL_TOML)
    netlist = root / "m.v"
    netlist.write_text(NETLIST)
    table = root / "T.npy"
    np.save(table, exact_table(False))
    accel_dir = root / "accel"
    accel_dir.mkdir()
    (accel_dir / "accel.toml").write_text(ACCEL_TOML)
    (accel_dir / "manifest.json").write_text(json.dumps(_manifest()))
    flow = Path(__file__).parents[1] / "data" / "flow" / "digits_tiny.toml"
    return Good(root, digits_model_path(), images, lib, accel_toml, bitstream, spec, netlist, table,
                accel_dir, flow)


def _manifest(**drop_or_set) -> dict:
    doc = {"format": "rtlgen-accel", "version": 1, "top": "rtlgen_accel", "name": "t",
           "config_hash": ACCEL_HASH, "config": {},
           "units": [[{"name": "mul8u_exact", "hash": "56274373a6228e83", "signed": False,
                       "module": "mul8u_exact"}]],
           "files": ["netlists/mul8u_exact.v", "rtlgen_accel.v"]}
    for key, value in drop_or_set.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return doc


# ---- bad inputs ------------------------------------------------------------------------------
#: kind -> how to make it in folder ``d`` from the good file of that argument (or None)
BAD: dict[str, Callable[[Path, Path | None, str], Path]] = {}


def _bad(kind: str):
    def register(fn):
        BAD[kind] = fn
        return fn
    return register


@_bad("missing")
def _missing(d: Path, good: Path | None, suffix: str) -> Path:
    return d / f"missing{suffix}"


@_bad("empty")
def _empty(d: Path, good: Path | None, suffix: str) -> Path:
    (d / f"empty{suffix}").write_bytes(b"")
    return d / f"empty{suffix}"


@_bad("folder")
def _folder(d: Path, good: Path | None, suffix: str) -> Path:
    (d / f"folder{suffix}").mkdir()
    return d / f"folder{suffix}"


@_bad("truncated")
def _truncated(d: Path, good: Path | None, suffix: str) -> Path:
    assert good is not None and good.is_file()
    data = good.read_bytes()
    (d / f"truncated{suffix}").write_bytes(data[:len(data) // 2])
    return d / f"truncated{suffix}"


@_bad("text")
def _text(d: Path, good: Path | None, suffix: str) -> Path:
    (d / f"text{suffix}").write_text("this is plain text, not the file you want\n")
    return d / f"text{suffix}"


@_bad("binary")
def _binary(d: Path, good: Path | None, suffix: str) -> Path:
    (d / f"binary{suffix}").write_bytes(bytes(range(256)) * 8)
    return d / f"binary{suffix}"


@_bad("tflite")
def _tflite(d: Path, good: Path | None, suffix: str) -> Path:
    shutil.copy(digits_model_path(), d / f"model{suffix}")
    return d / f"model{suffix}"


@_bad("npz")
def _npz(d: Path, good: Path | None, suffix: str) -> Path:
    np.savez(d / "arrays.npz", x=np.zeros(3))
    return d / "arrays.npz"


def _manifest_kind(**change) -> Callable[[Path, Path | None, str], Path]:
    """An accelerator folder whose manifest lacks a key or has one of the wrong type."""
    def make(d: Path, good: Path | None, suffix: str) -> Path:
        folder = d / ("accel_" + "_".join(change))
        folder.mkdir()
        (folder / "accel.toml").write_text(ACCEL_TOML)
        (folder / "manifest.json").write_text(json.dumps(_manifest(**change)))
        return folder
    return make


def _manifest_text(text: str, name: str) -> Callable[[Path, Path | None, str], Path]:
    def make(d: Path, good: Path | None, suffix: str) -> Path:
        folder = d / f"accel_{name}"
        folder.mkdir()
        (folder / "accel.toml").write_text(ACCEL_TOML)
        (folder / "manifest.json").write_text(text)
        return folder
    return make


BAD.update({
    "manifest-no-files": _manifest_kind(files=None),
    "manifest-no-hash": _manifest_kind(config_hash=None),
    "manifest-bad-units": _manifest_kind(units=[[{"name": "x"}]]),
    "manifest-empty": _manifest_text("", "empty"),
    "manifest-truncated": _manifest_text(json.dumps(_manifest())[:40], "truncated"),
    "no-manifest": lambda d, g, s: (d / "accel_none").mkdir() or d / "accel_none",
})


def _sweep_manifest(text: str, name: str) -> Callable[[Path, Path | None, str], Path]:
    def make(d: Path, good: Path | None, suffix: str) -> Path:
        folder = d / f"set_{name}"
        folder.mkdir()
        (folder / "manifest.json").write_text(text)
        return folder
    return make


def _catalog(data: bytes, name: str) -> Callable[[Path, Path | None, str], Path]:
    """A library folder whose catalog.json is corrupt."""
    def make(d: Path, good: Path | None, suffix: str) -> Path:
        folder = d / f"lib_{name}"
        folder.mkdir()
        (folder / "catalog.json").write_bytes(data)
        return folder
    return make


BAD.update({
    "catalog-empty": _catalog(b"", "empty"),
    "catalog-binary": _catalog(bytes(range(256)), "binary"),
    "catalog-truncated": _catalog(b'{"format": "rtlgen-catalog", "vers', "truncated"),
    "catalog-bad-entry": _catalog(b'{"format": "rtlgen-catalog", "version": 2, "entries": [{"name": "x"}]}',
                                  "bad_entry"),
})
CATALOG_KINDS = ("missing", "text", "folder", "catalog-empty", "catalog-binary", "catalog-truncated",
                 "catalog-bad-entry")

_SET = {"format": "rtlgen-generated-v1", "generator": {}, "netlists": [{"name": "m", "file": "m.v"}]}
BAD.update({
    "set-missing-key": _sweep_manifest(json.dumps(_SET), "missing_key"),
    "set-truncated": _sweep_manifest(json.dumps(_SET)[:30], "truncated"),
    "set-empty": _sweep_manifest("", "empty"),
    "set-other-format": _sweep_manifest(json.dumps(_manifest()), "other"),
})



def _images_folder(config: bytes | None, weights: bytes | None, name: str) -> Callable[[Path, Path | None, str], Path]:
    """A folder of config.bin and weights.bin (``rtlgen hil --config``) lacking one or with one empty."""
    def make(d: Path, good: Path | None, suffix: str) -> Path:
        folder = d / f"images_{name}"
        folder.mkdir()
        for file, data in (("config.bin", config), ("weights.bin", weights)):
            if data is not None:
                (folder / file).write_bytes(data)
        return folder
    return make


BAD.update({
    "images-no-weights": _images_folder(b"RTLB", None, "no_weights"),
    "images-no-config": _images_folder(None, b"RTLW", "no_config"),
    "images-empty-config": _images_folder(b"", b"RTLW", "empty_config"),
    "images-empty-weights": _images_folder(b"RTLB", b"", "empty_weights"),
})


@_bad("malformed-netlists")
def _malformed_netlists(d: Path, good: Path | None, suffix: str) -> Path:
    folder = d / "netlists"
    folder.mkdir()
    (folder / "good.v").write_text(NETLIST)
    shutil.copy(Path(__file__).parents[1] / "data" / "malformed" / "loop.v", folder / "loop.v")
    return folder


# ---- the cases -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]
    argv: Callable[[Good, Path, Path], list[str]]   # (good inputs, bad path, scratch folder) -> args
    kinds: tuple[str, ...]
    good_file: str | None = None                    # Good attribute that "truncated" cuts
    suffix: str = ""
    status: int = 1


def _accel_power(g: Good, accel: Path, bitstream: Path, model: Path, images: Path, d: Path) -> list[str]:
    return ["accel", "power", "--accel", str(accel), "--bitstream", str(bitstream), "--model", str(model),
            "--images", str(images), "--work-dir", str(d / "work"), "--json", str(d / "p.json")]


def _hil(g: Good, accel: Path, bitstream: Path, model: Path, images: Path, d: Path) -> list[str]:
    return ["hil", "--accel", str(accel), "--bitstream", str(bitstream), "--model", str(model),
            "--images", str(images), "--work-dir", str(d / "work"), "--json", str(d / "h.json")]


def _map(g: Good, *, model=None, images=None, accel=None, lib=None, out=None, extra=()) -> Callable:
    def argv(g: Good, bad: Path, d: Path) -> list[str]:
        pick = lambda v, default: str(bad if v == "bad" else default)  # noqa: E731
        return ["map", "--model", pick(model, g.model), "--images", pick(images, g.images),
                "--accel", pick(accel, g.accel_toml), "--lib", pick(lib, g.lib),
                "--out", pick(out, d / "run"), "--search", "0:100", "--test", "100:200", "--quiet", *extra]
    return argv


def _build(g: Good, d: Path, *, model=None, accel=None, lib=None, assign=None, out=None) -> list[str]:
    """``bitstream build`` with the good inputs but one (the good ones build: exact, one unit)."""
    return ["bitstream", "build", "--model", str(model or g.model), "--accel", str(accel or g.accel_toml),
            "--lib", str(lib or g.lib), *(["--assign", str(assign)] if assign else []), "--out", str(out or d / "imgs")]


MANIFEST_KINDS = ("no-manifest", "missing", "manifest-no-files", "manifest-no-hash", "manifest-bad-units",
                  "manifest-empty", "manifest-truncated")

CASES: list[Case] = [
    # table
    Case(("table",), lambda g, b, d: ["table", str(b), "--out", str(d / "T.npy")],
         ("missing", "empty", "folder", "truncated", "binary", "tflite"), "netlist", ".v"),
    Case(("table",), lambda g, b, d: ["table", str(g.netlist), "--out", str(b)], ("folder",), suffix=".npy"),
    # lib
    Case(("lib", "import"), lambda g, b, d: ["lib", "import", str(b), "--lib", str(d / "lib")],
         ("missing", "text", "malformed-netlists")),
    Case(("lib", "import"), lambda g, b, d: ["lib", "import", str(g.root), "--lib", str(b)], ("text",)),
    *[Case(("lib", action), (lambda a, e: lambda g, b, d: ["lib", a, *e, "--lib", str(b)])(action, extra),
           CATALOG_KINDS)
      for action, extra in (("list", []), ("show", ["mul8u_exact"]), ("export", ["mul8u_exact", "--out", "t.npy"]))],
    Case(("lib", "export"), lambda g, b, d: ["lib", "export", "mul8u_exact", "--lib", str(g.lib), "--out", str(b)],
         ("folder",), suffix=".npy"),
    Case(("lib", "fetch"), lambda g, b, d: ["lib", "fetch", "evoapprox", "--url", b.as_uri(),
                                            "--dest", str(d / "evo"), "--lib", str(d / "lib")],
         ("missing", "empty", "text", "tflite"), suffix=".zip"),
    # verify (fails before any simulator runs)
    Case(("verify",), lambda g, b, d: ["verify", str(b), "--table", str(g.table), "--build-dir", str(d / "b")],
         ("missing", "empty", "folder", "truncated", "binary"), "netlist", ".v"),
    Case(("verify",), lambda g, b, d: ["verify", str(g.netlist), "--table", str(b), "--build-dir", str(d / "b")],
         ("missing", "empty", "folder", "truncated", "text"), "table", ".npy"),
    Case(("verify",), lambda g, b, d: ["verify", "--lib", str(b), "--all", "--build-dir", str(d / "b")],
         ("missing", "text")),
    # cost (fails before any synthesis)
    Case(("cost",), lambda g, b, d: ["cost", str(b), "--json", str(d / "c.json")],
         ("missing", "empty", "folder", "truncated", "binary"), "netlist", ".v"),
    Case(("cost",), lambda g, b, d: ["cost", str(g.netlist), "--a-hist", str(b)],
         ("missing", "empty", "folder", "text"), suffix=".npy"),
    Case(("cost",), lambda g, b, d: ["cost", "--lib", str(b)], ("missing", "text")),
    # gen
    Case(("gen", "sweep"), lambda g, b, d: ["gen", "sweep", "--out", str(b), "--no-cost"],
         ("text", "set-missing-key", "set-truncated", "set-empty", "set-other-format")),
    Case(("gen", "accel"), lambda g, b, d: ["gen", "accel", "--config", str(b), "--lib", str(g.lib),
                                            "--out", str(d / "acc")],
         ("missing", "empty", "folder", "truncated", "binary"), "accel_toml", ".toml"),
    Case(("gen", "accel"), lambda g, b, d: ["gen", "accel", "--config", str(g.accel_toml), "--lib", str(b),
                                            "--out", str(d / "acc")], ("missing", "text")),
    # emulate
    Case(("emulate",), lambda g, b, d: ["emulate", "--model", str(b), "--images", str(g.images),
                                        "--out", str(d / "o.npz")],
         ("missing", "empty", "folder", "truncated", "text", "npz"), "model", ".tflite"),
    Case(("emulate",), lambda g, b, d: ["emulate", "--model", str(g.model), "--images", str(b),
                                        "--out", str(d / "o.npz")],
         ("missing", "empty", "folder", "truncated", "text", "tflite"), "images", ".npz"),
    Case(("emulate",), lambda g, b, d: ["emulate", "--model", str(g.model), "--images", str(g.images),
                                        "--assign", str(b), "--out", str(d / "o.npz")],
         ("missing", "empty", "folder", "binary"), suffix=".json"),
    Case(("emulate",), lambda g, b, d: ["emulate", "--model", str(g.model), "--images", str(g.images),
                                        "--limit", "5", "--out", str(b)], ("folder",), suffix=".npz"),
    # map
    Case(("map",), _map(None, model="bad"), ("missing", "empty", "truncated", "npz"), "model", ".tflite"),
    Case(("map",), _map(None, images="bad"), ("missing", "empty", "truncated", "tflite"), "images", ".npz"),
    Case(("map",), _map(None, accel="bad"), ("missing", "empty", "folder", "binary"), suffix=".toml"),
    Case(("map",), _map(None, lib="bad"), ("missing", "text")),
    Case(("map",), _map(None, out="bad"), ("text",)),
    # bitstream
    *[Case(("bitstream", "build"), (lambda arg: lambda g, b, d: _build(g, d, **{arg: b}))(arg), kinds, good_file, suffix)
      for arg, kinds, good_file, suffix in (
          ("model", ("missing", "empty", "folder", "truncated", "text", "npz"), "model", ".tflite"),
          ("accel", ("missing", "empty", "folder", "truncated", "binary"), "accel_toml", ".toml"),
          ("lib", CATALOG_KINDS, None, ""),
          ("assign", ("missing", "empty", "folder", "binary"), None, ".json"),
          ("out", ("text",), None, ""))],
    Case(("bitstream", "encode"), lambda g, b, d: ["bitstream", "encode", str(b), "--out", str(d / "c.bin")],
         ("missing", "empty", "folder", "truncated", "binary"), "spec", ".json"),
    Case(("bitstream", "encode"), lambda g, b, d: ["bitstream", "encode", str(g.spec), "--out", str(b)],
         ("folder",), suffix=".bin"),
    Case(("bitstream", "decode"), lambda g, b, d: ["bitstream", "decode", str(b), "--out", str(d / "b.json"),
                                                   "--assignment", str(d / "a.json")],
         ("missing", "empty", "folder", "truncated", "text"), "bitstream", ".bin"),
    # both outputs or neither: a bad --assignment target leaves no --out
    Case(("bitstream", "decode"), lambda g, b, d: ["bitstream", "decode", str(g.bitstream), "--out",
                                                   str(d / "b.json"), "--assignment", str(b)],
         ("folder",), suffix=".json"),
    Case(("bitstream", "inspect"), lambda g, b, d: ["bitstream", "inspect", str(b)],
         ("missing", "empty", "folder", "truncated", "text"), "bitstream", ".bin"),
    Case(("bitstream", "emulate"), lambda g, b, d: ["bitstream", "emulate", str(b), "--model", str(g.model),
                                                    "--images", str(g.images), "--lib", str(g.lib),
                                                    "--out", str(d / "e.npz")],
         ("missing", "empty", "folder", "truncated", "text"), "bitstream", ".bin"),
    Case(("bitstream", "emulate"), lambda g, b, d: ["bitstream", "emulate", str(g.bitstream), "--model",
                                                    str(g.model), "--images", str(b), "--lib", str(g.lib),
                                                    "--out", str(d / "e.npz")],
         ("missing", "empty", "truncated", "tflite"), "images", ".npz"),
    Case(("bitstream", "emulate"), lambda g, b, d: ["bitstream", "emulate", str(g.bitstream), "--model",
                                                    str(b), "--images", str(g.images), "--lib", str(g.lib),
                                                    "--out", str(d / "e.npz")],
         ("missing", "empty", "truncated", "npz"), "model", ".tflite"),
    Case(("bitstream", "emulate"), lambda g, b, d: ["bitstream", "emulate", str(g.bitstream), "--model",
                                                    str(g.model), "--images", str(g.images), "--lib", str(g.lib),
                                                    "--weights", str(b), "--out", str(d / "e.npz")],
         ("missing", "empty", "folder", "text", "binary"), suffix=".bin"),
    # hil (fails before the Verilator build)
    Case(("hil",), lambda g, b, d: _hil(g, b, g.bitstream, g.model, g.images, d), MANIFEST_KINDS),
    Case(("hil",), lambda g, b, d: _hil(g, g.accel_dir, b, g.model, g.images, d),
         ("missing", "empty", "truncated", "text"), "bitstream", ".bin"),
    Case(("hil",), lambda g, b, d: _hil(g, g.accel_dir, g.bitstream, b, g.images, d),
         ("missing", "empty", "truncated", "npz"), "model", ".tflite"),
    Case(("hil",), lambda g, b, d: _hil(g, g.accel_dir, g.bitstream, g.model, b, d),
         ("missing", "empty", "truncated", "tflite"), "images", ".npz"),
    # --config DIR: the device judges the images' contents, the host only that both are there
    Case(("hil",), lambda g, b, d: ["hil", "--accel", str(g.accel_dir), "--config", str(b), "--model", str(g.model),
                                    "--images", str(g.images), "--work-dir", str(d / "work")],
         ("missing", "text", "images-no-weights", "images-no-config", "images-empty-config", "images-empty-weights")),
    # accel power (fails before tabulating or simulating)
    Case(("accel", "power"), lambda g, b, d: _accel_power(g, b, g.bitstream, g.model, g.images, d), MANIFEST_KINDS),
    Case(("accel", "power"), lambda g, b, d: _accel_power(g, g.accel_dir, b, g.model, g.images, d),
         ("missing", "empty", "truncated", "text"), "bitstream", ".bin"),
    Case(("accel", "power"), lambda g, b, d: _accel_power(g, g.accel_dir, g.bitstream, b, g.images, d),
         ("missing", "empty", "truncated", "npz"), "model", ".tflite"),
    Case(("accel", "power"), lambda g, b, d: _accel_power(g, g.accel_dir, g.bitstream, g.model, b, d),
         ("missing", "empty", "truncated", "tflite"), "images", ".npz"),
    # accel memories
    Case(("accel", "memories"), lambda g, b, d: ["accel", "memories", "--config", str(b)],
         ("missing", "empty", "folder", "truncated", "binary"), "accel_toml", ".toml"),
    Case(("accel", "memories"), lambda g, b, d: ["accel", "memories", "--config", str(g.accel_toml), "--images", str(b)],
         ("missing", "text", "images-no-weights", "images-no-config", "images-empty-config", "images-empty-weights")),
    # flow, demo
    Case(("flow", "run"), lambda g, b, d: ["flow", "run", str(b), "--out", str(d / "run"), "--quiet"],
         ("missing", "empty", "folder", "binary", "truncated"), "flow", ".toml"),
    Case(("flow", "run"), lambda g, b, d: ["flow", "run", str(g.flow), "--out", str(b), "--quiet"], ("text",)),
    Case(("demo",), lambda g, b, d: ["demo", "--out", str(b), "--quiet"], ("text",)),
    # gen FAMILY: each family's one file is --out
    *[Case(("gen", name), (lambda n, c: lambda g, b, d: [
        "gen", n, *[a for p in c.params for a in ((f"--{p.name}",) if p.flag else (f"--{p.name}", str(p.lo)))],
        *(["--signed" if c.signedness[0] else "--unsigned"] if len(c.signedness) > 1 else []),
        "--out", str(b)])(name, cls), ("folder",), suffix=".v") for name, cls in FAMILIES.items()],
]

#: Usage errors: checked numbers (exit status 2); the line names the option.
USAGE: list[tuple[tuple[str, ...], list[str], str]] = [
    (("accel", "memories"), ["accel", "memories", "--config", "a.toml", "--batch", "0"], "--batch"),
    (("emulate",), ["emulate", "--model", "m", "--images", "i", "--out", "o", "--limit", "-1"], "--limit"),
    (("emulate",), ["emulate", "--model", "m", "--images", "i", "--out", "o", "--calib", "-3"], "--calib"),
    (("emulate",), ["emulate", "--model", "m", "--images", "i", "--out", "o", "--batch", "0"], "--batch"),
    (("bitstream", "build"), ["bitstream", "build", "--model", "m", "--accel", "a", "--lib", "l", "--out", "o",
                              "--calib", "0"], "--calib"),
    (("bitstream", "emulate"), ["bitstream", "emulate", "b", "--model", "m", "--images", "i", "--lib", "l",
                                "--out", "o", "--limit", "-2"], "--limit"),
    (("map",), ["map", "--model", "m", "--images", "i", "--accel", "a", "--lib", "l", "--out", "o",
                "--workers", "-1"], "--workers"),
    (("map",), ["map", "--model", "m", "--images", "i", "--accel", "a", "--lib", "l", "--out", "o",
                "--pop", "0"], "--pop"),
    (("hil",), ["hil", "--accel", "a", "--bitstream", "b", "--model", "m", "--images", "i", "--workers", "0"],
     "--workers"),
    (("hil",), ["hil", "--accel", "a", "--bitstream", "b", "--model", "m", "--images", "i", "--limit", "-1"],
     "--limit"),
    (("hil",), ["hil", "--accel", "a", "--config", "c", "--bitstream", "b", "--model", "m", "--images", "i"],
     "--bitstream"),
    (("accel", "power"), ["accel", "power", "--accel", "a", "--bitstream", "b", "--model", "m", "--images", "i",
                          "--clock-ns", "-10"], "--clock-ns"),
    (("cost",), ["cost", "x.v", "--vectors", "-5"], "--vectors"),
    (("cost",), ["cost", "x.v", "--jobs", "0"], "--jobs"),
    (("verify",), ["verify", "x.v", "--table", "t.npy", "--jobs", "-1"], "--jobs"),
    (("lib", "import"), ["lib", "import", "d", "--jobs", "0"], "--jobs"),
    (("gen", "sweep"), ["gen", "sweep", "--jobs", "-4"], "--jobs"),
    (("gen", "roup"), ["gen", "roup", "--p", "x", "--r", "1", "--signed", "--out", "o.v"], "--p"),
]


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: dict[int, tuple[str, ...]] = {}
            for name, sub in action.choices.items():
                seen.setdefault(id(sub), prefix + (name,))     # aliases name one parser
            return [leaf for p in seen.values()
                    for leaf in _leaf_commands(action.choices[p[-1]], p)]
    return [prefix]


def _params():
    for case in CASES:
        for kind in case.kinds:
            yield pytest.param(case, kind, id=f"{' '.join(case.command)}:{kind}:{CASES.index(case)}")


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() else "") for p in folder.rglob("*"))


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:       # argparse's usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_every_command_has_cases():
    leaves = _leaf_commands(build_parser())
    assert ("bitstream", "decode") in leaves and ("gen", "roup") in leaves     # the walk works
    covered = {c.command for c in CASES}
    missing = [" ".join(leaf) for leaf in leaves if leaf not in covered]
    assert not missing, f"commands without bad-input cases in {__file__}: {', '.join(missing)}"


@pytest.mark.parametrize("case, kind", list(_params()))
def test_bad_input_is_one_line_and_writes_nothing(case: Case, kind: str, good: Good, tmp_path, capsys,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)          # default outputs (build/...) would land here too
    monkeypatch.delenv("RTLGEN_LIB", raising=False)
    bad = BAD[kind](tmp_path, getattr(good, case.good_file) if case.good_file else None, case.suffix)
    argv = case.argv(good, bad, tmp_path)
    before = _listing(tmp_path)
    status, out, err = _run(argv, capsys)
    assert status == case.status, f"exit status {status}, expected {case.status}; stderr: {err!r}"
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith(f"rtlgen {case.command[0]}: error: "), lines[0]
    assert bad.name in lines[0], f"the error does not name {bad.name}: {lines[0]}"
    assert _listing(tmp_path) == before, "the command left files behind"


@pytest.mark.parametrize("command, argv, option", USAGE, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None)
def test_bad_number_is_a_usage_error(command, argv, option, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(argv, capsys)
    assert status == 2 and 2 in EXIT_STATUSES
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rtlgen {' '.join(command)}: error: argument {option}"), err
    assert "Traceback" not in out + err
    assert _listing(tmp_path) == []


def test_exit_statuses_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for status, meaning in EXIT_STATUSES.items():
        assert f"{status} {' '.join(meaning.split())}" in text


def test_traceback_flag_shows_the_trace(tmp_path, capsys):
    from rtlgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"missing\.npz: no such file"):
        main(["--traceback", "emulate", "--model", str(digits_model_path()), "--images",
              str(tmp_path / "missing.npz"), "--out", str(tmp_path / "o.npz")])
