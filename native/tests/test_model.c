/* test_model.c - the llama forward pass on the real stories260K model: every kernel level and thread count agrees
 * with the scalar single-threaded reference (logits within 1e-4 relative over a 128-token sequence), batched
 * prefill agrees with token-by-token evaluation, the F16 KV cache stays close to F32, and bad calls are refused. */
#include "check.h"
#include "kernels.h" /* kern_simd_available: the levels this CPU runs as themselves */
#include "mla4j.h"

#define N_TOK 128

static float max_rel_diff(const float *a, const float *b, size_t n) {
    float amax = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabsf(b[i]) > amax) amax = fabsf(b[i]);
        if (fabsf(a[i] - b[i]) > dmax) dmax = fabsf(a[i] - b[i]);
    }
    return dmax / (amax > 0 ? amax : 1);
}

/* Logits of all N_TOK tokens, evaluated in batches of `batch` tokens (batch 1 = token by token). */
static int run(const mla4j_model *m, int simd, int threads, int batch, int kv_type, const int32_t *tokens, float *logits,
               int n_vocab) {
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 256;
    p.n_threads = threads;
    p.n_batch = batch;
    p.simd = simd;
    p.kv_type = kv_type;
    mla4j_context *c = NULL;
    if (mla4j_context_create(m, &p, &c) != MLA4J_OK) return 0;
    int ok = 1;
    for (int i = 0; i < N_TOK && ok; i += batch) {
        int n = N_TOK - i < batch ? N_TOK - i : batch;
        ok = mla4j_context_eval(c, tokens + i, n, logits + (size_t)i * (size_t)n_vocab) == MLA4J_OK;
    }
    int32_t pos = -1;
    ok = ok && mla4j_context_get_position(c, &pos) == MLA4J_OK && pos == N_TOK;
    mla4j_context_free(c);
    return ok;
}

static void test_stories(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    mla4j_model *m = NULL;
    CHECK(mla4j_model_load(path, &m) == MLA4J_OK);
    if (m == NULL) return;
    mla4j_hparams hp;
    CHECK(mla4j_model_get_hparams(m, &hp) == MLA4J_OK);
    CHECK(strcmp(hp.arch, "llama") == 0 && hp.n_vocab == 512 && hp.n_embd == 64 && hp.n_layer == 5 && hp.n_head == 8 &&
          hp.n_head_kv == 4 && hp.head_dim_k == 8 && hp.n_ff == 172 && hp.n_rot == 8 && hp.rope_type == MLA4J_ROPE_NORM);
    uint64_t kv = 0;
    CHECK(mla4j_model_kv_bytes_per_token(m, MLA4J_TYPE_F32, &kv) == MLA4J_OK && kv == 5u * 2u * 4u * 8u * 4u);

    int32_t tokens[N_TOK];
    tokens[0] = 1; /* BOS, then a deterministic spread of ids */
    for (int i = 1; i < N_TOK; i++) tokens[i] = (int32_t)((i * 37 + 11) % hp.n_vocab);
    size_t n = (size_t)N_TOK * (size_t)hp.n_vocab;
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    CHECK(run(m, MLA4J_SIMD_SCALAR, 1, 1, MLA4J_TYPE_F32, tokens, ref, hp.n_vocab));
    const int levels[] = {MLA4J_SIMD_SCALAR, MLA4J_SIMD_AVX2,         MLA4J_SIMD_AVX512,
                          MLA4J_SIMD_NEON,   MLA4J_SIMD_NEON_DOTPROD, MLA4J_SIMD_NEON_I8MM};
    const int threads[] = {1, 2, 3};
    const int batches[] = {1, 7, 128};
    for (int li = 0; li < 6; li++) {
        if (!kern_simd_available(levels[li])) continue; /* this CPU's family, up to its best */
        for (int ti = 0; ti < 3; ti++) {
            for (int bi = 0; bi < 3; bi++) {
                CHECK(run(m, levels[li], threads[ti], batches[bi], MLA4J_TYPE_F32, tokens, got, hp.n_vocab));
                float d = max_rel_diff(got, ref, n);
                CHECK_MSG(d <= 1e-4f, "simd %d threads %d batch %d: max relative logit difference %g", levels[li],
                          threads[ti], batches[bi], d);
            }
        }
    }
    CHECK(run(m, MLA4J_SIMD_AUTO, 2, 128, MLA4J_TYPE_F16, tokens, got, hp.n_vocab));
    float d16 = max_rel_diff(got, ref, n);
    CHECK_MSG(d16 <= 1e-2f, "F16 KV cache: max relative logit difference %g", d16);

    /* Bad calls are refused with a message, and leave the context usable. */
    mla4j_context *c = NULL;
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    p.n_ctx = 8;
    CHECK(mla4j_context_create(m, &p, &c) == MLA4J_OK);
    int32_t bad[2] = {1, 512};
    CHECK(mla4j_context_eval(c, bad, 2, NULL) == MLA4J_ERR_INVALID_ARGUMENT && strstr(mla4j_last_error(), "out of range"));
    int32_t nine[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(mla4j_context_eval(c, nine, 9, NULL) == MLA4J_ERR_STATE && strstr(mla4j_last_error(), "context full"));
    const float *lg = NULL;
    CHECK(mla4j_context_get_logits(c, &lg) == MLA4J_ERR_STATE);
    CHECK(mla4j_context_eval(c, nine, 8, NULL) == MLA4J_OK && mla4j_context_get_logits(c, &lg) == MLA4J_OK);
    CHECK(mla4j_context_set_position(c, 9) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_context_cancel(c, 1) == MLA4J_OK);
    CHECK(mla4j_context_set_position(c, 0) == MLA4J_OK);
    CHECK(mla4j_context_eval(c, nine, 1, NULL) == MLA4J_ERR_CANCELLED);
    CHECK(mla4j_context_eval(c, nine, 1, NULL) == MLA4J_OK);
    CHECK(mla4j_context_cancel(c, 1) == MLA4J_OK && mla4j_context_cancel(c, 0) == MLA4J_OK); /* withdrawn */
    CHECK(mla4j_context_eval(c, nine + 1, 1, NULL) == MLA4J_OK);
    mla4j_context_free(c);
    free(ref);
    free(got);
    mla4j_model_free(m);

    snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-spm.gguf", dir);
    CHECK(mla4j_model_load(path, &m) == MLA4J_ERR_FORMAT && strstr(mla4j_last_error(), "missing"));
}

int main(void) {
    mla4j_model *m = NULL;
    CHECK(mla4j_model_load("/nonexistent.gguf", &m) == MLA4J_ERR_IO && m == NULL);
    CHECK(mla4j_model_load(NULL, &m) == MLA4J_ERR_INVALID_ARGUMENT);
    const char *dir = check_fixtures_dir();
    if (dir) test_stories(dir);
    return check_summary("test_model");
}
