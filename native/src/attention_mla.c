/* attention_mla.c - absorbed multi-head latent attention over a latent KV cache (deepseek2, mha2mla).
 *
 * Per token the cache keeps one row: the latent c (C values, RMS-normalised when the model has a latent norm)
 * followed by the roped key vectors k_R of its rope heads. Keys and values per head are never materialised:
 *   q_abs,h = W_UK(h)^T q_nope,h                         (absorption, C values)
 *   score_h,s = (q_abs,h . c_s + q_R,h . k_R,s) * kq_scale
 *   o_lat,h = sum_s softmax(score_h)_s c_s               (split over threads by position, then merged)
 *   o_h = W_UV(h) o_lat,h (+ value bias)                 then attn_output as usual.
 * All heads share the cache, so the scores of all heads are one matrix product with the cache rows as the
 * "weights" ([q_abs,h ; q_R,h] padded with zeros at the other rope heads' columns). For a Q8_0 or Q4_0 cache
 * that product is the weights' int8 kernel (VNNI) on the raw rows, with the queries quantized to Q8_0 as
 * llama.cpp quantizes them for its K*Q product over a quantized cache; F32 and F16 caches score in float. */
#include "context.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- cache rows ---------------------------------------------------------------------------------------------- */

static void store_q8_0(const float *x, int64_t n, uint8_t *dst) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, dst += 34) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = kern_fp32_to_fp16(d);
        memcpy(dst, &dh, 2);
        for (int i = 0; i < 32; i++) dst[2 + i] = (uint8_t)(int8_t)roundf(x[i] * id);
    }
}

