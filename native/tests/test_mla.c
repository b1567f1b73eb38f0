/* test_mla.c - the latent attention's kernels of every SIMD level the CPU has (mla_kernels_for) against plain
 * loops: cache row decoding (bit-exact with kern_dequantize_row), tile scores and weighted sums (1e-5 relative),
 * the softmax pieces, the small matrix product of the MHA-form prefill against its reference and a
 * double-precision loop, on shapes with tails; and the AVX-512 bf16 kernels where the CPU has them. */
#include "check.h"
#include "context.h"
#include "kernels_impl.h"

static float rnd(void) { return (float)rand() / RAND_MAX * 2.0f - 1.0f; }

static void test_dequant(const mla_kernels *k) {
    const int32_t types[] = {MLA4J_TYPE_F32, MLA4J_TYPE_F16, MLA4J_TYPE_Q8_0, MLA4J_TYPE_Q4_0};
    const int64_t W = 96, n = 5;
    float x[96], a[5 * 96], b[5 * 96];
    uint8_t rows[5 * 96 * 4];
    for (int ti = 0; ti < 4; ti++) {
        size_t rb = (size_t)kv_row_bytes(types[ti], W);
        for (int64_t s = 0; s < n; s++) {
            for (int64_t i = 0; i < W; i++) x[i] = rnd() * (float)(s + 1);
            mla_store_row(types[ti], x, W, rows + s * rb);
        }
        k->dequant_rows(types[ti], rows, rb, n, W, a);
        for (int64_t s = 0; s < n; s++) kern_dequantize_row(types[ti], rows + s * rb, b + s * W, W);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "type %d decodes differently", types[ti]);
    }
}

static void test_scores_and_sums(const mla_kernels *k) {
    const int64_t shapes[][3] = {{32, 576, 512}, {13, 40, 16}, {9, 24, 17}, {5, 19, 11}}; /* rows, W, C */
    for (int sh = 0; sh < 4; sh++) {
        const int64_t nq = shapes[sh][0], W = shapes[sh][1], C = shapes[sh][2], ns = 7;
        float *q = malloc(sizeof(float) * nq * W), *tile = malloc(sizeof(float) * ns * W);
        float *sa = malloc(sizeof(float) * nq * ns), *acc = calloc((size_t)(nq * C), sizeof(float));
        for (int64_t i = 0; i < nq * W; i++) q[i] = rnd();
        for (int64_t i = 0; i < ns * W; i++) tile[i] = rnd();
        k->scores(tile, ns, q, nq, W, sa, ns);
        int ok = 1;
        for (int64_t i = 0; i < nq && ok; i++) {
            for (int64_t s = 0; s < ns; s++) {
                double ref = 0;
                for (int64_t j = 0; j < W; j++) ref += (double)q[i * W + j] * tile[s * W + j];
                if (fabs(sa[i * ns + s] - ref) > 1e-5 * (1 + fabs(ref)) * sqrt((double)W)) ok = 0;
            }
        }
        CHECK_MSG(ok, "scores differ for shape %lld x %lld", (long long)nq, (long long)W);
        k->weighted_sum(tile, ns, W, sa, ns, nq, acc, C);
        ok = 1;
        for (int64_t i = 0; i < nq && ok; i++) {
            for (int64_t c = 0; c < C; c++) {
                double ref = 0;
                for (int64_t s = 0; s < ns; s++) ref += (double)sa[i * ns + s] * tile[s * W + c];
                if (fabs(acc[i * C + c] - ref) > 1e-5 * (1 + fabs(ref)) * 8) ok = 0;
            }
        }
        CHECK_MSG(ok, "weighted sums differ for shape %lld x %lld", (long long)nq, (long long)C);
        free(q);
        free(tile);
        free(sa);
        free(acc);
    }
}

/* The weighted sum straight from Q8_0 rows against a double-precision sum over the decoded rows (query counts
 * that take every register block: 16, 8, 4 and single rows; tiles of 32 and 7 rows). */
typedef void (*wsum_q8_fn)(const uint8_t *, size_t, int64_t, const float *, int64_t, int64_t, float *, int64_t);

