/* threadpool.c - the worker pool and the parallel matrix product built on it.
 *
 * A task is published by bumping `generation`; workers spin on it (with pause) for a short while after each
 * task, so the hundreds of small tasks of a generated token cost no system call, and then sleep on a condvar.
 * The sleeping handshake is Dekker-style on two seq_cst atomics: a worker increments n_sleeping and then
 * re-reads generation under the mutex; the caller bumps generation and then reads n_sleeping. One of the two
 * always sees the other's write, so a wake-up cannot be lost, and the caller takes the mutex only when some
 * worker actually sleeps. */
#include "threadpool.h"

#include "internal.h"
#include "kernels_impl.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The spin-wait hint: PAUSE on x86-64, YIELD on ARM64. */
#if MLA4J_X86
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#else
static inline void cpu_relax(void) { __asm__ volatile("yield" ::: "memory"); }
#endif

/* How long an idle worker spins before sleeping: long enough to bridge the gaps between the matrix products
 * of one token, short enough not to burn a shared core while the caller does something else. */
#define SPIN_NS 200000
/* Spinning threads yield the core now and then, so that a preempted thread of the pool (more threads than
 * free cores: a shared machine) gets to finish its part instead of waiting for the end of a time slice. */
#define SPIN_YIELD_AFTER_NS 20000
#define WAIT_SPINS_BEFORE_YIELD 2000

struct worker_arg {
    mla4j_pool *pool;
    int ith;
};

struct mla4j_pool {
    int n_threads;
    pthread_t *threads;
    struct worker_arg *args;
    int n_started;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    _Atomic uint64_t generation;
    _Atomic int n_sleeping;
    _Atomic int n_done;
    _Atomic int stop;
    mla4j_pool_fn fn; /* published by the release of `generation` */
    void *arg;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until generation differs from seen and returns the new value. */
static uint64_t wait_for_task(mla4j_pool *pool, uint64_t seen) {
    uint64_t g;
    uint64_t deadline = 0;
    for (unsigned spins = 0;; spins++) {
        g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen) return g;
        if ((spins & 255) == 0) {
            uint64_t t = now_ns();
            if (deadline == 0) deadline = t + SPIN_NS;
            else if (t > deadline) break;
            else if (t + SPIN_NS - SPIN_YIELD_AFTER_NS > deadline) sched_yield();
        }
        cpu_relax();
    }
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->n_sleeping, 1);
    while ((g = atomic_load(&pool->generation)) == seen) pthread_cond_wait(&pool->cond, &pool->mutex);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    pthread_mutex_unlock(&pool->mutex);
    return g;
}

static void *worker_main(void *p) {
    struct worker_arg *wa = p;
    mla4j_pool *pool = wa->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_task(pool, seen);
        if (atomic_load(&pool->stop)) return NULL;
        pool->fn(pool->arg, wa->ith, pool->n_threads);
        atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_release);
    }
}

/* Publishes a new generation and wakes sleepers. */
static void publish(mla4j_pool *pool) {
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
    }
}

mla4j_pool *mla4j_pool_create(int n_threads) {
    if (n_threads < 1) {
        mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "thread pool: n_threads must be >= 1, got %d", n_threads);
        return NULL;
    }
    mla4j_pool *pool = mla4j_alloc(sizeof *pool, "thread pool");
    if (pool == NULL) return NULL;
    pool->n_threads = n_threads;
    pool->n_started = 0;
    pool->fn = NULL;
    pool->arg = NULL;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->stop, 0);
    pool->threads = mla4j_alloc(sizeof(pthread_t) * (size_t)n_threads, "thread pool threads");
    pool->args = mla4j_alloc(sizeof(struct worker_arg) * (size_t)n_threads, "thread pool threads");
    if (pool->threads == NULL || pool->args == NULL) {
        free(pool->threads);
        free(pool->args);
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->cond, NULL);
    for (int i = 1; i < n_threads; i++) {
        pool->args[i].pool = pool;
        pool->args[i].ith = i;
        int rc = pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]);
        if (rc != 0) {
            mla4j_fail(MLA4J_ERR_OUT_OF_MEMORY, "thread pool: cannot start worker thread %d of %d (error %d)", i,
                       n_threads, rc);
            mla4j_pool_free(pool);
            return NULL;
        }
        pool->n_started = i;
    }
    return pool;
}

