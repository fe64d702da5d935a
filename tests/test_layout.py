"""The package layout: rtlgen's stages import only earlier stages, no modules import each other
in a cycle, and ``tests/`` mirrors the sub-packages.

Read from the source with :mod:`ast` (nothing is imported), counting every import: at module
level, inside functions, under ``TYPE_CHECKING``. The order the code needs is :data:`STAGES`;
where it differs from the order the flow runs in (see the README), it is because:

* ``cost`` before ``gen``: the generators' sweep (``gen.sweep``) costs what it generates;
* ``bitstream`` before ``emulate``: the emulator is configured from a bitstream
  (``emulate.from_bitstream``) and the bitstream format needs nothing of the emulator (the
  hand-made bitstreams of ``accel.compose``, which compile the model's layers, live with the
  accelerator);
* ``accel`` before ``mapper``: the mapper reads the accelerator's configuration
  (``accel.config``) to know the units and slots it fills;
* ``sim.tb``, the cocotb test modules that run *inside* the simulator (package data of ``sim``,
  loaded by dotted name), are each the simulator-side half of the stage that runs them, so they
  sit after ``hil``, whose ``rtlgen_hil_test`` calls ``hil.simside``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import rtlgen

ROOT = Path(rtlgen.__file__).parent

#: Stages in the order they may import one another: a package imports packages of earlier
#: groups only (within a group, none imports another).
STAGES: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("paths", "resources", "conventions", "arrays"),
    ("netlist",),
    ("library",),
    ("cost",),
    ("gen",),
    ("sim",),
    ("nn",),
    ("zoo",),
    ("bitstream",),
    ("emulate",),
    ("accel",),
    ("mapper",),
    ("hil",),
    ("sim.tb",),
    ("flow",),
    ("cli",),
    ("__main__",),
)
RANK = {name: i for i, group in enumerate(STAGES) for name in group}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(module: str) -> bool:
    return (ROOT.parent / module.replace(".", "/") / "__init__.py").exists()


def _imports(path: Path, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    """``(imported rtlgen module, line)`` for each import in ``path``. ``from P import x`` names
    module ``P.x`` when that is a module, else ``P``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                is_module = (ROOT.parent / (sub.replace(".", "/") + ".py")).exists() or _is_package(sub)
                out.append((sub if is_module else source, node.lineno))
    return [(m, line) for m, line in out if m == "rtlgen" or m.startswith("rtlgen.")]


def _stage(module: str) -> str:
    """The stage of ``rtlgen.a.b...``: ``a`` (``sim.tb`` for the simulator-side test modules)."""
    parts = module.split(".")
    if parts[1:3] == ["sim", "tb"]:
        return "sim.tb"
    return parts[1] if len(parts) > 1 else ""


def _sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_stage_is_placed():
    stages = {_stage(_module_name(p)) for p in _sources()} - {""}
    assert stages == set(RANK), f"unplaced: {sorted(stages - set(RANK))}; gone: {sorted(set(RANK) - stages)}"


def test_stages_import_only_earlier_stages():
    bad = []
    for path in _sources():
        src = _stage(_module_name(path))
        for target, line in _imports(path):
            dst = _stage(target)
            if src == "":  # rtlgen/__init__.py: only its version
                bad.append(f"{path.relative_to(ROOT.parent)}:{line}: the package root imports {target}")
            elif dst == "":  # ``from rtlgen import __version__``: the root imports nothing of rtlgen
                continue
            elif dst != src and RANK[dst] >= RANK[src]:
                bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {src} imports {target} ({dst or 'rtlgen'}), "
                           f"not an earlier stage")
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each import cycle of ``graph`` (module -> modules it imports) found by depth-first search."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def test_no_module_import_cycles():
    """Among module-level imports (the ones that run at import time), no cycle: the named
    cycles of issue #17, accel <-> hil and emulate <-> weight_tuning, stay gone."""
    graph: dict[str, set[str]] = {}
    for path in _sources():
        me = _module_name(path)
        graph[me] = {m for m, _ in _imports(path, top_level_only=True)
                     # a submodule importing its own package's __init__ is how packages work
                     if not me.startswith(m + ".")}
    assert not (cycles := _cycles(graph)), "\n".join(cycles)


def test_the_checks_can_fail():
    # the checks above are only as good as _imports: it must see imports inside functions
    path = ROOT / "accel" / "compose.py"
    found = {m for m, _ in _imports(path)}
    assert "rtlgen.emulate.layers" in found  # imported inside conv_descriptor
    assert "rtlgen.emulate.layers" not in {m for m, _ in _imports(path, top_level_only=True)}
    assert _stage("rtlgen.sim.tb.rtlgen_hil_test") == "sim.tb"
    assert _stage("rtlgen.accel.job") == "accel"
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_one_cocotb_runner():
    """Only rtlgen.sim.runner drives cocotb's runner (the simulators registry makes it)."""
    import re

    allowed = {ROOT / "sim" / "runner.py", ROOT / "sim" / "simulators.py"}
    calls = re.compile(r"\.runner\(|get_runner\(|cocotb_tools\.runner")
    bad = [f"{p.relative_to(ROOT.parent)}:{i}" for p in _sources() if p not in allowed
           for i, line in enumerate(p.read_text().splitlines(), 1) if calls.search(line)]
    assert not bad, f"cocotb's runner driven outside rtlgen.sim.runner: {bad}"


# --------------------------------------------------------------------------------------------
# tests/ mirrors the package: tests/<package>/test_<module or topic>.py

TESTS = Path(__file__).resolve().parent
#: Folders of tests/ that are not a package's tests: inputs, and the helpers and cocotb test
#: modules that tests import by plain name (``pythonpath`` in pyproject.toml).
TESTS_NOT_PACKAGES = {"data", "support"}
#: Tests in tests/ itself besides those of the top-level modules (test_<module>.py): they check
#: the whole rather than one package (this layout, the built wheel, the README's commands).
TESTS_OF_THE_WHOLE = {"test_layout.py", "test_package.py", "test_readme.py"}


def _subpackages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")}


def test_tests_mirror_the_subpackages():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    folders -= TESTS_NOT_PACKAGES
    packages = _subpackages()
    assert folders == packages, (f"tests/ folders that name no rtlgen sub-package: {sorted(folders - packages)}; "
                                 f"sub-packages without a tests/ folder: {sorted(packages - folders)}")


def test_tests_at_the_top_are_of_top_level_modules_or_of_the_whole():
    modules = {p.stem for p in ROOT.glob("*.py")}
    stray = sorted(p.name for p in TESTS.glob("test_*.py")
                   if p.name not in TESTS_OF_THE_WHOLE and p.stem.removeprefix("test_") not in modules)
    assert not stray, f"tests/ holds tests of no top-level module, to move under tests/<package>/: {stray}"
    tests_in_support = sorted(p.name for p in (TESTS / "support").glob("test_*.py"))
    assert not tests_in_support, f"tests/support/ is for helpers, pytest would collect: {tests_in_support}"
