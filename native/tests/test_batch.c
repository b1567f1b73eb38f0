/* test_batch.c - batch contexts (batch.c over kv_pool.c): the logits of 8 sequences of different lengths decoded
 * together (chunked prompts interleaved with decode steps of running sequences, rows of several sequences in one
 * call) equal those of each sequence run alone in a single-session context (prompt in one call, then one token per
 * call) within 1e-4, for llama (GQA), dense deepseek2 with and without q-LoRA, mha2mla and deepseek2 MoE models
 * built here as GGUF images (F32 cache; Q8_0 latent cache too for deepseek2 and mha2mla); the same with prompts sharing a prefix (blocks reused, copy-on-write of a shared block
 * that a prompt ends in); block accounting back to zero after the sequences leave; LRU eviction of cached blocks;
 * and one-line refusals of bad calls (pool exhausted, position gaps, unknown sequences). */
#include "check.h"
#include "../src/context.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gguf_image.h" /* the in-memory GGUF writer (put, put_u32, put_u64, put_str) */

enum { ARCH_LLAMA, ARCH_DS2, ARCH_DS2_QLORA, ARCH_MHA2MLA, ARCH_DS2_MOE };
static const char *arch_name[] = {"llama", "deepseek2", "deepseek2 q-LoRA", "mha2mla", "deepseek2 MoE"};

typedef struct tdef {
    char name[64];
    int64_t ne[3];
    int nd;
    float std; /* 0: ones; < 0: RoPE frequencies */
} tdef;

typedef struct kv {
    char key[64];
    int is_f32;
    uint32_t u;
    float f;
} kv;

static uint64_t rng_state;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xFFFFFF) / (float)(1 << 23) - 1.0f;
}

static tdef T[256];
static int nt;
static kv K[64];
static int nk;

