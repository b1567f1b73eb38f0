/* attention_mla_ref.c - the plain C references of the latent attention's kernels (the AVX2, AVX-512 and NEON
 * versions in attention_mla_avx2.c, attention_mla_avx512.c and attention_mla_neon.c compute the same up to the order of float summation;
 * test_mla compares them), and the choice of a level's kernels. */
#include "context.h"
#include "kernels_impl.h"

#include <math.h>

void mla_dequant_rows_ref(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out) {
    for (int64_t s = 0; s < n; s++) kern_dequantize_row(type, src + (size_t)s * row_bytes, out + s * W, W);
}

void mla_scores_ref(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out, int64_t out_stride) {
    for (int64_t i = 0; i < n_q; i++) {
        for (int64_t s = 0; s < n_s; s++) {
            float sum = 0.0f;
            for (int64_t k = 0; k < W; k++) sum += q[i * W + k] * tile[s * W + k];
            out[i * out_stride + s] = sum;
        }
    }
}

void mla_weighted_sum_ref(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride, int64_t n_q,
                          float *acc, int64_t C) {
    for (int64_t s = 0; s < n_s; s++) {
        for (int64_t i = 0; i < n_q; i++) {
            const float w = p[i * p_stride + s];
            if (w == 0.0f) continue;
            for (int64_t k = 0; k < C; k++) acc[i * C + k] += w * rows[s * ld + k];
        }
    }
}

void mla_weighted_sum_q8_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                             int64_t n_q, float *acc, int64_t C) {
    for (int64_t s = 0; s < n_s; s++) {
        const block_q8_0 *blk = (const block_q8_0 *)(rows + (size_t)s * row_bytes);
        for (int64_t i = 0; i < n_q; i++) {
            const float w = p[i * p_stride + s];
            if (w == 0.0f) continue;
            for (int64_t k = 0; k < C; k++) acc[i * C + k] += w * (kern_fp16_to_fp32(blk[k / 32].d) * (float)blk[k / 32].qs[k % 32]);
        }
    }
}

/* The int8 weighted sum's arithmetic (mla_weighted_sum_q8_vnni follows it bit for bit with L = 255,
 * mla_weighted_sum_q8_avx2 with L = 127). Per query row i and cache block b of the tile:
 * u[s] = round(p[i][s] / pmax_i * d[s][b] * L / dmax_b), an integer in 0..L (pmax_i and dmax_b are the largest weight
 * of the row and the largest scale of the block over the tile's rows, so p[i][s] * d[s][b] <= pmax_i * dmax_b); then
 * acc[i][j] += (sum_s u[s] * q[s][j]) * (pmax_i * dmax_b / L), the sum exact in integers. Each weight is rounded to
 * 1/L of that bound (llama.cpp's CPU attention over an F16 cache keeps its accumulators in fp16, a rounding of the
 * same order). L = 127 is for vpmaddubsw (AVX2, no VNNI), whose int16 pair sums hold 2 x 127 x 128. */
static void weighted_sum_q8_int_ref(const float L, const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p,
                                    int64_t p_stride, int64_t n_q, float *acc, int64_t C) {
    for (int64_t b = 0; b < C / 32; b++) {
        float d[MLA_ROW_TILE], dmax = 0.0f;
        for (int64_t s = 0; s < n_s; s++) {
            d[s] = kern_fp16_to_fp32(((const block_q8_0 *)(rows + (size_t)s * row_bytes))[b].d);
            dmax = fmaxf(dmax, d[s]);
        }
        if (!(dmax > 0.0f)) continue;
        const float sd = L / dmax, dq = dmax / L;
        for (int64_t i = 0; i < n_q; i++) {
            float pmax = 0.0f;
            for (int64_t s = 0; s < n_s; s++) pmax = fmaxf(pmax, p[i * p_stride + s]);
            if (!(pmax > 0.0f)) continue;
            const float inv = 1.0f / pmax;
            int32_t u[MLA_ROW_TILE];
            for (int64_t s = 0; s < n_s; s++) {
                const float w = nearbyintf(p[i * p_stride + s] * inv * (d[s] * sd));
                u[s] = w < 0.0f ? 0 : w > L ? (int32_t)L : (int32_t)w;
            }
            const float e = pmax * dq;
            for (int64_t j = 0; j < 32; j++) {
                int32_t sum = 0;
                for (int64_t s = 0; s < n_s; s++) sum += u[s] * ((const block_q8_0 *)(rows + (size_t)s * row_bytes))[b].qs[j];
                acc[i * C + b * 32 + j] = fmaf((float)sum, e, acc[i * C + b * 32 + j]);
            }
        }
    }
}

