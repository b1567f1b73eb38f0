/* kernels_avx2.c - the AVX2 + FMA + F16C kernels. Results equal the reference kernels' up to the order of
 * float summation. Integer products use vpmaddubsw (unsigned x signed bytes): Q4_0 nibbles are unsigned as
 * stored (the -8 is applied through the activation block sums, see kernels_impl.h); Q8_0 uses the sign trick
 * |w| x (a with w's sign), since w + 128 would overflow vpmaddubsw's int16 pair sums. */
#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t hsum256_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* Lane mask for the first n (< 8) floats of a tail. */
static inline __m256i tail_mask8(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* ---- Q8_0 activations --------------------------------------------------------------------------------- */

/* roundf: round half away from zero (x - trunc(x) is exact). */
static inline __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* The quants of 8 values times id, as kern_quantize_act_q8_ref computes them (NaN gives 0, clamped to 127). */
static inline __m256i quantize8(__m256 x, __m256 id) {
    __m256 r = round_half_away(_mm256_mul_ps(x, id));
    r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
    r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return _mm256_cvttps_epi32(r);
}

void kern_quantize_act_q8_avx2(int32_t type, const float *x, int64_t cols, void *act_token) {
    int64_t nb = cols / QK8_0;
    uint8_t *base = act_token;
    float *dst_d = (float *)base;
    int32_t *dst_corr = (int32_t *)(base + kern_align64(nb * 4));
    int8_t *dst_q = (int8_t *)(base + 2 * kern_align64(nb * 4));
    int32_t offset = kern_q8_act_offset(type);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < nb; b++) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + b * QK8_0 + 8 * k);
            /* fmaxf in the reference ignores NaN: drop them before the maximum */
            mx = _mm256_max_ps(mx, _mm256_and_ps(_mm256_andnot_ps(sign, v[k]), _mm256_cmp_ps(v[k], v[k], _CMP_ORD_Q)));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst_d[b] = kern_fp16_to_fp32(kern_fp32_to_fp16(d));
        __m256 idv = _mm256_set1_ps(id);
        __m256i q0 = quantize8(v[0], idv), q1 = quantize8(v[1], idv), q2 = quantize8(v[2], idv), q3 = quantize8(v[3], idv);
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
        /* packs work within 128-bit lanes: the permutation puts the 32 bytes back in order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(dst_q + b * QK8_0), p);
        dst_corr[b] = -offset * hsum256_epi32(sum);
    }
}

/* ---- Vector helpers ----------------------------------------------------------------------------------- */

float kern_dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n) {
        __m256i m = tail_mask8(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* 8 halves from memory, or the first n < 8 of them. */
static inline __m256 load_f16x8(const uint16_t *p, int64_t n) {
    if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    uint16_t tmp[8] = {0};
    memcpy(tmp, p, (size_t)n * sizeof(uint16_t));
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
}

float kern_dot_f16_avx2(const uint16_t *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(load_f16x8(a + i, 8), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(load_f16x8(a + i + 8, 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i < n; i += 8) {
        int64_t k = n - i;
        __m256 bv = k >= 8 ? _mm256_loadu_ps(b + i) : _mm256_maskload_ps(b + i, tail_mask8(k));
        s0 = _mm256_fmadd_ps(load_f16x8(a + i, k), bv, s0);
    }
    return hsum256(_mm256_add_ps(s0, s1));
}

/* y + a*x rounded twice like the reference (no fused multiply-add), so every level gives the same bits. */
void kern_axpy_f32_avx2(float a, const float *x, float *y, int64_t n) {
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(av, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

void kern_axpy_f16_avx2(float a, const uint16_t *x, float *y, int64_t n) {
    __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(av, load_f16x8(x + i, 8))));
    for (; i < n; i++) y[i] += a * _cvtsh_ss(x[i]);
}

/* ---- Float-activation weights (F32, F16, BF16) -------------------------------------------------------------
 * Rows are decoded FLOAT_KC elements at a time into a small buffer and multiplied with 2-token tiles, so a
 * decoded chunk is reused by every token (for n_tok == 1 each row is streamed once). */
#define FLOAT_KC 1024

/* Decodes elements kc..kc+n-1 of a row; returns where the floats are (F32 rows are used in place). */
static const float *decode_chunk(int32_t type, const uint8_t *row, int64_t kc, int64_t n, float *buf) {
    switch (type) {
    case MLA4J_TYPE_F32: return (const float *)row + kc;
    case MLA4J_TYPE_F16: {
        const uint16_t *h = (const uint16_t *)row + kc;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(buf + i, load_f16x8(h + i, 8));
        for (; i < n; i++) buf[i] = _cvtsh_ss(h[i]);
        return buf;
    }
    default: { /* BF16, the only other float-activation type */
        const uint16_t *h = (const uint16_t *)row + kc;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256i v = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i))), 16);
            _mm256_storeu_ps(buf + i, _mm256_castsi256_ps(v));
        }
        for (; i < n; i++) buf[i] = kern_bf16_to_fp32(h[i]);
        return buf;
    }
    }
}

