/* kernels_neon.c - the ARM64 Advanced SIMD (NEON) kernels, for the three ARM levels: MLA4J_SIMD_NEON (ARMv8-A
 * baseline), MLA4J_SIMD_NEON_DOTPROD (SDOT for the int8 products) and MLA4J_SIMD_NEON_I8MM (SMMLA for the int8
 * matrix-matrix product of prompts). The file is compiled for the baseline (-march=armv8-a); the functions that use
 * SDOT or SMMLA carry a target attribute and are only called when cpu_arm.c found the feature, so one library runs
 * on every ARM64 CPU. Results equal the reference kernels' (kernels_ref.c) up to the order of float summation; the
 * activation quantization and the weight decoding are exact (identical bytes and floats), as on x86.
 *
 * Types: the tables at the end say how each weight type is multiplied. A float-activation type needs a row decoder
 * (float_types), a Q8_0-activation type with 32-element blocks an unpacker of one block into 32 signed quants
 * (Q8_TYPE + q8_types); Q4_K and Q6_K (Q8_K activations) have their own row kernels; any other type runs the
 * reference kernel, so a new type works at once and gets NEON speed with one entry. */
#include "kernels_impl.h"

#include <arm_neon.h>
#include <string.h>

/* GCC declares the SDOT and SMMLA intrinsics for "arch=armv8.2-a+dotprod" and "arch=armv8.2-a+i8mm", and inlines
 * them only into functions whose target includes that (FEAT_DotProd exists from ARMv8.2 on, so a CPU with it
 * has all of ARMv8.2-A); clang (macOS) names the features alone. */
#if defined(__clang__)
#define TARGET_DOTPROD __attribute__((target("dotprod")))
#define TARGET_I8MM __attribute__((target("dotprod,i8mm")))
#else
#define TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#define TARGET_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#endif
#define INLINE static inline __attribute__((always_inline))

/* IEEE half to float with the FCVT instruction: exact, like kern_fp16_to_fp32. */
INLINE float fp16_to_f32(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

INLINE float32x4_t load_f16x4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/* ---- Q8_0 activations (identical bytes to kern_quantize_act_q8_ref) -------------------------------------------- */

void kern_quantize_act_q8_neon(int32_t type, const float *x, int64_t cols, void *act_token) {
    const int64_t nb = cols / QK8_0;
    uint8_t *base = act_token;
    float *dst_d = (float *)base;
    int32_t *dst_corr = (int32_t *)(base + kern_align64(nb * 4));
    int8_t *dst_q = (int8_t *)(base + 2 * kern_align64(nb * 4));
    const int32_t offset = kern_q8_act_offset(type);
    const float32x4_t lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
    for (int64_t b = 0; b < nb; b++) {
        float32x4_t v[8], mx = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + b * QK8_0 + 4 * k);
            mx = vmaxnmq_f32(mx, vabsq_f32(v[k])); /* maxNum ignores a NaN, as fmaxf in the reference */
        }
        const float amax = vmaxnmvq_f32(mx);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst_d[b] = kern_fp16_to_fp32(kern_fp32_to_fp16(d));
        const float32x4_t idv = vdupq_n_f32(id);
        int32x4_t q[8], sum = vdupq_n_s32(0);
        for (int k = 0; k < 8; k++) {
            /* FRINTA rounds half away from zero (roundf); FMAX keeps a NaN, which FCVTZS turns into 0 */
            const float32x4_t r = vminq_f32(vmaxq_f32(vrndaq_f32(vmulq_f32(v[k], idv)), lo), hi);
            q[k] = vcvtq_s32_f32(r);
            sum = vaddq_s32(sum, q[k]);
        }
        for (int k = 0; k < 8; k += 4) {
            const int16x8_t h0 = vcombine_s16(vmovn_s32(q[k]), vmovn_s32(q[k + 1]));
            const int16x8_t h1 = vcombine_s16(vmovn_s32(q[k + 2]), vmovn_s32(q[k + 3]));
            vst1q_s8(dst_q + b * QK8_0 + 4 * k, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
        }
        dst_corr[b] = -offset * vaddvq_s32(sum);
    }
}

