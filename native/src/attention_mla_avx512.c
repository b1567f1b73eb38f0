/* attention_mla_avx512.c - the AVX-512 version of the latent weighted sum (attention_mla.c has the reference).
 * Compiled with -mavx512f (CMake: *_avx512.c) and only called when the context's kernel level is AVX512. */
#include "context.h"
#include "kernels_impl.h"
#include "attention_mla_quads_x86.h"

#include <immintrin.h>
#include <math.h>

/* Four query rows x 32 columns: 8 accumulators in registers (fully unrolled so they never spill) while the
 * rows of the tile stream through; m0/m1 mask a column tail. */
static inline void block4(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride, float *acc,
                          int64_t C, int64_t c0, __mmask16 m0, __mmask16 m1) {
    __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps();
    __m512 a20 = _mm512_setzero_ps(), a21 = _mm512_setzero_ps(), a30 = _mm512_setzero_ps(), a31 = _mm512_setzero_ps();
    const float *p0 = p, *p1 = p + p_stride, *p2 = p + 2 * p_stride, *p3 = p + 3 * p_stride;
    for (int64_t s = 0; s < n_s; s++) {
        const float *r = rows + s * ld + c0;
        const __m512 r0 = _mm512_maskz_loadu_ps(m0, r), r1 = _mm512_maskz_loadu_ps(m1, r + 16);
        const __m512 w0 = _mm512_set1_ps(p0[s]), w1 = _mm512_set1_ps(p1[s]);
        const __m512 w2 = _mm512_set1_ps(p2[s]), w3 = _mm512_set1_ps(p3[s]);
        a00 = _mm512_fmadd_ps(w0, r0, a00);
        a01 = _mm512_fmadd_ps(w0, r1, a01);
        a10 = _mm512_fmadd_ps(w1, r0, a10);
        a11 = _mm512_fmadd_ps(w1, r1, a11);
        a20 = _mm512_fmadd_ps(w2, r0, a20);
        a21 = _mm512_fmadd_ps(w2, r1, a21);
        a30 = _mm512_fmadd_ps(w3, r0, a30);
        a31 = _mm512_fmadd_ps(w3, r1, a31);
    }
    const __m512 a[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
    for (int q = 0; q < 4; q++) {
        float *o = acc + q * C + c0;
        _mm512_mask_storeu_ps(o, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), a[q][0]));
        _mm512_mask_storeu_ps(o + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), a[q][1]));
    }
}

/* One query row x 32 columns, for the rows left over after the blocks of four. */
static inline void block1(const float *rows, int64_t n_s, int64_t ld, const float *p, float *acc, int64_t c0,
                          __mmask16 m0, __mmask16 m1) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t s = 0; s < n_s; s++) {
        const float *r = rows + s * ld + c0;
        const __m512 w = _mm512_set1_ps(p[s]);
        a0 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(m0, r), a0);
        a1 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(m1, r + 16), a1);
    }
    float *o = acc + c0;
    _mm512_mask_storeu_ps(o, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), a0));
    _mm512_mask_storeu_ps(o + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), a1));
}

/* acc[i][0..C) += sum_s p[i*p_stride + s] * rows[s*ld + 0..C) for i < n_q, s < n_s. */
void mla_weighted_sum_avx512(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride,
                             int64_t n_q, float *acc, int64_t C) {
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
        const int64_t left = C - c0;
        const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        int64_t i = 0;
        for (; i + 4 <= n_q; i += 4) block4(rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0, m0, m1);
        for (; i < n_q; i++) block1(rows, n_s, ld, p + i * p_stride, acc + i * C, c0, m0, m1);
    }
}

/* nq (16, 8, 4 or 1: a constant after inlining) query rows x 16 columns of one Q8_0 block half: each cache row's
 * 16 quants are decoded in a register (q * d, exact) and used by all nq rows, so the tile is never written out as
 * floats; 16 accumulators stay in registers. d[s] is the scale of this block in row s. */