/* out[i][j] = w[i][0..n) . x[j][0..n) for NR rows and NT tokens (x rows xstride floats apart). */
static inline __attribute__((always_inline)) void float_tile(const int NR, const int NT, const float *const *wr,
                                                             const float *x, int64_t xstride, int64_t n,
                                                             float out[4][2]) {
    __m256 acc[4][2];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 wv[4];
        for (int i = 0; i < NR; i++) wv[i] = _mm256_loadu_ps(wr[i] + k);
        for (int j = 0; j < NT; j++) {
            __m256 xv = _mm256_loadu_ps(x + j * xstride + k);
            for (int i = 0; i < NR; i++) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    if (k < n) {
        __m256i m = tail_mask8(n - k);
        for (int j = 0; j < NT; j++) {
            __m256 xv = _mm256_maskload_ps(x + j * xstride + k, m);
            for (int i = 0; i < NR; i++) acc[i][j] = _mm256_fmadd_ps(_mm256_maskload_ps(wr[i] + k, m), xv, acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) out[i][j] = hsum256(acc[i][j]);
}

static void matmul_float(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                         int64_t r1) {
    _Alignas(32) float buf[4][FLOAT_KC];
    const int64_t xstride = kern_act_stride(w->type, w->cols) / (int64_t)sizeof(float);
    const float *x = act;
    /* A single token streams one row at a time (one linear stream per thread for the prefetchers); several
     * tokens take 4 rows at a time so that every decoded weight is used 4 times per loaded token. */
    const int64_t rows_per_step = n_tok == 1 ? 1 : 4;
    for (int64_t r = r0; r < r1; r += rows_per_step) {
        const int nr = r1 - r < rows_per_step ? (int)(r1 - r) : (int)rows_per_step;
        for (int64_t kc = 0; kc < w->cols; kc += FLOAT_KC) {
            const int64_t n = w->cols - kc < FLOAT_KC ? w->cols - kc : FLOAT_KC;
            const float *wr[4];
            for (int i = 0; i < nr; i++)
                wr[i] = decode_chunk(w->type, (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes, kc, n, buf[i]);
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

/* ---- Q4_0 / Q8_0 weights with Q8_0 activations ---------------------------------------------------------- */

/* The int32 lane sums of one block of weights (32 quants at q) with the activation quants av. */
static inline __m256i block_dot_i32(const int32_t type, const uint8_t *q, __m256i av) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    if (type == MLA4J_TYPE_Q8_0) {
        __m256i wv = _mm256_loadu_si256((const __m256i *)q);
        return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv)), ones16);
    }
    __m128i h = _mm_loadu_si128((const __m128i *)q);
    __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(h, 4), h), _mm256_set1_epi8(0x0f));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(nib, av), ones16);
}

/* Matrix-vector product (token generation), one row at a time: a single linear stream per thread, which the
 * hardware prefetchers follow best. The per-block work is kept small so that the cores keep up with memory
 * (without VNNI a block costs several more operations than on AVX-512, see matvec_row_vnni in kernels_avx512.c):
 *   - Q4_0: the 16 quant bytes are loaded into both 128-bit halves and shifted by 0 / 4 bits per half, so one
 *     vpmaddubsw gives the block's 16 int16 pair sums; 8 blocks are reduced with three levels of vphaddw (a
 *     lane then holds the sum of 16 products, at most 16 x 15 x 127 = 30480: no int16 overflow), the two halves
 *     are widened to int32 and added, so 8 block sums are converted and scaled by one FMA;
 *   - Q8_0 (products up to 2 x 127 x 127 per pair): vpmaddwd per block, then two levels of vphaddd;
 *   - the activation corrections of 8 blocks are one vector, the 8 fp16 weight scales are assembled in general
 *     registers (which the vector ports do not share on Zen) and converted together;
 *   - Q4_0 rows are prefetched by software MATVEC_PREFETCH bytes ahead: the hardware prefetchers stop at 4 KiB page
 *     boundaries (the weights of a memory-mapped file), as in the AVX-512 and K-quant row kernels. */
