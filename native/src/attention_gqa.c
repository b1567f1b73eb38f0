/* attention_gqa.c - blocked attention of a prompt batch for llama/qwen2 (grouped-query) models.
 *
 * The plain loop (context.c, attention_worker: one task per token and head, each key read and converted once per
 * query) is kept for small batches and decode, and is the reference this one is tested against (test_model runs
 * batches of 1, 7 and 128 against the scalar token-by-token logits). Here one task takes a KV head and a block of
 * GQA_QUERY_BLOCK tokens: each block of GQA_KEY_BLOCK cache positions is converted to floats once and scored by
 * every query of the group and block at once (the flash-attention loop with an online softmax), with the float
 * kernels of the MLA attention (mla_kernels: scores, scale_max, exp_sum, weighted_sum). */
#include "context.h"

#include <math.h>
#include <string.h>

typedef struct gqa_task {
    mla4j_context *c;
    int il;
    int64_t row0, n_tok; /* the run: batch rows row0 .. row0 + n_tok - 1 */
    int32_t pos0;        /* position of row0 */
    const kv_seq *seq;
} gqa_task;

size_t gqa_scratch_floats(const mla4j_hparams *hp) {
    const int64_t group = hp->n_head / hp->n_head_kv, nq = group * GQA_QUERY_BLOCK;
    const int64_t dk = hp->head_dim_k, dv = hp->head_dim_v;
    /* queries, scores, accumulators, max and sum; one key tile and one value tile */
    return (size_t)(nq * (dk + GQA_KEY_BLOCK + dv + 2) + GQA_KEY_BLOCK * (dk + dv));
}

static void gqa_worker(void *arg, int ith, int nth) {
    const gqa_task *a = arg;
    mla4j_context *c = a->c;
    const mla4j_hparams *hp = &c->model->hp;
    const mla_kernels *kern = mla_kernels_for(c->simd);
    const int64_t H = hp->n_head, Hkv = hp->n_head_kv, group = H / Hkv;
    const int64_t dk = hp->head_dim_k, dv = hp->head_dim_v, k_dim = Hkv * dk, v_dim = Hkv * dv;
    const float scale = 1.0f / sqrtf((float)dk);
    const int32_t type = c->kv_elem_size == 4 ? MLA4J_TYPE_F32 : MLA4J_TYPE_F16;
    const kv_pool *kv = &c->kv;
    const size_t es = c->kv_elem_size;
    const int64_t nqmax = group * GQA_QUERY_BLOCK;
    float *qb = c->gqa_scratch + (size_t)ith * gqa_scratch_floats(hp);
    float *s = qb + nqmax * dk, *acc = s + nqmax * GQA_KEY_BLOCK, *mx = acc + nqmax * dv, *sum = mx + nqmax;
    float *kt = sum + nqmax, *vt = kt + GQA_KEY_BLOCK * dk;
    const int64_t n_blocks = (a->n_tok + GQA_QUERY_BLOCK - 1) / GQA_QUERY_BLOCK;
    for (int64_t task = ith; task < Hkv * n_blocks; task += nth) {
        const int64_t hk = task % Hkv, t0 = (task / Hkv) * GQA_QUERY_BLOCK;
        const int64_t nt = a->n_tok - t0 < GQA_QUERY_BLOCK ? a->n_tok - t0 : GQA_QUERY_BLOCK, nq = group * nt;
        /* Query i = head hk*group + i/nt of token t0 + i%nt. */
        for (int64_t i = 0; i < nq; i++) {
            const int64_t h = hk * group + i / nt, t = a->row0 + t0 + i % nt;
            memcpy(qb + i * dk, c->q + (t * H + h) * dk, (size_t)dk * sizeof(float));
            mx[i] = -INFINITY;
            sum[i] = 0.0f;
        }
        memset(acc, 0, (size_t)(nq * dv) * sizeof(float));
        const int64_t n_keys = a->pos0 + t0 + nt; /* the last token of the block sees keys 0..n_keys-1 */
        for (int64_t j0 = 0; j0 < n_keys; j0 += GQA_KEY_BLOCK) {
            const int64_t nb = n_keys - j0 < GQA_KEY_BLOCK ? n_keys - j0 : GQA_KEY_BLOCK;
            /* GQA_KEY_BLOCK divides the cache block size: one block holds these positions */
            kern->dequant_rows(type, kv_k_row(kv, a->seq, a->il, j0) + (size_t)(hk * dk) * es, (size_t)k_dim * es, nb, dk, kt);
            kern->dequant_rows(type, kv_v_row(kv, a->seq, a->il, j0) + (size_t)(hk * dv) * es, (size_t)v_dim * es, nb, dv, vt);
            kern->scores(kt, nb, qb, nq, dk, s, GQA_KEY_BLOCK);
            for (int64_t i = 0; i < nq; i++) {
                float *row = s + i * GQA_KEY_BLOCK;
                /* causal: token t sees positions <= pos0 + t */
                const int64_t last = a->pos0 + t0 + i % nt, nv = last - j0 + 1 < nb ? last - j0 + 1 : nb;
                if (nv <= 0) {
                    memset(row, 0, (size_t)nb * sizeof(float));
                    continue;
                }
                const float bmax = kern->scale_max(row, nv, scale);
                const float m_new = bmax > mx[i] ? bmax : mx[i];
                const float keep = mx[i] == -INFINITY ? 0.0f : expf(mx[i] - m_new);
                if (keep != 1.0f) {
                    for (int64_t d = 0; d < dv; d++) acc[i * dv + d] *= keep;
                }
                sum[i] = sum[i] * keep + kern->exp_sum(row, nv, m_new);
                mx[i] = m_new;
                if (nv < nb) memset(row + nv, 0, (size_t)(nb - nv) * sizeof(float));
            }
            kern->weighted_sum(vt, nb, dv, s, GQA_KEY_BLOCK, nq, acc, dv);
        }
        for (int64_t i = 0; i < nq; i++) {
            const int64_t h = hk * group + i / nt, t = a->row0 + t0 + i % nt;
            float *out = c->att + (t * H + h) * dv;
            const float inv = 1.0f / sum[i];
            for (int64_t d = 0; d < dv; d++) out[d] = acc[i * dv + d] * inv;
        }
    }
}

void gqa_attention_blocked(mla4j_context *c, int il, const kv_run *run) {
    gqa_task task = {c, il, run->row0, run->n, run->pos0, &c->seqs[run->seq]};
    mla4j_pool_run(c->pool, gqa_worker, &task);
}
