/* kernels_ref.c - the plain C reference kernels: type traits, fp16/bf16 conversions, dequantization,
 * Q8_0 activation quantization and the reference dot products and matrix product.
 * Semantics follow llama.cpp (ggml-quants.c reference functions); the SIMD levels are tested against these. */
#include "kernels_impl.h"

#include <math.h>
#include <string.h>

static const kern_type_traits traits_f32 = {"F32", 1, 4};
static const kern_type_traits traits_f16 = {"F16", 1, 2};
static const kern_type_traits traits_bf16 = {"BF16", 1, 2};
static const kern_type_traits traits_q4_0 = {"Q4_0", QK4_0, sizeof(block_q4_0)};
static const kern_type_traits traits_q8_0 = {"Q8_0", QK8_0, sizeof(block_q8_0)};
static const kern_type_traits traits_q4_k = {"Q4_K", QK_K, sizeof(block_q4_K)};
static const kern_type_traits traits_q6_k = {"Q6_K", QK_K, sizeof(block_q6_K)};
static const kern_type_traits traits_q4_1 = {"Q4_1", 32, sizeof(block_q4_1)};
static const kern_type_traits traits_q5_0 = {"Q5_0", 32, sizeof(block_q5_0)};
static const kern_type_traits traits_q5_1 = {"Q5_1", 32, sizeof(block_q5_1)};
static const kern_type_traits traits_iq4_nl = {"IQ4_NL", 32, sizeof(block_iq4_nl)};
static const kern_type_traits traits_q2_k = {"Q2_K", QK_K, sizeof(block_q2_K)};
static const kern_type_traits traits_q3_k = {"Q3_K", QK_K, sizeof(block_q3_K)};
static const kern_type_traits traits_q5_k = {"Q5_K", QK_K, sizeof(block_q5_K)};
static const kern_type_traits traits_iq4_xs = {"IQ4_XS", QK_K, sizeof(block_iq4_xs)};

const kern_type_traits *kern_type_traits_of(int32_t type) {
    switch (type) {
    case MLA4J_TYPE_F32: return &traits_f32;
    case MLA4J_TYPE_F16: return &traits_f16;
    case MLA4J_TYPE_BF16: return &traits_bf16;
    case MLA4J_TYPE_Q4_0: return &traits_q4_0;
    case MLA4J_TYPE_Q8_0: return &traits_q8_0;
    case MLA4J_TYPE_Q4_K: return &traits_q4_k;
    case MLA4J_TYPE_Q6_K: return &traits_q6_k;
    case MLA4J_TYPE_Q4_1: return &traits_q4_1;
    case MLA4J_TYPE_Q5_0: return &traits_q5_0;
    case MLA4J_TYPE_Q5_1: return &traits_q5_1;
    case MLA4J_TYPE_IQ4_NL: return &traits_iq4_nl;
    case MLA4J_TYPE_Q2_K: return &traits_q2_k;
    case MLA4J_TYPE_Q3_K: return &traits_q3_k;
    case MLA4J_TYPE_Q5_K: return &traits_q5_k;
    case MLA4J_TYPE_IQ4_XS: return &traits_iq4_xs;
    default: return NULL;
    }
}

/* ---- Scalar conversions ---------------------------------------------------------------------------- */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float kern_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 is exact in binary32 */
        return f32_from_bits(sign | f32_bits((float)mant * 0x1p-24f));
    }
    if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13)); /* inf, NaN (payload kept) */
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Round to nearest even, like the F16C instruction vcvtps2ph that ggml uses on x86. */
uint16_t kern_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff)); /* NaN: quiet, payload top bits */
    if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                       /* >= 65520 rounds to inf */
    if (x < 0x38800000u) {
        /* below 2^-14 the result is subnormal: adding 0.5 (ulp 2^-24 = the half subnormal step) makes the FPU
         * round to nearest even; the low bits of the sum are then the half's mantissa. */
        float a = f32_from_bits(x) + 0.5f;
        return (uint16_t)(sign | (f32_bits(a) - 0x3f000000u));
    }
    uint32_t odd = (x >> 13) & 1;
    x += 0xc8000fffu + odd; /* rebias the exponent by -112 and round the 13 dropped bits to nearest even */
    return (uint16_t)(sign | (x >> 13));
}

