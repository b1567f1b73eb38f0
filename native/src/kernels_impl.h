/* kernels_impl.h - what the kernel files share among themselves: the block structs of the quantized
 * types, the layout of converted activations, and the per-level entry points that kernels_cpu.c
 * dispatches to (tests call them directly to compare every level with the reference). */
#ifndef MLA4J_KERNELS_IMPL_H
#define MLA4J_KERNELS_IMPL_H

#include "kernels.h"
#include "mla4j.h"

#include <stdint.h>

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

/* ---- Converted activations ------------------------------------------------------------------------
 * Q4_0 and Q8_0 weights consume Q8_0-quantized activations (llama.cpp quantize_row_q8_0 reference). One
 * token's vector of `cols` elements (nb = cols/32 blocks) is stored as three 64-byte aligned arrays so that
 * SIMD code loads contiguous quants:
 *   float   d[nb]     the block scale, already rounded through fp16 as llama.cpp stores it
 *   int32_t corr[nb]  -offset * (sum of the block's quants), offset = 8 for Q4_0 and 128 for Q8_0 weights:
 *                     integer kernels that treat the weight quants as unsigned (w + offset) subtract it
 *   int8_t  qs[cols]  the quants
 * Every other weight type consumes the floats themselves (cols floats per token).
 * Tokens follow each other at kern_act_stride bytes. */
static inline int64_t kern_align64(int64_t n) { return (n + 63) & ~(int64_t)63; }

static inline int kern_act_is_q8(int32_t type) { return type == MLA4J_TYPE_Q4_0 || type == MLA4J_TYPE_Q8_0; }

static inline int64_t kern_act_stride(int32_t type, int64_t cols) {
    if (!kern_act_is_q8(type)) return kern_align64(cols * (int64_t)sizeof(float));
    int64_t nb = cols / QK8_0;
    return 2 * kern_align64(nb * 4) + kern_align64(cols);
}

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

/* The unsigned offset the integer kernels add to the weight quants (see corr above). */
static inline int32_t kern_q8_act_offset(int32_t type) { return type == MLA4J_TYPE_Q4_0 ? 8 : 128; }

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

/* Reference dot products of one stored row with one converted activation vector. */
float kern_vec_dot_q4_0_ref(const void *row, const kern_q8_act *a, int64_t cols);
float kern_vec_dot_q8_0_ref(const void *row, const kern_q8_act *a, int64_t cols);

#endif
