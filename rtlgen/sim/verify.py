"""Exhaustive verification of multiplier netlists against truth tables by HDL simulation.

The host side of ``hdl/rtlgen_verify_tb.v`` and ``sim/rtlgen_verify_test.py``:

1. each netlist is flattened with Yosys (:func:`rtlgen.netlist.yosys.flatten_netlist`) into one module
   with a unique name, so that generic and ``_pdk45`` versions of a circuit, buses such as
   ``wire [2031:0] N`` (slow in Icarus, miscompiled by older Verilator) and standard cells all
   simulate alike. Standard cells take their logic from the liberty file's ``function``
   attributes (``read_liberty``), the same source the numpy evaluator uses, rather than from
   ``osu018_stdcells.v``: that file's cells carry ``specify`` timing with min:typ:max delays, a
   ``timescale`` each and UDPs, which the two simulators treat differently, and a user's
   liberty file need not come with Verilog models at all;
2. a generated ``rtlgen_dut_bank`` instantiates several multipliers, binding ports **by name**
   (``A`` gets the operand ``a``, ``B`` gets ``b``; see :mod:`rtlgen.netlist.table`);
3. cocotb's runner builds the bank with the testbench once per simulator, then runs it with the
   expected tables in a hex file: the simulator sweeps all 65,536 pairs and counts mismatches;
4. the counts and the first mismatching pair of each multiplier come back as a
   :class:`VerificationReport`.

Builds are cached in a work folder, keyed by the simulator, the testbench and the flattened
netlists, so re-checking the same multipliers against other tables (a mutation test, a rebuilt
catalog) only re-runs the simulation.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rtlgen.errors import NetlistError, ToolError, VerificationError
from rtlgen import resources
from rtlgen.paths import atomic_write_bytes, atomic_write_text, liberty_path
from rtlgen.sim import runner
from rtlgen.sim.simulators import Simulator, get_simulator
from rtlgen.netlist.table import check_table, output_bits_to_value
from rtlgen.netlist.yosys import flatten_netlist

__all__ = [
    "Multiplier",
    "MultiplierResult",
    "VerificationReport",
    "Bench",
    "verify",
    "verify_netlist",
    "catalog_multipliers",
    "HDL_DIR",
]

#: Verilog testbench tops and cocotb test modules shipped with the repository.
HDL_DIR = resources.HDL_DIR
_TB_FILE = HDL_DIR / "rtlgen_verify_tb.v"
_TB_TOP = "rtlgen_verify_tb"
_TEST_MODULE = f"{resources.TB_PACKAGE}.rtlgen_verify_test"
_PAIRS = 65536

#: Multipliers per simulator build when the caller does not say: large enough that the build
#: cost is shared, small enough that two builds overlap on a 2-core machine.
DEFAULT_BATCH = 32


@dataclass(frozen=True)
class Multiplier:
    """A netlist to check and the table it must reproduce (convention of :mod:`rtlgen.netlist.table`)."""

    name: str
    netlist: Path
    table: np.ndarray = field(repr=False, compare=False)
    signed: bool
    top: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "netlist", Path(self.netlist))
        object.__setattr__(self, "table", check_table(self.table, self.signed, what=f"table of {self.name}"))


@dataclass(frozen=True)
class MultiplierResult:
    """What simulating one multiplier over all 65,536 operand pairs found.

    ``first`` is the first mismatching pair ``(a, b)`` as bit patterns 0..255 in the order
    ``a << 8 | b``; ``expected`` and ``got`` are table values there (``got`` is None when the
    output held X or Z bits; ``got_bits`` then shows them, MSB first).
    """

    name: str
    netlist: Path
    simulator: str
    signed: bool
    mismatches: int
    first: tuple[int, int] | None = None
    expected: int | None = None
    got: int | None = None
    got_bits: str | None = None
    pairs: int = _PAIRS

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def describe(self) -> str:
        if self.ok:
            return f"{self.name}: all {self.pairs} pairs match ({self.simulator})"
        a, b = self.first  # type: ignore[misc]
        got = self.got if self.got is not None else f"bits {self.got_bits}"
        return (f"{self.name}: {self.mismatches} of {self.pairs} pairs differ ({self.simulator}); first at "
                f"(a, b) = ({a}, {b}): expected {self.expected}, got {got} [{self.netlist}]")


@dataclass(frozen=True)
class VerificationReport:
    """Results of one :func:`verify` call, one per multiplier, in the order given."""

    simulator: str
    results: tuple[MultiplierResult, ...]
    build_seconds: float = 0.0
    run_seconds: float = 0.0
    builds: int = 0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> tuple[MultiplierResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def raise_for_mismatch(self) -> None:
        """Raise :class:`VerificationError` describing every failing multiplier."""
        if not self.ok:
            raise VerificationError("\n".join(r.describe() for r in self.failures))


# --------------------------------------------------------------------------------------------
# Expected tables as a hex file for $readmemh


_HEX_LUT = np.array([f"{i:04x}\n".encode() for i in range(1 << 16)], dtype="S5")


def write_table_hex(path: Path, tables: Sequence[np.ndarray]) -> None:
    """One 16-bit pattern per line: table i's ``T[a, b]`` on line ``i*65536 + (a << 8 | b)``."""
    raw = np.concatenate([np.asarray(t, dtype=np.int64).reshape(-1) & 0xFFFF for t in tables])
    atomic_write_bytes(path, _HEX_LUT[raw].tobytes())


