"""OpenSTA driver: critical-path delay, pin slews and OpenSTA's own power estimate.

The multiplier is timed as a combinational block between registers: a virtual clock of period
``clock_ns``, inputs arriving at 0 through a driving cell (or with a fixed transition when the
library lacks that cell), outputs required at the period edge, each output port loaded with
``output_load_pf`` (about one flip-flop D pin in OSU018). Units: ns, pF, mW, whatever the
library's own (``set_cmd_units``: ASAP7 is characterized in ps and fF).

Debian's OpenSTA 2.0.17 (2019) accepts switching activity only on input ports and propagates it
through cell functions assuming independent signals (its ``set_power_activity -pins`` is broken
in that build: it calls a missing ``get_pins_error``, and pin activity set through
``sta::set_power_pin_activity`` is ignored). So :mod:`rtlgen.cost.multiplier` computes power itself from
simulated per-net activity, with OpenSTA's slews; OpenSTA's propagated estimate is reported
beside it (``sta_power``) as a cross-check. That estimate is systematically higher: this build
charges each output transition the *sum* of the rise and fall energies of every sensitized arc
(checked to 1e-5 in tests/cost/test_sta.py) and uses transition density, which counts simultaneous
input toggles twice; on the 50 EvoApprox circuits it ranks worse against PDK45 power (Spearman
0.84 vs 0.97 for ours, benchmarks/RESULTS.md).
"""
from __future__ import annotations

import math
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rtlgen.errors import ToolError
from rtlgen.cost.synth import MappedNetlist, find_tool

__all__ = ["StaConfig", "StaReport", "run_sta", "sta_version"]


@dataclass(frozen=True)
class StaConfig:
    """Timing and power environment of a multiplier; part of every cost figure's cache key."""

    clock_ns: float = 10.0
    output_load_pf: float = 0.01
    driving_cell: str = "INVX1"
    input_transition_ns: float = 0.1  # used when the library has no ``driving_cell``

    def __post_init__(self) -> None:
        if not (self.clock_ns > 0 and math.isfinite(self.clock_ns)):
            raise ValueError(f"clock_ns must be a positive number of ns, not {self.clock_ns}")
        if not self.output_load_pf >= 0:
            raise ValueError(f"output_load_pf must be >= 0 pF, not {self.output_load_pf}")
        if not self.input_transition_ns >= 0:
            raise ValueError(f"input_transition_ns must be >= 0 ns, not {self.input_transition_ns}")

    @property
    def key(self) -> str:
        return (f"clk={self.clock_ns:g}ns,load={self.output_load_pf:g}pF,"
                f"drive={self.driving_cell},tin={self.input_transition_ns:g}ns")


@dataclass(frozen=True)
class StaReport:
    delay_ns: float                       # worst arrival at an output (0: no path, e.g. constants)
    critical_path: tuple[str, ...]        # pins along the worst path, input port first
    slews_ns: dict[str, tuple[float, float]] = field(repr=False)  # 'inst/PIN' -> (rise, fall)
    sta_power_mw: dict[str, float] = field(default_factory=dict)  # internal/switching/leakage/total


