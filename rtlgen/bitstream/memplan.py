"""The activation-memory plan: where every activation tensor of a network lives on chip.

``config.bin`` (format version 3, :mod:`rtlgen.bitstream.format`) carries, per layer descriptor,
the byte addresses of the layer's input and output in the accelerator's activation memory
(``in_base``, ``out_base``) and, in its header, the network input's and output's address and
size, so that the on-chip sequencer (:mod:`rtlgen.accel.sequencer`) runs layer after layer with
no host in between. The plan is made once, on the host, when the bitstream is built
(:func:`rtlgen.accel.images.build_images`); this module owns it.

Allocator. Every tensor that an operator reads or writes and that is not a constant (weights,
biases, shapes) is a *buffer* of ``prod(shape) * itemsize`` bytes (the batch dimension is 1), laid
out NHWC as the engine reads it. Its lifetime runs from the operator that writes it (the graph's
inputs: before the first operator) to the last operator that reads it (the graph's outputs:
after the last one). A trailing ``SOFTMAX`` (:data:`HOST_OPS`) is left to the host: the
network's output in the plan is its input (the int8 logits) and it has no buffer. ``RESHAPE`` writes no bytes: its output is its input's buffer (same bytes in
the same order), so the two share one buffer whose lifetime is the union of theirs. Buffers are
placed greedily in order of their first write, each at the lowest byte address where it overlaps
no already placed buffer whose lifetime meets its own (first fit). So an operator's output never
overlaps its inputs, and a tensor read later (a residual branch's input) keeps its bytes until
then; a plain chain of layers alternates between two regions (ping-pong).

:func:`plan_activations` with a ``capacity`` refuses a network whose buffers need more bytes than
the activation memory has, in one line naming both sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rtlgen.errors import BitstreamError

__all__ = ["MemoryPlan", "plan_activations", "ALIAS_OPS", "HOST_OPS", "device_ops"]

#: Operators whose output is their first input's bytes, unchanged (no copy, same buffer).
ALIAS_OPS = ("RESHAPE",)
#: Operators that stay on the host when they end the network: the device's output is then their
#: input (SOFTMAX: the int8 logits), and they get no buffer.
HOST_OPS = ("SOFTMAX",)


def device_ops(graph: Any) -> tuple[list[Any], int]:
    """The operators the device runs (all but a trailing :data:`HOST_OPS` operator that makes
    the graph's output) and the tensor that is the device's output."""
    ops = list(graph.ops)
    out = graph.outputs[0]
    if ops and ops[-1].kind in HOST_OPS and ops[-1].outputs[0] == out:
        out = ops[-1].inputs[0]
        ops = ops[:-1]
    return ops, out


@dataclass(frozen=True)
class MemoryPlan:
    """Byte address and size of each activation tensor (by tensor index), and the bytes needed
    (the highest end address over all buffers)."""

    bases: dict[int, int]
    sizes: dict[int, int]
    needed: int
    input_tensor: int
    output_tensor: int

    def op_bases(self, op: Any) -> tuple[int, int]:
        """``(in_base, out_base)`` of operator ``op`` (its first input, its first output)."""
        return self.bases[op.inputs[0]], self.bases[op.outputs[0]]

    @property
    def input(self) -> tuple[int, int]:
        """``(base, bytes)`` of the network's input."""
        return self.bases[self.input_tensor], self.sizes[self.input_tensor]

    @property
    def output(self) -> tuple[int, int]:
        """``(base, bytes)`` of the network's output."""
        return self.bases[self.output_tensor], self.sizes[self.output_tensor]


def _bytes(tensor: Any) -> int:
    shape = tuple(int(d) for d in tensor.shape)
    if len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(tensor.dtype).itemsize


def plan_activations(graph: Any, capacity: int | None = None, *, source: str | None = None) -> MemoryPlan:
    """The plan of ``graph`` (:class:`rtlgen.nn.graph.Graph`) by the module docstring's rules.

    ``capacity``: the activation memory's bytes; when the plan needs more, a
    :class:`BitstreamError` (``source``: the file to name) says how many bytes are needed and
    how many there are."""
    ops, output = device_ops(graph)
    n_ops = len(ops)
    is_const = [t.data is not None for t in graph.tensors]
    # alias groups: RESHAPE outputs share their input's buffer
    root: dict[int, int] = {}

    def find(t: int) -> int:
        while root.get(t, t) != t:
            t = root[t]
        return t

    for op in ops:
        if op.kind in ALIAS_OPS and op.inputs and not is_const[op.inputs[0]]:
            root[op.outputs[0]] = find(op.inputs[0])
    start: dict[int, int] = {}
    end: dict[int, int] = {}
    size: dict[int, int] = {}

    def touch(t: int, when: int) -> None:
        r = find(t)
        start[r] = min(start.get(r, when), when)
        end[r] = max(end.get(r, when), when)
        size[r] = max(size.get(r, 0), _bytes(graph.tensors[t]))

    for t in graph.inputs:
        touch(t, -1)
    for i, op in enumerate(ops):
        for t in (*op.inputs, *op.outputs):
            if t >= 0 and not is_const[t]:
                touch(t, i)
    touch(output, n_ops)
    placed: list[tuple[int, int, int, int]] = []     # (base, end address, first, last)
    base_of: dict[int, int] = {}
    for r in sorted(start, key=lambda r: (start[r], r)):
        busy = sorted((b, e) for b, e, s, l in placed if s <= end[r] and start[r] <= l)
        addr = 0
        for b, e in busy:
            if addr + size[r] <= b:
                break
            addr = max(addr, e)
        base_of[r] = addr
        placed.append((addr, addr + size[r], start[r], end[r]))
    needed = max((e for _, e, _, _ in placed), default=0)
    tensors = {t for t in range(len(graph.tensors)) if find(t) in base_of}
    plan = MemoryPlan({t: base_of[find(t)] for t in tensors}, {t: _bytes(graph.tensors[t]) for t in tensors},
                      needed, graph.inputs[0], output)
    if capacity is not None and needed > capacity:
        raise BitstreamError(f"the activations of {graph.source} need {needed} bytes of activation memory "
                             f"(tensors live at the same time, placed first fit), the accelerator has "
                             f"{capacity} (activation_bytes)", file=source)
    return plan