/* ---- Vector helpers -------------------------------------------------------------------------------------------- */

float kern_dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

float kern_dot_f16_neon(const uint16_t *a, const float *b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, load_f16x4(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, load_f16x4(a + i + 4), vld1q_f32(b + i + 4));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, load_f16x4(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) sum += fp16_to_f32(a[i]) * b[i];
    return sum;
}

/* y + a*x rounded twice like the reference (no fused multiply-add), so every level gives the same bits. */
void kern_axpy_f32_neon(float a, const float *x, float *y, int64_t n) {
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vmulq_f32(av, vld1q_f32(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

void kern_axpy_f16_neon(float a, const uint16_t *x, float *y, int64_t n) {
    const float32x4_t av = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vmulq_f32(av, load_f16x4(x + i))));
    for (; i < n; i++) y[i] += a * fp16_to_f32(x[i]);
}

/* ---- Float-activation weights: rows decoded FLOAT_KC elements at a time -------------------------------------------
 * As in kernels_avx2.c: a decoded chunk is multiplied with tiles of 4 rows x 2 tokens (1 row per step for one token,
 * a single linear stream). Decoders give exactly kern_dequantize_row's floats (same products and differences). */
#define FLOAT_KC 1024

/* Decodes elements k0..k0+n-1 (whole blocks) of a row into out. */
typedef void (*row_decoder)(const uint8_t *row, int64_t k0, int64_t n, float *out);

static void decode_f16(const uint8_t *row, int64_t k0, int64_t n, float *out) {
    const uint16_t *h = (const uint16_t *)row + k0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, load_f16x4(h + i));
    for (; i < n; i++) out[i] = fp16_to_f32(h[i]);
}

static void decode_bf16(const uint8_t *row, int64_t k0, int64_t n, float *out) {
    const uint16_t *h = (const uint16_t *)row + k0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(h + i), 16)));
    for (; i < n; i++) out[i] = kern_bf16_to_fp32(h[i]);
}


/* out[i][j] = w[i][0..n) . x[j][0..n) for NR rows and NT tokens (x rows xstride floats apart). */
INLINE void float_tile(const int NR, const int NT, const float *const *wr, const float *x, int64_t xstride, int64_t n,
                       float out[4][2]) {
    float32x4_t acc[4][2];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = vdupq_n_f32(0.0f);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        float32x4_t wv[4];
        for (int i = 0; i < NR; i++) wv[i] = vld1q_f32(wr[i] + k);
        for (int j = 0; j < NT; j++) {
            const float32x4_t xv = vld1q_f32(x + j * xstride + k);
            for (int i = 0; i < NR; i++) acc[i][j] = vfmaq_f32(acc[i][j], wv[i], xv);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) {
            float s = vaddvq_f32(acc[i][j]);
            for (int64_t kk = k; kk < n; kk++) s += wr[i][kk] * x[j * xstride + kk];
            out[i][j] = s;
        }
}

