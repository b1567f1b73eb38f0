/* attention_mla_neon.c - the ARM64 NEON kernels of the latent attention (attention_mla_ref.c has the references;
 * mla_kernels_for picks this table for all three NEON levels: the kernels are float arithmetic, which SDOT and
 * SMMLA do not change; the int8 scores of quantized caches go through kern_matmul, which does use them). They
 * follow the AVX2 versions (attention_mla_avx2.c) with 4 lanes per register and 32 registers. Compiled for the
 * ARMv8-A baseline. */
#include "context.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* ---- cache rows ---------------------------------------------------------------------------------------------- */

void mla_dequant_rows_neon(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out) {
    for (int64_t s = 0; s < n; s++, src += row_bytes, out += W) {
        switch (type) {
        case MLA4J_TYPE_F16: {
            const uint16_t *h = (const uint16_t *)src;
            int64_t k = 0;
            for (; k + 4 <= W; k += 4) vst1q_f32(out + k, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + k))));
            for (; k < W; k++) out[k] = kern_fp16_to_fp32(h[k]);
            break;
        }
        case MLA4J_TYPE_Q8_0:
            for (int64_t b = 0; b < W / 32; b++) {
                const uint8_t *blk = src + b * 34;
                /* q * d is exact in float, as in kern_dequantize_row */
                const float32x4_t d = vdupq_n_f32(kern_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8)));
                for (int g = 0; g < 2; g++) {
                    const int8x16_t q = vld1q_s8((const int8_t *)blk + 2 + 16 * g);
                    const int16x8_t w0 = vmovl_s8(vget_low_s8(q)), w1 = vmovl_high_s8(q);
                    float *o = out + b * 32 + 16 * g;
                    vst1q_f32(o, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w0))), d));
                    vst1q_f32(o + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(w0)), d));
                    vst1q_f32(o + 8, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w1))), d));
                    vst1q_f32(o + 12, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(w1)), d));
                }
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
INLINE void dots4x2(const float *q, int64_t W, const float *r0, const float *r1, float *out, int64_t out_stride) {
    float32x4_t a[4], b[4];
    for (int j = 0; j < 4; j++) a[j] = b[j] = vdupq_n_f32(0.0f);
    int64_t k = 0;
    for (; k + 4 <= W; k += 4) {
        const float32x4_t x = vld1q_f32(r0 + k), y = vld1q_f32(r1 + k);
        for (int j = 0; j < 4; j++) {
            const float32x4_t qv = vld1q_f32(q + j * W + k);
            a[j] = vfmaq_f32(a[j], qv, x);
            b[j] = vfmaq_f32(b[j], qv, y);
        }
    }
    for (int j = 0; j < 4; j++) {
        float sa = vaddvq_f32(a[j]), sb = vaddvq_f32(b[j]);
        for (int64_t kk = k; kk < W; kk++) {
            sa += q[j * W + kk] * r0[kk];
            sb += q[j * W + kk] * r1[kk];
        }
        out[j * out_stride] = sa;
        if (r1 != r0) out[j * out_stride + 1] = sb;
    }
}

void mla_scores_neon(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out, int64_t out_stride) {
    int64_t i = 0;
    for (; i + 4 <= n_q; i += 4) {
        for (int64_t s = 0; s < n_s; s += 2) {
            const float *r0 = tile + s * W, *r1 = s + 1 < n_s ? r0 + W : r0;
            dots4x2(q + i * W, W, r0, r1, out + i * out_stride + s, out_stride);
        }
    }
    for (; i < n_q; i++) {
        for (int64_t s = 0; s < n_s; s++) {
            float32x4_t a = vdupq_n_f32(0.0f);
            int64_t k = 0;
            for (; k + 4 <= W; k += 4) a = vfmaq_f32(a, vld1q_f32(q + i * W + k), vld1q_f32(tile + s * W + k));
            float sum = vaddvq_f32(a);
            for (; k < W; k++) sum += q[i * W + k] * tile[s * W + k];
            out[i * out_stride + s] = sum;
        }
    }
}

/* ---- weighted sum ------------------------------------------------------------------------------------------------ */

