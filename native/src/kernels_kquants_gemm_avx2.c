/* kernels_kquants_gemm_avx2.c - the AVX2 matrix-matrix product of the K-quant types with Q8_K activations, for
 * prompt processing: Q4_K, Q5_K, Q6_K, Q3_K and Q2_K (IQ4_XS, whose unsigned form reaches 241, would overflow
 * vpmaddubsw's int16 pairs and keeps the row kernels). Results equal the reference's up to the order of float
 * summation (test_kernels, test_quants). Used by the AVX2 level and by AVX-512 CPUs without VNNI.
 *
 * As kernels_kquants_gemm_avx512.c with 8-row panels (kernels_kquants_gemm.inc) and without vpdpbusd: each loaded
 * vector of 4 quants x 8 rows serves KG_TT tokens through vpmaddubsw with a 4-byte activation broadcast, and the
 * int16 pair sums of several such products are added in int16 before one vpmaddwd widens them (as many as stay
 * below 2^15: 2 x 127 x the largest unsigned quant per product). */
#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#define KG_TT 4 /* tokens per register tile (16 ymm registers) */
#define KG_KC 2 /* super-blocks per repacked chunk */
#define KG_GP 4 /* panels (of 8 rows) repacked together */
#define KG_PR 8 /* rows per panel: the int32 lanes of a ymm */
#define KG_MAX_PANEL (KG_KC * (256 * KG_PR + 2 * 16 * KG_PR * 4))

#include "kernels_kquants_gemm.inc"

/* How many 4-quant products of a type may be summed in int16: 2 x 127 x umax each. */
static inline int kg_int16_run(int32_t type) {
    switch (type) {
    case MLA4J_TYPE_Q4_K: return 8; /* 8 x 2 x 127 x 15 = 30480 */
    case MLA4J_TYPE_Q5_K:           /* 4 x 2 x 127 x 31 = 31496 */
    case MLA4J_TYPE_Q3_K:           /* (u <= 7; a group has 4 products) */
    case MLA4J_TYPE_Q2_K: return 4;
    default: return 2; /* Q6_K: 2 x 2 x 127 x 63 = 32004 */
    }
}

/* out[j][0..7] += the 8 rows of the panel times token j over ns super-blocks. */
static inline __attribute__((always_inline)) void kg_tile(const int32_t type, const uint8_t *panel, int64_t ns,
                                                          const block_q8_K *const *a, int64_t s0, const kg_tok *tk,
                                                          const int nt, float out[KG_TT][8]) {
    const int G = kg_group(type), ng = 256 / G, off = kg_offset(type), has_min = kg_has_min(type);
    const int run = kg_int16_run(type) < G / 4 ? kg_int16_run(type) : G / 4;
    const int64_t sbb = kg_sb_bytes(type, KG_PR);
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int64_t s = 0; s < ns; s++) {
        const uint8_t *pb = panel + s * sbb;
        const float *ps = (const float *)(pb + 256 * KG_PR), *pm = ps + KG_PR * ng;
        __m256 t[KG_TT];
        for (int j = 0; j < nt; j++) t[j] = _mm256_setzero_ps();
#pragma GCC unroll 16
        for (int g = 0; g < ng; g++) {
            __m256i i32[KG_TT];
            for (int j = 0; j < nt; j++) i32[j] = off ? _mm256_set1_epi32(tk[j].ioff[s][g]) : _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < G / 4; c += run) {
                __m256i i16[KG_TT];
#pragma GCC unroll 8
                for (int q = c; q < c + run; q++) {
                    const __m256i wv = _mm256_load_si256((const __m256i *)(pb + (g * G / 4 + q) * 4 * KG_PR));
                    for (int j = 0; j < nt; j++) {
                        int32_t a4;
                        memcpy(&a4, a[j][s0 + s].qs + g * G + 4 * q, 4);
                        const __m256i p = _mm256_maddubs_epi16(wv, _mm256_set1_epi32(a4));
                        i16[j] = q == c ? p : _mm256_add_epi16(i16[j], p);
                    }
                }
                for (int j = 0; j < nt; j++) i32[j] = _mm256_add_epi32(i32[j], _mm256_madd_epi16(i16[j], ones16));
            }
            const __m256 sv = _mm256_load_ps(ps + KG_PR * g);
            for (int j = 0; j < nt; j++) t[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[j]), sv, t[j]);
            if (has_min) {
                const __m256 mv = _mm256_load_ps(pm + KG_PR * g);
                for (int j = 0; j < nt; j++) t[j] = _mm256_fnmadd_ps(mv, _mm256_set1_ps(tk[j].bsum[s][g]), t[j]);
            }
        }
        /* the tile's totals live in memory (L1): 16 registers do not hold them beside the running sums */
        for (int j = 0; j < nt; j++)
            _mm256_storeu_ps(out[j], _mm256_fmadd_ps(t[j], _mm256_set1_ps(tk[j].d[s]), _mm256_loadu_ps(out[j])));
    }
}

#define KG_TYPE_CASE(T, NT)                                                                                           \
    case T: kg_tile(T, panel, ns, a, kb, tk, NT, out); break;
#define KG_TILE_CASE(NT)                                                                                              \
    case NT:                                                                                                          \
        switch (type) {                                                                                               \
            KG_TYPE_CASE(MLA4J_TYPE_Q4_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q6_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q5_K, NT)                                                                         \
            KG_TYPE_CASE(MLA4J_TYPE_Q3_K, NT)                                                                         \
        default: kg_tile(MLA4J_TYPE_Q2_K, panel, ns, a, kb, tk, NT, out); break;                                     \
        }                                                                                                             \
        break;

void kern_gemm_kquants_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                            int64_t r1) {
    _Alignas(64) uint8_t panels[KG_GP][KG_MAX_PANEL];
    const int32_t type = w->type;
    const int64_t nsb = w->cols / QK_K, stride = kern_act_stride(type, w->cols);
    for (int64_t rg = r0; rg < r1; rg += KG_PR * KG_GP) {
        const int64_t rg1 = r1 - rg < KG_PR * KG_GP ? r1 : rg + KG_PR * KG_GP;
        const int np = (int)((rg1 - rg + KG_PR - 1) / KG_PR);
        for (int64_t kb = 0; kb < nsb; kb += KG_KC) {
            const int64_t ns = nsb - kb < KG_KC ? nsb - kb : KG_KC;
            for (int p = 0; p < np; p++) {
                const int64_t rp = rg + KG_PR * p;
                kg_repack(w, rp, rg1 - rp < KG_PR ? (int)(rg1 - rp) : KG_PR, KG_PR, kb, ns, panels[p]);
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
                    const int64_t rp = rg + KG_PR * p;
                    const int nr = rg1 - rp < KG_PR ? (int)(rg1 - rp) : KG_PR;
                    const uint8_t *panel = panels[p];
                    float out[KG_TT][8];
                    for (int j = 0; j < nt; j++)
                        for (int i = 0; i < 8; i++) out[j][i] = kb == 0 || i >= nr ? 0.0f : y[(t + j) * ldy + rp + i];
                    switch (nt) {
                        KG_TILE_CASE(4)
                        KG_TILE_CASE(3)
                        KG_TILE_CASE(2)
                    default:
                        KG_TILE_CASE(1)
                    }
                    for (int j = 0; j < nt; j++) memcpy(y + (t + j) * ldy + rp, out[j], sizeof(float) * (size_t)nr);
                }
            }
        }
    }
}