static void test_q8_weighted_sum(wsum_q8_fn f) {
    const int64_t shapes[][3] = {{32, 32, 576}, {29, 7, 64}, {3, 32, 96}}; /* query rows, tile rows, W (C = W - 64 or W) */
    for (int sh = 0; sh < 3; sh++) {
        const int64_t nq = shapes[sh][0], ns = shapes[sh][1], W = shapes[sh][2], C = W > 96 ? W - 64 : W;
        const size_t rb = (size_t)kv_row_bytes(MLA4J_TYPE_Q8_0, W);
        uint8_t *rows = malloc(rb * (size_t)ns);
        float *x = malloc(sizeof(float) * (size_t)W), *dec = malloc(sizeof(float) * (size_t)(ns * W));
        float *p = malloc(sizeof(float) * (size_t)(nq * 32)), *acc = malloc(sizeof(float) * (size_t)(nq * C));
        for (int64_t s = 0; s < ns; s++) {
            for (int64_t i = 0; i < W; i++) x[i] = rnd() * (float)(1 + (i / 32) % 5);
            mla_store_row(MLA4J_TYPE_Q8_0, x, W, rows + (size_t)s * rb);
            kern_dequantize_row(MLA4J_TYPE_Q8_0, rows + (size_t)s * rb, dec + s * W, W);
        }
        for (int64_t i = 0; i < nq * 32; i++) p[i] = (rnd() + 1.0f) * 0.5f;
        for (int64_t i = 0; i < nq * C; i++) acc[i] = 0.25f;
        f(rows, rb, ns, p, 32, nq, acc, C);
        int ok = 1;
        for (int64_t i = 0; i < nq && ok; i++) {
            for (int64_t c = 0; c < C; c++) {
                double ref = 0.25;
                for (int64_t s = 0; s < ns; s++) ref += (double)p[i * 32 + s] * dec[s * W + c];
                if (fabs(acc[i * C + c] - ref) > 1e-5 * (1 + fabs(ref)) * 8) ok = 0;
            }
        }
        CHECK_MSG(ok, "Q8_0 weighted sums differ for %lld queries x %lld rows", (long long)nq, (long long)ns);
        free(rows);
        free(x);
        free(dec);
        free(p);
        free(acc);
    }
}

#if MLA4J_ARM64
/* NEON sums a Q8_0 tile straight from its rows with the bits of decoding it first (mla_dequant_rows_neon) and
 * summing the floats (mla_weighted_sum_neon): the fused path changes no ARM result. */
static void test_q8_weighted_sum_neon_exact(void) {
    const int64_t nq = 13, ns = 29, W = 576, C = 512; /* 6 + 6 + 1 query rows, a short tile */
    const size_t rb = (size_t)kv_row_bytes(MLA4J_TYPE_Q8_0, W);
    uint8_t *rows = malloc(rb * (size_t)ns);
    float *x = malloc(sizeof(float) * (size_t)W), *tile = malloc(sizeof(float) * (size_t)(ns * W));
    float *p = malloc(sizeof(float) * (size_t)(nq * 32));
    float *a1 = malloc(sizeof(float) * (size_t)(nq * C)), *a2 = malloc(sizeof(float) * (size_t)(nq * C));
    for (int64_t s = 0; s < ns; s++) {
        for (int64_t i = 0; i < W; i++) x[i] = rnd() * (float)(1 + (i / 32 + s) % 7);
        mla_store_row(MLA4J_TYPE_Q8_0, x, W, rows + (size_t)s * rb);
    }
    for (int64_t i = 0; i < nq * 32; i++) p[i] = (rnd() + 1.0f) * 0.5f;
    for (int64_t i = 0; i < nq * C; i++) a1[i] = a2[i] = 0.25f;
    mla_dequant_rows_neon(MLA4J_TYPE_Q8_0, rows, rb, ns, W, tile);
    mla_weighted_sum_neon(tile, ns, W, p, 32, nq, a1, C);
    mla_weighted_sum_q8_neon(rows, rb, ns, p, 32, nq, a2, C);
    CHECK_MSG(memcmp(a1, a2, sizeof(float) * (size_t)(nq * C)) == 0, "NEON Q8_0 weighted sum differs from decode + sum");
    free(rows);
    free(x);
    free(tile);
    free(p);
    free(a1);
    free(a2);
}
#endif

