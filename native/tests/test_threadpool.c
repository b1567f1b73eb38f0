/* test_threadpool.c - the worker pool and the parallel matrix product: every thread count gives the
 * single-threaded result, many tiny tasks all run on every thread, and pools can be created and freed often. */
#include "check.h"
#include "kernels_impl.h"
#include "threadpool.h"

#include <stdatomic.h>
#include <time.h>
#include <stdint.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_uniform(void) { return (float)(rng_u32() & 0xffffff) / 8388608.0f - 1.0f; }

/* A weight matrix of `type` with random quants and small, valid fp16 scales. */
static uint8_t *make_weights(int32_t type, int64_t rows, int64_t cols, kern_matrix *w) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    size_t row_bytes = (size_t)(cols / tr->block_size * tr->type_size);
    uint8_t *data = malloc(row_bytes * rows);
    for (size_t i = 0; i < row_bytes * rows; i++) data[i] = (uint8_t)rng_u32();
    int64_t nblocks = rows * cols / tr->block_size;
    for (int64_t b = 0; b < nblocks; b++) {
        uint8_t *blk = data + b * tr->type_size;
        if (type == MLA4J_TYPE_F32) {
            float v = rng_uniform();
            memcpy(blk, &v, 4);
        } else {
            uint16_t d = kern_fp32_to_fp16(0.01f + 0.01f * rng_uniform());
            memcpy(blk, &d, 2); /* Q4_0 / Q8_0: the scale comes first */
        }
    }
    kern_matrix m = {type, cols, rows, row_bytes, data};
    *w = m;
    return data;
}

static void test_matmul_thread_counts(void) {
    const int32_t types[] = {MLA4J_TYPE_Q8_0, MLA4J_TYPE_Q4_0, MLA4J_TYPE_F32};
    const int64_t rows = 203, cols = 320; /* rows: 12 chunks of 16 and a ragged tail */
    const int64_t ntoks[] = {1, 7};
    const int counts[] = {1, 2, 3, 8};
    for (size_t ti = 0; ti < 3; ti++) {
        kern_matrix w;
        uint8_t *data = make_weights(types[ti], rows, cols, &w);
        for (size_t ni = 0; ni < 2; ni++) {
            int64_t n_tok = ntoks[ni];
            float *x = malloc(sizeof(float) * cols * n_tok);
            for (int64_t i = 0; i < cols * n_tok; i++) x[i] = rng_uniform();
            void *act = aligned_alloc(64, kern_act_size(w.type, cols, n_tok));
            /* single-threaded: one kernel call over all rows */
            float *expect = malloc(sizeof(float) * rows * n_tok);
            kern_act_convert(w.type, x, cols, 0, n_tok, act);
            kern_matmul(MLA4J_SIMD_AUTO, &w, act, n_tok, expect, rows, 0, rows);
            for (size_t ci = 0; ci < 4; ci++) {
                mla4j_pool *pool = mla4j_pool_create(counts[ci]);
                CHECK(pool != NULL && mla4j_pool_size(pool) == counts[ci]);
                float *y = malloc(sizeof(float) * rows * n_tok);
                memset(act, 0, kern_act_size(w.type, cols, n_tok));
                for (int rep = 0; rep < 3; rep++) {
                    for (int64_t i = 0; i < rows * n_tok; i++) y[i] = NAN;
                    mla4j_matmul(pool, MLA4J_SIMD_AUTO, &w, x, n_tok, y, act);
                    CHECK_MSG(memcmp(y, expect, sizeof(float) * rows * n_tok) == 0, "type %d n_tok %lld threads %d",
                              w.type, (long long)n_tok, counts[ci]);
                }
                /* the scalar level through the pool agrees with the scalar kernel too */
                float *ys = malloc(sizeof(float) * rows * n_tok);
                mla4j_matmul(pool, MLA4J_SIMD_SCALAR, &w, x, n_tok, y, act);
                kern_matmul(MLA4J_SIMD_SCALAR, &w, act, n_tok, ys, rows, 0, rows);
                CHECK(memcmp(y, ys, sizeof(float) * rows * n_tok) == 0);
                free(ys);
                free(y);
                mla4j_pool_free(pool);
            }
            free(expect);
            free(act);
            free(x);
        }
        free(data);
    }
}

/* Fused products (q/k/v, gate/up) give exactly the separate products: matrices of one type share one conversion
 * and one task, mixed types fall back to one product after the other, empty matrices are skipped. */
