/* attention_mla_mha.c - the MHA (decompressed) form of multi-head latent attention, for large prefill batches.
 *
 * The absorbed form (attention_mla.c) costs (C + R) + C multiply-adds per head, query and cached position: for a
 * batch of n queries over S positions that is n x S x H x (2C + R). Decompressing the keys and values of every
 * position once per batch costs S x n_abs x C x (N + Dv), after which attention runs as ordinary MHA at
 * (N + R) + Dv per head, query and position. For large n the second is several times cheaper (1B deepseek2
 * shape: 1088 against 192 per score plus 65536 per position and head), so batches of at least
 * MLA_MHA_MIN_BATCH tokens (context.h; measured, docs/BENCHMARKS.md) run here.
 *
 * Keys and values are decompressed a block of MLA_MHA_KEY_BLOCK positions at a time (never for the whole
 * context): per absorption slice g and block, [K_nope | V] = X_c [W_UK(g) | W_UV(g)^T] (X_c: the block's latents
 * read back from the cache, so the result is the absorbed form's up to float rounding), the scores of each head
 * of the slice are Q_h [K_nope | k_R]^T, the softmax is online (flash attention) and P V accumulates directly in
 * the attention output. Threads take slices (or parts of a slice's heads when there are fewer slices than
 * threads). */
#include "context.h"

#include <math.h>
#include <string.h>

static void gemm(const mla4j_context *c, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float *Cm, int64_t ldc, int accumulate) {
    if (M > 0) c->mla.kern->gemm_nn(M, N, K, A, lda, B, ldb, Cm, ldc, accumulate);
}

typedef struct mha_task {
    mla4j_context *c;
    int il;
    int64_t row0, n_tok; /* the run: batch rows row0 .. row0 + n_tok - 1 */
    int32_t pos0;        /* position of row0 */
    const kv_seq *seq;
    int parts; /* work items per slice */
} mha_task;

/* B = [W_UK(g) | W_UV(g)^T] as floats, C rows of N + Dv. */
static void slice_matrix(const mla4j_context *c, const mla_weights *w, int64_t g, float *B, float *row) {
    const mla4j_hparams *hp = &c->model->hp;
    const int64_t C = hp->kv_lora_rank, N = hp->head_dim_nope, Dv = hp->head_dim_v, ld = N + Dv;
    for (int64_t k = 0; k < C && N > 0; k++) { /* N = 0: mha2mla with RoPE on the whole key has no attn_k_b */
        kern_dequantize_row(w->k_b.type, (const uint8_t *)w->k_b.data + (size_t)(g * C + k) * w->k_b.row_bytes, B + k * ld, N);
    }
    for (int64_t d = 0; d < Dv; d++) {
        kern_dequantize_row(w->v_b.type, (const uint8_t *)w->v_b.data + (size_t)(g * Dv + d) * w->v_b.row_bytes, row, C);
        for (int64_t k = 0; k < C; k++) B[k * ld + N + d] = row[k];
    }
}

