/*
 * mla4j.h - the one public header of the mla4j native library.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *  - Objects are opaque handles created by mla4j_X_create/open/load and released by mla4j_X_free.
 *    Every free function accepts NULL.
 *  - Every call that can fail returns an mla4j_status. On failure a human-readable message naming the
 *    file and the problem is stored in a thread-local buffer, read with mla4j_last_error().
 *    Output parameters are only written on success.
 *  - The library never calls exit() or abort() and never prints, whatever the input.
 *  - Pointers returned through output parameters (strings, tensor data, logits) are borrowed: they stay
 *    valid until the owning handle is freed (or, for logits, until the next call on the context).
 *  - Threading: a model and a gguf handle are immutable after creation and may be shared by threads.
 *    A context must be used by one thread at a time; mla4j_context_cancel is the exception.
 */
#ifndef MLA4J_H
#define MLA4J_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MLA4J_API __attribute__((visibility("default")))
#else
#define MLA4J_API
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Status codes and errors                                                                          */
/* ------------------------------------------------------------------------------------------------ */

typedef enum mla4j_status {
    MLA4J_OK = 0,
    MLA4J_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, index or token id out of range, bad parameter */
    MLA4J_ERR_IO = 2,               /* a file cannot be opened, read or mapped */
    MLA4J_ERR_FORMAT = 3,           /* a file is malformed (truncated, bad magic, bad offsets, ...) */
    MLA4J_ERR_UNSUPPORTED = 4,      /* well formed but not supported (version, type, architecture) */
    MLA4J_ERR_OUT_OF_MEMORY = 5,    /* an allocation failed or would exceed a sanity limit */
    MLA4J_ERR_STATE = 6,            /* the call is not valid now (context full, ...) */
    MLA4J_ERR_NOT_FOUND = 7,        /* a key or tensor that was asked for does not exist */
    MLA4J_ERR_CANCELLED = 8,        /* mla4j_context_cancel interrupted the call */
    MLA4J_ERR_INTERNAL = 9          /* a bug in mla4j: please report it */
} mla4j_status;

/* The message of the last failed call on this thread ("" when none). Never NULL. */
MLA4J_API const char *mla4j_last_error(void);
/* A constant name for a status code, e.g. "MLA4J_ERR_FORMAT". Never NULL. */
MLA4J_API const char *mla4j_status_name(int32_t status);
/* Library version, e.g. "0.1.0". */
MLA4J_API const char *mla4j_version(void);

/* ------------------------------------------------------------------------------------------------ */
/* CPU kernels                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

/* Which implementation of the compute kernels to use. AUTO picks the best the CPU supports. */
typedef enum mla4j_simd {
    MLA4J_SIMD_AUTO = 0,
    MLA4J_SIMD_SCALAR = 1, /* plain C reference kernels */
    MLA4J_SIMD_AVX2 = 2,   /* AVX2 + FMA + F16C */
    MLA4J_SIMD_AVX512 = 3, /* AVX-512 F/BW/VL (+VNNI when present) */
    MLA4J_SIMD_NEON = 4,         /* ARM64 Advanced SIMD (every ARMv8-A CPU) */
    MLA4J_SIMD_NEON_DOTPROD = 5, /* + SDOT (FEAT_DotProd: Cortex-A76 and later, Neoverse N1, Apple M1) */
    MLA4J_SIMD_NEON_I8MM = 6     /* + SMMLA (FEAT_I8MM: Neoverse V1/N2/V2, Graviton 3, Apple M2) */
} mla4j_simd;
/* A level of the other processor family (AVX2 on ARM64, NEON on x86-64) is treated as AUTO; a level above
 * what the CPU has is lowered to the best of its family that the CPU has. */

/* The best level this CPU supports (x86-64: CPUID; ARM64: HWCAP on Linux, sysctl on macOS). */
MLA4J_API int32_t mla4j_simd_best(void);
/* Space-separated CPU features mla4j uses, as detected, e.g. "avx2 fma f16c avx512f avx512vnni" or
 * "asimd dotprod i8mm". */