static inline __attribute__((always_inline)) void block_q8(const int nq, const uint8_t *col, size_t row_bytes,
                                                           int64_t n_s, const float *d, const float *p,
                                                           int64_t p_stride, float *acc, int64_t C) {
    __m512 a[16];
    for (int q = 0; q < nq; q++) a[q] = _mm512_setzero_ps();
    for (int64_t s = 0; s < n_s; s++) {
        const __m128i qs = _mm_loadu_si128((const __m128i *)(col + (size_t)s * row_bytes));
        const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(qs)), _mm512_set1_ps(d[s]));
        for (int q = 0; q < nq; q++) a[q] = _mm512_fmadd_ps(_mm512_set1_ps(p[q * p_stride + s]), x, a[q]);
    }
    for (int q = 0; q < nq; q++) _mm512_storeu_ps(acc + q * C, _mm512_add_ps(_mm512_loadu_ps(acc + q * C), a[q]));
}

void mla_weighted_sum_q8_avx512(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C) {
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)row_bytes));
    for (int64_t b = 0; b < C / 32; b++) {
        const uint8_t *blk = rows + (size_t)b * sizeof(block_q8_0);
        _Alignas(64) float d[MLA_ROW_TILE];
        for (int64_t s0 = 0; s0 < n_s; s0 += 16) { /* this block's scales of 16 rows: one gather, one conversion */
            const __mmask16 m = n_s - s0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n_s - s0)) - 1);
            const __m512i h = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, offs, blk + (size_t)s0 * row_bytes, 1);
            _mm512_store_ps(d + s0, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h)));
        }
        for (int64_t half = 0; half < 2; half++) {
            const uint8_t *col = blk + 2 + 16 * half;
            float *ac = acc + b * 32 + 16 * half;
            int64_t i = 0;
            for (; i + 16 <= n_q; i += 16) block_q8(16, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
            for (; i + 8 <= n_q; i += 8) block_q8(8, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
            for (; i + 4 <= n_q; i += 4) block_q8(4, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
            for (; i < n_q; i++) block_q8(1, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
        }
    }
}

/* ---- int8 weighted sum of a Q8_0 cache (VNNI) ------------------------------------------------------------------ */

/* mla_weighted_sum_q8_u8_ref (attention_mla_ref.c) defines the arithmetic, which this follows bit for bit: per query
 * row i and cache block b the tile's weights p[i][s] * d[s][b] become unsigned 8-bit integers against the bound
 * pmax_i * dmax_b, vpdpbusd multiplies them with the raw signed quants four rows at a time (the tile's block b is
 * interleaved by rows first: dword k, column j = rows 4k..4k+3 of column j), and the exact int32 sums are scaled
 * back into the float accumulators. About a third of the instructions of the float sum. */
static inline void pack_quads(const uint8_t *blk, size_t row_bytes, int64_t n_s, __m512i *out) {
    for (int k = 0; k < MLA_ROW_TILE / 4; k++) {
        __m256i v[4];
        mla_q8_quad_rows(blk, row_bytes, 4 * k, n_s, v);
        out[2 * k] = _mm512_inserti64x4(_mm512_castsi256_si512(v[0]), v[1], 1);
        out[2 * k + 1] = _mm512_inserti64x4(_mm512_castsi256_si512(v[2]), v[3], 1);
        if (4 * k + 4 >= n_s) { /* the rest of the tile is absent: zero quads */
            for (int k2 = k + 1; k2 < MLA_ROW_TILE / 4; k2++) out[2 * k2] = out[2 * k2 + 1] = _mm512_setzero_si512();
            return;
        }
    }
}

#pragma GCC push_options
#pragma GCC target("avx512vnni")
enum { WQ_GROUP = 64 }; /* query rows whose normalised weights are kept at once (8 KiB) */

/* Query rows i0 .. i0+nq-1 (nq <= WQ_GROUP) over the whole tile. */
static void wsum_q8_vnni_group(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                               int64_t nq, float *acc, int64_t C) {
    enum { T = MLA_ROW_TILE };
    _Alignas(64) float pn[WQ_GROUP][T];
    float pmax[WQ_GROUP];
    const __mmask16 m0 = n_s >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n_s) - 1);
    const __mmask16 m1 = n_s >= 32 ? (__mmask16)0xFFFF : n_s > 16 ? (__mmask16)((1u << (n_s - 16)) - 1) : 0;
    for (int64_t i = 0; i < nq; i++) { /* weights over their row maximum */
        const __m512 a = _mm512_maskz_loadu_ps(m0, p + i * p_stride), b = _mm512_maskz_loadu_ps(m1, p + i * p_stride + 16);
        pmax[i] = _mm512_reduce_max_ps(_mm512_max_ps(a, b)); /* weights are >= 0; masked lanes read 0 */
        const __m512 inv = _mm512_set1_ps(pmax[i] > 0.0f ? 1.0f / pmax[i] : 0.0f);
        _mm512_store_ps(pn[i], _mm512_mul_ps(a, inv));
        _mm512_store_ps(pn[i] + 16, _mm512_mul_ps(b, inv));
    }
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)row_bytes));
    for (int64_t b = 0; b < C / 32; b++) {
        const uint8_t *blk = rows + (size_t)b * 34;
        /* this block's scales of the tile's rows (0 past n_s), their maximum, and d scaled to 255 at that maximum */
        const __m512 d0 = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m0, offs, blk, 1)));
        const __m512 d1 = _mm512_cvtph_ps(
            _mm512_cvtepi32_epi16(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m1, offs, blk + 16 * row_bytes, 1)));
        const float dmax = _mm512_reduce_max_ps(_mm512_max_ps(d0, d1));
        if (!(dmax > 0.0f)) continue; /* an all-zero block adds nothing */
        const __m512 sd = _mm512_set1_ps(255.0f / dmax);
        const __m512 dn0 = _mm512_mul_ps(d0, sd), dn1 = _mm512_mul_ps(d1, sd);
        const float dq = dmax / 255.0f;
        __m512i quads[T / 2];
        pack_quads(blk, row_bytes, n_s, quads);
        for (int64_t i = 0; i < nq; i++) {
            if (!(pmax[i] > 0.0f)) continue;
            const __m512i w0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_load_ps(pn[i]), dn0));
            const __m512i w1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_load_ps(pn[i] + 16), dn1));
            _Alignas(32) uint32_t u[T / 4]; /* the 32 weights as bytes: dword k = rows 4k..4k+3 */
            _mm_store_si128((__m128i *)u, _mm512_cvtusepi32_epi8(w0));
            _mm_store_si128((__m128i *)(u + 4), _mm512_cvtusepi32_epi8(w1));
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int k = 0; k < T / 4; k++) {
                const __m512i wk = _mm512_set1_epi32((int)u[k]);
                s0 = _mm512_dpbusd_epi32(s0, wk, quads[2 * k]);
                s1 = _mm512_dpbusd_epi32(s1, wk, quads[2 * k + 1]);
            }
            const __m512 e = _mm512_set1_ps(pmax[i] * dq);
            float *o = acc + i * C + b * 32;
            _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), e, _mm512_loadu_ps(o)));
            _mm512_storeu_ps(o + 16, _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), e, _mm512_loadu_ps(o + 16)));
        }
    }
}

