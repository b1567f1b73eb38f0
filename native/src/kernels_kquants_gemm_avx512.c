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
 * Every type is brought into one form: element e of a row is S[g] * u[e] - M[g] with unsigned bytes u, g the group
 * of G = 16 or 32 elements that shares a scale, S the float scale and M the float minimum:
 *   Q4_K, Q5_K (G 32), Q2_K (G 16): u = q, S = d * scale, M = dmin * min;
 *   Q6_K (G 16): u = q + 32, Q3_K (G 16): u = q + 4, IQ4_XS (G 32): u = value + 128, each with S = d * scale and an
 *   integer offset o (32, 4, 128) that is removed exactly: the int32 sum of a group starts at -o * (the activation
 *   sum of the group), so only the true minimums of Q2_K/Q4_K/Q5_K go through a float term.
 * Per token and super-block: t = sum_g (S[g] * float(isum_g) - M[g] * bsum_g), then acc += t * d_activation. */

/* Only vpdpbusd is wanted beyond AVX-512BW: no BF16 code is generated here. */
#pragma GCC target("no-avx512bf16")

#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#define KG_TT 8  /* tokens per register tile */
#define KG_KC 2  /* super-blocks per repacked chunk */
#define KG_GP 4  /* panels (of 16 rows) repacked together */
#define KG_MAX_PANEL (KG_KC * (4096 + 2 * 16 * 64))

/* The scale group size G of a type (see above) and the exact integer offset o of its unsigned quants. */
static inline int kg_group(int32_t type) {
    return type == MLA4J_TYPE_Q4_K || type == MLA4J_TYPE_Q5_K || type == MLA4J_TYPE_IQ4_XS ? 32 : 16;
}
static inline int kg_offset(int32_t type) {
    switch (type) {
    case MLA4J_TYPE_Q6_K: return 32;
    case MLA4J_TYPE_Q3_K: return 4;
    case MLA4J_TYPE_IQ4_XS: return 128;
    default: return 0;
    }
}
static inline int kg_has_min(int32_t type) {
    return type == MLA4J_TYPE_Q4_K || type == MLA4J_TYPE_Q5_K || type == MLA4J_TYPE_Q2_K;
}
/* Bytes of one super-block of a panel: the quants (64 groups of 4 x 16 rows), then S and M (16 floats per group). */
static inline int64_t kg_sb_bytes(int32_t type) { return 4096 + 2 * (256 / kg_group(type)) * 64; }

/* One super-block of one row: the 256 unsigned quants u (element order) and the per-group S and M. */
static void kg_decode(int32_t type, const uint8_t *p, uint8_t u[256], float S[16], float M[16]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256i v[8];
    switch (type) {
    case MLA4J_TYPE_Q4_K:
    case MLA4J_TYPE_Q5_K: {
        const int q5 = type == MLA4J_TYPE_Q5_K;
        const uint8_t *scales = q5 ? ((const block_q5_K *)p)->scales : ((const block_q4_K *)p)->scales;
        const uint8_t *qs = q5 ? ((const block_q5_K *)p)->qs : ((const block_q4_K *)p)->qs;
        uint16_t dh, mh;
        memcpy(&dh, p, 2);
        memcpy(&mh, p + 2, 2);
        const float d = _cvtsh_ss(dh), dmin = _cvtsh_ss(mh);
        const __m256i hbits = q5 ? _mm256_loadu_si256((const __m256i *)((const block_q5_K *)p)->qh) : _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * g));
            v[2 * g] = _mm256_and_si256(bits, m4);
            v[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            if (q5) {
                v[2 * g] = _mm256_or_si256(v[2 * g], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * g), one), 4));
                v[2 * g + 1] = _mm256_or_si256(
                    v[2 * g + 1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * g + 1), one), 4));
            }
        }
        for (int s = 0; s < 8; s++) {
            int sc, m;
            kern_q4_k_scale_min(s, scales, &sc, &m);
            S[s] = d * (float)sc;
            M[s] = dmin * (float)m;
        }
        break;
    }
    case MLA4J_TYPE_Q6_K: {
        const block_q6_K *x = (const block_q6_K *)p;
        const float d = _cvtsh_ss(x->d);
        for (int n = 0; n < 2; n++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * n));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * n + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * n));
            v[4 * n] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
            v[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(12)), 2));
            v[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                           _mm256_and_si256(h, _mm256_set1_epi8(48)));
            v[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                           _mm256_srli_epi16(_mm256_and_si256(h, _mm256_set1_epi8((char)0xc0)), 2));
        }
        for (int g = 0; g < 16; g++) {
            S[g] = d * (float)x->scales[g];
            M[g] = 0.0f;
        }
        break;
    }
    case MLA4J_TYPE_Q3_K: {
        const block_q3_K *x = (const block_q3_K *)p;
        const float d = _cvtsh_ss(x->d);
        const __m256i hbits = _mm256_loadu_si256((const __m256i *)x->hmask);
        for (int c = 0; c < 2; c++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
            for (int j = 0; j < 4; j++) {
                const int k = 4 * c + j; /* the high bit of element 32k + l is bit k of hmask[l] */
                const __m256i h = _mm256_and_si256(_mm256_srli_epi16(hbits, k), one);
                v[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3), _mm256_slli_epi16(h, 2));
            }
        }
        uint32_t aux[4]; /* the 16 6-bit scales (ggml's kmask shuffle), biased by 32 */
        memcpy(aux, x->scales, 12);
        const uint32_t tmp = aux[2], k1 = 0x03030303u, k2 = 0x0f0f0f0fu;
        aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
        aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
        aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
        aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
        const uint8_t *sc = (const uint8_t *)aux;
        for (int g = 0; g < 16; g++) {
            S[g] = d * (float)(sc[g] - 32);
            M[g] = 0.0f;
        }
        break;
    }
    case MLA4J_TYPE_Q2_K: {
        const block_q2_K *x = (const block_q2_K *)p;
        const float d = _cvtsh_ss(x->d), dmin = _cvtsh_ss(x->dmin);
        for (int c = 0; c < 2; c++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
            for (int j = 0; j < 4; j++) v[4 * c + j] = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * j), m3);
        }
        for (int g = 0; g < 16; g++) {
            S[g] = d * (float)(x->scales[g] & 0x0f);
            M[g] = dmin * (float)(x->scales[g] >> 4);
        }
        break;
    }
    default: { /* IQ4_XS: table values + 128 */
        const block_iq4_xs *x = (const block_iq4_xs *)p;
        const float d = _cvtsh_ss(x->d);
        const __m256i values = _mm256_add_epi8(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kern_iq4nl_values)), _mm256_set1_epi8((char)0x80));
        for (int k = 0; k < 8; k++) {
            const __m128i q16 = _mm_loadu_si128((const __m128i *)(x->qs + 16 * k));
            v[k] = _mm256_shuffle_epi8(values, _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q16, 4), q16), m4));
            const int ls = ((x->scales_l[k / 2] >> 4 * (k % 2)) & 0x0f) | (((x->scales_h >> 2 * k) & 3) << 4);
            S[k] = d * (float)(ls - 32);
            M[k] = 0.0f;
        }
        break;
    }
    }
    for (int k = 0; k < 8; k++) _mm256_storeu_si256((__m256i *)(u + 32 * k), v[k]);
}

