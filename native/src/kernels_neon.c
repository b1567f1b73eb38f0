/* kernels_neon.c - the ARM64 Advanced SIMD (NEON) kernels, for the three ARM levels: MLA4J_SIMD_NEON (ARMv8-A
 * baseline), MLA4J_SIMD_NEON_DOTPROD (SDOT for the int8 products) and MLA4J_SIMD_NEON_I8MM (SMMLA for the int8
 * matrix-matrix product of prompts). The file is compiled for the baseline (-march=armv8-a); the functions that use
 * SDOT or SMMLA carry a target attribute and are only called when cpu_arm.c found the feature, so one library runs
 * on every ARM64 CPU. Results equal the reference kernels' (kernels_ref.c) up to the order of float summation; the
 * activation quantization and the weight decoding are exact (identical bytes and floats), as on x86.
 *
 * Types: the tables at the end say how each weight type is multiplied. A float-activation type needs a row decoder
 * (float_types), a Q8_0-activation type with 32-element blocks an unpacker of one block into 32 signed quants
 * (Q8_TYPE + q8_types); the super-block types (Q8_K activations) live in kernels_kquants_neon.c; any other type runs
 * the reference kernel, so a new type works at once and gets NEON speed with one entry. */
#include "kernels_neon.h"

#include <string.h>

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

/* ---- Q8_0-activation weights (32-element blocks: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) -----------------------------
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

/* Q4_1: x = d * nibble + m; the nibbles as they are (0..15), qs after d and m */
INLINE q8x32 unpack_q4_1(const uint8_t *blk) {
    const uint8x16_t b = vld1q_u8(blk + 4);
    q8x32 q = {vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f))), vreinterpretq_s8_u8(vshrq_n_u8(b, 4))};
    return q;
}

/* IQ4_NL: the nibbles index the 16 signed values (TBL) */
INLINE q8x32 unpack_iq4_nl(const uint8_t *blk) {
    const uint8x16_t b = vld1q_u8(blk + 2);
    const int8x16_t values = vld1q_s8(kern_iq4nl_values);
    q8x32 q = {vqtbl1q_s8(values, vandq_u8(b, vdupq_n_u8(0x0f))), vqtbl1q_s8(values, vshrq_n_u8(b, 4))};
    return q;
}

/* Q5_0/Q5_1: nibble + 16 x (bit j of the 32-bit qh for element j); the bytes of qh are spread over 8 lanes each
 * (TBL) and tested against the lane's bit. Q5_0 subtracts 16 (signed -16..15), Q5_1 keeps 0..31 (x = d * q + m). */
INLINE q8x32 unpack_q5(const uint8_t *qh_p, const uint8_t *qs, int bias) {
    static const uint8_t idx[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                    2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint32_t qh;
    memcpy(&qh, qh_p, 4);
    const uint8x16_t hv = vreinterpretq_u8_u32(vdupq_n_u32(qh)), bv = vld1q_u8(bits), sixteen = vdupq_n_u8(16);
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vqtbl1q_u8(hv, vld1q_u8(idx)), bv), sixteen);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vqtbl1q_u8(hv, vld1q_u8(idx + 16)), bv), sixteen);
    const uint8x16_t b = vld1q_u8(qs);
    const int8x16_t off = vdupq_n_s8((int8_t)bias);
    q8x32 q = {vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b, vdupq_n_u8(0x0f)), h0)), off),
               vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b, 4), h1)), off)};
    return q;
}
INLINE q8x32 unpack_q5_0(const uint8_t *blk) { return unpack_q5(blk + 2, blk + 6, 16); }
INLINE q8x32 unpack_q5_1(const uint8_t *blk) { return unpack_q5(blk + 4, blk + 8, 0); }

INLINE float block_scale(const uint8_t *blk) {
    uint16_t d;
    memcpy(&d, blk, 2);
    return fp16_to_f32(d);
}

/* The minimum m of Q4_1/Q5_1 blocks (after d). */
INLINE float block_min(const uint8_t *blk) { return block_scale(blk + 2); }

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
 * AFFINE types (Q4_1, Q5_1: x = d * q + m) add the block's activation sum (corr, kernels_impl.h) times m * da to
 * that term before it joins the sum, as kern_vec_dot_quants_ref does (sumi * (d * da) + suma * (m * da)).
 * A last group of fewer than 4 rows repeats its last row and drops the copies. */
#define ROWS4_SETUP                                                                                                   \
    const uint8_t *row[4];                                                                                            \
    for (int i = 0; i < 4; i++) {                                                                                     \
        const int64_t ri = r + i < r1 ? r + i : r1 - 1;                                                               \
        row[i] = (const uint8_t *)w->data + (size_t)ri * w->row_bytes;                                                \
    }                                                                                                                 \
    const int nr = r1 - r < 4 ? (int)(r1 - r) : 4;

