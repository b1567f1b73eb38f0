/* test_moe.c - the deepseek2 Mixture-of-Experts FFN (moe.c) against its plain reference (moe_ref.c) on random
 * models built here as GGUF images: softmax and sigmoid gating, with and without the selection bias, group routing,
 * weight normalisation and scale, shared experts or none, a fused gate_up tensor, F32 and Q8_0 weights, every SIMD
 * level, batches of 1 to 37 rows (a batch equals its rows one at a time); and the loader's one-line refusals of
 * files that claim experts but lack a tensor, count 0 or more than 1024 experts, use more than they have, or have
 * tensors of the wrong shape. */
#include "check.h"
#include "../src/context.h"
#include "../src/moe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gguf_image.h" /* the in-memory GGUF writer (put, put_u32, put_u64, put_str) */

#define MAX_T 64
#define MAX_KV 48
typedef struct model_spec {
    int E, H, C, R, N, Dv, layers, n_ff, vocab;
    int X, k, shared, F, dense, gating, bias, groups, groups_used, norm_w, fused;
    float scale;
    int32_t wtype; /* F32 or Q8_0 for the matrices */
    int f32_output; /* output.weight in F32 whatever wtype is (llama-quantize's mixes give the output its own type) */
    /* mutations for the refusal tests */
    const char *skip_tensor;  /* leave this tensor out */
    const char *bad_tensor;   /* give this tensor one row too many */
    const char *kv_override;  /* "key=value" (u32) */
} model_spec;

typedef struct tensor_def {
    char name[64];
    int64_t ne[3];
    int nd;
    int32_t type;
    float std;
    int ones;
} tensor_def;

static uint64_t rng_state;
static float frand(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xFFFFFF) / (float)(1 << 23) - 1.0f;
}

static void add_t(tensor_def *t, int *n, const model_spec *s, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                  int32_t type, float std) {
    if (s->skip_tensor != NULL && strcmp(s->skip_tensor, name) == 0) return;
    tensor_def *d = &t[(*n)++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->nd = nd;
    d->ne[0] = a;
    d->ne[1] = b;
    d->ne[2] = c;
    if (s->bad_tensor != NULL && strcmp(s->bad_tensor, name) == 0) d->ne[nd - 1] += 1;
    d->type = nd == 1 ? MLA4J_TYPE_F32 : type;
    d->std = std;
    d->ones = std == 0.0f;
}

static size_t tensor_bytes(const tensor_def *d) {
    int64_t n = d->ne[0] * (d->nd > 1 ? d->ne[1] : 1) * (d->nd > 2 ? d->ne[2] : 1);
    return d->type == MLA4J_TYPE_Q8_0 ? (size_t)(n / 32 * 34) : (size_t)n * 4;
}

static void write_data(img *b, const tensor_def *d) {
    int64_t n = d->ne[0] * (d->nd > 1 ? d->ne[1] : 1) * (d->nd > 2 ? d->ne[2] : 1);
    float blk[32];
    for (int64_t i = 0; i < n; i += 32) {
        int64_t m = n - i < 32 ? n - i : 32;
        for (int64_t j = 0; j < m; j++) blk[j] = d->ones ? 1.0f : d->std * frand();
        if (d->type == MLA4J_TYPE_Q8_0) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(blk[j]));
            float dd = amax / 127.0f, id = dd != 0 ? 1.0f / dd : 0;
            uint16_t h = kern_fp32_to_fp16(dd);
            put(b, &h, 2);
            for (int j = 0; j < 32; j++) {
                int8_t q = (int8_t)roundf(blk[j] * id);
                put(b, &q, 1);
            }
        } else {
            put(b, blk, (size_t)m * 4);
        }
    }
}

