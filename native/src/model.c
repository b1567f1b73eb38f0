/* model.c - loads a llama or qwen2 GGUF: reads the hyperparameters with llama.cpp's keys and defaults, and
 * checks that every tensor the forward pass needs exists with exactly the expected shape. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *arch_key(loader *l, const char *suffix) {
    snprintf(l->key, sizeof l->key, "%s.%s", l->arch, suffix);
    return l->key;
}

/* Reads an integer key, or def when absent (required: absence is an error). Per-layer arrays are accepted
 * when all their entries are equal. */
mla4j_status get_int(loader *l, const char *suffix, int required, int64_t def, int64_t lo, int64_t hi, int32_t *out) {
    const char *key = arch_key(l, suffix);
    int64_t i = gguf_find_key(l->g, key);
    int64_t v = def;
    if (i < 0) {
        if (required) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: missing required key '%s'", l->g->name, key);
    } else {
        const gguf_kv *kv = &l->g->kv[i];
        if (kv->type == MLA4J_GGUF_ARRAY) {
            if (kv->elem_type != MLA4J_GGUF_INT32 && kv->elem_type != MLA4J_GGUF_UINT32) {
                return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' must be an integer or an array of 32-bit integers", l->g->name, key);
            }
            for (uint64_t j = 0; j < kv->count; j++) {
                int32_t e;
                memcpy(&e, kv->data + 4 * j, 4);
                if (j == 0) v = e;
                if (e != v) {
                    return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: key '%s' varies per layer, which mla4j does not support yet", l->g->name, key);
                }
            }
            if (kv->count == 0) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' is an empty array", l->g->name, key);
        } else if (mla4j_gguf_kv_get_int(l->g, i, &v) != MLA4J_OK) {
            return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' must be an integer", l->g->name, key);
        }
    }
    if (v < lo || v > hi) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' = %lld is out of the supported range [%lld, %lld]", l->g->name, key,
                          (long long)v, (long long)lo, (long long)hi);
    }
    *out = (int32_t)v;
    return MLA4J_OK;
}

mla4j_status get_float(loader *l, const char *suffix, int required, double def, float *out) {
    const char *key = arch_key(l, suffix);
    int64_t i = gguf_find_key(l->g, key);
    double v = def;
    if (i < 0) {
        if (required) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: missing required key '%s'", l->g->name, key);
    } else if (mla4j_gguf_kv_get_float(l->g, i, &v) != MLA4J_OK) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' must be a float", l->g->name, key);
    }
    if (!isfinite(v)) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' is not finite", l->g->name, key);
    *out = (float)v;
    return MLA4J_OK;
}

mla4j_status get_string(const mla4j_gguf *g, const char *key, char *buf, size_t cap, int required) {
    int64_t i = gguf_find_key(g, key);
    buf[0] = '\0';
    if (i < 0) return required ? mla4j_fail(MLA4J_ERR_FORMAT, "%s: missing required key '%s'", g->name, key) : MLA4J_OK;
    const char *s;
    uint64_t len;
    if (mla4j_gguf_kv_get_string(g, i, &s, &len) != MLA4J_OK) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s' must be a string", g->name, key);
    }
    if (len >= cap) len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return MLA4J_OK;
}