/* nq (<= 6) query rows x 16 columns: 4 x nq accumulators stay in registers while the tile's rows stream through. */
INLINE void wsum_block16(const int nq, const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride,
                         float *acc, int64_t C, int64_t c0) {
    float32x4_t a[6][4];
    for (int q = 0; q < nq; q++)
        for (int v = 0; v < 4; v++) a[q][v] = vdupq_n_f32(0.0f);
    for (int64_t s = 0; s < n_s; s++) {
        const float *r = rows + s * ld + c0;
        const float32x4_t x0 = vld1q_f32(r), x1 = vld1q_f32(r + 4), x2 = vld1q_f32(r + 8), x3 = vld1q_f32(r + 12);
        for (int q = 0; q < nq; q++) {
            const float w = p[q * p_stride + s];
            a[q][0] = vfmaq_n_f32(a[q][0], x0, w);
            a[q][1] = vfmaq_n_f32(a[q][1], x1, w);
            a[q][2] = vfmaq_n_f32(a[q][2], x2, w);
            a[q][3] = vfmaq_n_f32(a[q][3], x3, w);
        }
    }
    for (int q = 0; q < nq; q++) {
        float *o = acc + q * C + c0;
        for (int v = 0; v < 4; v++) vst1q_f32(o + 4 * v, vaddq_f32(vld1q_f32(o + 4 * v), a[q][v]));
    }
}

void mla_weighted_sum_neon(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride, int64_t n_q,
                           float *acc, int64_t C) {
    int64_t c0 = 0;
    for (; c0 + 16 <= C; c0 += 16) {
        int64_t i = 0;
        for (; i + 6 <= n_q; i += 6) wsum_block16(6, rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0);
        for (; i < n_q; i++) wsum_block16(1, rows, n_s, ld, p + i * p_stride, p_stride, acc + i * C, C, c0);
    }
    if (c0 < C) { /* a column tail: the reference's loop */
        for (int64_t s = 0; s < n_s; s++)
            for (int64_t i = 0; i < n_q; i++) {
                const float w = p[i * p_stride + s];
                for (int64_t k = c0; k < C; k++) acc[i * C + k] += w * rows[s * ld + k];
            }
    }
}

/* The weighted sum straight from Q8_0 cache rows (C a multiple of 32; n_s <= MLA_ROW_TILE): wsum_block16's
 * arithmetic on 16 quants of each row decoded in registers (q * d exact, as mla_dequant_rows_neon), so the result
 * has the bits of decoding the tile first and summing it with mla_weighted_sum_neon (test_mla checks it). */
INLINE void wsum_q8_block16(const int nq, const uint8_t *col, size_t row_bytes, int64_t n_s, const float *d,
                            const float *p, int64_t p_stride, float *acc, int64_t C) {
    float32x4_t a[6][4];
    for (int q = 0; q < nq; q++)
        for (int v = 0; v < 4; v++) a[q][v] = vdupq_n_f32(0.0f);
    for (int64_t s = 0; s < n_s; s++) {
        const int8x16_t qs = vld1q_s8((const int8_t *)(col + (size_t)s * row_bytes));
        const int16x8_t w0 = vmovl_s8(vget_low_s8(qs)), w1 = vmovl_high_s8(qs);
        const float32x4_t dv = vdupq_n_f32(d[s]);
        const float32x4_t x0 = vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w0))), dv);
        const float32x4_t x1 = vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(w0)), dv);
        const float32x4_t x2 = vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(w1))), dv);
        const float32x4_t x3 = vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(w1)), dv);
        for (int q = 0; q < nq; q++) {
            const float w = p[q * p_stride + s];
            a[q][0] = vfmaq_n_f32(a[q][0], x0, w);
            a[q][1] = vfmaq_n_f32(a[q][1], x1, w);
            a[q][2] = vfmaq_n_f32(a[q][2], x2, w);
            a[q][3] = vfmaq_n_f32(a[q][3], x3, w);
        }
    }
    for (int q = 0; q < nq; q++) {
        float *o = acc + q * C;
        for (int v = 0; v < 4; v++) vst1q_f32(o + 4 * v, vaddq_f32(vld1q_f32(o + 4 * v), a[q][v]));
    }
}