static void mha_worker(void *arg, int ith, int nth) {
    const mha_task *a = arg;
    mla4j_context *c = a->c;
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const mla_weights *w = &m->mla[a->il];
    mla_state *st = &c->mla;
    const int64_t H = hp->n_head, C = hp->kv_lora_rank, N = hp->head_dim_nope, R = hp->rope_dim, Dk = hp->head_dim_k;
    const int64_t Dv = hp->head_dim_v, W = st->width, ldkv = N + Dv, KB = MLA_MHA_KEY_BLOCK;
    const int64_t group = H / m->n_abs, per_rope = H / m->n_rope_heads, n_tok = a->n_tok, nb_cap = c->params.n_batch;
    const float scale = hp->kq_scale;
    float *B = st->mha_b + (size_t)ith * (size_t)(C * ldkv);
    float *X = st->mha_x + (size_t)ith * (size_t)(KB * W);
    float *KV = st->mha_kv + (size_t)ith * (size_t)(KB * ldkv);
    float *Kt = st->mha_kt + (size_t)ith * (size_t)(Dk * KB);
    float *S = st->mha_s + (size_t)ith * (size_t)(nb_cap * KB);
    float *ml = st->mha_ml + (size_t)ith * (size_t)(2 * nb_cap * group);
    float *row = st->mha_row + (size_t)ith * (size_t)C;
    const int64_t n_keys = a->pos0 + n_tok, n_items = m->n_abs * a->parts;
    float *const att = c->att + a->row0 * H * Dv; /* the run's rows */
    const float *const q = c->q + a->row0 * H * Dk;

    for (int64_t item = ith; item < n_items; item += nth) {
        const int64_t g = item / a->parts, part = item % a->parts;
        int64_t heads[64], nh = 0; /* group <= 64: checked in mla_context_init */
        for (int64_t j = part; j < group; j += a->parts) heads[nh++] = g * group + j;
        slice_matrix(c, w, g, B, row);
        for (int64_t j = 0; j < nh; j++) {
            float *mj = ml + j * 2 * nb_cap, *lj = mj + nb_cap;
            for (int64_t t = 0; t < n_tok; t++) {
                mj[t] = -INFINITY;
                lj[t] = 0.0f;
                memset(att + (t * H + heads[j]) * Dv, 0, (size_t)Dv * sizeof(float));
            }
        }
        for (int64_t b = 0; b < n_keys; b += KB) {
            const int64_t nb = n_keys - b < KB ? n_keys - b : KB;
            const int64_t t_lo = b > a->pos0 ? b - a->pos0 : 0; /* rows before t_lo see none of this block */
            if (t_lo >= n_tok) break;
            for (int64_t s = 0; s < nb;) { /* the key block may span two cache blocks */
                const int64_t n = kv_run_in_block(&c->kv, b + s, nb - s);
                st->kern->dequant_rows(c->params.kv_type, kv_k_row(&c->kv, a->seq, a->il, b + s), st->row_bytes, n, W, X + s * W);
                s += n;
            }
            gemm(c, nb, ldkv, C, X, W, B, ldkv, KV, ldkv, 0); /* [K_nope | V] of the block */
            int64_t kt_rope = -1;
            for (int64_t j = 0; j < nh; j++) {
                const int64_t h = heads[j], rh = h / per_rope;
                if (kt_rope != rh) { /* Kt = [K_nope | k_R(rh)]^T, Dk rows of nb */
                    for (int64_t s = 0; s < nb; s++) {
                        for (int64_t n = 0; n < N; n++) Kt[n * KB + s] = KV[s * ldkv + n];
                        for (int64_t r = 0; r < R; r++) Kt[(N + r) * KB + s] = X[s * W + C + rh * R + r];
                    }
                    kt_rope = rh;
                }
                const int64_t nrow = n_tok - t_lo;
                gemm(c, nrow, nb, Dk, q + (t_lo * H + h) * Dk, H * Dk, Kt, KB, S, KB, 0);
                float *mj = ml + j * 2 * nb_cap, *lj = mj + nb_cap;
                for (int64_t t = t_lo; t < n_tok; t++) {
                    float *srow = S + (t - t_lo) * KB;
                    int64_t valid = a->pos0 + t + 1 - b; /* causal: positions <= the token's own */
                    if (valid > nb) valid = nb;
                    const float mx = st->kern->scale_max(srow, valid, scale);
                    if (mx > mj[t]) {
                        const float f = expf(mj[t] - mx); /* 0 on the first block (m = -inf) */
                        if (f != 1.0f) {
                            float *o = att + (t * H + h) * Dv;
                            for (int64_t d = 0; d < Dv; d++) o[d] *= f;
                            lj[t] *= f;
                        }
                        mj[t] = mx;
                    }
                    const float sum = st->kern->exp_sum(srow, valid, mj[t]);
                    for (int64_t s = valid; s < nb; s++) srow[s] = 0.0f;
                    lj[t] += sum;
                }
                gemm(c, nrow, Dv, nb, S, KB, KV + N, ldkv, att + (t_lo * H + h) * Dv, H * Dv, 1);
            }
        }
        for (int64_t j = 0; j < nh; j++) {
            const int64_t h = heads[j];
            const float *lj = ml + j * 2 * nb_cap + nb_cap;
            const float *bias = w->bv_b != NULL ? w->bv_b + (h / (H / hp->n_head_kv)) * Dv : NULL;
            for (int64_t t = 0; t < n_tok; t++) {
                float *o = att + (t * H + h) * Dv;
                const float inv = 1.0f / lj[t];
                for (int64_t d = 0; d < Dv; d++) o[d] = o[d] * inv + (bias != NULL ? bias[d] : 0.0f);
            }
        }
    }
}

void mla_attention_mha(mla4j_context *c, int il, const kv_run *run) {
    const int64_t n_abs = c->model->n_abs, group = c->model->hp.n_head / n_abs;
    const int nth = mla4j_pool_size(c->pool);
    int64_t parts = n_abs >= nth ? 1 : (nth + n_abs - 1) / n_abs;
    if (parts > group) parts = group;
    mha_task task = {c, il, run->row0, run->n, run->pos0, &c->seqs[run->seq], (int)parts};
    mla4j_pool_run(c->pool, mha_worker, &task);
}
