/* context.c - a context owns the KV cache, the activation buffers and the thread pool of one session, and runs
 * the llama/qwen2 forward pass over batches of tokens with llama.cpp's semantics:
 *   x = embed(tokens)
 *   per layer: h = x + Wo * attention(rope(Wq*rmsnorm(x)), rope(Wk*..), Wv*..)   (grouped-query attention)
 *              x = h + Wdown * (silu(Wgate*rmsnorm(h)) * Wup*rmsnorm(h))
 *   logits = Woutput * rmsnorm(x)
 * An attached calibration (calib.c) sees every layer's attention input and pre-RoPE queries and keys.
 * Matrix products take all tokens of the batch at once (prompt processing is matrix-matrix, not matrix-vector). */
#include "context.h"

#include "calib.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


MLA4J_API void mla4j_context_params_init(mla4j_context_params *p) {
    if (p == NULL) return;
    p->n_ctx = 0;
    p->n_threads = 0;
    p->n_batch = 512;
    p->kv_type = MLA4J_TYPE_F16;
    p->simd = MLA4J_SIMD_AUTO;
}

static void free_buffers(mla4j_context *c) {
    void *bufs[] = {c->x, c->xn, c->q, c->k, c->v, c->att, c->gate, c->up, c->logits, c->scores, c->att_acc,
                    c->act_scratch, c->gqa_scratch, c->row_seq, c->row_pos, c->row_plain, c->runs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    if (c->seqs != NULL)
        for (int32_t i = 0; i < c->n_seqs; i++) kv_seq_free(&c->seqs[i]);
    free(c->seqs);
    kv_pool_free(&c->kv);
}

MLA4J_API void mla4j_context_free(mla4j_context *c) {
    if (c == NULL) return;
    if (c->calib != NULL) calib_detach(c->calib);
    mla4j_pool_free(c->pool);
    if (c->model->hp.is_mla) mla_context_free(c);
    moe_state_free(&c->moe);
    free_buffers(c);
    free(c);
}

/* Overflow-checked a*b*c*d bytes, refused above max. */
static int size4(uint64_t a, uint64_t b, uint64_t c, uint64_t d, size_t *out) {
    uint64_t r;
    if (!mla4j_mul_u64(a, b, &r) || !mla4j_mul_u64(r, c, &r) || !mla4j_mul_u64(r, d, &r) || r > SIZE_MAX / 2) return 0;
    *out = (size_t)r;
    return 1;
}

static size_t max_act_size(const mla4j_model *m, int64_t n_batch) {
    const mla4j_hparams *hp = &m->hp;
    /* the output matrix takes every token of the batch when all logits are asked for (mla4j eval) */
    size_t best = kern_act_size(m->output.type, hp->n_embd, n_batch);
    for (int il = 0; il < hp->n_layer; il++) {
        const layer_weights *lw = &m->layers[il];
        const kern_matrix *ms[] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo, &lw->w_gate, &lw->w_up, &lw->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
            size_t s = kern_act_size(ms[i]->type, ms[i]->cols, n_batch);
            if (s > best) best = s;
        }
        if (m->mla != NULL) {
            const mla_weights *w = &m->mla[il];
            const kern_matrix *mm[] = {&w->wq_a, &w->wq_b, &w->wkv_a, &w->wk_rope};
            for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
                size_t s = mm[i]->data != NULL ? kern_act_size(mm[i]->type, mm[i]->cols, n_batch) : 0;
                if (s > best) best = s;
            }
        }
    }
    return best;
}

/* The cache of a context: n_seqs 0 is a single session (one sequence owning the blocks of n_ctx positions in order),
 * else a pool of n_blocks blocks of block_tokens shared by n_seqs sequences of up to n_ctx positions (batch.c). */