void mla_weighted_sum_q8_neon(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C) {
    for (int64_t b = 0; b < C / 32; b++) {
        const uint8_t *blk = rows + (size_t)b * 34;
        float d[MLA_ROW_TILE];
        for (int64_t s = 0; s < n_s; s++) {
            const uint8_t *h = blk + (size_t)s * row_bytes;
            d[s] = kern_fp16_to_fp32((uint16_t)(h[0] | h[1] << 8));
        }
        for (int64_t half = 0; half < 2; half++) {
            const uint8_t *col = blk + 2 + 16 * half;
            float *ac = acc + b * 32 + 16 * half;
            int64_t i = 0;
            for (; i + 6 <= n_q; i += 6)
                wsum_q8_block16(6, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
            for (; i < n_q; i++) wsum_q8_block16(1, col, row_bytes, n_s, d, p + i * p_stride, p_stride, ac + i * C, C);
        }
    }
}

/* ---- softmax pieces --------------------------------------------------------------------------------------------- */

/* e^x for x <= 0: the polynomial of the AVX2/AVX-512 versions, 2^n built in the exponent field (n >= -126 after the
 * clamp, so 2^n is a normal float). */
INLINE float32x4_t exp_nonpositive(float32x4_t x) {
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

float mla_scale_max_neon(float *row, int64_t n, float scale) {
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    const float32x4_t sc = vdupq_n_f32(scale);
    int64_t s = 0;
    for (; s + 4 <= n; s += 4) {
        const float32x4_t v = vmulq_f32(vld1q_f32(row + s), sc);
        vst1q_f32(row + s, v);
        mx = vmaxq_f32(mx, v);
    }
    float m = vmaxvq_f32(mx);
    for (; s < n; s++) {
        row[s] *= scale;
        if (row[s] > m) m = row[s];
    }
    return m;
}

float mla_exp_sum_neon(float *row, int64_t n, float max) {
    float32x4_t sum = vdupq_n_f32(0.0f);
    const float32x4_t mv = vdupq_n_f32(max);
    int64_t s = 0;
    for (; s + 4 <= n; s += 4) {
        const float32x4_t e = exp_nonpositive(vsubq_f32(vld1q_f32(row + s), mv));
        vst1q_f32(row + s, e);
        sum = vaddq_f32(sum, e);
    }
    float total = vaddvq_f32(sum);
    if (s < n) { /* the tail through the same polynomial, so that every element is rounded alike */
        float tmp[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        memcpy(tmp, row + s, (size_t)(n - s) * sizeof(float));
        vst1q_f32(tmp, exp_nonpositive(vsubq_f32(vld1q_f32(tmp), mv)));
        for (int64_t k = 0; k < n - s; k++) {
            row[s + k] = tmp[k];
            total += tmp[k];
        }
    }
    return total;
}

/* ---- the small f32 matrix product of the MHA-form prefill ---------------------------------------------------- */

/* mr rows (<= 6) x 16 columns of Cm (+)= A B: 4 x mr accumulators in registers while k runs over the shared
 * dimension. */
INLINE void gemm_micro16(int mr, const float *A, int64_t lda, const float *B, int64_t ldb, float *Cm, int64_t ldc,
                         int64_t K, int accumulate) {
    float32x4_t acc[6][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = vdupq_n_f32(0.0f);
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb;
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
        for (int r = 0; r < mr; r++) {
            const float a = A[r * lda + k];
            acc[r][0] = vfmaq_n_f32(acc[r][0], b0, a);
            acc[r][1] = vfmaq_n_f32(acc[r][1], b1, a);
            acc[r][2] = vfmaq_n_f32(acc[r][2], b2, a);
            acc[r][3] = vfmaq_n_f32(acc[r][3], b3, a);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *c = Cm + r * ldc;
        for (int v = 0; v < 4; v++) {
            float32x4_t x = acc[r][v];
            if (accumulate) x = vaddq_f32(x, vld1q_f32(c + 4 * v));
            vst1q_f32(c + 4 * v, x);
        }
    }
}

void mla_gemm_nn_neon(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float *Cm, int64_t ldc, int accumulate) {
    int64_t j0 = 0;
    for (; j0 + 16 <= N; j0 += 16) {
        const float *Bj = B + j0;
        float *Cj = Cm + j0;
        int64_t i = 0;
        for (; i + 6 <= M; i += 6) gemm_micro16(6, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, accumulate);
        for (; i + 3 <= M; i += 3) gemm_micro16(3, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, accumulate);
        for (; i < M; i++) gemm_micro16(1, A + i * lda, lda, Bj, ldb, Cj + i * ldc, ldc, K, accumulate);
    }
    if (j0 < N) /* a column tail (< 16): the reference on the remaining columns */
        mla_gemm_nn_ref(M, N - j0, K, A, lda, B + j0, ldb, Cm + j0, ldc, accumulate);
}