static void matmul_float(row_decoder decode, const kern_matrix *w, const void *act, int64_t n_tok, float *y,
                         int64_t ldy, int64_t r0, int64_t r1) {
    _Alignas(16) float buf[4][FLOAT_KC];
    const int64_t xstride = kern_act_stride(w->type, w->cols) / (int64_t)sizeof(float);
    const float *x = act;
    const int64_t rows_per_step = n_tok == 1 ? 1 : 4;
    for (int64_t r = r0; r < r1; r += rows_per_step) {
        const int nr = r1 - r < rows_per_step ? (int)(r1 - r) : (int)rows_per_step;
        for (int64_t kc = 0; kc < w->cols; kc += FLOAT_KC) {
            const int64_t n = w->cols - kc < FLOAT_KC ? w->cols - kc : FLOAT_KC;
            const float *wr[4];
            for (int i = 0; i < nr; i++) {
                const uint8_t *row = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes;
                if (decode == NULL) { /* F32: used in place */
                    wr[i] = (const float *)row + kc;
                } else {
                    decode(row, kc, n, buf[i]);
                    wr[i] = buf[i];
                }
            }
            for (int64_t t = 0; t < n_tok; t += 2) {
                const int nt = n_tok - t < 2 ? 1 : 2;
                const float *xt = x + t * xstride + kc;
                float out[4][2];
                if (nr == 4) {
                    if (nt == 2) float_tile(4, 2, wr, xt, xstride, n, out);
                    else float_tile(4, 1, wr, xt, xstride, n, out);
                } else {
                    for (int i = 0; i < nr; i++) {
                        float one[4][2] = {{0}};
                        if (nt == 2) float_tile(1, 2, wr + i, xt, xstride, n, one);
                        else float_tile(1, 1, wr + i, xt, xstride, n, one);
                        out[i][0] = one[0][0];
                        out[i][1] = one[0][1];
                    }
                }
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < nt; j++) {
                        float *yp = y + (t + j) * ldy + r + i;
                        *yp = kc == 0 ? out[i][j] : *yp + out[i][j];
                    }
            }
        }
    }
}

/* ---- Q8_0-activation weights (32-element blocks: an fp16 scale, then the quants) ----------------------------------
 * A block is unpacked into its 32 signed quants (q.lo: elements 0-15, q.hi: 16-31) and multiplied with the
 * activation's int8 quants: the baseline widens (SMULL/SMLAL2: two products per int16 lane, at most
 * 2 * 128 * 127 < 2^15, then SADALP), dotprod uses SDOT, and i8mm multiplies 2 rows x 2 tokens with SMMLA. The
 * block's exact int32 total is scaled by dw * da and added in block order, as the reference does, so these
 * kernels give the reference's bits at every level (test_kernels checks it). */
typedef struct {
    int8x16_t lo, hi;
} q8x32;

INLINE q8x32 unpack_q8_0(const uint8_t *blk) {
    q8x32 q = {vld1q_s8((const int8_t *)blk + 2), vld1q_s8((const int8_t *)blk + 18)};
    return q;
}

/* element j < 16 is the low nibble of qs[j], element j + 16 its high nibble; value nibble - 8 */
INLINE q8x32 unpack_q4_0(const uint8_t *blk) {
    const uint8x16_t b = vld1q_u8(blk + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    q8x32 q = {vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f))), eight),
               vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight)};
    return q;
}

INLINE float block_scale(const uint8_t *blk) {
    uint16_t d;
    memcpy(&d, blk, 2);
    return fp16_to_f32(d);
}

INLINE int32x4_t dot32_base(q8x32 w, const int8_t *a) {
    const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
    const int16x8_t p0 = vmlal_high_s8(vmull_s8(vget_low_s8(w.lo), vget_low_s8(a0)), w.lo, a0);
    const int16x8_t p1 = vmlal_high_s8(vmull_s8(vget_low_s8(w.hi), vget_low_s8(a1)), w.hi, a1);
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}

TARGET_DOTPROD INLINE int32x4_t dot32_sdot(q8x32 w, const int8_t *a) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.lo, vld1q_s8(a)), w.hi, vld1q_s8(a + 16));
}

/* The exact int32 totals of 4 rows' block products (lane i = row i): pairwise adds of the partial lanes. */
INLINE int32x4_t block_totals4(const int32x4_t s[4]) {
    return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}

/* 4 rows at a time, lane i of a float vector = row i: per block, the rows' exact integer totals are converted,
 * multiplied by dw * da and added in block order - the reference's arithmetic (kern_vec_dot_q8_0_ref: sum +=
 * (float)sumi * (dw * da), two roundings), so every NEON level gives the reference's bits for these types.
 * A last group of fewer than 4 rows repeats its last row and drops the copies. */