mla4j_status context_create(const mla4j_model *m, const mla4j_context_params *params, int32_t n_seqs, int32_t n_blocks,
                            int32_t block_tokens, mla4j_context **out) {
    MLA4J_CHECK_ARG(m != NULL && out != NULL, "mla4j_context_create: model and out must not be NULL");
    mla4j_context_params p;
    if (params != NULL) {
        p = *params;
    } else {
        mla4j_context_params_init(&p);
    }
    const mla4j_hparams *hp = &m->hp;
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train;
    if (p.n_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        p.n_threads = n > 0 ? (int32_t)n : 1;
    }
    if (p.n_batch == 0) p.n_batch = 512;
    MLA4J_CHECK_ARG(p.n_ctx > 0, "n_ctx must be positive (got %d)", p.n_ctx);
    MLA4J_CHECK_ARG(p.n_threads > 0 && p.n_threads <= 1024, "n_threads must be in [1, 1024] (got %d)", p.n_threads);
    MLA4J_CHECK_ARG(p.n_batch > 0 && p.n_batch <= 65536, "n_batch must be in [1, 65536] (got %d)", p.n_batch);
    MLA4J_CHECK_ARG(p.kv_type == MLA4J_TYPE_F32 || p.kv_type == MLA4J_TYPE_F16 ||
                        (hp->is_mla && (p.kv_type == MLA4J_TYPE_Q8_0 || p.kv_type == MLA4J_TYPE_Q4_0)),
                    "KV cache type %d is not supported (F32 = 0, F16 = 1; latent caches of MLA models also Q8_0 = 8, "
                    "Q4_0 = 2)", p.kv_type);
    MLA4J_CHECK_ARG(p.simd >= MLA4J_SIMD_AUTO && p.simd <= MLA4J_SIMD_NEON_I8MM, "unknown simd level %d", p.simd);
    if (n_seqs == 0 && p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    const int single = n_seqs == 0;
    if (single) {
        block_tokens = KV_BLOCK_TOKENS;
        n_blocks = (int32_t)(((int64_t)p.n_ctx + block_tokens - 1) / block_tokens);
    }

    mla4j_context *c = calloc(1, sizeof *c);
    if (c == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory creating a context");
    c->model = m;
    c->params = p;
    c->simd = kern_resolve_simd(p.simd);
    c->kv_elem_size = p.kv_type == MLA4J_TYPE_F32 ? 4 : 2;

    const uint64_t nb = (uint64_t)p.n_batch, E = (uint64_t)hp->n_embd;
    const uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim_k, o_dim = (uint64_t)hp->n_head * hp->head_dim_v;
    const uint64_t k_dim = (uint64_t)hp->n_head_kv * hp->head_dim_k, v_dim = (uint64_t)hp->n_head_kv * hp->head_dim_v;
    /* A single session's cache holds exactly n_ctx rows per layer; a pool whole blocks. */
    const uint64_t rows = single ? (uint64_t)p.n_ctx : (uint64_t)n_blocks * (uint64_t)block_tokens;
    uint64_t k_row, v_row;
    size_t k_total, v_total, sz;
    if (hp->is_mla) {
        /* One latent row per token and layer, no separate values. */
        k_row = kv_row_bytes(p.kv_type, (int64_t)hp->kv_lora_rank + (int64_t)hp->n_rope_heads * hp->rope_dim);
        v_row = 0;
        if (k_row == 0) {
            mla4j_context_free(c);
            return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "a latent cache row of %d values cannot be stored as type %d "
                              "(Q8_0 and Q4_0 caches need a multiple of 32)",
                              hp->kv_lora_rank + hp->n_rope_heads * hp->rope_dim, p.kv_type);
        }
    } else {
        k_row = k_dim * c->kv_elem_size;
        v_row = v_dim * c->kv_elem_size;
    }
    if (!size4(rows, k_row, 1, hp->n_layer, &k_total) || !size4(rows, v_row, 1, hp->n_layer, &v_total)) {
        mla4j_context_free(c);
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "a KV cache of %llu positions is too large for this model",
                          (unsigned long long)rows);
    }
    /* A cache larger than the machine's memory can never be used: refuse it before allocating, with a message
     * that says what to change, instead of relying on malloc (which overcommit may let succeed). */
    uint64_t phys = mla4j_physical_memory();
    if (phys > 0 && (uint64_t)k_total + (uint64_t)v_total > phys) {
        mla4j_context_free(c);
        return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY,
                          "a KV cache of %llu positions needs %llu bytes, more than this machine's %llu bytes of memory; "
                          "ask for a smaller context", (unsigned long long)rows,
                          (unsigned long long)k_total + (unsigned long long)v_total, (unsigned long long)phys);
    }
    mla4j_status st = kv_pool_init(&c->kv, hp->n_layer, n_blocks, block_tokens, (int64_t)rows, k_row, v_row, !single);
    const int32_t seq_cap = (int32_t)(((int64_t)p.n_ctx + block_tokens - 1) / block_tokens);
    c->n_seqs = single ? 1 : n_seqs;
    if (st == MLA4J_OK && (c->seqs = calloc((size_t)c->n_seqs, sizeof *c->seqs)) == NULL) {
        st = mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory for %d sequences", c->n_seqs);
    }
    for (int32_t i = 0; st == MLA4J_OK && i < c->n_seqs; i++) st = kv_seq_init(&c->seqs[i], seq_cap);
    if (st == MLA4J_OK && single) { /* the session's sequence owns every block, in order */
        c->seqs[0].active = 1;
        st = kv_seq_reserve(&c->kv, &c->seqs[0], p.n_ctx);
    }
