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
#define KG_MIN_TOKENS 6

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

void kern_matmul_quants_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                               int64_t r0, int64_t r1) {
    /* from this many tokens on, repacking 16-row panels for vpdpbusd costs less than it saves */
    if (vnni && kern_act_is_q8k(w->type) && n_tok >= KG_MIN_TOKENS) kern_gemm_kquants_avx512vnni(w, act, n_tok, y, ldy, r0, r1);
    else if (kern_act_is_q8k(w->type) && w->type != MLA4J_TYPE_IQ4_XS && n_tok >= KG_MIN_TOKENS)
        kern_gemm_kquants_avx2(w, act, n_tok, y, ldy, r0, r1); /* AVX-512 without VNNI */
    else if (vnni) qx_vnni_matmul(w, act, n_tok, y, ldy, r0, r1);
    else qx_bw_matmul(w, act, n_tok, y, ldy, r0, r1);
}