static mla4j_status read_hparams(loader *l, mla4j_model *m) {
    const mla4j_gguf *g = l->g;
    mla4j_hparams *hp = &m->hp;
    TRY(get_string(g, "general.architecture", hp->arch, sizeof hp->arch, 1));
    hp->is_mla = strcmp(hp->arch, "deepseek2") == 0 || strcmp(hp->arch, "mha2mla") == 0;
    if (strcmp(hp->arch, "llama") == 0 || hp->is_mla) {
        hp->rope_type = MLA4J_ROPE_NORM;
    } else if (strcmp(hp->arch, "qwen2") == 0) {
        hp->rope_type = MLA4J_ROPE_NEOX;
    } else {
        return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (supported: llama, qwen2, deepseek2, mha2mla)",
                          g->name, hp->arch);
    }
    l->arch = hp->arch;
    TRY(get_int(l, "context_length", 1, 0, 1, INT32_MAX, &hp->n_ctx_train));
    TRY(get_int(l, "embedding_length", 1, 0, 1, MAX_EMBD, &hp->n_embd));
    TRY(get_int(l, "block_count", 1, 0, 1, MAX_LAYERS, &hp->n_layer));
    TRY(get_int(l, "feed_forward_length", 1, 0, 1, MAX_EMBD * 16, &hp->n_ff));
    TRY(get_int(l, "attention.head_count", 1, 0, 1, MAX_HEADS, &hp->n_head));
    TRY(get_int(l, "attention.head_count_kv", 0, hp->n_head, 1, hp->n_head, &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv != 0) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d", g->name, hp->n_head, hp->n_head_kv);
    }
    TRY(get_float(l, "rope.freq_base", 0, 10000.0, &hp->rope_freq_base));
    TRY(get_float(l, "attention.layer_norm_rms_epsilon", 1, 0, &hp->rms_eps));
    if (hp->is_mla) return mla_read_hparams(l, m);

    int32_t default_hd = hp->n_embd / hp->n_head;
    TRY(get_int(l, "attention.key_length", 0, default_hd, 1, MAX_HEAD_DIM, &hp->head_dim_k));
    TRY(get_int(l, "attention.value_length", 0, default_hd, 1, MAX_HEAD_DIM, &hp->head_dim_v));
    TRY(get_int(l, "rope.dimension_count", 0, hp->head_dim_k, 0, hp->head_dim_k, &hp->n_rot));
    if (hp->n_rot % 2 != 0) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: rope.dimension_count %d is odd", g->name, hp->n_rot);
    TRY(rope_read_scaling(l, hp, &m->yarn, 0));
    return MLA4J_OK;
}

/* Looks up a tensor and checks its exact shape (ne0, ne1; 0 = a 1-D tensor). */
/* Looks up a tensor and checks its exact shape [ne0, ne1, ne2] (0 = the dimension is absent, i.e. 1). */
static mla4j_status find_tensor3(const mla4j_gguf *g, const char *name, int64_t ne0, int64_t ne1, int64_t ne2,
                                 int optional, const gguf_tensor **out) {
    int64_t i = gguf_find_tensor(g, name);
    *out = NULL;
    if (i < 0) return optional ? MLA4J_OK : mla4j_fail(MLA4J_ERR_FORMAT, "%s: missing tensor '%s'", g->name, name);
    const gguf_tensor *t = &g->tensors[i];
    if (kern_type_traits_of(t->type) == NULL) {
        return mla4j_fail(MLA4J_ERR_UNSUPPORTED,
                          "%s: tensor '%s' has type %s, which mla4j cannot compute with (supported: F32, F16, BF16, Q4_0, "
                          "Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)",
                          g->name, name, gguf_type_layout(t->type)->name);
    }
    int64_t want1 = ne1 == 0 ? 1 : ne1, want2 = ne2 == 0 ? 1 : ne2;
    if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != want2 || t->ne[3] != 1) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]",
                          g->name, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                          (long long)t->ne[3], (long long)ne0, (long long)want1, (long long)want2);
    }
    *out = t;
    return MLA4J_OK;
}

mla4j_status find_tensor(const mla4j_gguf *g, const char *name, int64_t ne0, int64_t ne1, int optional,
                         const gguf_tensor **out) {
    return find_tensor3(g, name, ne0, ne1, 0, optional, out);
}

mla4j_status vector_f32(const mla4j_gguf *g, const char *name, int64_t n, int optional, const float **out) {
    const gguf_tensor *t;
    TRY(find_tensor(g, name, n, 0, optional, &t));
    *out = NULL;
    if (t == NULL) return MLA4J_OK;
    if (t->type != MLA4J_TYPE_F32) {
        return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: tensor '%s' must be F32 (1-D tensors are never quantized)", g->name, name);
    }
    *out = (const float *)t->data;
    return MLA4J_OK;
}

mla4j_status matrix3(const mla4j_gguf *g, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, int optional,
                     kern_matrix *out) {
    const gguf_tensor *t;
    TRY(find_tensor3(g, name, ne0, ne1, ne2, optional, &t));
    memset(out, 0, sizeof *out);
    if (t == NULL) return MLA4J_OK;
    int64_t rows = (ne1 == 0 ? 1 : ne1) * (ne2 == 0 ? 1 : ne2);
    out->type = t->type;
    out->cols = ne0;
    out->rows = rows;
    out->row_bytes = (size_t)(t->nbytes / (uint64_t)rows);
    out->data = t->data;
    return MLA4J_OK;
}

mla4j_status matrix(const mla4j_gguf *g, const char *name, int64_t cols, int64_t rows, int optional, kern_matrix *out) {
    return matrix3(g, name, cols, rows, 0, optional, out);
}