#define ALLOC(field, bytes, what)                                                                                     \
    if (st == MLA4J_OK && (c->field = mla4j_alloc_aligned((bytes), what)) == NULL) st = MLA4J_ERR_OUT_OF_MEMORY
    ALLOC(x, nb * E * 4, "activations");
    ALLOC(xn, nb * (E > o_dim ? E : o_dim) * 4, "activations");
    ALLOC(q, nb * q_dim * 4, "queries");
    ALLOC(k, nb * k_dim * 4, "keys");
    ALLOC(v, nb * v_dim * 4, "values");
    ALLOC(att, nb * o_dim * 4, "attention output");
    ALLOC(gate, nb * (uint64_t)hp->n_ff * 4, "feed-forward activations");
    ALLOC(up, nb * (uint64_t)hp->n_ff * 4, "feed-forward activations");
    ALLOC(logits, (uint64_t)hp->n_vocab * 4, "logits");
    ALLOC(scores, (uint64_t)p.n_threads * (uint64_t)p.n_ctx * 4, "attention scores");
    ALLOC(att_acc, (uint64_t)p.n_threads * (uint64_t)(hp->head_dim_v + 16) * 4, "attention accumulators");
    ALLOC(row_seq, nb * 4, "batch rows");
    ALLOC(row_pos, nb * 4, "batch rows");
    ALLOC(row_plain, nb, "batch rows");
    ALLOC(runs, nb * sizeof *c->runs, "batch runs");
    sz = max_act_size(m, p.n_batch);
    ALLOC(act_scratch, sz, "converted activations");
    if (!hp->is_mla && p.n_batch >= GQA_MIN_BATCH) {
        ALLOC(gqa_scratch, (uint64_t)p.n_threads * gqa_scratch_floats(hp) * 4, "attention tiles");
    }
#undef ALLOC
    c->act_scratch_size = sz;
    if (st == MLA4J_OK && hp->is_mla) st = mla_context_init(c);
    if (st == MLA4J_OK && m->moe != NULL) st = moe_state_init(&c->moe, m, p.n_batch);
    if (st == MLA4J_OK && (c->pool = mla4j_pool_create(p.n_threads)) == NULL) st = MLA4J_ERR_OUT_OF_MEMORY;
    if (st != MLA4J_OK) {
        mla4j_context_free(c);
        return st;
    }
    *out = c;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_create(const mla4j_model *m, const mla4j_context_params *params, mla4j_context **out) {
    return context_create(m, params, 0, 0, 0, out);
}

/* ---------------------------------------------------------------------------------------------- */
/* Element-wise operations (cheap next to the matrix products; plain C)                           */
/* ---------------------------------------------------------------------------------------------- */

