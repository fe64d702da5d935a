"""The op descriptors of a model (``config.bin`` format version 4, :mod:`rtlgen.bitstream.format`):
what :func:`rtlgen.accel.images.build_images` writes for the operators without multipliers that
the device runs, and what :func:`rtlgen.emulate.from_bitstream.check_bitstream` checks a
bitstream's op descriptors against."""
from __future__ import annotations

from typing import Any

import numpy as np

from rtlgen.bitstream import format as bsmod
from rtlgen.bitstream.memplan import MemoryPlan, device_ops
from rtlgen.conventions import TFLITE_MAC_OPS, TFLITE_OP_OF_OP_KIND
from rtlgen.errors import BitstreamError

__all__ = ["op_descriptors"]


def op_descriptors(graph: Any, mem: MemoryPlan | None = None) -> tuple[bsmod.OpDescriptor, ...]:
    """The op descriptors (format version 4) of ``graph``'s ADD, AVERAGE_POOL_2D, MAX_POOL_2D and PAD,
    in graph order (``after_layers``: the MAC layers before each), with the parameters
    :class:`rtlgen.emulate.emulator.Emulator` uses and the bases of plan ``mem`` (None: bases
    0). A BitstreamError names an ADD or PAD the device cannot run (operands of different shapes; a
    PAD of the batch or channels)."""
    from rtlgen.nn.geometry import pad_amounts
    from rtlgen.nn import quant

    kind_of = {op: kind for kind, op in TFLITE_OP_OF_OP_KIND.items()}
    T = graph.tensors
    out: list[bsmod.OpDescriptor] = []
    macs = 0
    seen: dict[str, int] = {}
    for op in device_ops(graph)[0]:
        if op.kind in TFLITE_MAC_OPS:
            macs += 1
            continue
        kind = kind_of.get(op.kind)
        if kind is None:
            continue
        index = seen.get(kind, 0)
        seen[kind] = index + 1
        y = T[op.outputs[0]]
        in_base, out_base = mem.op_bases(op) if mem is not None else (0, 0)
        if kind == "pad":
            p = np.asarray(T[op.inputs[1]].data)
            if p.shape != (4, 2) or p[0].any() or p[3].any():
                raise BitstreamError(f"PAD (op {op.index}) pads {p.tolist()}: the device pads height and width "
                                     "only", file=graph.source)
            _, h, w, c = T[op.inputs[0]].shape
            _, oh, ow, _ = y.shape
            geo = bsmod.Geometry(h, w, c, oh, ow, c, 1, 1, 1, 1, int(p[1, 0]), int(p[2, 0]))
            out.append(bsmod.PadDescriptor(index, geo, in_base, out_base, T[op.inputs[0]].zero_point,
                                           after_layers=macs))
            continue
        act = quant.activation_range(op.options["activation"], y.scale, y.zero_point)
        if kind == "add":
            a, b = T[op.inputs[0]], T[op.inputs[1]]
            if tuple(a.shape) != tuple(b.shape) or tuple(a.shape) != tuple(y.shape):
                raise BitstreamError(f"ADD (op {op.index}) of shapes {a.shape} and {b.shape}: the device adds "
                                     "tensors of one shape (no broadcast)", file=graph.source)
            ls, (m1, e1), (m2, e2), (mo, eo) = quant.add_params(a.scale, b.scale, y.scale)
            out.append(bsmod.AddDescriptor(index, in_base, mem.bases[op.inputs[1]] if mem is not None else 0, out_base,
                                           int(np.prod(y.shape[1:])),
                                           (a.zero_point, b.zero_point), (m1, m2), (e1, e2), ls, y.zero_point, mo, eo,
                                           act[0], act[1], after_layers=macs))
        else:
            _, h, w, c = T[op.inputs[0]].shape
            (fh, fw), (sh, sw) = op.options["filter"], op.options["stride"]
            oh, pt, _ = pad_amounts(op.options["padding"], h, fh, sh)
            ow, pl, _ = pad_amounts(op.options["padding"], w, fw, sw)
            geo = bsmod.Geometry(h, w, c, oh, ow, c, fh, fw, sh, sw, pt, pl)
            out.append(bsmod.PoolDescriptor(index, kind, geo, in_base, out_base, act[0], act[1],  # type: ignore[arg-type]
                                            after_layers=macs))
    return tuple(out)
