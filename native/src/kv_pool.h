/* kv_pool.h - the paged KV cache: fixed-size blocks of cache rows from one pool, a block table per sequence,
 * reference counts, and (for batch contexts) automatic prefix caching of full blocks as vLLM does it.
 *
 * Layout: per layer one region of rows_per_layer rows; block b holds rows b*block_tokens .. +block_tokens-1 of
 * every layer's region. A row is one token's cache entry: the latent row of MLA models (k only) or the key and the
 * value rows of GQA models (k and v). Position p of a sequence lives in block table[p / block_tokens] at offset
 * p % block_tokens. block_tokens is a multiple of MLA_ROW_TILE and GQA_KEY_BLOCK, so the attention tiles never
 * straddle two blocks and look their base pointer up once per tile.
 *
 * A single-session context is a pool with one sequence that owns every block in order (table[i] = i) and
 * rows_per_layer = n_ctx: its memory and layout are exactly those of a contiguous cache. */
#ifndef MLA4J_KV_POOL_H
#define MLA4J_KV_POOL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kv_pool {
    int32_t n_blocks, block_tokens, n_layer;
    int64_t rows_per_layer;
    size_t k_row_bytes, v_row_bytes; /* v_row_bytes 0: a latent cache (no values) */
    size_t k_layer_bytes, v_layer_bytes;
    uint8_t *k, *v;
    int32_t *ref;       /* sequences holding each block */
    int32_t *free_list; /* blocks with ref 0 and no cached prefix, popped from the end */
    int32_t n_free;
    int32_t n_used;     /* blocks with ref > 0 */
    /* Prefix caching (batch contexts): a full block written by a sequence is registered under the chain hash of
     * every token up to its end; a block whose last holder leaves stays cached (ref 0) until evicted LRU. */
    int prefix;
    int32_t n_cached;   /* registered blocks with ref 0 */
    int32_t *tokens;    /* n_blocks x block_tokens: the token ids each block's rows were computed from */
    uint64_t *hash;     /* chain hash of a registered block */
    uint64_t *parent;   /* ... and of the block before it (0 for a sequence's first block) */
    uint8_t *registered;
    uint64_t *last_use; /* LRU stamp of a cached block */
    uint64_t clock;
} kv_pool;

typedef struct kv_seq {
    int32_t *table;  /* block ids of positions 0, block_tokens, 2*block_tokens, ... */
    int32_t n_table; /* blocks held */
    int32_t cap;     /* table capacity: blocks of the longest sequence */
    int32_t n_pos;   /* positions stored */
    int active;
} kv_seq;

/* Allocates a pool. rows_per_layer >= (n_blocks - 1) * block_tokens + 1 (a single context's last block may be
 * partial); prefix 1 enables prefix caching (token records and hashes). */
mla4j_status kv_pool_init(kv_pool *p, int n_layer, int32_t n_blocks, int32_t block_tokens, int64_t rows_per_layer,
                          size_t k_row_bytes, size_t v_row_bytes, int prefix);
void kv_pool_free(kv_pool *p);

/* A sequence with room for cap blocks and none held. */
mla4j_status kv_seq_init(kv_seq *s, int32_t cap);
void kv_seq_free(kv_seq *s);
/* Makes positions s->n_pos .. n_pos_end - 1 writable: allocates the missing blocks (evicting cached ones LRU when no
 * block is free) and copies a block shared with another sequence before it is written (copy-on-write). Fails with
 * MLA4J_ERR_OUT_OF_MEMORY "kv pool: no free block ..." when the pool is exhausted (blocks already taken stay with
 * the sequence). */
mla4j_status kv_seq_reserve(kv_pool *p, kv_seq *s, int32_t n_pos_end);
/* Drops the blocks of the sequence beyond its first n_keep (undoes a reservation that failed half-way). */
void kv_seq_shrink(kv_pool *p, kv_seq *s, int32_t n_keep);
/* Drops every block of the sequence (cached blocks stay for reuse) and resets it. */
void kv_seq_release(kv_pool *p, kv_seq *s);
/* Prefix caching: attaches to an empty sequence the longest run of cached full blocks that hold the first tokens of
 * prompt, and returns how many positions they cover (at most n - 1: the last prompt token is always computed, so
 * that its logits exist; it may then rewrite a shared block, which copy-on-write handles). */
int32_t kv_seq_match_prefix(kv_pool *p, kv_seq *s, const int32_t *prompt, int32_t n);
/* Records the token of position pos of a sequence (written by the forward pass) and registers its block once full. */
void kv_seq_note_token(kv_pool *p, const kv_seq *s, int32_t pos, int32_t token);

static inline uint8_t *kv_k_row(const kv_pool *p, const kv_seq *s, int il, int64_t pos) {
    const int64_t b = s->table[pos / p->block_tokens];
    return p->k + (size_t)il * p->k_layer_bytes + (size_t)(b * p->block_tokens + pos % p->block_tokens) * p->k_row_bytes;
}
static inline uint8_t *kv_v_row(const kv_pool *p, const kv_seq *s, int il, int64_t pos) {
    const int64_t b = s->table[pos / p->block_tokens];
    return p->v + (size_t)il * p->v_layer_bytes + (size_t)(b * p->block_tokens + pos % p->block_tokens) * p->v_row_bytes;
}
/* Rows from pos to the end of its block (at most n). */
static inline int64_t kv_run_in_block(const kv_pool *p, int64_t pos, int64_t n) {
    const int64_t left = p->block_tokens - pos % p->block_tokens;
    return n < left ? n : left;
}

#endif
