"""Exceptions raised by rtlgen's library code.

The library raises; only the CLI prints and exits non-zero. Every message says what was given,
what was expected, and where (file:line where there is a file).
"""
from __future__ import annotations

__all__ = [
    "RtlgenError",
    "NetlistError",
    "LibertyError",
    "CatalogError",
    "ToolError",
    "VerificationError",
    "ModelError",
    "BitstreamError",
    "ConfigError",
    "UnknownNameError",
]


class RtlgenError(Exception):
    """Base class of every error rtlgen reports to a user."""


class _LocatedError(RtlgenError):
    """An error in an input file, located by file and (where known) line."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line else f"{file}: "
        super().__init__(where + message)


class NetlistError(_LocatedError):
    """A gate-level netlist that cannot be read: syntax, unknown cell, loop, width, port."""


class LibertyError(_LocatedError):
    """A liberty file that cannot be read, or a cell function it cannot express."""


class CatalogError(RtlgenError):
    """A library catalog that is missing, corrupt, or lacks the named entry."""


class ToolError(RtlgenError):
    """An external tool (simulator, synthesiser, timer) is missing or failed."""


class VerificationError(RtlgenError):
    """Simulation of a netlist disagrees with its truth table."""


class ModelError(_LocatedError):
    """A DNN model that cannot be imported or emulated (unsupported op, quantization)."""


class BitstreamError(_LocatedError):
    """A configuration bitstream that is corrupt, truncated, or for another accelerator."""


class ConfigError(_LocatedError):
    """A configuration file (accelerator, flow, assignment) with a wrong or missing value."""


class UnknownNameError(ConfigError, ValueError):
    """A name outside one of rtlgen's vocabularies (:mod:`rtlgen.conventions`: encoding,
    granularity, layer kind, engine). Also a ValueError, so that callers validating a value
    (dataclass checks, argument checks) catch it as the wrong value it is."""
