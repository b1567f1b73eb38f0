/* kernels_quants_avx512.c - the AVX-512 level of the types of kernels_quants_ref.c: kernels_quants_x86.inc compiled
 * for AVX-512 (EVEX encoding, 32 vector registers) in two instances, with AVX512-VNNI's vpdpbusd for the 32-element
 * types where the CPU has it, and vpmaddubsw otherwise. The super-block types keep ggml's vpmaddubsw/vpmaddwd form
 * in both (their int16 scales are applied by vpmaddwd, which vpdpbusd cannot fold in). */

/* As kernels_avx512.c: only the code between push/pop below may use VNNI. */
#pragma GCC target("no-avx512vnni,no-avx512bf16")

#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#define QX_TT 4
#define QX_RB 16

static inline float qx_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Byte j = 0xff where bit j of x is set: one mask move with AVX-512BW. */
static inline __m256i qx_bits_to_bytes(uint32_t x) { return _mm256_movm_epi8((__mmask32)x); }

#define QX_VNNI 0
#define QX_NAME(x) qx_bw_##x
#include "kernels_quants_x86.inc"
#undef QX_VNNI
#undef QX_NAME

#pragma GCC push_options
#pragma GCC target("avx512vnni")

#define QX_VNNI 1
#define QX_NAME(x) qx_vnni_##x
#include "kernels_quants_x86.inc"
#undef QX_VNNI
#undef QX_NAME

#pragma GCC pop_options

/* ---- Q8_K activations: kern_quantize_act_q8k_ref's bytes (see kernels_quants_avx2.c), 16 floats per step ---- */

void kern_quantize_act_q8k_avx512(const float *x, int64_t cols, void *act_token) {
    block_q8_K *y = act_token;
    for (int64_t b = 0; b < cols / QK_K; b++, x += QK_K) {
        __m512 mx = _mm512_setzero_ps();
        for (int k = 0; k < 16; k++) /* vmaxps returns its second operand when either is NaN: NaNs are skipped */
            mx = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), mx);
        const float amax = _mm512_reduce_max_ps(mx);
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !(amax <= 3.402823466e38f)) continue; /* 0 or infinity: zeros, as the reference */
        float max = 0.0f;
        const __m512 av = _mm512_set1_ps(amax);
        for (int k = 0; k < 16; k++) {
            const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), av, _CMP_EQ_OQ);
            if (hit) {
                max = x[16 * k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        if (!(iscale >= -3.402823466e38f && iscale <= 3.402823466e38f)) { /* |max| < 4e-37: the reference's inf rules */
            kern_quantize_act_q8k_ref(x, QK_K, &y[b]);
            continue;
        }
        const __m512 is = _mm512_set1_ps(iscale), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
        _Alignas(64) uint64_t sad[32];
        for (int c = 0; c < 4; c++) {
            __m128i q[4];
            for (int k = 0; k < 4; k++) {
                __m512 v = _mm512_mul_ps(is, _mm512_loadu_ps(x + 64 * c + 16 * k));
                v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); /* NaN -> 0 */
                v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi)));
            }
            const __m512i p = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_set_m128i(q[1], q[0])), _mm256_set_m128i(q[3], q[2]), 1);
            _mm512_storeu_si512((void *)(y[b].qs + 64 * c), p);
            _mm512_store_si512((void *)(sad + 8 * c),
                               _mm512_sad_epu8(_mm512_xor_si512(p, _mm512_set1_epi8((char)0x80)), _mm512_setzero_si512()));
        }
        for (int g = 0; g < 16; g++) y[b].bsums[g] = (int16_t)((int)(sad[2 * g] + sad[2 * g + 1]) - 16 * 128);
        y[b].d = 1.0f / iscale;
    }
}

void kern_matmul_quants_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                               int64_t r0, int64_t r1) {
    const int kgemm = kern_act_is_q8k(w->type) && n_tok >= kern_kgemm_min_tokens(w->type);
    if (vnni && kgemm) kern_gemm_kquants_avx512vnni(w, act, n_tok, y, ldy, r0, r1);
    else if (kgemm && w->type != MLA4J_TYPE_IQ4_XS) kern_gemm_kquants_avx2(w, act, n_tok, y, ldy, r0, r1); /* no VNNI */
    else if (vnni) qx_vnni_matmul(w, act, n_tok, y, ldy, r0, r1);
    else qx_bw_matmul(w, act, n_tok, y, ldy, r0, r1);
}
