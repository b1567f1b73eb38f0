/* kernels_kquants_gemm_avx512.c - the AVX512-VNNI matrix-matrix product of the K-quant (super-block) types with Q8_K
 * activations, for prompt processing: Q4_K, Q5_K, Q6_K, Q3_K, Q2_K and IQ4_XS. Results equal the reference's
 * (kernels_quants_ref.c) up to the order of float summation (test_kernels, test_quants).
 *
 * The row kernels of kernels_quants_x86.inc decode a super-block and apply it to at most 4 tokens with
 * vpmaddubsw/vpmaddwd (about 36 operations per 256 weights and token). Here, as in the Q4_0/Q8_0 GEMM
 * (kernels_avx512_gemm.inc), 16 rows are repacked into a panel so that one 512-bit load gives 4 consecutive
 * quants of every row, and each loaded vector serves 8 tokens through vpdpbusd with a 4-byte activation broadcast
 * (about 12 operations per 16 x 32 weights and token).
 *
 * The panel form of the weights is described in kernels_kquants_gemm.inc. */

/* Only vpdpbusd is wanted beyond AVX-512BW: no BF16 code is generated here. */
#pragma GCC target("no-avx512bf16")

#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#define KG_TT 8  /* tokens per register tile */
#define KG_KC 2  /* super-blocks per repacked chunk */
#define KG_GP 4  /* panels (of 16 rows) repacked together */
#define KG_PR 16 /* rows per panel: the int32 lanes of a zmm */
#define KG_MAX_PANEL (KG_KC * (256 * KG_PR + 2 * 16 * KG_PR * 4))

#include "kernels_kquants_gemm.inc"

/* facc[j] = the 16 rows of the panel times token j over ns super-blocks. */
static inline __attribute__((always_inline)) void kg_tile(const int32_t type, const uint8_t *panel, int64_t ns,
                                                          const block_q8_K *const *a, int64_t s0, const kg_tok *tk,
                                                          const int nt, __m512 *facc) {
    const int G = kg_group(type), ng = 256 / G, off = kg_offset(type), has_min = kg_has_min(type);
    const int64_t sbb = kg_sb_bytes(type, KG_PR);
    for (int j = 0; j < nt; j++) facc[j] = _mm512_setzero_ps();
    for (int64_t s = 0; s < ns; s++) {
        const uint8_t *pb = panel + s * sbb;
        const float *ps = (const float *)(pb + 256 * KG_PR), *pm = ps + KG_PR * ng;
        __m512 t[KG_TT];
        for (int j = 0; j < nt; j++) t[j] = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int g = 0; g < ng; g++) {
            __m512i ia[KG_TT];
            for (int j = 0; j < nt; j++) ia[j] = off ? _mm512_set1_epi32(tk[j].ioff[s][g]) : _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int q = 0; q < G / 4; q++) {
                const __m512i wv = _mm512_load_si512((const void *)(pb + (g * G / 4 + q) * 64));
                for (int j = 0; j < nt; j++) {
                    int32_t a4;
                    memcpy(&a4, a[j][s0 + s].qs + g * G + 4 * q, 4);
                    ia[j] = _mm512_dpbusd_epi32(ia[j], wv, _mm512_set1_epi32(a4));
                }
            }
            const __m512 sv = _mm512_load_ps(ps + 16 * g);
            for (int j = 0; j < nt; j++) t[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[j]), sv, t[j]);
            if (has_min) {
                const __m512 mv = _mm512_load_ps(pm + 16 * g);
                for (int j = 0; j < nt; j++) t[j] = _mm512_fnmadd_ps(mv, _mm512_set1_ps(tk[j].bsum[s][g]), t[j]);
            }
        }
        for (int j = 0; j < nt; j++) facc[j] = _mm512_fmadd_ps(t[j], _mm512_set1_ps(tk[j].d[s]), facc[j]);
    }
}

#define KG_TYPE_CASE(T, NT)                                                                                           \
    case T: kg_tile(T, panel, ns, a, kb, tk, NT, facc); break;
#define KG_TILE_CASE(NT)                                                                                              \
    case NT:                                                                                                          \
        switch (type) {                                                                                               \
            KG_TYPE_CASE(MLA4J_TYPE_Q4_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q6_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q5_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q3_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q2_K, NT)                                                                         \
        default: kg_tile(MLA4J_TYPE_IQ4_XS, panel, ns, a, kb, tk, NT, facc); break;                                  \
        }                                                                                                             \
        break;

/* Loop order as the Q4_0 GEMM: KG_GP panels x one chunk of KG_KC super-blocks are repacked (up to 48 KiB), then
 * every token tile runs over all of them. */
void kern_gemm_kquants_avx512vnni(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                                  int64_t r0, int64_t r1) {
    _Alignas(64) uint8_t panels[KG_GP][KG_MAX_PANEL];
    const int32_t type = w->type;
    const int64_t nsb = w->cols / QK_K, stride = kern_act_stride(type, w->cols);
    for (int64_t rg = r0; rg < r1; rg += 16 * KG_GP) {
        const int64_t rg1 = r1 - rg < 16 * KG_GP ? r1 : rg + 16 * KG_GP;
        const int np = (int)((rg1 - rg + 15) / 16);
        for (int64_t kb = 0; kb < nsb; kb += KG_KC) {
            const int64_t ns = nsb - kb < KG_KC ? nsb - kb : KG_KC;
            for (int p = 0; p < np; p++) {
                const int64_t rp = rg + 16 * p;
                kg_repack(w, rp, rg1 - rp < 16 ? (int)(rg1 - rp) : 16, KG_PR, kb, ns, panels[p]);
            }
            for (int64_t t = 0; t < n_tok; t += KG_TT) {
                const int nt = n_tok - t < KG_TT ? (int)(n_tok - t) : KG_TT;
                const block_q8_K *a[KG_TT];
                kg_tok tk[KG_TT];
                for (int j = 0; j < nt; j++) {
                    a[j] = (const block_q8_K *)((const uint8_t *)act + (t + j) * stride);
                    kg_prepare(type, a[j], kb, ns, &tk[j]);
                }
                for (int p = 0; p < np; p++) {
                    const int64_t rp = rg + 16 * p;
                    const int nr = rg1 - rp < 16 ? (int)(rg1 - rp) : 16;
                    const __mmask16 m = (__mmask16)((1u << nr) - 1);
                    const uint8_t *panel = panels[p];
                    __m512 facc[KG_TT];
                    switch (nt) {
                        KG_TILE_CASE(8)
                        KG_TILE_CASE(7)
                        KG_TILE_CASE(6)
                        KG_TILE_CASE(5)
                        KG_TILE_CASE(4)
                        KG_TILE_CASE(3)
                        KG_TILE_CASE(2)
                    default:
                        KG_TILE_CASE(1)
                    }
                    for (int j = 0; j < nt; j++) {
                        float *yp = y + (t + j) * ldy + rp;
                        if (kb == 0) _mm512_mask_storeu_ps(yp, m, facc[j]);
                        else _mm512_mask_storeu_ps(yp, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), facc[j]));
                    }
                }
            }
        }
    }
}
