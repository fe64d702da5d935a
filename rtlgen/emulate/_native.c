/* Accumulation of an approximate conv layer for the ``native`` engine (rtlgen/emulate/native.py).

   The same arithmetic as conv_rows in _kernels.py (approximate branch, int16 tables): for every
   output pixel, the accumulator starts at base[o] and adds, for every tap k of its window whose
   port-A code a is not the padding code a0, the row vtab[k, a, 0..O) (int16, sign, corrections
   and the padding baseline folded in). int32 accumulation wraps as in hardware (compiled with
   -fwrapv, which defines signed overflow as wrapping modulo 2^32), so the order of the additions does not
   matter and the result equals the numba kernel's bit for bit.

   Layouts (C order): codes uint8 [n, hp, wp, c] (padded); the table int16 in the layout of
   native.native_layout ([c, 256, kh, kw, o]: an input entry's kh * kw rows adjacent, so the
   pixels that read one entry one after another read neighbouring rows); base int32 [o];
   acc int32 [n, oh, ow, o].

   Why C: the inner loop keeps one pixel's accumulators in registers over its window (a fixed
   O of 16, 32 or 64 lets the compiler unroll and vectorize it), which numba does not do; see
   benchmarks/RESULTS.md, "Emulation speed". */
#include <stdint.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
/* The vector paths (compaction, depthwise) need AVX-512 F/BW/VL and VBMI's byte permutes; this
   file is compiled with -march=native, so the build for this CPU decides. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
#include <immintrin.h>
#define RTLGEN_VBMI 1
#else
#define RTLGEN_VBMI 0
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
#if defined(__AVX512F__)
/* The same loop with AVX-512 intrinsics: a 16-channel slice of a row is one vpmovsxwd from
   memory and one vpaddd; gcc's own vectorization of ROWS(32)/ROWS(64) loaded 64 bytes and split
   them with vextracti64x4, one more port-5 shuffle per 32 channels. */
#define ROWS_AVX512(O)                                                                             \
    static void rows_##O(const int16_t *restrict tab, const int32_t *restrict pre,                \
                         const int32_t *restrict start, int64_t ow, int64_t kw, int64_t sw,       \
                         int64_t d0, int64_t dx, int32_t *restrict accs, int64_t as) {            \
        for (int64_t x = 0; x < ow; x++) {                                                         \
            __m512i acc[O / 16];                                                                  \
            int32_t *a = accs + x * as;                                                           \
            for (int j = 0; j < O / 16; j++) acc[j] = _mm512_loadu_si512(a + 16 * j);             \
            const int16_t *t = tab + d0 - x * dx;                                                  \
            const int64_t e1 = start[x * sw + kw];                                                 \
            for (int64_t e = start[x * sw]; e < e1; e++) {                                         \
                const int16_t *row = t + pre[e];                                                   \
                for (int j = 0; j < O / 16; j++)                                                  \
                    acc[j] = _mm512_add_epi32(                                                    \
                        acc[j], _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 16 * j)))); \
            }                                                                                      \
            for (int j = 0; j < O / 16; j++) _mm512_storeu_si512(a + 16 * j, acc[j]);             \
        }                                                                                          \
    }
ROWS_AVX512(16)
ROWS_AVX512(32)
ROWS_AVX512(64)
#else
ROWS(16)
ROWS(32)
ROWS(64)
#endif

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

#if defined(__AVX512F__)
/* rows_16/rows_32 turned around for 3-column kernels at column stride 1 (ResNet-8's 3x3 layers),
   input-stationary: the loop goes over the input row's columns, and each entry of column col adds
   its three kernel-column rows, adjacent in native.native_layout (j = 0, 1, 2 at row + 0, O,
   2 * O), to the pixels col, col - 1 and col - 2, whose sums stay in registers (A, B, C) while
   the sweep passes them: one entry load and one loop per column instead of per pixel and window
   column. Pixels outside 0 .. ow - 1 sum into registers that are never stored; the sweep reads
   start[0 .. ow + 2], which a stride-1 3-column layer's padded row has (wp = ow + 2). In the
   network, ResNet-8's 16-channel 3x3 layers took 36-39 against 41-50 ms per 1,000 images and
   the 32-channel stride-1 one 31-31 against 33-34 (per-layer timing, alternating processes); at
   64 channels (12 sums in registers, 384 contiguous bytes a row) the loop alone was 10% slower
   and rows_64 stays (benchmarks/RESULTS.md, "Emulation speed"). */
