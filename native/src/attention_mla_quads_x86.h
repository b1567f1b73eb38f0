/* attention_mla_quads_x86.h - the row interleave of the x86 integer weighted sums over a Q8_0 cache, shared by
 * attention_mla_avx2.c and attention_mla_avx512.c (both compiled with AVX2). */
#ifndef MLA4J_ATTENTION_MLA_QUADS_X86_H
#define MLA4J_ATTENTION_MLA_QUADS_X86_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* Rows s0..s0+3 of one Q8_0 block (blk: the block in the first row, rows row_bytes apart; rows at or past n_s read
 * as zeros) interleaved for a 4-byte integer product: dword j of the result = rows s0..s0+3 of column j.
 * out[0..3] hold columns 0-7, 8-15, 16-23 and 24-31. */
static inline void mla_q8_quad_rows(const uint8_t *blk, size_t row_bytes, int64_t s0, int64_t n_s, __m256i out[4]) {
    __m256i r[4];
    for (int e = 0; e < 4; e++) {
        const int64_t s = s0 + e;
        r[e] = s < n_s ? _mm256_loadu_si256((const __m256i *)(blk + (size_t)s * row_bytes + 2)) : _mm256_setzero_si256();
    }
    const __m256i t0 = _mm256_unpacklo_epi8(r[0], r[1]), t1 = _mm256_unpackhi_epi8(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi8(r[2], r[3]), t3 = _mm256_unpackhi_epi8(r[2], r[3]);
    const __m256i u0 = _mm256_unpacklo_epi16(t0, t2), u1 = _mm256_unpackhi_epi16(t0, t2); /* columns 0-3|16-19, 4-7|20-23 */
    const __m256i u2 = _mm256_unpacklo_epi16(t1, t3), u3 = _mm256_unpackhi_epi16(t1, t3); /* 8-11|24-27, 12-15|28-31 */
    out[0] = _mm256_permute2x128_si256(u0, u1, 0x20);
    out[1] = _mm256_permute2x128_si256(u2, u3, 0x20);
    out[2] = _mm256_permute2x128_si256(u0, u1, 0x31);
    out[3] = _mm256_permute2x128_si256(u2, u3, 0x31);
}

#endif