#define ROWS4_SETUP                                                                                                   \
    const uint8_t *row[4];                                                                                            \
    for (int i = 0; i < 4; i++) {                                                                                     \
        const int64_t ri = r + i < r1 ? r + i : r1 - 1;                                                               \
        row[i] = (const uint8_t *)w->data + (size_t)ri * w->row_bytes;                                                \
    }                                                                                                                 \
    const int nr = r1 - r < 4 ? (int)(r1 - r) : 4;

/* One token (decode: memory-bound; 4 linear streams per thread). */
#define MATVEC_BODY(UNPACK, DOT)                                                                                      \
    const kern_q8_act a = kern_q8_act_of(act, w->cols, 0);                                                            \
    const int64_t nb = w->cols / QK8_0;                                                                               \
    for (int64_t r = r0; r < r1; r += 4) {                                                                            \
        ROWS4_SETUP                                                                                                   \
        float32x4_t acc = vdupq_n_f32(0.0f);                                                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                            \
            int32x4_t s[4];                                                                                           \
            float dw[4];                                                                                              \
            for (int i = 0; i < 4; i++) {                                                                             \
                const uint8_t *blk = row[i] + b * block_bytes;                                                        \
                s[i] = DOT(UNPACK(blk), a.qs + b * QK8_0);                                                            \
                dw[i] = block_scale(blk);                                                                             \
            }                                                                                                         \
            const float32x4_t sc = vmulq_n_f32(vld1q_f32(dw), a.d[b]);                                                \
            acc = vaddq_f32(acc, vmulq_f32(vcvtq_f32_s32(block_totals4(s)), sc));                                     \
        }                                                                                                             \
        float out[4];                                                                                                 \
        vst1q_f32(out, acc);                                                                                          \
        for (int i = 0; i < nr; i++) y[r + i] = out[i];                                                               \
    }

/* Several tokens, SDOT or widening products: 4 rows x up to 4 tokens, each unpacked block used by every token. */
#define GEMM_BODY(UNPACK, DOT)                                                                                        \
    const int64_t nb = w->cols / QK8_0;                                                                               \
    for (int64_t r = r0; r < r1; r += 4) {                                                                            \
        ROWS4_SETUP                                                                                                   \
        for (int64_t t = 0; t < n_tok; t += 4) {                                                                      \
            const int nt = n_tok - t < 4 ? (int)(n_tok - t) : 4;                                                      \
            kern_q8_act a[4];                                                                                         \
            for (int j = 0; j < 4; j++) a[j] = kern_q8_act_of(act, w->cols, t + (j < nt ? j : 0));                    \
            float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};        \
            for (int64_t b = 0; b < nb; b++) {                                                                        \
                q8x32 q[4];                                                                                           \
                float dw[4];                                                                                          \
                for (int i = 0; i < 4; i++) {                                                                         \
                    const uint8_t *blk = row[i] + b * block_bytes;                                                    \
                    q[i] = UNPACK(blk);                                                                               \
                    dw[i] = block_scale(blk);                                                                         \
                }                                                                                                     \
                const float32x4_t dwv = vld1q_f32(dw);                                                                \
                for (int j = 0; j < nt; j++) {                                                                        \
                    int32x4_t s[4];                                                                                   \
                    for (int i = 0; i < 4; i++) s[i] = DOT(q[i], a[j].qs + b * QK8_0);                                \
                    acc[j] = vaddq_f32(acc[j], vmulq_f32(vcvtq_f32_s32(block_totals4(s)), vmulq_n_f32(dwv, a[j].d[b])));\
                }                                                                                                     \
            }                                                                                                         \
            for (int j = 0; j < nt; j++) {                                                                            \
                float out[4];                                                                                         \
                vst1q_f32(out, acc[j]);                                                                               \
                for (int i = 0; i < nr; i++) y[(t + j) * ldy + r + i] = out[i];                                       \
            }                                                                                                         \
        }                                                                                                             \
    }

