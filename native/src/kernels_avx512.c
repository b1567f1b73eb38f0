/* kernels_avx512.c - the AVX-512 (F/BW/VL/DQ) kernels, with AVX512-VNNI integer kernels where the CPU has them.
 * Results equal the reference kernels' up to the order of float summation. */

/* CMakeLists.txt compiles this file with -mavx512vnni -mavx512bf16, but it must also run on AVX-512 CPUs without
 * them: only the functions between the push/pop further down may use VNNI (and none BF16), so the compiler cannot
 * slip such instructions into vectorized code elsewhere. The pragma comes before the includes so that the
 * intrinsics are defined for this reduced target too. */
#pragma GCC target("no-avx512vnni,no-avx512bf16")

#include "kernels_impl.h"

#include <immintrin.h>
#include <string.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __mmask16 tail_mask16(int64_t n) { return (__mmask16)((1u << n) - 1); }

/* ---- Q8_0 activations --------------------------------------------------------------------------------- */

/* roundf: round half away from zero (x - trunc(x) is exact). */
static inline __m512 round_half_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* The quants of 16 values times id, as kern_quantize_act_q8_ref computes them (NaN gives 0, clamped to 127). */
static inline __m512i quantize16(__m512 x, __m512 id) {
    __m512 r = round_half_away(_mm512_mul_ps(x, id));
    r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);
    r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    return _mm512_cvttps_epi32(r);
}

void kern_quantize_act_q8_avx512(int32_t type, const float *x, int64_t cols, void *act_token) {
    int64_t nb = cols / QK8_0;
    uint8_t *base = act_token;
    float *dst_d = (float *)base;
    int32_t *dst_corr = (int32_t *)(base + kern_align64(nb * 4));
    int8_t *dst_q = (int8_t *)(base + 2 * kern_align64(nb * 4));
    int32_t offset = kern_q8_act_offset(type);
    for (int64_t b = 0; b < nb; b++) {
        __m512 x0 = _mm512_loadu_ps(x + b * QK8_0), x1 = _mm512_loadu_ps(x + b * QK8_0 + 16);
        /* fmaxf in the reference ignores NaN: drop them before the maximum */
        __m512 a0 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x0, x0, _CMP_ORD_Q), _mm512_abs_ps(x0));
        __m512 a1 = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x1, x1, _CMP_ORD_Q), _mm512_abs_ps(x1));
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        dst_d[b] = kern_fp16_to_fp32(kern_fp32_to_fp16(d));
        __m512i q0 = quantize16(x0, _mm512_set1_ps(id)), q1 = quantize16(x1, _mm512_set1_ps(id));
        _mm_storeu_si128((__m128i *)(dst_q + b * QK8_0), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(dst_q + b * QK8_0 + 16), _mm512_cvtepi32_epi8(q1));
        dst_corr[b] = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

/* ---- Vector helpers ----------------------------------------------------------------------------------- */

float kern_dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask16(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float kern_dot_f16_avx512(const uint16_t *a, const float *b, int64_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i))), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16))),
                             _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail_mask16(n - i);
        s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i)), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* y + a*x rounded twice like the reference (no fused multiply-add), so every level gives the same bits. */
void kern_axpy_f32_avx512(float a, const float *x, float *y, int64_t n) {
    __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail_mask16(n - i);
        __m512 r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_mul_ps(av, _mm512_maskz_loadu_ps(m, x + i)));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

void kern_axpy_f16_avx512(float a, const uint16_t *x, float *y, int64_t n) {
    __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : tail_mask16(n - i);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_mul_ps(av, xv)));
    }
}

/* ---- Float-activation weights (F32, F16, BF16) -------------------------------------------------------------
 * Rows are decoded FLOAT_KC elements at a time into a small buffer and multiplied with 4-token tiles, so a
 * decoded chunk is reused by every token (for n_tok == 1 each row is streamed once). */
#define FLOAT_KC 1024

