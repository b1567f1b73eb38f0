/* batch.c - batch contexts (mla4j_batch_*): many sequences decoded together by the one forward pass of context.c
 * (forward_rows) over a paged cache (kv_pool.c) with prefix sharing. This file checks the rows of a call, reserves
 * the cache blocks they write, runs them n_batch rows at a time, and records their tokens for the prefix cache. */
#include "context.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct mla4j_batch {
    mla4j_context *c;
    int32_t n_ctx;
    float *logits;      /* kept rows x n_vocab */
    int64_t logits_cap; /* rows */
    int32_t *row_out;   /* per row of the last call: index into logits, or -1 */
    int32_t rows_cap, n_rows_last;
    int32_t *next;      /* per sequence: position after this call's rows (checks) */
    int32_t *last_row;  /* per sequence: its last row in this call, or -1 */
    int32_t *table_was; /* per sequence: blocks held before this call's reservation */
    int32_t *out_chunk; /* n_batch: kept rows of one forward pass, as chunk-relative indices */
};

MLA4J_API void mla4j_batch_params_init(mla4j_batch_params *p) {
    if (p == NULL) return;
    memset(p, 0, sizeof *p);
    p->kv_type = MLA4J_TYPE_F16;
    p->simd = MLA4J_SIMD_AUTO;
}

MLA4J_API void mla4j_batch_free(mla4j_batch *b) {
    if (b == NULL) return;
    mla4j_context_free(b->c);
    void *bufs[] = {b->logits, b->row_out, b->next, b->last_row, b->table_was, b->out_chunk};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(b);
}