/* dense_ffn: 0 for the MoE layers of deepseek2 (their FFN is loaded by model_moe.c). */
static mla4j_status load_layer(const mla4j_gguf *g, const mla4j_hparams *hp, int il, int dense_ffn, layer_weights *lw) {
    char name[64];
    const int64_t E = hp->n_embd, q_dim = (int64_t)hp->n_head * hp->head_dim_k;
    const int64_t k_dim = (int64_t)hp->n_head_kv * hp->head_dim_k, v_dim = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const int64_t o_dim = (int64_t)hp->n_head * hp->head_dim_v;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    TRY(vector_f32(g, NAME("attn_norm.weight"), E, 0, &lw->attn_norm));
    TRY(matrix(g, NAME("attn_output.weight"), o_dim, E, 0, &lw->wo));
    TRY(vector_f32(g, NAME("ffn_norm.weight"), E, 0, &lw->ffn_norm));
    if (dense_ffn) {
        TRY(matrix(g, NAME("ffn_gate.weight"), E, hp->n_ff, 0, &lw->w_gate));
        TRY(matrix(g, NAME("ffn_up.weight"), E, hp->n_ff, 0, &lw->w_up));
        TRY(matrix(g, NAME("ffn_down.weight"), hp->n_ff, E, 0, &lw->w_down));
    }
    if (hp->is_mla) return MLA4J_OK; /* attention projections: model_mla.c */
    TRY(matrix(g, NAME("attn_q.weight"), E, q_dim, 0, &lw->wq));
    TRY(matrix(g, NAME("attn_k.weight"), E, k_dim, 0, &lw->wk));
    TRY(matrix(g, NAME("attn_v.weight"), E, v_dim, 0, &lw->wv));
    int bias_optional = !hp->has_qkv_bias;
    TRY(vector_f32(g, NAME("attn_q.bias"), q_dim, bias_optional, &lw->bq));
    TRY(vector_f32(g, NAME("attn_k.bias"), k_dim, bias_optional, &lw->bk));
    TRY(vector_f32(g, NAME("attn_v.bias"), v_dim, bias_optional, &lw->bv));
#undef NAME
    return MLA4J_OK;
}

static mla4j_status load_weights(mla4j_model *m) {
    const mla4j_gguf *g = m->gguf;
    mla4j_hparams *hp = &m->hp;
    int64_t ti = gguf_find_tensor(g, "token_embd.weight");
    if (ti < 0) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", g->name);
    int64_t n_vocab = g->tensors[ti].ne[1];
    if (n_vocab < 1 || n_vocab > MAX_VOCAB) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: token_embd.weight has %lld rows (vocabulary size out of range)", g->name, (long long)n_vocab);
    }
    hp->n_vocab = (int32_t)n_vocab;
    TRY(matrix(g, "token_embd.weight", hp->n_embd, n_vocab, 0, &m->tok_embd));
    TRY(vector_f32(g, "output_norm.weight", hp->n_embd, 0, &m->output_norm));
    TRY(matrix(g, "output.weight", hp->n_embd, n_vocab, 1, &m->output));
    hp->tied_output = m->output.data == NULL;
    if (hp->tied_output) m->output = m->tok_embd;
    if (!hp->is_mla) TRY(vector_f32(g, "rope_freqs.weight", hp->n_rot / 2, 1, &m->rope_freqs));
    hp->has_qkv_bias = gguf_find_tensor(g, "blk.0.attn_q.bias") >= 0;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (m->layers == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "%s: out of memory for %d layers", g->name, hp->n_layer);
    const int moe = m->moe_hp.n_expert > 0;
    for (int il = 0; il < hp->n_layer; il++) TRY(load_layer(g, hp, il, !moe || il < m->moe_hp.n_dense_lead, &m->layers[il]));
    if (hp->is_mla) TRY(mla_load_weights(m));
    return moe ? moe_load_weights(m) : MLA4J_OK;
}