void mla4j_pool_free(mla4j_pool *pool) {
    if (pool == NULL) return;
    atomic_store(&pool->stop, 1);
    publish(pool);
    for (int i = 1; i <= pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->cond);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

int mla4j_pool_size(const mla4j_pool *pool) { return pool->n_threads; }

void mla4j_pool_run(mla4j_pool *pool, mla4j_pool_fn fn, void *arg) {
    if (pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed); /* ordered before the workers by publish */
    publish(pool);
    fn(arg, 0, pool->n_threads);
    unsigned spins = 0;
    while (atomic_load_explicit(&pool->n_done, memory_order_acquire) < pool->n_threads - 1) {
        if (++spins > WAIT_SPINS_BEFORE_YIELD) sched_yield();
        else cpu_relax();
    }
}

/* ---- Parallel matrix products -------------------------------------------------------------------------- */

#define MAX_FUSED 4

/* One parallel task over the rows of up to MAX_FUSED matrices that share their activations. */
typedef struct matmul_task {
    int n_mat;
    const kern_matrix *w[MAX_FUSED];
    float *y[MAX_FUSED];
    int64_t chunk_rows[MAX_FUSED];
    int64_t chunk_end[MAX_FUSED]; /* chunks of matrices 0..i together */
    const float *x;
    int64_t n_tok;
    void *act;
    int simd;
    _Atomic int64_t next_chunk;
} matmul_task;

static void convert_task(void *p, int ith, int nth) {
    matmul_task *mt = p;
    int64_t t0 = mt->n_tok * ith / nth, t1 = mt->n_tok * (ith + 1) / nth;
    kern_act_convert(mt->w[0]->type, mt->x, mt->w[0]->cols, t0, t1, mt->act);
}

/* Rows are handed out in chunks from a shared counter, so a thread slowed down by another process on its core
 * simply takes fewer chunks. */
static void rows_task(void *p, int ith, int nth) {
    matmul_task *mt = p;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&mt->next_chunk, 1, memory_order_relaxed);
        int i = 0;
        while (i < mt->n_mat && c >= mt->chunk_end[i]) i++;
        if (i == mt->n_mat) return;
        const kern_matrix *w = mt->w[i];
        int64_t r0 = (c - (i > 0 ? mt->chunk_end[i - 1] : 0)) * mt->chunk_rows[i];
        int64_t r1 = r0 + mt->chunk_rows[i] < w->rows ? r0 + mt->chunk_rows[i] : w->rows;
        kern_matmul(mt->simd, w, mt->act, mt->n_tok, mt->y[i], w->rows, r0, r1);
    }
}

/* Converted activations are the same for two weight types when both take floats, or both are the same type. */
static int same_act(int32_t a, int32_t b) { return kern_act_same(a, b); }

void mla4j_matmul_multi(mla4j_pool *pool, int simd, int n, const kern_matrix *const *ws, const float *x,
                        int64_t n_tok, float *const *ys, void *scratch) {
    if (n_tok <= 0) return;
    int fusable = n <= MAX_FUSED;
    for (int i = 1; i < n && fusable; i++) fusable = same_act(ws[0]->type, ws[i]->type);
    if (!fusable) {
        for (int i = 0; i < n; i++) mla4j_matmul(pool, simd, ws[i], x, n_tok, ys[i], scratch);
        return;
    }
    int nth = pool->n_threads;
    matmul_task mt = {.n_mat = 0, .x = x, .n_tok = n_tok, .act = scratch, .simd = kern_resolve_simd(simd)};
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (ws[i]->rows <= 0) continue;
        /* About 8 chunks per thread and matrix, a multiple of 16 rows (the SIMD row tiles). */
        int64_t chunk = (ws[i]->rows + nth * 8 - 1) / (nth * 8);
        chunk = (chunk + 15) / 16 * 16;
        total += (ws[i]->rows + chunk - 1) / chunk;
        mt.w[mt.n_mat] = ws[i];
        mt.y[mt.n_mat] = ys[i];
        mt.chunk_rows[mt.n_mat] = chunk;
        mt.chunk_end[mt.n_mat] = total;
        mt.n_mat++;
    }
    if (mt.n_mat == 0) return;
    atomic_init(&mt.next_chunk, 0);
    if (n_tok == 1 || nth == 1) kern_act_convert(mt.w[0]->type, x, mt.w[0]->cols, 0, n_tok, scratch);
    else mla4j_pool_run(pool, convert_task, &mt);
    mla4j_pool_run(pool, rows_task, &mt);
}

void mla4j_matmul(mla4j_pool *pool, int simd, const kern_matrix *w, const float *x, int64_t n_tok, float *y,
                  void *scratch) {
    mla4j_matmul_multi(pool, simd, 1, &w, x, n_tok, &y, scratch);
}
