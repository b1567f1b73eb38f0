/* kv_pool.c - the block pool of the paged KV cache (kv_pool.h): allocation, reference counts, copy-on-write and
 * the prefix cache (chain hashes over the tokens of full blocks, LRU eviction of unreferenced cached blocks). */
#include "kv_pool.h"

#include <stdlib.h>
#include <string.h>

mla4j_status kv_pool_init(kv_pool *p, int n_layer, int32_t n_blocks, int32_t block_tokens, int64_t rows_per_layer,
                          size_t k_row_bytes, size_t v_row_bytes, int prefix) {
    memset(p, 0, sizeof *p);
    p->n_blocks = n_blocks;
    p->block_tokens = block_tokens;
    p->n_layer = n_layer;
    p->rows_per_layer = rows_per_layer;
    p->k_row_bytes = k_row_bytes;
    p->v_row_bytes = v_row_bytes;
    p->k_layer_bytes = (size_t)rows_per_layer * k_row_bytes;
    p->v_layer_bytes = (size_t)rows_per_layer * v_row_bytes;
    p->prefix = prefix;
    const size_t nb = (size_t)n_blocks;
    if ((p->k = mla4j_alloc_aligned(p->k_layer_bytes * (size_t)n_layer, "the KV cache blocks")) == NULL) goto fail;
    if (v_row_bytes > 0 && (p->v = mla4j_alloc_aligned(p->v_layer_bytes * (size_t)n_layer, "the value cache blocks")) == NULL)
        goto fail;
    if ((p->ref = calloc(nb, sizeof *p->ref)) == NULL || (p->free_list = malloc(nb * sizeof *p->free_list)) == NULL)
        goto oom;
    if (prefix) {
        p->tokens = malloc(nb * (size_t)block_tokens * sizeof *p->tokens);
        p->hash = calloc(nb, sizeof *p->hash);
        p->parent = calloc(nb, sizeof *p->parent);
        p->registered = calloc(nb, 1);
        p->last_use = calloc(nb, sizeof *p->last_use);
        if (p->tokens == NULL || p->hash == NULL || p->parent == NULL || p->registered == NULL || p->last_use == NULL)
            goto oom;
    }
    /* Popped from the end: block 0 first, so a fresh sequence gets consecutive blocks. */
    for (int32_t i = 0; i < n_blocks; i++) p->free_list[i] = n_blocks - 1 - i;
    p->n_free = n_blocks;
    return MLA4J_OK;
oom:
    mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory for the bookkeeping of %d cache blocks", n_blocks);
fail:
    kv_pool_free(p);
    return MLA4J_ERR_OUT_OF_MEMORY;
}

void kv_pool_free(kv_pool *p) {
    void *bufs[] = {p->k, p->v, p->ref, p->free_list, p->tokens, p->hash, p->parent, p->registered, p->last_use};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    memset(p, 0, sizeof *p);
}

mla4j_status kv_seq_init(kv_seq *s, int32_t cap) {
    memset(s, 0, sizeof *s);
    s->cap = cap;
    s->table = malloc((size_t)cap * sizeof *s->table);
    if (s->table == NULL) return mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "out of memory for a block table of %d blocks", cap);
    return MLA4J_OK;
}

void kv_seq_free(kv_seq *s) {
    free(s->table);
    memset(s, 0, sizeof *s);
}

/* ---- blocks ---------------------------------------------------------------------------------------------------- */

/* Forgets the prefix registration of a block (its rows are about to change, or it is evicted). */
static void unregister(kv_pool *p, int32_t b) {
    if (p->prefix) p->registered[b] = 0;
}

/* A block with ref 1 for the caller, or -1 with the error recorded. */
static int32_t take_block(kv_pool *p) {
    int32_t b = -1;
    if (p->n_free > 0) {
        b = p->free_list[--p->n_free];
    } else if (p->n_cached > 0) { /* evict the least recently used cached block */
        uint64_t best = UINT64_MAX;
        for (int32_t i = 0; i < p->n_blocks; i++) {
            if (p->ref[i] == 0 && p->registered[i] && p->last_use[i] < best) {
                best = p->last_use[i];
                b = i;
            }
        }
        if (b >= 0) {
            unregister(p, b);
            p->n_cached--;
        }
    }
    if (b < 0) {
        mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "kv pool: no free block (%d blocks of %d tokens in use)", p->n_used, p->block_tokens);
        return -1;
    }
    p->ref[b] = 1;
    p->n_used++;
    return b;
}

static void drop_block(kv_pool *p, int32_t b) {
    if (--p->ref[b] > 0) return;
    p->n_used--;
    if (p->prefix && p->registered[b]) { /* stays cached for a later prompt with the same prefix */
        p->last_use[b] = ++p->clock;
        p->n_cached++;
    } else {
        p->free_list[p->n_free++] = b;
    }
}