float kern_bf16_to_fp32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

/* ggml_compute_fp32_to_bf16: round to nearest even; a NaN is truncated and forced quiet. */
uint16_t kern_fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

void kern_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kern_fp32_to_fp16(x[i]);
}

/* ---- Dequantization (ggml-quants.c dequantize_row_*) -------------------------------------------------- */

static void dequantize_q4_0(const block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = kern_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[i * QK4_0 + j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
            y[i * QK4_0 + j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequantize_q8_0(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = kern_fp16_to_fp32(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = (float)x[i].qs[j] * d;
    }
}

static void dequantize_q4_k(const block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        float d = kern_fp16_to_fp32(x[i].d);
        float min = kern_fp16_to_fp32(x[i].dmin);
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
            int sc, m;
            kern_q4_k_scale_min(is, x[i].scales, &sc, &m);
            float d1 = d * (float)sc, m1 = min * (float)m;
            kern_q4_k_scale_min(is + 1, x[i].scales, &sc, &m);
            float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
            q += 32;
        }
    }
}

static void dequantize_q6_k(const block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = kern_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

void kern_dequantize_row(int32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case MLA4J_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case MLA4J_TYPE_F16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = kern_fp16_to_fp32(s[i]);
        break;
    }
    case MLA4J_TYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = kern_bf16_to_fp32(s[i]);
        break;
    }
    case MLA4J_TYPE_Q4_0: dequantize_q4_0(src, dst, n / QK4_0); break;
    case MLA4J_TYPE_Q8_0: dequantize_q8_0(src, dst, n / QK8_0); break;
    case MLA4J_TYPE_Q4_K: dequantize_q4_k(src, dst, n / QK_K); break;
    case MLA4J_TYPE_Q6_K: dequantize_q6_k(src, dst, n / QK_K); break;
    default: kern_dequantize_quants_ref(type, src, dst, n); break; /* the further types, or nothing */ /* callers validate the type (kern_type_traits_of) */
    }
}

/* ---- Activations ------------------------------------------------------------------------------------ */

size_t kern_act_size(int32_t type, int64_t cols, int64_t n_tok) {
    return (size_t)(kern_act_stride(type, cols) * n_tok);
}

/* quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) computed as x*(1/d), d stored as fp16. The block sums
 * feed the unsigned-weight trick of the integer SIMD kernels. Non-finite inputs give 0 quants (no UB). */
void kern_quantize_act_q8_ref(int32_t type, const float *x, int64_t cols, void *act_token) {
    int64_t nb = cols / QK8_0;
    uint8_t *base = act_token;
    float *dst_d = (float *)base;
    int32_t *dst_corr = (int32_t *)(base + kern_align64(nb * 4));
    int8_t *dst_q = (int8_t *)(base + 2 * kern_align64(nb * 4));
    int32_t offset = kern_q8_act_offset(type);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst_d[b] = kern_fp16_to_fp32(kern_fp32_to_fp16(d));
        int32_t sum = 0;
        for (int j = 0; j < QK8_0; j++) {
            float r = roundf(xb[j] * id);
            int q = r >= 127.0f ? 127 : r <= -127.0f ? -127 : r == r ? (int)r : 0;
            dst_q[b * QK8_0 + j] = (int8_t)q;
            sum += q;
        }
        dst_corr[b] = -offset * sum;
    }
}

/* ---- Reference dot products and matrix product ------------------------------------------------------ */

float kern_vec_dot_q4_0_ref(const void *row, const kern_q8_act *a, int64_t cols) {
    const block_q4_0 *x = row;
    float sum = 0.0f;
    for (int64_t b = 0; b < cols / QK4_0; b++) {
        const int8_t *q = a->qs + b * QK4_0;
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((x[b].qs[j] & 0x0f) - 8) * q[j];
            sumi += ((x[b].qs[j] >> 4) - 8) * q[j + QK4_0 / 2];
        }
        sum += (float)sumi * (kern_fp16_to_fp32(x[b].d) * a->d[b]);
    }
    return sum;
}

