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
#ifdef __AVX512F__
#include <immintrin.h>
#endif

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
   block are one contiguous range.

   With AVX-512 VBMI (this file is compiled with -march=native), 16 channels at a time: two
   128-byte permutes look the codes up, a compare finds the entries to keep, and a compress packs
   them; it stores 16 lanes where fewer are kept, so pre needs 16 entries of slack (the caller's
   buffer has them). The scalar loop below is the same computation, one channel at a time. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
#define RTLGEN_COMPACT_SIMD 1
#else
#define RTLGEN_COMPACT_SIMD 0
#endif

void rtlgen_compact_row(uintptr_t x_, int64_t w, int64_t c, int64_t pl, int64_t wp, uintptr_t lut_,
                        int64_t a0, int64_t step, int64_t o, uintptr_t pre_, uintptr_t start_, int64_t cb) {
    const int8_t *x = (const int8_t *)x_;
    const uint8_t *lut = (const uint8_t *)lut_;
    int32_t *pre = (int32_t *)pre_, *start = (int32_t *)start_;
    int32_t m = 0;
#if RTLGEN_COMPACT_SIMD
    const __m512i lut_lo = _mm512_loadu_si512(lut), lut_hi = _mm512_loadu_si512(lut + 64);
    const __m512i lut_lo2 = _mm512_loadu_si512(lut + 128), lut_hi2 = _mm512_loadu_si512(lut + 192);
    const __m512i lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32((int32_t)step));
    const __m512i a0v = _mm512_set1_epi32((int32_t)a0), ov = _mm512_set1_epi32((int32_t)o);
    const __m128i flip = _mm_set1_epi8((char)0x80);
#endif
    for (int64_t c0 = 0, b = 0; c0 < c; c0 += cb, b++) {
        const int64_t c1 = c0 + cb < c ? c0 + cb : c;
        int32_t *st = start + b * (wp + 1);
        for (int64_t col = 0; col < wp; col++) {
            st[col] = m;
            const int64_t j = col - pl;
            if (!x || j < 0 || j >= w) continue;
#if RTLGEN_COMPACT_SIMD
            for (int64_t ci = c0; ci < c1; ci += 16) {
                const int64_t left = c1 - ci;
                const __mmask16 lm = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                /* index x + 128 as a byte: flip the sign bit; bit 7 picks the upper 128 entries */
                const __m128i idx = _mm_xor_si128(_mm_maskz_loadu_epi8(lm, x + j * c + ci), flip);
                const __m512i ix = _mm512_castsi128_si512(idx);
                const __m512i lo = _mm512_permutex2var_epi8(lut_lo, ix, lut_hi);
                const __m512i hi = _mm512_permutex2var_epi8(lut_lo2, ix, lut_hi2);
                const __m128i code = _mm_mask_blend_epi8(_mm_movepi8_mask(idx), _mm512_castsi512_si128(lo),
                                                         _mm512_castsi512_si128(hi));
                const __m512i a = _mm512_cvtepu8_epi32(code);
                const __mmask16 keep = _mm512_mask_cmpneq_epi32_mask(lm, a, a0v);
                const __m512i v = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32((int32_t)((col * c + ci) * step)), lanes),
                                                   _mm512_mullo_epi32(a, ov));
                _mm512_storeu_si512(pre + m, _mm512_maskz_compress_epi32(keep, v));
                m += __builtin_popcount((unsigned)keep);
            }
#else
            for (int64_t ci = c0; ci < c1; ci++) {
                const int64_t a = lut[x[j * c + ci] + 128];
                pre[m] = (int32_t)((col * c + ci) * step + a * o);
                m += a != a0;
            }
#endif
        }
        st[wp] = m;
    }
}