static void store_q4_0(const float *x, int64_t n, uint8_t *dst) {
    for (int64_t b = 0; b < n / 32; b++, x += 32, dst += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < 32; i++) {
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                max = x[i];
            }
        }
        const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        const uint16_t dh = kern_fp32_to_fp16(d);
        memcpy(dst, &dh, 2);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)(int8_t)(x[j] * id + 8.5f), q1 = (int)(int8_t)(x[16 + j] * id + 8.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            dst[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void mla_store_row(int32_t type, const float *x, int64_t n, void *dst) {
    switch (type) {
    case MLA4J_TYPE_F32: memcpy(dst, x, (size_t)n * sizeof(float)); break;
    case MLA4J_TYPE_F16: kern_fp32_to_fp16_row(x, dst, n); break;
    case MLA4J_TYPE_Q8_0: store_q8_0(x, n, dst); break;
    case MLA4J_TYPE_Q4_0: store_q4_0(x, n, dst); break;
    default: break;
    }
}

/* ---- setup ----------------------------------------------------------------------------------------------------- */

mla4j_status mla_context_init(mla4j_context *c) {
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    mla_state *s = &c->mla;
    const size_t H = (size_t)hp->n_head, C = (size_t)hp->kv_lora_rank, nb = (size_t)c->params.n_batch;
    const size_t nth = (size_t)c->params.n_threads, T = MLA_TOKEN_CHUNK;
    s->kern = mla_kernels_for(c->simd);
    s->width = hp->kv_lora_rank + (int64_t)m->n_rope_heads * hp->rope_dim;
    s->row_bytes = (size_t)kv_row_bytes(c->params.kv_type, s->width);
    if (s->row_bytes == 0) {
        return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "%s: a latent cache row of %lld values cannot be stored as type %d "
                          "(Q8_0 and Q4_0 caches need a multiple of 32)", m->gguf->name, (long long)s->width,
                          c->params.kv_type);
    }
    const size_t W = (size_t)s->width;
    size_t head_act = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        size_t a = kern_act_size(m->mla[il].k_b.type, hp->head_dim_nope, 1);
        size_t b = kern_act_size(m->mla[il].v_b.type, hp->kv_lora_rank, 1);
        if (a > head_act) head_act = a;
        if (b > head_act) head_act = b;
    }
    s->head_act_stride = (head_act + 63) / 64 * 64;
    mla4j_status st = MLA4J_OK;
#define ALLOC(field, n, what)                                                                                         \
    if (st == MLA4J_OK && (s->field = mla4j_alloc_aligned((n), what)) == NULL) st = MLA4J_ERR_OUT_OF_MEMORY
    /* Batch rows, then room for the separate latent and rope-key products of mha2mla (each <= W per token). */
    ALLOC(lat, nb * 2 * W * sizeof(float), "latent activations");
    ALLOC(q_a, nb * (size_t)(hp->q_lora_rank > 0 ? hp->q_lora_rank : 1) * sizeof(float), "q-LoRA activations");
    const size_t G = MLA_ROW_GROUP;
    ALLOC(qvec, G * H * W * sizeof(float), "absorbed queries");
    ALLOC(scores, nth * T * H * MLA_ROW_TILE * sizeof(float), "attention scores of a tile");
    ALLOC(ml, nth * 2 * G * H * sizeof(float), "online softmax state");
    ALLOC(o_lat, G * H * C * sizeof(float), "latent attention output");
    ALLOC(partial, nth * G * H * C * sizeof(float), "split-K accumulators");
    ALLOC(row_f32, nth * MLA_ROW_TILE * W * sizeof(float), "dequantized cache rows");
    ALLOC(head_act, nth * s->head_act_stride, "per-head activations");
    if (c->params.kv_type == MLA4J_TYPE_Q8_0 || c->params.kv_type == MLA4J_TYPE_Q4_0) {
        ALLOC(q_act, kern_act_size(c->params.kv_type, s->width, (int64_t)(G * H)), "quantized queries");
        if (c->simd == MLA4J_SIMD_AVX512 && kern_cpu_has_avx512bf16()) {
            ALLOC(pairs, nth * (MLA_ROW_TILE / 2) * C * 2 * sizeof(uint16_t), "bf16 cache rows");
            ALLOC(p_bf16, nth * T * H * MLA_ROW_TILE * sizeof(uint16_t), "bf16 attention weights");
        }
    }
    if (nb >= MLA_MHA_MIN_BATCH) {
        const size_t N = (size_t)hp->head_dim_nope, Dv = (size_t)hp->head_dim_v, Dk = (size_t)hp->head_dim_k;
        const size_t KB = MLA_MHA_KEY_BLOCK, group = H / (size_t)m->n_abs;
        if (group > 64) {
            return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: %zu query heads per latent slice (at most 64)", m->gguf->name, group);
        }
        ALLOC(mha_b, nth * C * (N + Dv) * sizeof(float), "decompression matrices");
        ALLOC(mha_x, nth * KB * W * sizeof(float), "cache rows of the MHA-form prefill");
        ALLOC(mha_kv, nth * KB * (N + Dv) * sizeof(float), "decompressed keys and values");
        ALLOC(mha_kt, nth * Dk * KB * sizeof(float), "transposed keys");
        ALLOC(mha_s, nth * nb * KB * sizeof(float), "prefill attention scores");
        ALLOC(mha_ml, nth * 2 * nb * group * sizeof(float), "prefill softmax state");
        ALLOC(mha_row, nth * C * sizeof(float), "a decompression row");
    }
#undef ALLOC
    if (st != MLA4J_OK) return st;
    return MLA4J_OK;
}