def sta_version() -> str:
    """``OpenSTA X.Y.Z``: what ``sta -version`` prints (e.g. ``2.0.17``); ToolError without OpenSTA."""
    sta = find_tool("sta", "RTLGEN_STA", "opensta")
    try:
        proc = subprocess.run([sta, "-version"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"'{sta} -version' failed: {exc}") from None
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out:
        raise ToolError(f"'{sta} -version' failed (exit {proc.returncode}): {(proc.stderr or out).strip()[:200]}")
    return f"OpenSTA {out.splitlines()[0]}"


def _tcl_name(name: str) -> str:
    return "{" + name + "}"


def run_sta(
    mapped: MappedNetlist,
    config: StaConfig = StaConfig(),
    *,
    input_activity: dict[str, tuple[float, float]] | None = None,
    clock_port: str | None = None,
    timeout: float = 300.0,
    delay_only: bool = False,
) -> StaReport:
    """Time ``mapped`` with OpenSTA; report delay, every cell input pin's slews and OpenSTA's power.

    ``input_activity`` maps an input bit (``"A[3]"``) to (toggles per clock cycle, probability of
    1) for OpenSTA's own power estimate; default 0.5 and 0.5 (uniform random operands).

    ``clock_port`` names the clock input of a sequential design: the clock of period
    ``clock_ns`` is then created on it, ideal (no clock tree: every clock pin sees the
    transition ``input_transition_ns``), and the delay is the worst register-to-register,
    input-to-register or register-to-output path. A path into a flip-flop clocked on the
    falling edge (the clock-gating enables, :mod:`rtlgen.accel.bank`) has half a cycle: it
    counts at twice its delay, the full-cycle delay it needs. OpenSTA's clock-gating checks
    (the enable against the clock at the gating cell) are not delay paths and are left out.

    ``delay_only``: report the critical path alone (``slews_ns`` and ``sta_power_mw`` empty).
    Timing a whole accelerator needs no more, and OpenSTA 2.0.17's ``report_power`` crashed
    (segmentation fault) on the buffered OSU018 accelerator netlist.
    """
    sta = find_tool("sta", "RTLGEN_STA", "opensta")
    lib = mapped.library
    lines = [
        f"read_liberty {_tcl_name(str(lib.path))}",
        "read_verilog mapped.v",
        f"link_design {mapped.top}",
        # commands and reports in ns and pF whatever the library's units (ASAP7: ps and fF)
        "set_cmd_units -time ns -capacitance pF",
        "set sta_report_default_digits 6",
        (f"create_clock -name vclk -period {config.clock_ns!r}" if clock_port is None else
         f"create_clock -name vclk -period {config.clock_ns!r} [get_ports {_tcl_name(clock_port)}]"),
        "set_input_delay 0 -clock vclk [all_inputs]",
        "set_output_delay 0 -clock vclk [all_outputs]",
        f"set_load {config.output_load_pf!r} [all_outputs]",
    ]
    drive = lib.cells.get(config.driving_cell)
    if drive is not None and len(drive.outputs) == 1 and drive.combinational:
        lines.append(f"set_driving_cell -lib_cell {config.driving_cell} -pin {drive.outputs[0]} [all_inputs]")
    else:
        lines.append(f"set_input_transition {config.input_transition_ns!r} [all_inputs]")
    if clock_port is not None:
        lines.append(f"set_clock_transition {config.input_transition_ns!r} [get_clocks vclk]")
    lines += [
        "set_power_activity -input -activity 0.5 -duty 0.5",
    ]
    for bit, (act, duty) in (input_activity or {}).items():
        lines.append(f"set_power_activity -input_ports [get_ports {_tcl_name(bit)}] "
                     f"-activity {float(act)!r} -duty {min(max(float(duty), 0.0), 1.0)!r}")
    report = "report_checks -path_delay max -digits 6 -fields {input_pin}"
    if clock_port is None:
        lines += ['puts "@@PATH"', report]
    else:
        # per capture edge: the clock-gating checks form their own path group, not a delay
        lines += [
            "set rtlgen_full [concat [all_registers -rise_clock vclk -data_pins] [all_outputs]]",
            "set rtlgen_half [all_registers -fall_clock vclk -data_pins]",
            'puts "@@PATH"',
            f"if {{[llength $rtlgen_full]}} {{ {report} -to $rtlgen_full }}",
            'puts "@@HALF"',
            f"if {{[llength $rtlgen_half]}} {{ {report} -to $rtlgen_half }}",
        ]
    lines += ['puts "@@SLEWS"']
    if not delay_only:
        lines += [
            "foreach pin [get_pins -hierarchical *] {",
            '  if {[get_property $pin direction] == "input"} { report_slews $pin }',
            "}",
            'puts "@@POWER"',
            "report_power -digits 8",
        ]
    lines.append('puts "@@END"')
    with tempfile.TemporaryDirectory(prefix="rtlgen-sta-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "mapped.v").write_text(mapped.verilog)
        (tmpdir / "run.tcl").write_text("\n".join(lines) + "\n")
        try:
            # cwd: OpenSTA writes .history_sta (its command history) into its working folder;
            # no stdin: it must never wait for interactive commands
            proc = subprocess.run([sta, "-no_init", "-no_splash", "-exit", "run.tcl"], cwd=tmpdir,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"OpenSTA (sta) did not finish timing {mapped.top} within {timeout:.0f} s") from None
    out = proc.stdout + proc.stderr
    errors = [ln for ln in out.splitlines() if ln.startswith("Error")]
    if proc.returncode != 0 or errors or "@@END" not in out:
        first = list(dict.fromkeys(e for e in errors if "no network has been linked" not in e))
        raise ToolError(f"OpenSTA (sta) failed on {mapped.top} (exit {proc.returncode}): "
                        + " | ".join((first or errors)[:3] or out.splitlines()[-5:]))
    return _parse(out, mapped.top, delay_only, config.clock_ns)


_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _path(path_txt: str, top: str, period: float) -> tuple[float, tuple[str, ...]]:
    """The delay and pins of the first path in an OpenSTA ``report_checks`` text; (0, ()) for
    none. A path captured less than a ``period`` after its launch (on the falling edge) has its
    delay scaled to the full cycle it needs: ``(arrival - launch) * period / (capture - launch)``."""
    m = re.search(rf"^\s*({_FLOAT})\s+data arrival time", path_txt, re.M)
    if not m:
        if path_txt.strip() and "No paths found" not in path_txt:
            raise ToolError(f"cannot read OpenSTA's path report for {top}: {path_txt.strip()[:300]}")
        return 0.0, ()
    delay = float(m.group(1))
    before, after = path_txt.split("data arrival time", 1)
    clock = rf"^\s*{_FLOAT}\s+({_FLOAT})\s+clock \S+ \((?:rise|fall) edge\)"
    launch, capture = re.search(clock, before, re.M), re.search(clock, after, re.M)
    if launch and capture:
        span = float(capture.group(1)) - float(launch.group(1))
        if 0 < span < period - 1e-9:
            delay = (delay - float(launch.group(1))) * period / span
    path = []
    for ln in before.splitlines():
        pm = re.match(rf"^\s*{_FLOAT}\s+{_FLOAT}\s+[\^v]\s+(\S+)", ln)
        if pm and "external delay" not in ln:
            path.append(pm.group(1))
    return delay, tuple(path)


def _parse(out: str, top: str, delay_only: bool = False, period: float = float("inf")) -> StaReport:
    path_txt = out.split("@@PATH", 1)[1].split("@@SLEWS", 1)[0]
    half_txt = ""
    if "@@HALF" in path_txt:
        path_txt, half_txt = path_txt.split("@@HALF", 1)
    delay, path = max(_path(path_txt, top, period), _path(half_txt, top, period), key=lambda p: p[0])
    if delay_only:
        return StaReport(delay_ns=delay, critical_path=tuple(path), slews_ns={})
    slew_txt = out.split("@@SLEWS", 1)[1].split("@@POWER", 1)[0]
    power_txt = out.split("@@POWER", 1)[1].split("@@END", 1)[0]
    slews: dict[str, tuple[float, float]] = {}
    for ln in slew_txt.splitlines():
        sm = re.match(rf"^(\S+) \^ ({_FLOAT}):({_FLOAT}) v ({_FLOAT}):({_FLOAT})\s*$", ln.strip())
        if sm:
            slews[sm.group(1)] = (float(sm.group(3)), float(sm.group(5)))
    pm = re.search(rf"^Total\s+({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})\s+({_FLOAT})", power_txt, re.M)
    if not pm:
        raise ToolError(f"cannot read OpenSTA's power report for {top}: {power_txt.strip()[:300]}")
    watts = [float(x) for x in pm.groups()]
    power = dict(zip(("internal", "switching", "leakage", "total"), (w * 1e3 for w in watts)))
    return StaReport(delay_ns=delay, critical_path=tuple(path), slews_ns=slews, sta_power_mw=power)
