"""Emulation engines: how a MAC layer is computed. All agree bit for bit (tested).

An engine's ``output(layer, x, plan)`` is the layer's int8 output ``[N, OH, OW, O]`` and
``accumulate(layer, x, plan)`` its accumulators (bias not included); ``x`` is the layer's int8
input ``[N, H, W, C]``, ``plan`` a :class:`LayerPlan` or ``None`` for exact multiplication.
``add`` computes an int8 ADD.

* ``reference``: straightforward numpy: im2col, then :mod:`.encoding`'s definition applied
  term by term (a table gather per multiplication). Slow; the oracle the others are tested
  against.
* ``fast``: compiled (numba) direct convolutions, parallel over output rows, int32
  accumulation, requantization fused; taps whose activation equals the padding code are
  skipped (after ReLU many are). Exact layers multiply ``(x - z) * w`` over output channels.
  Approximate layers add, per tap, a precomputed contribution vector ``vtab[k, a, :]`` over
  the output channels: tap ``k``'s table value for activation code ``a`` with the product
  sign, the encoding's correction terms and the padding-code baseline folded in (see
  :func:`_fold_luts`), so the inner loop is a contiguous add, no per-multiplication gather.
  Depthwise layers (exact or not) take the same per-tap tables, one gather per multiplication
  (each output channel reads its own input channel's code), tap-major so that one tap's table
  stays in L1 (``_kernels.depthwise_rows``).
* ``native``: ``fast`` with the conv layers' inner loop (one output row's table-row additions)
  and their requantization, the ADDs' table lookup and the depthwise layers in C
  (:mod:`.native`, compiled on first use with the system C compiler for this CPU; conv tables
  on huge pages). The conv loop keeps a pixel's accumulators in registers, which numba
  does not; layers whose table exceeds a core's L2 go in channel blocks
  (:func:`rtlgen.emulate.native.channel_block`). Exact conv layers take the same loop with exact
  tables ``(a - 128 - z) * w`` (so ReLU's zeros are skipped there too); a strided 1x1 conv
  reads only the pixels it samples. With AVX-512 the input compaction is vectorized and
  depthwise layers look 64 pixels' codes up at once (``rtlgen_dw_plane``); without it they
  take ``fast``'s kernel. Speed against LiteRT: benchmarks/RESULTS.md, "Emulation speed".

``ENGINES`` is the registry; :func:`get_engine` lists the valid names for an unknown one.
``"auto"`` (:data:`DEFAULT_ENGINE`, what every entry point uses unless told otherwise) is the
fastest engine that works on this machine, :func:`choose_engine`: ``native`` when its C kernel
builds and loads, else ``fast``.

An engine instance keeps what it derives from a layer (``fast``: the ADD tables, exact weight
matrices, the ``vtab`` of recent plans, keyed by op index and :func:`~rtlgen.emulate.cache.plan_digest`,
least recently used dropped beyond :data:`VTAB_CACHE_BYTES`), so an instance belongs to one
graph; one instance may serve many :class:`~rtlgen.emulate.Emulator` s of that graph (a search
passes the same one to every evaluation, so a plan met again costs no table build).
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from rtlgen.conventions import DEFAULT_ENGINE, check_name
from rtlgen.emulate import ops
from rtlgen.emulate.encoding import activation_codes, correction, weight_codes
from rtlgen.emulate.layers import MacLayer, im2col
from rtlgen.emulate.plan import LayerPlan

__all__ = ["ENGINES", "DEFAULT_ENGINE", "get_engine", "choose_engine", "ReferenceEngine", "FastEngine",
           "NativeEngine"]

_log = logging.getLogger("rtlgen.emulate")
_ANNOUNCED = False


class ReferenceEngine:
    name = "reference"

    def output(self, layer: MacLayer, x: np.ndarray, plan: LayerPlan | None) -> np.ndarray:
        """The layer's int8 output ``[N, OH, OW, O]`` (accumulate, bias, requantize)."""
        return layer.requantize(self.accumulate(layer, x, plan))

    def add(self, x1: np.ndarray, zp1: int, x2: np.ndarray, zp2: int, zp_out: int, params: tuple,
            act: tuple[int, int]) -> np.ndarray:
        return ops.add(x1, zp1, x2, zp2, zp_out, params, act)

    def accumulate(self, layer: MacLayer, x: np.ndarray, plan: LayerPlan | None) -> np.ndarray:
        p = im2col(layer, x)  # N, OH, OW, KH, KW, C
        z = layer.z_in
        w = layer.weights if plan is None else plan.layer_weights(layer)
        if layer.depthwise:
            p = p[..., layer.in_channel0]  # N, OH, OW, KH, KW, O  (G = 1)
        if plan is None:
            d = p.astype(np.int64) - z
            w64 = w.astype(np.int64)
            if layer.depthwise:
                return np.einsum("nyxijo,oij->nyxo", d, w64[..., 0])
            return np.tensordot(d, w64, axes=([3, 4, 5], [1, 2, 3]))
        enc = plan.encoding
        tables = np.stack(plan.tables).astype(np.int64)
        a = activation_codes(p, z, enc)
        b, s = weight_codes(w, enc)
        n, oh, ow = p.shape[:3]
        o_ch = layer.channels_out
        acc = np.empty((n, oh, ow, o_ch), dtype=np.int64)
        sum_w = w.astype(np.int64).reshape(o_ch, -1).sum(axis=1)
        for o in range(o_ch):
            if layer.depthwise:
                t = tables[plan.select[o, 0]]
                prod = t[a[..., o], b[o, :, :, 0]] * s[o, :, :, 0]
                sum_x = p[..., o].sum(axis=(3, 4), dtype=np.int64)
            else:
                sel = plan.select[o][None, None, :]  # per input channel, broadcast over KH, KW
                prod = tables[sel, a, b[o]] * s[o]
                sum_x = None
            acc[..., o] = prod.sum(axis=(3, 4, 5) if not layer.depthwise else (3, 4))
            if enc == "offset" and sum_x is None:
                sum_x = p.sum(axis=(3, 4, 5), dtype=np.int64)
            acc[..., o] += correction(enc, z, 0 if sum_x is None else sum_x, sum_w[o], layer.taps)
        return acc