/* i8mm: 4 rows x 4 tokens per tile, 2 x 2 of them per SMMLA. Operand A holds 8 quants of row r then 8 of row r+1,
 * operand B 8 activation quants of token t then 8 of token t+1; the result lanes are (r,t), (r,t+1), (r+1,t),
 * (r+1,t+1), each the exact block total after 4 SMMLA, scaled and added like the reference. A tile's missing rows or
 * tokens repeat the last one and their results are dropped. */
INLINE int8x16_t zip_lo64(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
INLINE int8x16_t zip_hi64(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

#define GEMM_I8MM_BODY(UNPACK)                                                                                        \
    const int64_t nb = w->cols / QK8_0;                                                                               \
    for (int64_t r = r0; r < r1; r += 4) {                                                                            \
        ROWS4_SETUP                                                                                                   \
        for (int64_t t = 0; t < n_tok; t += 4) {                                                                      \
            const int nt = n_tok - t < 4 ? (int)(n_tok - t) : 4;                                                      \
            kern_q8_act a[4];                                                                                         \
            for (int j = 0; j < 4; j++) a[j] = kern_q8_act_of(act, w->cols, t + (j < nt ? j : nt - 1));              \
            float32x4_t acc[2][2] = {{vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}, {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}}; \
            for (int64_t b = 0; b < nb; b++) {                                                                        \
                int8x16_t wz[2][4], xz[2][4];                                                                         \
                float dw[4], da[4];                                                                                   \
                for (int p = 0; p < 2; p++) {                                                                         \
                    const uint8_t *b0 = row[2 * p] + b * block_bytes, *b1 = row[2 * p + 1] + b * block_bytes;         \
                    const q8x32 q0 = UNPACK(b0), q1 = UNPACK(b1);                                                     \
                    dw[2 * p] = block_scale(b0);                                                                      \
                    dw[2 * p + 1] = block_scale(b1);                                                                  \
                    wz[p][0] = zip_lo64(q0.lo, q1.lo);                                                                \
                    wz[p][1] = zip_hi64(q0.lo, q1.lo);                                                                \
                    wz[p][2] = zip_lo64(q0.hi, q1.hi);                                                                \
                    wz[p][3] = zip_hi64(q0.hi, q1.hi);                                                                \
                    const int8_t *x0 = a[2 * p].qs + b * QK8_0, *x1 = a[2 * p + 1].qs + b * QK8_0;                    \
                    const int8x16_t t0 = vld1q_s8(x0), t1 = vld1q_s8(x0 + 16);                                        \
                    const int8x16_t u0 = vld1q_s8(x1), u1 = vld1q_s8(x1 + 16);                                        \
                    xz[p][0] = zip_lo64(t0, u0);                                                                      \
                    xz[p][1] = zip_hi64(t0, u0);                                                                      \
                    xz[p][2] = zip_lo64(t1, u1);                                                                      \
                    xz[p][3] = zip_hi64(t1, u1);                                                                      \
                    da[2 * p] = a[2 * p].d[b];                                                                        \
                    da[2 * p + 1] = a[2 * p + 1].d[b];                                                                \
                }                                                                                                     \
                for (int p = 0; p < 2; p++)                                                                           \
                    for (int k = 0; k < 2; k++) {                                                                     \
                        int32x4_t sv = vmmlaq_s32(vdupq_n_s32(0), wz[p][0], xz[k][0]);                                \
                        sv = vmmlaq_s32(sv, wz[p][1], xz[k][1]);                                                      \
                        sv = vmmlaq_s32(sv, wz[p][2], xz[k][2]);                                                      \
                        sv = vmmlaq_s32(sv, wz[p][3], xz[k][3]);                                                      \
                        const float sc[4] = {dw[2 * p] * da[2 * k], dw[2 * p] * da[2 * k + 1],                        \
                                             dw[2 * p + 1] * da[2 * k], dw[2 * p + 1] * da[2 * k + 1]};               \
                        acc[p][k] = vaddq_f32(acc[p][k], vmulq_f32(vcvtq_f32_s32(sv), vld1q_f32(sc)));                \
                    }                                                                                                 \
            }                                                                                                         \
            for (int p = 0; p < 2; p++)                                                                               \
                for (int k = 0; k < 2; k++) {                                                                         \
                    float out[4];                                                                                     \
                    vst1q_f32(out, acc[p][k]);                                                                        \
                    for (int e = 0; e < 4; e++) {                                                                     \
                        const int i = 2 * p + e / 2, j = 2 * k + e % 2;                                               \
                        if (i < nr && j < nt) y[(t + j) * ldy + r + i] = out[e];                                      \
                    }                                                                                                 \
                }                                                                                                     \
        }                                                                                                             \
    }

typedef void (*q8_matvec_fn)(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1);
typedef void (*q8_gemm_fn)(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                           int64_t r1);

/* The five kernels of one Q8_0-activation type: matrix-vector (baseline, SDOT) and matrix-matrix (baseline, SDOT,
 * SMMLA), from the type's block unpacker. */
#define Q8_TYPE(name, UNPACK, BLOCK_BYTES)                                                                            \
    static void matvec_##name(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1) {              \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        MATVEC_BODY(UNPACK, dot32_base)                                                                               \
    }                                                                                                                 \
    TARGET_DOTPROD static void matvec_##name##_dotprod(const kern_matrix *w, const void *act, float *y, int64_t r0,    \
                                                       int64_t r1) {                                                  \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        MATVEC_BODY(UNPACK, dot32_sdot)                                                                               \
    }                                                                                                                 \
    static void gemm_##name(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,  \
                            int64_t r1) {                                                                             \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_BODY(UNPACK, dot32_base)                                                                                 \
    }                                                                                                                 \
    TARGET_DOTPROD static void gemm_##name##_dotprod(const kern_matrix *w, const void *act, int64_t n_tok, float *y,   \
                                                     int64_t ldy, int64_t r0, int64_t r1) {                           \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_BODY(UNPACK, dot32_sdot)                                                                                 \
    }                                                                                                                 \
    TARGET_I8MM static void gemm_##name##_i8mm(const kern_matrix *w, const void *act, int64_t n_tok, float *y,        \
                                               int64_t ldy, int64_t r0, int64_t r1) {                                 \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_I8MM_BODY(UNPACK)                                                                                        \
    }

