/* model.h - a loaded llama-family model: hyperparameters and views of its weights in the mapped file. */
#ifndef MLA4J_MODEL_H
#define MLA4J_MODEL_H

#include "gguf.h"
#include "kernels.h"

typedef struct layer_weights {
    const float *attn_norm;
    kern_matrix wq, wk, wv, wo;
    const float *bq, *bk, *bv; /* qwen2 biases, NULL when absent */
    const float *ffn_norm;
    kern_matrix w_gate, w_up, w_down;
} layer_weights;

/* Multi-head latent attention weights (deepseek2, mha2mla). Absorption matrices come in n_abs slices: one per
 * head for deepseek2, one per KV head for mha2mla; head h uses slice h / (n_head / n_abs). */
typedef struct mla_weights {
    kern_matrix wq_a, wq_b;   /* q-LoRA (deepseek2 q_lora_rank > 0); else layer_weights.wq */
    const float *q_a_norm;
    kern_matrix wkv_a;        /* E -> C (+ R for deepseek2's attn_kv_a_mqa: [latent ; k_pe]) */
    kern_matrix wk_rope;      /* mha2mla: E -> n_kv * r (attn_k_rope); rows unused for deepseek2 */
    const float *bk_rope;     /* mha2mla: bias of attn_k_rope, or NULL */
    const float *kv_a_norm;   /* latent RMSNorm weight, or NULL (mha2mla without norm) */
    kern_matrix k_b;          /* n_abs * C rows of N: slice s rows [s*C, (s+1)*C) */
    kern_matrix v_b;          /* n_abs * Dv rows of C */
    const float *bv_b;        /* mha2mla: value bias (n_kv * Dv), added after attention; or NULL */
    const float *rope_theta;  /* mha2mla: n_kv * r/2 angular frequencies; NULL = standard NORM rope */
    float *owned;             /* F32 buffers built at load (legacy attn_kv_b split) */
} mla_weights;

struct mla4j_model {
    mla4j_gguf *gguf;
    mla4j_hparams hp;
    kern_matrix tok_embd;
    const float *output_norm;
    kern_matrix output;
    const float *rope_freqs; /* optional per-frequency divisors (llama3 scaling), n_rot/2 values */
    layer_weights *layers;
    mla_weights *mla;  /* per layer, NULL for llama/qwen2 */
    int32_t n_abs;     /* MLA: absorption slices (n_head for deepseek2, n_head_kv for mha2mla) */
    int32_t n_rope_heads; /* MLA: cached rope key vectors per token (1 for deepseek2, n_head_kv for mha2mla) */
};

/* ---- loading helpers shared by model.c (llama, qwen2) and model_mla.c (deepseek2, mha2mla) ---- */

/* Sanity limits: metadata asking for more is refused before anything is allocated. */
#define MAX_LAYERS 4096
#define MAX_EMBD (1 << 20)
#define MAX_HEADS 4096
#define MAX_HEAD_DIM 4096
#define MAX_VOCAB (1 << 24)

#define TRY(expr)                                                                                                     \
    do {                                                                                                              \
        mla4j_status st_ = (expr);                                                                                    \
        if (st_ != MLA4J_OK) return st_;                                                                              \
    } while (0)

typedef struct loader {
    mla4j_gguf *g;
    const char *arch;
    char key[256];
} loader;

/* "<arch>.<suffix>" in the loader's buffer. */
const char *arch_key(loader *l, const char *suffix);
/* Integer key (per-layer arrays accepted when constant), def when absent and not required, range-checked. */
mla4j_status get_int(loader *l, const char *suffix, int required, int64_t def, int64_t lo, int64_t hi, int32_t *out);
mla4j_status get_float(loader *l, const char *suffix, int required, double def, float *out);
mla4j_status get_string(const mla4j_gguf *g, const char *key, char *buf, size_t cap, int required);
/* Tensor with exactly the shape [ne0, ne1, ne2] (0 = absent dimension); NULL when optional and absent. */
mla4j_status find_tensor(const mla4j_gguf *g, const char *name, int64_t ne0, int64_t ne1, int optional,
                         const gguf_tensor **out);
mla4j_status vector_f32(const mla4j_gguf *g, const char *name, int64_t n, int optional, const float **out);
mla4j_status matrix(const mla4j_gguf *g, const char *name, int64_t cols, int64_t rows, int optional, kern_matrix *out);
/* A 3-D tensor [ne0, ne1, ne2] viewed as a matrix of ne1*ne2 rows of ne0. */
mla4j_status matrix3(const mla4j_gguf *g, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, int optional,
                     kern_matrix *out);

/* Bytes of one cached row of n values of a cache type, or 0 when the type cannot hold such rows. */
uint64_t kv_row_bytes(int32_t kv_type, int64_t n);

/* model_mla.c */
mla4j_status mla_read_hparams(loader *l, mla4j_hparams *hp);
mla4j_status mla_load_weights(mla4j_model *m);
void mla_free_weights(mla4j_model *m);

/* Builds a model on an opened GGUF file, taking ownership of it (freed on failure too). mla4j_model_load is
 * mla4j_gguf_open + this; the fuzz harnesses use it on in-memory images. */
mla4j_status mla4j_model_from_gguf(mla4j_gguf *g, mla4j_model **out);

#endif