/* Decodes elements kc..kc+n-1 of a row; returns where the floats are (F32 rows are used in place). */
static const float *decode_chunk(int32_t type, const uint8_t *row, int64_t kc, int64_t n, float *buf) {
    switch (type) {
    case MLA4J_TYPE_F32: return (const float *)row + kc;
    case MLA4J_TYPE_F16: {
        const uint16_t *h = (const uint16_t *)row + kc;
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = n - i >= 16 ? 0xffff : tail_mask16(n - i);
            _mm512_mask_storeu_ps(buf + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + i)));
        }
        return buf;
    }
    default: { /* BF16, the only other float-activation type */
        const uint16_t *h = (const uint16_t *)row + kc;
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 m = n - i >= 16 ? 0xffff : tail_mask16(n - i);
            __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h + i)), 16);
            _mm512_mask_storeu_ps(buf + i, m, _mm512_castsi512_ps(v));
        }
        return buf;
    }
    }
}

/* out[i][j] = w[i][0..n) . x[j][0..n) for NR rows and NT tokens (x rows xstride floats apart). */
static inline __attribute__((always_inline)) void float_tile(const int NR, const int NT, const float *const *wr,
                                                             const float *x, int64_t xstride, int64_t n,
                                                             float out[4][4]) {
    __m512 acc[4][4];
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? 0xffff : tail_mask16(n - k);
        __m512 wv[4];
        for (int i = 0; i < NR; i++) wv[i] = _mm512_maskz_loadu_ps(m, wr[i] + k);
        for (int j = 0; j < NT; j++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + j * xstride + k);
            for (int i = 0; i < NR; i++) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

static void float_tile_any(int nr, int nt, const float *const *wr, const float *x, int64_t xstride, int64_t n,
                           float out[4][4]) {
    if (nr == 4) {
        switch (nt) {
        case 4: float_tile(4, 4, wr, x, xstride, n, out); return;
        case 3: float_tile(4, 3, wr, x, xstride, n, out); return;
        case 2: float_tile(4, 2, wr, x, xstride, n, out); return;
        default: float_tile(4, 1, wr, x, xstride, n, out); return;
        }
    }
    for (int i = 0; i < nr; i++) {
        float one[4][4];
        switch (nt) {
        case 4: float_tile(1, 4, wr + i, x, xstride, n, one); break;
        case 3: float_tile(1, 3, wr + i, x, xstride, n, one); break;
        case 2: float_tile(1, 2, wr + i, x, xstride, n, one); break;
        default: float_tile(1, 1, wr + i, x, xstride, n, one); break;
        }
        for (int j = 0; j < nt; j++) out[i][j] = one[0][j];
    }
}

static void matmul_float(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                         int64_t r1) {
    _Alignas(64) float buf[4][FLOAT_KC];
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
            for (int64_t t = 0; t < n_tok; t += 4) {
                const int nt = n_tok - t < 4 ? (int)(n_tok - t) : 4;
                float out[4][4];
                float_tile_any(nr, nt, wr, x + t * xstride + kc, xstride, n, out);
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

/* kern_repack_q8_panel for 16 whole Q8_0 rows (pr = nr = 16), with the same bytes: each 4-byte group of the 16 rows
 * is one gather (row_bytes apart), and the scales one more, converted from fp16 in one instruction. The absorbed
 * attention repacks every cache tile it scores (a cache row is the "weight" of that product), so this runs once
 * per cached token, layer and generated token: the scalar loop cost as much as the products themselves. */
void kern_repack_q8_panel16_avx512(const kern_matrix *w, int64_t r, int64_t b0, int64_t nblk, int q8_signed,
                                   uint8_t *panel) {
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32((int)w->row_bytes));
    const __m512i flip = _mm512_set1_epi32(q8_signed ? 0 : (int)0x80808080u);
    const uint8_t *base = (const uint8_t *)w->data + (size_t)r * w->row_bytes + (size_t)b0 * sizeof(block_q8_0);
    for (int64_t bi = 0; bi < nblk; bi++, base += sizeof(block_q8_0)) {
        uint8_t *pb = panel + bi * kern_panel_block_bytes(16);
        const __m512i dh = _mm512_i32gather_epi32(offs, base, 1); /* the fp16 scale and two quants, per row */
        _mm512_storeu_ps(pb, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dh)));
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i q = _mm512_i32gather_epi32(offs, base + 2 + 4 * g, 1);
            _mm512_storeu_si512(pb + 64 + 64 * g, _mm512_xor_si512(q, flip));
        }
    }
}


#define GEMM_TT 8         /* tokens per register tile */
#define GEMM_KC_BLOCKS 16   /* blocks per repacked panel: 16 rows x 512 elements, 9 KiB */
#define GEMM_GROUP_PANELS 4 /* panels repacked together: 64 rows */