MLA4J_API mla4j_status mla4j_batch_create(const mla4j_model *m, const mla4j_batch_params *params, mla4j_batch **out) {
    MLA4J_CHECK_ARG(m != NULL && out != NULL, "mla4j_batch_create: model and out must not be NULL");
    *out = NULL;
    mla4j_batch_params p;
    if (params != NULL) {
        p = *params;
    } else {
        mla4j_batch_params_init(&p);
    }
    if (p.n_seq_max == 0) p.n_seq_max = 16;
    if (p.block_tokens == 0) p.block_tokens = KV_BLOCK_TOKENS;
    if (p.n_ctx == 0) p.n_ctx = m->hp.n_ctx_train;
    MLA4J_CHECK_ARG(p.n_seq_max > 0 && p.n_seq_max <= 65536, "n_seq_max must be in [1, 65536] (got %d)", p.n_seq_max);
    MLA4J_CHECK_ARG(p.block_tokens > 0 && p.block_tokens <= 65536 && p.block_tokens % 64 == 0,
                    "block_tokens must be a positive multiple of 64 up to 65536 (got %d)", p.block_tokens);
    MLA4J_CHECK_ARG(p.n_ctx > 0, "n_ctx must be positive (got %d)", p.n_ctx);
    const int64_t per_seq = ((int64_t)p.n_ctx + p.block_tokens - 1) / p.block_tokens;
    if (p.n_blocks == 0) {
        const int64_t want = per_seq * p.n_seq_max;
        MLA4J_CHECK_ARG(want <= INT32_MAX, "%d sequences of %d positions need too many blocks; set n_blocks", p.n_seq_max, p.n_ctx);
        p.n_blocks = (int32_t)want;
    }
    MLA4J_CHECK_ARG(p.n_blocks > 0, "n_blocks must be positive (got %d)", p.n_blocks);
    mla4j_context_params cp;
    mla4j_context_params_init(&cp);
    cp.n_ctx = p.n_ctx;
    cp.n_threads = p.n_threads;
    cp.n_batch = p.n_batch;
    cp.kv_type = p.kv_type;
    cp.simd = p.simd;
    mla4j_batch *b = calloc(1, sizeof *b);
    if (b == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory creating a batch context");
    mla4j_status st = context_create(m, &cp, p.n_seq_max, p.n_blocks, p.block_tokens, &b->c);
    if (st == MLA4J_OK) {
        const size_t ns = (size_t)p.n_seq_max;
        b->n_ctx = p.n_ctx;
        b->next = malloc(ns * sizeof *b->next);
        b->last_row = malloc(ns * sizeof *b->last_row);
        b->table_was = malloc(ns * sizeof *b->table_was);
        b->out_chunk = malloc((size_t)b->c->params.n_batch * sizeof *b->out_chunk);
        if (b->next == NULL || b->last_row == NULL || b->table_was == NULL || b->out_chunk == NULL)
            st = mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory creating a batch context");
    }
    if (st != MLA4J_OK) {
        mla4j_batch_free(b);
        return st;
    }
    *out = b;
    mla4j_clear_error();
    return MLA4J_OK;
}

#define CHECK_SEQ(b, id, fn)                                                                                          \
    MLA4J_CHECK_ARG((id) >= 0 && (id) < (b)->c->n_seqs && (b)->c->seqs[id].active,                                  \
                    fn ": no active sequence %d (ids are in [0, %d))", (id), (b)->c->n_seqs)

MLA4J_API mla4j_status mla4j_batch_seq_add(mla4j_batch *b, const int32_t *prompt, int32_t n_prompt, int32_t *seq_id,
                                           int32_t *n_cached) {
    MLA4J_CHECK_ARG(b != NULL && seq_id != NULL && n_cached != NULL, "mla4j_batch_seq_add: arguments must not be NULL");
    MLA4J_CHECK_ARG(n_prompt >= 0 && (n_prompt == 0 || prompt != NULL), "mla4j_batch_seq_add: bad prompt (%d tokens)", n_prompt);
    mla4j_context *c = b->c;
    int32_t id = -1;
    for (int32_t i = 0; i < c->n_seqs && id < 0; i++)
        if (!c->seqs[i].active) id = i;
    if (id < 0) return mla4j_fail(MLA4J_ERR_STATE, "batch: all %d sequences are in use", c->n_seqs);
    const int32_t n_vocab = c->model->hp.n_vocab;
    for (int32_t i = 0; i < n_prompt; i++) {
        MLA4J_CHECK_ARG(prompt[i] >= 0 && prompt[i] < n_vocab, "token id %d at index %d is out of range [0, %d)", prompt[i], i,
                        n_vocab);
    }
    kv_seq *s = &c->seqs[id];
    s->active = 1;
    s->n_pos = 0;
    *n_cached = n_prompt > 0 ? kv_seq_match_prefix(&c->kv, s, prompt, n_prompt) : 0;
    *seq_id = id;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_seq_remove(mla4j_batch *b, int32_t id) {
    MLA4J_CHECK_ARG(b != NULL, "mla4j_batch_seq_remove: batch must not be NULL");
    CHECK_SEQ(b, id, "mla4j_batch_seq_remove");
    kv_seq_release(&b->c->kv, &b->c->seqs[id]);
    b->c->seqs[id].active = 0;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_seq_position(const mla4j_batch *b, int32_t id, int32_t *out) {
    MLA4J_CHECK_ARG(b != NULL && out != NULL, "mla4j_batch_seq_position: arguments must not be NULL");
    CHECK_SEQ(b, id, "mla4j_batch_seq_position");
    *out = b->c->seqs[id].n_pos;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_seq_truncate(mla4j_batch *b, int32_t id, int32_t pos) {
    MLA4J_CHECK_ARG(b != NULL, "mla4j_batch_seq_truncate: batch must not be NULL");
    CHECK_SEQ(b, id, "mla4j_batch_seq_truncate");
    kv_seq *s = &b->c->seqs[id];
    MLA4J_CHECK_ARG(pos >= 0 && pos <= s->n_pos, "position %d out of range [0, %d]", pos, s->n_pos);
    const int32_t bt = b->c->kv.block_tokens;
    kv_seq_shrink(&b->c->kv, s, (pos + bt - 1) / bt); /* a kept partial block is copied or unregistered when written */
    s->n_pos = pos;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_cancel(mla4j_batch *b, int32_t cancel) {
    MLA4J_CHECK_ARG(b != NULL, "mla4j_batch_cancel: batch must not be NULL");
    atomic_store(&b->c->cancel, cancel != 0);
    return MLA4J_OK;
}

/* Grows the per-row and logits buffers of a call (kept across calls: no allocation in the steady state). */
static mla4j_status ensure_capacity(mla4j_batch *b, int32_t n_rows, int64_t n_keep) {
    if (n_rows > b->rows_cap) {
        int32_t *r = realloc(b->row_out, (size_t)n_rows * sizeof *r);
        if (r == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory for %d batch rows", n_rows);
        b->row_out = r;
        b->rows_cap = n_rows;
    }
    if (n_keep > b->logits_cap) {
        const size_t bytes = (size_t)n_keep * (size_t)b->c->model->hp.n_vocab * sizeof(float);
        float *l = realloc(b->logits, bytes);
        if (l == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory for the logits of %lld rows", (long long)n_keep);
        b->logits = l;
        b->logits_cap = n_keep;
    }
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_decode(mla4j_batch *b, int32_t n_rows, const int32_t *seq_ids, const int32_t *positions,
                                          const int32_t *tokens, const int8_t *want_logits) {
    MLA4J_CHECK_ARG(b != NULL && seq_ids != NULL && positions != NULL && tokens != NULL,
                    "mla4j_batch_decode: arguments must not be NULL");
    MLA4J_CHECK_ARG(n_rows > 0, "mla4j_batch_decode: need at least one row (got %d)", n_rows);
    mla4j_context *c = b->c;
    const int32_t n_vocab = c->model->hp.n_vocab;
    b->n_rows_last = 0;
    for (int32_t s = 0; s < c->n_seqs; s++) {
        b->next[s] = c->seqs[s].n_pos;
        b->last_row[s] = -1;
    }
    /* Check every row before anything changes. */
    for (int32_t i = 0; i < n_rows; i++) {
        const int32_t id = seq_ids[i], pos = positions[i];
        if (id < 0 || id >= c->n_seqs || !c->seqs[id].active) {
            return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "row %d: no active sequence %d (ids are in [0, %d))", i, id, c->n_seqs);
        }
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "row %d: token id %d is out of range [0, %d)", i, tokens[i], n_vocab);
        }
        if (pos != b->next[id]) {
            return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT,
                              "row %d: sequence %d continues at position %d, not %d (rows of a sequence must follow its "
                              "positions in order)", i, id, b->next[id], pos);
        }
        if (pos >= b->n_ctx) {
            return mla4j_fail(MLA4J_ERR_STATE, "row %d: sequence %d is full (%d positions)", i, id, b->n_ctx);
        }
        b->next[id]++;
        b->last_row[id] = i;
    }
    /* Reserve the blocks the rows write; on failure give back what this call took. */
    for (int32_t s = 0; s < c->n_seqs; s++) b->table_was[s] = c->seqs[s].n_table;
    for (int32_t s = 0; s < c->n_seqs; s++) {
        if (b->last_row[s] < 0) continue;
        mla4j_status st = kv_seq_reserve(&c->kv, &c->seqs[s], b->next[s]);
        if (st != MLA4J_OK) {
            for (int32_t u = 0; u <= s; u++) kv_seq_shrink(&c->kv, &c->seqs[u], b->table_was[u]);
            return st;
        }
    }
    int64_t n_keep = 0;
    for (int32_t i = 0; i < n_rows; i++) {
        const int keep = want_logits != NULL ? want_logits[i] != 0 : b->last_row[seq_ids[i]] == i;
        if (keep) n_keep++;
    }
    mla4j_status st = ensure_capacity(b, n_rows, n_keep);
    if (st != MLA4J_OK) return st;
    n_keep = 0;
    for (int32_t i = 0; i < n_rows; i++) {
        const int keep = want_logits != NULL ? want_logits[i] != 0 : b->last_row[seq_ids[i]] == i;
        b->row_out[i] = keep ? (int32_t)n_keep++ : -1;
    }
    if (atomic_exchange(&c->cancel, 0)) return mla4j_fail(MLA4J_ERR_CANCELLED, "decode cancelled");
    /* n_batch rows per forward pass; a sequence split across two passes reads the first one's rows from the cache. */
    const int32_t nb = c->params.n_batch;
    for (int32_t r0 = 0; r0 < n_rows; r0 += nb) {
        const int32_t n = n_rows - r0 < nb ? n_rows - r0 : nb;
        int32_t n_out = 0, first_out = -1;
        for (int32_t t = 0; t < n; t++) {
            c->row_seq[t] = seq_ids[r0 + t];
            c->row_pos[t] = positions[r0 + t];
            if (b->row_out[r0 + t] >= 0) {
                if (first_out < 0) first_out = b->row_out[r0 + t];
                b->out_chunk[n_out++] = t;
            }
        }
        float *dst = n_out > 0 ? b->logits + (size_t)first_out * (size_t)n_vocab : NULL;
        st = forward_rows(c, tokens + r0, n, b->out_chunk, n_out, dst);
        if (st == MLA4J_ERR_CANCELLED) {
            atomic_store(&c->cancel, 0);
            return mla4j_fail(MLA4J_ERR_CANCELLED, "decode cancelled after %d of %d rows", r0, n_rows);
        }
        if (st != MLA4J_OK) return st;
        /* These rows are cached now: the sequences advance, and full blocks join the prefix cache. */
        for (int32_t t = 0; t < n; t++) {
            kv_seq *s = &c->seqs[seq_ids[r0 + t]];
            s->n_pos = positions[r0 + t] + 1;
            kv_seq_note_token(&c->kv, s, positions[r0 + t], tokens[r0 + t]);
        }
    }
    b->n_rows_last = n_rows;
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_get_logits(const mla4j_batch *b, int32_t row, const float **logits) {
    MLA4J_CHECK_ARG(b != NULL && logits != NULL, "mla4j_batch_get_logits: arguments must not be NULL");
    MLA4J_CHECK_ARG(row >= 0 && row < b->n_rows_last, "mla4j_batch_get_logits: row %d is not in the last decode call (%d rows)",
                    row, b->n_rows_last);
    if (b->row_out[row] < 0) return mla4j_fail(MLA4J_ERR_STATE, "row %d of the last decode call kept no logits", row);
    *logits = b->logits + (size_t)b->row_out[row] * (size_t)b->c->model->hp.n_vocab;
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_batch_get_stats(const mla4j_batch *b, mla4j_batch_stats *out) {
    MLA4J_CHECK_ARG(b != NULL && out != NULL, "mla4j_batch_get_stats: arguments must not be NULL");
    const kv_pool *p = &b->c->kv;
    memset(out, 0, sizeof *out);
    out->blocks_total = p->n_blocks;
    out->blocks_used = p->n_used;
    out->blocks_cached = p->n_cached;
    out->block_tokens = p->block_tokens;
    out->block_bytes = (uint64_t)p->block_tokens * (uint64_t)(p->k_row_bytes + p->v_row_bytes) * (uint64_t)p->n_layer;
    for (int32_t i = 0; i < b->c->n_seqs; i++) out->n_seq_active += b->c->seqs[i].active != 0;
    return MLA4J_OK;
}