# --------------------------------------------------------------------------------------------
# Builds


def _bank_verilog(modules: Sequence[tuple[str, str]]) -> str:
    """The generated wrapper: module names with their output port, ports bound by name."""
    n = len(modules)
    lines = [
        "// Generated by rtlgen.sim.verify: the multipliers under test, ports bound by name.",
        "module rtlgen_dut_bank (input wire [7:0] a, input wire [7:0] b, output wire [%d:0] p);" % (16 * n - 1),
    ]
    for i, (module, out) in enumerate(modules):
        lines.append(f"    {module} u{i} (.A(a), .B(b), .{out}(p[{16 * i + 15}:{16 * i}]));")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _check_ports(ports, netlist: Path, top: str | None) -> str:
    """The output port's name, after checking a multiplier's interface: A[8], B[8] -> one 16-bit output."""
    what = f"module {top}" if top else "the netlist's top module"
    if dict(ports.inputs) != {"A": 8, "B": 8}:
        got = ", ".join(f"{k}[{w}]" for k, w in ports.inputs.items()) or "none"
        raise NetlistError(f"{what} must have 8-bit inputs A and B (bound by name), not {got}", file=str(netlist))
    if len(ports.outputs) != 1 or next(iter(ports.outputs.values())) != 16:
        got = ", ".join(f"{k}[{w}]" for k, w in ports.outputs.items()) or "none"
        raise NetlistError(f"{what} must have one 16-bit output, not {got}", file=str(netlist))
    return next(iter(ports.outputs))


def _default_liberty() -> Path | None:
    try:
        return liberty_path()
    except ToolError:
        return None