MLA4J_API const char *mla4j_cpu_features(void);

/* ------------------------------------------------------------------------------------------------ */
/* Tensor types (ggml ids, as stored in GGUF)                                                       */
/* ------------------------------------------------------------------------------------------------ */

typedef enum mla4j_type {
    MLA4J_TYPE_F32 = 0,
    MLA4J_TYPE_F16 = 1,
    MLA4J_TYPE_Q4_0 = 2,
    MLA4J_TYPE_Q4_1 = 3,
    MLA4J_TYPE_Q5_0 = 6,
    MLA4J_TYPE_Q5_1 = 7,
    MLA4J_TYPE_Q8_0 = 8,
    MLA4J_TYPE_Q2_K = 10,
    MLA4J_TYPE_Q3_K = 11,
    MLA4J_TYPE_Q4_K = 12,
    MLA4J_TYPE_Q5_K = 13,
    MLA4J_TYPE_Q6_K = 14,
    MLA4J_TYPE_IQ4_NL = 20,
    MLA4J_TYPE_IQ4_XS = 23,
    MLA4J_TYPE_BF16 = 30
} mla4j_type;

/* Name ("Q8_0"), elements per block and bytes per block of a supported type. */
MLA4J_API mla4j_status mla4j_type_info(int32_t type, const char **name, int64_t *block_size, int64_t *type_size);
/* Decodes n elements (a multiple of the block size) from src (src_size bytes) into dst. */
MLA4J_API mla4j_status mla4j_type_dequantize(int32_t type, const void *src, size_t src_size, float *dst, int64_t n);
/* The dot product of one stored row of n elements with float vector x, computed exactly as the forward
 * pass computes it (Q4_0/Q8_0 rows quantize x to Q8_0 blocks first, like llama.cpp), with kernel level simd. */
MLA4J_API mla4j_status mla4j_type_dot(int32_t type, const void *row, size_t row_size, const float *x, int64_t n,
                                      int32_t simd, float *out);

/* ------------------------------------------------------------------------------------------------ */
/* GGUF files                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

typedef struct mla4j_gguf mla4j_gguf;

/* GGUF metadata value types. */
typedef enum mla4j_gguf_type {
    MLA4J_GGUF_UINT8 = 0,
    MLA4J_GGUF_INT8 = 1,
    MLA4J_GGUF_UINT16 = 2,
    MLA4J_GGUF_INT16 = 3,
    MLA4J_GGUF_UINT32 = 4,
    MLA4J_GGUF_INT32 = 5,
    MLA4J_GGUF_FLOAT32 = 6,
    MLA4J_GGUF_BOOL = 7,
    MLA4J_GGUF_STRING = 8,
    MLA4J_GGUF_ARRAY = 9,
    MLA4J_GGUF_UINT64 = 10,
    MLA4J_GGUF_INT64 = 11,
    MLA4J_GGUF_FLOAT64 = 12
} mla4j_gguf_type;

/* Description of one tensor of a GGUF file. name is NUL-terminated; data points into the mapped file. */
typedef struct mla4j_tensor_info {
    const char *name;
    int32_t type;     /* mla4j_type */
    int32_t n_dims;   /* 1..4 */
    int64_t ne[4];    /* ne[0] innermost; unused dimensions are 1 */
    uint64_t offset;  /* offset inside the data section */
    uint64_t nbytes;  /* size of the data, without padding */
    const void *data; /* the tensor's bytes */
} mla4j_tensor_info;

/* Opens and validates a GGUF file (versions 2 and 3), memory-mapping it read-only. */
MLA4J_API mla4j_status mla4j_gguf_open(const char *path, mla4j_gguf **out);
/* Parses a GGUF image held in memory (copied; the caller keeps its buffer). name is used in messages. */
MLA4J_API mla4j_status mla4j_gguf_open_memory(const void *data, size_t size, const char *name, mla4j_gguf **out);
MLA4J_API void mla4j_gguf_free(mla4j_gguf *gguf);