/* One token (decode: memory-bound; 4 linear streams per thread). */
#define MATVEC_BODY(UNPACK, DOT, AFFINE)                                                                              \
    const kern_q8_act a = kern_q8_act_of(act, w->cols, 0);                                                            \
    const int64_t nb = w->cols / QK8_0;                                                                               \
    for (int64_t r = r0; r < r1; r += 4) {                                                                            \
        ROWS4_SETUP                                                                                                   \
        float32x4_t acc = vdupq_n_f32(0.0f);                                                                          \
        for (int64_t b = 0; b < nb; b++) {                                                                            \
            int32x4_t s[4];                                                                                           \
            float dw[4], mw[4];                                                                                       \
            for (int i = 0; i < 4; i++) {                                                                             \
                const uint8_t *blk = row[i] + b * block_bytes;                                                        \
                s[i] = DOT(UNPACK(blk), a.qs + b * QK8_0);                                                            \
                dw[i] = block_scale(blk);                                                                             \
                mw[i] = AFFINE ? block_min(blk) : 0.0f;                                                               \
            }                                                                                                         \
            const float32x4_t sc = vmulq_n_f32(vld1q_f32(dw), a.d[b]);                                                \
            float32x4_t term = vmulq_f32(vcvtq_f32_s32(block_totals4(s)), sc);                                        \
            if (AFFINE) term = vaddq_f32(term, vmulq_n_f32(vmulq_n_f32(vld1q_f32(mw), a.d[b]), (float)a.corr[b]));    \
            acc = vaddq_f32(acc, term);                                                                               \
        }                                                                                                             \
        float out[4];                                                                                                 \
        vst1q_f32(out, acc);                                                                                          \
        for (int i = 0; i < nr; i++) y[r + i] = out[i];                                                               \
    }

/* Several tokens, SDOT or widening products: 4 rows x up to 4 tokens, each unpacked block used by every token. */
#define GEMM_BODY(UNPACK, DOT, AFFINE)                                                                                \
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
                float dw[4], mw[4];                                                                                   \
                for (int i = 0; i < 4; i++) {                                                                         \
                    const uint8_t *blk = row[i] + b * block_bytes;                                                    \
                    q[i] = UNPACK(blk);                                                                               \
                    dw[i] = block_scale(blk);                                                                         \
                    mw[i] = AFFINE ? block_min(blk) : 0.0f;                                                           \
                }                                                                                                     \
                const float32x4_t dwv = vld1q_f32(dw), mwv = vld1q_f32(mw);                                           \
                for (int j = 0; j < nt; j++) {                                                                        \
                    int32x4_t s[4];                                                                                   \
                    for (int i = 0; i < 4; i++) s[i] = DOT(q[i], a[j].qs + b * QK8_0);                                \
                    float32x4_t term = vmulq_f32(vcvtq_f32_s32(block_totals4(s)), vmulq_n_f32(dwv, a[j].d[b]));       \
                    if (AFFINE)                                                                                       \
                        term = vaddq_f32(term, vmulq_n_f32(vmulq_n_f32(mwv, a[j].d[b]), (float)a[j].corr[b]));        \
                    acc[j] = vaddq_f32(acc[j], term);                                                                 \
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

#define GEMM_I8MM_BODY(UNPACK, AFFINE)                                                                                \
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
                float dw[4], da[4], mw[4], sa[4];                                                                     \
                for (int p = 0; p < 2; p++) {                                                                         \
                    const uint8_t *b0 = row[2 * p] + b * block_bytes, *b1 = row[2 * p + 1] + b * block_bytes;         \
                    const q8x32 q0 = UNPACK(b0), q1 = UNPACK(b1);                                                     \
                    dw[2 * p] = block_scale(b0);                                                                      \
                    dw[2 * p + 1] = block_scale(b1);                                                                  \
                    mw[2 * p] = AFFINE ? block_min(b0) : 0.0f;                                                        \
                    mw[2 * p + 1] = AFFINE ? block_min(b1) : 0.0f;                                                    \
                    sa[2 * p] = (float)a[2 * p].corr[b];                                                              \
                    sa[2 * p + 1] = (float)a[2 * p + 1].corr[b];                                                      \
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
                        float32x4_t term = vmulq_f32(vcvtq_f32_s32(sv), vld1q_f32(sc));                               \
                        if (AFFINE) {                                                                                 \
                            const float mc[4] = {mw[2 * p] * da[2 * k], mw[2 * p] * da[2 * k + 1],                    \
                                                 mw[2 * p + 1] * da[2 * k], mw[2 * p + 1] * da[2 * k + 1]};           \
                            const float sv4[4] = {sa[2 * k], sa[2 * k + 1], sa[2 * k], sa[2 * k + 1]};                \
                            term = vaddq_f32(term, vmulq_f32(vld1q_f32(mc), vld1q_f32(sv4)));                         \
                        }                                                                                             \
                        acc[p][k] = vaddq_f32(acc[p][k], term);                                                       \
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
#define Q8_TYPE(name, UNPACK, BLOCK_BYTES, AFFINE)                                                                    \
    static void matvec_##name(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1) {              \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        MATVEC_BODY(UNPACK, dot32_base, AFFINE)                                                                       \
    }                                                                                                                 \
    TARGET_DOTPROD static void matvec_##name##_dotprod(const kern_matrix *w, const void *act, float *y, int64_t r0,   \
                                                       int64_t r1) {                                                  \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        MATVEC_BODY(UNPACK, dot32_sdot, AFFINE)                                                                       \
    }                                                                                                                 \
    static void gemm_##name(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,  \
                            int64_t r1) {                                                                             \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_BODY(UNPACK, dot32_base, AFFINE)                                                                         \
    }                                                                                                                 \
    TARGET_DOTPROD static void gemm_##name##_dotprod(const kern_matrix *w, const void *act, int64_t n_tok, float *y,  \
                                                     int64_t ldy, int64_t r0, int64_t r1) {                           \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_BODY(UNPACK, dot32_sdot, AFFINE)                                                                         \
    }                                                                                                                 \
    TARGET_I8MM static void gemm_##name##_i8mm(const kern_matrix *w, const void *act, int64_t n_tok, float *y,        \
                                               int64_t ldy, int64_t r0, int64_t r1) {                                 \
        const int64_t block_bytes = BLOCK_BYTES;                                                                      \
        GEMM_I8MM_BODY(UNPACK, AFFINE)                                                                                \
    }