#define ROWS_K3(O)                                                                                 \
    static void rows_k3_##O(const int16_t *restrict tab, const int32_t *restrict pre,             \
                            const int32_t *restrict start, int64_t ow, int64_t d0,                \
                            int32_t *restrict accs) {                                             \
        __m512i A[O / 16], B[O / 16], C[O / 16];                                                  \
        for (int j = 0; j < O / 16; j++) B[j] = C[j] = _mm512_setzero_si512();                   \
        for (int64_t col = 0; col < ow + 2; col++) {                                               \
            for (int j = 0; j < O / 16; j++)                                                      \
                A[j] = col < ow ? _mm512_loadu_si512(accs + col * O + 16 * j) : _mm512_setzero_si512(); \
            const int16_t *t = tab + d0 - col * O;                                                 \
            const int64_t e1 = start[col + 1];                                                     \
            for (int64_t e = start[col]; e < e1; e++) {                                            \
                const int16_t *row = t + pre[e];                                                   \
                for (int j = 0; j < O / 16; j++) {                                                \
                    A[j] = _mm512_add_epi32(                                                      \
                        A[j], _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 16 * j)))); \
                    B[j] = _mm512_add_epi32(                                                      \
                        B[j], _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + O + 16 * j)))); \
                    C[j] = _mm512_add_epi32(                                                      \
                        C[j], _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 2 * O + 16 * j)))); \
                }                                                                                  \
            }                                                                                      \
            if (col >= 2)                                                                          \
                for (int j = 0; j < O / 16; j++) _mm512_storeu_si512(accs + (col - 2) * O + 16 * j, C[j]); \
            for (int j = 0; j < O / 16; j++) {                                                    \
                C[j] = B[j];                                                                      \
                B[j] = A[j];                                                                      \
            }                                                                                      \
        }                                                                                          \
    }
ROWS_K3(16)
ROWS_K3(32)
#endif

#if defined(__AVX512F__)
/* 3x3 layers of 16 channels at stride 1 (ResNet-8's first three), input-stationary in both
   directions: one compacted input row (pre, start, one channel block) into the three output
   rows it reaches, acc[i] for kernel row i (output row r - i; the caller passes scratch for
   rows outside the map). Each entry of column col adds its nine adjacent rows (native_layout:
   (i, j) at row + (3 * i + j) * 16) to pixels col, col - 1, col - 2 of the three output rows,
   nine register sums that the column sweep carries as rows_k3_16's three. One entry load and
   one loop per input column for nine rows. Returns 0 without AVX-512 (the caller then takes the
   row-by-row loop). */
