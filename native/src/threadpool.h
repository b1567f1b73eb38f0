/* threadpool.h - a fixed set of worker threads that run one parallel task at a time.
 * The calling thread takes part as thread 0, so a pool of n threads starts n-1 workers. Workers spin
 * briefly between tasks (token generation issues hundreds of short tasks per token) and then sleep. */
#ifndef MLA4J_THREADPOOL_H
#define MLA4J_THREADPOOL_H

#include "kernels.h"

typedef struct mla4j_pool mla4j_pool;

/* Task body: called once on every thread with ith in [0, nth). */
typedef void (*mla4j_pool_fn)(void *arg, int ith, int nth);

/* Creates a pool of n_threads (>= 1). NULL on failure, with the error recorded. */
mla4j_pool *mla4j_pool_create(int n_threads);
void mla4j_pool_free(mla4j_pool *pool);
int mla4j_pool_size(const mla4j_pool *pool);
/* Runs fn on every thread of the pool and returns when all have finished. */
void mla4j_pool_run(mla4j_pool *pool, mla4j_pool_fn fn, void *arg);

/* Y (n_tok x w->rows, row-major) = X (n_tok x w->cols) times W^T, split over the pool's threads.
 * scratch must hold kern_act_size(w->type, w->cols, n_tok) bytes. */
void mla4j_matmul(mla4j_pool *pool, int simd, const kern_matrix *w, const float *x, int64_t n_tok, float *y,
                  void *scratch);

/* The products of the same X with n matrices of w->cols columns each (q, k and v; gate and up), Y_i into ys[i]:
 * the activations are converted once and the rows of all matrices are handed out in one parallel task, when
 * the matrices take the same converted form (else one product after the other). scratch must hold the largest
 * kern_act_size of them. */
void mla4j_matmul_multi(mla4j_pool *pool, int simd, int n, const kern_matrix *const *ws, const float *x,
                        int64_t n_tok, float *const *ys, void *scratch);

#endif
