"""The ``native`` engine's C kernel: compiled on first use, loaded with ctypes.

``_native.c`` (beside this file) holds the inner loop of conv layers whose ``vtab`` fits int16
(every EvoApprox and generated 8x8 multiplier's does, and every exact int8 layer's), its table
in :func:`native_layout`: one output row's table-row additions over one compacted input row
(``rtlgen_rows_i16``; for 3x3 stride-1 layers of 16 and 32 channels a loop over the input
columns instead, and for 16 channels ``rtlgen_rows_k33_16``, one input row into the three output
rows it reaches); the sums' start (``rtlgen_fill``); the requantization of a block of sums
(``rtlgen_requant``, vectorized with AVX-512); an ADD's table lookup (:func:`add_native`); and,
on CPUs with AVX-512 VBMI, a depthwise kernel (:func:`depthwise_native`). Layers whose table
exceeds :func:`block_budget` go in blocks of input channels (:func:`channel_block`): each chunk of
output rows adds one block's taps before the next, so the block's table rows stay in L2.
:func:`conv_rows_native` is ``_kernels.conv_rows`` (approximate branch) with those loops swapped
in: the same compaction (each input row once per image, not once per output row), the same
requantization arithmetic after each output row, so the same bytes (tested); the engine is
:class:`rtlgen.emulate.engines.NativeEngine`. The requantization parameters (``mult``, ``shift``)
travel to C as pointers: contiguous int64 arrays, as the engine makes them.

Build: ``$CC`` (default ``cc``) with ``-O3 -march=native -fwrapv -shared -fPIC`` into
``$RTLGEN_CACHE/native`` (default ``~/.cache/rtlgen/native``), the file named after a hash of
the source, the compiler's version, the flags and the CPU's model and flags (``-march=native``
code must not run on another CPU), written atomically. No compiler, or a failed compile, raises
:class:`~rtlgen.errors.ToolError` naming the command; the ``fast`` engine needs none.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import mmap
import os
import platform
import shlex
import subprocess
import threading
from pathlib import Path

from rtlgen.errors import ToolError

__all__ = ["load_native", "native_library_path", "conv_rows_native", "add_native", "depthwise_native",
           "depthwise_fits", "huge_page_table", "native_status"]

_SOURCE = Path(__file__).with_name("_native.c")
_FLAGS = ("-O3", "-march=native", "-mprefer-vector-width=512", "-fwrapv", "-shared", "-fPIC", "-std=c99")
_LIB: ctypes.CDLL | None = None
_KERNEL = None
_STATUS: tuple[bool, str] | None = None


def _compiler() -> list[str]:
    return shlex.split(os.environ.get("CC", "cc"))


def _cpu_id() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    keep = [line for line in text.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(keep)))


def native_library_path() -> Path:
    """Where the compiled kernel for this source, compiler and CPU lives (or will)."""
    cc = _compiler()
    try:
        version = subprocess.run(cc + ["--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"the native emulation engine needs a C compiler: '{' '.join(cc)} --version' failed "
                        f"({exc}); install one (Debian: apt-get install gcc) or set CC, or use engine 'fast'") from None
    key = hashlib.sha256("\0".join([_SOURCE.read_text(), version, " ".join(_FLAGS), _cpu_id()]).encode()).hexdigest()
    root = Path(os.environ.get("RTLGEN_CACHE", Path.home() / ".cache" / "rtlgen")) / "native"
    return root / f"rtlgen_native_{key[:16]}.so"


def load_native() -> ctypes.CDLL:
    """The kernel library (compiled if this machine has no build of this source yet)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    path = native_library_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        cmd = _compiler() + list(_FLAGS) + ["-o", str(tmp), str(_SOURCE)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ToolError(f"compiling the native emulation kernel failed: {' '.join(cmd)}: {exc}") from None
        if res.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise ToolError(f"compiling the native emulation kernel failed (exit {res.returncode}): "
                            f"{' '.join(cmd)}\n{res.stderr[-2000:]}")
        os.replace(tmp, path)
    lib = ctypes.CDLL(str(path))
    fn = lib.rtlgen_rows_i16
    i64, u64 = ctypes.c_int64, ctypes.c_uint64
    fn.argtypes = [u64, u64, u64, i64, i64, i64, i64, i64, u64, i64]
    fn.restype = None
    cmp = lib.rtlgen_compact_row
    cmp.argtypes = [u64, i64, i64, i64, i64, u64, i64, u64, i64, u64, u64, i64]
    cmp.restype = None
    rq = lib.rtlgen_requant
    rq.argtypes = [u64, i64, i64, u64, u64, i64, i64, i64, i64, u64]
    rq.restype = None
    fill = lib.rtlgen_fill
    fill.argtypes = [u64, i64, i64, u64]
    fill.restype = None
    add = lib.rtlgen_add_lut
    add.argtypes = [u64, u64, u64, u64, i64]
    add.restype = None
    k33 = lib.rtlgen_rows_k33_16
    k33.argtypes = [u64, u64, u64, i64, u64, u64, u64]
    k33.restype = i64
    dw = lib.rtlgen_dw_plane
    dw.argtypes = [u64, i64, u64, i64, i64, i64, i64, i64, i64, i64, u64, i64, u64]
    dw.restype = i64
    _LIB = lib
    return lib


def native_status() -> tuple[bool, str]:
    """``(True, how)`` when the kernel library is built (or already cached) and loads on this
    machine, ``(False, why not)`` otherwise; checked once per process, the answer kept (a
    compiler installed later counts from the next process on)."""
    global _STATUS
    if _STATUS is None:
        try:
            path = load_native()._name
            _STATUS = (True, f"C kernel {Path(path).name} built with '{' '.join(_compiler())}'")
        except (ToolError, OSError) as exc:  # OSError: built, but the loader refused it
            _STATUS = (False, str(exc).splitlines()[0])
    return _STATUS


#: Bytes of int16 table rows (taps x 256 codes x output channels) one channel block of a 1x1
#: layer stays below: a core's L2 on the machines measured (2 MB; DS-CNN's 1x1 layers were 3%
#: slower with 4); wider kernels get twice as much (:func:`block_budget`).
#: RTLGEN_NATIVE_BLOCK_KB overrides it (for such measurements).
BLOCK_BYTES = int(os.environ.get("RTLGEN_NATIVE_BLOCK_KB", "2048")) * 1024
#: Bytes of int32 accumulators (output rows of the batch) that go through all channel blocks
#: together before the next rows: small beside the block's table, large enough that each
#: table row fetched serves many pixels.
CHUNK_BYTES = 256 * 1024


#: Tables from this size on go in huge-page memory (:func:`huge_page_table`).
HUGE_PAGE_FROM = 128 * 1024
_HUGE = 2 << 20


def huge_page_table(a):
    """A copy of the table ``a`` in memory the kernel is asked to back with 2 MB pages
    (``madvise(MADV_HUGEPAGE)``, which Linux honours where transparent huge pages are
    ``madvise`` or ``always``), or ``a`` itself when it is smaller than :data:`HUGE_PAGE_FROM`
    or this system has no ``MADV_HUGEPAGE``. Why: the conv loop reads rows at random across
    tables of 0.2 to 19 MB, 50 to 4,600 pages of 4 KB, more than the data TLB holds; ResNet-8
    ran 7% faster with every table in them (the two engines alternating in one process,
    medians of seven runs: 3,302 against 3,086 images/s; benchmarks/RESULTS.md, "Emulation
    speed"). Smaller tables stay as they are: each copy takes whole 2 MB pages. A kernel that
    refuses the advice leaves the copy on ordinary pages. The copy's memory lives as long as the
    array (numpy keeps the mapping as its base)."""
    import numpy as np

    if a.nbytes < HUGE_PAGE_FROM or not hasattr(mmap, "MADV_HUGEPAGE"):
        return a
    size = -(-a.nbytes // _HUGE) * _HUGE + _HUGE  # room to start on a 2 MB boundary
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        m.madvise(mmap.MADV_HUGEPAGE)
    except OSError:  # a kernel built without transparent huge pages: the same bytes on small pages
        pass
    buf = np.frombuffer(m, np.uint8)
    off = -buf.ctypes.data % _HUGE
    out = buf[off: off + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def native_layout(vtab, kh: int, kw: int, c: int):
    """A conv layer's table ``vtab`` int16 ``[K, 256, O]`` (taps ``k = (i * kw + j) * c + ci``, as
    the ``fast`` engine keeps it) in the layout the C loops read: ``[c, 256, kh, kw, O]``, so that
    the row of tap (i, j, ci) and code a starts at ``(((ci * 256 + a) * kh + i) * kw + j) * O``:
    the kh * kw rows of one input entry (channel, code) are adjacent. Why: the entry at input
    column col and row r reaches output pixel ``x = col - j`` (stride 1) and output row
    ``r - i``, so the pixels that read one entry one after another read neighbouring rows (the
    same or the next cache line, against a different line for every use in ``[K, 256, O]``),
    and the input-stationary loops read all of an entry's rows at once. ResNet-8 took 252-254
    against 268-274 ms per 1,000 images with the kernel-column rows adjacent (per-layer timing,
    the two layouts alternating; benchmarks/RESULTS.md, "Emulation speed"). The compaction's
    offsets follow from it (:func:`position_offsets`); kernel row i adds ``i * kw * O``, output
    pixel x subtracts ``x * sw * O``."""
    import numpy as np

    o = vtab.shape[2]
    return np.ascontiguousarray(vtab.reshape(kh, kw, c, 256, o).transpose(2, 3, 0, 1, 4))


@functools.lru_cache(maxsize=64)
def position_offsets(wp: int, c: int, kh: int, kw: int, o: int):
    """int32 ``[wp * c + 16]``: for position ``p = col * c + ci`` of a padded input row, the
    offset in :func:`native_layout` of its code-0 row seen from output pixel 0 and kernel row 0
    (``col * O + ci * 256 * kh * kw * O``); a code adds ``code * kh * kw * O``. 16 more entries
    of slack (the vector compaction loads 16 lanes, masked). Computed once per layer shape (read
    only: every batch of every layer of that shape shares it)."""
    import numpy as np

    p = np.arange(wp * c + 16, dtype=np.int64)
    out = ((p // c) * o + (p % c) * (256 * kh * kw * o)).astype(np.int32)
    out.flags.writeable = False
    return out


def block_budget(kh: int, kw: int) -> int:
    """The table bytes one channel block stays below: :data:`BLOCK_BYTES` for a 1x1 kernel,
    twice that for wider ones, whose rows each serve kw pixels in turn (and, in the
    input-stationary loops, kh output rows), so a block's rows stay useful for longer than one
    pass. Measured (benchmarks/RESULTS.md, "Emulation speed"; the engines alternating in one
    process, medians of 21 runs): ResNet-8 4,478 images/s with 4 MB, 4,444 with 6, 4,326 with 2,
    4,304 with 10, 4,235 unblocked; DS-CNN's 2 MB 1x1 tables 6,695 against 6,492 with a 4 MB
    budget for every kernel (medians of 11)."""
    return BLOCK_BYTES if kh * kw == 1 else 2 * BLOCK_BYTES


def channel_block(kh: int, kw: int, c: int, o: int) -> int:
    """Input channels per block of :func:`conv_rows_native`'s blocked order: the fewest blocks of
    equal size (the last may be smaller) whose table (``kh * kw * cb * 256 * o`` int16) stays
    below :func:`block_budget`, so that the rest of a core's working set has room beside it; ``c``
    (one block, the plain row order) when the whole table does. Measured (benchmarks/RESULTS.md,
    "Emulation speed"): DS-CNN, whose 1x1 layers' tables are exactly 2 MB, took 139 ms per 1,000
    inputs with them in two blocks of 1 MB against 170 in one (medians of five runs)."""
    per_channel = kh * kw * 256 * o * 2
    budget = block_budget(kh, kw)
    nblk = -(-c * per_channel // budget)
    while -(-c // nblk) > 1 and -(-c // nblk) * per_channel >= budget:
        nblk += 1
    return -(-c // nblk)


_SCRATCH = threading.local()


def scratch_int32(name: str, rows: int, cols: int):
    """An int32 ``[rows, cols]`` work array that this thread reuses from call to call (its
    contents are whatever the last call left). Why: a fresh ``np.empty`` of several MB comes
    from ``mmap``, and the kernel's first write to each page then faults it in and zeroes it;
    ResNet-8's compaction buffers are up to 10 MB a layer and batch, and reusing them made the
    network about 5% faster (benchmarks/RESULTS.md, "Emulation speed"). One buffer per name and
    thread, grown to the largest size asked for; threads get their own (Dask's threaded
    scheduler may run two emulations at once)."""
    import numpy as np

    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None:
        bufs = _SCRATCH.bufs = {}
    size = rows * cols
    buf = bufs.get(name)
    if buf is None or buf.size < size:
        buf = bufs[name] = np.empty(size, np.int32)
    return buf[:size].reshape(rows, cols)


def conv_rows_native():
    """The compiled conv kernel (numba around the C loop; built once per process, since numba
    cannot cache a function that calls a library loaded at run time)."""
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import numba as nb
    import numpy as np

    rows_i16 = load_native().rtlgen_rows_i16
    requant = load_native().rtlgen_requant

    compact_row = load_native().rtlgen_compact_row
    rows_k33 = load_native().rtlgen_rows_k33_16
    fill = load_native().rtlgen_fill
    probe = np.zeros(64, np.int32)
    has_k33 = rows_k33(probe.ctypes.data, probe.ctypes.data, probe.ctypes.data, 0, probe.ctypes.data,
                       probe.ctypes.data, probe.ctypes.data) == 1

    @nb.njit(parallel=True, boundscheck=False)
    def compact_all(x, lut, pt, pl, hp, wp, a0, posoff, per_code, pre, start, cb):  # pragma: no cover - compiled
        n, h, w, c = x.shape
        xptr, lptr, prow, srow = x.ctypes.data, lut.ctypes.data, pre.shape[1] * 4, start.shape[1] * 4
        optr = posoff.ctypes.data
        for r in nb.prange(n * hp):
            img = r // hp
            y = r % hp - pt
            src = xptr + ((img * h + y) * w) * c if 0 <= y < h else 0
            compact_row(src, w, c, pl, wp, lptr, a0, optr, per_code, pre.ctypes.data + r * prow,
                        start.ctypes.data + r * srow, cb)

    @nb.njit(parallel=True, boundscheck=False)
    def rows(pre, start, hp, vtab, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
        n, oh, ow, o_ch = out.shape
        di, dx = kw * o_ch, sw * o_ch  # kernel row i starts at i * di; pixel x reads at -x * dx
        one = 1 if single else 0  # an integer for the C function
        optr = out.ctypes.data
        tptr = vtab.ctypes.data
        prow, srow = pre.shape[1] * 4, start.shape[1] * 4
        for img in nb.prange(n):
            accs = np.empty(ow * o_ch, dtype=np.int32)  # one output row's sums
            for y in range(oh):
                fill(accs.ctypes.data, ow, o_ch, base.ctypes.data)
                for i in range(kh):
                    ir = img * hp + y * sh + i
                    rows_i16(tptr, pre.ctypes.data + ir * prow, start.ctypes.data + ir * srow, ow, kw, sw, i * di,
                             dx, accs.ctypes.data, o_ch)
                requant(accs.ctypes.data, ow, o_ch, mult.ctypes.data, shift.ctypes.data, one, zp, lo, hi,
                        optr + (img * oh + y) * ow * o_ch)

    @nb.njit(parallel=True, boundscheck=False)
    def rows_blocked(pre, start, hp, nblk, chunk, vtab, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi,
                     out):  # pragma: no cover - compiled
        """``rows`` with the channel blocks outside the rows of a chunk (``chunk`` output rows,
        whose accumulators stay in L2): every row of the chunk adds one block's taps before the
        next block starts, so that block's table rows stay in cache. One parallel loop over the
        chunks (a barrier per block would stall on a busy machine)."""
        n, oh, ow, o_ch = out.shape
        di, dx = kw * o_ch, sw * o_ch  # as in rows
        one = 1 if single else 0  # an integer for the C function
        optr = out.ctypes.data
        tptr = vtab.ctypes.data
        prow, srow, wp1 = pre.shape[1] * 4, start.shape[1] * 4, start.shape[1] // nblk
        nrows = n * oh
        for ch in nb.prange((nrows + chunk - 1) // chunk):
            r0 = ch * chunk
            r1 = min(nrows, r0 + chunk)
            accs = np.empty((r1 - r0, ow * o_ch), dtype=np.int32)
            fill(accs.ctypes.data, (r1 - r0) * ow, o_ch, base.ctypes.data)
            for b in range(nblk):
                for r in range(r0, r1):
                    img = r // oh
                    y = r % oh
                    for i in range(kh):
                        ir = img * hp + y * sh + i
                        rows_i16(tptr, pre.ctypes.data + ir * prow, start.ctypes.data + ir * srow + b * wp1 * 4,
                                 ow, kw, sw, i * di, dx, accs[r - r0].ctypes.data, o_ch)
            for r in range(r0, r1):
                requant(accs[r - r0].ctypes.data, ow, o_ch, mult.ctypes.data, shift.ctypes.data, one, zp, lo, hi,
                        optr + r * ow * o_ch)

    @nb.njit(parallel=True, boundscheck=False)
    def rows_33(pre, start, hp, vtab, base, mult, shift, single, zp, lo, hi, out):  # pragma: no cover - compiled
        """``rows`` for 3x3, stride-1, 16-channel layers in one block, input row by input row
        (rtlgen_rows_k33_16): an image's sums stay in one buffer while its input rows pass, and
        output row y is requantized once input row y + 2 has added its part."""
        n, oh, ow, o_ch = out.shape
        one = 1 if single else 0  # an integer for the C function
        optr = out.ctypes.data
        tptr = vtab.ctypes.data
        prow, srow = pre.shape[1] * 4, start.shape[1] * 4
        pitch = ow * o_ch * 4  # bytes of one output row's sums
        for img in nb.prange(n):
            acc = np.empty((oh + 1, ow * o_ch), dtype=np.int32)  # row oh: sink for rows outside the map
            fill(acc.ctypes.data, oh * ow, o_ch, base.ctypes.data)
            row0 = acc.ctypes.data
            sink = row0 + oh * pitch
            for r in range(hp):
                p0 = row0 + r * pitch if r < oh else sink
                p1 = row0 + (r - 1) * pitch if 0 <= r - 1 < oh else sink
                p2 = row0 + (r - 2) * pitch if 0 <= r - 2 < oh else sink
                ir = img * hp + r
                rows_k33(tptr, pre.ctypes.data + ir * prow, start.ctypes.data + ir * srow, ow, p0, p1, p2)
                if p2 != sink:  # output row r - 2 has all three of its input rows
                    requant(p2, ow, o_ch, mult.ctypes.data, shift.ctypes.data, one, zp, lo, hi,
                            optr + ((img * oh) + r - 2) * ow * o_ch)

    def kernel(x, lut, pads, a0, vtab, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):
        """``x`` int8 [N, H, W, C], ``lut`` uint8 [256] its port-A codes, ``pads`` (top, bottom,
        left, right), ``vtab`` in :func:`native_layout`; the rest as ``_kernels.conv_rows``
        (approximate branch)."""
        n, h, w, c = x.shape
        pt, pb, pl, pr = pads
        hp, wp = h + pt + pb, w + pl + pr
        base = np.ascontiguousarray(base, dtype=np.int32)  # rtlgen_fill copies int32 rows
        o_ch = out.shape[3]
        cb = channel_block(kh, kw, c, o_ch)
        nblk = -(-c // cb)
        pre = scratch_int32("pre", n * hp, wp * c + 16)  # 16 entries of slack per row: rtlgen_compact_row
        start = scratch_int32("start", n * hp, nblk * (wp + 1))
        posoff = position_offsets(wp, c, kh, kw, o_ch)
        compact_all(x, lut, pt, pl, hp, wp, np.int64(a0), posoff, kh * kw * o_ch, pre, start, cb)
        if nblk == 1 and has_k33 and o_ch == 16 and kh == kw == 3 and sh == sw == 1 and out.shape[1] == hp - 2:
            rows_33(pre, start, hp, vtab, base, mult, shift, single, zp, lo, hi, out)
        elif nblk == 1:
            rows(pre, start, hp, vtab, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out)
        else:
            chunk = max(1, CHUNK_BYTES // (out.shape[2] * o_ch * 4))
            rows_blocked(pre, start, hp, nblk, chunk, vtab, base, kh, kw, sh, sw, mult, shift, single, zp, lo, hi,
                         out)

    _KERNEL = kernel
    return kernel


_ADD = None


def add_native():
    """The compiled ADD lookup: ``fn(x1, x2, lut, out)`` over flat int8 arrays, as
    ``_kernels.add_lut`` (the C loop ``rtlgen_add_lut`` on blocks of 16,384 elements, in
    parallel)."""
    global _ADD
    if _ADD is not None:
        return _ADD
    import numba as nb

    fn = load_native().rtlgen_add_lut

    @nb.njit(parallel=True, boundscheck=False)
    def run(x1, x2, lut, out):  # pragma: no cover - compiled
        n = x1.shape[0]
        for b in nb.prange((n + 16383) // 16384):
            lo = b * 16384
            fn(x1.ctypes.data + lo, x2.ctypes.data + lo, lut.ctypes.data, out.ctypes.data + lo,
               min(n, lo + 16384) - lo)

    _ADD = run
    return run


_DEPTHWISE = None


def depthwise_bytes(vtab):
    """``vtab`` int16 [K, 256, O] as ``rtlgen_dw_plane`` reads it: uint8 [O, K, 2, 256], the low
    byte and the high byte + 128 of each entry (see _native.c)."""
    import numpy as np

    t = vtab.transpose(2, 0, 1).astype(np.int32)  # [O, K, 256]
    return np.ascontiguousarray(np.stack([t & 0xFF, (t >> 8) + 128], axis=2).astype(np.uint8))


def depthwise_fits(kh: int, kw: int, sw: int) -> bool:
    """Whether ``rtlgen_dw_plane`` computes a depthwise layer of this kernel and column stride:
    16-bit byte sums hold 256 taps (255 each at most), and it reads columns at stride 1 or 2."""
    return kh * kw <= 256 and sw <= 2


def depthwise_native():
    """The compiled depthwise kernel, or None where this build of the C library has no vector
    path for it (``rtlgen_dw_plane`` returns 0 without AVX-512 BW/VBMI): ``fn(codes, tabs, base,
    in0, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out)`` with ``codes`` uint8 [N, C, HP, WP]
    (the padded port-A codes, channel-planar), ``tabs`` uint8 [O, KH * KW, 2, 256] (``_vtab``'s
    int16 tables, output channel first, split in bytes: :func:`depthwise_bytes`), for layers
    :func:`depthwise_fits` accepts. The same sums and requantization as ``_kernels.depthwise_rows``."""
    global _DEPTHWISE
    if _DEPTHWISE is not None:
        return _DEPTHWISE or None
    import numba as nb
    import numpy as np

    plane = load_native().rtlgen_dw_plane
    requant = load_native().rtlgen_requant
    probe = np.zeros((3, 3), np.uint8)
    if plane(probe.ctypes.data, 3, np.zeros((1, 2, 256), np.uint8).ctypes.data, 1, 1, 1, 1, 3, 3, 0,
             np.zeros(9, np.int32).ctypes.data, 1, np.zeros(3 * 3 + 64, np.int32).ctypes.data) == 0:
        _DEPTHWISE = False
        return None

    @nb.njit(parallel=True, boundscheck=False)
    def run(codes, tabs, base, in0, kh, kw, sh, sw, mult, shift, single, zp, lo, hi, out):  # pragma: no cover
        n, c, hp, wp = codes.shape
        _, oh, ow, o_ch = out.shape
        cptr, tptr = codes.ctypes.data, tabs.ctypes.data
        one = 1 if single else 0  # an integer for the C function
        optr = out.ctypes.data
        m = oh * ow * o_ch
        for img in nb.prange(n):  # one image's sums (oh * ow * O int32) stay in cache for all channels
            acc = np.empty(m, np.int32)
            flat = np.empty(oh * wp + 64, np.int32)
            for o in range(o_ch):
                plane(cptr + (img * c + in0[o]) * hp * wp, wp, tptr + o * kh * kw * 512, kh, kw, sh, sw, oh, ow,
                      base[o], acc.ctypes.data + o * 4, o_ch, flat.ctypes.data)
            requant(acc.ctypes.data, oh * ow, o_ch, mult.ctypes.data, shift.ctypes.data, one, zp, lo, hi,
                    optr + img * m)

    _DEPTHWISE = run
    return run