void mla_weighted_sum_q8_vnni(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C) {
    for (int64_t i0 = 0; i0 < n_q; i0 += WQ_GROUP) {
        const int64_t nq = n_q - i0 < WQ_GROUP ? n_q - i0 : WQ_GROUP;
        wsum_q8_vnni_group(rows, row_bytes, n_s, p + i0 * p_stride, p_stride, nq, acc + i0 * C, C);
    }
}
#pragma GCC pop_options

static inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

/* Dot products of 8 query rows with one or two cache rows, over W values. */
#define LOADQ(j) _mm512_maskz_loadu_ps(m, qi + (j) * W + k)
static inline void dots8(const float *qi, int64_t W, const float *r0, const float *r1, float *out, int64_t out_stride) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 a4 = _mm512_setzero_ps(), a5 = _mm512_setzero_ps(), a6 = _mm512_setzero_ps(), a7 = _mm512_setzero_ps();
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    __m512 b4 = _mm512_setzero_ps(), b5 = _mm512_setzero_ps(), b6 = _mm512_setzero_ps(), b7 = _mm512_setzero_ps();
    for (int64_t k = 0; k < W; k += 16) {
        const int64_t left = W - k;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(m, r0 + k), y = _mm512_maskz_loadu_ps(m, r1 + k);
        __m512 q;
        q = LOADQ(0); a0 = _mm512_fmadd_ps(q, x, a0); b0 = _mm512_fmadd_ps(q, y, b0);
        q = LOADQ(1); a1 = _mm512_fmadd_ps(q, x, a1); b1 = _mm512_fmadd_ps(q, y, b1);
        q = LOADQ(2); a2 = _mm512_fmadd_ps(q, x, a2); b2 = _mm512_fmadd_ps(q, y, b2);
        q = LOADQ(3); a3 = _mm512_fmadd_ps(q, x, a3); b3 = _mm512_fmadd_ps(q, y, b3);
        q = LOADQ(4); a4 = _mm512_fmadd_ps(q, x, a4); b4 = _mm512_fmadd_ps(q, y, b4);
        q = LOADQ(5); a5 = _mm512_fmadd_ps(q, x, a5); b5 = _mm512_fmadd_ps(q, y, b5);
        q = LOADQ(6); a6 = _mm512_fmadd_ps(q, x, a6); b6 = _mm512_fmadd_ps(q, y, b6);
        q = LOADQ(7); a7 = _mm512_fmadd_ps(q, x, a7); b7 = _mm512_fmadd_ps(q, y, b7);
    }
    const __m512 a[8] = {a0, a1, a2, a3, a4, a5, a6, a7}, b[8] = {b0, b1, b2, b3, b4, b5, b6, b7};
    for (int j = 0; j < 8; j++) {
        out[j * out_stride] = hsum(a[j]);
        if (r1 != r0) out[j * out_stride + 1] = hsum(b[j]);
    }
}
#undef LOADQ

