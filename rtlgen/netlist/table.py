"""Truth tables of 8x8 multipliers: the convention every other module relies on.

Convention (owned here, used everywhere):

* ``T`` is a numpy ``int32`` array of shape ``(256, 256)``.
* ``T[a, b]`` is the multiplier's output when its port **A** carries the bit pattern ``a`` and
  its port **B** the bit pattern ``b`` (both integers 0..255). Ports are bound by name, never by
  position: EvoApprox's C models take ``(B, A)``, TFApprox feeds the activation to port B.
* The value is the 16-bit output read as unsigned (0..65535) for an unsigned multiplier, or as
  two's complement (-32768..32767) for a signed one. For a signed multiplier the *operands* are
  two's complement too: ``a = 0xFF`` means -1. :func:`operand_values` maps patterns to values.
* A multiplier's identity is :func:`table_hash` of its table and signedness; names are aliases.
"""
from __future__ import annotations

import hashlib

import numpy as np

__all__ = [
    "TABLE_SHAPE",
    "operand_values",
    "exact_table",
    "check_table",
    "table_hash",
    "output_bits_to_value",
]

TABLE_SHAPE = (256, 256)


def operand_values(signed: bool) -> np.ndarray:
    """Value of each 8-bit pattern 0..255 (int32): itself, or its two's complement reading."""
    v = np.arange(256, dtype=np.int32)
    return np.where(v >= 128, v - 256, v).astype(np.int32) if signed else v


def exact_table(signed: bool) -> np.ndarray:
    """The table of an exact multiplier: ``T[a, b] = value(a) * value(b)``."""
    v = operand_values(signed)
    return np.multiply.outer(v, v).astype(np.int32)


def output_bits_to_value(raw: np.ndarray, signed: bool, width: int = 16) -> np.ndarray:
    """Read raw output bit patterns (non-negative ints below ``2**width``) as table values."""
    raw = np.asarray(raw).astype(np.int64)
    if signed:
        raw = np.where(raw >= 1 << (width - 1), raw - (1 << width), raw)
    return raw.astype(np.int32)


def check_table(table: np.ndarray, signed: bool, *, what: str = "table") -> np.ndarray:
    """Validate shape, dtype and range; return the table as a C-contiguous int32 array."""
    arr = np.asarray(table)
    if arr.shape != TABLE_SHAPE:
        raise ValueError(f"{what} must have shape (256, 256), not {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{what} must hold integers, not {arr.dtype}")
    lo, hi = (-(1 << 15), (1 << 15) - 1) if signed else (0, (1 << 16) - 1)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"{what} values must lie in {lo}..{hi} for a {kind} 16-bit output, "
                         f"found {int(arr.min())}..{int(arr.max())}")
    return np.ascontiguousarray(arr, dtype=np.int32)


def table_hash(table: np.ndarray, signed: bool) -> str:
    """A multiplier's identity: SHA-256 (hex, first 16 digits) of signedness and table.

    The table enters as little-endian int32 in C order (``T[a, b]`` at ``a * 256 + b``), so the
    hash is the same on every machine and independent of the netlist that produced it.
    """
    t = check_table(table, signed)
    h = hashlib.sha256(b"rtlgen-table-v1:" + (b"s" if signed else b"u"))
    h.update(t.astype("<i4").tobytes())
    return h.hexdigest()[:16]
