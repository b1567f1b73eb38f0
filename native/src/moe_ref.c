/* moe_ref.c - the reference of moe.c: per token, the router's logits, the routing written out plainly (sorting
 * by insertion), and a loop over the chosen experts with every weight row dequantized and dotted in double. It
 * shares nothing with moe.c but the weight views, so the tests compare two independent codings of llama.cpp's
 * build_moe_ffn. */
#include "moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y[r] = W[first + r] . x for r < n, in double. */
static void ref_matvec(const kern_matrix *w, int64_t first, int64_t n, const float *x, float *y, float *row) {
    for (int64_t r = 0; r < n; r++) {
        kern_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)(first + r) * w->row_bytes, row, w->cols);
        double acc = 0.0;
        for (int64_t i = 0; i < w->cols; i++) acc += (double)row[i] * x[i];
        y[r] = (float)acc;
    }
}

/* Indices 0..n-1 ordered by v descending (stable: equal values keep index order). */
static void order_desc(const float *v, int64_t n, int32_t *idx) {
    for (int64_t i = 0; i < n; i++) {
        int64_t j = i;
        while (j > 0 && v[idx[j - 1]] < v[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = (int32_t)i;
    }
}

mla4j_status moe_ffn_ref(const mla4j_model *m, int il, const float *x, int64_t n_tok, float *out) {
    const moe_hparams *mh = &m->moe_hp;
    const moe_weights *w = &m->moe[il];
    const int64_t X = mh->n_expert, k = mh->n_expert_used, E = m->hp.n_embd, F = mh->n_ff_exp;
    const int64_t FS = w->gate_shexp.data != NULL ? w->gate_shexp.rows : 0;
    const int64_t Fmax = F > FS ? F : FS, W = E > Fmax ? E : Fmax;
    float *logits = malloc((size_t)X * 4), *probs = malloc((size_t)X * 4), *sel = malloc((size_t)X * 4);
    float *gv = malloc((size_t)Fmax * 4), *uv = malloc((size_t)Fmax * 4), *dv = malloc((size_t)E * 4);
    float *row = malloc((size_t)W * 4);
    int32_t *idx = malloc((size_t)X * 4);
    mla4j_status st = MLA4J_OK;
    if (!logits || !probs || !sel || !gv || !uv || !dv || !row || !idx) {
        st = mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "moe_ffn_ref: out of memory");
        goto done;
    }
    for (int64_t t = 0; t < n_tok; t++) {
        const float *xt = x + t * E;
        float *o = out + t * E;
        ref_matvec(&w->gate_inp, 0, X, xt, logits, row);
        if (mh->gating == MOE_GATING_SIGMOID) {
            for (int64_t e = 0; e < X; e++) probs[e] = (float)(1.0 / (1.0 + exp(-(double)logits[e])));
        } else {
            double mx = logits[0], sum = 0.0;
            for (int64_t e = 1; e < X; e++) mx = logits[e] > mx ? logits[e] : mx;
            for (int64_t e = 0; e < X; e++) sum += exp((double)logits[e] - mx);
            for (int64_t e = 0; e < X; e++) probs[e] = (float)(exp((double)logits[e] - mx) / sum);
        }
        for (int64_t e = 0; e < X; e++) sel[e] = probs[e] + (w->exp_probs_b ? w->exp_probs_b[e] : 0.0f);
        if (mh->n_group > 1) {
            const int64_t G = mh->n_group, per = X / G;
            float gs[MOE_MAX_EXPERTS];
            int32_t gi[MOE_MAX_EXPERTS], in_group[MOE_MAX_EXPERTS];
            for (int64_t g = 0; g < G; g++) {
                order_desc(sel + g * per, per, in_group);
                gs[g] = sel[g * per + in_group[0]] + (per > 1 ? sel[g * per + in_group[1]] : 0.0f);
            }
            order_desc(gs, G, gi);
            for (int64_t r = mh->n_group_used; r < G; r++)
                for (int64_t i = 0; i < per; i++) sel[gi[r] * per + i] = -INFINITY;
        }
        order_desc(sel, X, idx);
        double wsum = 0.0;
        for (int64_t j = 0; j < k; j++) wsum += probs[idx[j]];
        memset(o, 0, (size_t)E * 4);
        for (int64_t j = 0; j < k; j++) {
            const int64_t e = idx[j];
            double wt = probs[e];
            if (mh->norm_w) wt /= wsum < 6.103515625e-5 ? 6.103515625e-5 : wsum;
            if (mh->w_scale != 0.0f && mh->w_scale != 1.0f) wt *= mh->w_scale;
            ref_matvec(&w->gate_exps, e * w->gate_up_stride, F, xt, gv, row);
            ref_matvec(&w->up_exps, e * w->gate_up_stride, F, xt, uv, row);
            for (int64_t i = 0; i < F; i++) gv[i] = (float)((double)gv[i] / (1.0 + exp(-(double)gv[i])) * uv[i]);
            ref_matvec(&w->down_exps, e * E, E, gv, dv, row);
            for (int64_t i = 0; i < E; i++) o[i] += (float)(wt * dv[i]);
        }
        if (FS > 0) {
            ref_matvec(&w->gate_shexp, 0, FS, xt, gv, row);
            ref_matvec(&w->up_shexp, 0, FS, xt, uv, row);
            for (int64_t i = 0; i < FS; i++) gv[i] = (float)((double)gv[i] / (1.0 + exp(-(double)gv[i])) * uv[i]);
            ref_matvec(&w->down_shexp, 0, E, gv, dv, row);
            for (int64_t i = 0; i < E; i++) o[i] += dv[i];
        }
    }
done:
    free(logits), free(probs), free(sel), free(gv), free(uv), free(dv), free(row), free(idx);
    return st;
}