MLA4J_API mla4j_status mla4j_gguf_get_version(const mla4j_gguf *gguf, uint32_t *out);
MLA4J_API mla4j_status mla4j_gguf_get_alignment(const mla4j_gguf *gguf, uint64_t *out);
/* Offset of the tensor data section from the start of the file. */
MLA4J_API mla4j_status mla4j_gguf_get_data_offset(const mla4j_gguf *gguf, uint64_t *out);
MLA4J_API mla4j_status mla4j_gguf_get_file_size(const mla4j_gguf *gguf, uint64_t *out);

/* Metadata key/value pairs, indexed 0..count-1 in file order. */
MLA4J_API mla4j_status mla4j_gguf_kv_count(const mla4j_gguf *gguf, int64_t *out);
/* Index of a key, or -1 (with MLA4J_OK) when the file does not have it. */
MLA4J_API mla4j_status mla4j_gguf_kv_find(const mla4j_gguf *gguf, const char *key, int64_t *index);
/* The key (NUL-terminated) of entry i. */
MLA4J_API mla4j_status mla4j_gguf_kv_key(const mla4j_gguf *gguf, int64_t i, const char **key);
/* Value type of entry i; for arrays also the element type and element count (else -1 and 1). */
MLA4J_API mla4j_status mla4j_gguf_kv_type(const mla4j_gguf *gguf, int64_t i, int32_t *type, int32_t *elem_type,
                                          uint64_t *count);
/* Scalar integer or bool of any width, sign-extended (UINT64 values are returned as their bit pattern). */
MLA4J_API mla4j_status mla4j_gguf_kv_get_int(const mla4j_gguf *gguf, int64_t i, int64_t *out);
/* Scalar FLOAT32 or FLOAT64. */
MLA4J_API mla4j_status mla4j_gguf_kv_get_float(const mla4j_gguf *gguf, int64_t i, double *out);
/* Scalar STRING: UTF-8 bytes (not NUL-terminated) and their length. */
MLA4J_API mla4j_status mla4j_gguf_kv_get_string(const mla4j_gguf *gguf, int64_t i, const char **data, uint64_t *len);
/* Array of a numeric or bool element type: the raw little-endian elements and their total size in bytes. */
MLA4J_API mla4j_status mla4j_gguf_kv_get_array_data(const mla4j_gguf *gguf, int64_t i, const void **data,
                                                    uint64_t *nbytes);
/* Element j of an array of strings. */
MLA4J_API mla4j_status mla4j_gguf_kv_get_array_string(const mla4j_gguf *gguf, int64_t i, uint64_t j, const char **data,
                                                      uint64_t *len);

/* Tensors, indexed 0..count-1 in file order. */
MLA4J_API mla4j_status mla4j_gguf_tensor_count(const mla4j_gguf *gguf, int64_t *out);
/* Index of a tensor, or -1 (with MLA4J_OK) when absent. */
MLA4J_API mla4j_status mla4j_gguf_tensor_find(const mla4j_gguf *gguf, const char *name, int64_t *index);
MLA4J_API mla4j_status mla4j_gguf_tensor_get_info(const mla4j_gguf *gguf, int64_t i, mla4j_tensor_info *out);

/* ------------------------------------------------------------------------------------------------ */
/* Models                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

typedef struct mla4j_model mla4j_model;

typedef enum mla4j_rope_type {
    MLA4J_ROPE_NORM = 0, /* adjacent pairs (x[2i], x[2i+1]): llama */
    MLA4J_ROPE_NEOX = 2  /* split halves (x[i], x[i+n/2]): qwen2 */
} mla4j_rope_type;

