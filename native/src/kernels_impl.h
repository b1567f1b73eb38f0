/* kernels_impl.h - what the kernel files share among themselves: the block structs of the quantized
 * types, the layout of converted activations, and the per-level entry points that kernels_cpu.c
 * dispatches to (tests call them directly to compare every level with the reference). */
#ifndef MLA4J_KERNELS_IMPL_H
#define MLA4J_KERNELS_IMPL_H

#include "kernels.h"
#include "mla4j.h"

#include <stdint.h>
#include <string.h>

/* Block layouts, in file order (llama.cpp ggml-common.h). */
#define QK4_0 32
#define QK8_0 32
#define QK_K 256

typedef struct {
    uint16_t d; /* fp16 scale */
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;

typedef struct {
    uint16_t d;    /* fp16 super-block scale of the sub-block scales */
    uint16_t dmin; /* fp16 super-block scale of the sub-block mins */
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K;

typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

/* The further llama.cpp types of kernels_quants_*.c (issue 16). */
typedef struct {
    uint16_t d, m; /* fp16 scale and minimum: x = d*q + m */
    uint8_t qs[16];
} block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4]; /* bit j: the fifth bit of element j */
    uint8_t qs[16];
} block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;

typedef struct {
    uint16_t d;
    uint8_t qs[16]; /* nibbles index kern_iq4nl_values */
} block_iq4_nl;

typedef struct {
    uint8_t scales[QK_K / 16]; /* low nibble scale, high nibble min of each 16 elements */
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
} block_q2_K;

typedef struct {
    uint8_t hmask[QK_K / 8]; /* the high bit of each quant (set: +0, clear: -4) */
    uint8_t qs[QK_K / 4];    /* the low 2 bits */
    uint8_t scales[12];      /* 16 6-bit scales, biased by 32 */
    uint16_t d;
} block_q3_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12]; /* as Q4_K (kern_q4_k_scale_min) */
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

typedef struct {
    uint16_t d;
    uint16_t scales_h;           /* bits 4-5 of the 8 6-bit scales, 2 bits each */
    uint8_t scales_l[QK_K / 64]; /* bits 0-3, a nibble each */
    uint8_t qs[QK_K / 2];
} block_iq4_xs;

/* Activations of the K-quant dot products (llama.cpp block_q8_K): d = max/-127 in float (not fp16), the quants,
 * and the sums of each 16 consecutive quants (they multiply the sub-block minimums). */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;

_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

/* The 16 values of the IQ4_NL/IQ4_XS nibbles (llama.cpp kvalues_iq4nl). */
extern const int8_t kern_iq4nl_values[16];

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

