"""Bit-exact emulation of quantized DNNs, exact or through approximate multiplier tables."""
from __future__ import annotations

from .encoding import DEFAULT_ENCODING, ENCODINGS, TABLE_SIGNED, Encoding

__all__ = ["DEFAULT_ENCODING", "ENCODINGS", "TABLE_SIGNED", "Encoding"]