static void t_add(const char *name, int nd, int64_t a, int64_t b, int64_t c, float std) {
    tdef *d = &T[nt++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->nd = nd;
    d->ne[0] = a;
    d->ne[1] = b;
    d->ne[2] = c;
    d->std = std;
}
static void k_u(const char *arch, const char *key, uint32_t v) {
    snprintf(K[nk].key, sizeof K[nk].key, "%s.%s", arch, key);
    K[nk].is_f32 = 0;
    K[nk++].u = v;
}
static void k_f(const char *arch, const char *key, float v) {
    snprintf(K[nk].key, sizeof K[nk].key, "%s.%s", arch, key);
    K[nk].is_f32 = 1;
    K[nk++].f = v;
}

static int64_t t_count(const tdef *d) { return d->ne[0] * (d->nd > 1 ? d->ne[1] : 1) * (d->nd > 2 ? d->ne[2] : 1); }

static mla4j_model *build(int arch) {
    nt = nk = 0;
    rng_state = 12345u + (uint64_t)arch;
    const int E = 64, L = 2, V = 48, FF = 96;
    const char *an = arch == ARCH_LLAMA ? "llama" : arch == ARCH_MHA2MLA ? "mha2mla" : "deepseek2";
    const float sd = 1.0f / sqrtf((float)E);
    char nm[64];
    t_add("token_embd.weight", 2, E, V, 0, 1.0f);
    /* deepseek2: H 4, C 48, R 16, N 16, Dv 16; mha2mla: H 4, Hkv 2, d_h 16, r 8, C 48; llama: H 4, Hkv 2, d_h 16
     * (latent rows of 64 values: a Q8_0 cache can hold them) */
    const int H = 4, Hkv = 2, D = 16, C = 48, R = 16, N = 16, Dv = 16, Q = 24, r = 8, X = 6, F = 32;
    for (int il = 0; il < L; il++) {
#define NM(x) (snprintf(nm, sizeof nm, "blk.%d." x, il), nm)
        t_add(NM("attn_norm.weight"), 1, E, 0, 0, 0.0f);
        t_add(NM("ffn_norm.weight"), 1, E, 0, 0, 0.0f);
        if (arch == ARCH_LLAMA) {
            t_add(NM("attn_q.weight"), 2, E, H * D, 0, sd);
            t_add(NM("attn_k.weight"), 2, E, Hkv * D, 0, sd);
            t_add(NM("attn_v.weight"), 2, E, Hkv * D, 0, sd);
            t_add(NM("attn_output.weight"), 2, H * D, E, 0, 0.2f);
        } else if (arch == ARCH_MHA2MLA) {
            t_add(NM("attn_q.weight"), 2, E, H * D, 0, sd);
            t_add(NM("attn_k_rope.weight"), 2, E, Hkv * r, 0, sd);
            t_add(NM("attn_rope_freqs"), 2, r / 2, Hkv, 0, -1.0f);
            t_add(NM("attn_kv_a.weight"), 2, E, C, 0, sd);
            t_add(NM("attn_kv_a_norm.weight"), 1, C, 0, 0, 0.0f);
            t_add(NM("attn_k_b.weight"), 3, D - r, C, Hkv, 0.2f);
            t_add(NM("attn_v_b.weight"), 3, C, D, Hkv, 0.2f);
            t_add(NM("attn_output.weight"), 2, H * D, E, 0, 0.2f);
        } else {
            if (arch == ARCH_DS2_QLORA) {
                t_add(NM("attn_q_a.weight"), 2, E, Q, 0, sd);
                t_add(NM("attn_q_a_norm.weight"), 1, Q, 0, 0, 0.0f);
                t_add(NM("attn_q_b.weight"), 2, Q, H * (N + R), 0, 0.2f);
            } else {
                t_add(NM("attn_q.weight"), 2, E, H * (N + R), 0, sd);
            }
            t_add(NM("attn_kv_a_mqa.weight"), 2, E, C + R, 0, sd);
            t_add(NM("attn_kv_a_norm.weight"), 1, C, 0, 0, 0.0f);
            t_add(NM("attn_k_b.weight"), 3, N, C, H, 0.2f);
            t_add(NM("attn_v_b.weight"), 3, C, Dv, H, 0.2f);
            t_add(NM("attn_output.weight"), 2, H * Dv, E, 0, 0.2f);
        }
        if (arch == ARCH_DS2_MOE && il >= 1) {
            t_add(NM("ffn_gate_inp.weight"), 2, E, X, 0, 2 * sd);
            t_add(NM("ffn_gate_exps.weight"), 3, E, F, X, sd);
            t_add(NM("ffn_up_exps.weight"), 3, E, F, X, sd);
            t_add(NM("ffn_down_exps.weight"), 3, F, E, X, 0.2f);
            t_add(NM("ffn_gate_shexp.weight"), 2, E, F, 0, sd);
            t_add(NM("ffn_up_shexp.weight"), 2, E, F, 0, sd);
            t_add(NM("ffn_down_shexp.weight"), 2, F, E, 0, 0.2f);
        } else {
            t_add(NM("ffn_gate.weight"), 2, E, FF, 0, sd);
            t_add(NM("ffn_up.weight"), 2, E, FF, 0, sd);
            t_add(NM("ffn_down.weight"), 2, FF, E, 0, 0.2f);
        }
#undef NM
    }
    t_add("output_norm.weight", 1, E, 0, 0, 0.0f);
    t_add("output.weight", 2, E, V, 0, sd);

    k_u(an, "context_length", 512);
    k_u(an, "embedding_length", E);
    k_u(an, "block_count", L);
    k_u(an, "feed_forward_length", FF);
    k_u(an, "attention.head_count", H);
    k_f(an, "attention.layer_norm_rms_epsilon", 1e-6f);
    if (arch == ARCH_LLAMA) {
        k_u(an, "attention.head_count_kv", Hkv);
    } else if (arch == ARCH_MHA2MLA) {
        k_u(an, "attention.head_count_kv", Hkv);
        k_u(an, "attention.key_length", D);
        k_u(an, "rope.dimension_count", r);
        k_u(an, "attention.kv_lora_rank", C);
    } else {
        k_u(an, "attention.head_count_kv", 1);
        k_u(an, "attention.q_lora_rank", arch == ARCH_DS2_QLORA ? Q : 0);
        k_u(an, "attention.kv_lora_rank", C);
        k_u(an, "attention.key_length", C + R);
        k_u(an, "attention.value_length", C);
        k_u(an, "attention.key_length_mla", N + R);
        k_u(an, "attention.value_length_mla", Dv);
        k_u(an, "rope.dimension_count", R);
        k_u(an, "leading_dense_block_count", arch == ARCH_DS2_MOE ? 1 : L); /* dense: every layer */
        if (arch == ARCH_DS2_MOE) {
            k_u(an, "expert_count", X);
            k_u(an, "expert_used_count", 2);
            k_u(an, "expert_shared_count", 1);
            k_u(an, "expert_feed_forward_length", F);
            k_u(an, "expert_gating_func", 1);
            k_u(an, "expert_weights_norm", 1);
            k_f(an, "expert_weights_scale", 1.0f);
        }
    }
    img b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)nt);
    put_u64(&b, (uint64_t)nk + 1);
    put_str(&b, "general.architecture");
    put_u32(&b, 8);
    put_str(&b, an);
    for (int i = 0; i < nk; i++) {
        put_str(&b, K[i].key);
        put_u32(&b, K[i].is_f32 ? 6 : 4);
        if (K[i].is_f32) put(&b, &K[i].f, 4);
        else put_u32(&b, K[i].u);
    }
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&b, T[i].name);
        put_u32(&b, (uint32_t)T[i].nd);
        for (int d = 0; d < T[i].nd; d++) put_u64(&b, (uint64_t)T[i].ne[d]);
        put_u32(&b, MLA4J_TYPE_F32);
        put_u64(&b, off);
        off += ((uint64_t)t_count(&T[i]) * 4 + 31) / 32 * 32;
    }
    while (b.len % 32) put(&b, "", 1);
    for (int i = 0; i < nt; i++) {
        const size_t start = b.len;
        const int64_t n = t_count(&T[i]);
        for (int64_t j = 0; j < n; j++) {
            float v = T[i].std == 0.0f ? 1.0f : T[i].std * frand();
            if (T[i].std < 0) v = powf(10000.0f, -2.0f * (float)(j % T[i].ne[0]) / (float)(2 * T[i].ne[0]));
            put(&b, &v, 4);
        }
        while ((b.len - start) % 32) put(&b, "", 1);
    }
    mla4j_gguf *g = NULL;
    mla4j_model *m = NULL;
    mla4j_status st = mla4j_gguf_open_memory(b.p, b.len, "batch-test.gguf", &g);
    free(b.p);
    if (st == MLA4J_OK) st = mla4j_model_from_gguf(g, &m);
    CHECK_MSG(st == MLA4J_OK, "%s: %s", arch_name[arch], mla4j_last_error());
    return st == MLA4J_OK ? m : NULL;
}

