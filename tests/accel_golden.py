"""Golden model of one conv layer through the accelerator's arithmetic (test helper).

Written from the emulation's specification (issue 5; :mod:`rtlgen.accel.encoding`) and TFLite's
reference requantization (:mod:`rtlgen.quant`), independently of the RTL.
"""
from __future__ import annotations

import numpy as np

from rtlgen.quant import requantize


def conv_layer(x, w, bias, mult, shift, *, z_x, z_y, act_min, act_max, stride, pad, out_hw,
               encoding, tables, signed, sel):
    """x [H,W,C] int8; w [O,KH,KW,I] int8; sel [O,I] index into ``tables`` (list of T)."""
    H, W, C = x.shape
    O, KH, KW, I = w.shape
    oh, ow = out_hw
    (sh, sw), (pt, pl) = stride, pad
    Hp, Wp = max(H + pt, (oh - 1) * sh + KH), max(W + pl, (ow - 1) * sw + KW)
    xp = np.full((Hp, Wp, C), z_x, dtype=np.int64)
    xp[pt:pt + H, pl:pl + W] = x
    patches = np.stack([xp[oy * sh:oy * sh + KH, ox * sw:ox * sw + KW, :].reshape(-1)
                        for oy in range(oh) for ox in range(ow)])          # [P, K]
    wk = w.reshape(O, -1).astype(np.int64)                                  # [O, K]
    ci_of_k = np.tile(np.arange(I), KH * KW)
    Ts = np.stack([np.asarray(t, dtype=np.int64) for t in tables])
    if encoding == "signmag":
        A = (patches - z_x) & 0xFF
        B = np.abs(wk) & 0xFF
        sgn = np.where(wk < 0, -1, 1)
    elif encoding == "raw":
        A, B, sgn = patches & 0xFF, wk & 0xFF, np.ones_like(wk)
    elif encoding == "offset":
        A, B, sgn = (patches + 128) & 0xFF, (wk + 128) & 0xFF, np.ones_like(wk)
    else:
        raise ValueError(encoding)
    K = wk.shape[1]
    acc = np.zeros((patches.shape[0], O), dtype=np.int64)
    for co in range(O):
        tsel = sel[co][ci_of_k]                                              # [K]
        terms = Ts[tsel[None, :], A, B[co][None, :]] * sgn[co][None, :]
        acc[:, co] = terms.sum(axis=1)
    sw_ = wk.sum(axis=1)[None, :]
    sx_ = patches.sum(axis=1)[:, None]
    if encoding == "raw":
        acc = acc - z_x * sw_
    elif encoding == "offset":
        acc = acc - (128 + z_x) * sw_ - 128 * sx_ - 16384 * K
    acc = acc + np.asarray(bias, dtype=np.int64)[None, :]
    acc = ((acc + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    y = requantize(acc, np.asarray(mult), np.asarray(shift), z_y, act_min, act_max)
    return y.reshape(oh, ow, O)