int64_t rtlgen_rows_k33_16(uintptr_t tab_, uintptr_t pre_, uintptr_t start_, int64_t ow, uintptr_t acc0_,
                           uintptr_t acc1_, uintptr_t acc2_) {
    const int16_t *tab = (const int16_t *)tab_;
    const int32_t *pre = (const int32_t *)pre_, *start = (const int32_t *)start_;
    int32_t *acc[3] = {(int32_t *)acc0_, (int32_t *)acc1_, (int32_t *)acc2_};
    __m512i A[3], B[3], C[3];
    for (int i = 0; i < 3; i++) B[i] = C[i] = _mm512_setzero_si512();
    for (int64_t col = 0; col < ow + 2; col++) {
        for (int i = 0; i < 3; i++) A[i] = col < ow ? _mm512_loadu_si512(acc[i] + col * 16) : _mm512_setzero_si512();
        const int16_t *t = tab - col * 16;
        const int64_t e1 = start[col + 1];
        for (int64_t e = start[col]; e < e1; e++) {
            const int16_t *row = t + pre[e];
            for (int i = 0; i < 3; i++) {
                A[i] = _mm512_add_epi32(A[i], _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 48 * i))));
                B[i] = _mm512_add_epi32(B[i],
                                        _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 48 * i + 16))));
                C[i] = _mm512_add_epi32(C[i],
                                        _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(row + 48 * i + 32))));
            }
        }
        if (col >= 2)
            for (int i = 0; i < 3; i++) _mm512_storeu_si512(acc[i] + (col - 2) * 16, C[i]);
        for (int i = 0; i < 3; i++) {
            C[i] = B[i];
            B[i] = A[i];
        }
    }
    return 1;
}
#else
int64_t rtlgen_rows_k33_16(uintptr_t tab_, uintptr_t pre_, uintptr_t start_, int64_t ow, uintptr_t acc0_,
                           uintptr_t acc1_, uintptr_t acc2_) {
    (void)tab_, (void)pre_, (void)start_, (void)ow, (void)acc0_, (void)acc1_, (void)acc2_;
    return 0;
}
#endif

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
#if defined(__AVX512F__)
    if (kw == 3 && sw == 1 && o == 16) { rows_k3_16(t, p, st, ow, d0, a); return; }
    if (kw == 3 && sw == 1 && o == 32) { rows_k3_32(t, p, st, ow, d0, a); return; }
#endif
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

/* Requantization of npix pixels' o int32 sums (acc[p * o + ch], bias included) to int8
   out[p * o + ch], the arithmetic of _kernels.requant_one (TFLite's reference kernels; tested
   equal): per channel a multiplier m (0 <= m < 2^31) and a shift; with single rounding
   (FULLY_CONNECTED) y = (acc * m + 2^(t - 1)) >> t, t = 31 - shift; otherwise gemmlowp's two
   steps, q = SaturatingRoundingDoublingHighMul(wrap32(acc << left), m), then
   RoundingDivideByPOT(q, right) (left, right: the shift's positive and negative parts); then
   the zero point and the clamp.

   SaturatingRoundingDoublingHighMul for m >= 0 (its one saturating case needs m = -2^31):
   with ab = v * m, the reference adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31
   truncating toward zero; for ab < 0 that is floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31), so in
   both cases q = (ab + 2^30) >> 31 (arithmetic shift), the form the vector loop uses.

   The vector loop (AVX-512, o a multiple of 16, double rounding): 16 channels at a time in
   32-bit lanes, the products of even and odd lanes by two 32x32->64 multiplies; numba's loop
   took about 1 ns per element on this machine, an eighth of ResNet-8's time
   (benchmarks/RESULTS.md, "Emulation speed"). */
static inline int64_t requant_scalar(int64_t a, int64_t m, int64_t shift, int64_t single, int64_t zp, int64_t lo,
                                     int64_t hi) {
    int64_t y;
    if (single) {
        const int64_t t = 31 - shift;
        y = (a * m + ((int64_t)1 << (t - 1))) >> t;
    } else {
        const int64_t left = shift > 0 ? shift : 0, right = shift < 0 ? -shift : 0;
        const int64_t v = (int32_t)(uint32_t)((uint64_t)a << left);
        const int64_t q = (v * m + ((int64_t)1 << 30)) >> 31;
        const int64_t mask = ((int64_t)1 << right) - 1;
        y = (q >> right) + ((q & mask) > ((mask >> 1) + (q < 0)));
    }
    y += zp;
    return y < lo ? lo : y > hi ? hi : y;
}