/* One output channel of a depthwise layer (the same sums as depthwise_rows in _kernels.py):
   plane is its input channel's padded port-A codes (uint8 [hp, wp], row pitch wp), tab its
   per-tap tables int16 [kh * kw][256] (0 at the padding code), base its bias; the int32 sums go
   to acc[(y * ow + x) * astride]. Vectorized over 32 output pixels: each tap's 256-entry table
   is eight registers, and four two-table word permutes plus two blends on the code's bits 6
   and 7 look up 32 codes at once (AVX-512 BW; the gather loop it replaces did one lookup at a
   time). Stride 1 runs the pixels as one flat range on the pitch-wp grid (the columns x >= ow
   are computed and dropped), so narrow layers (DS-CNN's 5 columns) still fill the vectors;
   other strides go row by row. Returns 0 when this build has no such code path (no AVX-512
   BW, or a stride above 2): the caller then takes the numba kernel. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
static inline __m512i lut256_i16(const int16_t *t, __m512i idx) {
    const __m512i r0 = _mm512_permutex2var_epi16(_mm512_loadu_si512(t), idx, _mm512_loadu_si512(t + 32));
    const __m512i r1 = _mm512_permutex2var_epi16(_mm512_loadu_si512(t + 64), idx, _mm512_loadu_si512(t + 96));
    const __m512i r2 = _mm512_permutex2var_epi16(_mm512_loadu_si512(t + 128), idx, _mm512_loadu_si512(t + 160));
    const __m512i r3 = _mm512_permutex2var_epi16(_mm512_loadu_si512(t + 192), idx, _mm512_loadu_si512(t + 224));
    const __mmask32 b6 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(64));
    const __mmask32 b7 = _mm512_test_epi16_mask(idx, _mm512_set1_epi16(128));
    return _mm512_mask_blend_epi16(b7, _mm512_mask_blend_epi16(b6, r0, r1), _mm512_mask_blend_epi16(b6, r2, r3));
}

/* n (<= 32) codes at p, p + s, ...: s = 1 or 2 */
static inline __m512i codes32(const uint8_t *p, int64_t n, int64_t s) {
    if (s == 1) return _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(n >= 32 ? 0xFFFFFFFFu : ((1u << n) - 1), p));
    const int64_t m = 2 * n - 1; /* bytes p[0 .. 2n-2] */
    const __mmask64 lm = m >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << m) - 1);
    const __m512i v = _mm512_maskz_loadu_epi8(lm, p);
    const __m512i even = _mm512_set_epi8(126, 124, 122, 120, 118, 116, 114, 112, 110, 108, 106, 104, 102, 100, 98, 96,
                                         94, 92, 90, 88, 86, 84, 82, 80, 78, 76, 74, 72, 70, 68, 66, 64,
                                         62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
                                         30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_cvtepu8_epi16(_mm512_castsi512_si256(_mm512_permutexvar_epi8(even, v)));
}

static inline void dw_block(const uint8_t *src, int64_t n, int64_t s, int64_t wp, const int16_t *tab, int64_t kh,
                            int64_t kw, int32_t base, int32_t *sums) {
    __m512i lo = _mm512_set1_epi32(base), hi = lo;
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
            const __m512i v = lut256_i16(tab + (i * kw + j) * 256, codes32(src + i * wp + j, n, s));
            lo = _mm512_add_epi32(lo, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(v)));
            hi = _mm512_add_epi32(hi, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(v, 1)));
        }
    _mm512_storeu_si512(sums, lo);
    _mm512_storeu_si512(sums + 16, hi);
}
#endif

int64_t rtlgen_dw_plane(uintptr_t plane_, int64_t wp, uintptr_t tab_, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                        int64_t oh, int64_t ow, int64_t base, uintptr_t acc_, int64_t astride) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
    const uint8_t *plane = (const uint8_t *)plane_;
    const int16_t *tab = (const int16_t *)tab_;
    int32_t *acc = (int32_t *)acc_;
    int32_t sums[32];
    if (sh == 1 && sw == 1) {
        const int64_t total = (oh - 1) * wp + ow; /* flat outputs q = y * wp + x on the pitch-wp grid */
        int64_t y = 0, x = 0;
        for (int64_t q0 = 0; q0 < total; q0 += 32) {
            const int64_t n = total - q0 < 32 ? total - q0 : 32;
            dw_block(plane + q0, n, 1, wp, tab, kh, kw, (int32_t)base, sums);
            for (int64_t t = 0; t < n; t++) {
                if (x < ow) acc[(y * ow + x) * astride] = sums[t];
                if (++x == wp) { x = 0; y++; }
            }
        }
        return 1;
    }
    if (sw > 2) return 0;
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x0 = 0; x0 < ow; x0 += 32) {
            const int64_t n = ow - x0 < 32 ? ow - x0 : 32;
            dw_block(plane + y * sh * wp + x0 * sw, n, sw, wp, tab, kh, kw, (int32_t)base, sums);
            for (int64_t t = 0; t < n; t++) acc[(y * ow + x0 + t) * astride] = sums[t];
        }
    return 1;
#else
    (void)plane_; (void)wp; (void)tab_; (void)kh; (void)kw; (void)sh; (void)sw; (void)oh; (void)ow; (void)base;
    (void)acc_; (void)astride;
    return 0;
#endif
}
