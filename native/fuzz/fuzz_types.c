/* fuzz_types.c - the entry points that decode caller buffers: mla4j_type_info, mla4j_type_dequantize and
 * mla4j_type_dot, with any type id, element count, buffer size and content. Wrong sizes and counts must be refused
 * before the kernels read the buffer (which is exactly as large as the input says, so a read past it is an
 * AddressSanitizer report). When a row is accepted, every kernel level must agree with the scalar reference on the
 * dot product within a bound derived from the magnitudes involved: a differential check of the SIMD kernels on
 * arbitrary block contents (F32, F16, BF16, Q8_0, Q4_0; skipped when the bound is not finite). */
#include "fuzz_common.h"

#include <math.h>

static const int32_t known_types[] = {0, 1, 2, 8, 12, 14, 30};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_input in = {data, size};
    uint8_t sel = (uint8_t)fuzz_take(&in, 1);
    /* Mostly supported types, sometimes any id (unsupported ones must be refused). */
    int32_t type = sel < 224 ? known_types[sel % 7] : (int32_t)fuzz_take(&in, 4);
    int64_t n = (int64_t)(int32_t)fuzz_take(&in, 3) - 4; /* includes 0 and negatives */
    const char *name = NULL;
    int64_t block = 0, type_size = 0;
    mla4j_status st = mla4j_type_info(type, &name, &block, &type_size);
    if (st != MLA4J_OK) {
        fuzz_check_failure(st);
        float out;
        fuzz_check_failure(mla4j_type_dequantize(type, in.data, in.size, &out, 1));
        return 0;
    }
    FUZZ_REQUIRE(block > 0 && type_size > 0 && name != NULL);
    if (n > 4096) n %= 4096;
    /* The row is the rest of the input, in a buffer of exactly its size. */
    uint8_t *row = malloc(in.size ? in.size : 1);
    FUZZ_REQUIRE(row != NULL);
    memcpy(row, in.data, in.size);
    size_t row_size = in.size;
    float *dst = malloc((n > 0 ? (size_t)n : 1) * sizeof *dst);
    float *x = malloc((n > 0 ? (size_t)n : 1) * sizeof *x);
    FUZZ_REQUIRE(dst != NULL && x != NULL);
    int valid = n > 0 && n % block == 0 && (uint64_t)(n / block) * (uint64_t)type_size <= row_size;
    st = mla4j_type_dequantize(type, row, row_size, dst, n);
    if (!valid) {
        fuzz_check_failure(st);
        FUZZ_REQUIRE(st == MLA4J_ERR_INVALID_ARGUMENT);
    } else {
        FUZZ_REQUIRE(st == MLA4J_OK);
        /* One byte short of what n elements need must be refused too. */
        size_t need = (size_t)(n / block) * (size_t)type_size;
        st = mla4j_type_dequantize(type, row, need - 1, dst, n);
        FUZZ_REQUIRE(st == MLA4J_ERR_INVALID_ARGUMENT);
        float dummy;
        FUZZ_REQUIRE(mla4j_type_dot(type, row, need - 1, x, n, MLA4J_SIMD_SCALAR, &dummy) == MLA4J_ERR_INVALID_ARGUMENT);
        /* x: small values from the row's own bytes, deterministic. */
        double bound = 0, xmax = 0;
        for (int64_t i = 0; i < n; i++) {
            x[i] = (float)((int8_t)row[(size_t)i % row_size]) / 16.0f;
            if (fabs(x[i]) > xmax) xmax = fabs(x[i]);
        }
        /* The bound on rounding differences: sum |w_i| (|x_i| + the activation quantization step). For Q8_0 and
         * Q4_0 |w_i| is taken as |d| * (|q_i| + 128): the VNNI kernels add 128 to every quant and subtract the
         * correction afterwards, so their rounding error grows with |d| * 128 even where q_i = 0 (a zero block with
         * a huge scale: found by this harness, see docs/RELIABILITY.md). K-quants: memory safety only. */
        int compare = type == 0 || type == 1 || type == 30 || type == 2 || type == 8;
        for (int64_t i = 0; i < n && compare; i++) {
            double w = fabs((double)dst[i]);
            if (type == 2 || type == 8) {
                float d;
                size_t blk = (size_t)(i / block) * (size_t)type_size;
                mla4j_type_dequantize(1, row + blk, 2, &d, 1); /* the block's fp16 scale */
                w = fabs((double)d) * (type == 8 ? 256.0 : 136.0);
            }
            bound += w * (fabs((double)x[i]) + xmax / 64.0);
        }
        float ref = 0;
        FUZZ_REQUIRE(mla4j_type_dot(type, row, row_size, x, n, MLA4J_SIMD_SCALAR, &ref) == MLA4J_OK);
        int comparable = compare && isfinite(bound) && bound < 1e30 && isfinite(ref);
        for (int32_t level = MLA4J_SIMD_AUTO; level <= MLA4J_SIMD_NEON_I8MM; level++) {
            float got = 0;
            FUZZ_REQUIRE(mla4j_type_dot(type, row, row_size, x, n, level, &got) == MLA4J_OK);
            if (comparable) {
                double tol = 1e-3 * bound + 1e-6;
                if (!(fabs((double)got - (double)ref) <= tol)) {
                    fprintf(stderr, "type %s n=%lld simd %d: dot %.9g, scalar reference %.9g, tolerance %.3g\n", name,
                            (long long)n, level, got, ref, tol);
                    __builtin_trap();
                }
            }
        }
    }
    free(row);
    free(dst);
    free(x);
    return 0;
}
