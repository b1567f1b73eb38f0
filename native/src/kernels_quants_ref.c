/* kernels_quants_ref.c - reference kernels of the further llama.cpp weight types (issue 16): Q4_1, Q5_0, Q5_1 and
 * IQ4_NL (32-element blocks, dotted with Q8_0 activations) and Q2_K, Q3_K, Q5_K and IQ4_XS (256-element super-blocks,
 * dotted with Q8_K activations), as llama.cpp's CPU backend pairs them (vec_dot_type). The dot products of Q4_K and
 * Q6_K (dequantized in kernels_ref.c) live here too: they take Q8_K activations like llama.cpp's.
 *
 * Dequantization repeats ggml-quants.c's arithmetic operation for operation, so the floats are bit-identical to
 * llama.cpp's (native/tests/data/quants: vectors written by llama.cpp itself). The dot products first decode a block
 * into small integers, one integer scale per 16 elements and (for the affine types) one integer minimum, then sum
 * integer products as ggml's generic vec_dot does; kernels_quants_avx2.c / _avx512.c are tested against them. */
#include "kernels_impl.h"

#include <math.h>
#include <string.h>

const int8_t kern_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* ---- Dequantization (ggml-quants.c dequantize_row_*) ------------------------------------------------------- */

static void dequantize_q4_1(const block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = kern_fp16_to_fp32(x[i].d), m = kern_fp16_to_fp32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0f) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* The fifth bits of Q5_0/Q5_1: bit j of qh belongs to element j. */
static void dequantize_q5_0(const block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = kern_fp16_to_fp32(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int x0 = ((x[i].qs[j] & 0x0f) | (int)(((qh >> j) << 4) & 0x10)) - 16;
            const int x1 = ((x[i].qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - 16;
            y[j] = (float)x0 * d;
            y[j + 16] = (float)x1 * d;
        }
    }
}

static void dequantize_q5_1(const block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = kern_fp16_to_fp32(x[i].d), m = kern_fp16_to_fp32(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            const int x0 = (x[i].qs[j] & 0x0f) | (int)(((qh >> j) << 4) & 0x10);
            const int x1 = (x[i].qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
            y[j] = (float)x0 * d + m;
            y[j + 16] = (float)x1 * d + m;
        }
    }
}

static void dequantize_iq4_nl(const block_iq4_nl *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = kern_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)kern_iq4nl_values[x[i].qs[j] & 0x0f];
            y[j + 16] = d * (float)kern_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

static void dequantize_q2_k(const block_q2_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = kern_fp16_to_fp32(x[i].d), min = kern_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0x0f), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

static void dequantize_q3_k(const block_q3_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = kern_fp16_to_fp32(x[i].d);
        int8_t scales[16];
        kern_q3_k_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
                for (int half = 0; half < 2; half++) {
                    const float dl = d_all * (float)(scales[is++] - 32);
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
            }
        }
    }
}

