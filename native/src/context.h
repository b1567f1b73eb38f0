/* context.h - the state of one session (mla4j_context), shared by the forward pass (context.c) and the
 * latent attention of MLA models (attention_mla.c). */
#ifndef MLA4J_CONTEXT_H
#define MLA4J_CONTEXT_H

#include "kv_pool.h"
#include "model.h"
#include "moe.h"
#include "threadpool.h"

#include <stdatomic.h>

/* Tokens whose attention is computed together in MLA models (bounds the score and accumulator buffers). */
#define MLA_TOKEN_CHUNK 4
/* Rows of the absorbed attention run together (any runs, e.g. the decode rows of many sequences): 4 pool runs each. */
#define MLA_ROW_GROUP 32
/* Cache rows dequantized together, scored and summed by every head (the flash-decoding tile). */
#define MLA_ROW_TILE 32
/* Batches of at least this many tokens run the MHA (decompressed) form of the attention (attention_mla_mha.c),
 * smaller ones the absorbed form: the crossover measured on the 1B deepseek2 shape (docs/BENCHMARKS.md). */
#define MLA_MHA_MIN_BATCH 64
/* Cache positions whose keys and values the MHA form decompresses together. */
#define MLA_MHA_KEY_BLOCK 128

/* llama/qwen2 batches of at least GQA_MIN_BATCH tokens run the blocked attention (attention_gqa.c): tasks of one
 * KV head and GQA_QUERY_BLOCK tokens, cache positions converted and scored GQA_KEY_BLOCK at a time. */
#define GQA_MIN_BATCH 16
#define GQA_QUERY_BLOCK 16
#define GQA_KEY_BLOCK 64

/* Positions per cache block (kv_pool.h) of a single session, and the default of a batch context: a multiple of
 * MLA_ROW_TILE and GQA_KEY_BLOCK (a batch context's block size must be one too). */
#define KV_BLOCK_TOKENS 64

/* Consecutive rows of a batch that belong to one sequence at consecutive positions: the unit of the attention
 * (prompt chunks keep the prompt paths: blocked GQA, the MHA form of MLA). */
typedef struct kv_run {
    int32_t seq, row0, n, pos0;
} kv_run;

/* A chunk of a group of the absorbed attention (attention_mla.c): nt consecutive rows of one sequence from
 * position pos, group rows g0 .. g0 + nt - 1, looking at cache positions 0 .. n_keys - 1. */
typedef struct mla_chunk {
    int64_t g0, nt;
    int32_t pos;
    int64_t n_keys;
    const struct kv_seq *seq;
} mla_chunk;

/* Buffers of the absorbed latent attention. The cache holds one row per token and layer: the latent (C values)
 * followed by n_rope_heads roped key vectors (R values each), of the session's cache type. */
typedef struct mla_state {
    int64_t width;     /* C + n_rope_heads * R */
    size_t row_bytes;  /* bytes of one cached row */
    float *lat;        /* 2 x n_batch x width: latent and rope keys of the batch, before caching, and scratch */
    float *q_a;        /* n_batch x q_lora_rank */
    float *qvec;       /* MLA_ROW_GROUP x H x width: absorbed queries with their rope part */
    float *scores;     /* n_threads x MLA_TOKEN_CHUNK x H x MLA_ROW_TILE: scores (then weights) of one tile */
    float *ml;         /* 2 x (MLA_ROW_GROUP x H x n_threads): online softmax running max, then sum, per part */
    float *o_lat;      /* MLA_ROW_GROUP x H x C */
    float *partial;    /* MLA_ROW_GROUP x H x n_threads x C: split-K accumulators; part p of a chunk at rows
                        * g0*H*parts + p*nt*H .. (attention_mla.c, part_base) */
    mla_chunk chunks[MLA_ROW_GROUP]; /* the group being collected */
    int64_t grp_rows[MLA_ROW_GROUP]; /* batch row of each group row */
    int32_t grp_chunk_of[MLA_ROW_GROUP];
    int64_t grp_n;
    int32_t grp_chunks;
    float *row_f32;    /* n_threads x MLA_ROW_TILE x width: dequantized cache rows */
    uint8_t *head_act; /* n_threads x head_act_stride: converted activations of the per-head products */
    void *q_act;       /* Q8_0 or Q4_0 cache only: qvec quantized for the int8 score product (MLA_ROW_GROUP x H rows) */
    uint16_t *pairs;   /* Q8_0/Q4_0 cache with AVX-512: n_threads x MLA_ROW_TILE/2 x C bf16 pairs of tile rows */
    uint16_t *p_bf16;  /* ... and n_threads x MLA_TOKEN_CHUNK x H x MLA_ROW_TILE weights in bf16 */
    const struct mla_kernels *kern; /* the float kernels of the context's SIMD level */
    size_t head_act_stride;
    /* MHA-form prefill (only when n_batch >= MLA_MHA_MIN_BATCH), per thread: */
    float *mha_b;      /* C x (N + Dv): [W_UK | W_UV^T] of one slice */
    float *mha_x;      /* MLA_MHA_KEY_BLOCK x width: cache rows as floats */
    float *mha_kv;     /* MLA_MHA_KEY_BLOCK x (N + Dv): decompressed keys (nope part) and values */
    float *mha_kt;     /* head_dim_k x MLA_MHA_KEY_BLOCK: one head's keys, transposed */
    float *mha_s;      /* n_batch x MLA_MHA_KEY_BLOCK: scores, then weights */
    float *mha_ml;     /* 2 x n_batch x (n_head / n_abs): online softmax max and sum per head of a slice */
    float *mha_row;    /* kv_lora_rank: a row of W_UV */
    int form;          /* MLA_FORM_*: by batch size, or forced (bench_mla measures the crossover so) */
} mla_state;

