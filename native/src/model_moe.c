/* model_moe.c - the Mixture-of-Experts part of deepseek2 as llama.cpp loads it (src/models/deepseek2.cpp,
 * llama-model.cpp): layers from leading_dense_block_count on replace the dense FFN with a router
 * (ffn_gate_inp), an optional selection bias (exp_probs_b), the routed experts' 3-D tensors
 * (ffn_{gate,up,down}_exps, or a fused ffn_gate_up_exps) and the shared experts (ffn_{gate,up,down}_shexp).
 * Every count is bounded and every tensor's shape checked before the forward pass may use it, with one-line
 * errors that name the key or tensor. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mla4j_status moe_read_hparams(loader *l, const mla4j_hparams *hp, moe_hparams *moe) {
    const mla4j_gguf *g = l->g;
    memset(moe, 0, sizeof *moe);
    TRY(get_int(l, "leading_dense_block_count", 0, 0, 0, INT32_MAX, &moe->n_dense_lead));
    int32_t experts = 0;
    TRY(get_int(l, "expert_count", 0, 0, 0, INT32_MAX, &experts));
    if (moe->n_dense_lead >= hp->n_layer) {
        moe->n_dense_lead = hp->n_layer; /* every layer dense: the expert keys are not used */
        return MLA4J_OK;
    }
    /* Layers from n_dense_lead on are MoE layers: the expert keys must describe them. */
    TRY(get_int(l, "expert_count", 1, 0, 1, MOE_MAX_EXPERTS, &moe->n_expert));
    TRY(get_int(l, "expert_used_count", 1, 0, 1, moe->n_expert, &moe->n_expert_used));
    TRY(get_int(l, "expert_shared_count", 1, 0, 0, MOE_MAX_EXPERTS, &moe->n_expert_shared));
    TRY(get_int(l, "expert_feed_forward_length", 1, 0, 1, MAX_EMBD * 16, &moe->n_ff_exp));
    TRY(get_int(l, "expert_group_count", 0, 0, 0, moe->n_expert - 1, &moe->n_group));
    if (moe->n_group > 1) {
        if (moe->n_expert % moe->n_group != 0) {
            return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s.expert_group_count' = %d does not divide expert_count %d", g->name,
                              l->arch, moe->n_group, moe->n_expert);
        }
        TRY(get_int(l, "expert_group_used_count", 1, 0, 1, moe->n_group - 1, &moe->n_group_used));
        const int32_t reachable = moe->n_group_used * (moe->n_expert / moe->n_group);
        if (moe->n_expert_used > reachable) {
            return mla4j_fail(MLA4J_ERR_FORMAT, "%s: key '%s.expert_used_count' = %d exceeds the %d experts of the %d groups "
                              "expert_group_used_count lets the router choose", g->name, l->arch, moe->n_expert_used,
                              reachable, moe->n_group_used);
        }
    }
    TRY(get_float(l, "expert_weights_scale", 0, 0.0, &moe->w_scale));
    TRY(get_int(l, "expert_weights_norm", 0, 0, 0, 1, &moe->norm_w));
    TRY(get_int(l, "expert_gating_func", 0, 0, 0, 4, &moe->gating));
    if (moe->gating == 0) {
        /* llama.cpp: files without the key are DeepSeek V2/V2.5 (softmax), except GLM 4.7 Lite (sigmoid). */
        int64_t vocab = 0, ti = gguf_find_tensor(g, "token_embd.weight");
        if (ti >= 0) vocab = g->tensors[ti].ne[1];
        moe->gating = (hp->n_layer == 47 || hp->n_layer == 48) && vocab == 154880 ? MOE_GATING_SIGMOID : MOE_GATING_SOFTMAX;
    }
    if (moe->gating != MOE_GATING_SOFTMAX && moe->gating != MOE_GATING_SIGMOID) {
        return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: key '%s.expert_gating_func' = %d is not supported (1 softmax, 2 sigmoid)",
                          g->name, l->arch, moe->gating);
    }
    return MLA4J_OK;
}

static mla4j_status load_layer(const mla4j_gguf *g, const mla4j_hparams *hp, const moe_hparams *mh, int il, moe_weights *w) {
    char name[64];
    const int64_t E = hp->n_embd, X = mh->n_expert, F = mh->n_ff_exp, FS = (int64_t)mh->n_ff_exp * mh->n_expert_shared;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    TRY(matrix(g, NAME("ffn_gate_inp.weight"), E, X, 0, &w->gate_inp));
    TRY(vector_f32(g, NAME("exp_probs_b.bias"), X, 1, &w->exp_probs_b));
    kern_matrix fused;
    TRY(matrix3(g, NAME("ffn_gate_up_exps.weight"), E, 2 * F, X, 1, &fused));
    if (fused.data != NULL) {
        /* Each expert's 2F rows: the gate's F, then the up projection's F. */
        w->gate_exps = fused;
        w->up_exps = fused;
        w->up_exps.data = (const uint8_t *)fused.data + (size_t)F * fused.row_bytes;
        w->gate_up_stride = 2 * F;
    } else {
        TRY(matrix3(g, NAME("ffn_gate_exps.weight"), E, F, X, 0, &w->gate_exps));
        TRY(matrix3(g, NAME("ffn_up_exps.weight"), E, F, X, 0, &w->up_exps));
        w->gate_up_stride = F;
    }
    TRY(matrix3(g, NAME("ffn_down_exps.weight"), F, E, X, 0, &w->down_exps));
    if (FS > 0) {
        TRY(matrix(g, NAME("ffn_gate_shexp.weight"), E, FS, 0, &w->gate_shexp));
        TRY(matrix(g, NAME("ffn_up_shexp.weight"), E, FS, 0, &w->up_shexp));
        TRY(matrix(g, NAME("ffn_down_shexp.weight"), FS, E, 0, &w->down_shexp));
    } else {
        /* No shared experts: llama.cpp still requires the tensors, then empty ({E, 0}); accept them so or absent. */
        const char *names[] = {"ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp"};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", il, names[i]);
            int64_t ti = gguf_find_tensor(g, name);
            if (ti >= 0 && g->tensors[ti].nbytes != 0) {
                return mla4j_fail(MLA4J_ERR_FORMAT, "%s: tensor '%s' is not empty but expert_shared_count is 0", g->name, name);
            }
        }
    }
#undef NAME
    return MLA4J_OK;
}

mla4j_status moe_load_weights(mla4j_model *m) {
    const moe_hparams *mh = &m->moe_hp;
    m->moe = calloc((size_t)m->hp.n_layer, sizeof *m->moe);
    if (m->moe == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "%s: out of memory for %d layers", m->gguf->name, m->hp.n_layer);
    for (int il = mh->n_dense_lead; il < m->hp.n_layer; il++) TRY(load_layer(m->gguf, &m->hp, mh, il, &m->moe[il]));
    return MLA4J_OK;
}