static void test_softmax_pieces(const mla_kernels *k) {
    float row[37], ref[37];
    for (int i = 0; i < 37; i++) row[i] = ref[i] = rnd() * 30.0f;
    row[5] = ref[5] = -200.0f; /* far below the max: e^x is ~0 either way */
    float mx = k->scale_max(row, 37, 0.125f), rmx = -INFINITY;
    for (int i = 0; i < 37; i++) {
        ref[i] *= 0.125f;
        if (ref[i] > rmx) rmx = ref[i];
    }
    CHECK(mx == rmx && memcmp(row, ref, sizeof row) == 0);
    float sum = k->exp_sum(row, 37, mx);
    double rsum = 0;
    int ok = 1;
    for (int i = 0; i < 37; i++) {
        const float x = ref[i] - mx; /* the kernel subtracts in float, as expf(row - max) would */
        double e = exp((double)x);
        rsum += e;
        if (fabs(row[i] - e) > (4e-7 + 1.2e-7 * fabs(x)) * e + 1e-37) ok = 0;
    }
    CHECK_MSG(ok, "vectorised exp differs from exp beyond float rounding");
    CHECK_NEAR_REL(sum, rsum, 1e-6);
}

static void test_gemm(const mla_kernels *k) {
    /* M, N, K, lda pad: the prefill's three shapes (decompression, scores, P V) and tails in every dimension. */
    const int64_t shapes[][4] = {{128, 128, 512, 64}, {150, 128, 128, 3968}, {150, 64, 128, 0}, {7, 37, 19, 5}, {1, 5, 3, 0},
                                 {13, 70, 33, 1}};
    for (int sh = 0; sh < 6; sh++) {
        const int64_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2], lda = K + shapes[sh][3], ldb = N + 3, ldc = N + 5;
        float *A = malloc(sizeof(float) * (size_t)(M * lda)), *B = malloc(sizeof(float) * (size_t)(K * ldb));
        float *c1 = malloc(sizeof(float) * (size_t)(M * ldc)), *c2 = malloc(sizeof(float) * (size_t)(M * ldc));
        for (int64_t i = 0; i < M * lda; i++) A[i] = rnd();
        for (int64_t i = 0; i < K * ldb; i++) B[i] = rnd();
        for (int accumulate = 0; accumulate <= 1; accumulate++) {
            for (int64_t i = 0; i < M * ldc; i++) c1[i] = c2[i] = rnd();
            k->gemm_nn(M, N, K, A, lda, B, ldb, c1, ldc, accumulate);
            mla_gemm_nn_ref(M, N, K, A, lda, B, ldb, c2, ldc, accumulate);
            int ok = 1;
            for (int64_t i = 0; i < M && ok; i++) {
                for (int64_t j = 0; j < ldc; j++) {
                    if (j >= N) { /* padding untouched */
                        if (c1[i * ldc + j] != c2[i * ldc + j]) ok = 0;
                        continue;
                    }
                    double ref = 0;
                    for (int64_t q = 0; q < K; q++) ref += (double)A[i * lda + q] * B[q * ldb + j];
                    const double tol = 1e-5 * sqrt((double)K) * 4;
                    if (fabs(c1[i * ldc + j] - c2[i * ldc + j]) > tol) ok = 0;
                    if (!accumulate && fabs(c1[i * ldc + j] - ref) > tol) ok = 0; /* with accumulate, c2 = old + sum */
                }
            }
            CHECK_MSG(ok, "gemm %lld x %lld x %lld (accumulate %d) differs", (long long)M, (long long)N, (long long)K, accumulate);
        }
        free(A);
        free(B);
        free(c1);
        free(c2);
    }
}

/* The int8 weighted sums: their references against the exact float sum (each weight rounded to 1/L of the bound
 * pmax * dmax, L = 255 for VNNI and 127 for AVX2: the error of a sum is at most n_s * 0.5 * bound * 127 per column)
 * and the kernels against their references bit for bit (shapes with short tiles, every register path, a query group
 * split): with VNNI the AVX-512 kernel (8 bits), with AVX2 the vpmaddubsw kernel (7 bits). */