/* Builds the GGUF image of a deepseek2 MoE model. */
static img build(const model_spec *s) {
    tensor_def *t = calloc(MAX_T * 4, sizeof *t);
    int nt = 0;
    const int64_t E = s->E, H = s->H, C = s->C, R = s->R, N = s->N, Dv = s->Dv, X = s->X, F = s->F;
    const int32_t w = s->wtype;
    const float sd = 1.0f / sqrtf((float)E);
    char nm[64];
    add_t(t, &nt, s, "token_embd.weight", 2, E, s->vocab, 0, MLA4J_TYPE_F32, 1.0f);
    for (int il = 0; il < s->layers; il++) {
#define NM(x) (snprintf(nm, sizeof nm, "blk.%d." x, il), nm)
        add_t(t, &nt, s, NM("attn_norm.weight"), 1, E, 0, 0, 0, 0.0f);
        add_t(t, &nt, s, NM("attn_q.weight"), 2, E, H * (N + R), 0, w, sd);
        add_t(t, &nt, s, NM("attn_kv_a_mqa.weight"), 2, E, C + R, 0, w, sd);
        add_t(t, &nt, s, NM("attn_kv_a_norm.weight"), 1, C, 0, 0, 0, 0.0f);
        add_t(t, &nt, s, NM("attn_k_b.weight"), 3, N, C, H, MLA4J_TYPE_F32, 0.2f);
        add_t(t, &nt, s, NM("attn_v_b.weight"), 3, C, Dv, H, MLA4J_TYPE_F32, 0.2f);
        add_t(t, &nt, s, NM("attn_output.weight"), 2, H * Dv, E, 0, w, 0.2f);
        add_t(t, &nt, s, NM("ffn_norm.weight"), 1, E, 0, 0, 0, 0.0f);
        if (il < s->dense) {
            add_t(t, &nt, s, NM("ffn_gate.weight"), 2, E, s->n_ff, 0, w, sd);
            add_t(t, &nt, s, NM("ffn_up.weight"), 2, E, s->n_ff, 0, w, sd);
            add_t(t, &nt, s, NM("ffn_down.weight"), 2, s->n_ff, E, 0, w, 0.2f);
            continue;
        }
        add_t(t, &nt, s, NM("ffn_gate_inp.weight"), 2, E, X, 0, MLA4J_TYPE_F32, 2 * sd);
        if (s->bias) add_t(t, &nt, s, NM("exp_probs_b.bias"), 1, X, 0, 0, 0, 0.1f);
        if (s->fused) {
            add_t(t, &nt, s, NM("ffn_gate_up_exps.weight"), 3, E, 2 * F, X, w, sd);
        } else {
            add_t(t, &nt, s, NM("ffn_gate_exps.weight"), 3, E, F, X, w, sd);
            add_t(t, &nt, s, NM("ffn_up_exps.weight"), 3, E, F, X, w, sd);
        }
        add_t(t, &nt, s, NM("ffn_down_exps.weight"), 3, F, E, X, w, 0.2f);
        if (s->shared > 0) {
            add_t(t, &nt, s, NM("ffn_gate_shexp.weight"), 2, E, F * s->shared, 0, w, sd);
            add_t(t, &nt, s, NM("ffn_up_shexp.weight"), 2, E, F * s->shared, 0, w, sd);
            add_t(t, &nt, s, NM("ffn_down_shexp.weight"), 2, F * s->shared, E, 0, w, 0.2f);
        }
#undef NM
    }
    add_t(t, &nt, s, "output_norm.weight", 1, E, 0, 0, 0, 0.0f);
    add_t(t, &nt, s, "output.weight", 2, E, s->vocab, 0, s->f32_output ? MLA4J_TYPE_F32 : w, sd);

    struct kv {
        const char *key;
        int is_f32;
        uint32_t u;
        float f;
    } kvs[MAX_KV];
    int nk = 0;
#define KU(k_, v_) kvs[nk++] = (struct kv){"deepseek2." k_, 0, (uint32_t)(v_), 0}
#define KF(k_, v_) kvs[nk++] = (struct kv){"deepseek2." k_, 1, 0, (v_)}
    KU("context_length", 256);
    KU("embedding_length", E);
    KU("block_count", s->layers);
    KU("feed_forward_length", s->n_ff);
    KU("attention.head_count", H);
    KU("attention.head_count_kv", 1);
    KF("attention.layer_norm_rms_epsilon", 1e-6f);
    KU("attention.q_lora_rank", 0);
    KU("attention.kv_lora_rank", C);
    KU("attention.key_length", C + R);
    KU("attention.value_length", C);
    KU("attention.key_length_mla", N + R);
    KU("attention.value_length_mla", Dv);
    KU("rope.dimension_count", R);
    KU("leading_dense_block_count", s->dense);
    KU("expert_count", X);
    KU("expert_used_count", s->k);
    KU("expert_shared_count", s->shared);
    KU("expert_feed_forward_length", F);
    KU("expert_gating_func", s->gating);
    KU("expert_weights_norm", s->norm_w);
    KF("expert_weights_scale", s->scale);
    if (s->groups > 1) {
        KU("expert_group_count", s->groups);
        KU("expert_group_used_count", s->groups_used);
    }
#undef KU
#undef KF
    char ovk[96] = "";
    uint32_t ovv = 0;
    if (s->kv_override != NULL) {
        const char *eq = strchr(s->kv_override, '=');
        snprintf(ovk, sizeof ovk, "deepseek2.%.*s", (int)(eq - s->kv_override), s->kv_override);
        ovv = (uint32_t)strtoul(eq + 1, NULL, 10);
        int found = 0;
        for (int i = 0; i < nk; i++)
            if (strcmp(kvs[i].key, ovk) == 0) kvs[i] = (struct kv){kvs[i].key, 0, ovv, 0}, found = 1;
        if (!found) kvs[nk++] = (struct kv){ovk, 0, ovv, 0};
    }
    img b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)nt);
    put_u64(&b, (uint64_t)nk + 1);
    put_str(&b, "general.architecture");
    put_u32(&b, 8);
    put_str(&b, "deepseek2");
    for (int i = 0; i < nk; i++) {
        put_str(&b, kvs[i].key);
        put_u32(&b, kvs[i].is_f32 ? 6 : 4);
        if (kvs[i].is_f32) put(&b, &kvs[i].f, 4);
        else put_u32(&b, kvs[i].u);
    }
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&b, t[i].name);
        put_u32(&b, (uint32_t)t[i].nd);
        for (int d = 0; d < t[i].nd; d++) put_u64(&b, (uint64_t)t[i].ne[d]);
        put_u32(&b, (uint32_t)t[i].type);
        put_u64(&b, off);
        off += (tensor_bytes(&t[i]) + 31) / 32 * 32;
    }
    while (b.len % 32) put(&b, "", 1);
    for (int i = 0; i < nt; i++) {
        size_t start = b.len;
        write_data(&b, &t[i]);
        while ((b.len - start) % 32) put(&b, "", 1);
    }
    free(t);
    return b;
}