#define GEMM_VNNI 0
#define GEMM_NAME(x) x##_bw
#include "kernels_avx512_gemm.inc"
#undef GEMM_VNNI
#undef GEMM_NAME

#pragma GCC push_options
#pragma GCC target("avx512vnni")

#define GEMM_VNNI 1
#define GEMM_NAME(x) x##_vnni
#include "kernels_avx512_gemm.inc"
#undef GEMM_VNNI
#undef GEMM_NAME

/* Matrix-vector product (token generation). Memory bandwidth is the limit only if the per-block work stays well
 * below the time the block takes to arrive (about 1 ns per Q4_0 block and thread at 17 GB/s), so each block costs
 * a few 256-bit operations (zmm halves are no faster on CPUs that split them, such as Zen 4):
 *   - one vpdpbusd per block gives 8 int32 lanes of partial sums; 8 blocks are reduced to one vector of 8 block
 *     sums with a vphaddd tree, then converted and multiplied by the 8 scales in one FMA;
 *   - Q4_0 nibbles are not shifted: the 16 quant bytes, loaded into both halves, are masked with 0x0f (elements
 *     0..15) and 0xf0 (elements 16..31, times 16), and the upper half's sums are divided by 16 after the
 *     reduction (exact: they are multiples of 16);
 *   - the 8 fp16 weight scales are picked out of two 64-byte loads by one word permutation (AVX512BW). */

/* Q4_0 rows are also prefetched by software this many bytes ahead: the hardware prefetchers stop at 4 KiB page
 * boundaries, and the weights of a memory-mapped file are 4 KiB pages. Measured on the llama 1B preset (Zen 4,
 * 2 threads, tokens alternating between settings): 0 -> 3072 bytes took the median token from 57.6 to 47.8 ms
 * (memory-mapped file) and from 48.8 to 41.2 ms (anonymous huge pages); 1-12 KiB all helped, 3 KiB most. Q8_0
 * rows showed no gain and are left to the hardware. */
#define MATVEC_PREFETCH 3072

/* The 8 fp16 scales of the blocks starting at blk0 (ts bytes apart), as floats times the activation scales. */
static inline __m256 block_scales8(const int32_t type, const uint8_t *blk0, const float *da) {
    __m128i h;
    if (type == MLA4J_TYPE_Q4_0) {
        /* 18-byte blocks: scale k is word 9k of the first 128 bytes */
        const __m512i idx = _mm512_zextsi128_si512(_mm_setr_epi16(0, 9, 18, 27, 36, 45, 54, 63));
        h = _mm512_castsi512_si128(
            _mm512_permutex2var_epi16(_mm512_loadu_si512(blk0), idx, _mm512_loadu_si512(blk0 + 64)));
    } else {
        /* 34-byte blocks: scales 0-3 are words 0, 17, 34, 51 of the first 128 bytes, 4-7 the same of the next */
        const __m512i idx = _mm512_zextsi128_si512(_mm_setr_epi16(0, 17, 34, 51, 4, 21, 38, 55));
        __m128i lo = _mm512_castsi512_si128(
            _mm512_permutex2var_epi16(_mm512_loadu_si512(blk0), idx, _mm512_loadu_si512(blk0 + 64)));
        __m128i hi = _mm512_castsi512_si128(
            _mm512_permutex2var_epi16(_mm512_loadu_si512(blk0 + 128), idx, _mm512_loadu_si512(blk0 + 192)));
        h = _mm_blend_epi16(lo, hi, 0xf0);
    }
    return _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_loadu_ps(da));
}