#define MATVEC_PREFETCH 3072

/* The 8 fp16 scales of the blocks starting at blk0 (ts bytes apart) as floats. */
static inline __m256 block_scales8(const int64_t ts, const uint8_t *blk0) {
    uint64_t lo = 0, hi = 0;
    for (int k = 0; k < 4; k++) {
        uint16_t d0, d1;
        memcpy(&d0, blk0 + k * ts, 2);
        memcpy(&d1, blk0 + (k + 4) * ts, 2);
        lo |= (uint64_t)d0 << (16 * k);
        hi |= (uint64_t)d1 << (16 * k);
    }
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

static inline __attribute__((always_inline)) float matvec_row(const int32_t type, const uint8_t *row,
                                                              const kern_q8_act *a, int64_t nb) {
    const int64_t ts = type == MLA4J_TYPE_Q8_0 ? (int64_t)sizeof(block_q8_0) : (int64_t)sizeof(block_q4_0);
    const __m256i m4 = _mm256_set1_epi8(0x0f), shift = _mm256_setr_epi64x(0, 0, 4, 4), ones16 = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *blk0 = row + b * ts;
        __m256i tot;
        if (type == MLA4J_TYPE_Q4_0) {
            const char *pf = (const char *)((uintptr_t)blk0 + MATVEC_PREFETCH); /* may lie past the matrix */
            _mm_prefetch(pf, _MM_HINT_T0);
            _mm_prefetch(pf + 64, _MM_HINT_T0);
            _mm_prefetch(pf + 128, _MM_HINT_T0);
            __m256i p[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk0 + k * ts + 2)));
                const __m256i nib = _mm256_and_si256(_mm256_srlv_epi64(q, shift), m4);
                p[k] = _mm256_maddubs_epi16(nib, _mm256_loadu_si256((const __m256i *)(a->qs + (b + k) * QK8_0)));
            }
            /* per 128-bit half, lane k ends up with block k's sum over that half */
            const __m256i h = _mm256_hadd_epi16(
                _mm256_hadd_epi16(_mm256_hadd_epi16(p[0], p[1]), _mm256_hadd_epi16(p[2], p[3])),
                _mm256_hadd_epi16(_mm256_hadd_epi16(p[4], p[5]), _mm256_hadd_epi16(p[6], p[7])));
            tot = _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(h)),
                                   _mm256_cvtepi16_epi32(_mm256_extracti128_si256(h, 1)));
            tot = _mm256_add_epi32(tot, _mm256_loadu_si256((const __m256i *)(a->corr + b)));
        } else {
            __m256i s[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m256i wv = _mm256_loadu_si256((const __m256i *)(blk0 + k * ts + 2));
                const __m256i av = _mm256_loadu_si256((const __m256i *)(a->qs + (b + k) * QK8_0));
                s[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv)), ones16);
            }
            /* vphaddd keeps 128-bit halves apart: lanes 0-3 hold the first-half sums of blocks 0-3 and lanes 4-7
             * their second-half sums (likewise for blocks 4-7) */
            const __m256i s03 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
            const __m256i s47 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
            tot = _mm256_add_epi32(_mm256_permute2x128_si256(s03, s47, 0x20), _mm256_permute2x128_si256(s03, s47, 0x31));
        }
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_mul_ps(block_scales8(ts, blk0), _mm256_loadu_ps(a->d + b)), acc);
    }
    __m256 acc_tail = _mm256_setzero_ps();
    for (; b < nb; b++) {
        const uint8_t *blk = row + b * ts;
        __m256i ia = block_dot_i32(type, blk + 2, _mm256_loadu_si256((const __m256i *)(a->qs + b * QK8_0)));
        if (type == MLA4J_TYPE_Q4_0) ia = _mm256_add_epi32(ia, _mm256_set1_epi32(a->corr[b] / 8));
        uint16_t dh;
        memcpy(&dh, blk, 2);
        acc_tail = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia), _mm256_set1_ps(_cvtsh_ss(dh) * a->d[b]), acc_tail);
    }
    return hsum256(_mm256_add_ps(acc, acc_tail));
}

