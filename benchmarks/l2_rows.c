/* What one table row costs a core once it is in cache: the floor of the native emulation
   engine's row loops (rtlgen/emulate/_native.c), which add one int16 row of a layer's table per
   nonzero multiply-add and 16 output channels. Rows of 16 int16 (32 bytes, a 16-channel layer's
   row) are read at 4,096 random offsets of a table of KB kilobytes, one or ROWS contiguous rows
   per offset, each sign-extended to int32 and summed, the same 4,096 offsets over and over: the
   offsets stay in L1, as the engine's compacted entries (one input row at a time) do, and the
   rows they pick (256 KB of lines) in L2, so the table's size only matters through the TLB
   (4 KB pages here; the engine puts its tables on 2 MB pages). Prints nanoseconds per row.

       cc -O2 -march=native benchmarks/l2_rows.c -o /tmp/l2_rows && /tmp/l2_rows 1152 1

   An earlier version read 10 million offsets (40 MB) from memory, which cost about as much as
   the rows and made every table look like 1 ns per row; see benchmarks/RESULTS.md, "Emulation
   speed". */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s KB ROWS (ROWS: 1 or 3 contiguous rows per offset)\n", argv[0]);
        return 2;
    }
    const int64_t kb = atoll(argv[1]), rows = atoll(argv[2]), m = 4096, reps = 5000;
    if (kb < 1 || (rows != 1 && rows != 3)) {
        fprintf(stderr, "%s: KB must be >= 1 and ROWS 1 or 3, got %s %s\n", argv[0], argv[1], argv[2]);
        return 2;
    }
    const int64_t n = kb * 512, blocks = kb * 1024 / (32 * rows);
    int16_t *tab = aligned_alloc(64, (size_t)(kb * 1024 + 64));
    int32_t *off = malloc(sizeof(int32_t) * m);
    if (!tab || !off || blocks < 1) return 1;
    for (int64_t i = 0; i < n; i++) tab[i] = (int16_t)i;
    uint64_t s = 12345;
    for (int64_t i = 0; i < m; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        off[i] = (int32_t)((s >> 33) % blocks) * (int32_t)(16 * rows);
    }
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0;
    const double t0 = now();
    for (int64_t rep = 0; rep < reps; rep++) {
        if (rows == 1) {
            for (int64_t i = 0; i < m; i++)
                a0 = _mm512_add_epi32(a0, _mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)(tab + off[i]))));
        } else {
            for (int64_t i = 0; i < m; i++) {
                const int16_t *r = tab + off[i];
                a0 = _mm512_add_epi32(a0, _mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)r)));
                a1 = _mm512_add_epi32(a1, _mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)(r + 16))));
                a2 = _mm512_add_epi32(a2, _mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)(r + 32))));
            }
        }
    }
    const double t = now() - t0;
    const int check = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, _mm512_add_epi32(a1, a2)));
    printf("%lld KB table, %lld row(s) per offset: %.2f ns per 32-byte row (checksum %d)\n", (long long)kb,
           (long long)rows, t / ((double)m * reps * rows) * 1e9, check & 0xff);
    return 0;
}