Q8_TYPE(q8_0, unpack_q8_0, (int64_t)sizeof(block_q8_0))
Q8_TYPE(q4_0, unpack_q4_0, (int64_t)sizeof(block_q4_0))

/* ---- Q4_K and Q6_K with Q8_K activations (the bulk of Q4_K_M files) --------------------------------------------------
 * One row times one token per call, as llama.cpp's vec_dot_q4_K_q8_K / q6_K: a super-block's quants are unpacked
 * into signed bytes 16 at a time, each 16 multiplied with the activation bytes into 4 int32 lanes (baseline:
 * SMULL/SMLAL2, at most 2 x 63 x 127 per int16 lane, then SADDLP; dotprod: SDOT), the lanes scaled by the
 * sub-block's integer scale (MLA), and the super-block's exact integer total scaled as the reference does
 * (kern_vec_dot_quants_ref: d_act * d * isum - d_act * dmin * msum). The other K-quant types run the reference. */
INLINE int32x4_t dot16_base(int8x16_t w, const int8_t *a) {
    const int8x16_t av = vld1q_s8(a);
    return vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(av)), w, av));
}

TARGET_DOTPROD INLINE int32x4_t dot16_sdot(int8x16_t w, const int8_t *a) {
    return vdotq_s32(vdupq_n_s32(0), w, vld1q_s8(a));
}