void mla_weighted_sum_q8_u8_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C) {
    weighted_sum_q8_int_ref(255.0f, rows, row_bytes, n_s, p, p_stride, n_q, acc, C);
}

void mla_weighted_sum_q8_u7_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C) {
    weighted_sum_q8_int_ref(127.0f, rows, row_bytes, n_s, p, p_stride, n_q, acc, C);
}

float mla_scale_max_ref(float *row, int64_t n, float scale) {
    float mx = -INFINITY;
    for (int64_t s = 0; s < n; s++) {
        row[s] *= scale;
        if (row[s] > mx) mx = row[s];
    }
    return mx;
}

float mla_exp_sum_ref(float *row, int64_t n, float max) {
    float sum = 0.0f;
    for (int64_t s = 0; s < n; s++) {
        row[s] = expf(row[s] - max);
        sum += row[s];
    }
    return sum;
}

void mla_gemm_nn_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float *Cm, int64_t ldc, int accumulate) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float sum = 0.0f;
            for (int64_t k = 0; k < K; k++) sum += A[i * lda + k] * B[k * ldb + j];
            Cm[i * ldc + j] = accumulate ? Cm[i * ldc + j] + sum : sum;
        }
    }
}

void mla_weighted_sum_bf16_ref(const uint16_t *pairs, int64_t n_pairs, const uint32_t *pp, int64_t pp_stride,
                               int64_t n_q, float *acc, int64_t C) {
    for (int64_t i = 0; i < n_q; i++) {
        for (int64_t c = 0; c < C; c++) {
            float a = 0.0f;
            for (int64_t j = 0; j < n_pairs; j++) {
                const uint32_t w = pp[i * pp_stride + j];
                const uint16_t *x = pairs + (j * C + c) * 2;
                a += kern_bf16_to_fp32((uint16_t)(w >> 16)) * kern_bf16_to_fp32(x[1]);
                a += kern_bf16_to_fp32((uint16_t)(w & 0xFFFF)) * kern_bf16_to_fp32(x[0]);
            }
            acc[i * C + c] += a;
        }
    }
}

static const mla_kernels kernels_ref = {mla_dequant_rows_ref, mla_scores_ref,          mla_weighted_sum_ref,
                                        mla_weighted_sum_q8_ref, mla_scale_max_ref, mla_exp_sum_ref,
                                        mla_gemm_nn_ref};
#if MLA4J_X86
/* A Q8_0 cache is summed in integers (weights rounded to 7 bits, see mla_weighted_sum_q8_u7_ref). */
static const mla_kernels kernels_avx2 = {mla_dequant_rows_avx2, mla_scores_avx2,  mla_weighted_sum_avx2, mla_weighted_sum_q8_avx2,
                                         mla_scale_max_avx2,    mla_exp_sum_avx2, mla_gemm_nn_avx2};
static const mla_kernels kernels_avx512 = {mla_dequant_rows_avx512,    mla_scores_avx512,  mla_weighted_sum_avx512,
                                           mla_weighted_sum_q8_avx512, mla_scale_max_avx512, mla_exp_sum_avx512,
                                           mla_gemm_nn_avx512};
/* With VNNI the Q8_0 cache is summed in integers (weights rounded to 8 bits, see mla_weighted_sum_q8_u8_ref). */
static const mla_kernels kernels_avx512_vnni = {mla_dequant_rows_avx512,  mla_scores_avx512,  mla_weighted_sum_avx512,
                                                mla_weighted_sum_q8_vnni, mla_scale_max_avx512, mla_exp_sum_avx512,
                                                mla_gemm_nn_avx512};
#endif
#if MLA4J_ARM64
static const mla_kernels kernels_neon = {mla_dequant_rows_neon,    mla_scores_neon,  mla_weighted_sum_neon,
                                         mla_weighted_sum_q8_neon, mla_scale_max_neon, mla_exp_sum_neon,
                                         mla_gemm_nn_neon};
#endif

const mla_kernels *mla_kernels_for(int simd) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: return kern_cpu_has_avx512vnni() ? &kernels_avx512_vnni : &kernels_avx512;
    case MLA4J_SIMD_AVX2: return &kernels_avx2;
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON:
    case MLA4J_SIMD_NEON_DOTPROD:
    case MLA4J_SIMD_NEON_I8MM: return &kernels_neon;
#endif
    default: return &kernels_ref;
    }
}