void mla_context_free(mla4j_context *c) {
    mla_state *s = &c->mla;
    void *bufs[] = {s->lat, s->q_a, s->qvec, s->scores, s->ml, s->o_lat, s->partial, s->row_f32, s->head_act, s->q_act, s->pairs, s->p_bf16,
                    s->mha_b, s->mha_x, s->mha_kv, s->mha_kt, s->mha_s, s->mha_ml, s->mha_row};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

/* ---- helpers ---------------------------------------------------------------------------------------------------- */

/* Rotates adjacent pairs (x[2p], x[2p+1]) by pos * theta_p (mha2mla's explicit frequencies). */
static void rope_pairs(float *x, int n, int32_t pos, const float *theta) {
    for (int p = 0; p < n / 2; p++) {
        const float t = (float)pos * theta[p];
        const float cs = cosf(t), sn = sinf(t);
        const float x0 = x[2 * p], x1 = x[2 * p + 1];
        x[2 * p] = x0 * cs - x1 * sn;
        x[2 * p + 1] = x0 * sn + x1 * cs;
    }
}

/* ---- parallel tasks ----------------------------------------------------------------------------------------------- */

/* The absorbed attention runs a group of up to MLA_ROW_GROUP rows at a time, from any runs (decode rows of many
 * sequences, small prompt chunks): four pool runs per group, however many sequences it holds. A group is a list of
 * chunks, each up to MLA_TOKEN_CHUNK consecutive rows of one run (they share their cache rows); group row g is batch
 * row grp_rows[g], its queries are qvec rows g*H .. g*H+H-1. */
typedef struct mla_group_task {
    mla4j_context *c;
    int il;
    int parts; /* split-K parts per chunk */
} mla_group_task;

/* q_abs for every (row, head) of the group, plus the rope part, into qvec. */
static void absorb_task(void *arg, int ith, int nth) {
    const mla_group_task *a = arg;
    mla4j_context *c = a->c;
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const mla_weights *w = &m->mla[a->il];
    const int64_t H = hp->n_head, C = hp->kv_lora_rank, N = hp->head_dim_nope, R = hp->rope_dim, Dk = hp->head_dim_k;
    const int64_t W = c->mla.width, per_abs = H / m->n_abs, per_rope = H / m->n_rope_heads;
    uint8_t *act = c->mla.head_act + (size_t)ith * c->mla.head_act_stride;
    for (int64_t i = ith; i < c->mla.grp_n * H; i += nth) {
        const int64_t g = i / H, h = i % H;
        const float *q = c->q + (c->mla.grp_rows[g] * H + h) * Dk;
        float *out = c->mla.qvec + i * W;
        if (N > 0) {
            kern_matrix slice = kern_matrix_rows(&w->k_b, (h / per_abs) * C, C);
            kern_act_convert(slice.type, q, N, 0, 1, act);
            kern_matmul(c->simd, &slice, act, 1, out, C, 0, C);
        } else {
            memset(out, 0, (size_t)C * sizeof(float)); /* mha2mla with r = d_h: the latent holds values only */
        }
        memset(out + C, 0, (size_t)(W - C) * sizeof(float));
        memcpy(out + C + (h / per_rope) * R, q + N, (size_t)R * sizeof(float));
    }
}

/* Accumulators of part p of chunk k: acc rows, running max m and sum l, at index base (see mla_state). */
static size_t part_base(const mla_chunk *ch, int64_t H, int parts, int p) {
    return (size_t)(ch->g0 * H * parts + p * ch->nt * H);
}

/* FlashDecoding-style split-K: each chunk's cache positions are split into `parts` ranges of whole tiles (a tile
 * never straddles two cache blocks); a work item takes one range of one chunk and makes one pass over it, a tile
 * of rows at a time: the tile is dequantized once, scored against every (token, head) query of the chunk, and
 * accumulated with an online softmax (running max m, running sum l, accumulator rescaled when the max grows). The
 * parts are merged afterwards. */
static void flash_task(void *arg, int ith, int nth) {
    const mla_group_task *a = arg;
    mla4j_context *c = a->c;
    mla_state *st = &c->mla;
    const int64_t H = c->model->hp.n_head, C = c->model->hp.kv_lora_rank, W = st->width;
    const float scale = c->model->hp.kq_scale;
    const mla_kernels *k = st->kern;
    const size_t rows_cap = MLA_TOKEN_CHUNK * (size_t)H, ml_cap = (size_t)MLA_ROW_GROUP * (size_t)H * (size_t)c->params.n_threads;
    float *sc = st->scores + (size_t)ith * rows_cap * MLA_ROW_TILE;
    float *tile = st->row_f32 + (size_t)ith * MLA_ROW_TILE * (size_t)W;
    const size_t q_stride = st->q_act != NULL ? kern_act_size(c->params.kv_type, W, 1) : 0;
    /* A Q8_0 cache is scored by the int8 product of its raw rows and summed straight from them where the level
     * has that kernel (and no bf16 pairs are wanted): no tile of floats at all. */
    const int fused = c->params.kv_type == MLA4J_TYPE_Q8_0 && k->weighted_sum_q8 != NULL && st->pairs == NULL && C % 32 == 0;
    for (int64_t item = ith; item < (int64_t)st->grp_chunks * a->parts; item += nth) {
        const mla_chunk *ch = &st->chunks[item / a->parts];
        const int p = (int)(item % a->parts);
        const int64_t n_rows = ch->nt * H;
        const size_t base = part_base(ch, H, a->parts, p);
        float *acc = st->partial + base * (size_t)C;
        float *m = st->ml + base, *l = st->ml + ml_cap + base;
        const float *qv = st->qvec + ch->g0 * H * W;
        const uint8_t *qa = st->q_act != NULL ? (const uint8_t *)st->q_act + (size_t)(ch->g0 * H) * q_stride : NULL;
        memset(acc, 0, (size_t)(n_rows * C) * sizeof(float));
        for (int64_t i = 0; i < n_rows; i++) {
            m[i] = -INFINITY;
            l[i] = 0.0f;
        }
        const int64_t n_tiles = (ch->n_keys + MLA_ROW_TILE - 1) / MLA_ROW_TILE;
        const int64_t s0 = n_tiles * p / a->parts * MLA_ROW_TILE, s1e = n_tiles * (p + 1) / a->parts * MLA_ROW_TILE;
        const int64_t s1 = s1e < ch->n_keys ? s1e : ch->n_keys;
        for (int64_t b = s0; b < s1; b += MLA_ROW_TILE) {
            const int64_t n = s1 - b < MLA_ROW_TILE ? s1 - b : MLA_ROW_TILE;
            const uint8_t *rows = kv_k_row(&c->kv, ch->seq, a->il, b);
            if (!fused) k->dequant_rows(c->params.kv_type, rows, st->row_bytes, n, W, tile);
            if (qa != NULL) { /* quantized cache: int8 products of the raw rows with the Q8_0 queries */
                const kern_matrix rows_m = {c->params.kv_type, W, n, st->row_bytes, rows};
                kern_matmul(c->simd, &rows_m, qa, n_rows, sc, MLA_ROW_TILE, 0, n);
            } else {
                k->scores(tile, n, qv, n_rows, W, sc, MLA_ROW_TILE);
            }
            for (int64_t i = 0; i < n_rows; i++) {
                float *row = sc + i * MLA_ROW_TILE;
                int64_t valid = ch->pos + i / H + 1 - b; /* causal: positions <= the token's own */
                if (valid > n) valid = n;
                if (valid <= 0) {
                    memset(row, 0, (size_t)n * sizeof(float));
                    continue;
                }
                const float mx = k->scale_max(row, valid, scale);
                if (mx > m[i]) {
                    const float f = expf(m[i] - mx); /* 0 on the first tile (m = -inf) */
                    if (f != 1.0f) {
                        float *ai = acc + i * C;
                        for (int64_t j = 0; j < C; j++) ai[j] *= f;
                        l[i] *= f;
                    }
                    m[i] = mx;
                }
                const float sum = k->exp_sum(row, valid, m[i]);
                for (int64_t s = valid; s < n; s++) row[s] = 0.0f;
                l[i] += sum;
            }
#if MLA4J_X86
            if (st->pairs != NULL) { /* quantized cache: bf16 products (the cache is coarser than bf16's 8 bits) */
                uint16_t *pairs = st->pairs + (size_t)ith * (MLA_ROW_TILE / 2) * (size_t)C * 2;
                uint16_t *pb = st->p_bf16 + (size_t)ith * rows_cap * MLA_ROW_TILE;
                mla_pack_pairs_bf16_avx512(tile, n, W, C, pairs);
                for (int64_t i = 0; i < n_rows; i++) mla_row_to_bf16_avx512(sc + i * MLA_ROW_TILE, n, pb + i * MLA_ROW_TILE);
                mla_weighted_sum_bf16_avx512(pairs, (n + 1) / 2, (const uint32_t *)pb, MLA_ROW_TILE / 2, n_rows, acc, C);
                continue;
            }
#endif
            if (fused) k->weighted_sum_q8(rows, st->row_bytes, n, sc, MLA_ROW_TILE, n_rows, acc, C);
            else k->weighted_sum(tile, n, W, sc, MLA_ROW_TILE, n_rows, acc, C);
        }
    }
}

/* o_lat[i] = sum_p e^(m_p - M) acc_p[i] / sum_p e^(m_p - M) l_p[i] over the parts p of the row's chunk, M = max_p m_p. */
static void merge_task(void *arg, int ith, int nth) {
    const mla_group_task *a = arg;
    mla4j_context *c = a->c;
    mla_state *st = &c->mla;
    const int64_t H = c->model->hp.n_head, C = c->model->hp.kv_lora_rank;
    const size_t ml_cap = (size_t)MLA_ROW_GROUP * (size_t)H * (size_t)c->params.n_threads;
    for (int64_t i = ith; i < st->grp_n * H; i += nth) {
        const mla_chunk *ch = &st->chunks[st->grp_chunk_of[i / H]];
        const int64_t local = i - ch->g0 * H;
        float M = -INFINITY;
        for (int p = 0; p < a->parts; p++) M = fmaxf(M, st->ml[part_base(ch, H, a->parts, p) + (size_t)local]);
        float denom = 0.0f;
        float *o = st->o_lat + i * C;
        memset(o, 0, (size_t)C * sizeof(float));
        for (int p = 0; p < a->parts; p++) {
            const size_t bi = part_base(ch, H, a->parts, p) + (size_t)local;
            const float mt = st->ml[bi];
            if (mt == -INFINITY) continue;
            const float w = expf(mt - M);
            denom += w * st->ml[ml_cap + bi];
            const float *acc = st->partial + bi * (size_t)C;
            for (int64_t k = 0; k < C; k++) o[k] += w * acc[k];
        }
        const float inv = 1.0f / denom;
        for (int64_t k = 0; k < C; k++) o[k] *= inv;
    }
}

/* o_h = W_UV(h) o_lat,h (+ value bias) into the attention output. */
static void output_task(void *arg, int ith, int nth) {
    const mla_group_task *a = arg;
    mla4j_context *c = a->c;
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const mla_weights *w = &m->mla[a->il];
    const int64_t H = hp->n_head, C = hp->kv_lora_rank, Dv = hp->head_dim_v, per_abs = H / m->n_abs;
    uint8_t *act = c->mla.head_act + (size_t)ith * c->mla.head_act_stride;
    for (int64_t i = ith; i < c->mla.grp_n * H; i += nth) {
        const int64_t g = i / H, h = i % H, slice_index = h / per_abs;
        float *out = c->att + (c->mla.grp_rows[g] * H + h) * Dv;
        kern_matrix slice = kern_matrix_rows(&w->v_b, slice_index * Dv, Dv);
        kern_act_convert(slice.type, c->mla.o_lat + i * C, C, 0, 1, act);
        kern_matmul(c->simd, &slice, act, 1, out, Dv, 0, Dv);
        if (w->bv_b != NULL) {
            const float *b = w->bv_b + (h / (H / hp->n_head_kv)) * Dv;
            for (int64_t d = 0; d < Dv; d++) out[d] += b[d];
        }
    }
}

/* Runs the group collected so far and empties it. */
static void run_group(mla4j_context *c, int il) {
    mla_state *s = &c->mla;
    if (s->grp_n == 0) return;
    const int nth = mla4j_pool_size(c->pool);
    /* Enough work items for every thread: split each chunk's keys when there are few chunks (decode of one
     * sequence: split-K over all threads), keep chunks whole when there are many. */
    int parts = (2 * nth + s->grp_chunks - 1) / s->grp_chunks;
    if (parts > nth) parts = nth;
    if (parts < 1) parts = 1;
    mla_group_task task = {c, il, parts};
    mla4j_pool_run(c->pool, absorb_task, &task);
    if (s->q_act != NULL) kern_act_convert(c->params.kv_type, s->qvec, s->width, 0, s->grp_n * c->model->hp.n_head, s->q_act);
    mla4j_pool_run(c->pool, flash_task, &task);
    mla4j_pool_run(c->pool, merge_task, &task);
    mla4j_pool_run(c->pool, output_task, &task);
    s->grp_n = 0;
    s->grp_chunks = 0;
}

/* ---- the layer's attention ------------------------------------------------------------------------------------ */

void mla_attention(mla4j_context *c, int il, int64_t n_tok) {
    const mla4j_model *m = c->model;
    const mla4j_hparams *hp = &m->hp;
    const mla_weights *w = &m->mla[il];
    const layer_weights *lw = &m->layers[il];
    mla_state *s = &c->mla;
    const int64_t H = hp->n_head, C = hp->kv_lora_rank, R = hp->rope_dim, N = hp->head_dim_nope, Dk = hp->head_dim_k;
    const int64_t W = s->width, nr = m->n_rope_heads;

    /* Queries: [nope N | rope R] per head. */
    if (hp->q_lora_rank > 0) {
        mla4j_matmul(c->pool, c->simd, &w->wq_a, c->xn, n_tok, s->q_a, c->act_scratch);
        for (int64_t t = 0; t < n_tok; t++) rms_norm(s->q_a + t * hp->q_lora_rank, w->q_a_norm, s->q_a + t * hp->q_lora_rank, hp->q_lora_rank, hp->rms_eps);
        mla4j_matmul(c->pool, c->simd, &w->wq_b, s->q_a, n_tok, c->q, c->act_scratch);
    } else {
        mla4j_matmul(c->pool, c->simd, &lw->wq, c->xn, n_tok, c->q, c->act_scratch);
        if (lw->bq != NULL)
            for (int64_t t = 0; t < n_tok; t++)
                for (int64_t i = 0; i < H * Dk; i++) c->q[t * H * Dk + i] += lw->bq[i];
    }
    /* Latent and rope keys: lat[t] = [c (C) | k_R (nr x R)]. */
    if (w->wk_rope.data == NULL && nr == 1) {
        mla4j_matmul(c->pool, c->simd, &w->wkv_a, c->xn, n_tok, s->lat, c->act_scratch); /* deepseek2: [c ; k_pe] */
    } else {
        float *tmp = s->lat + n_tok * W; /* spare room after the batch's rows */
        mla4j_matmul(c->pool, c->simd, &w->wkv_a, c->xn, n_tok, tmp, c->act_scratch);
        for (int64_t t = n_tok - 1; t >= 0; t--) memmove(s->lat + t * W, tmp + t * C, (size_t)C * sizeof(float));
        if (R > 0) {
            mla4j_matmul(c->pool, c->simd, &w->wk_rope, c->xn, n_tok, tmp, c->act_scratch);
            for (int64_t t = 0; t < n_tok; t++) {
                float *dst = s->lat + t * W + C;
                memcpy(dst, tmp + t * nr * R, (size_t)(nr * R) * sizeof(float));
                if (w->bk_rope != NULL)
                    for (int64_t i = 0; i < nr * R; i++) dst[i] += w->bk_rope[i];
            }
        }
    }
    float cs[MAX_HEAD_DIM];
    for (int64_t t = 0; t < n_tok; t++) {
        float *row = s->lat + t * W;
        const int32_t pos = c->row_pos[t];
        if (w->rope_theta == NULL) rope_cos_sin(&m->yarn, (int)R, pos, hp->rope_freq_base, hp->rope_freq_scale, NULL, cs);
        for (int64_t rh = 0; rh < nr; rh++) {
            if (w->rope_theta != NULL) rope_pairs(row + C + rh * R, (int)R, pos, w->rope_theta + rh * (R / 2));
            else rope_rotate(row + C + rh * R, (int)R, MLA4J_ROPE_NORM, cs);
        }
        if (w->kv_a_norm != NULL) rms_norm(row, w->kv_a_norm, row, C, hp->rms_eps);
        mla_store_row(c->params.kv_type, row, W, kv_k_row(&c->kv, &c->seqs[c->row_seq[t]], il, pos));
        for (int64_t h = 0; h < H; h++) {
            const int64_t rh = h / (H / nr);
            float *qr = c->q + (t * H + h) * Dk + N;
            if (w->rope_theta != NULL) rope_pairs(qr, (int)R, pos, w->rope_theta + rh * (R / 2));
            else rope_rotate(qr, (int)R, MLA4J_ROPE_NORM, cs);
        }
    }
    for (int32_t r = 0; r < c->n_runs; r++) {
        const kv_run *run = &c->runs[r];
        const int mha = s->mha_b != NULL && (s->form == MLA_FORM_MHA || (s->form == MLA_FORM_AUTO && run->n >= MLA_MHA_MIN_BATCH));
        if (mha) {
            mla_attention_mha(c, il, run);
            continue;
        }
        /* The absorbed form: chunks of MLA_TOKEN_CHUNK rows into groups of MLA_ROW_GROUP rows. */
        for (int64_t t0 = 0; t0 < run->n; t0 += MLA_TOKEN_CHUNK) {
            const int64_t nt = run->n - t0 < MLA_TOKEN_CHUNK ? run->n - t0 : MLA_TOKEN_CHUNK;
            if (s->grp_n + nt > MLA_ROW_GROUP) run_group(c, il);
            s->chunks[s->grp_chunks] = (mla_chunk){s->grp_n, nt, run->pos0 + (int32_t)t0, run->pos0 + t0 + nt, &c->seqs[run->seq]};
            for (int64_t j = 0; j < nt; j++) {
                s->grp_rows[s->grp_n + j] = run->row0 + t0 + j;
                s->grp_chunk_of[s->grp_n + j] = s->grp_chunks;
            }
            s->grp_n += nt;
            s->grp_chunks++;
        }
    }
    run_group(c, il);
}