enum { MLA_FORM_AUTO = 0, MLA_FORM_ABSORBED = 1, MLA_FORM_MHA = 2 };

struct mla4j_context {
    const mla4j_model *model;
    mla4j_context_params params;
    int simd;
    mla4j_pool *pool;
    atomic_int cancel;

    /* KV cache: blocks of rows (kv_pool.h), per row n_head_kv * head_dim keys and values (F32 or F16), or the
     * latent row of MLA models. A single session is sequence 0, which holds every block in order. */
    kv_pool kv;
    kv_seq *seqs;
    int32_t n_seqs;
    size_t kv_elem_size;

    /* The rows of the batch being run (forward_rows): sequence and position of each, the runs they form, and
     * which rows the plain GQA loop takes. */
    int32_t *row_seq, *row_pos;
    uint8_t *row_plain;
    kv_run *runs;
    int32_t n_runs;

    /* Activations for up to n_batch tokens. */
    float *x, *xn, *q, *k, *v, *att, *gate, *up;
    float *logits;     /* n_vocab: the last token's */
    float *scores;     /* n_threads x n_ctx attention scores */
    float *att_acc;    /* n_threads x head_dim_v accumulators */
    void *act_scratch; /* converted activations of the widest matrix product */
    float *gqa_scratch; /* n_threads x gqa_scratch_floats: the blocked attention's (llama/qwen2, n_batch >= GQA_MIN_BATCH) */
    size_t act_scratch_size;

    mla_state mla;     /* MLA models only */
    moe_state moe;     /* deepseek2 MoE models only (moe.c) */
    mla4j_calib *calib; /* calibration statistics fed by every eval (calib.c), or NULL */
};


/* context.c: creates a single session's context (n_seqs 0) or a batch context's (batch.c): n_seqs sequences of up
 * to params->n_ctx positions sharing n_blocks blocks of block_tokens positions. */
mla4j_status context_create(const mla4j_model *m, const mla4j_context_params *params, int32_t n_seqs, int32_t n_blocks,
                            int32_t block_tokens, mla4j_context **out);
/* context.c: the forward pass. Row t (< n_batch) is token tokens[t] of sequence c->row_seq[t] at position
 * c->row_pos[t] (its cache blocks reserved, earlier positions of the sequence cached or in earlier rows); the logits
 * of rows out_rows[0..n_out) (NULL: 0..n_out-1) go to logits_out, n_out x n_vocab. */
mla4j_status forward_rows(mla4j_context *c, const int32_t *tokens, int64_t n_tok, const int32_t *out_rows, int64_t n_out,
                          float *logits_out);

/* attention_gqa.c: the blocked prompt attention of layer il over one run (keys and values already cached); its
 * scratch per thread. */
void gqa_attention_blocked(mla4j_context *c, int il, const kv_run *run);
size_t gqa_scratch_floats(const mla4j_hparams *hp);

/* attention_mla.c */
/* context.c: y = x / sqrt(mean(x^2) + eps) * w (y may be x). */
void rms_norm(const float *x, const float *w, float *y, int64_t n, float eps);
/* Allocates the MLA buffers of a context whose params and KV cache are set. */
mla4j_status mla_context_init(mla4j_context *c);
void mla_context_free(mla4j_context *c);
/* Attention of layer il for the n_tok rows of the batch (c->row_seq, c->row_pos, c->runs): reads c->xn, caches the
 * new rows, writes c->att. */
void mla_attention(mla4j_context *c, int il, int64_t n_tok);
/* attention_mla_mha.c: the same for one run of at least MLA_MHA_MIN_BATCH rows, in MHA form; the cache rows of the
 * batch are already stored and the queries roped. */
