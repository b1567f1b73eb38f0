/* bench_kernels.c - micro-benchmark of the matrix products (not a test).
 *
 *   bench_kernels [threads=2] [simd=0 (auto)] [types]
 *
 * With "types": every weight type's matrix-vector (2048x8192) and matrix-matrix (2048x4096 x 128 tokens) product
 * instead, to compare the types with each other under the same conditions.
 *
 * Token generation: a 2048x8192 (and 8192x2048) matrix times one vector, memory-bound, reported as GB/s of weights
 * read. Several copies of the matrix are cycled so that the weights come from DRAM, not from the L3 cache, like a
 * real model's. Also reported: the plain streaming read bandwidth of the machine with the same threads.
 * Prompt processing: the same matrix times 512 vectors, compute-bound, reported as GFLOP/s (2 flops per weight per
 * token) and as the time per token. */
#include "kernels_impl.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Weights and the streaming buffer live in transparent huge pages, as a loaded model's weights do (gguf.c reads
 * model files into them): with 4 KiB pages every page boundary stops the hardware prefetchers. The size is
 * rounded up to 2 MiB; big_free needs the same size. */
static size_t big_size(size_t size) { return (size + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1); }
static void *big_alloc(size_t size) {
    void *p = mmap(NULL, big_size(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "cannot allocate %zu bytes\n", size);
        exit(1);
    }
    madvise(p, big_size(size), MADV_HUGEPAGE);
    return p;
}
static void big_free(void *p, size_t size) { munmap(p, big_size(size)); }

/* A matrix of random quants with valid small fp16 scales. */
static void fill_matrix(kern_matrix *w, int32_t type, int64_t rows, int64_t cols) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    w->type = type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)(cols / tr->block_size * tr->type_size);
    size_t size = w->row_bytes * (size_t)rows;
    uint8_t *data = big_alloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (uint8_t)rnd();
    for (int64_t b = 0; b < rows * cols / tr->block_size; b++) {
        uint16_t d = kern_fp32_to_fp16(0.01f);
        memcpy(data + b * tr->type_size, &d, 2);
    }
    w->data = data;
}

typedef struct {
    const uint8_t *data;
    size_t size;
    double sums[64];
} read_arg;

static void read_task(void *p, int ith, int nth) {
    read_arg *ra = p;
    const uint64_t *q = (const uint64_t *)ra->data;
    size_t n = ra->size / 8, i0 = n * ith / nth, i1 = n * (ith + 1) / nth;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = i0; i + 4 <= i1; i += 4) {
        s0 += q[i];
        s1 += q[i + 1];
        s2 += q[i + 2];
        s3 += q[i + 3];
    }
    ra->sums[ith] = (double)(s0 + s1 + s2 + s3);
}

static void bench_read(mla4j_pool *pool) {
    read_arg ra = {.size = (size_t)512 << 20};
    uint8_t *buf = big_alloc(ra.size);
    memset(buf, 1, ra.size);
    ra.data = buf;
    mla4j_pool_run(pool, read_task, &ra);
    double best = 1e9;
    for (int it = 0; it < 5; it++) {
        double t0 = now_s();
        mla4j_pool_run(pool, read_task, &ra);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    printf("streaming read (plain C, %d threads):        %6.1f GB/s\n", mla4j_pool_size(pool), (double)ra.size / best / 1e9);
    big_free(buf, ra.size);
}

static void empty_task(void *p, int ith, int nth) { (void)p; (void)ith; (void)nth; }

/* The cost of one parallel task with nothing to do: what each of the ~80 matrix products and attention steps of
 * a generated token pays on top of its work. */
static void bench_handoff(mla4j_pool *pool) {
    const int n = 20000;
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++) mla4j_pool_run(pool, empty_task, NULL);
        double t = (now_s() - t0) / n;
        if (t < best) best = t;
    }
    printf("pool handoff (empty task, %d threads):      %6.2f us\n", mla4j_pool_size(pool), best * 1e6);
}