/* Hyperparameters of a loaded model, as the forward pass uses them. */
typedef struct mla4j_hparams {
    char arch[32];        /* general.architecture, e.g. "llama", "qwen2" */
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim_k;   /* per-head key/query size */
    int32_t head_dim_v;   /* per-head value size */
    int32_t n_ff;
    int32_t n_rot;        /* rotated dimensions per head */
    int32_t rope_type;    /* mla4j_rope_type */
    float rope_freq_base;
    float rope_freq_scale;
    float rms_eps;
    int32_t tied_output;  /* 1 when output.weight is absent and token_embd is used */
    int32_t has_qkv_bias; /* 1 for qwen2-style q/k/v biases */
    /* Multi-head latent attention (arch "deepseek2" or "mha2mla"; all 0 otherwise). The KV cache holds, per token
     * and layer, the latent (kv_lora_rank values) and n_rope_heads roped key vectors of rope_dim values. */
    int32_t is_mla;
    int32_t kv_lora_rank;  /* latent size C */
    int32_t q_lora_rank;   /* deepseek2 query compression rank; 0 = a plain attn_q */
    int32_t head_dim_nope; /* per-head key dims scored through the latent (head_dim_k = nope + rope_dim) */
    int32_t rope_dim;      /* rotated key dims per rope head */
    int32_t n_rope_heads;  /* roped key vectors cached per token: 1 (deepseek2) or n_head_kv (mha2mla) */
    int32_t latent_norm;   /* 1 when the latent passes an RMSNorm (attn_kv_a_norm) before it is cached */
    float kq_scale;        /* softmax scale of the attention scores */
} mla4j_hparams;

/* Loads a model from a GGUF file (architectures: llama, qwen2, deepseek2 (dense and Mixture-of-Experts, YaRN),
 * mha2mla; see docs/FORMAT.md), its weights held as MLA4J_MMAP_AUTO decides. */
MLA4J_API mla4j_status mla4j_model_load(const char *path, mla4j_model **out);

/* How a model's weights are held in memory (mla4j_model_load_ex). */
typedef enum mla4j_mmap_mode {
    MLA4J_MMAP_AUTO = 0, /* read files that fit easily (a quarter of the available memory) into anonymous huge
                          * pages (faster to stream), memory-map larger ones; mla4j_model_load uses this */
    MLA4J_MMAP_ON = 1,   /* memory-map the file (llama.cpp's --mmap): pages shared with the page cache, loaded on
                          * demand; a file larger than the free memory still runs */
    MLA4J_MMAP_OFF = 2   /* read the whole file into anonymous memory (llama.cpp's --no-mmap) */
} mla4j_mmap_mode;

/* mla4j_model_load with a choice of mla4j_mmap_mode and mlock (1: lock the weights in memory, as llama.cpp's
 * --mlock; when the system refuses, e.g. RLIMIT_MEMLOCK, the model still loads: see mla4j_model_get_memory). In
 * no mode is the file held twice: a copy drops the page cache of what it read. */
MLA4J_API mla4j_status mla4j_model_load_ex(const char *path, int32_t mmap_mode, int32_t mlock, mla4j_model **out);
/* How the model's weights are held: mapped = 1 when they are a mapping of the file, 0 for an anonymous copy;
 * locked = 1 when mlock succeeded; bytes = the size of the file image. Any output may be NULL. */
MLA4J_API mla4j_status mla4j_model_get_memory(const mla4j_model *model, int32_t *mapped, int32_t *locked,
                                              uint64_t *bytes);
MLA4J_API void mla4j_model_free(mla4j_model *model);
MLA4J_API mla4j_status mla4j_model_get_hparams(const mla4j_model *model, mla4j_hparams *out);
/* The model's GGUF file (metadata, tensors); borrowed, valid until the model is freed. */
MLA4J_API mla4j_status mla4j_model_get_gguf(const mla4j_model *model, const mla4j_gguf **out);
/* Bytes of KV cache one token occupies over all layers for a cache of type kv_type: F32 or F16, and for MLA
 * models also Q8_0 and Q4_0 (the latent cache; needs rows that are a multiple of 32 values). */
MLA4J_API mla4j_status mla4j_model_kv_bytes_per_token(const mla4j_model *model, int32_t kv_type, uint64_t *out);

/* ------------------------------------------------------------------------------------------------ */
/* Contexts: a KV cache plus the buffers and threads that evaluate tokens                          */
/* ------------------------------------------------------------------------------------------------ */

