"""Every command the README shows is accepted by the CLI, and the cheap ones run as written.

Commands are the lines of the README's ``sh`` code blocks. Each ``rtlgen ...`` line must parse
with rtlgen's own argument parser. The cheap ones (the library, table, generator, verification,
cost and emulation commands of the tour) then run, in README order, in a scratch folder that sees
the checkout's ``netlists/``, ``flows/`` and ``rtlgen/`` (for the packaged model); the expensive
ones (bootstrap, the full flow, HIL, downloads, anything reading a flow's run folder) are
exercised by tests/flow/test_end_to_end.py and tests/hil/test_rtl.py instead.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rtlgen.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: first words of commands that are not run here (too slow, network, or need a finished flow run)
EXPENSIVE = ("bash bootstrap.sh", "rtlgen flow run", "rtlgen hil", "rtlgen lib fetch", "rtlgen demo")
NEEDS_FLOW_RUN = "build/flows/"


def _commands() -> list[str]:
    text = README.read_text()
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line:
                continue
            # a trailing comment starts with "  #" (commands here hold no quoted " #")
            line = re.split(r"\s{2,}#", line)[0].strip()
            out.append(line)
    return out


def _argv(cmd: str) -> list[str] | None:
    words = shlex.split(cmd)
    if words and words[0] in (".venv/bin/rtlgen", "rtlgen"):
        return words[1:]
    return None


def test_readme_shows_the_main_commands() -> None:
    cmds = _commands()
    assert "bash bootstrap.sh demo" in " ".join(cmds) and "bash bootstrap.sh test" in " ".join(cmds)
    assert "rtlgen flow run flows/digits_default.toml" in cmds
    assert any(c.startswith("rtlgen hil ") for c in cmds)
    # the flow files the README names exist
    for name in re.findall(r"flows/[\w.]+\.toml", README.read_text()):
        assert (ROOT / name).is_file(), name


def test_every_rtlgen_command_parses() -> None:
    parser = build_parser()
    for cmd in _commands():
        argv = _argv(cmd)
        if argv is None:
            continue
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README command does not parse: {cmd}")


@pytest.mark.sim
@pytest.mark.slow
def test_cheap_readme_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("netlists", "flows", "rtlgen"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "build").mkdir()
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ran = 0
    for cmd in _commands():
        if cmd.removeprefix(".venv/bin/").startswith(EXPENSIVE) or NEEDS_FLOW_RUN in cmd:
            continue
        argv = _argv(cmd)
        if argv is not None:
            assert main(argv) == 0, f"README command failed: {cmd}"
        elif cmd.startswith("python "):
            words = shlex.split(cmd)
            proc = subprocess.run([sys.executable, *words[1:]], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert proc.returncode == 0, f"README command failed: {cmd}\n{proc.stderr}"
        else:
            pytest.fail(f"README command of an unknown kind: {cmd}")
        ran += 1
    assert ran >= 8
    assert (tmp_path / "build" / "exact.npz").is_file() and (tmp_path / "build" / "mul8u_roup_p1_r5.v").is_file()