def _exact_gemm_dtype(layer: MacLayer, w: np.ndarray) -> type:
    """float32 when every partial sum is provably exact in it (|sum| < 2**24), else float64."""
    max_act = max(abs(-128 - layer.z_in), abs(127 - layer.z_in))
    bound = max_act * np.abs(w.astype(np.int64)).reshape(w.shape[0], -1).sum(axis=1).max()
    return np.float32 if bound < (1 << 24) else np.float64


#: bytes of ``vtab`` tables a ``fast``/``native`` engine keeps for plans met again (ResNet-8's
#: largest is 19 MB; about two plans per layer)
VTAB_CACHE_BYTES = 192 << 20


class FastEngine(ReferenceEngine):
    name = "fast"

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple] = {}
        self._vtabs: OrderedDict[tuple, tuple] = OrderedDict()  # (op, plan digest) -> vtab, base, a0
        self._vtab_bytes = 0

    def output(self, layer: MacLayer, x: np.ndarray, plan: LayerPlan | None) -> np.ndarray:
        from rtlgen.emulate import _kernels

        n = x.shape[0]
        oh, ow, o_ch = layer.out_shape
        o, kh, kw, g = layer.weights.shape
        if layer.multiplier.size and int(layer.multiplier.min()) < 0:  # the kernels rely on it
            raise ValueError(f"negative requantization multiplier {int(layer.multiplier.min())}")
        rq = (layer.multiplier.astype(np.int64), layer.shift.astype(np.int64),
              layer.rounding == "single", layer.z_out, layer.act[0], layer.act[1])
        out = np.empty((n, oh, ow, o_ch), dtype=np.int8)
        if layer.depthwise:
            if plan is None:
                vtab, base, a0 = self._dw_exact(layer)
                lut = _IDENTITY_CODES
            else:
                vtab, base, a0 = self._vtab(layer, plan)
                lut = _port_a_lut(x, layer.z_in, plan.encoding)
            self._depthwise(layer, x, lut, np.uint8(a0), vtab, base, rq, out)
            return out
        if plan is None:
            self._conv_exact(layer, x, rq, out)
            return out
        vtab, base, a0 = self._vtab(layer, plan)
        self._conv_vtab(layer, x, _port_a_lut(x, layer.z_in, plan.encoding), np.uint8(a0), vtab, base, rq, out)
        return out

    def _conv_exact(self, layer: MacLayer, x: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        """An exact conv layer into the int8 ``out``: products of ``x - z`` and the weights."""
        from rtlgen.emulate import _kernels

        _, kh, kw, _ = layer.weights.shape
        xs = _padded_codes(layer, x, _IDENTITY_INT8, np.int8(layer.z_in))
        key = ("exact", layer.op_index)
        if key not in self._cache:
            self._cache[key] = (np.ascontiguousarray(
                layer.weights.astype(np.int32).reshape(layer.channels_out, -1).T),)
        (wmat,) = self._cache[key]
        _kernels.conv_rows(xs, np.int8(layer.z_in), True, wmat, layer.bias.astype(np.int32), kh, kw,
                           layer.stride[0], layer.stride[1], *rq, out)

    def _depthwise(self, layer: MacLayer, x: np.ndarray, lut: np.ndarray, a0: np.uint8, vtab: np.ndarray,
                   base: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        """A depthwise layer from its tables ``vtab[k, a, o]`` (0 at the padding code ``a0``)
        into the int8 ``out``; ``lut`` gives the port-A codes of ``x`` (see _kernels.depthwise_rows)."""
        from rtlgen.emulate import _kernels

        _, kh, kw, _ = layer.weights.shape
        _kernels.depthwise_rows(_padded_codes(layer, x, lut, a0), vtab, base, layer.in_channel0.astype(np.int64),
                                kh, kw, layer.stride[0], layer.stride[1], *rq, out)

    def _conv_vtab(self, layer: MacLayer, x: np.ndarray, lut: np.ndarray, a0: np.uint8, vtab: np.ndarray,
                   base: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        """An approximate conv layer from its ``vtab`` into the int8 ``out`` (see _kernels.conv_rows);
        ``x`` is the int8 input, ``lut`` its port-A codes (:func:`_port_a_lut`), ``a0`` the padding code."""
        from rtlgen.emulate import _kernels

        codes = _padded_codes(layer, x, lut, a0)
        _, kh, kw, _ = layer.weights.shape
        _kernels.conv_rows(codes, a0, False, vtab, base, kh, kw, layer.stride[0], layer.stride[1], *rq, out)

    def add(self, x1: np.ndarray, zp1: int, x2: np.ndarray, zp2: int, zp_out: int, params: tuple,
            act: tuple[int, int]) -> np.ndarray:
        from rtlgen.emulate import _kernels

        ls, (m1, e1), (m2, e2), (mo, eo) = params
        if min(m1, m2, mo) < 0:  # the kernel relies on it; rtlgen.nn.quant.add_params never does
            raise ValueError(f"negative ADD multiplier in {params}")
        # int8 + int8 has 65,536 cases: tabulate them once per ADD (with the kernel itself), then
        # each element is one lookup in a 64 KB table instead of three fixed-point rescalings
        key = ("add", zp1, zp2, zp_out, ls, m1, e1, m2, e2, mo, eo, act[0], act[1])
        lut = self._cache.get(key)
        if lut is None:
            a = np.repeat(np.arange(-128, 128, dtype=np.int8), 256)
            b = np.tile(np.arange(-128, 128, dtype=np.int8), 256)
            lut = np.empty(65536, dtype=np.int8)
            _kernels.add_int8(a, b, zp1, zp2, zp_out, ls, m1, e1, m2, e2, mo, eo, act[0], act[1], lut)
            self._cache[key] = lut
        out = np.empty(x1.size, dtype=np.int8)
        self._add_lut(np.ascontiguousarray(x1).reshape(-1), np.ascontiguousarray(x2).reshape(-1), lut, out)
        return out.reshape(x1.shape)

    @staticmethod
    def _add_lut(x1: np.ndarray, x2: np.ndarray, lut: np.ndarray, out: np.ndarray) -> None:
        """``out[i] = lut[(x1[i] + 128) * 256 + x2[i] + 128]`` over flat int8 arrays."""
        from rtlgen.emulate import _kernels

        _kernels.add_lut(x1, x2, lut, out)

    def _vtab(self, layer: MacLayer, plan: LayerPlan) -> tuple[np.ndarray, np.ndarray, int]:
        """``vtab[k, a, o]``: tap k's contribution to output channel o for activation code a
        (int16 where every value fits, else int32); cached by the plan's content (module docstring)."""
        from rtlgen.emulate.cache import plan_digest

        last = self._cache.get(("vtab", layer.op_index))  # the same plan object: every batch of a run
        if last is not None and last[0] is plan:
            return last[1:]
        key = (layer.op_index, plan_digest(plan))
        hit = self._vtabs.get(key)
        if hit is None:
            lut, uidx, base, a0 = _fold_luts(layer, plan)  # lut [256, U], uidx [K, O]
            vt = lut[:, uidx.astype(np.int64)]  # [256, K, O]
            lo, hi = int(vt.min(initial=0)), int(vt.max(initial=0))
            dt = np.int16 if -(1 << 15) <= lo and hi < (1 << 15) else np.int32
            vtab = np.ascontiguousarray(vt.transpose(1, 0, 2), dtype=dt)
            hit = (self._table_memory(layer, vtab), (base + layer.bias).astype(np.int32), a0)
            self._remember(key, hit)
        else:
            self._vtabs.move_to_end(key)
        self._cache[("vtab", layer.op_index)] = (plan,) + hit
        return hit

    def _table_memory(self, layer: MacLayer, vtab: np.ndarray) -> np.ndarray:
        """Where a layer's new ``vtab`` is kept: here, as it is."""
        return vtab

    def _remember(self, key: tuple, hit: tuple) -> None:
        """Keep a layer's tables ``(vtab, base, a0)`` in the LRU, within VTAB_CACHE_BYTES."""
        self._vtabs[key] = hit
        self._vtab_bytes += hit[0].nbytes
        while self._vtab_bytes > VTAB_CACHE_BYTES and len(self._vtabs) > 1:
            _, old = self._vtabs.popitem(last=False)
            self._vtab_bytes -= old[0].nbytes

    def _dw_exact(self, layer: MacLayer) -> tuple[np.ndarray, np.ndarray, int]:
        """An exact depthwise layer as :meth:`_vtab` tables over the codes ``x + 128``:
        ``[k, a, o] = (a - 128 - z) * w[o, k]``, 0 at the padding code ``z + 128``."""
        key = ("dw_exact", layer.op_index)
        if key not in self._cache:
            w = layer.weights.astype(np.int64).reshape(layer.channels_out, -1)  # [O, K]
            d = np.arange(256, dtype=np.int64) - 128 - layer.z_in
            vt = d[None, :, None] * w.T[:, None, :]  # [K, 256, O]
            dt = np.int16 if np.abs(vt).max(initial=0) < (1 << 15) else np.int32
            self._cache[key] = (np.ascontiguousarray(vt, dtype=dt), layer.bias.astype(np.int32), layer.z_in + 128)
        return self._cache[key]

    def accumulate(self, layer: MacLayer, x: np.ndarray, plan: LayerPlan | None) -> np.ndarray:
        """Accumulators (no bias): exact by one BLAS GEMM; approximate depthwise by the compiled
        gather; other approximate layers by the reference path (``output`` is the fast one)."""
        if plan is None:
            return self._exact(layer, x)
        if not layer.depthwise:
            return super().accumulate(layer, x, plan)
        from rtlgen.emulate import _kernels

        lut, uidx, base, a0 = _fold_luts(layer, plan)
        codes = _padded_codes(layer, x, _port_a_lut(x, layer.z_in, plan.encoding), np.uint8(a0))
        o, kh, kw, g = layer.weights.shape
        oh, ow, _ = layer.out_shape
        out = np.empty((x.shape[0], oh, ow, o), dtype=np.int32)
        _kernels.depthwise_lut(codes, lut, uidx, base, layer.in_channel0.astype(np.int32),
                               kh, kw, layer.stride[0], layer.stride[1], int(a0), out)
        return out

    def _exact(self, layer: MacLayer, x: np.ndarray) -> np.ndarray:
        key = ("gemm", layer.op_index)
        if key not in self._cache:
            dt = _exact_gemm_dtype(layer, layer.weights)
            wm = layer.weights.astype(dt).reshape(layer.channels_out, -1)
            self._cache[key] = (dt, np.ascontiguousarray(wm.T))
        dt, wmat = self._cache[key]
        n = x.shape[0]
        oh, ow, o_ch = layer.out_shape
        if layer.depthwise:
            p = im2col(layer, x)[..., layer.in_channel0].astype(np.int64) - layer.z_in
            return np.einsum("nyxijo,oij->nyxo", p, layer.weights[..., 0].astype(np.int64))
        xs = (x.astype(dt) - dt(layer.z_in)).reshape((n,) + layer.in_shape)
        cols = _im2col_float(xs, layer)
        return (cols @ wmat).astype(np.int32).reshape(n, oh, ow, o_ch)


_IDENTITY_INT8 = np.arange(-128, 128).astype(np.int8)
_IDENTITY_CODES = np.arange(256).astype(np.uint8)  # lut[x + 128] = x + 128


def _port_a_lut(x: np.ndarray, z: int, encoding: str) -> np.ndarray:
    """uint8 ``lut[x + 128]`` = :func:`activation_codes` of the int8 value ``x`` (same values,
    by one byte lookup); raises the encoding's own error where ``x`` has no code."""
    from rtlgen.emulate._kernels import min_int8

    if encoding == "signmag" and x.size and int(min_int8(np.ascontiguousarray(x).reshape(-1))) < z:
        activation_codes(x[x < z][:1], z, encoding)
    lut = activation_codes(np.arange(-128, 128), z, encoding) if encoding != "signmag" else \
        np.clip(np.arange(-128, 128) - z, 0, 255)
    return lut.astype(np.uint8)


def _padded_codes(layer: MacLayer, x: np.ndarray, lut: np.ndarray, pad_code) -> np.ndarray:
    """``lut`` applied to the layer input ``x`` (int8), spatially padded with ``pad_code``."""
    from rtlgen.emulate import _kernels

    xs = np.ascontiguousarray(x.reshape((x.shape[0],) + layer.in_shape))
    (pt, pb), (pl, pr) = layer.pads
    n, h, w, c = xs.shape
    out = np.empty((n, h + pt + pb, w + pl + pr, c), dtype=lut.dtype)
    _kernels.pad_codes(xs, lut, pt, pl, pad_code, out)
    return out


def _im2col_float(xs: np.ndarray, layer: MacLayer) -> np.ndarray:
    o, kh, kw, g = layer.weights.shape
    oh, ow, _ = layer.out_shape
    sh, sw = layer.stride
    (pt, pb), (pl, pr) = layer.pads
    n, h, w, c = xs.shape
    xp = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=xs.dtype)  # padding: x - z = 0
    xp[:, pt: pt + h, pl: pl + w] = xs
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=xs.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i: i + (oh - 1) * sh + 1: sh, j: j + (ow - 1) * sw + 1: sw]
    return cols.reshape(n * oh * ow, kh * kw * c)


def _fold_luts(layer: MacLayer, plan: LayerPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per-layer lookup rows so that ``acc[o] = base[o] + sum lut[A_k, uidx[k, o]]`` exactly.

    ``u`` enumerates the distinct (table, weight code B, sign) of the layer's taps; ``A_k`` runs
    over the taps whose activation code differs from the padding code ``a0`` (others add 0):
    ``lut[a, u] = s * (T[a, B] - T[a0, B]) + c(a)`` with ``c(a) = -128 * (a - a0)`` for
    ``offset`` (its data-dependent ``-128 * sum x`` term, split per tap) and 0 otherwise;
    ``base[o]`` collects ``sum_k s * T[a0, B_k]`` and the constant correction terms.
    """
    enc = plan.encoding
    z = layer.z_in
    w = plan.layer_weights(layer)
    b, s = weight_codes(w, enc)  # [O, KH, KW, G]
    o_ch = layer.channels_out
    tsel = np.broadcast_to(plan.select[:, None, None, :], b.shape)
    key = (tsel.astype(np.int64) * 256 + b) * 2 + (s < 0)
    ukeys, inv = np.unique(key.reshape(-1), return_inverse=True)
    ut, ub, uneg = ukeys // 512, (ukeys // 2) % 256, ukeys % 2
    us = np.where(uneg == 1, -1, 1)
    a0 = int(activation_codes(np.array([z]), z, enc)[0])
    tables = np.stack(plan.tables).astype(np.int64)
    cols = tables[ut, :, ub] * us[None, :].T  # [U, 256]: s * T[a, B]
    base_u = cols[:, a0]
    lut = (cols - base_u[:, None]).T  # [256, U]
    if enc == "offset":
        lut = lut - 128 * (np.arange(256)[:, None] - a0)
    if lut.size and (np.abs(lut).max() >= (1 << 31)):
        raise ValueError("lookup values exceed int32")
    uidx = inv.reshape(o_ch, -1)  # [O, K]
    sum_w = w.astype(np.int64).reshape(o_ch, -1).sum(axis=1)
    base = base_u[uidx].sum(axis=1) + correction(enc, z, layer.taps * z, sum_w, layer.taps)
    dtype = np.uint8 if len(ukeys) <= 256 else np.int32
    return (np.ascontiguousarray(lut, dtype=np.int32), np.ascontiguousarray(uidx.T, dtype=dtype),
            base.astype(np.int64), a0)


class NativeEngine(FastEngine):
    """``fast`` with the approximate conv layers' inner loop in C (:mod:`.native`): the same
    sums and the same requantization, so the same bytes (tested). Layers whose ``vtab`` needs
    int32, or whose table offsets exceed int32, take ``fast``'s kernel."""

    name = "native"

    def __init__(self) -> None:
        from rtlgen.emulate.native import add_native, conv_rows_native, depthwise_native

        super().__init__()
        self._kernel = conv_rows_native()
        self._dw_kernel = depthwise_native()
        self._add_lut = add_native()
        self._dw_bytes: OrderedDict[int, tuple] = OrderedDict()  # id(vtab) -> (vtab, its byte tables)

    @staticmethod
    def _native_conv(layer: MacLayer, vtab: np.ndarray) -> bool:
        """Whether the C row loop computes this conv layer: an int16 table whose offsets
        (:func:`rtlgen.emulate.native.position_offsets`, below the table's size plus a padded
        row's width times O) fit int32."""
        _, w, _ = layer.in_shape
        (pl, pr) = layer.pads[1]
        return vtab.dtype == np.int16 and vtab.size + (w + pl + pr) * layer.channels_out < (1 << 31)

    def _table_memory(self, layer: MacLayer, vtab: np.ndarray) -> np.ndarray:
        """A conv layer's table that the C loop reads goes in its layout
        (:func:`rtlgen.emulate.native.native_layout`), in huge-page memory, where the loop reads
        its rows at random (:func:`rtlgen.emulate.native.huge_page_table`); a depthwise layer's
        stays as it is (its kernel reads a byte-split copy, tap by tap), and so does a table the
        C loop cannot take (``fast``'s kernel reads it)."""
        from rtlgen.emulate.native import huge_page_table, native_layout

        if layer.depthwise or not self._native_conv(layer, vtab):
            return vtab
        _, kh, kw, _ = layer.weights.shape
        return huge_page_table(native_layout(vtab, kh, kw, layer.in_shape[2]))

    def _conv_exact(self, layer: MacLayer, x: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        """Exact conv layers through the same C loop as approximate ones, with the exact tables
        ``[k, a, o] = (a - 128 - z) * w[o, k]`` over the codes ``a = x + 128`` (always int16:
        |x - z| <= 255, |w| <= 128); the zero point's code ``z + 128`` adds nothing and is the
        padding code, so ReLU's zeros are skipped as in approximate layers."""
        key = (layer.op_index, b"exact")
        hit = self._vtabs.get(key)
        if hit is None:
            w = layer.weights.astype(np.int32).reshape(layer.channels_out, -1)  # [O, K]
            d = np.arange(256, dtype=np.int32) - 128 - layer.z_in
            vtab = np.ascontiguousarray((d[None, :, None] * w.T[:, None, :]).astype(np.int16))  # [K, 256, O]
            hit = (self._table_memory(layer, vtab), layer.bias.astype(np.int32), np.uint8(layer.z_in + 128))
            self._remember(key, hit)
        else:
            self._vtabs.move_to_end(key)
        vtab, base, a0 = hit
        self._conv_vtab(layer, x, _IDENTITY_CODES, a0, vtab, base, rq, out)

    def _depthwise(self, layer: MacLayer, x: np.ndarray, lut: np.ndarray, a0: np.uint8, vtab: np.ndarray,
                   base: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        from rtlgen.emulate import _kernels
        from rtlgen.emulate.native import depthwise_bytes, depthwise_fits

        _, kh, kw, _ = layer.weights.shape
        if self._dw_kernel is None or vtab.dtype != np.int16 or not depthwise_fits(kh, kw, layer.stride[1]):
            return super()._depthwise(layer, x, lut, a0, vtab, base, rq, out)

        # the C kernel reads one input channel's codes as a plane (padded, channel-planar codes
        # in one pass) and one output channel's tables as 256-byte rows (split once per table)
        hit = self._dw_bytes.get(id(vtab))
        if hit is None or hit[0] is not vtab:  # keyed by the table itself, which the entry keeps alive
            hit = self._dw_bytes[id(vtab)] = (vtab, depthwise_bytes(vtab))
            while len(self._dw_bytes) > 16:
                self._dw_bytes.popitem(last=False)
        else:
            self._dw_bytes.move_to_end(id(vtab))
        (pt, pb), (pl, pr) = layer.pads
        h, w, c = layer.in_shape
        codes = np.empty((x.shape[0], c, h + pt + pb, w + pl + pr), np.uint8)
        _kernels.pad_codes_planar(np.ascontiguousarray(x.reshape((x.shape[0],) + layer.in_shape)), lut, pt, pl, a0,
                                  codes)
        self._dw_kernel(codes, hit[1], base, layer.in_channel0.astype(np.int64), kh, kw, layer.stride[0],
                        layer.stride[1], *rq, out)

    def _conv_vtab(self, layer: MacLayer, x: np.ndarray, lut: np.ndarray, a0: np.uint8, vtab: np.ndarray,
                   base: np.ndarray, rq: tuple, out: np.ndarray) -> None:
        (pt, pb), (pl, pr) = layer.pads
        if not self._native_conv(layer, vtab):  # then _table_memory kept fast's layout
            return super()._conv_vtab(layer, x, lut, a0, vtab, base, rq, out)
        _, kh, kw, _ = layer.weights.shape
        xs = x.reshape((x.shape[0],) + layer.in_shape)
        sh, sw = layer.stride
        if kh == kw == 1 and pt == pb == pl == pr == 0 and (sh, sw) != (1, 1):
            # a strided 1x1 conv reads every sh-th row and sw-th column only: drop the others
            # before the kernel compacts the input (ResNet-8's shortcut convolutions)
            xs, sh, sw = xs[:, ::sh, ::sw][:, :out.shape[1], :out.shape[2]], 1, 1
        self._kernel(np.ascontiguousarray(xs), np.ascontiguousarray(lut), (pt, pb, pl, pr), a0,
                     np.ascontiguousarray(vtab), base, kh, kw, sh, sw, *rq, out)


#: The registry; its keys are :data:`rtlgen.conventions.ENGINE_NAMES` (tests/test_conventions.py checks).
ENGINES: dict[str, type] = {cls.name: cls for cls in (ReferenceEngine, FastEngine, NativeEngine)}


def choose_engine() -> tuple[str, str]:
    """``(name, line)``: the engine ``"auto"`` stands for and one line saying which and why.
    ``native`` when its C kernel builds and loads (:func:`rtlgen.emulate.native.native_status`,
    checked once per process; the build is cached on disk), ``fast`` otherwise."""
    from rtlgen.emulate.native import native_status

    ok, why = native_status()
    if ok:
        return "native", f"emulation engine: native ({why})"
    return "fast", f"emulation engine: fast, not native ({why})"


def get_engine(name: str = DEFAULT_ENGINE):
    """A new engine of registry name ``name``, or of :func:`choose_engine`'s for ``"auto"``
    (whose line goes to the ``rtlgen.emulate`` logger at INFO, once per process)."""
    global _ANNOUNCED
    check_name("emulation engine", name)
    if name == "auto":
        name, line = choose_engine()
        if not _ANNOUNCED:
            _log.info(line)
            _ANNOUNCED = True
    return ENGINES[name]()
