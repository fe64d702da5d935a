"""Compiled gather kernels of the ``fast`` engine (numba, cached on disk, parallel over rows).

``codes``: padded port-A codes uint8 ``[N, Hp, Wp, C]``; taps are numbered
``k = (i * KW + j) * G + g``; taps whose code equals ``a0`` (the padding code) add 0 (the fold in
``engines._fold_luts`` guarantees it), so they are skipped. Accumulation is int32, as in
hardware; the inner loops run over output channels so that they vectorize.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True, boundscheck=False)
def conv_vtab(codes, vtab, base, kh, kw, sh, sw, a0, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    """Approximate conv: ``vtab[k, a, :]`` is tap k's contribution to every output channel when
    its activation code is ``a`` (0 for ``a0``); fused requantization to int8 ``out``.

    Per output pixel the taps with ``a != a0`` are first gathered into a list (a window row
    ``i`` is one contiguous span of ``KW * C`` codes), then their rows summed with slices,
    which numba compiles without index wraparound checks, so the channel loop vectorizes."""
    n, hp, wp, c = codes.shape
    _, oh, ow, o_ch = out.shape
    cflat = codes.reshape(-1)
    vflat = vtab.reshape(-1)
    span = kw * c
    rows = n * oh
    k_all = kh * span
    for r in nb.prange(rows):
        img = r // oh
        y = r % oh
        acc = np.empty(o_ch, dtype=np.int32)
        offs = np.empty(k_all + 1, dtype=np.int64)
        for x in range(ow):
            m = 0
            for i in range(kh):
                start = ((img * hp + y * sh + i) * wp + x * sw) * c
                seg = cflat[start: start + span]
                kb = i * span
                for t in range(span):
                    a = seg[t]
                    offs[m] = ((kb + t) * 256 + np.int64(a)) * o_ch
                    m += a != a0
            acc[:] = base
            for t in range(m):
                row = vflat[offs[t]: offs[t] + o_ch]
                for o in range(o_ch):
                    acc[o] += row[o]
            orow = out[img, y, x]
            for o in range(o_ch):
                orow[o] = requant_one(np.int64(acc[o]), mult[o], shift[o], single, zp, lo, hi)


@nb.njit(parallel=True, cache=True, boundscheck=False)
def conv_exact(xp, z, wmat, bias, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    """Exact conv on the padded int8 input ``xp`` (padding = z): ``wmat[k, o]`` int32, taps
    with ``x == z`` skipped (gathered as in :func:`conv_vtab`); fused bias and requantization."""
    n, hp, wp, c = xp.shape
    _, oh, ow, o_ch = out.shape
    xflat = xp.reshape(-1)
    wflat = wmat.reshape(-1)
    span = kw * c
    rows = n * oh
    k_all = kh * span
    for r in nb.prange(rows):
        img = r // oh
        y = r % oh
        acc = np.empty(o_ch, dtype=np.int32)
        offs = np.empty(k_all + 1, dtype=np.int64)
        vals = np.empty(k_all + 1, dtype=np.int32)
        for x in range(ow):
            m = 0
            for i in range(kh):
                start = ((img * hp + y * sh + i) * wp + x * sw) * c
                seg = xflat[start: start + span]
                kb = i * span
                for t in range(span):
                    a = np.int32(seg[t]) - z
                    offs[m] = (kb + t) * o_ch
                    vals[m] = a
                    m += a != 0
            acc[:] = bias
            for t in range(m):
                row = wflat[offs[t]: offs[t] + o_ch]
                a = vals[t]
                for o in range(o_ch):
                    acc[o] += a * row[o]
            orow = out[img, y, x]
            for o in range(o_ch):
                orow[o] = requant_one(np.int64(acc[o]), mult[o], shift[o], single, zp, lo, hi)


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


# --- requantization and ADD, scalar twins of rtlgen.quant (tested equal to it) ---------------

@nb.njit(inline="always")
def _srdhm(a, b):  # pragma: no cover - compiled
    if a == -2147483648 and b == -2147483648:
        return 2147483647
    ab = np.int64(a) * np.int64(b)
    s = ab + (np.int64(1) << 30) if ab >= 0 else ab + (1 - (np.int64(1) << 30))
    return s >> 31 if s >= 0 else -((-s) >> 31)


@nb.njit(inline="always")
def _rdbp(x, e):  # pragma: no cover - compiled
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


@nb.njit(inline="always")
def _wrap32(x):  # pragma: no cover - compiled
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@nb.njit(inline="always")
def requant_one(acc, m, shift, single, zp, lo, hi):  # pragma: no cover - compiled
    if single:
        total = 31 - shift
        y = (acc * np.int64(m) + (np.int64(1) << (total - 1))) >> total
    else:
        left = shift if shift > 0 else 0
        right = -shift if shift < 0 else 0
        y = _rdbp(_srdhm(_wrap32(acc << left), m), right)
    y += zp
    if y < lo:
        y = lo
    if y > hi:
        y = hi
    return y


@nb.njit(parallel=True, cache=True)
def requantize_rows(acc, bias, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    rows, o_ch = acc.shape
    for r in nb.prange(rows):
        for o in range(o_ch):
            out[r, o] = requant_one(np.int64(acc[r, o]) + bias[o], mult[o], shift[o], single, zp, lo, hi)


@nb.njit(parallel=True, cache=True)
def add_int8(x1, x2, zp1, zp2, zpo, ls, m1, e1, m2, e2, mo, eo, lo, hi, out):  # pragma: no cover
    n = x1.shape[0]
    for i in nb.prange(n):
        a = np.int64(np.int64(x1[i]) - zp1) << ls
        b = np.int64(np.int64(x2[i]) - zp2) << ls
        sa = _rdbp(_srdhm(a, m1), -e1)
        sb = _rdbp(_srdhm(b, m2), -e2)
        y = _rdbp(_srdhm(_wrap32(sa + sb), mo), -eo) + zpo
        if y < lo:
            y = lo
        if y > hi:
            y = hi
        out[i] = y