static mla4j_status load(const model_spec *s, mla4j_model **m) {
    img b = build(s);
    mla4j_gguf *g = NULL;
    mla4j_status st = mla4j_gguf_open_memory(b.p, b.len, "moe.gguf", &g);
    free(b.p);
    if (st != MLA4J_OK) return st;
    return mla4j_model_from_gguf(g, m);
}

static model_spec base_spec(void) {
    model_spec s = {.E = 64, .H = 2, .C = 32, .R = 16, .N = 16, .Dv = 16, .layers = 2, .n_ff = 64, .vocab = 40,
                    .X = 8, .k = 2, .shared = 1, .F = 32, .dense = 1, .gating = MOE_GATING_SOFTMAX, .scale = 1.0f,
                    .wtype = MLA4J_TYPE_F32};
    return s;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* The optimized FFN against the reference on every MoE layer, batch sizes 1, 5 and 37, every SIMD level. */
static void check_against_reference(const char *what, model_spec s, double tol) {
    rng_state = 12345;
    mla4j_model *m = NULL;
    mla4j_status st = load(&s, &m);
    CHECK_MSG(st == MLA4J_OK, "%s: load failed: %s", what, mla4j_last_error());
    if (st != MLA4J_OK) return;
    const int64_t E = s.E, NB = 37;
    float *x = malloc((size_t)(NB * E) * 4), *ref = malloc((size_t)(NB * E) * 4), *one = malloc((size_t)E * 4);
    for (int64_t i = 0; i < NB * E; i++) x[i] = 2.0f * frand();
    moe_state ms;
    CHECK(moe_state_init(&ms, m, NB) == MLA4J_OK);
    mla4j_pool *pool = mla4j_pool_create(3);
    for (int il = s.dense; il < s.layers; il++) {
        CHECK(moe_ffn_ref(m, il, x, NB, ref) == MLA4J_OK);
        const double scale = fmax(1.0, max_abs(ref, NB * E));
        for (int simd = MLA4J_SIMD_SCALAR; simd <= MLA4J_SIMD_AVX512; simd++) {
            if (kern_resolve_simd(simd) != simd) continue;
            const int64_t sizes[] = {1, 5, NB};
            for (int si = 0; si < 3; si++) {
                moe_ffn(&ms, pool, simd, m, il, x, sizes[si], ms.out);
                double d = max_diff(ms.out, ref, sizes[si] * E) / scale;
                CHECK_MSG(d <= tol, "%s: layer %d simd %d batch %lld: %g from the reference (tol %g)", what, il, simd,
                          (long long)sizes[si], d, tol);
            }
            /* The batch of 37 equals its rows one at a time. */
            float *batch = malloc((size_t)(NB * E) * 4);
            moe_ffn(&ms, pool, simd, m, il, x, NB, ms.out);
            memcpy(batch, ms.out, (size_t)(NB * E) * 4);
            double worst = 0;
            for (int64_t t = 0; t < NB; t++) {
                moe_ffn(&ms, pool, simd, m, il, x + t * E, 1, ms.out);
                worst = fmax(worst, max_diff(ms.out, batch + t * E, E) / scale);
            }
            CHECK_MSG(worst <= (s.wtype == MLA4J_TYPE_F32 ? 1e-5 : 1e-3), "%s: simd %d: batch vs rows %g", what, simd, worst);
            free(batch);
        }
    }
    mla4j_pool_free(pool);
    moe_state_free(&ms);
    free(x), free(ref), free(one);
    mla4j_model_free(m);
}

/* Logits of every token of one batch (mla4j eval asks for them) when the output matrix takes wider activations
 * than any layer matrix: an F32 output over Q8_0 layers. The context's activation buffer once held the output's
 * for one token only, which wrote past it on llama-quantize's Q2_K files (output Q6_K, float activations); the
 * batch logits must equal token-by-token decoding. */
static void check_all_logits_wide_output(void) {
    model_spec s = base_spec();
    s.wtype = MLA4J_TYPE_Q8_0;
    s.f32_output = 1;
    rng_state = 777;
    mla4j_model *m = NULL;
    CHECK(load(&s, &m) == MLA4J_OK);
    if (m == NULL) return;
    enum { NT = 40 };
    int32_t toks[NT];
    for (int i = 0; i < NT; i++) toks[i] = (i * 7 + 3) % s.vocab;
    float *all = malloc((size_t)NT * (size_t)s.vocab * 4), *one = malloc((size_t)NT * (size_t)s.vocab * 4);
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 64, p.n_threads = 2, p.n_batch = NT;
    mla4j_context *c = NULL;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    CHECK(c != NULL && mla4j_context_eval(c, toks, NT, all) == MLA4J_OK);
    mla4j_context_free(c);
    c = NULL;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    for (int i = 0; c != NULL && i < NT; i++) CHECK(mla4j_context_eval(c, toks + i, 1, one + (size_t)i * s.vocab) == MLA4J_OK);
    mla4j_context_free(c);
    const double d = max_diff(all, one, (int64_t)NT * s.vocab) / fmax(1.0, max_abs(one, (int64_t)NT * s.vocab));
    CHECK_MSG(d <= 1e-2, "F32 output over Q8_0 layers: batch logits %g from token by token", d);
    free(all), free(one);
    mla4j_model_free(m);
}

/* A mutated file is refused with a message naming the key or tensor. */
static void check_refused(const char *what, model_spec s, const char *needle) {
    rng_state = 1;
    mla4j_model *m = NULL;
    mla4j_status st = load(&s, &m);
    CHECK_MSG(st != MLA4J_OK && m == NULL, "%s: loaded", what);
    const char *msg = mla4j_last_error();
    CHECK_MSG(strstr(msg, needle) != NULL && strchr(msg, '\n') == NULL, "%s: message '%s' lacks '%s'", what, msg, needle);
    mla4j_model_free(m);
}

/* The routing of one row by hand: softmax, top 2, weights normalised and scaled. */
static void check_routing_by_hand(void) {
    moe_hparams hp = {.n_expert = 4, .n_expert_used = 2, .gating = MOE_GATING_SOFTMAX, .norm_w = 1, .w_scale = 2.0f};
    const float logits[4] = {0.0f, 1.0f, 3.0f, 2.0f};
    float scratch[16], w[2];
    int32_t ids[2];
    moe_route(&hp, logits, NULL, ids, w, scratch);
    CHECK(ids[0] == 2 && ids[1] == 3);
    /* softmax weights e^3 and e^2 normalised: e/(e+1), 1/(e+1), times 2 */
    CHECK_NEAR_REL(w[0], 2.0 * exp(1.0) / (exp(1.0) + 1.0), 1e-6);
    CHECK_NEAR_REL(w[1], 2.0 / (exp(1.0) + 1.0), 1e-6);
    /* sigmoid with a bias that flips the choice but not the weights; groups of 2, one used */
    moe_hparams h2 = {.n_expert = 4, .n_expert_used = 2, .gating = MOE_GATING_SIGMOID, .n_group = 2, .n_group_used = 1,
                      .w_scale = 0.0f};
    const float bias[4] = {0.0f, 0.0f, -1.0f, -1.0f};
    moe_route(&h2, logits, bias, ids, w, scratch);
    /* selection: sig(0), sig(1), sig(3)-1, sig(2)-1 -> group 0 sums 0.5+0.731=1.231, group 1 0.953+0.881-2 < 0 */
    CHECK(ids[0] == 1 && ids[1] == 0);
    CHECK_NEAR_REL(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    CHECK_NEAR_REL(w[1], 0.5, 1e-6);
}

int main(void) {
    check_routing_by_hand();

    model_spec s = base_spec();
    check_against_reference("softmax", s, 1e-5);
    s = base_spec();
    s.shared = 0;
    check_against_reference("no shared experts", s, 1e-5);
    s = base_spec();
    s.gating = MOE_GATING_SIGMOID, s.bias = 1, s.norm_w = 1, s.scale = 2.5f, s.dense = 0;
    check_against_reference("sigmoid, bias, norm, scale", s, 1e-5);
    s.groups = 4, s.groups_used = 2, s.k = 3;
    check_against_reference("groups", s, 1e-5);
    s = base_spec();
    s.fused = 1, s.shared = 2;
    check_against_reference("fused gate_up, 2 shared", s, 1e-5);
    s = base_spec();
    s.wtype = MLA4J_TYPE_Q8_0;
    check_against_reference("Q8_0 weights", s, 2e-2); /* the optimized path quantizes its activations (llama.cpp) */
    check_all_logits_wide_output();

    s = base_spec();
    s.skip_tensor = "blk.1.ffn_down_exps.weight";
    check_refused("missing tensor", s, "blk.1.ffn_down_exps.weight");
    s = base_spec();
    s.skip_tensor = "blk.1.ffn_gate_inp.weight";
    check_refused("missing router", s, "blk.1.ffn_gate_inp.weight");
    s = base_spec();
    s.kv_override = "expert_count=0";
    check_refused("expert count 0", s, "deepseek2.expert_count");
    s = base_spec();
    s.kv_override = "expert_count=1025";
    check_refused("expert count 1025", s, "deepseek2.expert_count");
    s = base_spec();
    s.kv_override = "expert_used_count=9";
    check_refused("used > count", s, "deepseek2.expert_used_count");
    s = base_spec();
    s.bad_tensor = "blk.1.ffn_up_exps.weight";
    check_refused("wrong shape", s, "blk.1.ffn_up_exps.weight");
    s = base_spec();
    s.bad_tensor = "blk.1.ffn_down_shexp.weight";
    check_refused("wrong shared shape", s, "blk.1.ffn_down_shexp.weight");
    s = base_spec();
    s.groups = 3, s.groups_used = 1;
    check_refused("groups not dividing", s, "deepseek2.expert_group_count");
    s = base_spec();
    s.gating = 3;
    check_refused("unknown gating", s, "deepseek2.expert_gating_func");
    s = base_spec();
    s.kv_override = "expert_feed_forward_length=0";
    check_refused("no expert FFN", s, "deepseek2.expert_feed_forward_length");
    return check_summary("test_moe");
}
