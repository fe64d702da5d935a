"""Reuse of unchanged layer prefixes between runs on the same images (for searches).

A search evaluates many assignments on one image set; when an assignment only changes later
layers, the ops before the first changed MAC layer produce the same tensors as last time.
:class:`PrefixCache` keeps, per batch, the tensors live after each op of the last run (as long
as a byte budget allows, earliest ops first), keyed by a digest of every plan up to that op, and
:meth:`Emulator.run` resumes each batch after the longest matching prefix. Results are
identical with and without the cache (tested); the cache belongs to one image array.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .plan import LayerPlan

__all__ = ["PrefixCache", "plan_digest"]


def plan_digest(plan: LayerPlan | None) -> bytes:
    """What a MAC layer computes: encoding, table hashes, selects and weights (None: exact)."""
    if plan is None:
        return b"exact"
    h = hashlib.sha256(plan.encoding.encode())
    for t in plan.hashes:
        h.update(t.encode())
    h.update(np.ascontiguousarray(plan.select, dtype=np.int64).tobytes())
    if plan.weights is not None:
        h.update(b"w" + np.ascontiguousarray(plan.weights, dtype=np.int8).tobytes())
    return h.digest()


class PrefixCache:
    """Tensors after each op of the previous run, per batch, within ``max_bytes``."""

    def __init__(self, max_bytes: int = 512 << 20):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._images: bytes | None = None
        # batch start -> {op position: (prefix digest, {tensor index: array})}
        self._store: dict[int, dict[int, tuple[bytes, dict[int, np.ndarray]]]] = {}
        self._bytes = 0
        self.hits = 0  # ops skipped in total, for tests and reports

    def bind(self, images_key: bytes, batch_size: int) -> None:
        key = images_key + batch_size.to_bytes(8, "little")
        if key != self._images:
            self._images = key
            self._store.clear()
            self._bytes = 0

    def lookup(self, batch: int, prefixes: list[bytes]) -> tuple[int, dict[int, np.ndarray]] | None:
        """The deepest stored op position whose digest matches, and its live tensors."""
        stored = self._store.get(batch, {})
        for pos in sorted(stored, reverse=True):
            digest, tensors = stored[pos]
            if digest == prefixes[pos]:
                self.hits += pos + 1
                return pos, tensors
        return None

    def store(self, batch: int, pos: int, digest: bytes, tensors: dict[int, np.ndarray]) -> None:
        old = self._store.setdefault(batch, {}).get(pos)
        size = sum(a.nbytes for a in tensors.values())
        if old is not None:
            self._bytes -= sum(a.nbytes for a in old[1].values())
        if self._bytes + size > self.max_bytes:
            if old is not None:
                del self._store[batch][pos]
            return
        self._store[batch][pos] = (digest, dict(tensors))
        self._bytes += size
