"""Build HDL around a testbench and run cocotb test modules on it: the host side of cocotb.

The one place that calls a cocotb runner (:mod:`cocotb_tools.runner`, through the backends of
:mod:`rtlgen.sim.simulators`), for exhaustive verification, the accelerator's testbenches,
gate-level power and hardware in the loop. Every failure, whether cocotb reports it with
``SystemExit``, ``RuntimeError`` or a failing test in its results file, becomes one
:class:`~rtlgen.errors.ToolError` naming the simulator, the folder, the log and the log's last
lines.

Test modules are named by their dotted name (``rtlgen.sim.tb.accel_tb``): cocotb imports them
inside the simulator's Python, whose ``sys.path`` is ours.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from rtlgen.errors import ToolError
from rtlgen.sim.simulators import Simulator, get_simulator

__all__ = ["build", "test", "log_tail"]

#: Lines of a log quoted in an error message.
TAIL_LINES = 30

# What cocotb's runner raises when a tool fails: SystemExit (a missing simulator, a failing
# simulation), RuntimeError (a command's non-zero exit), OSError (a command that cannot start).
_RUNNER_FAILURES = (SystemExit, RuntimeError, OSError, subprocess.SubprocessError)


def log_tail(path: str | os.PathLike, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or ``(no log)`` when it cannot be read."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _backend(simulator: str | Simulator) -> Simulator:
    if isinstance(simulator, Simulator):
        return simulator
    if isinstance(simulator, str):
        return get_simulator(simulator)
    raise TypeError(f"simulator must be a name or a rtlgen.sim.simulators.Simulator, not {type(simulator).__name__}")


def build(
    simulator: str | Simulator,
    sources: Sequence[str | os.PathLike],
    toplevel: str,
    build_dir: str | os.PathLike,
    *,
    parameters: Mapping[str, object] | None = None,
    build_args: Sequence[str] = (),
    timescale: tuple[str, str] | None = None,
    always: bool = True,
    log: str | os.PathLike | None = None,
    runtime_cache: str | os.PathLike | None = None,
) -> Path:
    """Compile ``sources`` (Verilog, Verilator ``.vlt`` files) with ``toplevel`` as the top into
    ``build_dir``; the build log's path (default ``build_dir/build.log``).

    ``parameters``: the top's Verilog parameters. ``build_args``: extra compiler arguments
    (Verilator's or iverilog's). ``timescale``: (unit, precision) for sources without one.
    ``always``: rebuild even when the build looks up to date (Icarus; Verilator's make decides
    for itself). ``runtime_cache``: a folder where the simulator keeps design-independent
    objects between builds (:meth:`Simulator.runtime_dir`). Everything else about the tool
    (optimisation, dump format) is the backend's: pass a configured
    :class:`~rtlgen.sim.simulators.Simulator` rather than a name to choose it.
    """
    sim = _backend(simulator)
    build_dir = Path(build_dir).resolve()
    paths = [Path(s) for s in sources]
    for p in paths:
        if not p.is_file():
            raise ToolError(f"{sim.name} build of {toplevel} in {build_dir}: source {p} does not exist")
    runner = sim.runner(Path(runtime_cache) if runtime_cache is not None else None)
    build_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(log) if log is not None else build_dir / "build.log"
    try:
        runner.build(sources=paths, hdl_toplevel=toplevel, build_dir=build_dir,
                     parameters=dict(parameters or {}), build_args=list(build_args),
                     timescale=timescale, always=always, log_file=log_path)
    except _RUNNER_FAILURES as exc:
        raise ToolError(f"{sim.name} build of {toplevel} in {build_dir} failed ({_reason(exc)}); "
                        f"end of {log_path}:\n{log_tail(log_path)}") from exc
    return log_path


def test(
    simulator: str | Simulator,
    module: str,
    toplevel: str,
    build_dir: str | os.PathLike,
    test_dir: str | os.PathLike,
    *,
    env: Mapping[str, str] | None = None,
    plusargs: Sequence[str] = (),
    log: str | os.PathLike | None = None,
    results_xml: str | os.PathLike | None = None,
    timescale: tuple[str, str] | None = None,
) -> Path:
    """Run the cocotb test module ``module`` (dotted name) on the build in ``build_dir``, in
    ``test_dir``; the results file's path (default ``test_dir/results.xml``).

    ``env``: variables for the test (on top of ours). ``plusargs``: ``+name=value`` arguments for
    the simulator. ``log``: the simulator's output (default ``test_dir/sim.log``). Raises
    :class:`ToolError` unless the simulation ran and every test in the module passed.
    """
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"cocotb test module {module!r} cannot be imported; expected the dotted name of a "
                         "module on sys.path (e.g. rtlgen.sim.tb.accel_tb)")
    sim = _backend(simulator)
    build_dir, test_dir = Path(build_dir).resolve(), Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    log_path = Path(log) if log is not None else test_dir / "sim.log"
    # An absolute path: cocotb then writes exactly there, under pytest too.
    results = Path(results_xml).resolve() if results_xml is not None else test_dir / "results.xml"
    runner = sim.runner()
    where = f"{sim.name} simulation of {module} on {toplevel} in {test_dir}"
    try:
        runner.test(test_module=module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=build_dir, test_dir=test_dir, extra_env=dict(env or {}),
                    plusargs=list(plusargs), results_xml=str(results), log_file=log_path,
                    timescale=timescale)
    except _RUNNER_FAILURES as exc:
        failure: BaseException | None = exc
    else:
        failure = None
    # cocotb checks the results only under pytest (and then exits); read them in every case.
    from cocotb_tools.check_results import get_results

    try:
        tests, failed = get_results(results)
    except (RuntimeError, OSError, SyntaxError) as exc:   # missing (crash) or unreadable (ParseError)
        reason = f"{_reason(failure)}; " if failure is not None else ""
        raise ToolError(f"{where} ended abnormally ({reason}no readable results file {results}); "
                        f"end of {log_path}:\n{log_tail(log_path)}") from (failure or exc)
    if failed or tests == 0:
        what = f"{failed} of {tests} cocotb tests failed" if tests else "ran no cocotb test"
        raise ToolError(f"{where}: {what} (see {results}); end of {log_path}:\n{log_tail(log_path)}") from failure
    if failure is not None:
        raise ToolError(f"{where} failed ({_reason(failure)}) although its tests passed; end of {log_path}:\n"
                        f"{log_tail(log_path)}") from failure
    return results


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, SystemExit):
        return f"exit status {exc.code}" if isinstance(exc.code, int) else str(exc.code)
    return str(exc) or type(exc).__name__


test.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test