typedef struct mla4j_context mla4j_context;

typedef struct mla4j_context_params {
    int32_t n_ctx;     /* positions in the KV cache; 0 = the model's training context */
    int32_t n_threads; /* compute threads; 0 = online CPUs */
    int32_t n_batch;   /* tokens evaluated together during prompt processing; 0 = 512 */
    int32_t kv_type;   /* MLA4J_TYPE_F32 or MLA4J_TYPE_F16; MLA models also MLA4J_TYPE_Q8_0 and MLA4J_TYPE_Q4_0 */
    int32_t simd;      /* mla4j_simd; MLA4J_SIMD_AUTO = best available */
} mla4j_context_params;

/* Fills params with defaults (n_ctx 0, n_threads 0, n_batch 512, kv_type F16, simd AUTO). */
MLA4J_API void mla4j_context_params_init(mla4j_context_params *params);
/* Creates a context on a model. The model must outlive the context. params may be NULL (defaults). */
MLA4J_API mla4j_status mla4j_context_create(const mla4j_model *model, const mla4j_context_params *params,
                                            mla4j_context **out);
MLA4J_API void mla4j_context_free(mla4j_context *ctx);
/* Appends n_tokens tokens at the current position and runs the model over them (batched). Afterwards the
 * logits of the last token are available from mla4j_context_get_logits. If all_logits is not NULL it
 * receives n_tokens x n_vocab floats, the logits of every token in order. */
MLA4J_API mla4j_status mla4j_context_eval(mla4j_context *ctx, const int32_t *tokens, int32_t n_tokens,
                                          float *all_logits);
/* The n_vocab logits of the last evaluated token; valid until the next call on the context. */
MLA4J_API mla4j_status mla4j_context_get_logits(const mla4j_context *ctx, const float **logits);
/* Number of tokens in the KV cache (the position of the next token). */
MLA4J_API mla4j_status mla4j_context_get_position(const mla4j_context *ctx, int32_t *out);
/* Forgets every token at position >= pos (pos <= current position). 0 resets the context. */
MLA4J_API mla4j_status mla4j_context_set_position(mla4j_context *ctx, int32_t pos);
MLA4J_API mla4j_status mla4j_context_get_params(const mla4j_context *ctx, mla4j_context_params *out);
/* Bytes allocated for the KV cache. */
MLA4J_API mla4j_status mla4j_context_kv_bytes(const mla4j_context *ctx, uint64_t *out);
/* cancel = 1 asks a running mla4j_context_eval (on another thread) to stop soon with MLA4J_ERR_CANCELLED; the
 * tokens of an interrupted call are not added to the cache. A request made while no eval runs cancels the next
 * one; the eval it cancels consumes it. cancel = 0 withdraws a pending request. Safe to call from any thread. */
MLA4J_API mla4j_status mla4j_context_cancel(mla4j_context *ctx, int32_t cancel);

/* ------------------------------------------------------------------------------------------------ */
/* Batch contexts: many sequences decoded together over one paged, prefix-sharing cache             */
/* ------------------------------------------------------------------------------------------------ */

/* A batch context runs the rows of many sequences in one forward pass (each weight row is read once per call for all
 * of them) over a cache of fixed-size blocks from one pool: each sequence holds the blocks of its positions, full
 * blocks are shared by sequences whose tokens up to them are equal (prefix caching: reference counts, copy-on-write),
 * and blocks no sequence holds any more stay cached for a later prompt until the pool needs them (LRU). A single
 * mla4j_context runs the same forward pass as a batch of one sequence. Used by one thread at a time. */
typedef struct mla4j_batch mla4j_batch;

