/* kernels_kquants_neon.c - the ARM64 NEON kernels of the 256-element super-block types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
 * IQ4_XS) and their Q8_K activations (llama.cpp block_q8_K: float scale, 256 quants, 16 sums of 16 quants).
 *
 * Products: a super-block is decoded once into 16 vectors of 16 signed quants (the value of each element as the
 * reference's decode_superblock gives it: Q3_K's -4 for a clear high bit, Q6_K's -32 and IQ4_XS's table values
 * applied), the integer scale of each 16 elements and, for Q2_K/Q4_K/Q5_K, the integer minimum of each 16 elements.
 * Each token then takes 16 int8 products (dot16_base: SMULL/SMLAL2 + SADDLP; dot16_sdot: SDOT) multiplied by their
 * scales (MLA), and one SMULL/SMLAL of the minimums with the activation's 16-element sums. The super-block's exact
 * integer totals are scaled in the reference's order (kern_vec_dot_quants_ref: d_act * d * isum - d_act * dmin *
 * msum, added block by block), so every NEON level gives the reference's bits (test_kernels checks equality).
 * Baseline and SDOT take rows one at a time, a prompt's tokens 8 at a time per decoded super-block (the decode is
 * shared, the weights stream once per 8 tokens); i8mm takes 2 rows x 8 tokens with SMMLA (2 x 2 per instruction,
 * the groups' scales applied to its 4 lanes by one MLA), and one token with SDOT. */
#include "kernels_neon.h"

#include <math.h>
#include <string.h>

/* ---- Q8_K activations (kern_quantize_act_q8k_ref's bytes) ------------------------------------------------------
 * The reference keeps the first element of largest magnitude (NaN never compares greater) and its sign, rounds
 * -127/max * x half to even (ggml's nearest_int; FRINTN does the same for |v| <= 127), turns NaN products into 0,
 * and writes zero blocks for a maximum of 0 or infinity. A maximum so small that -127/max overflows goes through
 * the reference (its infinity rules), as on x86. */
void kern_quantize_act_q8k_neon(const float *x, int64_t cols, void *act_token) {
    block_q8_K *y = act_token;
    for (int64_t b = 0; b < cols / QK_K; b++, x += QK_K) {
        float32x4_t mx = vdupq_n_f32(0.0f);
        for (int k = 0; k < 64; k++) mx = vmaxnmq_f32(mx, vabsq_f32(vld1q_f32(x + 4 * k))); /* maxNum skips NaN */
        const float amax = vmaxnmvq_f32(mx);
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !(amax <= 3.402823466e38f)) continue; /* 0 or infinity: zeros, as the reference */
        float max = 0.0f;
        const float32x4_t av = vdupq_n_f32(amax);
        for (int k = 0; k < 64; k++) {
            if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + 4 * k)), av)) == 0) continue;
            int e = 4 * k;
            while (fabsf(x[e]) != amax) e++;
            max = x[e];
            break;
        }
        const float iscale = -127.0f / max;
        if (!(iscale >= -3.402823466e38f && iscale <= 3.402823466e38f)) {
            kern_quantize_act_q8k_ref(x, QK_K, &y[b]);
            continue;
        }
        const float32x4_t is = vdupq_n_f32(iscale), lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
        for (int g = 0; g < 16; g++) {
            int32x4_t q[4];
            for (int k = 0; k < 4; k++) {
                float32x4_t v = vmulq_f32(is, vld1q_f32(x + 16 * g + 4 * k));
                v = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v))); /* NaN -> 0 */
                q[k] = vcvtq_s32_f32(vminq_f32(vmaxq_f32(vrndnq_f32(v), lo), hi));
            }
            const int16x8_t h0 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            const int16x8_t h1 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            const int8x16_t q8 = vcombine_s8(vmovn_s16(h0), vmovn_s16(h1));
            vst1q_s8(y[b].qs + 16 * g, q8);
            y[b].bsums[g] = (int16_t)vaddlvq_s8(q8);
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- Super-block decoding -------------------------------------------------------------------------------------- */

