/* api_types.c - the public entry points of the kernels: CPU level, tensor type traits, dequantization and
 * the forward pass's dot product, each validating its arguments before touching memory. */
#include "internal.h"
#include "kernels_impl.h"

#include <stdlib.h>

MLA4J_API int32_t mla4j_simd_best(void) { return kern_cpu_best_simd(); }

MLA4J_API const char *mla4j_cpu_features(void) { return kern_cpu_features(); }

MLA4J_API mla4j_status mla4j_type_info(int32_t type, const char **name, int64_t *block_size, int64_t *type_size) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    if (tr == NULL) return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "mla4j_type_info: unsupported tensor type %d", type);
    if (name != NULL) *name = tr->name;
    if (block_size != NULL) *block_size = tr->block_size;
    if (type_size != NULL) *type_size = tr->type_size;
    mla4j_clear_error();
    return MLA4J_OK;
}

/* Checks the type, n and the size of a stored row of n elements (the error is recorded on failure). */
static mla4j_status check_row(const char *fn, int32_t type, const void *src, size_t src_size, int64_t n) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    if (tr == NULL) return mla4j_fail(MLA4J_ERR_UNSUPPORTED, "%s: unsupported tensor type %d", fn, type);
    MLA4J_CHECK_ARG(src != NULL, "%s: the %s data pointer is NULL", fn, tr->name);
    MLA4J_CHECK_ARG(n > 0, "%s: n must be positive, got %lld", fn, (long long)n);
    MLA4J_CHECK_ARG(n % tr->block_size == 0, "%s: n = %lld is not a multiple of the %s block size %lld", fn,
                    (long long)n, tr->name, (long long)tr->block_size);
    uint64_t need;
    if (!mla4j_mul_u64((uint64_t)(n / tr->block_size), (uint64_t)tr->type_size, &need) || need > SIZE_MAX)
        return mla4j_fail(MLA4J_ERR_INVALID_ARGUMENT, "%s: %lld elements of %s overflow the address space", fn,
                          (long long)n, tr->name);
    MLA4J_CHECK_ARG(src_size >= need, "%s: %lld elements of %s need %llu bytes, the buffer has %zu", fn,
                    (long long)n, tr->name, (unsigned long long)need, src_size);
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_type_dequantize(int32_t type, const void *src, size_t src_size, float *dst, int64_t n) {
    mla4j_status st = check_row("mla4j_type_dequantize", type, src, src_size, n);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(dst != NULL, "mla4j_type_dequantize: dst is NULL");
    kern_dequantize_row(type, src, dst, n);
    mla4j_clear_error();
    return MLA4J_OK;
}

MLA4J_API mla4j_status mla4j_type_dot(int32_t type, const void *row, size_t row_size, const float *x, int64_t n,
                                      int32_t simd, float *out) {
    mla4j_status st = check_row("mla4j_type_dot", type, row, row_size, n);
    if (st != MLA4J_OK) return st;
    MLA4J_CHECK_ARG(x != NULL, "mla4j_type_dot: x is NULL");
    MLA4J_CHECK_ARG(out != NULL, "mla4j_type_dot: out is NULL");
    MLA4J_CHECK_ARG(simd >= MLA4J_SIMD_AUTO && simd <= MLA4J_SIMD_NEON_I8MM,
                    "mla4j_type_dot: simd = %d is not an mla4j_simd level (0..3)", simd);
    /* The same path as the forward pass: convert the activation, then a one-row matrix product. */
    void *act = mla4j_alloc_aligned(kern_act_size(type, n, 1), "mla4j_type_dot activation");
    if (act == NULL) return MLA4J_ERR_OUT_OF_MEMORY;
    kern_act_convert(type, x, n, 0, 1, act);
    kern_matrix m = {.type = type, .cols = n, .rows = 1, .row_bytes = row_size, .data = row};
    float y;
    kern_matmul(kern_resolve_simd(simd), &m, act, 1, &y, 1, 0, 1);
    free(act);
    *out = y;
    mla4j_clear_error();
    return MLA4J_OK;
}