#define KQ_ROWS(SFX, DOT16, ATTR)                                                                                      \
    ATTR static float q4k_row_##SFX(const uint8_t *row, int64_t nb, const block_q8_K *a) {                            \
        const uint8x16_t m4 = vdupq_n_u8(0x0f);                                                                       \
        float sum = 0.0f;                                                                                             \
        for (int64_t i = 0; i < nb; i++) {                                                                            \
            const block_q4_K *x = (const block_q4_K *)row + i;                                                        \
            const block_q8_K *y = &a[i];                                                                              \
            int msum = 0;                                                                                             \
            int32x4_t acc = vdupq_n_s32(0);                                                                           \
            for (int g = 0; g < 4; g++) {                                                                             \
                int sc0, m0, sc1, m1;                                                                                 \
                kern_q4_k_scale_min(2 * g, x->scales, &sc0, &m0);                                                     \
                kern_q4_k_scale_min(2 * g + 1, x->scales, &sc1, &m1);                                                 \
                msum += m0 * (y->bsums[4 * g] + y->bsums[4 * g + 1]) + m1 * (y->bsums[4 * g + 2] + y->bsums[4 * g + 3]); \
                const uint8x16_t b0 = vld1q_u8(x->qs + 32 * g), b1 = vld1q_u8(x->qs + 32 * g + 16);                   \
                const int8_t *q8 = y->qs + 64 * g;                                                                    \
                const int32x4_t lo = vaddq_s32(DOT16(vreinterpretq_s8_u8(vandq_u8(b0, m4)), q8),                      \
                                               DOT16(vreinterpretq_s8_u8(vandq_u8(b1, m4)), q8 + 16));                \
                const int32x4_t hi = vaddq_s32(DOT16(vreinterpretq_s8_u8(vshrq_n_u8(b0, 4)), q8 + 32),                \
                                               DOT16(vreinterpretq_s8_u8(vshrq_n_u8(b1, 4)), q8 + 48));               \
                acc = vmlaq_n_s32(vmlaq_n_s32(acc, lo, sc0), hi, sc1);                                                \
            }                                                                                                         \
            sum += y->d * fp16_to_f32(x->d) * (float)vaddvq_s32(acc) - y->d * fp16_to_f32(x->dmin) * (float)msum;    \
        }                                                                                                             \
        return sum;                                                                                                   \
    }                                                                                                                 \
    ATTR static float q6k_row_##SFX(const uint8_t *row, int64_t nb, const block_q8_K *a) {                            \
        const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);                                                   \
        const int8x16_t off = vdupq_n_s8(32);                                                                         \
        float sum = 0.0f;                                                                                             \
        for (int64_t i = 0; i < nb; i++) {                                                                            \
            const block_q6_K *x = (const block_q6_K *)row + i;                                                        \
            const block_q8_K *y = &a[i];                                                                              \
            int32x4_t acc = vdupq_n_s32(0);                                                                           \
            for (int n = 0; n < 2; n++) {                                                                             \
                const uint8_t *ql = x->ql + 64 * n, *qh = x->qh + 32 * n;                                             \
                const int8_t *sc = x->scales + 8 * n, *q8 = y->qs + 128 * n;                                          \
                for (int h = 0; h < 2; h++) { /* elements 16h..16h+15 of each 32: scale 2k + h */                   \
                    const int l = 16 * h;                                                                             \
                    const uint8x16_t l0 = vld1q_u8(ql + l), l1 = vld1q_u8(ql + 32 + l), hb = vld1q_u8(qh + l);        \
                    const uint8x16_t u0 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));                \
                    const uint8x16_t u1 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4)); \
                    const uint8x16_t u2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4)); \
                    const uint8x16_t u3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));              \
                    acc = vmlaq_n_s32(acc, DOT16(vsubq_s8(vreinterpretq_s8_u8(u0), off), q8 + l), sc[h]);             \
                    acc = vmlaq_n_s32(acc, DOT16(vsubq_s8(vreinterpretq_s8_u8(u1), off), q8 + 32 + l), sc[2 + h]);    \
                    acc = vmlaq_n_s32(acc, DOT16(vsubq_s8(vreinterpretq_s8_u8(u2), off), q8 + 64 + l), sc[4 + h]);    \
                    acc = vmlaq_n_s32(acc, DOT16(vsubq_s8(vreinterpretq_s8_u8(u3), off), q8 + 96 + l), sc[6 + h]);    \
                }                                                                                                     \
            }                                                                                                         \
            sum += y->d * fp16_to_f32(x->d) * (float)vaddvq_s32(acc);                                                 \
        }                                                                                                             \
        return sum;                                                                                                   \
    }