void kern_matvec_q8_avx2(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1) {
    const kern_q8_act a = kern_q8_act_of(act, w->cols, 0);
    const int64_t nb = w->cols / QK8_0;
    const uint8_t *data = w->data;
    if (w->type == MLA4J_TYPE_Q8_0)
        for (int64_t r = r0; r < r1; r++) y[r] = matvec_row(MLA4J_TYPE_Q8_0, data + r * w->row_bytes, &a, nb);
    else
        for (int64_t r = r0; r < r1; r++) y[r] = matvec_row(MLA4J_TYPE_Q4_0, data + r * w->row_bytes, &a, nb);
}

/* kern_repack_q8_panel for 8 whole Q8_0 rows kept signed (the AVX2 gemm's panels), with the same bytes: the 8 groups
 * of 4 quants of each row are one 256-bit load, and the panel's group vectors are an 8 x 8 transpose of 32-bit
 * elements. The scalar repacking cost as much as a sixth of the latent attention's scores, which repack a tile of
 * cache rows per token. */
void kern_repack_q8_panel8_avx2(const kern_matrix *w, int64_t r, int64_t b0, int64_t nblk, uint8_t *panel) {
    for (int64_t bi = 0; bi < nblk; bi++) {
        uint8_t *pb = panel + bi * kern_panel_block_bytes(8);
        __m256i x[8];
        uint16_t d[8];
        for (int i = 0; i < 8; i++) {
            const uint8_t *blk = (const uint8_t *)w->data + (size_t)(r + i) * w->row_bytes + (size_t)(b0 + bi) * sizeof(block_q8_0);
            memcpy(&d[i], blk, 2);
            x[i] = _mm256_loadu_si256((const __m256i *)(blk + 2));
        }
        _mm256_storeu_ps((float *)pb, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)));
        __m256i t[8], u[8];
        for (int i = 0; i < 4; i++) { /* rows 2i, 2i+1 interleaved: groups (0,1 | 4,5) and (2,3 | 6,7) */
            t[2 * i] = _mm256_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
            t[2 * i + 1] = _mm256_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
        }
        for (int h = 0; h < 2; h++) { /* rows 4h..4h+3: u[4h + k] holds group k | group k + 4 */
            u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
            u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
            u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
            u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
        }
        __m256i *q = (__m256i *)(pb + 32);
        for (int k = 0; k < 4; k++) {
            _mm256_storeu_si256(q + k, _mm256_permute2x128_si256(u[k], u[4 + k], 0x20));
            _mm256_storeu_si256(q + k + 4, _mm256_permute2x128_si256(u[k], u[4 + k], 0x31));
        }
    }
}

/* Matrix-matrix product (prompt processing): register tiles of 8 rows (a repacked panel, one int32 lane per
 * row) x GEMM_TT tokens; each weight vector is loaded once per tile and used for every token. */
#define GEMM_TT 4
#define GEMM_KC_BLOCKS 16 /* blocks per panel: 8 rows x 512 elements, 4.5 KiB */

static inline __attribute__((always_inline)) void gemm_tile(const int32_t type, const uint8_t *panel, int64_t nblk,
                                                            int64_t b0, const kern_q8_act *a, const int nt,
                                                            __m256 *facc) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    for (int j = 0; j < nt; j++) facc[j] = _mm256_setzero_ps();
    for (int64_t bi = 0; bi < nblk; bi++) {
        const uint8_t *pb = panel + bi * kern_panel_block_bytes(8);
        const int64_t b = b0 + bi;
        __m256i ia[GEMM_TT];
        for (int j = 0; j < nt; j++)
            ia[j] = type == MLA4J_TYPE_Q4_0 ? _mm256_set1_epi32(a[j].corr[b]) : _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i wv = _mm256_load_si256((const __m256i *)(pb + 32 + 32 * g));
            const __m256i wabs = _mm256_sign_epi8(wv, wv);
            for (int j = 0; j < nt; j++) {
                int32_t a4;
                memcpy(&a4, a[j].qs + b * QK8_0 + 4 * g, 4);
                __m256i av = _mm256_set1_epi32(a4);
                __m256i p = type == MLA4J_TYPE_Q8_0 ? _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(av, wv))
                                                    : _mm256_maddubs_epi16(wv, av);
                ia[j] = _mm256_add_epi32(ia[j], _mm256_madd_epi16(p, ones16));
            }
        }
        const __m256 dwv = _mm256_load_ps((const float *)pb);
        for (int j = 0; j < nt; j++)
            facc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia[j]), _mm256_mul_ps(dwv, _mm256_set1_ps(a[j].d[b])), facc[j]);
    }
}