void mla_attention_mha(mla4j_context *c, int il, const kv_run *run);
/* The latent attention's float kernels at one SIMD level; attention_mla_ref.c has the references and
 * mla_kernels_for, attention_mla_avx2.c and attention_mla_avx512.c (x86-64) and attention_mla_neon.c (ARM64, one
 * table for the three NEON levels: SDOT and SMMLA are integer instructions) the vector versions (same results up to the
 * order of float summation; the row decoding is exact at every level). */
typedef struct mla_kernels {
    /* n cache rows of W values of a cache type (row_bytes apart) into floats, as kern_dequantize_row. */
    void (*dequant_rows)(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out);
    /* out[i*out_stride + s] = q[i*W..] . tile[s*W..] over W values, i < n_q, s < n_s. */
    void (*scores)(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out, int64_t out_stride);
    /* acc[i][0..C) += sum_s p[i*p_stride + s] * rows[s*ld + 0..C), i < n_q, s < n_s. */
    void (*weighted_sum)(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride, int64_t n_q,
                         float *acc, int64_t C);
    /* The same straight from n Q8_0 cache rows (row_bytes apart; C a multiple of 32): the rows are decoded in
     * registers, q * d exactly as dequant_rows does, never stored. NULL where a level has none (decode, then sum). */
    void (*weighted_sum_q8)(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                            int64_t n_q, float *acc, int64_t C);
    /* row[s] *= scale, returning the maximum; row[s] = e^(row[s] - max), returning the sum. */
    float (*scale_max)(float *row, int64_t n, float scale);
    float (*exp_sum)(float *row, int64_t n, float max);
    /* Cm[i*ldc + j] (+)= sum_k A[i*lda + k] * B[k*ldb + j], i < M, j < N, k < K (the MHA-form prefill). */
    void (*gemm_nn)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *Cm,
                    int64_t ldc, int accumulate);
} mla_kernels;
/* The kernels of a SIMD level (MLA4J_SIMD_*, resolved to what the CPU has). */
const mla_kernels *mla_kernels_for(int simd);
#define MLA_KERNEL_DECLS(sfx)                                                                                        \
    void mla_dequant_rows_##sfx(int32_t type, const uint8_t *src, size_t row_bytes, int64_t n, int64_t W, float *out); \
    void mla_scores_##sfx(const float *tile, int64_t n_s, const float *q, int64_t n_q, int64_t W, float *out,          \
                          int64_t out_stride);                                                                        \
    void mla_weighted_sum_##sfx(const float *rows, int64_t n_s, int64_t ld, const float *p, int64_t p_stride,          \
                                int64_t n_q, float *acc, int64_t C);                                                  \
    float mla_scale_max_##sfx(float *row, int64_t n, float scale);                                                    \
    float mla_exp_sum_##sfx(float *row, int64_t n, float max);                                                        \
    void mla_gemm_nn_##sfx(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,  \
                           float *Cm, int64_t ldc, int accumulate);
MLA_KERNEL_DECLS(ref)
MLA_KERNEL_DECLS(avx2)
MLA_KERNEL_DECLS(avx512)
MLA_KERNEL_DECLS(neon)
#undef MLA_KERNEL_DECLS
void mla_weighted_sum_q8_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                             int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_u8_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_u7_ref(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_avx2(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_vnni(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_neon(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                              int64_t n_q, float *acc, int64_t C);
void mla_weighted_sum_q8_avx512(const uint8_t *rows, size_t row_bytes, int64_t n_s, const float *p, int64_t p_stride,
                                int64_t n_q, float *acc, int64_t C);
/* attention_mla_avx512.c, bf16 weighted sum of quantized caches: rows (n x C floats, ld apart) into bf16 row
 * pairs out[(j*C + c)*2 + e] = rows[2j+e][c]; a weight row into bf16 (odd n padded with a zero); and
 * acc[i][0..C) += sum_j pp[i*pp_stride + j] . pairs[j] in f32. */
void mla_pack_pairs_bf16_avx512(const float *rows, int64_t n, int64_t ld, int64_t C, uint16_t *out);
void mla_row_to_bf16_avx512(const float *x, int64_t n, uint16_t *out);
void mla_weighted_sum_bf16_avx512(const uint16_t *pairs, int64_t n_pairs, const uint32_t *pp, int64_t pp_stride,
                                  int64_t n_q, float *acc, int64_t C);
/* attention_mla_ref.c: the reference of that sum (the same bf16 roundings, products exact, f32 sums in vdpbf16ps's
 * order: odd element, then even). */
void mla_weighted_sum_bf16_ref(const uint16_t *pairs, int64_t n_pairs, const uint32_t *pp, int64_t pp_stride,
                               int64_t n_q, float *acc, int64_t C);
/* Conversions of one float row into a cache row of type F32, F16, Q8_0 or Q4_0 (llama.cpp's rounding). */
void mla_store_row(int32_t type, const float *x, int64_t n, void *dst);

#endif
