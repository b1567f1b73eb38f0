/* bench_mla.c - decode speed of an MLA model at a given context depth, without evaluating the depth first:
 * the latent cache rows below the depth are filled with valid random rows (decode time does not depend on their
 * values), so long contexts can be profiled in seconds. Not a test; run by hand:
 *   build/native/bench_mla MODEL DEPTH [threads] [cache type: 0 F32, 1 F16, 8 Q8_0, 2 Q4_0] [tokens] [batch] [form]
 * With a batch size, it times `tokens` evaluations of one batch of that many tokens at the depth instead
 * (prompt processing), in the attention form given (0 by batch size, 1 absorbed, 2 MHA): the crossover.
 * BENCH_SIMD=N in the environment forces a kernel level (MLA4J_SIMD_*: 2 AVX2, 3 AVX-512). */
#include "context.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Resident set size of this process in bytes (/proc/self/statm). */
static long rss_bytes(void) {
    long pages_total = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = -1;
    fclose(f);
    return pages_resident * 4096L;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL DEPTH [threads] [cache type] [tokens]\n", argv[0]);
        return 2;
    }
    const int depth = atoi(argv[2]), threads = argc > 3 ? atoi(argv[3]) : 2;
    const int type = argc > 4 ? atoi(argv[4]) : MLA4J_TYPE_F16, n = argc > 5 ? atoi(argv[5]) : 16;
    const int batch = argc > 6 ? atoi(argv[6]) : 0, form = argc > 7 ? atoi(argv[7]) : MLA_FORM_AUTO;
    mla4j_model *m;
    if (mla4j_model_load(argv[1], &m) != MLA4J_OK) {
        fprintf(stderr, "%s\n", mla4j_last_error());
        return 1;
    }
    if (!m->hp.is_mla) {
        fprintf(stderr, "not an MLA model\n");
        return 1;
    }
    /* Touch the weights once (a short context) so that the RSS difference below is the context's own memory. */
    {
        mla4j_context *warm;
        mla4j_context_params wp;
        mla4j_context_params_init(&wp);
        wp.n_ctx = 8;
        wp.n_threads = threads;
        int32_t t1 = 1;
        if (mla4j_context_create(m, &wp, &warm) == MLA4J_OK) {
            mla4j_context_eval(warm, &t1, 1, NULL);
            mla4j_context_free(warm);
        }
    }
    const long rss_model = rss_bytes();
    mla4j_context_params p;
    mla4j_context_params_init(&p);
    if (getenv("BENCH_SIMD") != NULL) p.simd = atoi(getenv("BENCH_SIMD")); /* e.g. 2: the AVX2 kernels on an AVX-512 CPU */
    p.n_ctx = depth + (batch > 0 ? batch : n + 1);
    if (batch > p.n_batch) p.n_batch = batch;
    p.n_threads = threads;
    p.kv_type = type;
    mla4j_context *c;
    if (mla4j_context_create(m, &p, &c) != MLA4J_OK) {
        fprintf(stderr, "%s\n", mla4j_last_error());
        return 1;
    }
    /* Random latent rows of unit scale, stored as the cache type. */
    float *row = malloc((size_t)c->mla.width * sizeof(float));
    srand(1);
    for (int il = 0; il < m->hp.n_layer; il++) {
        for (int s = 0; s < depth; s++) {
            for (int64_t i = 0; i < c->mla.width; i++) row[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
            mla_store_row(type, row, c->mla.width, kv_k_row(&c->kv, &c->seqs[0], il, s));
        }
    }
    c->seqs[0].n_pos = depth;
    c->mla.form = form;
    uint64_t kv_bytes = 0;
    if (batch > 0) {
        int32_t *toks = malloc(sizeof(int32_t) * (size_t)batch);
        for (int i = 0; i < batch; i++) toks[i] = (i * 31 + 7) % m->hp.n_vocab;
        double best = 1e30;
        for (int r = 0; r < n; r++) {
            c->seqs[0].n_pos = depth;
            double t0 = now();
            if (mla4j_context_eval(c, toks, batch, NULL) != MLA4J_OK) {
                fprintf(stderr, "%s\n", mla4j_last_error());
                return 1;
            }
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("depth %d, batch %d, form %d, cache type %d, %d threads: %.2f tokens/s (best of %d: %.1f ms)\n", depth, batch,
               form, type, threads, batch / best, n, best * 1e3);
        free(toks);
        mla4j_context_free(c);
        mla4j_model_free(m);
        return 0;
    }
    mla4j_context_kv_bytes(c, &kv_bytes);
    int32_t tok = 1;
    mla4j_context_eval(c, &tok, 1, NULL); /* warm-up */
    /* CPU time as well as wall time: on a shared machine a single-threaded run's CPU time per token is a
     * steadier figure of the work (with several threads it also counts the workers' spinning). */
    double t0 = now(), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
        tok = (tok * 31 + 7) % m->hp.n_vocab;
        if (mla4j_context_eval(c, &tok, 1, NULL) != MLA4J_OK) {
            fprintf(stderr, "%s\n", mla4j_last_error());
            return 1;
        }
    }
    double dt = now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    const long rss_ctx = rss_bytes() - rss_model;
    printf("depth %d, cache type %d, %d threads: %.2f tokens/s (%.1f ms/token, CPU %.1f ms/token); n_ctx %d: KV cache "
           "%llu bytes, context RSS %ld bytes (%.1f MiB), RSS %.1f MiB in all\n", depth, type, threads, n / dt, dt / n * 1e3,
           cpu / n * 1e3, p.n_ctx, (unsigned long long)kv_bytes, rss_ctx, rss_ctx / 1048576.0, rss_bytes() / 1048576.0);
    free(row);
    mla4j_context_free(c);
    mla4j_model_free(m);
    return 0;
}