static void test_matmul_multi(void) {
    const int64_t cols = 320;
    const int64_t rows[] = {203, 64, 0, 37};
    const int32_t same[] = {MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q4_0};
    const int32_t mixed[] = {MLA4J_TYPE_Q8_0, MLA4J_TYPE_Q4_0, MLA4J_TYPE_F32, MLA4J_TYPE_F32};
    const int32_t *type_sets[] = {same, mixed};
    for (int set = 0; set < 2; set++) {
        kern_matrix w[4];
        uint8_t *data[4];
        const kern_matrix *wp[4];
        for (int i = 0; i < 4; i++) {
            data[i] = make_weights(type_sets[set][i], rows[i], cols, &w[i]);
            wp[i] = &w[i];
        }
        for (int64_t n_tok = 1; n_tok <= 7; n_tok += 6) {
            float *x = malloc(sizeof(float) * cols * n_tok);
            for (int64_t i = 0; i < cols * n_tok; i++) x[i] = rng_uniform();
            size_t act_size = 0;
            for (int i = 0; i < 4; i++) {
                size_t s = kern_act_size(w[i].type, cols, n_tok);
                if (s > act_size) act_size = s;
            }
            void *act = aligned_alloc(64, act_size);
            for (int nth = 1; nth <= 3; nth++) {
                mla4j_pool *pool = mla4j_pool_create(nth);
                float *expect[4], *y[4];
                for (int i = 0; i < 4; i++) {
                    size_t n = (size_t)(rows[i] * n_tok) + 1;
                    expect[i] = malloc(sizeof(float) * n);
                    y[i] = malloc(sizeof(float) * n);
                    for (size_t k = 0; k < n; k++) y[i][k] = NAN;
                    mla4j_matmul(pool, MLA4J_SIMD_AUTO, &w[i], x, n_tok, expect[i], act);
                }
                mla4j_matmul_multi(pool, MLA4J_SIMD_AUTO, 4, wp, x, n_tok, y, act);
                for (int i = 0; i < 4; i++) {
                    CHECK_MSG(memcmp(y[i], expect[i], sizeof(float) * (size_t)(rows[i] * n_tok)) == 0,
                              "set %d matrix %d n_tok %lld threads %d", set, i, (long long)n_tok, nth);
                    CHECK(isnan(y[i][rows[i] * n_tok])); /* nothing written past the matrix's output */
                    free(expect[i]);
                    free(y[i]);
                }
                mla4j_pool_free(pool);
            }
            free(act);
            free(x);
        }
        for (int i = 0; i < 4; i++) free(data[i]);
    }
}

typedef struct {
    _Atomic long calls[8];
    _Atomic long bad_nth;
} count_arg;

/* Counts calls per thread index and checks the thread count each call is told. */
static void count_calls(void *p, int ith, int nth, int expect_nth) {
    count_arg *c = p;
    atomic_fetch_add(&c->calls[ith], 1);
    if (nth != expect_nth) atomic_fetch_add(&c->bad_nth, 1);
}
static void count_task2(void *p, int ith, int nth) { count_calls(p, ith, nth, 2); }
static void count_task3(void *p, int ith, int nth) { count_calls(p, ith, nth, 3); }

/* 100000 tasks on 2 threads (the cores of the test machine) and, oversubscribed, fewer on 3. */
static void test_many_tiny_tasks(void) {
    for (int nth = 2; nth <= 3; nth++) {
        mla4j_pool *pool = mla4j_pool_create(nth);
        count_arg c;
        for (int i = 0; i < 8; i++) atomic_init(&c.calls[i], 0);
        atomic_init(&c.bad_nth, 0);
        const long n = nth == 2 ? 100000 : 3000;
        for (long i = 0; i < n; i++) mla4j_pool_run(pool, nth == 2 ? count_task2 : count_task3, &c);
        long total = 0;
        for (int i = 0; i < 8; i++) total += atomic_load(&c.calls[i]);
        CHECK(total == n * nth);
        for (int i = 0; i < nth; i++) CHECK(atomic_load(&c.calls[i]) == n);
        CHECK(atomic_load(&c.bad_nth) == 0);
        mla4j_pool_free(pool);
    }
}

/* Workers that went to sleep (idle longer than the spin period) are woken by the next task. */
static void test_wake_after_sleep(void) {
    mla4j_pool *pool = mla4j_pool_create(2);
    count_arg c;
    for (int i = 0; i < 8; i++) atomic_init(&c.calls[i], 0);
    atomic_init(&c.bad_nth, 0);
    for (int i = 0; i < 5; i++) {
        struct timespec ts = {0, 3 * 1000 * 1000};
        nanosleep(&ts, NULL);
        mla4j_pool_run(pool, count_task2, &c);
    }
    CHECK(atomic_load(&c.calls[0]) == 5 && atomic_load(&c.calls[1]) == 5);
    mla4j_pool_free(pool);
}

static void test_create_free(void) {
    count_arg c;
    for (int i = 0; i < 8; i++) atomic_init(&c.calls[i], 0);
    atomic_init(&c.bad_nth, 0);
    for (int i = 0; i < 200; i++) {
        mla4j_pool *pool = mla4j_pool_create(3);
        CHECK(pool != NULL);
        if (i % 2) mla4j_pool_run(pool, count_task3, &c);
        mla4j_pool_free(pool);
    }
    CHECK(atomic_load(&c.calls[1]) == 100 && atomic_load(&c.calls[2]) == 100);
    mla4j_pool_free(NULL);
    CHECK(mla4j_pool_create(0) == NULL);
    CHECK(strstr(mla4j_last_error(), "n_threads must be >= 1") != NULL);
}

int main(void) {
    test_matmul_thread_counts();
    test_matmul_multi();
    test_many_tiny_tasks();
    test_wake_after_sleep();
    test_create_free();
    return check_summary("test_threadpool");
}