static void test_q8_int_weighted_sum(int bits) {
    const double L = bits == 8 ? 255.0 : 127.0;
    const int64_t shapes[][3] = {{16, 32, 512}, {29, 7, 64}, {70, 17, 96}, {3, 32, 32}}; /* query rows, tile rows, C */
    for (int sh = 0; sh < 4; sh++) {
        const int64_t nq = shapes[sh][0], ns = shapes[sh][1], C = shapes[sh][2], W = C + 64;
        const size_t rb = (size_t)kv_row_bytes(MLA4J_TYPE_Q8_0, W);
        uint8_t *rows = malloc(rb * (size_t)ns);
        float *x = malloc(sizeof(float) * (size_t)W), *dec = malloc(sizeof(float) * (size_t)(ns * W));
        float *p = malloc(sizeof(float) * (size_t)(nq * 32));
        float *a1 = malloc(sizeof(float) * (size_t)(nq * C)), *a2 = malloc(sizeof(float) * (size_t)(nq * C));
        for (int64_t s = 0; s < ns; s++) {
            for (int64_t i = 0; i < W; i++) x[i] = rnd() * (float)(1 + (i / 32 + s) % 7);
            mla_store_row(MLA4J_TYPE_Q8_0, x, W, rows + (size_t)s * rb);
            kern_dequantize_row(MLA4J_TYPE_Q8_0, rows + (size_t)s * rb, dec + s * W, W);
        }
        for (int64_t i = 0; i < nq * 32; i++) p[i] = expf(-8.0f * (rnd() + 1.0f)); /* softmax-like: 1 .. e^-16 */
        for (int64_t i = 0; i < nq; i += 5) p[i * 32 + ns / 2] = 0.0f;
        for (int64_t s = 0; s < ns; s++) p[1 * 32 + s] = 0.0f; /* a row with no weight in this tile */
        for (int64_t i = 0; i < nq * C; i++) a1[i] = a2[i] = 0.5f;
        if (bits == 8) mla_weighted_sum_q8_u8_ref(rows, rb, ns, p, 32, nq, a1, C);
        else mla_weighted_sum_q8_u7_ref(rows, rb, ns, p, 32, nq, a1, C);
        int ok = 1;
        for (int64_t i = 0; i < nq && ok; i++) {
            double pmax = 0;
            for (int64_t s = 0; s < ns; s++) pmax = fmax(pmax, p[i * 32 + s]);
            for (int64_t c = 0; c < C; c++) {
                double ref = 0.5, dmax = 0;
                for (int64_t s = 0; s < ns; s++) {
                    ref += (double)p[i * 32 + s] * dec[s * W + c];
                    dmax = fmax(dmax, kern_fp16_to_fp32(((const block_q8_0 *)(rows + (size_t)s * rb))[c / 32].d));
                }
                /* each weight off by at most half a step of pmax * dmax / L, times a quant of at most 127 */
                const double bound = (double)ns * 0.5 * (pmax * dmax / L) * 127.0 * 1.001;
                if (fabs(a1[i * C + c] - ref) > bound + 1e-6 * (1 + fabs(ref))) ok = 0;
            }
        }
        CHECK_MSG(ok, "int8 weighted sum reference (%d bits) off the exact sum (shape %d)", bits, sh);
#if MLA4J_X86
        if (bits == 7 && kern_cpu_best_simd() >= MLA4J_SIMD_AVX2) {
            mla_weighted_sum_q8_avx2(rows, rb, ns, p, 32, nq, a2, C);
            CHECK_MSG(memcmp(a1, a2, sizeof(float) * (size_t)(nq * C)) == 0, "AVX2 int8 weighted sum differs from its reference (shape %d)", sh);
        }
        if (bits == 8 && kern_cpu_best_simd() >= MLA4J_SIMD_AVX512 && kern_cpu_has_avx512vnni()) {
            mla_weighted_sum_q8_vnni(rows, rb, ns, p, 32, nq, a2, C);
            CHECK_MSG(memcmp(a1, a2, sizeof(float) * (size_t)(nq * C)) == 0, "VNNI int8 weighted sum differs from its reference (shape %d)", sh);
        }
#endif
        free(rows);
        free(x);
        free(dec);
        free(p);
        free(a1);
        free(a2);
    }
}

