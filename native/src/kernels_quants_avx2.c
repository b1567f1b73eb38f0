/* kernels_quants_avx2.c - the AVX2 + FMA + F16C kernels of the types of kernels_quants_ref.c (the code is in
 * kernels_quants_x86.inc, shared with the AVX-512 level). Results equal the reference's up to the order of float
 * summation (test_kernels, test_quants). */
#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#define QX_TT 4  /* tokens per call of a row kernel */
#define QX_RB 16 /* rows per block of the matrix product */

static inline float qx_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Byte j = 0xff where bit j of x is set (ggml's bytes_from_bits_32). */
static inline __m256i qx_bits_to_bytes(uint32_t x) {
    const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfell));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

#define QX_VNNI 0
#define QX_NAME(x) qx_##x
#include "kernels_quants_x86.inc"
#undef QX_VNNI
#undef QX_NAME

void kern_matmul_quants_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                             int64_t r1) {
    /* from this many tokens on, repacking 8-row panels costs less than it saves (IQ4_XS: see kern_gemm_kquants_avx2) */
    if (kern_act_is_q8k(w->type) && w->type != MLA4J_TYPE_IQ4_XS && n_tok >= 6) kern_gemm_kquants_avx2(w, act, n_tok, y, ldy, r0, r1);
    else qx_matmul(w, act, n_tok, y, ldy, r0, r1);
}
