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