void rtlgen_requant(uintptr_t acc_, int64_t npix, int64_t o, uintptr_t mult_, uintptr_t shift_, int64_t single,
                    int64_t zp, int64_t lo, int64_t hi, uintptr_t out_) {
    const int32_t *acc = (const int32_t *)acc_;
    const int64_t *mult = (const int64_t *)mult_, *shift = (const int64_t *)shift_;
    int8_t *out = (int8_t *)out_;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    if (!single && o % 16 == 0 && o > 0 && o <= 1024) {
        const int64_t g = o / 16;
        __m512i M[64], MO[64], L[64], R[64], MASK[64], HALF[64];
        const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
        for (int64_t k = 0; k < g; k++) {
            /* per channel, in vectors (a scalar loop here took about half of a 512-element call):
               the multiplier, left = max(shift, 0), right = max(-shift, 0), mask = 2^right - 1 */
            const __m512i m = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_loadu_si512(mult + 16 * k))),
                                                 _mm512_cvtepi64_epi32(_mm512_loadu_si512(mult + 16 * k + 8)), 1);
            const __m512i sh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_loadu_si512(shift + 16 * k))),
                                                  _mm512_cvtepi64_epi32(_mm512_loadu_si512(shift + 16 * k + 8)), 1);
            M[k] = m;
            MO[k] = _mm512_srli_epi64(m, 32);
            L[k] = _mm512_max_epi32(sh, zero);
            R[k] = _mm512_max_epi32(_mm512_sub_epi32(zero, sh), zero);
            MASK[k] = _mm512_sub_epi32(_mm512_sllv_epi32(one, R[k]), one);
            HALF[k] = _mm512_srai_epi32(MASK[k], 1);
        }
        const __m512i nudge = _mm512_set1_epi64((int64_t)1 << 30), zpv = _mm512_set1_epi32((int32_t)zp);
        const __m512i lov = _mm512_set1_epi32((int32_t)lo), hiv = _mm512_set1_epi32((int32_t)hi);
        for (int64_t p = 0; p < npix; p++) {
            for (int64_t k = 0; k < g; k++) {
                const int64_t at = p * o + 16 * k;
                /* wrap32(acc << left) is the 32-bit shift itself */
                const __m512i v = _mm512_sllv_epi32(_mm512_loadu_si512(acc + at), L[k]);
                /* (v * m + 2^30) >> 31 for even lanes (the multiply takes each 64-bit lane's low
                   half, signed) and odd lanes; shifted left by one, q is each 64-bit lane's high half */
                const __m512i te = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, M[k]), nudge), 1);
                const __m512i to = _mm512_slli_epi64(
                    _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), MO[k]), nudge), 1);
                const __m512i q = _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_srli_epi64(te, 32), to);
                const __m512i thr = _mm512_mask_add_epi32(HALF[k], _mm512_cmplt_epi32_mask(q, zero), HALF[k], one);
                __m512i y = _mm512_srav_epi32(q, R[k]);
                y = _mm512_mask_add_epi32(y, _mm512_cmpgt_epi32_mask(_mm512_and_si512(q, MASK[k]), thr), y, one);
                y = _mm512_max_epi32(_mm512_min_epi32(_mm512_add_epi32(y, zpv), hiv), lov);
                _mm_storeu_si128((__m128i *)(out + at), _mm512_cvtepi32_epi8(y));
            }
        }
        return;
    }
#endif
    for (int64_t p = 0; p < npix; p++)
        for (int64_t ch = 0; ch < o; ch++)
            out[p * o + ch] = (int8_t)requant_scalar(acc[p * o + ch], mult[ch], shift[ch], single, zp, lo, hi);
}

/* Row yy of a layer's padded input compacted straight from the int8 input (see rtlgen_rows_i16):
   x points at input row yy - pt, or is 0 for a padding row; a code is lut[x + 128] inside, the
   padding code a0 outside; entries whose code is a0 are left out: pre[e] = posoff[column * c +
   channel] + code * o (posoff: the table offset of each position, code 0; o: a code's stride;
   see native.native_layout). Entries go by channel block (cb channels each; cb = c: one block), then
   column, then channel: start[b * (wp + 1) + col] is the first entry of padded column col in
   block b, start[b * (wp + 1) + wp] the end of block b, so a window's entries within one
   block are one contiguous range.

   With AVX-512 VBMI (this file is compiled with -march=native), 16 entries at a time
   (compact16): 16 channels of a column, or, for a row in one block, 16 bytes of the row whatever
   the columns (compact_row_flat); it stores 16 lanes where fewer are kept, so pre needs 16
   entries of slack (the caller's buffer has them). The scalar loop below is the same
   computation, one channel at a time. */