typedef struct mla4j_batch_params {
    int32_t n_threads;    /* compute threads; 0 = online CPUs */
    int32_t n_seq_max;    /* sequences at once; 0 = 16 */
    int32_t n_ctx;        /* positions per sequence at most; 0 = the model's training context */
    int32_t n_batch;      /* rows per forward pass (a decode call with more runs several); 0 = 512 */
    int32_t n_blocks;     /* cache blocks in the pool; 0 = enough for n_seq_max sequences of n_ctx positions */
    int32_t block_tokens; /* positions per block, a multiple of 64; 0 = 64 */
    int32_t kv_type;      /* as mla4j_context_params.kv_type */
    int32_t simd;         /* mla4j_simd */
} mla4j_batch_params;

typedef struct mla4j_batch_stats {
    int32_t blocks_total;   /* blocks in the pool */
    int32_t blocks_used;    /* held by at least one sequence */
    int32_t blocks_cached;  /* held by none, kept for prefix reuse (evicted when needed) */
    int32_t block_tokens;   /* positions per block */
    uint64_t block_bytes;   /* cache bytes of one block (all layers) */
    int32_t n_seq_active;   /* sequences added and not removed */
    int32_t reserved;
} mla4j_batch_stats;

/* Fills params with defaults (all 0 = automatic; kv_type F16, simd AUTO). */
MLA4J_API void mla4j_batch_params_init(mla4j_batch_params *params);
/* Creates a batch context on a model (which must outlive it). params may be NULL (defaults). */
MLA4J_API mla4j_status mla4j_batch_create(const mla4j_model *model, const mla4j_batch_params *params, mla4j_batch **out);
MLA4J_API void mla4j_batch_free(mla4j_batch *batch);
/* Adds a sequence and returns its id (in [0, n_seq_max)). prompt (n_prompt tokens, may be NULL with 0) is matched
 * against the cached blocks: *n_cached receives how many of its first tokens are cached already (always fewer than
 * n_prompt), so the sequence's next position is *n_cached and the caller decodes prompt[*n_cached..] from there.
 * MLA4J_ERR_STATE when n_seq_max sequences are active. */
MLA4J_API mla4j_status mla4j_batch_seq_add(mla4j_batch *batch, const int32_t *prompt, int32_t n_prompt, int32_t *seq_id,
                                           int32_t *n_cached);
/* Removes a sequence: its blocks go back to the pool (full ones stay cached for reuse). */
MLA4J_API mla4j_status mla4j_batch_seq_remove(mla4j_batch *batch, int32_t seq_id);
/* The position of the sequence's next token (tokens cached). */
MLA4J_API mla4j_status mla4j_batch_seq_position(const mla4j_batch *batch, int32_t seq_id, int32_t *out);
/* Forgets the sequence's tokens at positions >= pos (pos <= its position): blocks past pos go back to the pool. */
MLA4J_API mla4j_status mla4j_batch_seq_truncate(mla4j_batch *batch, int32_t seq_id, int32_t pos);
/* Runs n_rows rows: row i is token tokens[i] of sequence seq_ids[i] at position positions[i]. The rows of each
 * sequence must continue its positions in order (the first at its current position, then +1 each), interleaved
 * with other sequences' rows in any way; a run of consecutive rows of one sequence is processed as a prompt chunk.
 * want_logits[i] != 0 keeps row i's logits (want_logits NULL: the last row of each sequence in the call). Every
 * row is checked before anything runs; on an error (bad id, position gap, pool exhausted) no sequence advances. */
MLA4J_API mla4j_status mla4j_batch_decode(mla4j_batch *batch, int32_t n_rows, const int32_t *seq_ids,
                                          const int32_t *positions, const int32_t *tokens, const int8_t *want_logits);
/* The n_vocab logits of row `row` of the last decode call (a row whose logits were kept); valid until the next call. */
MLA4J_API mla4j_status mla4j_batch_get_logits(const mla4j_batch *batch, int32_t row, const float **logits);
/* Block accounting of the cache pool. */
MLA4J_API mla4j_status mla4j_batch_get_stats(const mla4j_batch *batch, mla4j_batch_stats *out);
/* cancel = 1 asks a running mla4j_batch_decode (on another thread) to stop soon with MLA4J_ERR_CANCELLED: the rows of
 * the forward pass it interrupts are not added (a call longer than n_batch rows keeps the passes that completed;
 * mla4j_batch_seq_position tells). A request made while no decode runs cancels the next one; cancel = 0 withdraws
 * it. Safe to call from any thread. */