/* ---- the comparison ---- */

#define N_SEQ 8
#define MAX_LEN 200
#define N_VOCAB 48

typedef struct seq_plan {
    int32_t tokens[MAX_LEN];
    int n_prompt, n_total;
    int start_step; /* the scheduler step at which it joins */
} seq_plan;

/* Single-session logits of every position of a sequence: the prompt in one call, then one token per call. */
static void reference(const mla4j_model *m, const seq_plan *s, int kv_type, float *out) {
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 256;
    p.n_threads = 2;
    p.kv_type = kv_type;
    mla4j_context *c = NULL;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    if (c == NULL) return;
    /* A quantized cache: prompts token by token too, so that both sides run the absorbed form with int8 queries
     * (the MHA form of a long prompt scores float queries: a different, coarser-by-design result). */
    const int step = kv_type == MLA4J_TYPE_F32 ? s->n_prompt : 1;
    for (int i = 0; i < s->n_prompt; i += step) {
        CHECK(mla4j_context_eval(c, s->tokens + i, step, out + (size_t)i * N_VOCAB) == MLA4J_OK);
    }
    for (int i = s->n_prompt; i < s->n_total; i++) {
        CHECK(mla4j_context_eval(c, s->tokens + i, 1, out + (size_t)i * N_VOCAB) == MLA4J_OK);
    }
    mla4j_context_free(c);
}

static double rel_diff(const float *a, const float *b, int n) {
    double amax = 1.0, d = 0.0;
    for (int i = 0; i < n; i++) {
        amax = fmax(amax, fabs((double)b[i]));
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    }
    return d / amax;
}

/* Plans 8 sequences; shared > 0 starts every prompt with the same `shared` tokens (and makes one prompt exactly that
 * prefix, so that its last token rewrites a shared block). */