/* y = x / sqrt(mean(x^2) + eps) * w, accumulated in double like ggml; y may be x. */
void rms_norm(const float *x, const float *w, float *y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    const float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

/* ---------------------------------------------------------------------------------------------- */
/* Attention: one task per (token, head), spread over the pool                                    */
/* ---------------------------------------------------------------------------------------------- */

/* The plain loop, for the rows not in a run of GQA_MIN_BATCH+ positions: one task per (row, head), keys and values
 * read block by block from the row's sequence. */
typedef struct attn_task {
    mla4j_context *c;
    int il;
    int64_t n_tok;
} attn_task;

static void attention_worker(void *arg, int ith, int nth) {
    const attn_task *a = arg;
    mla4j_context *c = a->c;
    const mla4j_hparams *hp = &c->model->hp;
    const kv_pool *kv = &c->kv;
    const int H = hp->n_head, group = hp->n_head / hp->n_head_kv;
    const int dk = hp->head_dim_k, dv = hp->head_dim_v;
    const float scale = 1.0f / sqrtf((float)dk);
    const size_t es = c->kv_elem_size, k_row = kv->k_row_bytes, v_row = kv->v_row_bytes;
    float *scores = c->scores + (size_t)ith * (size_t)c->params.n_ctx;
    float *acc = c->att_acc + (size_t)ith * (size_t)(dv + 16);
    const int64_t n_tasks = a->n_tok * H;
    for (int64_t task = ith; task < n_tasks; task += nth) {
        const int64_t t = task / H;
        if (!c->row_plain[t]) continue;
        const kv_seq *seq = &c->seqs[c->row_seq[t]];
        const int h = (int)(task % H), hk = h / group;
        const int32_t n_keys = c->row_pos[t] + 1; /* causal: keys 0..pos */
        const float *qh = c->q + t * (int64_t)H * dk + (int64_t)h * dk;
        float max = -INFINITY;
        for (int32_t j0 = 0; j0 < n_keys; j0 += kv->block_tokens) {
            const int32_t n = (int32_t)kv_run_in_block(kv, j0, n_keys - j0);
            const uint8_t *kb = kv_k_row(kv, seq, a->il, j0) + (size_t)hk * (size_t)dk * es;
            for (int32_t j = 0; j < n; j++) {
                const uint8_t *kj = kb + (size_t)j * k_row;
                float s = es == 4 ? kern_dot_f32(c->simd, (const float *)kj, qh, dk) : kern_dot_f16(c->simd, (const uint16_t *)kj, qh, dk);
                s *= scale;
                scores[j0 + j] = s;
                if (s > max) max = s;
            }
        }
        float sum = 0.0f;
        for (int32_t j = 0; j < n_keys; j++) {
            scores[j] = expf(scores[j] - max);
            sum += scores[j];
        }
        memset(acc, 0, (size_t)dv * sizeof *acc);
        for (int32_t j0 = 0; j0 < n_keys; j0 += kv->block_tokens) {
            const int32_t n = (int32_t)kv_run_in_block(kv, j0, n_keys - j0);
            const uint8_t *vb = kv_v_row(kv, seq, a->il, j0) + (size_t)hk * (size_t)dv * es;
            for (int32_t j = 0; j < n; j++) {
                const uint8_t *vj = vb + (size_t)j * v_row;
                if (es == 4) {
                    kern_axpy_f32(c->simd, scores[j0 + j], (const float *)vj, acc, dv);
                } else {
                    kern_axpy_f16(c->simd, scores[j0 + j], (const uint16_t *)vj, acc, dv);
                }
            }
        }
        float *out = c->att + t * (int64_t)H * dv + (int64_t)h * dv;
        const float inv = 1.0f / sum;
        for (int d = 0; d < dv; d++) out[d] = acc[d] * inv;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* The forward pass over one batch of rows                                                        */
/* ---------------------------------------------------------------------------------------------- */

static void add_bias(float *y, const float *b, int64_t n_tok, int64_t dim) {
    if (b == NULL) return;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < dim; i++) y[t * dim + i] += b[i];
}

/* Each row's key and value into its sequence's cache block. */
static void store_kv(mla4j_context *c, int il, int64_t n_tok) {
    const mla4j_hparams *hp = &c->model->hp;
    const int64_t k_dim = (int64_t)hp->n_head_kv * hp->head_dim_k, v_dim = (int64_t)hp->n_head_kv * hp->head_dim_v;
    for (int64_t t = 0; t < n_tok; t++) {
        const kv_seq *seq = &c->seqs[c->row_seq[t]];
        uint8_t *kc = kv_k_row(&c->kv, seq, il, c->row_pos[t]), *vc = kv_v_row(&c->kv, seq, il, c->row_pos[t]);
        if (c->kv_elem_size == 4) {
            memcpy(kc, c->k + t * k_dim, (size_t)k_dim * 4);
            memcpy(vc, c->v + t * v_dim, (size_t)v_dim * 4);
        } else {
            kern_fp32_to_fp16_row(c->k + t * k_dim, (uint16_t *)kc, k_dim);
            kern_fp32_to_fp16_row(c->v + t * v_dim, (uint16_t *)vc, v_dim);
        }
    }
}

static void matmul(mla4j_context *c, const kern_matrix *w, const float *x, int64_t n_tok, float *y) {
    mla4j_matmul(c->pool, c->simd, w, x, n_tok, y, c->act_scratch);
}

/* Grouped-query attention of layer il (llama, qwen2): projections, RoPE, caching, then the runs of GQA_MIN_BATCH+
 * consecutive positions in the blocked loop (attention_gqa.c) and every other row in the plain one. */
static void gqa_attention(mla4j_context *c, int il, int64_t n_tok) {
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const layer_weights *lw = &m->layers[il];
    const int64_t H = hp->n_head, Hkv = hp->n_head_kv, dk = hp->head_dim_k, dv = hp->head_dim_v;
    const kern_matrix *qkv[] = {&lw->wq, &lw->wk, &lw->wv};
    float *const qkv_out[] = {c->q, c->k, c->v};
    mla4j_matmul_multi(c->pool, c->simd, 3, qkv, c->xn, n_tok, qkv_out, c->act_scratch);
    add_bias(c->q, lw->bq, n_tok, H * dk);
    add_bias(c->k, lw->bk, n_tok, Hkv * dk);
    add_bias(c->v, lw->bv, n_tok, Hkv * dv);
    if (c->calib != NULL) calib_add_pairs(c->calib, il, c->q, c->k, n_tok);
    float cs[MAX_HEAD_DIM];
    for (int64_t t = 0; t < n_tok; t++) {
        rope_cos_sin(&m->yarn, hp->n_rot, c->row_pos[t], hp->rope_freq_base, hp->rope_freq_scale, m->rope_freqs, cs);
        for (int64_t h = 0; h < H; h++) rope_rotate(c->q + (t * H + h) * dk, hp->n_rot, hp->rope_type, cs);
        for (int64_t h = 0; h < Hkv; h++) rope_rotate(c->k + (t * Hkv + h) * dk, hp->n_rot, hp->rope_type, cs);
    }
    store_kv(c, il, n_tok);
    int any_plain = 0;
    for (int32_t r = 0; r < c->n_runs; r++) {
        const kv_run *run = &c->runs[r];
        const int blocked = run->n >= GQA_MIN_BATCH && c->gqa_scratch != NULL;
        if (blocked) gqa_attention_blocked(c, il, run);
        memset(c->row_plain + run->row0, !blocked, (size_t)run->n);
        any_plain |= !blocked;
    }
    if (any_plain) {
        attn_task task = {c, il, n_tok};
        mla4j_pool_run(c->pool, attention_worker, &task);
    }
}

/* Splits the rows into runs: maximal stretches of consecutive rows of one sequence at consecutive positions. */
static void find_runs(mla4j_context *c, int64_t n_tok) {
    c->n_runs = 0;
    for (int64_t t = 0; t < n_tok; t++) {
        kv_run *last = c->n_runs > 0 ? &c->runs[c->n_runs - 1] : NULL;
        if (last != NULL && last->seq == c->row_seq[t] && last->pos0 + last->n == c->row_pos[t]) {
            last->n++;
        } else {
            c->runs[c->n_runs++] = (kv_run){c->row_seq[t], (int32_t)t, 1, c->row_pos[t]};
        }
    }
}

/* Runs n_tok rows through the model: row t is token tokens[t] of sequence c->row_seq[t] at position c->row_pos[t],
 * whose cache blocks are reserved. Writes the logits of the rows out_rows[0..n_out) (NULL: rows 0..n_out-1) to
 * logits_out (n_out x n_vocab). */
mla4j_status forward_rows(mla4j_context *c, const int32_t *tokens, int64_t n_tok, const int32_t *out_rows, int64_t n_out,
                          float *logits_out) {
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd;
    const int64_t F = hp->n_ff;

    find_runs(c, n_tok);
    for (int64_t t = 0; t < n_tok; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes;
        kern_dequantize_row(m->tok_embd.type, row, c->x + t * E, E);
    }
    for (int il = 0; il < hp->n_layer; il++) {
        if (atomic_load_explicit(&c->cancel, memory_order_relaxed)) return MLA4J_ERR_CANCELLED;
        const layer_weights *lw = &m->layers[il];
        for (int64_t t = 0; t < n_tok; t++) rms_norm(c->x + t * E, lw->attn_norm, c->xn + t * E, E, hp->rms_eps);
        if (c->calib != NULL) calib_add_inputs(c->calib, il, c->xn, n_tok);
        if (hp->is_mla) {
            mla_attention(c, il, n_tok);
        } else {
            gqa_attention(c, il, n_tok);
        }
        matmul(c, &lw->wo, c->att, n_tok, c->xn);
        for (int64_t i = 0; i < n_tok * E; i++) c->x[i] += c->xn[i];

        for (int64_t t = 0; t < n_tok; t++) rms_norm(c->x + t * E, lw->ffn_norm, c->xn + t * E, E, hp->rms_eps);
        if (m->moe != NULL && il >= m->moe_hp.n_dense_lead) { /* deepseek2 MoE layer (moe.c) */
            moe_ffn(&c->moe, c->pool, c->simd, m, il, c->xn, n_tok, c->moe.out);
            for (int64_t i = 0; i < n_tok * E; i++) c->x[i] += c->moe.out[i];
            continue;
        }
        const kern_matrix *gate_up[] = {&lw->w_gate, &lw->w_up};
        float *const gate_up_out[] = {c->gate, c->up};
        mla4j_matmul_multi(c->pool, c->simd, 2, gate_up, c->xn, n_tok, gate_up_out, c->act_scratch);
        for (int64_t i = 0; i < n_tok * F; i++) c->gate[i] = silu(c->gate[i]) * c->up[i];
        matmul(c, &lw->w_down, c->gate, n_tok, c->xn);
        for (int64_t i = 0; i < n_tok * E; i++) c->x[i] += c->xn[i];
    }
    /* Output head: only the rows whose logits are wanted. */
    for (int64_t k = 0; k < n_out; k++) {
        const int64_t t = out_rows != NULL ? out_rows[k] : k;
        rms_norm(c->x + t * E, m->output_norm, c->xn + k * E, E, hp->rms_eps);
    }
    if (n_out > 0) matmul(c, &m->output, c->xn, n_out, logits_out);
    return MLA4J_OK;
}

/* A single session's batch: n tokens of sequence 0 at positions pos0.. ; logits of every token into all_logits, or
 * of the last into c->logits. */
static mla4j_status forward_batch(mla4j_context *c, const int32_t *tokens, int32_t n, int32_t pos0, float *all_logits) {
    for (int32_t t = 0; t < n; t++) {
        c->row_seq[t] = 0;
        c->row_pos[t] = pos0 + t;
    }
    const int32_t last[1] = {n - 1};
    if (all_logits == NULL) return forward_rows(c, tokens, n, last, 1, c->logits);
    mla4j_status st = forward_rows(c, tokens, n, NULL, n, all_logits);
    if (st == MLA4J_OK) memcpy(c->logits, all_logits + (size_t)(n - 1) * (size_t)c->model->hp.n_vocab,
                               (size_t)c->model->hp.n_vocab * sizeof(float));
    return st;
}

MLA4J_API mla4j_status mla4j_context_eval(mla4j_context *c, const int32_t *tokens, int32_t n_tokens, float *all_logits) {
    MLA4J_CHECK_ARG(c != NULL, "mla4j_context_eval: context must not be NULL");
    MLA4J_CHECK_ARG(n_tokens > 0 && tokens != NULL, "mla4j_context_eval: need at least one token (got %d)", n_tokens);
    const int32_t n_vocab = c->model->hp.n_vocab;
    for (int32_t i = 0; i < n_tokens; i++) {
        MLA4J_CHECK_ARG(tokens[i] >= 0 && tokens[i] < n_vocab, "token id %d at index %d is out of range [0, %d)", tokens[i], i,
                        n_vocab);
    }
    if (n_tokens > c->params.n_ctx - c->seqs[0].n_pos) {
        return mla4j_fail(MLA4J_ERR_STATE, "context full: %d tokens at position %d exceed the context size %d", n_tokens, c->seqs[0].n_pos,
                          c->params.n_ctx);
    }
    if (atomic_exchange(&c->cancel, 0)) return mla4j_fail(MLA4J_ERR_CANCELLED, "evaluation cancelled");
    int32_t done = 0;
    while (done < n_tokens) {
        int32_t n = n_tokens - done;
        if (n > c->params.n_batch) n = c->params.n_batch;
        float *lo = all_logits != NULL ? all_logits + (size_t)done * (size_t)n_vocab : NULL;
        mla4j_status st = forward_batch(c, tokens + done, n, c->seqs[0].n_pos + done, lo);
        if (st != MLA4J_OK && c->calib != NULL) calib_end_eval(c->calib, 0, 0);
        if (st == MLA4J_ERR_CANCELLED) {
            atomic_store(&c->cancel, 0);
            return mla4j_fail(MLA4J_ERR_CANCELLED, "evaluation cancelled; the context keeps its %d earlier tokens", c->seqs[0].n_pos);
        }
        if (st != MLA4J_OK) return st;
        done += n;
    }
    c->seqs[0].n_pos += n_tokens;
    if (c->calib != NULL) calib_end_eval(c->calib, 1, n_tokens);
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_get_logits(const mla4j_context *c, const float **logits) {
    MLA4J_CHECK_ARG(c != NULL && logits != NULL, "mla4j_context_get_logits: arguments must not be NULL");
    if (c->seqs[0].n_pos == 0) return mla4j_fail(MLA4J_ERR_STATE, "no logits yet: evaluate at least one token first");
    *logits = c->logits;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_get_position(const mla4j_context *c, int32_t *out) {
    MLA4J_CHECK_ARG(c != NULL && out != NULL, "mla4j_context_get_position: arguments must not be NULL");
    *out = c->seqs[0].n_pos;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_set_position(mla4j_context *c, int32_t pos) {
    MLA4J_CHECK_ARG(c != NULL, "mla4j_context_set_position: context must not be NULL");
    MLA4J_CHECK_ARG(pos >= 0 && pos <= c->seqs[0].n_pos, "position %d out of range [0, %d]", pos, c->seqs[0].n_pos);
    c->seqs[0].n_pos = pos;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_get_params(const mla4j_context *c, mla4j_context_params *out) {
    MLA4J_CHECK_ARG(c != NULL && out != NULL, "mla4j_context_get_params: arguments must not be NULL");
    *out = c->params;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_kv_bytes(const mla4j_context *c, uint64_t *out) {
    MLA4J_CHECK_ARG(c != NULL && out != NULL, "mla4j_context_kv_bytes: arguments must not be NULL");
    *out = (uint64_t)(c->kv.k_layer_bytes + c->kv.v_layer_bytes) * (uint64_t)c->model->hp.n_layer;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_context_cancel(mla4j_context *c, int32_t cancel) {
    MLA4J_CHECK_ARG(c != NULL, "mla4j_context_cancel: context must not be NULL");
    atomic_store(&c->cancel, cancel != 0);
    return MLA4J_OK;
}
