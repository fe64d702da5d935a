"""Compiled gather kernels of the ``fast`` engine (numba, cached on disk, parallel over rows).

``codes``: padded port-A codes uint8 ``[N, Hp, Wp, C]``; taps are numbered
``k = (i * KW + j) * G + g``; taps whose code equals ``a0`` (the padding code) add 0 (the fold in
``engines._fold_luts`` guarantees it), so they are skipped. Accumulation is int32, as in
hardware; the inner loops run over output channels so that they vectorize. Speed figures and
what was tried: benchmarks/RESULTS.md, "Emulation speed".
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(inline="always")
def _compact_row(seg, wp, c, a0, step, per_code, pre, val, start):  # pragma: no cover - compiled
    """One padded input row's taps that are not the padding code ``a0``, in (column, channel)
    order: ``pre[e] = (col * C + ci) * step + a * per_code`` (a table offset with the window
    position still to add), ``val[e] = a``, and ``start[col]`` the first entry of column
    ``col``. A window over columns ``x*sw .. x*sw+KW-1`` is then the contiguous entry range
    ``start[x*sw] .. start[x*sw+KW]``: the padding codes are scanned once per input row,
    not once per output pixel."""
    m = 0
    for col in range(wp):
        start[col] = m
        for ci in range(c):
            a = seg[col * c + ci]
            pre[m] = (col * c + ci) * step + np.int64(a) * per_code
            val[m] = a
            m += a != a0
    start[wp] = m


@nb.njit(parallel=True, cache=True, boundscheck=False)
def conv_rows(codes, a0, exact, rows_, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    """A conv layer as a sum of per-tap rows over the output channels, requantization to int8
    ``out`` fused (:func:`requant_block`); ``base`` starts the accumulators (bias and folded
    constants).

    * approximate (``exact`` False): ``rows_`` is ``vtab[k, a, :]``, tap k's contribution to every
      output channel when its port-A code is ``a`` (0 for the padding code ``a0``); ``codes``
      uint8.
    * exact: ``rows_`` is ``wmat[k, :]`` (int32) and ``codes`` the padded int8 input (padding
      ``a0`` = the zero point z); each entry adds ``(x - z) * wmat[k, :]``.

    Per output row, each of the KH input rows is compacted once (:func:`_compact_row`); every
    output pixel then adds the rows of its window's entries, a contiguous slice add that numba
    vectorizes. int32 accumulation wraps as in hardware, so the order of the additions does not
    matter."""
    n, hp, wp, c = codes.shape
    _, oh, ow, o_ch = out.shape
    cflat = codes.reshape(-1)
    tflat = rows_.reshape(-1)
    oflat = out.reshape(-1)
    step = o_ch if exact else 256 * o_ch  # table offset per tap
    per_code = 0 if exact else o_ch  # table offset per code value
    z = np.int32(a0)
    rq = _requant_params(mult, shift)
    for r in nb.prange(n * oh):
        img = r // oh
        y = r % oh
        accs = np.empty(ow * o_ch, dtype=np.int32)
        for x in range(ow):
            accs[x * o_ch: (x + 1) * o_ch] = base
        pre = np.empty(wp * c, dtype=np.int64)
        val = np.empty(wp * c, dtype=np.int32)
        start = np.empty(wp + 1, dtype=np.int64)
        for i in range(kh):
            row0 = ((img * hp + y * sh + i) * wp) * c
            _compact_row(cflat[row0: row0 + wp * c], wp, c, a0, step, per_code, pre, val, start)
            for x in range(ow):
                d = (i * kw * c - x * sw * c) * step
                acc = accs[x * o_ch: (x + 1) * o_ch]
                if exact:
                    for e in range(start[x * sw], start[x * sw + kw]):
                        p = pre[e] + d
                        a = val[e] - z
                        row = tflat[p: p + o_ch]
                        for o in range(o_ch):
                            acc[o] += a * row[o]
                else:
                    for e in range(start[x * sw], start[x * sw + kw]):
                        p = pre[e] + d
                        row = tflat[p: p + o_ch]
                        for o in range(o_ch):
                            acc[o] += row[o]
        requant_block(accs, o_ch, rq, single, zp, lo, hi, oflat[r * ow * o_ch: (r + 1) * ow * o_ch])


@nb.njit(parallel=True, cache=True, boundscheck=False)
def depthwise_rows(codes, rows_, base, in0, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    """A depthwise layer from per-tap tables ``rows_[k, a, o]`` (tap k = i * KW + j, port-A code
    a, output channel o; 0 for the padding code), requantization fused: output channel o reads
    input channel ``in0[o]``, so each addition is one gather ``rows_[k, codes[.., in0[o]], o]``
    from a table of 9 * 256 * O entries (L2-sized), the channel loop innermost. Exact layers
    use the same kernel with ``rows_[k, a, o] = (a - 128 - z) * w[o, k]`` (codes ``x + 128``)."""
    n, hp, wp, c = codes.shape
    _, oh, ow, o_ch = out.shape
    oflat = out.reshape(-1)
    rq = _requant_params(mult, shift)
    for r in nb.prange(n * oh):
        img = r // oh
        y = r % oh
        accs = np.empty(ow * o_ch, dtype=np.int32)
        for x in range(ow):
            accs[x * o_ch: (x + 1) * o_ch] = base
        for i in range(kh):  # tap-major: one tap's 256 x O table (32 KB at O = 64) stays in L1
            for j in range(kw):
                t = rows_[i * kw + j]
                for x in range(ow):
                    px = codes[img, y * sh + i, x * sw + j]
                    acc = accs[x * o_ch: (x + 1) * o_ch]
                    for o in range(o_ch):
                        acc[o] += t[px[in0[o]], o]
        requant_block(accs, o_ch, rq, single, zp, lo, hi, oflat[r * ow * o_ch: (r + 1) * ow * o_ch])


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


# --- requantization and ADD, scalar twins of rtlgen.nn.quant (tested equal to it) ---------------

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


@nb.njit(inline="always")
def _requant_params(mult, shift):  # pragma: no cover - compiled
    """Per-channel (multiplier, left shift, right shift, single-rounding shift) for
    :func:`requant_block`; ``mult >= 0`` (TFLite's are in [0, 2**31)), so SRDHM's one
    saturating case (both operands -2**31) cannot occur and is not tested there."""
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return mult, left, right, 31 - shift


@nb.njit(inline="always")
def requant_block(acc, o_ch, rq, single, zp, lo, hi, out):  # pragma: no cover - compiled
    """:func:`requant_one` over a block of pixels ``acc[p * o_ch + o]``, written branch-free
    (selects and shifts only) so that the channel loop vectorizes."""
    mult, left, right, total = rq
    for p in range(acc.shape[0] // o_ch):
        for o in range(o_ch):
            a = np.int64(acc[p * o_ch + o])
            if single:
                y = (a * mult[o] + (np.int64(1) << (total[o] - 1))) >> total[o]
            else:
                v = a << left[o]
                v = ((v + 2147483648) & 0xFFFFFFFF) - 2147483648
                ab = v * mult[o]
                s = ab + ((np.int64(1) << 30) if ab >= 0 else (1 - (np.int64(1) << 30)))
                q = (s + ((s >> 63) & 2147483647)) >> 31  # s / 2**31 truncated toward zero
                mask = (np.int64(1) << right[o]) - 1
                y = (q >> right[o]) + ((q & mask) > ((mask >> 1) + ((q >> 63) & 1)))
            y += zp
            out[p * o_ch + o] = min(max(y, lo), hi)


@nb.njit(parallel=True, cache=True)
def requantize_rows(acc, bias, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
    rows, o_ch = acc.shape
    for r in nb.prange(rows):
        for o in range(o_ch):
            out[r, o] = requant_one(np.int64(acc[r, o]) + bias[o], mult[o], shift[o], single, zp, lo, hi)


@nb.njit(inline="always")
def _srdhm_pos(a, b):  # pragma: no cover - compiled
    """:func:`_srdhm` for ``b >= 0`` (never the saturating case), branch-free."""
    ab = a * b
    s = ab + ((np.int64(1) << 30) if ab >= 0 else (1 - (np.int64(1) << 30)))
    return (s + ((s >> 63) & 2147483647)) >> 31


@nb.njit(inline="always")
def _rdbp_bf(x, e):  # pragma: no cover - compiled
    mask = (np.int64(1) << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + ((x >> 63) & 1)))


@nb.njit(parallel=True, cache=True)
def add_int8(x1, x2, zp1, zp2, zpo, ls, m1, e1, m2, e2, mo, eo, lo, hi, out):  # pragma: no cover
    """TFLite's quantized ADD (multipliers >= 0, as :func:`rtlgen.nn.quant.add_params` makes
    them), over flat int8 arrays; branch-free so that it vectorizes."""
    n = x1.shape[0]
    nblk = (n + 4095) // 4096
    for blk in nb.prange(nblk):
        for i in range(blk * 4096, min(n, blk * 4096 + 4096)):
            a = (np.int64(x1[i]) - zp1) << ls
            b = (np.int64(x2[i]) - zp2) << ls
            sa = _rdbp_bf(_srdhm_pos(a, np.int64(m1)), -e1)
            sb = _rdbp_bf(_srdhm_pos(b, np.int64(m2)), -e2)
            v = sa + sb
            v = ((v + 2147483648) & 0xFFFFFFFF) - 2147483648
            y = _rdbp_bf(_srdhm_pos(v, np.int64(mo)), -eo) + zpo
            out[i] = min(max(y, lo), hi)


@nb.njit(parallel=True, cache=True)
def add_lut(x1, x2, lut, out):  # pragma: no cover
    """``out[i] = lut[(x1[i] + 128) * 256 + x2[i] + 128]``: an ADD whose 65,536 results were
    tabulated by :func:`add_int8` itself (so the two cannot differ)."""
    n = x1.shape[0]
    nblk = (n + 4095) // 4096
    for blk in nb.prange(nblk):
        for i in range(blk * 4096, min(n, blk * 4096 + 4096)):
            out[i] = lut[((np.int64(x1[i]) + 128) << 8) | (np.int64(x2[i]) + 128)]


@nb.njit(parallel=True, cache=True)
def pad_codes_planar(x, lut, pt, pl, pad_code, out):  # pragma: no cover
    """:func:`pad_codes` into a channel-planar ``out[n, c, pt + y, pl + x]`` (the native
    depthwise kernel's layout)."""
    n, h, w, c = x.shape
    _, _, hp, wp = out.shape
    for r in nb.prange(n * c):
        img = r // c
        ci = r % c
        plane = out[img, ci]
        plane[:, :] = pad_code
        for y in range(h):
            for j in range(w):
                plane[pt + y, pl + j] = lut[np.int64(x[img, y, j, ci]) + 128]


@nb.njit(parallel=True, cache=True)
def pad_codes(x, lut, pt, pl, pad_code, out):  # pragma: no cover
    """``out[n, pt + y, pl + x, c] = lut[x_int8 + 128]``, the border ``pad_code``: the port-A
    codes of a padded layer input in one pass (no padded int8 copy)."""
    n, h, w, c = x.shape
    _, hp, wp, _ = out.shape
    for r in nb.prange(n * hp):
        img = r // hp
        yy = r % hp
        orow = out[img, yy]
        y = yy - pt
        if y < 0 or y >= h:
            orow[:, :] = pad_code
            continue
        xrow = x[img, y]
        for xx in range(wp):
            j = xx - pl
            if j < 0 or j >= w:
                orow[xx, :] = pad_code
            else:
                for ci in range(c):
                    orow[xx, ci] = lut[np.int64(xrow[j, ci]) + 128]


@nb.njit(parallel=True, cache=True)
def min_int8(x):  # pragma: no cover - compiled
    """The smallest element of a flat int8 array (127 for an empty one): numpy's ``x.min()`` in
    parallel blocks of 256 KB (one thread took 40 us for a 2 MB batch of activations, about 3%
    of ResNet-8's time over its conv layers' signmag checks)."""
    n = x.shape[0]
    nblk = (n + 262143) // 262144
    mins = np.full(max(nblk, 1), 127, np.int8)
    for b in nb.prange(nblk):
        mins[b] = x[b * 262144: min(n, (b + 1) * 262144)].min()
    return mins.min()