static void dequantize_q5_k(const block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = kern_fp16_to_fp32(x[i].d), min = kern_fp16_to_fp32(x[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32) {
            int sc, m;
            kern_q4_k_scale_min(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            kern_q4_k_scale_min(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

/* The 6-bit scale of 32-element sub-block ib of an IQ4_XS block, still biased by 32. */
static inline int iq4_xs_scale(const block_iq4_xs *x, int ib) {
    return ((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0x0f) | (((x->scales_h >> 2 * ib) & 3) << 4);
}

static void dequantize_iq4_xs(const block_iq4_xs *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *qs = x[i].qs;
        const float d = kern_fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, y += 32, qs += 16) {
            const float dl = d * (float)(iq4_xs_scale(&x[i], ib) - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * (float)kern_iq4nl_values[qs[j] & 0x0f];
                y[j + 16] = dl * (float)kern_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

void kern_dequantize_quants_ref(int32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case MLA4J_TYPE_Q4_1: dequantize_q4_1(src, dst, n / 32); break;
    case MLA4J_TYPE_Q5_0: dequantize_q5_0(src, dst, n / 32); break;
    case MLA4J_TYPE_Q5_1: dequantize_q5_1(src, dst, n / 32); break;
    case MLA4J_TYPE_IQ4_NL: dequantize_iq4_nl(src, dst, n / 32); break;
    case MLA4J_TYPE_Q2_K: dequantize_q2_k(src, dst, n / QK_K); break;
    case MLA4J_TYPE_Q3_K: dequantize_q3_k(src, dst, n / QK_K); break;
    case MLA4J_TYPE_Q5_K: dequantize_q5_k(src, dst, n / QK_K); break;
    case MLA4J_TYPE_IQ4_XS: dequantize_iq4_xs(src, dst, n / QK_K); break;
    default: break;
    }
}

/* ---- Q8_K activations (quantize_row_q8_K_ref) ------------------------------------------------------------ */

/* ggml's nearest_int: round to nearest even through the float adder (|v| <= 127 here, so exact). */
static inline int nearest_int(float v) {
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

void kern_quantize_act_q8k_ref(const float *x, int64_t cols, void *act_token) {
    block_q8_K *y = act_token;
    for (int64_t b = 0; b < cols / QK_K; b++, x += QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) { /* NaN never compares greater: it is skipped as in llama.cpp */
                amax = ax;
                max = x[j];
            }
        }
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !isfinite(amax)) continue; /* llama.cpp writes zeros for 0; inf has no usable scale */
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const float v = iscale * x[j];
            const int q = v == v ? nearest_int(v) : 0;
            y[b].qs[j] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++) sum += y[b].qs[16 * j + k];
            y[b].bsums[j] = (int16_t)sum;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- Reference dot products ----------------------------------------------------------------------------- */

/* One block decoded to integers: value e = q[e] * scale[e / 16] - min[e / 16] (in units of d and dmin). */
typedef struct {
    float d, dmin;
    int q[QK_K];
    int scale[QK_K / 16], min[QK_K / 16];
} int_block;

static void decode_superblock(int32_t type, const uint8_t *blk, int_block *o) {
    memset(o->min, 0, sizeof o->min);
    switch (type) {
    case MLA4J_TYPE_Q4_K: { /* 8 sub-blocks of 32: low nibbles of 32 bytes, then their high nibbles */
        const block_q4_K *x = (const block_q4_K *)blk;
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = kern_fp16_to_fp32(x->dmin);
        for (int e = 0; e < QK_K; e++) {
            const int sub = e / 32, byte = x->qs[sub / 2 * 32 + e % 32];
            o->q[e] = sub % 2 ? byte >> 4 : byte & 0x0f;
        }
        for (int sub = 0; sub < 8; sub++) {
            int sc, m;
            kern_q4_k_scale_min(sub, x->scales, &sc, &m);
            o->scale[2 * sub] = o->scale[2 * sub + 1] = sc;
            o->min[2 * sub] = o->min[2 * sub + 1] = m;
        }
        break;
    }
    case MLA4J_TYPE_Q6_K: { /* per 128 elements: 64 ql bytes (two nibbles), 32 qh bytes (four 2-bit fields) */
        const block_q6_K *x = (const block_q6_K *)blk;
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = 0.0f;
        for (int e = 0; e < QK_K; e++) {
            const int n = e / 128, k = e % 128 / 32, l = e % 32;
            const int lo = x->ql[64 * n + 32 * (k % 2) + l] >> (k < 2 ? 0 : 4) & 0x0f;
            o->q[e] = (lo | ((x->qh[32 * n + l] >> (2 * k)) & 3) << 4) - 32;
        }
        for (int g = 0; g < 16; g++) o->scale[g] = x->scales[g];
        break;
    }
    case MLA4J_TYPE_Q2_K: {
        const block_q2_K *x = (const block_q2_K *)blk;
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = kern_fp16_to_fp32(x->dmin);
        for (int e = 0; e < QK_K; e++) o->q[e] = (x->qs[e / 128 * 32 + e % 32] >> (2 * (e % 128 / 32))) & 3;
        for (int g = 0; g < 16; g++) {
            o->scale[g] = x->scales[g] & 0x0f;
            o->min[g] = x->scales[g] >> 4;
        }
        break;
    }
    case MLA4J_TYPE_Q3_K: {
        const block_q3_K *x = (const block_q3_K *)blk;
        int8_t sc[16];
        kern_q3_k_scales(x->scales, sc);
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = 0.0f;
        for (int e = 0; e < QK_K; e++) {
            const int l = e % 32, shift = 2 * (e % 128 / 32), bit = e / 32;
            o->q[e] = ((x->qs[e / 128 * 32 + l] >> shift) & 3) - ((x->hmask[l] >> bit) & 1 ? 0 : 4);
        }
        for (int g = 0; g < 16; g++) o->scale[g] = sc[g] - 32;
        break;
    }
    case MLA4J_TYPE_Q5_K: {
        const block_q5_K *x = (const block_q5_K *)blk;
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = kern_fp16_to_fp32(x->dmin);
        for (int e = 0; e < QK_K; e++) {
            const int sub = e / 32, l = e % 32, byte = x->qs[sub / 2 * 32 + l];
            o->q[e] = (sub % 2 ? byte >> 4 : byte & 0x0f) + ((x->qh[l] >> sub) & 1 ? 16 : 0);
        }
        for (int sub = 0; sub < 8; sub++) {
            int sc, m;
            kern_q4_k_scale_min(sub, x->scales, &sc, &m);
            o->scale[2 * sub] = o->scale[2 * sub + 1] = sc;
            o->min[2 * sub] = o->min[2 * sub + 1] = m;
        }
        break;
    }
    default: { /* IQ4_XS */
        const block_iq4_xs *x = (const block_iq4_xs *)blk;
        o->d = kern_fp16_to_fp32(x->d);
        o->dmin = 0.0f;
        for (int e = 0; e < QK_K; e++) {
            const int byte = x->qs[e / 32 * 16 + e % 16];
            o->q[e] = kern_iq4nl_values[e % 32 < 16 ? byte & 0x0f : byte >> 4];
        }
        for (int ib = 0; ib < 8; ib++) o->scale[2 * ib] = o->scale[2 * ib + 1] = iq4_xs_scale(x, ib) - 32;
        break;
    }
    }
}

/* One 32-element block decoded to integers: value j = d * q[j] + m. */
static void decode_block32(int32_t type, const uint8_t *blk, float *d, float *m, int q[32]) {
    switch (type) {
    case MLA4J_TYPE_Q4_1: {
        const block_q4_1 *x = (const block_q4_1 *)blk;
        *d = kern_fp16_to_fp32(x->d);
        *m = kern_fp16_to_fp32(x->m);
        for (int j = 0; j < 16; j++) {
            q[j] = x->qs[j] & 0x0f;
            q[j + 16] = x->qs[j] >> 4;
        }
        break;
    }
    case MLA4J_TYPE_Q5_0:
    case MLA4J_TYPE_Q5_1: {
        const int affine = type == MLA4J_TYPE_Q5_1;
        const uint8_t *qs = affine ? ((const block_q5_1 *)blk)->qs : ((const block_q5_0 *)blk)->qs;
        const uint8_t *qhp = affine ? ((const block_q5_1 *)blk)->qh : ((const block_q5_0 *)blk)->qh;
        uint16_t dh, mh = 0;
        memcpy(&dh, blk, 2);
        if (affine) memcpy(&mh, blk + 2, 2);
        *d = kern_fp16_to_fp32(dh);
        *m = affine ? kern_fp16_to_fp32(mh) : 0.0f;
        uint32_t qh;
        memcpy(&qh, qhp, 4);
        for (int j = 0; j < 16; j++) {
            q[j] = ((qs[j] & 0x0f) | (int)((qh >> j) & 1) << 4) - (affine ? 0 : 16);
            q[j + 16] = ((qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - (affine ? 0 : 16);
        }
        break;
    }
    default: { /* IQ4_NL */
        const block_iq4_nl *x = (const block_iq4_nl *)blk;
        *d = kern_fp16_to_fp32(x->d);
        *m = 0.0f;
        for (int j = 0; j < 16; j++) {
            q[j] = kern_iq4nl_values[x->qs[j] & 0x0f];
            q[j + 16] = kern_iq4nl_values[x->qs[j] >> 4];
        }
        break;
    }
    }
}

float kern_vec_dot_quants_ref(int32_t type, const void *row, const void *act_token, int64_t cols) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    float sum = 0.0f;
    if (kern_act_is_q8k(type)) {
        const block_q8_K *a = act_token;
        int_block blk;
        for (int64_t b = 0; b < cols / QK_K; b++) {
            decode_superblock(type, (const uint8_t *)row + b * tr->type_size, &blk);
            int isum = 0, msum = 0;
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int k = 16 * g; k < 16 * g + 16; k++) s += blk.q[k] * a[b].qs[k];
                isum += blk.scale[g] * s;
                msum += blk.min[g] * a[b].bsums[g];
            }
            sum += a[b].d * blk.d * (float)isum - a[b].d * blk.dmin * (float)msum;
        }
        return sum;
    }
    /* Q8_0 activations: act_token is a kern_q8_act */
    const kern_q8_act *a = act_token;
    for (int64_t b = 0; b < cols / 32; b++) {
        float d, m;
        int q[32];
        decode_block32(type, (const uint8_t *)row + b * tr->type_size, &d, &m, q);
        int sumi = 0, suma = 0;
        for (int j = 0; j < 32; j++) {
            sumi += q[j] * a->qs[b * 32 + j];
            suma += a->qs[b * 32 + j];
        }
        sum += d * a->d[b] * (float)sumi + m * a->d[b] * (float)suma;
    }
    return sum;
}

void kern_matmul_quants_ref(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                            int64_t r1) {
    const int64_t stride = kern_act_stride(w->type, w->cols);
    for (int64_t t = 0; t < n_tok; t++) {
        kern_q8_act q = {0};
        const void *at = (const uint8_t *)act + t * stride;
        if (kern_act_is_q8(w->type)) {
            q = kern_q8_act_of(act, w->cols, t);
            at = &q;
        }
        for (int64_t r = r0; r < r1; r++)
            y[t * ldy + r] = kern_vec_dot_quants_ref(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, at, w->cols);
    }
}