/* out[i*out_stride + s] = q[i*W .. +W) . tile[s*W .. +W) for i < n_q, s < n_s: blocks of eight query rows stay
 * in L1 while the tile's rows stream through two at a time. */
void mla_scores_avx512(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out,
                       int64_t out_stride) {
    int64_t i = 0;
    for (; i + 8 <= n_q; i += 8) {
        for (int64_t s = 0; s < n_s; s += 2) {
            const float *r0 = tile + s * W, *r1 = s + 1 < n_s ? r0 + W : r0;
            dots8(q + i * W, W, r0, r1, out + i * out_stride + s, out_stride);
        }
    }
    for (; i < n_q; i++) {
        for (int64_t s = 0; s < n_s; s++) {
            __m512 a = _mm512_setzero_ps();
            for (int64_t k = 0; k < W; k += 16) {
                const int64_t left = W - k;
                const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i * W + k), _mm512_maskz_loadu_ps(m, tile + s * W + k), a);
            }
            out[i * out_stride + s] = hsum(a);
        }
    }
}

/* Decodes n cache rows of W values (row_bytes apart) into floats, exactly as kern_dequantize_row does (the
 * conversions are exact: f16 -> f32, q * d in float). */
void mla_dequant_rows_avx512(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out) {
    for (int64_t s = 0; s < n; s++, src += row_bytes, out += W) {
        switch (type) {
        case MLA4J_TYPE_F16:
            for (int64_t k = 0; k < W; k += 16) {
                const int64_t left = W - k;
                const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
                const __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)src + k);
                _mm512_mask_storeu_ps(out + k, m, _mm512_cvtph_ps(h));
            }
            break;
        case MLA4J_TYPE_Q8_0:
            for (int64_t b = 0; b < W / 32; b++) {
                const uint8_t *blk = src + b * 34;
                const __m512 d = _mm512_set1_ps(kern_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8)));
                const __m128i q0 = _mm_loadu_si128((const __m128i *)(blk + 2));
                const __m128i q1 = _mm_loadu_si128((const __m128i *)(blk + 18));
                _mm512_storeu_ps(out + b * 32, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d));
                _mm512_storeu_ps(out + b * 32 + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d));
            }
            break;
        default:
            kern_dequantize_row(type, src, out, W);
            break;
        }
    }
}

