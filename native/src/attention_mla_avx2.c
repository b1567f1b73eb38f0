/* attention_mla_avx2.c - the AVX2 + FMA + F16C kernels of the latent attention (attention_mla_ref.c has the
 * references; mla_kernels_for picks a level). Compiled with -mavx2 -mfma -mf16c (CMake: *_avx2.c) and only
 * called when the context's kernel level is AVX2 or higher. They follow the AVX-512 ones with 8 lanes; CPUs
 * without AVX-512 (Zen 3, most desktop parts) run the whole decode through them. */
#include "context.h"
#include "attention_mla_quads_x86.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Lane mask of the first min(left, 8) floats. */
static inline __m256i mask8(int64_t left) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left >= 8 ? 8 : (int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- cache rows ---------------------------------------------------------------------------------------------- */

/* 8 values from 8 quants times a scale (q * d is exact in float, as in kern_dequantize_row). */
static inline __m256 q8x8(const uint8_t *q, __m256 d) {
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q))), d);
}

void mla_dequant_rows_avx2(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out) {
    for (int64_t s = 0; s < n; s++, src += row_bytes, out += W) {
        switch (type) {
        case MLA4J_TYPE_F16: {
            const uint16_t *h = (const uint16_t *)src;
            int64_t k = 0;
            for (; k + 8 <= W; k += 8) _mm256_storeu_ps(out + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + k))));
            for (; k < W; k++) out[k] = kern_fp16_to_fp32(h[k]);
            break;
        }
        case MLA4J_TYPE_Q8_0:
            for (int64_t b = 0; b < W / 32; b++) {
                const uint8_t *blk = src + b * 34;
                const __m256 d = _mm256_set1_ps(kern_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8)));
                for (int g = 0; g < 4; g++) _mm256_storeu_ps(out + b * 32 + 8 * g, q8x8(blk + 2 + 8 * g, d));
            }
            break;
        default:
            kern_dequantize_row(type, src, out, W);
            break;
        }
    }
}

/* ---- tile scores (float caches) ------------------------------------------------------------------------------- */

/* Dot products of 4 query rows with 2 tile rows (r1 may equal r0), over W values. */
static inline void dots4x2(const float *q, int64_t W, const float *r0, const float *r1, float *out, int64_t out_stride) {
    __m256 a[4], b[4];
    for (int j = 0; j < 4; j++) a[j] = b[j] = _mm256_setzero_ps();
    for (int64_t k = 0; k < W; k += 8) {
        const __m256i m = mask8(W - k);
        const __m256 x = _mm256_maskload_ps(r0 + k, m), y = _mm256_maskload_ps(r1 + k, m);
        for (int j = 0; j < 4; j++) {
            const __m256 qv = _mm256_maskload_ps(q + j * W + k, m);
            a[j] = _mm256_fmadd_ps(qv, x, a[j]);
            b[j] = _mm256_fmadd_ps(qv, y, b[j]);
        }
    }
    for (int j = 0; j < 4; j++) {
        out[j * out_stride] = hsum8(a[j]);
        if (r1 != r0) out[j * out_stride + 1] = hsum8(b[j]);
    }
}

void mla_scores_avx2(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out, int64_t out_stride) {
    int64_t i = 0;
    for (; i + 4 <= n_q; i += 4) {
        for (int64_t s = 0; s < n_s; s += 2) {
            const float *r0 = tile + s * W, *r1 = s + 1 < n_s ? r0 + W : r0;
            dots4x2(q + i * W, W, r0, r1, out + i * out_stride + s, out_stride);
        }
    }
    for (; i < n_q; i++) {
        for (int64_t s = 0; s < n_s; s++) {
            __m256 a = _mm256_setzero_ps();
            for (int64_t k = 0; k < W; k += 8) {
                const __m256i m = mask8(W - k);
                a = _mm256_fmadd_ps(_mm256_maskload_ps(q + i * W + k, m), _mm256_maskload_ps(tile + s * W + k, m), a);
            }
            out[i * out_stride + s] = hsum8(a);
        }
    }
}

/* ---- weighted sum ------------------------------------------------------------------------------------------------ */

/* nq (<= 6, a constant after inlining) query rows x 16 columns: 2 x nq accumulators stay in registers while the
 * tile's rows stream through; full (a constant too) says that no column is masked. */
static inline __attribute__((always_inline)) void wsum_block(const int nq, const int full, const float *rows,
                                                             int64_t n_s, int64_t ld, const float *p,
                                                             int64_t p_stride, float *acc, int64_t C, int64_t c0,
                                                             __m256i m0, __m256i m1) {
    __m256 a0[6], a1[6];
    for (int q = 0; q < nq; q++) a0[q] = a1[q] = _mm256_setzero_ps();
    for (int64_t s = 0; s < n_s; s++) {
        const float *r = rows + s * ld + c0;
        const __m256 x0 = full ? _mm256_loadu_ps(r) : _mm256_maskload_ps(r, m0);
        const __m256 x1 = full ? _mm256_loadu_ps(r + 8) : _mm256_maskload_ps(r + 8, m1);
        for (int q = 0; q < nq; q++) {
            const __m256 w = _mm256_broadcast_ss(p + q * p_stride + s);
            a0[q] = _mm256_fmadd_ps(w, x0, a0[q]);
            a1[q] = _mm256_fmadd_ps(w, x1, a1[q]);
        }
    }
    for (int q = 0; q < nq; q++) {
        float *o = acc + q * C + c0;
        if (full) {
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), a0[q]));
            _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), a1[q]));
        } else {
            _mm256_maskstore_ps(o, m0, _mm256_add_ps(_mm256_maskload_ps(o, m0), a0[q]));
            _mm256_maskstore_ps(o + 8, m1, _mm256_add_ps(_mm256_maskload_ps(o + 8, m1), a1[q]));
        }
    }
}