#if RTLGEN_VBMI
/* The vector steps of both paths below (position = column * c + channel): lookup64 turns bytes
   into codes, pack16 packs 16 positions' entries; compact16 is the two for up to 16 bytes. */
typedef struct {
    __m512i lut_lo, lut_hi, lut_lo2, lut_hi2, a0v, ov;
    const int32_t *posoff;
} compact_ctx;

static inline compact_ctx compact_setup(const uint8_t *lut, int64_t a0, const int32_t *posoff, int64_t o) {
    compact_ctx k;
    k.lut_lo = _mm512_loadu_si512(lut);
    k.lut_hi = _mm512_loadu_si512(lut + 64);
    k.lut_lo2 = _mm512_loadu_si512(lut + 128);
    k.lut_hi2 = _mm512_loadu_si512(lut + 192);
    k.a0v = _mm512_set1_epi32((int32_t)a0);
    k.ov = _mm512_set1_epi32((int32_t)o);
    k.posoff = posoff;
    return k;
}

/* The port-A codes of up to 64 int8 bytes at src (mask lm): index x + 128 as a byte (flip the
   sign bit), two 128-byte permutes, bit 7 picks the upper 128 entries. */
static inline __m512i lookup64(const compact_ctx *k, const int8_t *src, __mmask64 lm) {
    const __m512i idx = _mm512_xor_si512(_mm512_maskz_loadu_epi8(lm, src), _mm512_set1_epi8((char)0x80));
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), _mm512_permutex2var_epi8(k->lut_lo, idx, k->lut_hi),
                                  _mm512_permutex2var_epi8(k->lut_lo2, idx, k->lut_hi2));
}

/* 16 codes (lanes lm) of positions pos .. pos + 15: those that are not a0 packed into pre as
   posoff[pos] + code * o by a compress (which stores 16 lanes, hence pre's slack); returns
   which were kept. */
static inline __mmask16 pack16(const compact_ctx *k, __m128i code, __mmask16 lm, int64_t pos, int32_t *pre) {
    const __m512i a = _mm512_cvtepu8_epi32(code);
    const __mmask16 keep = _mm512_mask_cmpneq_epi32_mask(lm, a, k->a0v);
    const __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(lm, k->posoff + pos), _mm512_mullo_epi32(a, k->ov));
    _mm512_storeu_si512(pre, _mm512_maskz_compress_epi32(keep, v));
    return keep;
}

static inline __mmask16 compact16(const compact_ctx *k, const int8_t *src, __mmask16 lm, int64_t pos, int32_t *pre) {
    return pack16(k, _mm512_castsi512_si128(lookup64(k, src, (__mmask64)lm)), lm, pos, pre);
}