/* e^x for x <= 0 (Cephes' expf: range reduction by ln 2 in two parts, degree-6 polynomial, exact scaling by 2^n);
 * relative error about 1e-7. Below -87 the result is clamped to e^-87 (a weight of ~1e-38, like expf's). */
static inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* row[s] *= scale for s < n; returns the largest scaled value. */
float mla_scale_max_avx512(float *row, int64_t n, float scale) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t s = 0; s < n; s += 16) {
        const int64_t left = n - s;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + s), sc);
        _mm512_mask_storeu_ps(row + s, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    return _mm512_reduce_max_ps(mx);
}

/* row[s] = e^(row[s] - max) for s < n; returns their sum. */
float mla_exp_sum_avx512(float *row, int64_t n, float max) {
    __m512 sum = _mm512_setzero_ps();
    const __m512 mv = _mm512_set1_ps(max);
    for (int64_t s = 0; s < n; s += 16) {
        const int64_t left = n - s;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + s), mv));
        _mm512_mask_storeu_ps(row + s, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/* ---- the small f32 matrix product of the MHA-form prefill (attention_mla_mha.c has the reference) ------------ */

/* mr rows (<= 6) x 64 columns of Cm (+)= A B: 4 x mr accumulators stay in registers (the function is inlined
 * with a constant mr, so the loops over r unroll) while k runs over the shared dimension; mk masks a column
 * tail (a zero mask loads zeros and stores nothing). */
static inline __attribute__((always_inline)) void gemm_micro(int mr, const float *A, int64_t lda, const float *B,
                                                             int64_t ldb, float *Cm, int64_t ldc, int64_t K,
                                                             const __mmask16 mk[4], int accumulate) {
    __m512 acc[6][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb;
        __m512 bv[4];
        for (int v = 0; v < 4; v++) bv[v] = _mm512_maskz_loadu_ps(mk[v], b + 16 * v);
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(A[r * lda + k]);
            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *c = Cm + r * ldc;
        for (int v = 0; v < 4; v++) {
            __m512 x = acc[r][v];
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], c + 16 * v));
            _mm512_mask_storeu_ps(c + 16 * v, mk[v], x);
        }
    }
}

/* Cm[i*ldc + j] (+)= sum_k A[i*lda + k] * B[k*ldb + j] for i < M, j < N, k < K (accumulate: add to Cm). */
void mla_gemm_nn_avx512(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                        float *Cm, int64_t ldc, int accumulate) {
    for (int64_t j0 = 0; j0 < N; j0 += 64) {
        __mmask16 mk[4];
        for (int v = 0; v < 4; v++) {
            const int64_t left = N - j0 - 16 * v;
            mk[v] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        }
        const float *Bj = B + j0;
        float *Cj = Cm + j0;
        int64_t i = 0;
        for (; i + 6 <= M; i += 6) gemm_micro(6, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, mk, accumulate);
        for (; i + 3 <= M; i += 3) gemm_micro(3, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, mk, accumulate);
        for (; i < M; i++) gemm_micro(1, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, mk, accumulate);
    }
}

/* ---- bf16 weighted sum for quantized caches (vdpbf16ps: two products per lane and instruction) ---------------- */