KQ_ROWS(base, dot16_base, )
KQ_ROWS(sdot, dot16_sdot, TARGET_DOTPROD)
#undef KQ_ROWS

static void matmul_q4k_q6k(int level, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                           int64_t r0, int64_t r1) {
    const int64_t nb = w->cols / QK_K, stride = kern_act_stride(w->type, w->cols);
    const int q6 = w->type == MLA4J_TYPE_Q6_K, sdot = level >= MLA4J_SIMD_NEON_DOTPROD;
    for (int64_t t = 0; t < n_tok; t++) {
        const block_q8_K *a = (const block_q8_K *)((const uint8_t *)act + t * stride);
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
            y[t * ldy + r] = q6 ? (sdot ? q6k_row_sdot(row, nb, a) : q6k_row_base(row, nb, a))
                                : (sdot ? q4k_row_sdot(row, nb, a) : q4k_row_base(row, nb, a));
        }
    }
}

/* ---- Types ------------------------------------------------------------------------------------------------------ */

static const struct {
    int32_t type;
    row_decoder decode; /* NULL: F32, used in place */
} float_types[] = {
    {MLA4J_TYPE_F32, NULL},
    {MLA4J_TYPE_F16, decode_f16},
    {MLA4J_TYPE_BF16, decode_bf16},
};

#define Q8_ENTRY(T, name) {T, matvec_##name, matvec_##name##_dotprod, gemm_##name, gemm_##name##_dotprod, gemm_##name##_i8mm}
static const struct {
    int32_t type;
    q8_matvec_fn matvec, matvec_dotprod;
    q8_gemm_fn gemm, gemm_dotprod, gemm_i8mm;
} q8_types[] = {
    Q8_ENTRY(MLA4J_TYPE_Q8_0, q8_0),
    Q8_ENTRY(MLA4J_TYPE_Q4_0, q4_0),
};
#undef Q8_ENTRY

void kern_matmul_neon(int level, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                      int64_t r0, int64_t r1) {
    if (kern_act_is_q8(w->type)) {
        for (size_t i = 0; i < sizeof q8_types / sizeof q8_types[0]; i++) {
            if (q8_types[i].type != w->type) continue;
            if (n_tok == 1) {
                if (level >= MLA4J_SIMD_NEON_DOTPROD) q8_types[i].matvec_dotprod(w, act, y, r0, r1);
                else q8_types[i].matvec(w, act, y, r0, r1);
            } else if (level >= MLA4J_SIMD_NEON_I8MM) {
                q8_types[i].gemm_i8mm(w, act, n_tok, y, ldy, r0, r1);
            } else if (level >= MLA4J_SIMD_NEON_DOTPROD) {
                q8_types[i].gemm_dotprod(w, act, n_tok, y, ldy, r0, r1);
            } else {
                q8_types[i].gemm(w, act, n_tok, y, ldy, r0, r1);
            }
            return;
        }
    } else if (w->type == MLA4J_TYPE_Q4_K || w->type == MLA4J_TYPE_Q6_K) {
        matmul_q4k_q6k(level, w, act, n_tok, y, ldy, r0, r1);
        return;
    } else if (!kern_act_is_q8k(w->type)) {
        for (size_t i = 0; i < sizeof float_types / sizeof float_types[0]; i++) {
            if (float_types[i].type != w->type) continue;
            matmul_float(float_types[i].decode, w, act, n_tok, y, ldy, r0, r1);
            return;
        }
    }
    kern_matmul_ref(w, act, n_tok, y, ldy, r0, r1); /* no NEON version of this type (yet) */
}