/* The unsigned weights of one block (Q8_0: w + 128, Q4_0: the nibbles in element order), for the row tail. */
static inline __m256i block_weights(const int32_t type, const uint8_t *blk) {
    if (type == MLA4J_TYPE_Q8_0)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
    return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/* One row: a single linear stream per thread, which the hardware prefetchers follow best (several rows side by
 * side measured slower on short rows). */
static inline __attribute__((always_inline)) float matvec_row_vnni(const int32_t type, const uint8_t *row,
                                                                   const kern_q8_act *a, int64_t nb) {
    const int64_t ts = type == MLA4J_TYPE_Q8_0 ? (int64_t)sizeof(block_q8_0) : (int64_t)sizeof(block_q4_0);
    const __m256i nibbles = _mm256_setr_epi64x(0x0f0f0f0f0f0f0f0fll, 0x0f0f0f0f0f0f0f0fll,
                                               (long long)0xf0f0f0f0f0f0f0f0ull, (long long)0xf0f0f0f0f0f0f0f0ull);
    const __m256i sign = _mm256_set1_epi8((char)0x80);
    __m256 acc = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *blk0 = row + b * ts;
        if (type == MLA4J_TYPE_Q4_0) {
            /* the 144 bytes of the 8 blocks MATVEC_PREFETCH ahead (prefetches do not fault past the end) */
            const char *pf = (const char *)((uintptr_t)blk0 + MATVEC_PREFETCH); /* may lie past the matrix */
            _mm_prefetch(pf, _MM_HINT_T0);
            _mm_prefetch(pf + 64, _MM_HINT_T0);
            _mm_prefetch(pf + 128, _MM_HINT_T0);
        }
        __m256i s[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const uint8_t *blk = blk0 + k * ts;
            __m256i wq;
            if (type == MLA4J_TYPE_Q8_0)
                wq = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), sign);
            else
                wq = _mm256_and_si256(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2))), nibbles);
            s[k] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wq,
                                       _mm256_loadu_si256((const __m256i *)(a->qs + (b + k) * QK8_0)));
        }
        /* vphaddd keeps 128-bit halves apart: after two levels, lanes 0-3 hold the first-half sums of blocks
         * 0-3 and lanes 4-7 their second-half sums (likewise for blocks 4-7) */
        const __m256i s03 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
        const __m256i s47 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]));
        const __m256i first = _mm256_permute2x128_si256(s03, s47, 0x20);
        __m256i second = _mm256_permute2x128_si256(s03, s47, 0x31);
        if (type == MLA4J_TYPE_Q4_0) second = _mm256_srai_epi32(second, 4);
        const __m256i tot = _mm256_add_epi32(_mm256_add_epi32(first, second),
                                             _mm256_loadu_si256((const __m256i *)(a->corr + b)));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), block_scales8(type, blk0, a->d + b), acc);
    }
    __m256 acc_tail = _mm256_setzero_ps();
    for (; b < nb; b++) {
        const uint8_t *blk = row + b * ts;
        const __m256i av = _mm256_loadu_si256((const __m256i *)(a->qs + b * QK8_0));
        __m256i ia = _mm256_dpbusd_epi32(_mm256_set1_epi32(a->corr[b] / 8), block_weights(type, blk), av);
        uint16_t dh;
        memcpy(&dh, blk, 2);
        acc_tail = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ia), _mm256_set1_ps(_cvtsh_ss(dh) * a->d[b]), acc_tail);
    }
    return hsum256(_mm256_add_ps(acc, acc_tail));
}

static void matvec_vnni(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1) {
    const kern_q8_act a = kern_q8_act_of(act, w->cols, 0);
    const int64_t nb = w->cols / QK8_0;
    const uint8_t *data = w->data;
    if (w->type == MLA4J_TYPE_Q8_0)
        for (int64_t r = r0; r < r1; r++) y[r] = matvec_row_vnni(MLA4J_TYPE_Q8_0, data + r * w->row_bytes, &a, nb);
    else
        for (int64_t r = r0; r < r1; r++) y[r] = matvec_row_vnni(MLA4J_TYPE_Q4_0, data + r * w->row_bytes, &a, nb);
}

#pragma GCC pop_options

void kern_matmul_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                        int64_t r0, int64_t r1) {
    if (kern_type_is_quants(w->type)) {
        kern_matmul_quants_avx512(vnni, w, act, n_tok, y, ldy, r0, r1);
    } else if (!kern_act_is_q8(w->type)) {
        matmul_float(w, act, n_tok, y, ldy, r0, r1);
    } else if (n_tok == 1) {
        if (vnni) matvec_vnni(w, act, y, r0, r1);
        else kern_matvec_q8_avx2(w, act, y, r0, r1);
    } else {
        if (vnni) gemm_vnni(w, act, n_tok, y, ldy, r0, r1);
        else gemm_bw(w, act, n_tok, y, ldy, r0, r1);
    }
}
