"""The geometry of one multiply-accumulate layer: the one type passed between stages.

The emulator compiles it (:attr:`rtlgen.emulate.layers.MacLayer.geometry`), the bitstream stores
it (twelve ``u16`` in a layer descriptor, :mod:`rtlgen.bitstream.format`), the mapper copies it
into the descriptors it writes, and the accelerator's jobs load it into the descriptor registers
(:func:`rtlgen.accel.job.conv_job`). Activations are NHWC; a fully connected layer is a 1x1
convolution of a 1x1 image (``in_c`` features), a depthwise layer reads one input channel per
output channel (``in_c`` is still the input's channel count).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Geometry", "pad_amounts"]


@dataclass(frozen=True)
class Geometry:
    """Shape of a layer in pixels and channels. Padding at the bottom and right is not stored: it
    follows from the others (TFLite SAME padding puts the extra row/column there)."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int = 1
    stride_w: int = 1
    pad_top: int = 0
    pad_left: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            # numpy integers are accepted (shapes come from arrays) and stored as int
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise TypeError(f"geometry.{f.name} must be an int, not {type(v).__name__}")
            if int(v) < 0:
                raise ValueError(f"geometry.{f.name} must be >= 0, not {int(v)}")
            object.__setattr__(self, f.name, int(v))
        if self.out_c < 1:
            raise ValueError("geometry.out_c must be at least 1")

    @classmethod
    def from_mac_layer(cls, layer: Any) -> Geometry:
        """The geometry of a :class:`rtlgen.emulate.layers.MacLayer` (or anything with its
        ``in_shape``, ``out_shape``, ``weights`` [O, KH, KW, G], ``stride`` and ``pads``)."""
        (h, w, c), (oh, ow, oc) = layer.in_shape, layer.out_shape
        _, kh, kw, _ = layer.weights.shape
        (pt, _pb), (pl, _pr) = layer.pads
        return cls(in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw,
                   stride_h=layer.stride[0], stride_w=layer.stride[1], pad_top=pt, pad_left=pl)

    @property
    def stride(self) -> tuple[int, int]:
        return (self.stride_h, self.stride_w)

    @property
    def padding(self) -> tuple[int, int]:
        """``(top, left)``."""
        return (self.pad_top, self.pad_left)

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.in_h, self.in_w, self.in_c)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_h, self.out_w, self.out_c)


def pad_amounts(padding: str, in_size: int, filt: int, stride: int) -> tuple[int, int, int]:
    """(output size, pad before, pad after) of one spatial axis, as TFLite computes them."""
    if padding == "VALID":
        out = (in_size - filt + stride) // stride
        return out, 0, 0
    out = (in_size + stride - 1) // stride
    total = max((out - 1) * stride + filt - in_size, 0)
    return out, total // 2, total - total // 2