/* Copies every layer's rows (and the token records) of block src into dst. */
static void copy_block(kv_pool *p, int32_t dst, int32_t src) {
    const int64_t bt = p->block_tokens;
    int64_t rows = p->rows_per_layer - (int64_t)src * bt;
    if (rows > bt) rows = bt;
    for (int il = 0; il < p->n_layer; il++) {
        memcpy(p->k + (size_t)il * p->k_layer_bytes + (size_t)(dst * bt) * p->k_row_bytes,
               p->k + (size_t)il * p->k_layer_bytes + (size_t)(src * bt) * p->k_row_bytes, (size_t)rows * p->k_row_bytes);
        if (p->v != NULL) {
            memcpy(p->v + (size_t)il * p->v_layer_bytes + (size_t)(dst * bt) * p->v_row_bytes,
                   p->v + (size_t)il * p->v_layer_bytes + (size_t)(src * bt) * p->v_row_bytes, (size_t)rows * p->v_row_bytes);
        }
    }
    if (p->prefix) memcpy(p->tokens + (size_t)dst * (size_t)bt, p->tokens + (size_t)src * (size_t)bt, (size_t)bt * sizeof *p->tokens);
}

mla4j_status kv_seq_reserve(kv_pool *p, kv_seq *s, int32_t n_pos_end) {
    if (n_pos_end <= s->n_pos) return MLA4J_OK;
    const int32_t first = s->n_pos / p->block_tokens, last = (n_pos_end - 1) / p->block_tokens;
    if (last >= s->cap) {
        return mla4j_fail(MLA4J_ERR_STATE, "kv pool: position %d is beyond the sequence's %d blocks of %d tokens",
                          n_pos_end - 1, s->cap, p->block_tokens);
    }
    for (int32_t i = first; i <= last; i++) {
        if (i < s->n_table) { /* held already: written in place unless shared */
            const int32_t b = s->table[i];
            if (p->ref[b] > 1) { /* copy-on-write */
                const int32_t nb = take_block(p);
                if (nb < 0) return MLA4J_ERR_OUT_OF_MEMORY;
                copy_block(p, nb, b);
                drop_block(p, b);
                s->table[i] = nb;
            } else {
                unregister(p, b);
            }
            continue;
        }
        const int32_t b = take_block(p);
        if (b < 0) return MLA4J_ERR_OUT_OF_MEMORY;
        s->table[s->n_table++] = b;
    }
    return MLA4J_OK;
}

void kv_seq_shrink(kv_pool *p, kv_seq *s, int32_t n_keep) {
    for (int32_t i = s->n_table - 1; i >= n_keep; i--) drop_block(p, s->table[i]);
    if (s->n_table > n_keep) s->n_table = n_keep;
}

void kv_seq_release(kv_pool *p, kv_seq *s) {
    kv_seq_shrink(p, s, 0);
    s->n_pos = 0;
}

/* ---- prefix cache ---------------------------------------------------------------------------------------------- */

/* FNV-1a over the parent's hash and the block's tokens; never 0 (0 marks "no parent"). */
static uint64_t chain_hash(uint64_t parent, const int32_t *tokens, int32_t n) {
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *pp = (const uint8_t *)&parent;
    for (int i = 0; i < 8; i++) h = (h ^ pp[i]) * 1099511628211ULL;
    const uint8_t *t = (const uint8_t *)tokens;
    for (size_t i = 0; i < (size_t)n * sizeof *tokens; i++) h = (h ^ t[i]) * 1099511628211ULL;
    return h != 0 ? h : 1;
}

/* The registered block holding these tokens after this parent chain, or -1. Hashes select, tokens confirm. */
static int32_t find_block(const kv_pool *p, uint64_t h, uint64_t parent, const int32_t *tokens) {
    for (int32_t b = 0; b < p->n_blocks; b++) {
        if (p->registered[b] && p->hash[b] == h && p->parent[b] == parent &&
            memcmp(p->tokens + (size_t)b * (size_t)p->block_tokens, tokens, (size_t)p->block_tokens * sizeof *tokens) == 0)
            return b;
    }
    return -1;
}

int32_t kv_seq_match_prefix(kv_pool *p, kv_seq *s, const int32_t *prompt, int32_t n) {
    if (!p->prefix || s->n_table != 0) return 0;
    const int32_t bt = p->block_tokens;
    uint64_t parent = 0;
    int32_t i = 0;
    for (; (i + 1) * bt <= n && i < s->cap; i++) {
        const uint64_t h = chain_hash(parent, prompt + (size_t)i * (size_t)bt, bt);
        const int32_t b = find_block(p, h, parent, prompt + (size_t)i * (size_t)bt);
        if (b < 0) break;
        if (p->ref[b]++ == 0) {
            p->n_cached--;
            p->n_used++;
        }
        s->table[s->n_table++] = b;
        parent = h;
    }
    int32_t cached = i * bt;
    if (cached > n - 1) cached = n - 1;
    if (cached < 0) cached = 0;
    s->n_pos = cached;
    return cached;
}

void kv_seq_note_token(kv_pool *p, const kv_seq *s, int32_t pos, int32_t token) {
    if (!p->prefix) return;
    const int32_t bt = p->block_tokens, i = pos / bt, b = s->table[i];
    p->tokens[(size_t)b * (size_t)bt + (size_t)(pos % bt)] = token;
    if (pos % bt != bt - 1 || p->registered[b]) return;
    /* The block is full: its chain hash (the parent's was set when the parent filled up or was matched), and its
     * registration unless an equal block is registered already (then that one serves later prompts). */
    const uint64_t parent = i > 0 ? p->hash[s->table[i - 1]] : 0;
    const int32_t *toks = p->tokens + (size_t)b * (size_t)bt;
    const uint64_t h = chain_hash(parent, toks, bt);
    const int dup = find_block(p, h, parent, toks) >= 0;
    p->hash[b] = h;
    p->parent[b] = parent;
    p->registered[b] = (uint8_t)!dup;
}