static inline __mmask16 first_lanes(int64_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/* rtlgen_compact_row for one block (cb >= c) of a row inside the input: its w * c bytes are
   contiguous and entry order (column, then channel) is byte order, so 16 bytes go at a time
   whatever c is (a column at a time left 13 of 16 lanes idle on a 3-channel input); each
   column's first entry is then counted from the kept-byte masks. The same entries and starts as
   the loop in rtlgen_compact_row, which still does channel blocks and padding rows. */
static void compact_row_flat(const compact_ctx *k, const int8_t *x, int64_t w, int64_t c, int64_t pl, int64_t wp,
                             int32_t *pre, int32_t *start) {
    const int64_t n = w * c, groups = (n + 15) / 16;
    uint16_t kept[groups];       /* which of group g's 16 bytes were kept */
    int32_t before[groups];      /* entries kept before group g */
    int32_t m = 0;
    /* 64 bytes' codes by one lookup, then packed a quarter at a time */
    for (int64_t g4 = 0; g4 < groups; g4 += 4) {
        const int64_t left = n - 16 * g4;
        const __m512i codes = lookup64(k, x + 16 * g4, left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1));
        const __m128i q4[4] = {_mm512_castsi512_si128(codes), _mm512_extracti32x4_epi32(codes, 1),
                               _mm512_extracti32x4_epi32(codes, 2), _mm512_extracti32x4_epi32(codes, 3)};
        for (int64_t q = 0; q < 4 && g4 + q < groups; q++) {
            const int64_t g = g4 + q;
            const __mmask16 keep = pack16(k, q4[q], first_lanes(n - 16 * g), pl * c + 16 * g, pre + m);
            kept[g] = keep;
            before[g] = m;
            m += __builtin_popcount((unsigned)keep);
        }
    }
    for (int64_t col = 0; col < wp; col++) {
        const int64_t j = col - pl;
        if (j <= 0 || j >= w) {
            start[col] = j <= 0 ? 0 : m;
            continue;
        }
        const int64_t p = j * c, g = p / 16;
        start[col] = before[g] + __builtin_popcount((unsigned)(kept[g] & ((1u << (p % 16)) - 1)));
    }
    start[wp] = m;
}
#endif

void rtlgen_compact_row(uintptr_t x_, int64_t w, int64_t c, int64_t pl, int64_t wp, uintptr_t lut_,
                        int64_t a0, uintptr_t posoff_, int64_t o, uintptr_t pre_, uintptr_t start_, int64_t cb) {
    const int32_t *posoff = (const int32_t *)posoff_;
    const int8_t *x = (const int8_t *)x_;
    const uint8_t *lut = (const uint8_t *)lut_;
    int32_t *pre = (int32_t *)pre_, *start = (int32_t *)start_;
    int32_t m = 0;
#if RTLGEN_VBMI
    const compact_ctx k = compact_setup(lut, a0, posoff, o);
    if (x && cb >= c) {
        compact_row_flat(&k, x, w, c, pl, wp, pre, start);
        return;
    }
#endif
    for (int64_t c0 = 0, b = 0; c0 < c; c0 += cb, b++) {
        const int64_t c1 = c0 + cb < c ? c0 + cb : c;
        int32_t *st = start + b * (wp + 1);
        for (int64_t col = 0; col < wp; col++) {
            st[col] = m;
            const int64_t j = col - pl;
            if (!x || j < 0 || j >= w) continue;
#if RTLGEN_VBMI
            for (int64_t ci = c0; ci < c1; ci += 16)
                m += __builtin_popcount((unsigned)compact16(&k, x + j * c + ci, first_lanes(c1 - ci), col * c + ci,
                                                            pre + m));
#else
            for (int64_t ci = c0; ci < c1; ci++) {
                const int64_t a = lut[x[j * c + ci] + 128];
                pre[m] = (int32_t)(posoff[col * c + ci] + a * o);
                m += a != a0;
            }
#endif
        }
        st[wp] = m;
    }
}

/* acc[p * o + ch] = base[ch] for npix pixels: the sums' starting values (bias and the padding
   baseline), one vector store per 16 channels where numba's slice assignments took about 4 ns
   a pixel. */
void rtlgen_fill(uintptr_t acc_, int64_t npix, int64_t o, uintptr_t base_) {
    int32_t *restrict acc = (int32_t *)acc_;
    const int32_t *restrict base = (const int32_t *)base_;
    for (int64_t p = 0; p < npix; p++)
        for (int64_t ch = 0; ch < o; ch++) acc[p * o + ch] = base[ch];
}

/* One ADD over n int8 elements (engines.FastEngine.add): out[i] = lut[(x1[i] + 128) * 256 +
   x2[i] + 128], the layer's 65,536 results tabulated once by _kernels.add_int8. The same lookup
   as _kernels.add_lut; gcc's loop took a third of numba's time per element on this machine, and
   the AVX-512 gather below half of that again (ResNet-8's three ADDs: 10.8 -> 6.0 ms per 1,000
   images; benchmarks/RESULTS.md, "Emulation speed"). */
