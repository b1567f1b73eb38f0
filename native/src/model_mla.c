/* model_mla.c - loads the multi-head latent attention architectures:
 *  - deepseek2 (dense layers only) exactly as llama.cpp reads it: attn_q or the q-LoRA pair, attn_kv_a_mqa
 *    ([latent ; shared k_pe]), attn_kv_a_norm, and attn_k_b/attn_v_b (MLA mode) or the legacy attn_kv_b, which is
 *    split here into the absorbed form;
 *  - mha2mla, our own layout for MHA2MLA conversions (docs/FORMAT.md): per-KV-head partial RoPE with explicit
 *    frequencies, a shared latent, optional latent norm, absorption matrices per KV head.
 * Both end up in one representation (mla_weights) that the absorbed attention in attention_mla.c runs. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_deepseek2(const mla4j_hparams *hp) { return strcmp(hp->arch, "deepseek2") == 0; }

static mla4j_status read_deepseek2(loader *l, mla4j_model *m) {
    const mla4j_gguf *g = l->g;
    mla4j_hparams *hp = &m->hp;
    /* llama.cpp's "lite" rule: these layer counts do not read q_lora_rank (the model uses attn_q). */
    int64_t vocab = 0;
    int64_t ti = gguf_find_tensor(g, "token_embd.weight");
    if (ti >= 0) vocab = g->tensors[ti].ne[1];
    int lite = hp->n_layer == 26 || hp->n_layer == 27 || (hp->n_layer == 48 && vocab == 128256);
    if (!lite) TRY(get_int(l, "attention.q_lora_rank", 1, 0, 0, MAX_EMBD, &hp->q_lora_rank));
    TRY(get_int(l, "attention.kv_lora_rank", 1, 0, 1, MAX_EMBD, &hp->kv_lora_rank));
    TRY(get_int(l, "rope.dimension_count", 1, 0, 2, MAX_HEAD_DIM, &hp->rope_dim));
    int32_t key_mla = 0, value_mla = 0;
    TRY(get_int(l, "attention.key_length_mla", 0, 0, 0, MAX_HEAD_DIM, &key_mla));
    TRY(get_int(l, "attention.value_length_mla", 0, 0, 0, MAX_HEAD_DIM, &value_mla));
    if (key_mla > 0 && value_mla > 0) {
        hp->head_dim_k = key_mla;
        hp->head_dim_v = value_mla;
    } else {
        /* Legacy (non-MLA) files: key_length = nope + rope, value_length = v_head_dim. */
        TRY(get_int(l, "attention.key_length", 1, 0, 1, MAX_HEAD_DIM, &hp->head_dim_k));
        TRY(get_int(l, "attention.value_length", 1, 0, 1, MAX_HEAD_DIM, &hp->head_dim_v));
    }
    if (hp->head_dim_k <= hp->rope_dim) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key length %d must exceed rope.dimension_count %d", g->name, hp->head_dim_k, hp->rope_dim);
    }
    hp->n_rope_heads = 1;
    hp->latent_norm = 1;
    return moe_read_hparams(l, hp, &m->moe_hp);
}

static mla4j_status read_mha2mla(loader *l, mla4j_hparams *hp) {
    const mla4j_gguf *g = l->g;
    TRY(get_int(l, "attention.key_length", 1, 0, 2, MAX_HEAD_DIM, &hp->head_dim_k));
    hp->head_dim_v = hp->head_dim_k;
    TRY(get_int(l, "rope.dimension_count", 1, 0, 0, hp->head_dim_k, &hp->rope_dim));
    TRY(get_int(l, "attention.kv_lora_rank", 1, 0, 1, MAX_EMBD, &hp->kv_lora_rank));
    hp->n_rope_heads = hp->n_head_kv;
    hp->latent_norm = gguf_find_tensor(g, "blk.0.attn_kv_a_norm.weight") >= 0;
    hp->rope_freq_scale = 1.0f;
    return MLA4J_OK;
}