static void plan(seq_plan *s, int shared) {
    const int prompt[N_SEQ] = {5, 70, 33, 1, 130, 64, 17, 100};
    const int gen[N_SEQ] = {12, 9, 20, 15, 6, 11, 14, 8};
    uint64_t st = 99;
    for (int i = 0; i < N_SEQ; i++) {
        s[i].n_prompt = prompt[i];
        if (shared > 0) s[i].n_prompt = i == 3 ? shared : shared + prompt[i] % 40 + 1;
        s[i].n_total = s[i].n_prompt + gen[i];
        s[i].start_step = i / 2 + (shared > 0 && i > 0 ? 6 : 0); /* with sharing: the first has cached its prefix */
        for (int j = 0; j < s[i].n_total; j++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            s[i].tokens[j] = (int32_t)((st >> 33) % N_VOCAB);
            if (shared > 0 && j < shared) s[i].tokens[j] = (int32_t)((j * 7 + 3) % N_VOCAB);
        }
    }
}

static void compare(const mla4j_model *m, int arch, int shared, int kv_type) {
    seq_plan s[N_SEQ];
    plan(s, shared);
    float *ref = malloc((size_t)N_SEQ * MAX_LEN * N_VOCAB * sizeof(float));
    for (int i = 0; i < N_SEQ; i++) reference(m, &s[i], kv_type, ref + (size_t)i * MAX_LEN * N_VOCAB);

    mla4j_batch_params bp;
    mla4j_batch_params_init(&bp);
    bp.n_threads = 2;
    bp.n_seq_max = N_SEQ;
    bp.n_ctx = 256;
    bp.n_batch = 96; /* smaller than one step's rows: a step runs as several forward passes */
    bp.kv_type = kv_type;
    mla4j_batch *b = NULL;
    CHECK_MSG(mla4j_batch_create(m, &bp, &b) == MLA4J_OK, "%s", mla4j_last_error());
    if (b == NULL) {
        free(ref);
        return;
    }
    int32_t id[N_SEQ], pos[N_SEQ], joined[N_SEQ] = {0}, done[N_SEQ] = {0};
    int32_t rs[1024], rp[1024], rt[1024], owner[1024];
    int8_t want[1024];
    double worst = 0.0;
    int n_done = 0, compared = 0, cached_total = 0;
    for (int step = 0; n_done < N_SEQ && step < 1000; step++) {
        int n = 0;
        for (int i = 0; i < N_SEQ; i++) {
            if (done[i] || step < s[i].start_step) continue;
            if (!joined[i]) {
                int32_t cached = -1;
                CHECK(mla4j_batch_seq_add(b, s[i].tokens, s[i].n_prompt, &id[i], &cached) == MLA4J_OK);
                if (shared > 0 && i > 0) {
                    /* whole shared blocks of 64 are reused; a prompt that is exactly the prefix recomputes its last */
                    const int expect = i == 3 ? shared - 1 : shared / 64 * 64;
                    CHECK_MSG(cached == expect, "%s: sequence %d: %d tokens cached, expected %d", arch_name[arch], i, cached, expect);
                } else {
                    CHECK(cached == 0);
                }
                cached_total += cached;
                pos[i] = cached;
                joined[i] = 1;
            }
            /* prompt: chunks; then one token per step */
            int k = pos[i] < s[i].n_prompt ? s[i].n_prompt - pos[i] : 1;
            /* F32: runs of 64+ take the prompt paths (MHA-form MLA, blocked GQA); Q8_0: the absorbed form only */
            const int cap = kv_type == MLA4J_TYPE_F32 ? 66 : 48;
            if (k > cap) k = cap;
            for (int j = 0; j < k; j++, n++) {
                rs[n] = id[i];
                rp[n] = pos[i] + j;
                rt[n] = s[i].tokens[pos[i] + j];
                owner[n] = i;
                want[n] = 1;
            }
        }
        if (n == 0) continue;
        mla4j_status st = mla4j_batch_decode(b, n, rs, rp, rt, want);
        CHECK_MSG(st == MLA4J_OK, "%s: %s", arch_name[arch], mla4j_last_error());
        if (st != MLA4J_OK) break;
        for (int r = 0; r < n; r++) {
            const float *lg = NULL;
            CHECK(mla4j_batch_get_logits(b, r, &lg) == MLA4J_OK);
            if (lg == NULL) continue;
            const int i = owner[r];
            const double d = rel_diff(lg, ref + ((size_t)i * MAX_LEN + (size_t)rp[r]) * N_VOCAB, N_VOCAB);
            if (d > worst) worst = d;
            compared++;
        }
        for (int r = 0; r < n; r++) pos[owner[r]] = rp[r] + 1;
        for (int i = 0; i < N_SEQ; i++) {
            if (joined[i] && !done[i] && pos[i] == s[i].n_total) {
                int32_t p = -1;
                CHECK(mla4j_batch_seq_position(b, id[i], &p) == MLA4J_OK && p == s[i].n_total);
                CHECK(mla4j_batch_seq_remove(b, id[i]) == MLA4J_OK);
                done[i] = 1;
                n_done++;
            }
        }
    }
    CHECK(n_done == N_SEQ);
    const char *cache = kv_type == MLA4J_TYPE_F32 ? "F32" : "Q8_0";
    /* Q8_0: queries are rounded to int8 per row, which can turn a last-bit difference upstream (rows multiplied
     * together or alone) into one quantization step: 1e-3 there. */
    const double tol = kv_type == MLA4J_TYPE_F32 ? 1e-4 : 1e-3;
    CHECK_MSG(worst <= tol, "%s%s, %s cache: batched vs single-session logits differ by %g (relative)", arch_name[arch],
              shared ? " (shared prefix)" : "", cache, worst);
    printf("%-18s %s %-4s: %d rows compared, max relative logit difference %.2e, %d prompt tokens from the prefix cache\n",
           arch_name[arch], shared ? "shared prefix" : "             ", cache, compared, worst, cached_total);
    mla4j_batch_stats stats;
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK);
    CHECK_MSG(stats.blocks_used == 0 && stats.n_seq_active == 0, "%d blocks used after every sequence left", stats.blocks_used);
    CHECK(stats.blocks_total == N_SEQ * 4 && stats.block_tokens == 64);
    CHECK(stats.blocks_cached > 0 && stats.blocks_cached <= stats.blocks_total); /* full blocks stay for reuse */
    mla4j_batch_free(b);
    free(ref);
}