typedef struct {
    int8x16_t q[16];  /* element 16g + l: q[g] lane l */
    int32_t sc[16];   /* the scale of each 16 elements */
    int16_t mn[16];   /* the minimum of each 16 elements (types with minimums) */
    float d, dmin;    /* dmin 0 for the types without minimums, as in the reference */
} ksb;

INLINE int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* 16 x 0x10 where bit `bit` of the byte is set, else 0 (the fifth bits of Q5_K). */
INLINE uint8x16_t bit_to(uint8x16_t h, int bit, uint8_t value) {
    return vandq_u8(vtstq_u8(h, vdupq_n_u8((uint8_t)(1u << bit))), vdupq_n_u8(value));
}

INLINE void q4k_scales(const uint8_t *scales, ksb *s) {
    for (int sub = 0; sub < 8; sub++) {
        int sc, m;
        kern_q4_k_scale_min(sub, scales, &sc, &m);
        s->sc[2 * sub] = s->sc[2 * sub + 1] = sc;
        s->mn[2 * sub] = s->mn[2 * sub + 1] = (int16_t)m;
    }
}

INLINE void decode_q4_K(const uint8_t *p, ksb *s) {
    const block_q4_K *x = (const block_q4_K *)p;
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    for (int c = 0; c < 4; c++) { /* 32 bytes: sub-block 2c in the low nibbles, 2c + 1 in the high ones */
        const uint8x16_t b0 = vld1q_u8(x->qs + 32 * c), b1 = vld1q_u8(x->qs + 32 * c + 16);
        s->q[4 * c] = s8(vandq_u8(b0, m4));
        s->q[4 * c + 1] = s8(vandq_u8(b1, m4));
        s->q[4 * c + 2] = s8(vshrq_n_u8(b0, 4));
        s->q[4 * c + 3] = s8(vshrq_n_u8(b1, 4));
    }
    q4k_scales(x->scales, s);
    s->d = fp16_to_f32(x->d);
    s->dmin = fp16_to_f32(x->dmin);
}

INLINE void decode_q5_K(const uint8_t *p, ksb *s) {
    const block_q5_K *x = (const block_q5_K *)p;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), h[2] = {vld1q_u8(x->qh), vld1q_u8(x->qh + 16)};
    for (int c = 0; c < 4; c++) { /* as Q4_K, plus bit `sub` of qh[l] as 16 */
        for (int half = 0; half < 2; half++) {
            const uint8x16_t b = vld1q_u8(x->qs + 32 * c + 16 * half);
            s->q[4 * c + half] = s8(vorrq_u8(vandq_u8(b, m4), bit_to(h[half], 2 * c, 16)));
            s->q[4 * c + 2 + half] = s8(vorrq_u8(vshrq_n_u8(b, 4), bit_to(h[half], 2 * c + 1, 16)));
        }
    }
    q4k_scales(x->scales, s);
    s->d = fp16_to_f32(x->d);
    s->dmin = fp16_to_f32(x->dmin);
}

INLINE void decode_q6_K(const uint8_t *p, ksb *s) {
    const block_q6_K *x = (const block_q6_K *)p;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    for (int n = 0; n < 2; n++) {
        const uint8_t *ql = x->ql + 64 * n, *qh = x->qh + 32 * n;
        for (int h = 0; h < 2; h++) { /* elements 32k + 16h + l of these 128: group 8n + 2k + h */
            const int l = 16 * h;
            const uint8x16_t l0 = vld1q_u8(ql + l), l1 = vld1q_u8(ql + 32 + l), hb = vld1q_u8(qh + l);
            const uint8x16_t u0 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
            const uint8x16_t u1 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
            const uint8x16_t u2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
            const uint8x16_t u3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
            s->q[8 * n + h] = vsubq_s8(s8(u0), off);
            s->q[8 * n + 2 + h] = vsubq_s8(s8(u1), off);
            s->q[8 * n + 4 + h] = vsubq_s8(s8(u2), off);
            s->q[8 * n + 6 + h] = vsubq_s8(s8(u3), off);
        }
    }
    for (int g = 0; g < 16; g++) s->sc[g] = x->scales[g];
    s->d = fp16_to_f32(x->d);
    s->dmin = 0.0f;
}