mla4j_status mla_read_hparams(loader *l, mla4j_model *m) {
    mla4j_hparams *hp = &m->hp;
    TRY(is_deepseek2(hp) ? read_deepseek2(l, m) : read_mha2mla(l, hp));
    if (hp->rope_dim % 2 != 0) {
        return mla4j_fail(MLA4J_ERR_FORMAT, "%s: rope.dimension_count %d is odd", l->g->name, hp->rope_dim);
    }
    hp->head_dim_nope = hp->head_dim_k - hp->rope_dim;
    hp->n_rot = hp->rope_dim;
    /* deepseek2: mscale^2 / sqrt(nope + rope) (rope.c; mscale = 1 without YaRN); mha2mla keeps 1/sqrt(d_h). */
    hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    if (is_deepseek2(hp)) TRY(rope_read_scaling(l, hp, &m->yarn, 1));
    return MLA4J_OK;
}

/* Splits a legacy attn_kv_b {C, H*(N+Dv)} into F32 k_b (H slices of C rows of N) and v_b (H slices of Dv rows of C). */
static mla4j_status split_kv_b(const mla4j_gguf *g, const mla4j_hparams *hp, const char *name, mla_weights *w) {
    const int64_t C = hp->kv_lora_rank, N = hp->head_dim_nope, Dv = hp->head_dim_v, H = hp->n_head;
    kern_matrix kv_b;
    TRY(matrix(g, name, C, H * (N + Dv), 0, &kv_b));
    size_t kb_n = (size_t)(H * C * N), vb_n = (size_t)(H * Dv * C);
    w->owned = mla4j_alloc_aligned((kb_n + vb_n + (size_t)C) * sizeof(float), "the split of attn_kv_b");
    if (w->owned == NULL) return MLA4J_ERR_OUT_OF_MEMORY;
    float *kb = w->owned, *vb = w->owned + kb_n, *row = vb + vb_n;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t r = 0; r < N + Dv; r++) {
            kern_dequantize_row(kv_b.type, (const uint8_t *)kv_b.data + (size_t)(h * (N + Dv) + r) * kv_b.row_bytes, row, C);
            if (r < N) {
                for (int64_t c = 0; c < C; c++) kb[(h * C + c) * N + r] = row[c]; /* transpose: W_UK_h^T */
            } else {
                memcpy(vb + (h * Dv + (r - N)) * C, row, (size_t)C * sizeof(float));
            }
        }
    }
    w->k_b = (kern_matrix){MLA4J_TYPE_F32, N, H * C, (size_t)N * sizeof(float), kb};
    w->v_b = (kern_matrix){MLA4J_TYPE_F32, C, H * Dv, (size_t)C * sizeof(float), vb};
    return MLA4J_OK;
}

static mla4j_status load_deepseek2_layer(const mla4j_gguf *g, const mla4j_hparams *hp, int il, layer_weights *lw,
                                         mla_weights *w) {
    char name[64];
    const int64_t E = hp->n_embd, H = hp->n_head, C = hp->kv_lora_rank, R = hp->rope_dim;
    const int64_t N = hp->head_dim_nope, Dv = hp->head_dim_v, Q = hp->q_lora_rank, q_dim = H * hp->head_dim_k;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    if (Q > 0) {
        TRY(matrix(g, NAME("attn_q_a.weight"), E, Q, 0, &w->wq_a));
        TRY(vector_f32(g, NAME("attn_q_a_norm.weight"), Q, 0, &w->q_a_norm));
        TRY(matrix(g, NAME("attn_q_b.weight"), Q, q_dim, 0, &w->wq_b));
    } else {
        TRY(matrix(g, NAME("attn_q.weight"), E, q_dim, 0, &lw->wq));
    }
    TRY(matrix(g, NAME("attn_kv_a_mqa.weight"), E, C + R, 0, &w->wkv_a));
    TRY(vector_f32(g, NAME("attn_kv_a_norm.weight"), C, 0, &w->kv_a_norm));
    if (gguf_find_tensor(g, NAME("attn_kv_b.weight")) >= 0) {
        if (gguf_find_tensor(g, NAME("attn_k_b.weight")) >= 0) {
            return mla4j_fail(MLA4J_ERR_FORMAT, "%s: layer %d has both attn_kv_b and attn_k_b (one form or the other)", g->name, il);
        }
        return split_kv_b(g, hp, NAME("attn_kv_b.weight"), w);
    }
    TRY(matrix3(g, NAME("attn_k_b.weight"), N, C, H, 0, &w->k_b));
    TRY(matrix3(g, NAME("attn_v_b.weight"), C, Dv, H, 0, &w->v_b));
#undef NAME
    return MLA4J_OK;
}