/* get_scale_min_k4: the 6-bit scale and min of Q4_K sub-block j, packed in 12 bytes. */
static inline void kern_q4_k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* The 16 signed 6-bit scales of a Q3_K block (ggml's kmask shuffle of the 12 bytes), still biased by 32. */
static inline void kern_q3_k_scales(const uint8_t *s, int8_t out[16]) {
    uint32_t aux[4];
    memcpy(aux, s, 12);
    const uint32_t tmp = aux[2], kmask1 = 0x03030303u, kmask2 = 0x0f0f0f0fu;
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    memcpy(out, aux, 16);
}

/* ---- Converted activations ------------------------------------------------------------------------
 * Q4_0 and Q8_0 weights consume Q8_0-quantized activations (llama.cpp quantize_row_q8_0 reference). One
 * token's vector of `cols` elements (nb = cols/32 blocks) is stored as three 64-byte aligned arrays so that
 * SIMD code loads contiguous quants:
 *   float   d[nb]     the block scale, already rounded through fp16 as llama.cpp stores it
 *   int32_t corr[nb]  -offset * (sum of the block's quants), offset = 8 for Q4_0 and 128 for Q8_0 weights:
 *                     integer kernels that treat the weight quants as unsigned (w + offset) subtract it
 *   int8_t  qs[cols]  the quants
 * The K-quant types consume Q8_K activations (block_q8_K, kern_act_is_q8k); F32/F16/BF16 consume the floats
 * themselves (cols floats per token).
 * Tokens follow each other at kern_act_stride bytes. */
static inline int64_t kern_align64(int64_t n) { return (n + 63) & ~(int64_t)63; }

/* Types whose matrix products live in kernels_quants_*.c (the rest of this header's types live in kernels_*.c; Q4_K
 * and Q6_K keep their dequantization there but take Q8_K activations like the other super-block types). */
static inline int kern_type_is_quants(int32_t type) {
    switch (type) {
    case MLA4J_TYPE_Q4_K:
    case MLA4J_TYPE_Q6_K:
    case MLA4J_TYPE_Q4_1:
    case MLA4J_TYPE_Q5_0:
    case MLA4J_TYPE_Q5_1:
    case MLA4J_TYPE_IQ4_NL:
    case MLA4J_TYPE_Q2_K:
    case MLA4J_TYPE_Q3_K:
    case MLA4J_TYPE_Q5_K:
    case MLA4J_TYPE_IQ4_XS: return 1;
    default: return 0;
    }
}

/* Q8_0-quantized activations (the layout below): Q4_0, Q8_0 and the 32-element types of kernels_quants_*.c. */
static inline int kern_act_is_q8(int32_t type) {
    return type == MLA4J_TYPE_Q4_0 || type == MLA4J_TYPE_Q8_0 || type == MLA4J_TYPE_Q4_1 || type == MLA4J_TYPE_Q5_0 ||
           type == MLA4J_TYPE_Q5_1 || type == MLA4J_TYPE_IQ4_NL;
}

/* Q8_K activations (an array of block_q8_K per token): every 256-element (K-quant) type, as llama.cpp. */
static inline int kern_act_is_q8k(int32_t type) {
    return type == MLA4J_TYPE_Q4_K || type == MLA4J_TYPE_Q6_K || type == MLA4J_TYPE_Q2_K || type == MLA4J_TYPE_Q3_K || type == MLA4J_TYPE_Q5_K || type == MLA4J_TYPE_IQ4_XS;
}

static inline int64_t kern_act_stride(int32_t type, int64_t cols) {
    if (kern_act_is_q8k(type)) return kern_align64(cols / QK_K * (int64_t)sizeof(block_q8_K));
    if (!kern_act_is_q8(type)) return kern_align64(cols * (int64_t)sizeof(float));
    int64_t nb = cols / QK8_0;
    return 2 * kern_align64(nb * 4) + kern_align64(cols);
}

/* A batch of at most this many tokens (decode steps of several sequences) runs as matrix-vector products over
 * blocks of KERN_FEW_ROWS weight rows, each block read from memory once and from cache for the other tokens, instead
 * of the prompt GEMM, whose per-call repacking of every weight panel cost more than the products themselves at these
 * sizes (deepseek2 1B Q4_0, 2 threads: a step of 2 rows took 6x a step of 1). */
#define KERN_FEW_TOKENS 8
#define KERN_FEW_ROWS 32

typedef struct {
    const float *d;
    const int32_t *corr;
    const int8_t *qs;
} kern_q8_act;

static inline kern_q8_act kern_q8_act_of(const void *act, int64_t cols, int64_t t) {
    const uint8_t *base = (const uint8_t *)act + t * kern_act_stride(MLA4J_TYPE_Q8_0, cols);
    int64_t nb = cols / QK8_0;
    kern_q8_act a = {(const float *)base, (const int32_t *)(base + kern_align64(nb * 4)),
                     (const int8_t *)(base + 2 * kern_align64(nb * 4))};
    return a;
}

/* The unsigned offset the integer kernels add to the weight quants (see corr above): Q4_0 nibbles are q + 8, Q5_0
 * quants q + 16, Q8_0 and IQ4_NL values are read as v + 128. Q4_1 and Q5_1 have no offset but a minimum m that
 * multiplies the block sum: for them the offset is -1, so corr holds +sum. */
static inline int32_t kern_q8_act_offset(int32_t type) {
    switch (type) {
    case MLA4J_TYPE_Q4_0: return 8;
    case MLA4J_TYPE_Q5_0: return 16;
    case MLA4J_TYPE_Q4_1:
    case MLA4J_TYPE_Q5_1: return -1;
    default: return 128;
    }
}

/* Whether two weight types take the same converted activations (one conversion can feed both). */
static inline int kern_act_same(int32_t a, int32_t b) {
    if (a == b) return 1;
    if (kern_act_is_q8k(a) || kern_act_is_q8k(b)) return kern_act_is_q8k(a) && kern_act_is_q8k(b);
    if (kern_act_is_q8(a) || kern_act_is_q8(b))
        return kern_act_is_q8(a) && kern_act_is_q8(b) && kern_q8_act_offset(a) == kern_q8_act_offset(b);
    return 1;
}

/* ---- Weight panels of the integer matrix-matrix kernels -------------------------------------------------
 * For prompt processing the SIMD levels repack `pr` rows (one SIMD register of int32 lanes) of Q4_0/Q8_0
 * weights so that one vector load gives the same 4 consecutive quants of every row: per 32-element block
 *   float    dw[pr]       the rows' block scales
 *   uint32_t q[8][pr]     group g, lane i: quants 4g..4g+3 of row i, as bytes
 * Quants are stored unsigned (w + kern_q8_act_offset: Q4_0 nibbles as they are, Q8_0 with the sign bit
 * flipped) unless q8_signed is set, which keeps Q8_0 quants as signed bytes. Rows nr..pr-1 are zero. */
static inline int64_t kern_panel_block_bytes(int pr) { return (int64_t)pr * 4 * 9; }
void kern_repack_q8_panel(const kern_matrix *w, int64_t r, int nr, int pr, int64_t b0, int64_t nblk, int q8_signed,
                          uint8_t *panel);
/* The same for pr = nr = 8 rows of Q8_0 kept signed, with AVX2 (kernels_avx2.c; identical bytes). */
void kern_repack_q8_panel8_avx2(const kern_matrix *w, int64_t r, int64_t b0, int64_t nblk, uint8_t *panel);
/* The same for pr = nr = 16 rows of Q8_0 with AVX-512 (kernels_avx512.c; identical bytes, signed or not). */
void kern_repack_q8_panel16_avx512(const kern_matrix *w, int64_t r, int64_t b0, int64_t nblk, int q8_signed,
                                   uint8_t *panel);

/* ---- Per-level implementations (kernels.h documents the semantics) ---------------------------------- */

/* Writes one token's Q8_0 activation (the rounding is exact, so every level gives identical bytes). */
void kern_quantize_act_q8_ref(int32_t type, const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8_avx2(int32_t type, const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8_avx512(int32_t type, const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8_neon(int32_t type, const float *x, int64_t cols, void *act_token);

void kern_matmul_ref(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                     int64_t r1);
void kern_matmul_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                      int64_t r1);
/* One activation vector (n_tok == 1) times rows r0..r1 of Q4_0/Q8_0 weights with AVX2 integer code: the
 * memory-bound matrix-vector product, also used by the AVX-512 level on CPUs without VNNI. */
void kern_matvec_q8_avx2(const kern_matrix *w, const void *act, float *y, int64_t r0, int64_t r1);
/* level: MLA4J_SIMD_NEON, _NEON_DOTPROD (SDOT) or _NEON_I8MM (SMMLA for several tokens), at most the CPU's
 * best. Types without a NEON version fall back to kern_matmul_ref (kernels_neon.c, "Types"). */
/* The NEON products of the super-block types (kernels_kquants_neon.c); 0 when w's type is not one of them. */
int kern_matmul_kquants_neon(int level, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                             int64_t r0, int64_t r1);
void kern_matmul_neon(int level, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                      int64_t r0, int64_t r1);
/* vnni selects the AVX512-VNNI integer kernels (only when the CPU has them), else the AVX-512BW ones. */
void kern_matmul_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                        int64_t r0, int64_t r1);

float kern_dot_f32_ref(const float *a, const float *b, int64_t n);
float kern_dot_f32_avx2(const float *a, const float *b, int64_t n);
float kern_dot_f32_avx512(const float *a, const float *b, int64_t n);
float kern_dot_f32_neon(const float *a, const float *b, int64_t n);
float kern_dot_f16_ref(const uint16_t *a, const float *b, int64_t n);
float kern_dot_f16_avx2(const uint16_t *a, const float *b, int64_t n);
float kern_dot_f16_avx512(const uint16_t *a, const float *b, int64_t n);
float kern_dot_f16_neon(const uint16_t *a, const float *b, int64_t n);
void kern_axpy_f32_ref(float a, const float *x, float *y, int64_t n);
void kern_axpy_f32_avx2(float a, const float *x, float *y, int64_t n);
void kern_axpy_f32_avx512(float a, const float *x, float *y, int64_t n);
void kern_axpy_f32_neon(float a, const float *x, float *y, int64_t n);
void kern_axpy_f16_ref(float a, const uint16_t *x, float *y, int64_t n);
void kern_axpy_f16_avx2(float a, const uint16_t *x, float *y, int64_t n);
void kern_axpy_f16_avx512(float a, const uint16_t *x, float *y, int64_t n);
void kern_axpy_f16_neon(float a, const uint16_t *x, float *y, int64_t n);

/* ---- kernels_quants_*.c: Q4_1, Q5_0, Q5_1, IQ4_NL (Q8_0 activations) and Q2_K, Q3_K, Q5_K, IQ4_XS (Q8_K) ---- */

/* Dequantization of those types (llama.cpp's dequantize_row_*, bit for bit). */
void kern_dequantize_quants_ref(int32_t type, const void *src, float *dst, int64_t n);
/* One token's Q8_K activation (quantize_row_q8_K_ref; the SIMD versions write identical bytes, test_kernels). */
void kern_quantize_act_q8k_ref(const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8k_avx2(const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8k_avx512(const float *x, int64_t cols, void *act_token);
void kern_quantize_act_q8k_neon(const float *x, int64_t cols, void *act_token);
/* Reference dot product of one row with one token's activation (kern_q8_act, or block_q8_K array). */
float kern_vec_dot_quants_ref(int32_t type, const void *row, const void *act_token, int64_t cols);
void kern_matmul_quants_ref(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                            int64_t r1);
void kern_matmul_quants_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                             int64_t r1);
/* vnni as kern_matmul_avx512 (the 32-element types use vpdpbusd with it). */
void kern_matmul_quants_avx512(int vnni, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                               int64_t r0, int64_t r1);

/* From how many tokens on the K-quant panel GEMMs below beat the row kernels (their repacking costs about as much as
 * 4-5 tokens of row work; Q6_K's row kernel is cheaper, measured on AVX2 and AVX512-VNNI). */
static inline int kern_kgemm_min_tokens(int32_t type) { return type == MLA4J_TYPE_Q6_K ? 16 : 6; }

/* The AVX512-VNNI matrix-matrix product of the super-block types (kernels_kquants_gemm_avx512.c; any n_tok, meant for
 * several tokens: it repacks 16-row panels). */
void kern_gemm_kquants_avx512vnni(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy,
                                  int64_t r0, int64_t r1);

/* The AVX2 one (kernels_kquants_gemm_avx2.c): every super-block type but IQ4_XS. */
void kern_gemm_kquants_avx2(const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                            int64_t r1);

/* Reference dot products of one stored row with one converted activation vector. */
float kern_vec_dot_q4_0_ref(const void *row, const kern_q8_act *a, int64_t cols);
float kern_vec_dot_q8_0_ref(const void *row, const kern_q8_act *a, int64_t cols);

#endif