INLINE void decode_q2_K(const uint8_t *p, ksb *s) {
    const block_q2_K *x = (const block_q2_K *)p;
    const uint8x16_t m3 = vdupq_n_u8(3);
    for (int c = 0; c < 2; c++) { /* group 8c + 2j + half: bits 2j of qs[32c + 16 half + l] */
        const uint8x16_t b0 = vld1q_u8(x->qs + 32 * c), b1 = vld1q_u8(x->qs + 32 * c + 16);
        s->q[8 * c] = s8(vandq_u8(b0, m3));
        s->q[8 * c + 1] = s8(vandq_u8(b1, m3));
        s->q[8 * c + 2] = s8(vandq_u8(vshrq_n_u8(b0, 2), m3));
        s->q[8 * c + 3] = s8(vandq_u8(vshrq_n_u8(b1, 2), m3));
        s->q[8 * c + 4] = s8(vandq_u8(vshrq_n_u8(b0, 4), m3));
        s->q[8 * c + 5] = s8(vandq_u8(vshrq_n_u8(b1, 4), m3));
        s->q[8 * c + 6] = s8(vshrq_n_u8(b0, 6));
        s->q[8 * c + 7] = s8(vshrq_n_u8(b1, 6));
    }
    for (int g = 0; g < 16; g++) {
        s->sc[g] = x->scales[g] & 0x0f;
        s->mn[g] = (int16_t)(x->scales[g] >> 4);
    }
    s->d = fp16_to_f32(x->d);
    s->dmin = fp16_to_f32(x->dmin);
}

INLINE void decode_q3_K(const uint8_t *p, ksb *s) {
    const block_q3_K *x = (const block_q3_K *)p;
    const uint8x16_t m3 = vdupq_n_u8(3), hm[2] = {vld1q_u8(x->hmask), vld1q_u8(x->hmask + 16)};
    const int8x16_t four = vdupq_n_s8(4);
    for (int c = 0; c < 2; c++) { /* as Q2_K; the high bit of group 8c + 2j + half is bit 4c + j of hmask */
        const uint8x16_t b[2] = {vld1q_u8(x->qs + 32 * c), vld1q_u8(x->qs + 32 * c + 16)};
        for (int half = 0; half < 2; half++) {
            const uint8x16_t lo[4] = {vandq_u8(b[half], m3), vandq_u8(vshrq_n_u8(b[half], 2), m3),
                                      vandq_u8(vshrq_n_u8(b[half], 4), m3), vshrq_n_u8(b[half], 6)};
            for (int j = 0; j < 4; j++)
                s->q[8 * c + 2 * j + half] = vsubq_s8(s8(vorrq_u8(lo[j], bit_to(hm[half], 4 * c + j, 4))), four);
        }
    }
    int8_t sc[16];
    kern_q3_k_scales(x->scales, sc);
    for (int g = 0; g < 16; g++) s->sc[g] = sc[g] - 32;
    s->d = fp16_to_f32(x->d);
    s->dmin = 0.0f;
}

