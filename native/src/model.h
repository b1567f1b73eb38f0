/* model.h - a loaded llama-family model: hyperparameters and views of its weights in the mapped file. */
#ifndef MLA4J_MODEL_H
#define MLA4J_MODEL_H

#include "gguf.h"
#include "kernels.h"

#include <math.h>

/* SiLU, the gate activation of the SwiGLU FFN (dense and expert FFNs alike). */
static inline float silu(float x) { return x / (1.0f + expf(-x)); }

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

/* deepseek2 Mixture-of-Experts FFN of one layer (layers >= leading_dense_block_count; moe.c runs it).
 * Expert e of a routed matrix is rows [e * expert_rows, e * expert_rows + F) of the 3-D tensor viewed as a matrix
 * (expert_rows = F, or 2F for a fused ffn_gate_up_exps whose first F rows of each expert are the gate). */
typedef struct moe_weights {
    kern_matrix gate_inp;          /* router: E -> n_expert logits */
    const float *exp_probs_b;      /* selection bias (n_expert), or NULL */
    kern_matrix gate_exps, up_exps; /* each expert: F rows of E (views into one tensor, see expert_rows) */
    int64_t gate_up_stride;        /* rows between consecutive experts of gate_exps/up_exps (F or 2F) */
    kern_matrix down_exps;         /* each expert: E rows of F */
    kern_matrix gate_shexp, up_shexp, down_shexp; /* shared experts (F * n_shared rows), data NULL when none */
} moe_weights;

enum { MOE_GATING_SOFTMAX = 1, MOE_GATING_SIGMOID = 2 };

/* MoE hyperparameters (llama.cpp's names in comments). */
typedef struct moe_hparams {
    int32_t n_dense_lead;   /* leading_dense_block_count */
    int32_t n_expert;       /* expert_count */
    int32_t n_expert_used;  /* expert_used_count */
    int32_t n_expert_shared;/* expert_shared_count */
    int32_t n_ff_exp;       /* expert_feed_forward_length */
    int32_t n_group;        /* expert_group_count (0 or 1: no groups) */
    int32_t n_group_used;   /* expert_group_used_count */
    int32_t gating;         /* expert_gating_func: MOE_GATING_* */
    int32_t norm_w;         /* expert_weights_norm */
    float w_scale;          /* expert_weights_scale (0 or 1: none) */
} moe_hparams;

/* Most experts a file may declare (the bound; llama.cpp's LLAMA_MAX_EXPERTS is 512). */
#define MOE_MAX_EXPERTS 1024

/* YaRN RoPE (rope.scaling.type yarn) as ggml_rope_ext applies it: ext_factor 0 = plain (linear) scaling. */
typedef struct rope_yarn {
    float ext_factor;  /* 1 for yarn files, else 0 */
    float attn_factor; /* the cos/sin magnitude llama.cpp passes (cparams.yarn_attn_factor) */
    float beta_fast, beta_slow;
    int32_t n_ctx_orig;
    float corr_dims[2]; /* ggml_rope_yarn_corr_dims */
} rope_yarn;

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
    rope_yarn yarn;       /* RoPE extrapolation (YaRN), ext_factor 0 without */
    moe_hparams moe_hp;   /* deepseek2 MoE; n_expert 0 for dense models */
    moe_weights *moe;     /* per layer, NULL for dense models; layers below n_dense_lead have gate_inp.data NULL */
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

/* rope.c: cos/sin of the n_rot/2 rotation angles of one position as ggml_rope_ext computes them (running product
 * of theta_scale in float, YaRN ramp and magnitude, optional frequency divisors): cs[2i] = cos, cs[2i+1] = sin. */
void rope_cos_sin(const rope_yarn *y, int n_rot, int32_t pos, float freq_base, float freq_scale, const float *freq_factors,
                  float *cs);
/* Rotates the first n_rot dims of one head by those cos/sin: adjacent pairs (2i, 2i+1) for MLA4J_ROPE_NORM, halves
 * (i, i + n_rot/2) for MLA4J_ROPE_NEOX, as ggml_rope_ext does. */
void rope_rotate(float *x, int n_rot, int rope_type, const float *cs);
/* Reads rope.scaling.* of the architecture into hp->rope_freq_scale and m->yarn (llama.cpp's rules and defaults);
 * is_deepseek2 adds the deepseek2 attention scale (mscale^2 / sqrt(d_k)) to hp->kq_scale. */
mla4j_status rope_read_scaling(loader *l, mla4j_hparams *hp, rope_yarn *y, int is_deepseek2);

/* model_moe.c: MoE hyperparameters and tensors of deepseek2 (checked: counts, shapes, presence). */
mla4j_status moe_read_hparams(loader *l, const mla4j_hparams *hp, moe_hparams *moe);
mla4j_status moe_load_weights(mla4j_model *m);

/* Bytes of one cached row of n values of a cache type, or 0 when the type cannot hold such rows. */
uint64_t kv_row_bytes(int32_t kv_type, int64_t n);

/* model_mla.c */
mla4j_status mla_read_hparams(loader *l, mla4j_model *m);
mla4j_status mla_load_weights(mla4j_model *m);
void mla_free_weights(mla4j_model *m);

/* Builds a model on an opened GGUF file, taking ownership of it (freed on failure too). mla4j_model_load is
 * mla4j_gguf_open + this; the fuzz harnesses use it on in-memory images. */
mla4j_status mla4j_model_from_gguf(mla4j_gguf *g, mla4j_model **out);

#endif
