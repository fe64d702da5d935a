"""Step cache of a flow run: a step reruns only when what it depends on changed.

A step's *key* hashes its name, its parameters (plain JSON data), the content of its input files
(folders: every file below them, by relative path and content), the keys of the steps it builds
on, and the versions of rtlgen and of the external tools the step runs (:class:`ToolVersions`: a
new Yosys, Verilator, OpenSTA or Icarus reruns the steps that use it). After a step runs,
``RUN/.flow/STEP.json`` records the key, the step's outputs (plain data) and the content hash of
each output file it names. A rerun reuses the record when the key
is the same and every recorded output file still has its recorded content; otherwise the step
runs again (and so does every step whose key includes its key).

Content, not time stamps: copying a run folder or touching a file without changing it keeps the
cache; editing a netlist, a model, the images or a configuration value reruns what depends on it.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from rtlgen.errors import ToolError
from rtlgen.paths import atomic_write_text

__all__ = ["content_hash", "step_key", "StepCache", "ToolVersions", "TOOL_PROBES", "ABSENT"]

#: The version of a tool that is not installed: a step that does not run it keeps its key.
ABSENT = "absent"


def _rtlgen_version() -> str:
    from rtlgen import __version__

    return __version__


def _yosys_version() -> str:
    from rtlgen.gen.synth import yosys_version

    return yosys_version()


def _simulator_version(name: str) -> str:
    from rtlgen.sim.simulators import get_simulator

    return get_simulator(name).version


def _sta_version() -> str:
    from rtlgen.cost import sta

    return sta.sta_version()


#: Tool name -> function returning its version string (ToolError when the tool is missing). The
#: functions are those of the modules that run each tool; they are looked up at call time.
TOOL_PROBES: dict[str, Callable[[], str]] = {
    "rtlgen": _rtlgen_version,
    "yosys": _yosys_version,
    "verilator": lambda: _simulator_version("verilator"),
    "icarus": lambda: _simulator_version("icarus"),
    "sta": _sta_version,
}


class ToolVersions:
    """Versions of rtlgen and the external tools, each read at most once (one instance per flow
    run: running ``yosys -V``, ``sta -version``... for every step would cost seconds).

    ``versions("yosys", "sta")`` -> ``{"yosys": "Yosys 0.23 ...", "sta": "OpenSTA 2.0.17"}``; a tool
    that is missing reads as :data:`ABSENT`, so only the steps that run it fail (when they do).
    """

    def __init__(self, probes: Mapping[str, Callable[[], str]] | None = None):
        self._probes = TOOL_PROBES if probes is None else probes
        self._seen: dict[str, str] = {}

    def __call__(self, *names: str) -> dict[str, str]:
        out = {}
        for name in names:
            if name not in self._seen:
                try:
                    probe = self._probes[name]
                except KeyError:
                    raise ValueError(f"no version probe for tool {name!r}; known: {', '.join(self._probes)}") from None
                try:
                    self._seen[name] = probe()
                except ToolError:
                    self._seen[name] = ABSENT
            out[name] = self._seen[name]
        return out

_CHUNK = 1 << 20


def _file_hash(path: Path, h: "hashlib._Hash") -> None:
    with open(path, "rb") as f:
        while True:
            block = f.read(_CHUNK)
            if not block:
                break
            h.update(block)


def content_hash(path: str | os.PathLike, *, ignore: Iterable[str] = ()) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative names and contents, sorted);
    names in ``ignore`` (any path component) are left out. A missing path hashes as missing."""
    p = Path(path)
    h = hashlib.sha256()
    skip = set(ignore)
    if p.is_file():
        _file_hash(p, h)
    elif p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            rel = f.relative_to(p)
            if skip.intersection(rel.parts):
                continue
            h.update(str(rel.as_posix()).encode() + b"\0")
            _file_hash(f, h)
            h.update(b"\0")
    else:
        h.update(b"<missing>")
    return h.hexdigest()


def step_key(name: str, params: Any, files: Iterable[str | os.PathLike] = (), upstream: Iterable[str] = (),
             tools: Mapping[str, str] | None = None) -> str:
    """The cache key of a step (24 hex digits): its name, parameters, input files' contents, the
    keys of the steps it builds on and ``tools`` (tool name -> version, :class:`ToolVersions`)."""
    h = hashlib.sha256()
    h.update(name.encode() + b"\0")
    h.update(json.dumps(params, sort_keys=True, default=str).encode() + b"\0")
    h.update(json.dumps(dict(tools or {}), sort_keys=True).encode() + b"\0")
    for f in files:
        h.update(content_hash(f).encode() + b"\0")
    for k in upstream:
        h.update(k.encode() + b"\0")
    return h.hexdigest()[:24]


class StepCache:
    """Records of the steps of one run folder (``RUN/.flow``)."""

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir) / ".flow"

    def _record(self, step: str) -> Path:
        return self.dir / f"{step}.json"

    def lookup(self, step: str, key: str) -> dict[str, Any] | None:
        """The outputs recorded for ``step`` under ``key`` if still valid, else None."""
        path = self._record(step)
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if rec.get("key") != key:
            return None
        for f, digest in rec.get("files", {}).items():
            if content_hash(f) != digest:
                return None
        return rec.get("outputs")

    def store(self, step: str, key: str, outputs: dict[str, Any], files: Iterable[str | os.PathLike] = ()) -> None:
        rec = {"key": key, "outputs": outputs, "files": {str(f): content_hash(f) for f in files}}
        atomic_write_text(self._record(step), json.dumps(rec, indent=1, default=str) + "\n")

    def forget(self, step: str) -> None:
        self._record(step).unlink(missing_ok=True)
