"""Compiled gather kernels of the ``fast`` engine (numba, cached on disk, parallel over rows).

``codes``: padded port-A codes uint8 ``[N, Hp, Wp, C]``; ``lut[a, u]`` int32; ``uidx[k, o]``
(tap ``k = (i * KW + j) * G + g``) the lookup column of each tap; ``base[o]`` int64; the output
``out[n, y, x, o]`` int32 accumulator (bias excluded). Taps whose code equals ``a0`` add 0
(the fold in ``engines._fold_luts`` guarantees it), so they are skipped.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True, fastmath=False, boundscheck=False)
def conv_lut(codes, lut, uidx, base, kh, kw, sh, sw, a0, out):  # pragma: no cover - compiled
    n, hp, wp, c = codes.shape
    _, oh, ow, o_ch = out.shape
    k_all = kh * kw * c
    rows = n * oh
    for r in nb.prange(rows):
        img = r // oh
        y = r % oh
        kidx = np.empty(k_all, dtype=np.int32)
        aval = np.empty(k_all, dtype=np.int32)
        acc = np.empty(o_ch, dtype=np.int64)
        for x in range(ow):
            m = 0
            for i in range(kh):
                for j in range(kw):
                    for ch in range(c):
                        a = codes[img, y * sh + i, x * sw + j, ch]
                        if a != a0:
                            kidx[m] = (i * kw + j) * c + ch
                            aval[m] = a
                            m += 1
            for o in range(o_ch):
                acc[o] = base[o]
            for t in range(m):
                row = lut[aval[t]]
                cols = uidx[kidx[t]]
                for o in range(o_ch):
                    acc[o] += row[cols[o]]
            for o in range(o_ch):
                out[img, y, x, o] = acc[o]


@nb.njit(parallel=True, cache=True, fastmath=False, boundscheck=False)
def depthwise_lut(codes, lut, uidx, base, in0, kh, kw, sh, sw, a0, out):  # pragma: no cover
    n, hp, wp, c = codes.shape
    _, oh, ow, o_ch = out.shape
    rows = n * oh
    for r in nb.prange(rows):
        img = r // oh
        y = r % oh
        for x in range(ow):
            for o in range(o_ch):
                acc = base[o]
                ch = in0[o]
                for i in range(kh):
                    for j in range(kw):
                        a = codes[img, y * sh + i, x * sw + j, ch]
                        if a != a0:
                            acc += lut[a, uidx[i * kw + j, o]]
                out[img, y, x, o] = acc