void mla_weighted_sum_avx2(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride, int64_t n_q,
                           float *acc, int64_t C) {
    for (int64_t c0 = 0; c0 < C; c0 += 16) {
        const __m256i m0 = mask8(C - c0), m1 = mask8(C - c0 - 8);
        int64_t i = 0;
        if (C - c0 >= 16) {
            for (; i + 6 <= n_q; i += 6) wsum_block(6, 1, rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0, m0, m1);
            for (; i < n_q; i++) wsum_block(1, 1, rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0, m0, m1);
        } else {
            for (; i < n_q; i++) wsum_block(1, 0, rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0, m0, m1);
        }
    }
}

/* ---- int8 weighted sum of a Q8_0 cache ------------------------------------------------------------------------- */

/* mla_weighted_sum_q8_u7_ref (attention_mla_ref.c) defines the arithmetic, which this follows bit for bit: per query
 * row i and cache block b the tile's weights p[i][s] * d[s][b] become 7-bit integers (0..127) against the bound
 * pmax_i * dmax_b, and vpmaddubsw multiplies them with the raw signed quants (a pair sum is at most 2 x 127 x 128, no
 * int16 saturation), vpmaddwd adds the pairs of pairs: four rows per int32 column lane, as vpdpbusd does in the VNNI
 * version (attention_mla_avx512.c). The tile's block b is interleaved by rows first: vector k, v holds columns
 * 8v..8v+7 with rows 4k..4k+3 as the 4 bytes of each dword. No float tile is decoded at all. */
enum { WQ7_GROUP = 64 }; /* query rows whose normalised weights are kept at once (8 KiB) */

static inline void pack_quads8(const uint8_t *blk, size_t row_bytes, int64_t n_s, __m256i quads[MLA_ROW_TILE / 4][4]) {
    for (int k = 0; k < MLA_ROW_TILE / 4; k++) {
        if (4 * k >= n_s) { /* the rest of the tile is absent: zero quads */
            for (int v = 0; v < 4; v++) quads[k][v] = _mm256_setzero_si256();
            continue;
        }
        mla_q8_quad_rows(blk, row_bytes, 4 * k, n_s, quads[k]);
    }
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Query rows i0 .. i0+nq-1 (nq <= WQ7_GROUP) over the whole tile. */
static void wsum_q8_u7_group(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                             int64_t nq, float *acc, int64_t C) {
    enum { T = MLA_ROW_TILE };
    _Alignas(32) float pn[WQ7_GROUP][T];
    float pmax[WQ7_GROUP];
    for (int64_t i = 0; i < nq; i++) { /* weights over their row maximum (0 past n_s) */
        __m256 v[T / 8], mx = _mm256_setzero_ps();
        for (int g = 0; g < T / 8; g++) {
            v[g] = _mm256_maskload_ps(p + i * p_stride + 8 * g, mask8(n_s - 8 * g)); /* weights are >= 0 */
            mx = _mm256_max_ps(mx, v[g]);
        }
        pmax[i] = hmax8(mx);
        const __m256 inv = _mm256_set1_ps(pmax[i] > 0.0f ? 1.0f / pmax[i] : 0.0f);
        for (int g = 0; g < T / 8; g++) _mm256_store_ps(pn[i] + 8 * g, _mm256_mul_ps(v[g], inv));
    }
    const __m256i ones16 = _mm256_set1_epi16(1), l7 = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < C / 32; b++) {
        const uint8_t *blk = rows + (size_t)b * 34;
        /* this block's scales of the tile's rows (0 past n_s), their maximum, and d scaled to 127 at that maximum */
        _Alignas(32) uint16_t dh[T] = {0};
        for (int64_t s = 0; s < n_s; s++) memcpy(&dh[s], blk + (size_t)s * row_bytes, 2);
        __m256 dn[T / 8], mx = _mm256_setzero_ps();
        for (int g = 0; g < T / 8; g++) {
            dn[g] = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(dh + 8 * g)));
            mx = _mm256_max_ps(mx, dn[g]);
        }
        const float dmax = hmax8(mx);
        if (!(dmax > 0.0f)) continue; /* an all-zero block adds nothing */
        const __m256 sd = _mm256_set1_ps(127.0f / dmax);
        for (int g = 0; g < T / 8; g++) dn[g] = _mm256_mul_ps(dn[g], sd);
        const float dq = dmax / 127.0f;
        __m256i quads[T / 4][4];
        pack_quads8(blk, row_bytes, n_s, quads);
        for (int64_t i = 0; i < nq; i++) {
            if (!(pmax[i] > 0.0f)) continue;
            __m256i w[T / 8];
            for (int g = 0; g < T / 8; g++)
                w[g] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_load_ps(pn[i] + 8 * g), dn[g])), l7);
            /* the 32 weights as bytes, dword k = rows 4k..4k+3 (the packs work within 128-bit lanes) */
            const __m256i u = _mm256_permutevar8x32_epi32(
                _mm256_packus_epi16(_mm256_packs_epi32(w[0], w[1]), _mm256_packs_epi32(w[2], w[3])), order);
            _Alignas(32) int32_t uk[T / 4];
            _mm256_store_si256((__m256i *)uk, u);
            __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
            const int64_t nk = (n_s + 3) / 4;