/* Pool exhaustion, eviction and bad calls, on a pool of 4 blocks. */
static void test_limits(const mla4j_model *m) {
    mla4j_batch_params bp;
    mla4j_batch_params_init(&bp);
    bp.n_threads = 1;
    bp.n_seq_max = 3;
    bp.n_ctx = 320;
    bp.n_blocks = 4;
    bp.kv_type = MLA4J_TYPE_F32;
    mla4j_batch *b = NULL;
    CHECK(mla4j_batch_create(m, &bp, &b) == MLA4J_OK);
    if (b == NULL) return;
    int32_t rs[320], rp[320], rt[320], a = -1, c2 = -1, cached = -1;
    for (int i = 0; i < 320; i++) rt[i] = (i * 5 + 1) % N_VOCAB;
    CHECK(mla4j_batch_seq_add(b, rt, 130, &a, &cached) == MLA4J_OK && cached == 0);
    for (int i = 0; i < 300; i++) {
        rs[i] = a;
        rp[i] = i;
    }
    /* 300 positions need 5 blocks of 64: refused, and nothing changes */
    CHECK(mla4j_batch_decode(b, 300, rs, rp, rt, NULL) == MLA4J_ERR_OUT_OF_MEMORY);
    CHECK_MSG(strstr(mla4j_last_error(), "kv pool: no free block (4 blocks of 64 tokens in use)") != NULL, "%s", mla4j_last_error());
    mla4j_batch_stats stats;
    int32_t p = -1;
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 0);
    CHECK(mla4j_batch_seq_position(b, a, &p) == MLA4J_OK && p == 0);
    /* position gap, unknown sequence, token out of range: refused before anything runs */
    rp[0] = 1;
    CHECK(mla4j_batch_decode(b, 1, rs, rp, rt, NULL) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "continues at position 0, not 1") != NULL);
    rp[0] = 0;
    rs[0] = 2;
    CHECK(mla4j_batch_decode(b, 1, rs, rp, rt, NULL) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "no active sequence 2") != NULL);
    rs[0] = a;
    CHECK(mla4j_batch_seq_remove(b, 7) == MLA4J_ERR_INVALID_ARGUMENT);
    const float *lg = NULL;
    CHECK(mla4j_batch_get_logits(b, 0, &lg) == MLA4J_ERR_INVALID_ARGUMENT);
    /* 130 positions: 3 blocks, two of them full and cached after the sequence leaves */
    CHECK(mla4j_batch_decode(b, 130, rs, rp, rt, NULL) == MLA4J_OK);
    CHECK(mla4j_batch_get_logits(b, 129, &lg) == MLA4J_OK && lg != NULL);
    CHECK(mla4j_batch_get_logits(b, 128, &lg) == MLA4J_ERR_STATE);
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 3 && stats.blocks_cached == 0);
    float before[N_VOCAB];
    memcpy(before, lg, sizeof before);
    /* truncate to 100 and decode the same 30 tokens again: a block goes back, the logits come out the same */
    CHECK(mla4j_batch_seq_truncate(b, a, 131) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_batch_seq_truncate(b, a, 100) == MLA4J_OK);
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 2);
    /* a pending cancel stops the next decode, which adds nothing */
    CHECK(mla4j_batch_cancel(b, 1) == MLA4J_OK);
    CHECK(mla4j_batch_decode(b, 30, rs + 100, rp + 100, rt + 100, NULL) == MLA4J_ERR_CANCELLED);
    CHECK(mla4j_batch_seq_position(b, a, &p) == MLA4J_OK && p == 100);
    CHECK(mla4j_batch_decode(b, 30, rs + 100, rp + 100, rt + 100, NULL) == MLA4J_OK);
    CHECK(mla4j_batch_get_logits(b, 29, &lg) == MLA4J_OK && lg != NULL && rel_diff(lg, before, N_VOCAB) < 1e-6);
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 3);
    CHECK(mla4j_batch_seq_remove(b, a) == MLA4J_OK);
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 0 && stats.blocks_cached == 2);
    /* a new sequence of 256 positions needs all 4: the cached blocks are evicted */
    CHECK(mla4j_batch_seq_add(b, rt + 1, 100, &c2, &cached) == MLA4J_OK && cached == 0);
    for (int i = 0; i < 256; i++) rs[i] = c2;
    CHECK_MSG(mla4j_batch_decode(b, 256, rs, rp, rt + 1, NULL) == MLA4J_OK, "%s", mla4j_last_error());
    CHECK(mla4j_batch_get_stats(b, &stats) == MLA4J_OK && stats.blocks_used == 4 && stats.blocks_cached == 0);
    /* all sequences in use */
    int32_t x = -1, y = -1;
    CHECK(mla4j_batch_seq_add(b, NULL, 0, &x, &cached) == MLA4J_OK);
    CHECK(mla4j_batch_seq_add(b, NULL, 0, &y, &cached) == MLA4J_OK);
    CHECK(mla4j_batch_seq_add(b, NULL, 0, &y, &cached) == MLA4J_ERR_STATE);
    rs[0] = x;
    CHECK(mla4j_batch_decode(b, 1, rs, rp, rt, NULL) == MLA4J_ERR_OUT_OF_MEMORY);
    CHECK(mla4j_batch_seq_remove(b, c2) == MLA4J_OK);
    CHECK(mla4j_batch_decode(b, 1, rs, rp, rt, NULL) == MLA4J_OK);
    mla4j_batch_free(b);
    /* bad parameters */
    bp.block_tokens = 48;
    CHECK(mla4j_batch_create(m, &bp, &b) == MLA4J_ERR_INVALID_ARGUMENT && strstr(mla4j_last_error(), "multiple of 64"));
}

int main(void) {
    for (int arch = ARCH_LLAMA; arch <= ARCH_DS2_MOE; arch++) {
        mla4j_model *m = build(arch);
        if (m == NULL) continue;
        compare(m, arch, 0, MLA4J_TYPE_F32);
        compare(m, arch, 128, MLA4J_TYPE_F32);
        /* a quantized latent cache: the int8 score kernel over queries of several sequences at once */
        if (arch == ARCH_DS2 || arch == ARCH_MHA2MLA) compare(m, arch, 128, MLA4J_TYPE_Q8_0);
        if (arch == ARCH_LLAMA || arch == ARCH_DS2) test_limits(m);
        mla4j_model_free(m);
    }
    return check_summary("test_batch");
}
