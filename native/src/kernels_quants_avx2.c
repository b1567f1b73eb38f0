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

/* ---- Q8_K activations: kern_quantize_act_q8k_ref's bytes, vectorized ---------------------------------------------
 * The reference keeps the first element of largest magnitude (NaN never compares greater) and its sign, rounds
 * -127/max * x half to even (ggml's nearest_int; vroundps does the same), and writes zero blocks for a maximum of 0
 * or infinity. The 16-element sums come from vpsadbw of the quants made unsigned (+128). */

/* Byte sums of each 8 quants (+128) of a block -> the 16 sums of 16 signed quants. */
static void q8k_bsums(const uint64_t sad[32], int16_t bsums[16]) {
    for (int g = 0; g < 16; g++) bsums[g] = (int16_t)((int)(sad[2 * g] + sad[2 * g + 1]) - 16 * 128);
}

void kern_quantize_act_q8k_avx2(const float *x, int64_t cols, void *act_token) {
    block_q8_K *y = act_token;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < cols / QK_K; b++, x += QK_K) {
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < 32; k++) /* vmaxps returns its second operand when either is NaN: NaNs are skipped */
            mx = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs_mask), mx);
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !(amax <= 3.402823466e38f)) continue; /* 0 or infinity: zeros, as the reference */
        float max = 0.0f;
        const __m256 av = _mm256_set1_ps(amax);
        for (int k = 0; k < 32; k++) {
            const __m256 v = _mm256_loadu_ps(x + 8 * k);
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, abs_mask), av, _CMP_EQ_OQ));
            if (hit) {
                max = x[8 * k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        if (!(iscale >= -3.402823466e38f && iscale <= 3.402823466e38f)) { /* |max| < 4e-37: the reference's inf rules */
            kern_quantize_act_q8k_ref(x, QK_K, &y[b]);
            continue;
        }
        const __m256 is = _mm256_set1_ps(iscale), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
        _Alignas(32) uint64_t sad[32];
        for (int c = 0; c < 8; c++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_mul_ps(is, _mm256_loadu_ps(x + 32 * c + 8 * k));
                v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
                v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
            }
            /* packs work within 128-bit lanes: the permutation puts the 32 bytes back in order */
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[b].qs + 32 * c), p);
            _mm256_store_si256((__m256i *)(sad + 4 * c),
                               _mm256_sad_epu8(_mm256_xor_si256(p, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256()));
        }
        q8k_bsums(sad, y[b].bsums);
        y[b].d = 1.0f / iscale;
    }
}

void kern_matmul_quants_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                             int64_t r1) {
    /* IQ4_XS: see kern_gemm_kquants_avx2 */
    if (kern_act_is_q8k(w->type) && w->type != MLA4J_TYPE_IQ4_XS && n_tok >= kern_kgemm_min_tokens(w->type))
        kern_gemm_kquants_avx2(w, act, n_tok, y, ldy, r0, r1);
    else qx_matmul(w, act, n_tok, y, ldy, r0, r1);
}