MLA4J_API mla4j_status mla4j_batch_cancel(mla4j_batch *batch, int32_t cancel);

/* ------------------------------------------------------------------------------------------------ */
/* Dense linear algebra (for model conversion)                                                      */
/* ------------------------------------------------------------------------------------------------ */

/* LAPACK/BLAS is loaded at run time on first use (inference never needs it): the library at $MLA4J_LAPACK when
 * that is set (and then only it), else the one named by mla4j_linalg_set_library (the Java API names the OpenBLAS
 * it bundles), else libopenblas.so.0, else liblapack.so.3 (BLAS from libblas.so.3 if needed). When none loads,
 * every function here (and mla4j_calib_create) returns MLA4J_ERR_UNSUPPORTED with a message naming each library
 * tried and why it failed.
 *
 * Every matrix is a dense ROW-MAJOR array of doubles: element (i, j) of an r x c matrix is at [i * c + j].
 * Sizes are in [1, INT32_MAX] (LAPACK's integers); outputs are written only on success. */

/* MLA4J_OK when LAPACK/BLAS could be loaded; else MLA4J_ERR_UNSUPPORTED and the message above. */
MLA4J_API mla4j_status mla4j_linalg_available(void);
/* The file the LAPACK routines were loaded from, as the dynamic loader resolved it (e.g.
 * "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"); loads the library if needed. Valid for the life of the process. */
MLA4J_API mla4j_status mla4j_linalg_get_library(const char **out);
/* Names the LAPACK/BLAS library (a path for dlopen) to try first, before libopenblas.so.0 and liblapack.so.3;
 * NULL or "" forgets it. Ignored while MLA4J_LAPACK is set. Call it before the first function of this section or
 * mla4j_calib_create: once loading has begun, naming another library returns MLA4J_ERR_STATE (the same one again
 * returns MLA4J_OK). The path is copied. */
MLA4J_API mla4j_status mla4j_linalg_set_library(const char *path);
/* C (m x n) = alpha op(A) op(B) + beta C, op(X) = X (trans 0) or X^T (trans 1); op(A) is m x k, op(B) k x n.
 * With beta = 0, C is only written. */
MLA4J_API mla4j_status mla4j_linalg_gemm(int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                                         const double *a, const double *b, double beta, double *c);
/* The k largest eigenvalues of the symmetric n x n matrix a, in descending order, into values (k), and their
 * orthonormal eigenvectors as the columns of vectors (n x k). Only these k are computed (dsyevr RANGE = 'I').
 * A matrix that is not symmetric (beyond 1e-9 of its largest element) or holds NaN/Inf is refused. */
MLA4J_API mla4j_status mla4j_linalg_eigh(const double *a, int64_t n, int64_t k, double *values, double *vectors);
/* The top k singular triplets of a (m x n), 1 <= k <= min(m, n): a ~ u diag(s) vt with u (m x k), s (k,
 * descending) and vt (k x n); orthonormal columns of u and rows of vt (dgesdd). */
MLA4J_API mla4j_status mla4j_linalg_svd(const double *a, int64_t m, int64_t n, int64_t k, double *u, double *s,
                                        double *vt);
/* x (n x nrhs) minimising ||a x - b||_F for a (m x n) and b (m x nrhs); the minimum-norm solution when a is rank
 * deficient (singular values below machine precision times the largest count as zero; dgelsd). */
MLA4J_API mla4j_status mla4j_linalg_lstsq(const double *a, int64_t m, int64_t n, const double *b, int64_t nrhs,
                                          double *x);

/* ------------------------------------------------------------------------------------------------ */
/* Calibration statistics (for model conversion)                                                    */
/* ------------------------------------------------------------------------------------------------ */