#define GEMM_TILE_CASE(T)                                                                                             \
    case T:                                                                                                           \
        if (type == MLA4J_TYPE_Q8_0) gemm_tile(MLA4J_TYPE_Q8_0, panel, nblk, kb, a, T, facc);                         \
        else gemm_tile(MLA4J_TYPE_Q4_0, panel, nblk, kb, a, T, facc);                                                 \
        break;

static void gemm(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    _Alignas(32) uint8_t panel[GEMM_KC_BLOCKS * 8 * 36];
    const int32_t type = w->type;
    const int64_t nb = w->cols / QK8_0;
    for (int64_t rp = r0; rp < r1; rp += 8) {
        const int nr = r1 - rp < 8 ? (int)(r1 - rp) : 8;
        const __m256i m = tail_mask8(nr);
        for (int64_t kb = 0; kb < nb; kb += GEMM_KC_BLOCKS) {
            const int64_t nblk = nb - kb < GEMM_KC_BLOCKS ? nb - kb : GEMM_KC_BLOCKS;
            /* Q8_0 stays signed for the sign trick; Q4_0 nibbles are unsigned as stored */
            if (type == MLA4J_TYPE_Q8_0 && nr == 8) kern_repack_q8_panel8_avx2(w, rp, kb, nblk, panel);
            else kern_repack_q8_panel(w, rp, nr, 8, kb, nblk, 1, panel);
            for (int64_t t = 0; t < n_tok; t += GEMM_TT) {
                const int nt = n_tok - t < GEMM_TT ? (int)(n_tok - t) : GEMM_TT;
                kern_q8_act a[GEMM_TT];
                for (int j = 0; j < nt; j++) a[j] = kern_q8_act_of(act, w->cols, t + j);
                __m256 facc[GEMM_TT];
                switch (nt) {
                    GEMM_TILE_CASE(4)
                    GEMM_TILE_CASE(3)
                    GEMM_TILE_CASE(2)
                    default: GEMM_TILE_CASE(1)
                }
                for (int j = 0; j < nt; j++) {
                    float *yp = y + (t + j) * ldy + rp;
                    __m256 v = kb == 0 ? facc[j] : _mm256_add_ps(_mm256_maskload_ps(yp, m), facc[j]);
                    _mm256_maskstore_ps(yp, m, v);
                }
            }
        }
    }
}

#undef GEMM_TILE_CASE

void kern_matmul_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                      int64_t r1) {
    if (kern_type_is_quants(w->type)) kern_matmul_quants_avx2(w, act, n_tok, y, ldy, r0, r1);
    else if (!kern_act_is_q8(w->type)) matmul_float(w, act, n_tok, y, ldy, r0, r1);
    else if (n_tok == 1) kern_matvec_q8_avx2(w, act, y, r0, r1);
    else if (n_tok <= KERN_FEW_TOKENS) {
        const int64_t stride = kern_act_stride(MLA4J_TYPE_Q8_0, w->cols);
        for (int64_t b0 = r0; b0 < r1; b0 += KERN_FEW_ROWS) {
            const int64_t b1 = r1 - b0 < KERN_FEW_ROWS ? r1 : b0 + KERN_FEW_ROWS;
            for (int64_t t = 0; t < n_tok; t++)
                kern_matvec_q8_avx2(w, (const uint8_t *)act + t * stride, y + t * ldy, b0, b1);
        }
    } else gemm(w, act, n_tok, y, ldy, r0, r1);
}