void rtlgen_add_lut(uintptr_t x1_, uintptr_t x2_, uintptr_t lut_, uintptr_t out_, int64_t n) {
    const uint8_t *restrict x1 = (const uint8_t *)x1_, *restrict x2 = (const uint8_t *)x2_;
    const int8_t *restrict lut = (const int8_t *)lut_;
    int8_t *restrict out = (int8_t *)out_;
    int64_t i = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
    /* 16 at a time by a gather of the aligned 32-bit word that holds each entry (so it never
       reads past the table's end) and a per-lane shift to its byte */
    const __m512i flip = _mm512_set1_epi32(0x80), low2 = _mm512_set1_epi32(3);
    for (; i + 16 <= n; i += 16) {
        const __m512i a = _mm512_xor_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x1 + i))), flip);
        const __m512i b = _mm512_xor_si512(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x2 + i))), flip);
        const __m512i idx = _mm512_or_si512(_mm512_slli_epi32(a, 8), b);
        const __m512i word = _mm512_i32gather_epi32(_mm512_andnot_si512(low2, idx), (const void *)lut, 1);
        const __m512i v = _mm512_srlv_epi32(word, _mm512_slli_epi32(_mm512_and_si512(idx, low2), 3));
        _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtepi32_epi8(v));
    }
#endif
    for (; i < n; i++) out[i] = lut[((x1[i] ^ 0x80u) << 8) | (x2[i] ^ 0x80u)];
}

/* One output channel of a depthwise layer (the same sums as depthwise_rows in _kernels.py):
   plane is its input channel's padded port-A codes (uint8 [hp, wp], row pitch wp), tab its
   per-tap tables split in bytes, uint8 [kh * kw][2][256]: [k][0][a] the low byte of the int16
   entry (0 at the padding code), [k][1][a] its high byte + 128; base its bias; the int32 sums
   go to acc[(y * ow + x) * astride]. Vectorized over 64 output pixels: each tap's two
   256-byte tables are eight registers; two 128-byte permutes and a blend on the code's bit 7
   look up 64 bytes at once (AVX-512 VBMI; the numba loop it replaces did one lookup at a time).
   Low bytes and biased high bytes add up as 16-bit sums (at most 255 per tap, so up to 256
   taps cannot overflow), and the entry's sum is 256 * (high sum - 128 * taps) + low sum.
   Stride 1 runs the pixels as one flat range on the pitch-wp grid (the columns x >= ow are
   computed and dropped), so narrow layers (DS-CNN's 5 columns) still fill the vectors; stride 2
   goes row by row. Returns 0, computing nothing, where this build has no vector path (no
   AVX-512 VBMI), for a column stride above 2 or more than 256 taps: the caller checks the
   last two (native.depthwise_fits) and takes the numba kernel instead. */
#if RTLGEN_VBMI
static inline __m512i lut256_u8(const uint8_t *t, __m512i idx) {
    const __m512i r0 = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), idx, _mm512_loadu_si512(t + 64));
    const __m512i r1 = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), idx, _mm512_loadu_si512(t + 192));
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), r0, r1);
}

/* n (<= 64) codes at p, p + s, ...: s = 1 or 2 */
static inline __m512i codes64(const uint8_t *p, int64_t n, int64_t s) {
    if (s == 1) return _mm512_maskz_loadu_epi8(n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1), p);
    const int64_t m = 2 * n - 1; /* bytes p[0 .. 2n-2] */
    const __mmask64 m0 = m >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << m) - 1);
    const __mmask64 m1 = m <= 64 ? 0 : (m >= 128 ? ~(__mmask64)0 : (((__mmask64)1 << (m - 64)) - 1));
    const __m512i even = _mm512_set_epi8(126, 124, 122, 120, 118, 116, 114, 112, 110, 108, 106, 104, 102, 100, 98, 96,
                                         94, 92, 90, 88, 86, 84, 82, 80, 78, 76, 74, 72, 70, 68, 66, 64,
                                         62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32,
                                         30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi8(_mm512_maskz_loadu_epi8(m0, p), even, _mm512_maskz_loadu_epi8(m1, p + 64));
}