mla4j_status mla4j_model_from_gguf(mla4j_gguf *g, mla4j_model **out) {
    mla4j_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        mla4j_status st = mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory loading %s", g->name);
        mla4j_gguf_free(g);
        return st;
    }
    m->gguf = g;
    m->yarn = (rope_yarn){.ext_factor = 0.0f, .attn_factor = 1.0f, .beta_fast = 32.0f, .beta_slow = 1.0f};
    loader l = {.g = g};
    mla4j_status st = read_hparams(&l, m);
    if (st == MLA4J_OK) st = load_weights(m);
    if (st != MLA4J_OK) {
        mla4j_model_free(m);
        return st;
    }
    *out = m;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_model_load_ex(const char *path, int32_t mmap_mode, int32_t mlock, mla4j_model **out) {
    MLA4J_CHECK_ARG(path != NULL && out != NULL, "mla4j_model_load_ex: path and out must not be NULL");
    mla4j_gguf *g = NULL;
    mla4j_status st = gguf_open_for_compute(path, mmap_mode, mlock, &g);
    if (st != MLA4J_OK) return st;
    return mla4j_model_from_gguf(g, out);
}

MLA4J_API mla4j_status mla4j_model_load(const char *path, mla4j_model **out) {
    MLA4J_CHECK_ARG(path != NULL && out != NULL, "mla4j_model_load: path and out must not be NULL");
    return mla4j_model_load_ex(path, MLA4J_MMAP_AUTO, 0, out);
}

MLA4J_API mla4j_status mla4j_model_get_memory(const mla4j_model *m, int32_t *mapped, int32_t *locked, uint64_t *bytes) {
    MLA4J_CHECK_ARG(m != NULL, "mla4j_model_get_memory: model must not be NULL");
    if (mapped != NULL) *mapped = m->gguf->is_file_mapping;
    if (locked != NULL) *locked = m->gguf->is_locked;
    if (bytes != NULL) *bytes = (uint64_t)m->gguf->size;
    return MLA4J_OK;
}

MLA4J_API void mla4j_model_free(mla4j_model *m) {
    if (m == NULL) return;
    mla_free_weights(m);
    free(m->moe);
    free(m->layers);
    mla4j_gguf_free(m->gguf);
    free(m);
}

MLA4J_API mla4j_status mla4j_model_get_hparams(const mla4j_model *m, mla4j_hparams *out) {
    MLA4J_CHECK_ARG(m != NULL && out != NULL, "mla4j_model_get_hparams: model and out must not be NULL");
    *out = m->hp;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_model_get_gguf(const mla4j_model *m, const mla4j_gguf **out) {
    MLA4J_CHECK_ARG(m != NULL && out != NULL, "mla4j_model_get_gguf: model and out must not be NULL");
    *out = m->gguf;
    return MLA4J_OK;
}

/* Bytes of one cached row of n values of a cache type, or 0 when the type cannot hold such rows. */
uint64_t kv_row_bytes(int32_t kv_type, int64_t n) {
    const kern_type_traits *tt = kern_type_traits_of(kv_type);
    if (tt == NULL || n % tt->block_size != 0) return 0;
    return (uint64_t)(n / tt->block_size) * (uint64_t)tt->type_size;
}

MLA4J_API mla4j_status mla4j_model_kv_bytes_per_token(const mla4j_model *m, int32_t kv_type, uint64_t *out) {
    MLA4J_CHECK_ARG(m != NULL && out != NULL, "mla4j_model_kv_bytes_per_token: model and out must not be NULL");
    const mla4j_hparams *hp = &m->hp;
    uint64_t per_layer;
    if (hp->is_mla) {
        MLA4J_CHECK_ARG(kv_type == MLA4J_TYPE_F32 || kv_type == MLA4J_TYPE_F16 || kv_type == MLA4J_TYPE_Q8_0 ||
                            kv_type == MLA4J_TYPE_Q4_0,
                        "latent cache type %d is not supported (F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8)", kv_type);
        int64_t width = (int64_t)hp->kv_lora_rank + (int64_t)hp->n_rope_heads * hp->rope_dim;
        per_layer = kv_row_bytes(kv_type, width);
        if (per_layer == 0) {
            return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "a latent cache row of %lld values cannot be stored as type %d "
                              "(quantized caches need a multiple of 32)", (long long)width, kv_type);
        }
    } else {
        MLA4J_CHECK_ARG(kv_type == MLA4J_TYPE_F32 || kv_type == MLA4J_TYPE_F16,
                        "KV cache type %d is not supported (F32 = 0, F16 = 1)", kv_type);
        per_layer = kv_row_bytes(kv_type, (int64_t)hp->n_head_kv * (hp->head_dim_k + hp->head_dim_v));
    }
    *out = per_layer * (uint64_t)hp->n_layer;
    return MLA4J_OK;
}