#pragma GCC unroll 8
            for (int k = 0; k < T / 4; k++) {
                if (k >= nk) break;
                const __m256i wk = _mm256_set1_epi32(uk[k]);
                for (int v = 0; v < 4; v++)
                    s[v] = _mm256_add_epi32(s[v], _mm256_madd_epi16(_mm256_maddubs_epi16(wk, quads[k][v]), ones16));
            }
            const __m256 e = _mm256_set1_ps(pmax[i] * dq);
            float *o = acc + i * C + b * 32;
            for (int v = 0; v < 4; v++)
                _mm256_storeu_ps(o + 8 * v, _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[v]), e, _mm256_loadu_ps(o + 8 * v)));
        }
    }
}

void mla_weighted_sum_q8_avx2(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C) {
    for (int64_t i0 = 0; i0 < n_q; i0 += WQ7_GROUP) {
        const int64_t nq = n_q - i0 < WQ7_GROUP ? n_q - i0 : WQ7_GROUP;
        wsum_q8_u7_group(rows, row_bytes, n_s, p + i0 * p_stride, p_stride, nq, acc + i0 * C, C);
    }
}

/* ---- softmax pieces --------------------------------------------------------------------------------------------- */

/* e^x for x <= 0: the polynomial of the AVX-512 version (attention_mla_avx512.c), with 2^n built in the exponent
 * field instead of vscalefps (n >= -126 after the clamp, so 2^n is a normal float and p * 2^n rounds alike). */
static inline __m256 exp_nonpositive(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

float mla_scale_max_avx2(float *row, int64_t n, float scale) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    const __m256 sc = _mm256_set1_ps(scale);
    for (int64_t s = 0; s < n; s += 8) {
        const __m256i m = mask8(n - s);
        const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(row + s, m), sc);
        _mm256_maskstore_ps(row + s, m, v);
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(m)));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    return _mm_cvtss_f32(m4);
}

float mla_exp_sum_avx2(float *row, int64_t n, float max) {
    __m256 sum = _mm256_setzero_ps();
    const __m256 mv = _mm256_set1_ps(max);
    for (int64_t s = 0; s < n; s += 8) {
        const __m256i m = mask8(n - s);
        const __m256 e = _mm256_and_ps(exp_nonpositive(_mm256_sub_ps(_mm256_maskload_ps(row + s, m), mv)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(row + s, m, e);
        sum = _mm256_add_ps(sum, e);
    }
    return hsum8(sum);
}

/* ---- the small f32 matrix product of the MHA-form prefill ---------------------------------------------------- */

/* mr rows (<= 6) x 16 columns of Cm (+)= A B: 2 x mr accumulators in registers while k runs over the shared
 * dimension; m0/m1 mask a column tail (a zero mask loads zeros and stores nothing). */
static inline __attribute__((always_inline)) void gemm_micro(int mr, const float *A, int64_t lda, const float *B,
                                                             int64_t ldb, float *Cm, int64_t ldc, int64_t K,
                                                             __m256i m0, __m256i m1, int accumulate) {
    __m256 acc[6][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb;
        const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
        for (int r = 0; r < mr; r++) {
            const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *c = Cm + r * ldc;
        __m256 x0 = acc[r][0], x1 = acc[r][1];
        if (accumulate) {
            x0 = _mm256_add_ps(x0, _mm256_maskload_ps(c, m0));
            x1 = _mm256_add_ps(x1, _mm256_maskload_ps(c + 8, m1));
        }
        _mm256_maskstore_ps(c, m0, x0);
        _mm256_maskstore_ps(c + 8, m1, x1);
    }
}

void mla_gemm_nn_avx2(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float *Cm, int64_t ldc, int accumulate) {
    for (int64_t j0 = 0; j0 < N; j0 += 16) {
        const __m256i m0 = mask8(N - j0), m1 = mask8(N - j0 - 8);
        const float *Bj = B + j0;
        float *Cj = Cm + j0;
        int64_t i = 0;
        for (; i + 6 <= M; i += 6) gemm_micro(6, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, m0, m1, accumulate);
        for (; i + 3 <= M; i += 3) gemm_micro(3, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, m0, m1, accumulate);
        for (; i < M; i++) gemm_micro(1, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, m0, m1, accumulate);
    }
}