static inline void dw_block(const uint8_t *src, int64_t n, int64_t s, int64_t wp, const uint8_t *tab, int64_t kh,
                            int64_t kw, int32_t base, int32_t *sums) {
    __m512i l0 = _mm512_setzero_si512(), l1 = l0, h0 = l0, h1 = l0;
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
            const uint8_t *t = tab + (i * kw + j) * 512;
            const __m512i idx = codes64(src + i * wp + j, n, s);
            const __m512i lo = lut256_u8(t, idx), hi = lut256_u8(t + 256, idx);
            l0 = _mm512_add_epi16(l0, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(lo)));
            l1 = _mm512_add_epi16(l1, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(lo, 1)));
            h0 = _mm512_add_epi16(h0, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(hi)));
            h1 = _mm512_add_epi16(h1, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(hi, 1)));
        }
    const __m512i bias = _mm512_set1_epi32(base - (int32_t)(128 * 256 * kh * kw));
    const __m512i ls[2] = {l0, l1}, hs[2] = {h0, h1};
    for (int q = 0; q < 4; q++) {
        const __m256i lw = q & 1 ? _mm512_extracti64x4_epi64(ls[q >> 1], 1) : _mm512_castsi512_si256(ls[q >> 1]);
        const __m256i hw = q & 1 ? _mm512_extracti64x4_epi64(hs[q >> 1], 1) : _mm512_castsi512_si256(hs[q >> 1]);
        const __m512i v = _mm512_add_epi32(_mm512_slli_epi32(_mm512_cvtepu16_epi32(hw), 8), _mm512_cvtepu16_epi32(lw));
        _mm512_storeu_si512(sums + 16 * q, _mm512_add_epi32(v, bias));
    }
}
#endif

int64_t rtlgen_dw_plane(uintptr_t plane_, int64_t wp, uintptr_t tab_, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                        int64_t oh, int64_t ow, int64_t base, uintptr_t acc_, int64_t astride, uintptr_t flat_) {
#if RTLGEN_VBMI
    const uint8_t *plane = (const uint8_t *)plane_;
    const uint8_t *tab = (const uint8_t *)tab_;
    int32_t *acc = (int32_t *)acc_;
    int32_t sums[64];
    if (kh * kw > 256) return 0;
    if (sh == 1 && sw == 1) {
        /* flat outputs q = y * wp + x on the pitch-wp grid into flat (oh * wp + 64 int32, the
           caller's), then the x < ow ones out */
        int32_t *flat = (int32_t *)flat_;
        const int64_t total = (oh - 1) * wp + ow;
        for (int64_t q0 = 0; q0 < total; q0 += 64)
            dw_block(plane + q0, total - q0 < 64 ? total - q0 : 64, 1, wp, tab, kh, kw, (int32_t)base, flat + q0);
        for (int64_t y = 0; y < oh; y++)
            for (int64_t x = 0; x < ow; x++) acc[(y * ow + x) * astride] = flat[y * wp + x];
        return 1;
    }
    if (sw > 2) return 0;
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x0 = 0; x0 < ow; x0 += 64) {
            const int64_t n = ow - x0 < 64 ? ow - x0 : 64;
            dw_block(plane + y * sh * wp + x0 * sw, n, sw, wp, tab, kh, kw, (int32_t)base, sums);
            for (int64_t t = 0; t < n; t++) acc[(y * ow + x0 + t) * astride] = sums[t];
        }
    return 1;
#else
    (void)plane_; (void)wp; (void)tab_; (void)kh; (void)kw; (void)sh; (void)sw; (void)oh; (void)ow; (void)base;
    (void)acc_; (void)astride; (void)flat_;
    return 0;
#endif
}
