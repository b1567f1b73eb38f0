/* attention_mla_avx512.c - the AVX-512 version of the latent weighted sum (attention_mla.c has the reference).
 * Compiled with -mavx512f (CMake: *_avx512.c) and only called when the context's kernel level is AVX512. */
#include "context.h"

#include <immintrin.h>

/* acc[i][0..C) += sum_s p[i*p_stride + s] * rows[s*ld + 0..C) for i < n_q, s < n_s.
 * Four query rows by 32 columns of accumulators stay in registers while the tile's rows stream through. */
void mla_weighted_sum_avx512(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride,
                             int64_t n_q, float *acc, int64_t C) {
    for (int64_t i0 = 0; i0 < n_q; i0 += 4) {
        const int64_t nq = n_q - i0 < 4 ? n_q - i0 : 4;
        for (int64_t c0 = 0; c0 < C; c0 += 32) {
            const int64_t left = C - c0;
            const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            const __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
            __m512 a[4][2];
            for (int q = 0; q < 4; q++) {
                a[q][0] = _mm512_setzero_ps();
                a[q][1] = _mm512_setzero_ps();
            }
            for (int64_t s = 0; s < n_s; s++) {
                const float *r = rows + s * ld + c0;
                const __m512 r0 = _mm512_maskz_loadu_ps(m0, r);
                const __m512 r1 = _mm512_maskz_loadu_ps(m1, r + 16);
                for (int q = 0; q < nq; q++) {
                    const __m512 w = _mm512_set1_ps(p[(i0 + q) * p_stride + s]);
                    a[q][0] = _mm512_fmadd_ps(w, r0, a[q][0]);
                    a[q][1] = _mm512_fmadd_ps(w, r1, a[q][1]);
                }
            }
            for (int q = 0; q < nq; q++) {
                float *o = acc + (i0 + q) * C + c0;
                _mm512_mask_storeu_ps(o, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), a[q][0]));
                _mm512_mask_storeu_ps(o + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), a[q][1]));
            }
        }
    }
}