float kern_vec_dot_q8_0_ref(const void *row, const kern_q8_act *a, int64_t cols) {
    const block_q8_0 *x = row;
    float sum = 0.0f;
    for (int64_t b = 0; b < cols / QK8_0; b++) {
        const int8_t *q = a->qs + b * QK8_0;
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += x[b].qs[j] * q[j];
        sum += (float)sumi * (kern_fp16_to_fp32(x[b].d) * a->d[b]);
    }
    return sum;
}

/* Float-activation types: decode the row a chunk at a time (256 = one K-quant super-block) and sum in order. */
static float vec_dot_float_ref(int32_t type, const void *row, const float *x, int64_t cols) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    float buf[QK_K];
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; c += QK_K) {
        int64_t n = cols - c < QK_K ? cols - c : QK_K;
        const uint8_t *src = (const uint8_t *)row + c / tr->block_size * tr->type_size;
        kern_dequantize_row(type, src, buf, n);
        for (int64_t i = 0; i < n; i++) sum += buf[i] * x[c + i];
    }
    return sum;
}

void kern_matmul_ref(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                     int64_t r1) {
    if (kern_type_is_quants(w->type)) {
        kern_matmul_quants_ref(w, act, n_tok, y, ldy, r0, r1);
        return;
    }
    int64_t stride = kern_act_stride(w->type, w->cols);
    for (int64_t t = 0; t < n_tok; t++) {
        const void *at = (const uint8_t *)act + t * stride;
        kern_q8_act q = {0};
        if (kern_act_is_q8(w->type)) q = kern_q8_act_of(act, w->cols, t);
        for (int64_t r = r0; r < r1; r++) {
            const void *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
            float v;
            if (w->type == MLA4J_TYPE_Q4_0) v = kern_vec_dot_q4_0_ref(row, &q, w->cols);
            else if (w->type == MLA4J_TYPE_Q8_0) v = kern_vec_dot_q8_0_ref(row, &q, w->cols);
            else v = vec_dot_float_ref(w->type, row, at, w->cols);
            y[t * ldy + r] = v;
        }
    }
}

/* ---- Weight panels (layout in kernels_impl.h) ---------------------------------------------------------- */

void kern_repack_q8_panel(const kern_matrix *w, int64_t r, int nr, int pr, int64_t b0, int64_t nblk, int q8_signed,
                          uint8_t *panel) {
    const kern_type_traits *tr = kern_type_traits_of(w->type);
    for (int64_t bi = 0; bi < nblk; bi++) {
        float *dw = (float *)(panel + bi * kern_panel_block_bytes(pr));
        uint32_t *q = (uint32_t *)(dw + pr);
        for (int i = 0; i < pr; i++) {
            if (i >= nr) {
                dw[i] = 0.0f;
                for (int g = 0; g < 8; g++) q[g * pr + i] = 0;
                continue;
            }
            const uint8_t *blk = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes + (b0 + bi) * tr->type_size;
            uint16_t d;
            memcpy(&d, blk, 2);
            dw[i] = kern_fp16_to_fp32(d);
            if (w->type == MLA4J_TYPE_Q8_0) {
                for (int g = 0; g < 8; g++) {
                    uint32_t v;
                    memcpy(&v, blk + 2 + 4 * g, 4);
                    q[g * pr + i] = q8_signed ? v : v ^ 0x80808080u;
                }
            } else { /* Q4_0: element j < 16 is the low nibble of qs[j], element j + 16 its high nibble */
                for (int g = 0; g < 4; g++) {
                    uint32_t v;
                    memcpy(&v, blk + 2 + 4 * g, 4);
                    q[g * pr + i] = v & 0x0f0f0f0fu;
                    q[(g + 4) * pr + i] = (v >> 4) & 0x0f0f0f0fu;
                }
            }
        }
    }
}

/* ---- Vector helpers --------------------------------------------------------------------------------- */

float kern_dot_f32_ref(const float *a, const float *b, int64_t n) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

float kern_dot_f16_ref(const uint16_t *a, const float *b, int64_t n) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += kern_fp16_to_fp32(a[i]) * b[i];
    return sum;
}

void kern_axpy_f32_ref(float a, const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void kern_axpy_f16_ref(float a, const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * kern_fp16_to_fp32(x[i]);
}