Q8_TYPE(q8_0, unpack_q8_0, (int64_t)sizeof(block_q8_0), 0)
Q8_TYPE(q4_0, unpack_q4_0, (int64_t)sizeof(block_q4_0), 0)
Q8_TYPE(q4_1, unpack_q4_1, (int64_t)sizeof(block_q4_1), 1)
Q8_TYPE(q5_0, unpack_q5_0, (int64_t)sizeof(block_q5_0), 0)
Q8_TYPE(q5_1, unpack_q5_1, (int64_t)sizeof(block_q5_1), 1)
Q8_TYPE(iq4_nl, unpack_iq4_nl, (int64_t)sizeof(block_iq4_nl), 0)

/* ---- Types ------------------------------------------------------------------------------------------------------ */

static const struct {
    int32_t type;
    row_decoder decode; /* NULL: F32, used in place */
} float_types[] = {
    {MLA4J_TYPE_F32, NULL},
    {MLA4J_TYPE_F16, decode_f16},
    {MLA4J_TYPE_BF16, decode_bf16},
};

#define Q8_ENTRY(T, name)                                                                                             \
    {T, matvec_##name, matvec_##name##_dotprod, gemm_##name, gemm_##name##_dotprod, gemm_##name##_i8mm}
static const struct {
    int32_t type;
    q8_matvec_fn matvec, matvec_dotprod;
    q8_gemm_fn gemm, gemm_dotprod, gemm_i8mm;
} q8_types[] = {
    Q8_ENTRY(MLA4J_TYPE_Q8_0, q8_0),
    Q8_ENTRY(MLA4J_TYPE_Q4_0, q4_0),
    Q8_ENTRY(MLA4J_TYPE_Q4_1, q4_1),
    Q8_ENTRY(MLA4J_TYPE_Q5_0, q5_0),
    Q8_ENTRY(MLA4J_TYPE_Q5_1, q5_1),
    Q8_ENTRY(MLA4J_TYPE_IQ4_NL, iq4_nl),
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
    } else if (kern_act_is_q8k(w->type)) {
        if (kern_matmul_kquants_neon(level, w, act, n_tok, y, ldy, r0, r1)) return;
    } else if (!kern_act_is_q8k(w->type)) {
        for (size_t i = 0; i < sizeof float_types / sizeof float_types[0]; i++) {
            if (float_types[i].type != w->type) continue;
            matmul_float(float_types[i].decode, w, act, n_tok, y, ldy, r0, r1);
            return;
        }
    }
    kern_matmul_ref(w, act, n_tok, y, ldy, r0, r1); /* no NEON version of this type (yet) */
}