/* Statistics of the attention inputs of a model, gathered by the forward pass of the contexts it is
 * attached to. Per layer, over every evaluated token t, with x_t = RMSNorm(h_t) * attn_norm (the input of the q, k
 * and v projections, E = n_embd values):
 *  - the moment M = sum_t [x_t; 1] [x_t; 1]^T, an (E+1) x (E+1) symmetric row-major matrix of doubles: the top-left
 *    E x E block is sum_t x_t x_t^T, the last row and column hold sum_t x_t, the bottom-right the token count;
 *  - pair norms: sum_t sqrt(a^2 + b^2) over the pairs (a, b) that RoPE rotates by frequency i (theta_i =
 *    base^(-2i/n_rot)), of the query (n_head x n_rot/2 sums) and key (n_head_kv x n_rot/2) heads before RoPE,
 *    biases included. The pair is (2i, 2i+1) for MLA4J_ROPE_NORM and (i, i + n_rot/2) for MLA4J_ROPE_NEOX.
 * Accumulation uses BLAS (dsyrk), so creating one needs LAPACK/BLAS as described above.
 * A calibration is used by one thread at a time, like its context. */
typedef struct mla4j_calib mla4j_calib;

/* Creates empty statistics for model (any architecture; the pair norms are gathered for llama and qwen2 only and stay
 * 0 for MLA models, whose converter re-measures only the moments). Their
 * memory, n_layer * (E+1)^2 doubles plus the pair norms, is allocated here (refused when larger than the machine's
 * memory); attaching adds one batch of n_batch x (E+1) doubles. The statistics stay readable after the model is
 * freed. */
MLA4J_API mla4j_status mla4j_calib_create(const mla4j_model *model, mla4j_calib **out);
/* Frees the statistics, detaching them from their context first. */
MLA4J_API void mla4j_calib_free(mla4j_calib *calib);
/* Attaches calib to ctx (NULL detaches): every later mla4j_context_eval adds its tokens. calib must be of the
 * context's model and attached to no other context. An eval that fails after it started (cancelled) leaves the
 * statistics incomplete: then every getter returns MLA4J_ERR_STATE until mla4j_calib_reset. */
MLA4J_API mla4j_status mla4j_context_set_calib(mla4j_context *ctx, mla4j_calib *calib);
/* Zeroes every statistic (also after an incomplete eval). */
MLA4J_API mla4j_status mla4j_calib_reset(mla4j_calib *calib);
/* Tokens accumulated so far. */
MLA4J_API mla4j_status mla4j_calib_get_token_count(const mla4j_calib *calib, int64_t *out);
/* The moment of layer (E+1) x (E+1) into out (full symmetric matrix, row-major). */
MLA4J_API mla4j_status mla4j_calib_get_moment(const mla4j_calib *calib, int32_t layer, double *out);
/* The pair norm sums of layer: q (n_head x n_rot/2, row-major) and k (n_head_kv x n_rot/2). */
MLA4J_API mla4j_status mla4j_calib_get_pair_norms(const mla4j_calib *calib, int32_t layer, double *q, double *k);
/* Also keeps the attention inputs x_t themselves, of every layer, for the first max_tokens tokens evaluated from now
 * on (for fits that need single tokens, such as the converter's query fit on small models): n_layer x max_tokens x
 * n_embd floats, allocated here (refused when larger than the machine's memory). Later tokens still enter the
 * statistics above but are not kept. 0 frees them. Discards what was kept before; mla4j_calib_reset does too. */
MLA4J_API mla4j_status mla4j_calib_keep_inputs(mla4j_calib *calib, int64_t max_tokens);
/* How many tokens' inputs are kept (at most max_tokens). */
MLA4J_API mla4j_status mla4j_calib_get_kept_count(const mla4j_calib *calib, int64_t *out);
/* The kept inputs of layer, in evaluation order: kept_count x n_embd floats, row-major. */
MLA4J_API mla4j_status mla4j_calib_get_kept_inputs(const mla4j_calib *calib, int32_t layer, float *out);

#ifdef __cplusplus
}
#endif

#endif /* MLA4J_H */