#if MLA4J_X86
/* bf16 packing against kern_fp32_to_bf16, and the bf16 weighted sum against its reference (same roundings). */
static void test_bf16_weighted_sum(void) {
    const int64_t shapes[][3] = {{32, 32, 512}, {13, 7, 40}, {9, 1, 17}}; /* query rows, tile rows, C */
    for (int k = 0; k < 3; k++) {
        const int64_t nq = shapes[k][0], n = shapes[k][1], C = shapes[k][2], np = (n + 1) / 2, stride = 16;
        float *rows = malloc(sizeof(float) * (size_t)(n * (C + 3))), *p = malloc(sizeof(float) * (size_t)(nq * 32));
        uint16_t *pairs = malloc(sizeof(uint16_t) * (size_t)(np * C * 2)), *pb = malloc(sizeof(uint16_t) * (size_t)(nq * 32));
        float *a1 = calloc((size_t)(nq * C), sizeof(float)), *a2 = calloc((size_t)(nq * C), sizeof(float));
        for (int64_t i = 0; i < n * (C + 3); i++) rows[i] = rnd() * 3.0f;
        for (int64_t i = 0; i < nq * 32; i++) p[i] = (rnd() + 1.0f) * 0.5f;
        mla_pack_pairs_bf16_avx512(rows, n, C + 3, C, pairs);
        int ok = 1;
        for (int64_t j = 0; j < np; j++)
            for (int64_t c = 0; c < C; c++)
                for (int e = 0; e < 2; e++) {
                    const uint16_t want = 2 * j + e < n ? kern_fp32_to_bf16(rows[(2 * j + e) * (C + 3) + c]) : 0;
                    if (pairs[(j * C + c) * 2 + e] != want) ok = 0;
                }
        CHECK_MSG(ok, "bf16 pair packing differs (shape %d)", k);
        ok = 1;
        for (int64_t i = 0; i < nq; i++) {
            mla_row_to_bf16_avx512(p + i * 32, n, pb + i * 32);
            for (int64_t s = 0; s < 2 * np; s++) {
                if (pb[i * 32 + s] != (s < n ? kern_fp32_to_bf16(p[i * 32 + s]) : 0)) ok = 0;
            }
        }
        CHECK_MSG(ok, "bf16 weight row differs (shape %d)", k);
        mla_weighted_sum_bf16_avx512(pairs, np, (const uint32_t *)pb, stride, nq, a1, C);
        mla_weighted_sum_bf16_ref(pairs, np, (const uint32_t *)pb, stride, nq, a2, C);
        ok = 1;
        for (int64_t i = 0; i < nq * C; i++) {
            if (fabsf(a1[i] - a2[i]) > 1e-6f * (1.0f + fabsf(a2[i])) * (float)n) ok = 0;
        }
        CHECK_MSG(ok, "bf16 weighted sum differs from its reference (shape %d)", k);
        free(rows);
        free(p);
        free(pairs);
        free(pb);
        free(a1);
        free(a2);
    }
}
#endif

int main(void) {
    srand(5);
    for (int level = MLA4J_SIMD_SCALAR; level <= MLA4J_SIMD_NEON_I8MM; level++) {
        if (!kern_simd_available(level)) continue;
        const mla_kernels *k = mla_kernels_for(level);
        printf("kernels: %s\n", kern_simd_name(level));
        test_dequant(k);
        test_scores_and_sums(k);
        test_softmax_pieces(k);
        test_gemm(k);
    }
    test_q8_weighted_sum(mla_weighted_sum_q8_ref);
#if MLA4J_X86
    if (kern_cpu_best_simd() >= MLA4J_SIMD_AVX512) test_q8_weighted_sum(mla_weighted_sum_q8_avx512);
#endif
    test_q8_int_weighted_sum(8);
    test_q8_int_weighted_sum(7);
#if MLA4J_ARM64
    test_q8_weighted_sum(mla_weighted_sum_q8_neon);
    test_q8_weighted_sum_neon_exact();
#endif
#if MLA4J_X86
    if (!kern_cpu_has_avx512bf16()) {
        printf("SKIPPED: bf16 kernels (no AVX512-BF16)\n");
    } else {
        test_bf16_weighted_sum();
    }
#else
    printf("SKIPPED: bf16 kernels (AVX512-BF16 only)\n");
#endif
    return check_summary("test_mla");
}