static mla4j_status load_mha2mla_layer(const mla4j_gguf *g, const mla4j_hparams *hp, int il, layer_weights *lw,
                                       mla_weights *w) {
    char name[64];
    const int64_t E = hp->n_embd, H = hp->n_head, Hkv = hp->n_head_kv, C = hp->kv_lora_rank, r = hp->rope_dim;
    const int64_t N = hp->head_dim_nope, Dv = hp->head_dim_v;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    TRY(matrix(g, NAME("attn_q.weight"), E, H * hp->head_dim_k, 0, &lw->wq));
    TRY(vector_f32(g, NAME("attn_q.bias"), H * hp->head_dim_k, 1, &lw->bq));
    if (r > 0) {
        TRY(matrix(g, NAME("attn_k_rope.weight"), E, Hkv * r, 0, &w->wk_rope));
        TRY(vector_f32(g, NAME("attn_k_rope.bias"), Hkv * r, 1, &w->bk_rope));
        const gguf_tensor *t;
        TRY(find_tensor(g, NAME("attn_rope_freqs"), r / 2, Hkv, 0, &t));
        if (t->type != MLA4J_TYPE_F32) return mla4j_fail(MLA4J_ERR_FORMAT, "%s: tensor '%s' must be F32", g->name, name);
        w->rope_theta = (const float *)t->data;
    }
    TRY(matrix(g, NAME("attn_kv_a.weight"), E, C, 0, &w->wkv_a));
    TRY(vector_f32(g, NAME("attn_kv_a_norm.weight"), C, !hp->latent_norm, &w->kv_a_norm));
    /* RoPE on the whole key (r = d_h, the exact GQA-as-MLA form): no key dims go through the latent, no attn_k_b. */
    if (N > 0) TRY(matrix3(g, NAME("attn_k_b.weight"), N, C, Hkv, 0, &w->k_b));
    TRY(matrix3(g, NAME("attn_v_b.weight"), C, Dv, Hkv, 0, &w->v_b));
    TRY(vector_f32(g, NAME("attn_v_b.bias"), Hkv * Dv, 1, &w->bv_b));
#undef NAME
    return MLA4J_OK;
}

mla4j_status mla_load_weights(mla4j_model *m) {
    const mla4j_hparams *hp = &m->hp;
    m->mla = calloc((size_t)hp->n_layer, sizeof *m->mla);
    if (m->mla == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "%s: out of memory for %d layers", m->gguf->name, hp->n_layer);
    m->n_abs = is_deepseek2(hp) ? hp->n_head : hp->n_head_kv;
    m->n_rope_heads = hp->n_rope_heads;
    for (int il = 0; il < hp->n_layer; il++) {
        TRY(is_deepseek2(hp) ? load_deepseek2_layer(m->gguf, hp, il, &m->layers[il], &m->mla[il])
                             : load_mha2mla_layer(m->gguf, hp, il, &m->layers[il], &m->mla[il]));
    }
    return MLA4J_OK;
}

void mla_free_weights(mla4j_model *m) {
    if (m->mla == NULL) return;
    for (int il = 0; il < m->hp.n_layer; il++) free(m->mla[il].owned);
    free(m->mla);
    m->mla = NULL;
}
