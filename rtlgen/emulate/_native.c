/* Accumulation of an approximate conv layer for the ``native`` engine (rtlgen/emulate/native.py).

   The same arithmetic as conv_rows in _kernels.py (approximate branch, int16 tables): for every
   output pixel, the accumulator starts at base[o] and adds, for every tap k of its window whose
   port-A code a is not the padding code a0, the row vtab[k, a, 0..O) (int16, sign, corrections
   and the padding baseline folded in). int32 accumulation wraps as in hardware (compiled with
   -fwrapv, which defines signed overflow as wrapping modulo 2^32), so the order of the additions does not
   matter and the result equals the numba kernel's bit for bit.

   Layouts (C order): codes uint8 [n, hp, wp, c] (padded); vtab int16 [kh*kw*c, 256, o] with taps
   k = (i*kw + j)*c + ci; base int32 [o]; acc int32 [n, oh, ow, o].

   Why C: the inner loop keeps one pixel's accumulators in registers over its window (a fixed
   O of 16, 32 or 64 lets the compiler unroll and vectorize it), which numba does not do; see
   benchmarks/RESULTS.md, "Emulation speed". */
#include <stdint.h>

#define ROWS(O)                                                                                    \
    static void rows_##O(const int16_t *restrict tab, const int32_t *restrict pre,                \
                         const int32_t *restrict start, int64_t ow, int64_t kw, int64_t sw,       \
                         int64_t d0, int64_t dx, int32_t *restrict accs, int64_t as) {            \
        for (int64_t x = 0; x < ow; x++) {                                                         \
            int32_t acc[O];                                                                       \
            int32_t *a = accs + x * as;                                                           \
            for (int o = 0; o < O; o++) acc[o] = a[o];                                             \
            const int64_t d = d0 - x * dx;                                                         \
            const int64_t e1 = start[x * sw + kw];                                                 \
            for (int64_t e = start[x * sw]; e < e1; e++) {                                         \
                const int16_t *restrict row = tab + pre[e] + d;                                    \
                for (int o = 0; o < O; o++) acc[o] += row[o];                                      \
            }                                                                                      \
            for (int o = 0; o < O; o++) a[o] = acc[o];                                             \
        }                                                                                          \
    }
ROWS(8)
ROWS(16)
ROWS(32)
ROWS(64)

static void rows_any(const int16_t *restrict tab, const int32_t *restrict pre,
                     const int32_t *restrict start, int64_t ow, int64_t kw, int64_t sw, int64_t d0,
                     int64_t dx, int32_t *restrict accs, int64_t O) {
    for (int64_t x = 0; x < ow; x++) {
        int32_t *restrict a = accs + x * O;
        const int64_t d = d0 - x * dx;
        for (int64_t e = start[x * sw]; e < start[x * sw + kw]; e++) {
            const int16_t *restrict row = tab + pre[e] + d;
            for (int64_t o = 0; o < O; o++) a[o] += row[o];
        }
    }
}

/* One output row's accumulation over one of its input rows (already compacted, see
   rtlgen_compact_row: pre[e] = table offset of entry e's (column, channel, code), start[col] =
   first entry of column col within one channel block): pixel x adds the rows
   tab[pre[e] + d0 - x*dx ..] of the entries of columns x*sw .. x*sw+kw-1 to accs[x*o ..].
   More than 64 channels, a multiple of 64: blocks of 64 (one pixel's 64 accumulators stay in
   registers; 128 would spill). Pointers travel as integers (numba passes addresses). */
void rtlgen_rows_i16(uintptr_t tab, uintptr_t pre, uintptr_t start, int64_t ow, int64_t kw, int64_t sw,
                     int64_t d0, int64_t dx, uintptr_t accs, int64_t o) {
    const int16_t *t = (const int16_t *)tab;
    const int32_t *p = (const int32_t *)pre, *st = (const int32_t *)start;
    int32_t *a = (int32_t *)accs;
    switch (o) {
    case 8: rows_8(t, p, st, ow, kw, sw, d0, dx, a, o); return;
    case 16: rows_16(t, p, st, ow, kw, sw, d0, dx, a, o); return;
    case 32: rows_32(t, p, st, ow, kw, sw, d0, dx, a, o); return;
    case 64: rows_64(t, p, st, ow, kw, sw, d0, dx, a, o); return;
    }
    if (o % 64 == 0) {
        for (int64_t ob = 0; ob < o; ob += 64) rows_64(t + ob, p, st, ow, kw, sw, d0, dx, a + ob, o);
        return;
    }
    rows_any(t, p, st, ow, kw, sw, d0, dx, a, o);
}

/* Row yy of a layer's padded input compacted straight from the int8 input (see rtlgen_rows_i16):
   x points at input row yy - pt, or is 0 for a padding row; a code is lut[x + 128] inside, the
   padding code a0 outside; entries whose code is a0 are left out: pre[e] = (column * c + channel)
   * step + code * o. Entries go by channel block (cb channels each; cb = c: one block), then
   column, then channel: start[b * (wp + 1) + col] is the first entry of padded column col in
   block b, start[b * (wp + 1) + wp] the end of block b, so a window's entries within one
   block are one contiguous range. */
void rtlgen_compact_row(uintptr_t x_, int64_t w, int64_t c, int64_t pl, int64_t wp, uintptr_t lut_,
                        int64_t a0, int64_t step, int64_t o, uintptr_t pre_, uintptr_t start_, int64_t cb) {
    const int8_t *x = (const int8_t *)x_;
    const uint8_t *lut = (const uint8_t *)lut_;
    int32_t *pre = (int32_t *)pre_, *start = (int32_t *)start_;
    int32_t m = 0;
    for (int64_t c0 = 0, b = 0; c0 < c; c0 += cb, b++) {
        const int64_t c1 = c0 + cb < c ? c0 + cb : c;
        int32_t *st = start + b * (wp + 1);
        for (int64_t col = 0; col < wp; col++) {
            st[col] = m;
            const int64_t j = col - pl;
            if (!x || j < 0 || j >= w) continue;
            for (int64_t ci = c0; ci < c1; ci++) {
                const int64_t a = lut[x[j * c + ci] + 128];
                pre[m] = (int32_t)((col * c + ci) * step + a * o);
                m += a != a0;
            }
        }
        st[wp] = m;
    }
}
