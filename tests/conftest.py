from __future__ import annotations

from pathlib import Path

import pytest

from rtlgen.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: fails (never skips) with a clear message when it is missing."""
    try:
        return shared_data_dir()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def evoapprox_dir(shared_data: Path) -> Path:
    return shared_data / "evoapproxlib-v2022"


@pytest.fixture(scope="session")
def evoapprox_library(evoapprox_dir: Path, tmp_path_factory):
    """The 50 EvoApprox v2022 circuits imported once per test session (a Catalog)."""
    from rtlgen.library.importer import import_folder

    return import_folder(evoapprox_dir, tmp_path_factory.mktemp("evoapprox-lib")).catalog


@pytest.fixture(scope="session")
def digits_flow_run(tmp_path_factory):
    """The test-sized digits flow (tests/data/flow/digits_tiny.toml) run once per session:
    ``(run folder, FlowResult)``. Its accelerator is reused by the HIL tests (one Verilator build)."""
    from rtlgen.flow import run_flow

    config = Path(__file__).resolve().parent / "data" / "flow" / "digits_tiny.toml"
    run = tmp_path_factory.mktemp("flow") / "run"
    return run, run_flow(config, out=run, quiet=True, progress=False)