static void bench_matvec(mla4j_pool *pool, int simd, int32_t type, int64_t rows, int64_t cols) {
    /* enough copies to exceed the 32 MiB L3 several times */
    kern_matrix w0;
    fill_matrix(&w0, type, rows, cols);
    size_t bytes = w0.row_bytes * (size_t)rows;
    int copies = (int)((size_t)(384 << 20) / bytes) + 1;
    kern_matrix *ws = malloc(sizeof(kern_matrix) * (size_t)copies);
    ws[0] = w0;
    for (int c = 1; c < copies; c++) {
        ws[c] = w0;
        uint8_t *d = big_alloc(bytes);
        memcpy(d, w0.data, bytes);
        ws[c].data = d;
    }
    float *x = malloc(sizeof(float) * cols), *y = malloc(sizeof(float) * rows);
    for (int64_t i = 0; i < cols; i++) x[i] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
    void *scratch = aligned_alloc(64, kern_act_size(type, cols, 1));
    for (int c = 0; c < copies; c++) mla4j_matmul(pool, simd, &ws[c], x, 1, y, scratch);
    double best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        for (int c = 0; c < copies; c++) mla4j_matmul(pool, simd, &ws[c], x, 1, y, scratch);
        double t = (now_s() - t0) / copies;
        if (t < best) best = t;
    }
    printf("matvec %-6s %5lldx%-5lld n_tok=1:  %8.1f us  %6.1f GB/s\n", kern_type_traits_of(type)->name,
           (long long)rows, (long long)cols, best * 1e6, (double)bytes / best / 1e9);
    for (int c = 0; c < copies; c++) big_free((void *)ws[c].data, bytes);
    free(ws);
    free(x);
    free(y);
    free(scratch);
}

static void bench_gemm(mla4j_pool *pool, int simd, int32_t type, int64_t rows, int64_t cols, int64_t n_tok) {
    kern_matrix w;
    fill_matrix(&w, type, rows, cols);
    float *x = malloc(sizeof(float) * cols * n_tok), *y = malloc(sizeof(float) * rows * n_tok);
    for (int64_t i = 0; i < cols * n_tok; i++) x[i] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
    void *scratch = aligned_alloc(64, kern_act_size(type, cols, n_tok));
    mla4j_matmul(pool, simd, &w, x, n_tok, y, scratch);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
        mla4j_matmul(pool, simd, &w, x, n_tok, y, scratch);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    double flops = 2.0 * (double)rows * (double)cols * (double)n_tok;
    printf("matmul %-6s %5lldx%-5lld n_tok=%lld: %8.2f ms  %6.1f GFLOP/s  %7.1f us/token\n",
           kern_type_traits_of(type)->name, (long long)rows, (long long)cols, (long long)n_tok, best * 1e3,
           flops / best / 1e9, best / (double)n_tok * 1e6);
    big_free((void *)w.data, w.row_bytes * (size_t)rows);
    free(x);
    free(y);
    free(scratch);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int simd = kern_resolve_simd(argc > 2 ? atoi(argv[2]) : 0);
    mla4j_pool *pool = mla4j_pool_create(threads);
    if (pool == NULL) {
        fprintf(stderr, "cannot create a pool of %d threads\n", threads);
        return 1;
    }
    printf("threads %d, simd level %d (%s), cpu: %s\n", threads, simd,
           simd == MLA4J_SIMD_AVX512 ? (kern_cpu_has_avx512vnni() ? "avx512 vnni" : "avx512bw") : kern_simd_name(simd),
           kern_cpu_features());
    if (argc > 3 && strcmp(argv[3], "types") == 0) {
        const int32_t all[] = {MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q4_1, MLA4J_TYPE_Q5_0, MLA4J_TYPE_Q5_1, MLA4J_TYPE_IQ4_NL,
                               MLA4J_TYPE_Q8_0, MLA4J_TYPE_Q2_K, MLA4J_TYPE_Q3_K, MLA4J_TYPE_Q4_K, MLA4J_TYPE_Q5_K,
                               MLA4J_TYPE_Q6_K, MLA4J_TYPE_IQ4_XS};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) bench_matvec(pool, simd, all[i], 2048, 8192);
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) bench_gemm(pool, simd, all[i], 2048, 4096, 128);
        mla4j_pool_free(pool);
        return 0;
    }
    bench_read(pool);
    bench_handoff(pool);
    const int32_t qtypes[] = {MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q8_0};
    for (int i = 0; i < 2; i++) {
        bench_matvec(pool, simd, qtypes[i], 2048, 8192);
        bench_matvec(pool, simd, qtypes[i], 8192, 2048);
    }
    bench_matvec(pool, simd, MLA4J_TYPE_F16, 2048, 2048);
    for (int i = 0; i < 2; i++) bench_gemm(pool, simd, qtypes[i], 2048, 8192, 512);
    bench_gemm(pool, simd, MLA4J_TYPE_F16, 2048, 2048, 512);
    mla4j_pool_free(pool);
    return 0;
}