INLINE void decode_iq4_xs(const uint8_t *p, ksb *s) {
    const block_iq4_xs *x = (const block_iq4_xs *)p;
    const int8x16_t values = vld1q_s8(kern_iq4nl_values);
    for (int ib = 0; ib < 8; ib++) { /* 32 elements: 16 low nibbles, then their 16 high nibbles */
        const uint8x16_t b = vld1q_u8(x->qs + 16 * ib);
        s->q[2 * ib] = vqtbl1q_s8(values, vandq_u8(b, vdupq_n_u8(0x0f)));
        s->q[2 * ib + 1] = vqtbl1q_s8(values, vshrq_n_u8(b, 4));
        const int scale = (((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0x0f) | (((x->scales_h >> 2 * ib) & 3) << 4)) - 32;
        s->sc[2 * ib] = s->sc[2 * ib + 1] = scale;
    }
    s->d = fp16_to_f32(x->d);
    s->dmin = 0.0f;
}

/* ---- Products -------------------------------------------------------------------------------------------------- */

/* One decoded super-block times one token's block, as the reference scales it. */
#define KSB_DOT(DOT16, HAS_MIN, s, a, out)                                                                            \
    do {                                                                                                              \
        int32x4_t acc_ = vdupq_n_s32(0);                                                                              \
        for (int g_ = 0; g_ < 16; g_++) acc_ = vmlaq_n_s32(acc_, DOT16((s).q[g_], (a)->qs + 16 * g_), (s).sc[g_]);    \
        int msum_ = 0;                                                                                                \
        if (HAS_MIN) {                                                                                                \
            const int16x8_t m0_ = vld1q_s16((s).mn), m1_ = vld1q_s16((s).mn + 8);                                     \
            const int16x8_t b0_ = vld1q_s16((a)->bsums), b1_ = vld1q_s16((a)->bsums + 8);                             \
            int32x4_t p_ = vmlal_high_s16(vmull_s16(vget_low_s16(m0_), vget_low_s16(b0_)), m0_, b0_);                 \
            p_ = vmlal_high_s16(vmlal_s16(p_, vget_low_s16(m1_), vget_low_s16(b1_)), m1_, b1_);                        \
            msum_ = vaddvq_s32(p_);                                                                                   \
        }                                                                                                             \
        (out) += (a)->d * (s).d * (float)vaddvq_s32(acc_) - (a)->d * (s).dmin * (float)msum_;                         \
    } while (0)

#define KT 8 /* tokens per decoded super-block */

/* Rows r0..r1 times n_tok tokens of one type at one level. The body is inlined twice, once for a single token
 * (decode: the decoded super-block then stays in registers, about 15% fewer instructions) and once for several. */
#define KQ_KERNEL(NAME, DECODE, HAS_MIN, BLOCK, SFX, DOT16, ATTR)                                                     \
    ATTR INLINE void kq_##NAME##_##SFX##_body(const kern_matrix *w, const void *act, int64_t n_tok, float *y,         \
                                              int64_t ldy, int64_t r0, int64_t r1) {                                  \
        const int64_t nb = w->cols / QK_K, stride = kern_act_stride(w->type, w->cols);                                \
        for (int64_t r = r0; r < r1; r++) {                                                                           \
            const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;                                 \
            for (int64_t t = 0; t < n_tok; t += KT) {                                                                 \
                const int nt = n_tok - t < KT ? (int)(n_tok - t) : KT;                                                \
                float sum[KT] = {0};                                                                                  \
                for (int64_t b = 0; b < nb; b++) {                                                                    \
                    ksb s;                                                                                            \
                    DECODE(row + b * (int64_t)sizeof(BLOCK), &s);                                                     \
                    for (int j = 0; j < nt; j++) {                                                                    \
                        const block_q8_K *a = (const block_q8_K *)((const uint8_t *)act + (t + j) * stride) + b;      \
                        KSB_DOT(DOT16, HAS_MIN, s, a, sum[j]);                                                        \
                    }                                                                                                 \
                }                                                                                                     \
                for (int j = 0; j < nt; j++) y[(t + j) * ldy + r] = sum[j];                                           \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    ATTR static void kq_##NAME##_##SFX(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,   \
                                        int64_t r0, int64_t r1) {                                                     \
        if (n_tok == 1) kq_##NAME##_##SFX##_body(w, act, 1, y, ldy, r0, r1);                                          \
        else kq_##NAME##_##SFX##_body(w, act, n_tok, y, ldy, r0, r1);                                                 \
    }

/* i8mm, several tokens: 2 rows x 2 tokens per SMMLA. Operand A holds 8 quants of row r then the same 8 of row r+1
 * (16-element group g: two SMMLA, its low and high halves), operand B those of tokens t and t+1; the result lanes
 * (r,t), (r,t+1), (r+1,t), (r+1,t+1) are multiplied by the rows' group scales and summed into the exact integer
 * totals, then scaled as the reference does. A missing second row or token repeats the first; its lanes are
 * dropped. One token (decode) runs the SDOT kernel (kern_matmul_kquants_neon). */
INLINE int8x16_t zip_lo64(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
INLINE int8x16_t zip_hi64(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

/* sum over the 16 groups of minimum x activation group sum */
INLINE int min_dot(const int16_t *mn, const int16_t *bsums) {
    const int16x8_t m0 = vld1q_s16(mn), m1 = vld1q_s16(mn + 8), b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t p = vmlal_high_s16(vmull_s16(vget_low_s16(m0), vget_low_s16(b0)), m0, b0);
    return vaddvq_s32(vmlal_high_s16(vmlal_s16(p, vget_low_s16(m1), vget_low_s16(b1)), m1, b1));
}

#define KQ_I8MM(NAME, DECODE, HAS_MIN, BLOCK)                                                                         \
    TARGET_I8MM static void kq_##NAME##_i8mm(const kern_matrix *w, const void *act, int64_t n_tok, float *y,          \
                                             int64_t ldy, int64_t r0, int64_t r1) {                                   \
        const int64_t nb = w->cols / QK_K, stride = kern_act_stride(w->type, w->cols);                                \
        for (int64_t r = r0; r < r1; r += 2) {                                                                        \
            const int nr = r1 - r < 2 ? 1 : 2;                                                                        \
            const uint8_t *row0 = (const uint8_t *)w->data + (size_t)r * w->row_bytes;                                \
            const uint8_t *row1 = nr == 2 ? row0 + w->row_bytes : row0;                                               \
            for (int64_t t = 0; t < n_tok; t += KT) {                                                                 \
                const int nt = n_tok - t < KT ? (int)(n_tok - t) : KT;                                                \
                const block_q8_K *at[KT];                                                                             \
                for (int j = 0; j < KT; j++)                                                                          \
                    at[j] = (const block_q8_K *)((const uint8_t *)act + (t + (j < nt ? j : nt - 1)) * stride);        \
                float32x4_t acc[KT / 2];                                                                              \
                for (int p = 0; p < KT / 2; p++) acc[p] = vdupq_n_f32(0.0f);                                          \
                for (int64_t b = 0; b < nb; b++) {                                                                    \
                    ksb s0, s1;                                                                                       \
                    DECODE(row0 + b * (int64_t)sizeof(BLOCK), &s0);                                                   \
                    DECODE(row1 + b * (int64_t)sizeof(BLOCK), &s1);                                                   \
                    int8x16_t wl[16], wh[16];                                                                         \
                    int32x4_t scv[16];                                                                                \
                    for (int g = 0; g < 16; g++) {                                                                    \
                        wl[g] = zip_lo64(s0.q[g], s1.q[g]);                                                           \
                        wh[g] = zip_hi64(s0.q[g], s1.q[g]);                                                           \
                        const int32_t sg[4] = {s0.sc[g], s0.sc[g], s1.sc[g], s1.sc[g]};                               \
                        scv[g] = vld1q_s32(sg);                                                                       \
                    }                                                                                                 \
                    for (int p = 0; 2 * p < nt; p++) {                                                                \
                        const block_q8_K *a0 = at[2 * p] + b, *a1 = at[2 * p + 1] + b;                                \
                        int32x4_t isum = vdupq_n_s32(0);                                                              \
                        for (int g = 0; g < 16; g++) {                                                                \
                            const int8x16_t y0 = vld1q_s8(a0->qs + 16 * g), y1 = vld1q_s8(a1->qs + 16 * g);           \
                            int32x4_t vr = vmmlaq_s32(vdupq_n_s32(0), wl[g], zip_lo64(y0, y1));                       \
                            vr = vmmlaq_s32(vr, wh[g], zip_hi64(y0, y1));                                             \
                            isum = vmlaq_s32(isum, vr, scv[g]);                                                       \
                        }                                                                                             \
                        int32_t ms[4] = {0, 0, 0, 0};                                                                 \
                        if (HAS_MIN) {                                                                                \
                            ms[0] = min_dot(s0.mn, a0->bsums);                                                        \
                            ms[1] = min_dot(s0.mn, a1->bsums);                                                        \
                            ms[2] = min_dot(s1.mn, a0->bsums);                                                        \
                            ms[3] = min_dot(s1.mn, a1->bsums);                                                        \
                        }                                                                                             \
                        const float sc[4] = {a0->d * s0.d, a1->d * s0.d, a0->d * s1.d, a1->d * s1.d};                 \
                        const float mc[4] = {a0->d * s0.dmin, a1->d * s0.dmin, a0->d * s1.dmin, a1->d * s1.dmin};     \
                        const float32x4_t term = vsubq_f32(vmulq_f32(vld1q_f32(sc), vcvtq_f32_s32(isum)),             \
                                                           vmulq_f32(vld1q_f32(mc), vcvtq_f32_s32(vld1q_s32(ms))));   \
                        acc[p] = vaddq_f32(acc[p], term);                                                             \
                    }                                                                                                 \
                }                                                                                                     \
                for (int p = 0; 2 * p < nt; p++) {                                                                    \
                    float out[4];                                                                                     \
                    vst1q_f32(out, acc[p]);                                                                           \
                    for (int e = 0; e < 4; e++) {                                                                     \
                        const int i = e / 2, j = 2 * p + e % 2;                                                       \
                        if (i < nr && j < nt) y[(t + j) * ldy + r + i] = out[e];                                      \
                    }                                                                                                 \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }

#define KQ_LEVELS(NAME, DECODE, HAS_MIN, BLOCK)                                                                       \
    KQ_KERNEL(NAME, DECODE, HAS_MIN, BLOCK, base, dot16_base, )                                                       \
    KQ_KERNEL(NAME, DECODE, HAS_MIN, BLOCK, sdot, dot16_sdot, TARGET_DOTPROD)                                         \
    KQ_I8MM(NAME, DECODE, HAS_MIN, BLOCK)

KQ_LEVELS(q2_K, decode_q2_K, 1, block_q2_K)
KQ_LEVELS(q3_K, decode_q3_K, 0, block_q3_K)
KQ_LEVELS(q4_K, decode_q4_K, 1, block_q4_K)
KQ_LEVELS(q5_K, decode_q5_K, 1, block_q5_K)
KQ_LEVELS(q6_K, decode_q6_K, 0, block_q6_K)
KQ_LEVELS(iq4_xs, decode_iq4_xs, 0, block_iq4_xs)

typedef void (*kq_fn)(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                      int64_t r1);

#define KQ_ENTRY(T, NAME) {T, kq_##NAME##_base, kq_##NAME##_sdot, kq_##NAME##_i8mm}
static const struct {
    int32_t type;
    kq_fn base, sdot, i8mm;
} kq_types[] = {
    KQ_ENTRY(MLA4J_TYPE_Q2_K, q2_K), KQ_ENTRY(MLA4J_TYPE_Q3_K, q3_K), KQ_ENTRY(MLA4J_TYPE_Q4_K, q4_K),
    KQ_ENTRY(MLA4J_TYPE_Q5_K, q5_K), KQ_ENTRY(MLA4J_TYPE_Q6_K, q6_K), KQ_ENTRY(MLA4J_TYPE_IQ4_XS, iq4_xs),
};
#undef KQ_ENTRY

int kern_matmul_kquants_neon(int level, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                             int64_t r0, int64_t r1) {
    for (size_t i = 0; i < sizeof kq_types / sizeof kq_types[0]; i++) {
        if (kq_types[i].type != w->type) continue;
        if (level >= MLA4J_SIMD_NEON_I8MM && n_tok > 1) kq_types[i].i8mm(w, act, n_tok, y, ldy, r0, r1);
        else if (level >= MLA4J_SIMD_NEON_DOTPROD) kq_types[i].sdot(w, act, n_tok, y, ldy, r0, r1);
        else kq_types[i].base(w, act, n_tok, y, ldy, r0, r1);
        return 1;
    }
    return 0;
}
