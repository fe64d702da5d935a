"""rtlgen: a co-design flow for DNN accelerators built from approximate multipliers.

The sub-packages follow the flow's stages; ARCHITECTURE.md draws them and names the module that
owns each convention.
"""
from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("rtlgen")
except _metadata.PackageNotFoundError:   # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