/* Packs n rows of C floats (ld apart) into row pairs of bf16: out[(j*C + c)*2 + e] = bf16(rows[(2j+e)*ld + c]),
 * a missing last row as zeros; and the weights likewise: pp[i*pp_stride + j] = (bf16 p[i][2j], bf16 p[i][2j+1]).
 * Rounding is to nearest even (vcvtne2ps2bf16), as kern_fp32_to_bf16. */
void mla_pack_pairs_bf16_avx512(const float *rows, int64_t n, int64_t ld, int64_t C, uint16_t *out) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                                         20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t j = 0; 2 * j < n; j++) {
        const float *r0 = rows + 2 * j * ld, *r1 = r0 + ld;
        const int has1 = 2 * j + 1 < n;
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            const int64_t left = C - c0;
            const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            const __m512 a = _mm512_maskz_loadu_ps(m, r0 + c0), b = has1 ? _mm512_maskz_loadu_ps(m, r1 + c0) : _mm512_setzero_ps();
            const __m512i v = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(b, a));
            _mm512_mask_storeu_epi32(out + (j * C + c0) * 2, m, v);
        }
    }
}

/* nq (a constant after inlining: 8 or 1) query rows x 32 columns in 2 x nq accumulators (registers) while the
 * row pairs stream through. */
static inline __attribute__((always_inline)) void block_bf16(const int nq, const uint16_t *pairs, int64_t n_pairs,
                                                             const uint32_t *pi, int64_t pp_stride, float *acc,
                                                             int64_t C, int64_t c0, __mmask16 m0, __mmask16 m1) {
    __m512 a0[8], a1[8];
    for (int q = 0; q < nq; q++) a0[q] = a1[q] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_pairs; j++) {
        const uint16_t *r = pairs + (j * C + c0) * 2;
        const __m512bh x0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, r), x1 = (__m512bh)_mm512_maskz_loadu_epi32(m1, r + 32);
        for (int q = 0; q < nq; q++) {
            const __m512bh w = (__m512bh)_mm512_set1_epi32((int)pi[q * pp_stride + j]);
            a0[q] = _mm512_dpbf16_ps(a0[q], x0, w);
            a1[q] = _mm512_dpbf16_ps(a1[q], x1, w);
        }
    }
    for (int q = 0; q < nq; q++) {
        float *o = acc + q * C + c0;
        _mm512_mask_storeu_ps(o, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), a0[q]));
        _mm512_mask_storeu_ps(o + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), a1[q]));
    }
}

/* acc[i][0..C) += sum_j pp[i*pp_stride + j] . pairs[j] (both bf16 pairs, accumulated in f32) for i < n_q and
 * j < n_pairs: blocks of eight query rows, then single rows. */
void mla_weighted_sum_bf16_avx512(const uint16_t *pairs, int64_t n_pairs, const uint32_t *pp, int64_t pp_stride,
                                  int64_t n_q, float *acc, int64_t C) {
    for (int64_t c0 = 0; c0 < C; c0 += 32) {
        const int64_t left = C - c0;
        const __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        int64_t i = 0;
        for (; i + 8 <= n_q; i += 8) block_bf16(8, pairs, n_pairs, pp + i * pp_stride, pp_stride, acc + i * C, C, c0, m0, m1);
        for (; i < n_q; i++) block_bf16(1, pairs, n_pairs, pp + i * pp_stride, pp_stride, acc + i * C, C, c0, m0, m1);
    }
}

/* out[s] = bf16(x[s]) for s < n, rounded to nearest even; an odd n gets a zero after the last (a full pair). */
void mla_row_to_bf16_avx512(const float *x, int64_t n, uint16_t *out) {
    for (int64_t s = 0; s < n; s += 16) {
        const int64_t left = n - s;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + s));
        const __mmask16 mo = left >= 16 ? m : (__mmask16)((1u << (left + (left & 1))) - 1);
        _mm256_mask_storeu_epi16(out + s, mo, v);
    }
}