class Bench:
    """One simulator build of the testbench with a bank of multiplier netlists.

    ``netlists`` are ``(path, top)`` pairs. The build lands in ``work_dir/<key>``, where the key
    hashes the simulator, the testbench and the flattened netlists; an existing complete build is
    reused.
    """

    def __init__(self, simulator: str | Simulator, netlists: Sequence[tuple[Path, str | None]],
                 work_dir: Path, *, liberty: Path | None = None):
        if not netlists:
            raise ValueError("a bench needs at least one netlist")
        self.simulator = get_simulator(simulator, small_design=True) if isinstance(simulator, str) else simulator
        self.netlists = [(Path(p), t) for p, t in netlists]
        # absolute: the simulator runs in another folder and reads the files the environment names
        self.work_dir = Path(work_dir).resolve()
        self.liberty = liberty if liberty is not None else _default_liberty()
        self.build_dir: Path | None = None
        self.build_seconds = 0.0
        self.built = False

    def build(self) -> None:
        """Flatten the netlists, write the bank, and build (or reuse) the simulator model."""
        self.simulator.check()
        if not _TB_FILE.is_file():
            raise ToolError(f"testbench file {_TB_FILE} is missing from the rtlgen package: reinstall rtlgen")
        start = time.perf_counter()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="flat-", dir=self.work_dir) as tmp:
            flat_texts: list[str] = []
            modules: list[tuple[str, str]] = []
            for i, (path, top) in enumerate(self.netlists):
                module = f"rtlgen_mul{i}"
                dst = Path(tmp) / f"{module}.v"
                try:
                    ports = flatten_netlist(path, top, dst, name=module, liberty=self.liberty)
                except NetlistError as exc:
                    if self.liberty is None and "is not part of the design" in str(exc):
                        raise NetlistError(f"{exc.message}\n(standard cells are read from a liberty file: set "
                                           "RTLGEN_LIBERTY or run bootstrap.sh)", file=str(path)) from exc
                    raise
                modules.append((module, _check_ports(ports, path, top)))
                flat_texts.append(dst.read_text())
            bank = _bank_verilog(modules)
            tb = _TB_FILE.read_text()
            key = hashlib.sha256("\0".join([self.simulator.build_key(), tb, bank, *flat_texts])
                                 .encode()).hexdigest()[:20]
            build_dir = self.work_dir / f"{self.simulator.name}-{key}"
            marker = build_dir / "rtlgen-build.ok"
            if not marker.exists():
                src_dir = build_dir / "src"
                src_dir.mkdir(parents=True, exist_ok=True)
                sources = []
                for (module, _), text in zip(modules, flat_texts):
                    atomic_write_text(src_dir / f"{module}.v", text)
                    sources.append(src_dir / f"{module}.v")
                atomic_write_text(src_dir / "rtlgen_dut_bank.v", bank)
                atomic_write_text(src_dir / "rtlgen_verify_tb.v", tb)
                sources += [src_dir / "rtlgen_dut_bank.v", src_dir / "rtlgen_verify_tb.v"]
                runner.build(self.simulator, sources, _TB_TOP, build_dir, parameters={"N": len(modules)},
                             build_args=self.simulator.build_args(), timescale=("1ns", "1ps"), always=True,
                             runtime_cache=self.simulator.runtime_dir(self.work_dir))
                atomic_write_text(marker, json.dumps([str(p) for p, _ in self.netlists]))
        self.build_dir = build_dir
        self.build_seconds = time.perf_counter() - start
        self.built = True

    def run(self, tables: Sequence[np.ndarray], run_dir: Path | None = None) -> list[dict]:
        """Simulate against ``tables`` (one per netlist, raw patterns); the testbench's raw findings."""
        if not self.built:
            self.build()
        assert self.build_dir is not None
        if len(tables) != len(self.netlists):
            raise ValueError(f"{len(tables)} tables for {len(self.netlists)} netlists")
        run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="run-", dir=self.build_dir))
        run_dir.mkdir(parents=True, exist_ok=True)
        hex_file = run_dir / "expected.hex"
        write_table_hex(hex_file, tables)
        result_file = run_dir / "result.json"
        log = run_dir / "sim.log"
        runner.test(self.simulator, _TEST_MODULE, _TB_TOP, self.build_dir, run_dir, plusargs=[f"+tables={hex_file}"],
                    env={"RTLGEN_VERIFY_RESULT": str(result_file)}, log=log, results_xml=run_dir / "results.xml",
                    timescale=("1ns", "1ps"))
        if not result_file.exists():
            raise ToolError(f"{self.simulator.name} simulation in {run_dir} wrote no result; end of {log}:\n"
                            f"{runner.log_tail(log)}")
        found = json.loads(result_file.read_text())
        hex_file.unlink()  # 5 bytes per pair and multiplier: not worth keeping in a reused build folder
        if found["multipliers"] != len(tables):
            raise ToolError(f"testbench reported {found['multipliers']} multipliers, built {len(tables)}")
        return [{k: found[k][i] for k in ("mismatches", "first_index", "first_got", "first_expected")}
                for i in range(len(tables))]


def _result(m: Multiplier, sim: str, raw: dict) -> MultiplierResult:
    if raw["mismatches"] == 0:
        return MultiplierResult(m.name, m.netlist, sim, m.signed, 0)
    index = int(raw["first_index"], 2)
    a, b = index >> 8, index & 0xFF
    expected = int(m.table[a, b])
    seen_expected = output_bits_to_value(np.array([int(raw["first_expected"], 2)]), m.signed)[0]
    if seen_expected != expected:
        raise ToolError(f"the testbench read T[{a}, {b}] = {seen_expected} for {m.name}, the table holds {expected}: "
                        "the expected-table file was not loaded as written")
    bits = raw["first_got"]
    got = None if any(c not in "01" for c in bits) else int(output_bits_to_value(np.array([int(bits, 2)]), m.signed)[0])
    return MultiplierResult(m.name, m.netlist, sim, m.signed, int(raw["mismatches"]), (a, b), expected, got, bits)


