"""Reuse of unchanged layer prefixes between runs on the same images (for searches).

A search evaluates many assignments on one image set; when an assignment only changes later
layers, the ops before the first changed MAC layer produce the same tensors as last time.
:class:`PrefixCache` keeps, per batch, the tensors live after ops of earlier runs (least
recently used dropped beyond a byte budget), keyed by a digest of every plan up to that op, and
:meth:`Emulator.run` resumes each batch after the longest matching prefix. Results are
identical with and without the cache (tested); the cache belongs to one image array.

The cut rule. Ops run in the graph's (topological) order; a *cut* after op position ``p`` is
the set of tensors produced at or before ``p`` (the input included) that an op after ``p``
reads or that are results (the logits, the output). Everything after ``p`` depends only on the
cut, so restoring it and running ops ``p+1..`` is the uncached run; residual branches are no
exception (ResNet-8's skip tensor is in every cut between its fork and its ADD, and is stored
with it). What the cut holds depends only on ops ``0..p``: the images and batch (:meth:`bind`,
the batch's start) and every MAC plan up to ``p`` (:func:`plan_digest`: encoding, table hashes,
per-kernel selects and the tuned weights, so weight tuning and remaps are in the key; the
engine is not, all engines compute the same bytes). Only cuts right before a MAC layer are
stored, since only a changed plan makes a run differ from an earlier one.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from rtlgen.emulate.plan import LayerPlan

__all__ = ["PrefixCache", "plan_digest"]


def plan_digest(plan: LayerPlan | None) -> bytes:
    """What a MAC layer computes: encoding, table hashes, selects and weights (None: exact)."""
    if plan is None:
        return b"exact"
    h = hashlib.sha256(plan.encoding.encode())
    if len(plan.hashes) == len(plan.tables):
        for t in plan.hashes:
            h.update(t.encode())
    else:  # not validated (LayerPlan.validate fills the hashes): the tables themselves
        for t in plan.tables:
            h.update(b"t" + np.ascontiguousarray(t, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(plan.select, dtype=np.int64).tobytes())
    if plan.weights is not None:
        h.update(b"w" + np.ascontiguousarray(plan.weights, dtype=np.int8).tobytes())
    return h.digest()


class PrefixCache:
    """Tensors after ops of earlier runs, per batch, least recently used dropped beyond
    ``max_bytes``. Several prefixes per op position are kept, so a search that returns to a
    choice for its first layers (NSGA-II's population converges) resumes after them."""

    def __init__(self, max_bytes: int = 512 << 20):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._images: bytes | None = None
        # (batch start, op position, prefix digest) -> {tensor index: array}, oldest use first
        self._store: OrderedDict[tuple[int, int, bytes], dict[int, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self.hits = 0  # ops skipped in total, for tests and reports

    def bind(self, images_key: bytes, batch_size: int) -> None:
        key = images_key + batch_size.to_bytes(8, "little")
        if key != self._images:
            self._images = key
            self._store.clear()
            self._bytes = 0

    def lookup(self, batch: int, prefixes: list[bytes]) -> tuple[int, dict[int, np.ndarray]] | None:
        """The deepest stored op position whose prefix digest matches, and its live tensors."""
        for pos in range(len(prefixes) - 1, -1, -1):
            key = (batch, pos, prefixes[pos])
            tensors = self._store.get(key)
            if tensors is not None:
                self._store.move_to_end(key)
                self.hits += pos + 1
                return pos, tensors
        return None

    def store(self, batch: int, pos: int, digest: bytes, tensors: dict[int, np.ndarray]) -> None:
        key = (batch, pos, digest)
        size = sum(a.nbytes for a in tensors.values())
        if key in self._store or size > self.max_bytes:
            return
        while self._store and self._bytes + size > self.max_bytes:
            _, old = self._store.popitem(last=False)
            self._bytes -= sum(a.nbytes for a in old.values())
        self._store[key] = dict(tensors)
        self._bytes += size