/* Repacks rows r..r+nr-1 (nr <= 16), super-blocks s0..s0+ns-1, into the panel; missing rows are zero. */
static void kg_repack(const kern_matrix *w, int64_t r, int nr, int64_t s0, int64_t ns, uint8_t *panel) {
    const int32_t type = w->type;
    const int64_t ts = kern_type_traits_of(type)->type_size, sbb = kg_sb_bytes(type);
    const int ng = 256 / kg_group(type);
    if (nr < 16) memset(panel, 0, (size_t)(ns * sbb));
    for (int i = 0; i < nr; i++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes;
        for (int64_t s = 0; s < ns; s++) {
            _Alignas(32) uint8_t u[256];
            float S[16], M[16];
            kg_decode(type, row + (s0 + s) * ts, u, S, M);
            uint8_t *pb = panel + s * sbb;
            for (int q = 0; q < 64; q++) memcpy(pb + q * 64 + 4 * i, u + 4 * q, 4);
            float *ps = (float *)(pb + 4096), *pm = ps + 16 * ng;
            for (int g = 0; g < ng; g++) {
                ps[16 * g + i] = S[g];
                pm[16 * g + i] = M[g];
            }
        }
    }
}

/* What one token of a tile needs per super-block besides its quants: the activation scale, the group sums as
 * floats (minimum types) and -o times them as integers (offset types). */
typedef struct {
    float d[KG_KC];
    float bsum[KG_KC][16];
    int32_t ioff[KG_KC][16];
} kg_tok;

static void kg_prepare(int32_t type, const block_q8_K *a, int64_t s0, int64_t ns, kg_tok *o) {
    const int G = kg_group(type), off = kg_offset(type);
    for (int64_t s = 0; s < ns; s++) {
        const block_q8_K *b = &a[s0 + s];
        o->d[s] = b->d;
        for (int g = 0; g < 256 / G; g++) {
            const int sum = G == 16 ? b->bsums[g] : b->bsums[2 * g] + b->bsums[2 * g + 1];
            o->bsum[s][g] = (float)sum;
            o->ioff[s][g] = -off * sum;
        }
    }
}

/* facc[j] = the 16 rows of the panel times token j over ns super-blocks. */
static inline __attribute__((always_inline)) void kg_tile(const int32_t type, const uint8_t *panel, int64_t ns,
                                                          const block_q8_K *const *a, int64_t s0, const kg_tok *tk,
                                                          const int nt, __m512 *facc) {
    const int G = kg_group(type), ng = 256 / G, off = kg_offset(type), has_min = kg_has_min(type);
    const int64_t sbb = kg_sb_bytes(type);
    for (int j = 0; j < nt; j++) facc[j] = _mm512_setzero_ps();
    for (int64_t s = 0; s < ns; s++) {
        const uint8_t *pb = panel + s * sbb;
        const float *ps = (const float *)(pb + 4096), *pm = ps + 16 * ng;
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
                kg_repack(w, rp, rg1 - rp < 16 ? (int)(rg1 - rp) : 16, kb, ns, panels[p]);
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