def verify(
    multipliers: Iterable[Multiplier],
    *,
    simulator: str = "verilator",
    work_dir: str | os.PathLike | None = None,
    batch: int = DEFAULT_BATCH,
    jobs: int | None = None,
    liberty: str | os.PathLike | None = None,
) -> VerificationReport:
    """Simulate every multiplier over all 65,536 operand pairs and compare with its table.

    Multipliers are built ``batch`` per simulator build; up to ``jobs`` builds (default: the
    number of CPUs, at most 2) run concurrently. ``work_dir`` keeps builds for reuse (default: a
    temporary folder removed afterwards). Mismatches are reported, not raised: see
    :meth:`VerificationReport.raise_for_mismatch`.
    """
    items = list(multipliers)
    if not items:
        raise ValueError("nothing to verify: no multipliers given")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    backend = get_simulator(simulator, small_design=True)
    backend.check()
    lib = Path(liberty) if liberty is not None else None
    jobs = jobs or min(2, os.cpu_count() or 1)
    groups = [items[i:i + batch] for i in range(0, len(items), batch)]
    # Balance: spread the multipliers evenly over the groups.
    if len(groups) > 1:
        n = len(groups)
        groups = [items[i::n] for i in range(n)]

    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rtlgen-verify-")))
        else:
            work = Path(work_dir)

        def one(group: list[Multiplier]) -> tuple[list[MultiplierResult], float, float]:
            bench = Bench(backend, [(m.netlist, m.top) for m in group], work, liberty=lib)
            bench.build()
            start = time.perf_counter()
            raw = bench.run([m.table for m in group])
            return [_result(m, backend.name, r) for m, r in zip(group, raw)], bench.build_seconds, \
                time.perf_counter() - start

        # In a cold work folder the first build also compiles the simulator's runtime library
        # (Verilator: ~9-13 s of g++ CPU, itself spread over the cores by make -j): the first
        # group goes alone, so that the others reuse the library instead of compiling it again
        # concurrently.
        runtime = backend.runtime_dir(work)
        cold = runtime is not None and not backend.runtime_cached(runtime)
        outcomes = [one(groups[0])] if cold and len(groups) > 1 and jobs > 1 else []
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes += list(pool.map(one, groups[len(outcomes):]))
    order = {id(m): i for i, m in enumerate(items)}
    results = sorted(((r, m) for (rs, _, _), g in zip(outcomes, groups) for r, m in zip(rs, g)),
                     key=lambda rm: order[id(rm[1])])
    return VerificationReport(backend.name, tuple(r for r, _ in results),
                              build_seconds=sum(o[1] for o in outcomes), run_seconds=sum(o[2] for o in outcomes),
                              builds=len(groups))


def verify_netlist(netlist: str | os.PathLike, table: np.ndarray, *, signed: bool, top: str | None = None,
                   simulator: str = "verilator", work_dir: str | os.PathLike | None = None,
                   liberty: str | os.PathLike | None = None) -> MultiplierResult:
    """Verify one netlist against one table; see :func:`verify`."""
    path = Path(netlist)
    m = Multiplier(path.stem, path, table, signed, top)
    return verify([m], simulator=simulator, work_dir=work_dir, liberty=liberty).results[0]


def catalog_multipliers(library, names: Sequence[str] | None = None,
                        kinds: Sequence[str] = ("generic", "pdk45")) -> list[Multiplier]:
    """One :class:`Multiplier` per netlist of a library's entries (all entries when ``names`` is None).

    ``library`` is a :class:`rtlgen.library.catalog.Catalog` or its folder. Entries are taken in the
    catalog's order (each once), each entry's implementations of the given ``kinds`` in the
    order of ``kinds``, then of import; every netlist of an entry is checked against the entry's
    one table (so generic and ``_pdk45`` forms, and two circuits of one function, must agree).
    Labels: the entry's name for its default generic netlist, ``NAME (kind)`` for the default
    of another kind, the implementation's name (and kind) for the others.
    """
    from rtlgen.library.catalog import Catalog

    catalog = library if isinstance(library, Catalog) else Catalog.open(library)
    entries = list(catalog.entries) if not names else list({e.hash: e for e in map(catalog.get, names)}.values())
    out: list[Multiplier] = []
    for entry in entries:
        table = catalog.table(entry.hash)
        defaults = entry.netlists
        for kind in kinds:
            for imp in entry.implementations:
                if imp.kind != kind:
                    continue
                label = entry.name if imp.path == defaults[kind] else imp.name
                if kind != "generic":
                    label = f"{label} ({kind})"
                out.append(Multiplier(label, imp.path, table, bool(entry.signed)))
    return out
