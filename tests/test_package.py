"""rtlgen as an installed package: build the wheel, install it into a fresh virtualenv (not
editable) and run commands from an empty folder, so that nothing can come from the checkout.

The new virtualenv reuses the running interpreter's site-packages for the heavy dependencies
(a ``.pth`` file), and pip never touches the network (``--no-index``, ``--no-deps``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rtlgen.netlist.table import exact_table

pytestmark = [pytest.mark.slow, pytest.mark.sim]

ROOT = Path(__file__).resolve().parents[1]
NETLIST = "mul8u_array"   # the exact array multiplier: its table is exact_table(False)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(virtualenv, its site-packages) with the wheel of this checkout installed."""
    tmp = tmp_path_factory.mktemp("package")
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "rtlgen", src / "rtlgen", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(wheels), str(src)], cwd=tmp)
    (wheel,) = wheels.glob("rtlgen-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    py = venv / "bin" / "python"
    # install before the .pth exists, so that pip sees no rtlgen at all in the new environment
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], cwd=tmp)
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).stdout.strip())
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "rtlgen_test_deps.pth").write_text("".join(f"{p}\n" for p in ours))
    return venv, site


@pytest.fixture
def empty(tmp_path) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def test_wheel_holds_the_package_data(installed) -> None:
    _venv, site = installed
    pkg = site / "rtlgen"
    for rel in ("sim/hdl/rtlgen_verify_tb.v", "sim/hdl/rtlgen_hil_tb.v", "sim/tb/rtlgen_verify_test.py",
                "sim/tb/accel_tb.py", "data/flows/digits_default.toml", "data/flows/accel_digits.toml",
                "data/netlists/generated/manifest.json", f"data/netlists/generated/{NETLIST}.v",
                "data/digits_cnn.tflite", "emulate/_native.c", "py.typed"):
        assert (pkg / rel).is_file(), rel
    shipped = sorted(p.name for p in (ROOT / "rtlgen/data/netlists/generated").iterdir())
    assert sorted(p.name for p in (pkg / "data/netlists/generated").iterdir()) == shipped


def test_rtlgen_is_imported_from_the_new_venv(installed, empty) -> None:
    venv, site = installed
    out = _run([str(venv / "bin" / "python"), "-c",
                "import rtlgen, rtlgen.resources as r, rtlgen.paths as p; "
                "print(rtlgen.__file__); print(r.HDL_DIR); print(p.checkout_root())"], cwd=empty).stdout.split("\n")
    assert Path(out[0]) == site / "rtlgen" / "__init__.py"
    assert Path(out[1]) == site / "rtlgen" / "sim" / "hdl"
    assert out[2] == "None"   # an installed package is no checkout


def test_version(installed, empty) -> None:
    venv, _ = installed
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert _run([str(venv / "bin" / "rtlgen"), "--version"], cwd=empty).stdout == f"rtlgen {version}\n"


def test_table_and_verify_from_the_installed_package_data(installed, empty) -> None:
    venv, site = installed
    rtlgen = str(venv / "bin" / "rtlgen")
    netlist = site / "rtlgen" / "data" / "netlists" / "generated" / f"{NETLIST}.v"
    _run([rtlgen, "table", str(netlist), "--out", "t.npy"], cwd=empty)
    table = np.load(empty / "t.npy")
    assert table.dtype == np.int32 and np.array_equal(table, exact_table(False))

    # the cocotb testbench (rtlgen.sim.tb) and its harness (sim/hdl) come from the installed package
    ok = _run([rtlgen, "verify", str(netlist), "--table", "t.npy", "--sim", "icarus"], cwd=empty)
    assert f"ok    {NETLIST}: 65536 pairs match" in ok.stdout
    table[3, 5] += 1
    np.save(empty / "bad.npy", table)
    bad = _run([rtlgen, "verify", str(netlist), "--table", "bad.npy", "--sim", "icarus"], cwd=empty, check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"FAIL  {NETLIST}: 1 of 65536 pairs differ; first (a, b) = (3, 5): expected 16, got 15" in bad.stdout
    assert "Traceback" not in bad.stderr
    assert sorted(p.name for p in empty.iterdir()) == ["bad.npy", "t.npy"]
