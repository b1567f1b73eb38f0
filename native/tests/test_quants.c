/* test_quants.c - the weight types against llama.cpp itself: blocks quantized by llama.cpp (ggml_quantize_chunk,
 * llama-quantize's path) with its dequantized floats and its own dot products (ggml-cpu vec_dot), stored in
 * tests/data/quants (README.md there says how they were written). mla4j's dequantization must give the same floats
 * bit for bit; its dot products, at every SIMD level, must agree with llama.cpp's within the rounding of the
 * activation quantization both engines do. */
#include "check.h"
#include "kernels_impl.h"
#include "mla4j.h"

#include <stdint.h>

typedef struct {
    const char *file;
    int32_t type;
    double tol; /* |mla4j - llama.cpp| <= tol * sum |w_i x_i| */
} vec_case;

static void check_vectors(const vec_case *c) {
    char path[1024];
    snprintf(path, sizeof path, "%s/quants/%s", MLA4J_TEST_DATA, c->file);
    size_t size = 0;
    uint8_t *buf = check_read_file(path, &size);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (buf == NULL) return;
    int32_t hdr[3];
    uint32_t version;
    CHECK(size >= 20 && memcmp(buf, "MQTV", 4) == 0);
    memcpy(&version, buf + 4, 4);
    memcpy(hdr, buf + 8, 12);
    CHECK(version == 1 && hdr[0] == c->type);
    const int64_t n = hdr[1], rows = hdr[2];
    const kern_type_traits *tr = kern_type_traits_of(c->type);
    const size_t row_bytes = (size_t)(n / tr->block_size * tr->type_size);
    const size_t per_row = row_bytes + 2 * (size_t)n * sizeof(float) + sizeof(float);
    CHECK(size == 20 + (size_t)rows * per_row);
    float *y = malloc(sizeof(float) * (size_t)n), *x = malloc(sizeof(float) * (size_t)n),
          *want = malloc(sizeof(float) * (size_t)n);
    for (int64_t r = 0; r < rows && size == 20 + (size_t)rows * per_row; r++) {
        const uint8_t *p = buf + 20 + (size_t)r * per_row;
        memcpy(x, p + row_bytes, sizeof(float) * (size_t)n);
        memcpy(want, p + row_bytes + sizeof(float) * (size_t)n, sizeof(float) * (size_t)n);
        float llama_dot;
        memcpy(&llama_dot, p + row_bytes + 2 * sizeof(float) * (size_t)n, sizeof(float));

        CHECK(mla4j_type_dequantize(c->type, p, row_bytes, y, n) == MLA4J_OK);
        int differ = 0;
        for (int64_t i = 0; i < n; i++) differ += memcmp(&y[i], &want[i], sizeof(float)) != 0;
        CHECK_MSG(differ == 0, "%s row %lld: %d of %lld floats differ from llama.cpp's (first: %.9g vs %.9g)", tr->name,
                  (long long)r, differ, (long long)n, y[0], want[0]);

        double l1 = 0;
        for (int64_t i = 0; i < n; i++) l1 += fabs((double)want[i] * x[i]);
        for (int simd = MLA4J_SIMD_SCALAR; simd <= kern_cpu_best_simd(); simd++) {
            float got = 0;
            CHECK(mla4j_type_dot(c->type, p, row_bytes, x, n, simd, &got) == MLA4J_OK);
            CHECK_MSG(fabs((double)got - llama_dot) <= c->tol * l1, "%s row %lld simd %d: dot %.9g, llama.cpp %.9g (l1 %.4g)",
                      tr->name, (long long)r, simd, got, llama_dot, l1);
        }
    }
    free(y);
    free(x);
    free(want);
    free(buf);
}

int main(void) {
    /* Tolerances: the same activation quantization as llama.cpp (Q8_0 or Q8_K) leaves only float summation order,
     * except ties rounded differently by llama.cpp's SIMD Q8_0 quantizer (round-half-even) and, for Q4_1/Q5_1,
     * llama.cpp's Q8_1 block sum stored as fp16 (relative 2^-11 of the minimum's term). The K-quants (Q4_K and Q6_K
     * too) take Q8_K activations as in llama.cpp: only the float summation order differs. */
    const vec_case cases[] = {
        {"q4_1.bin", MLA4J_TYPE_Q4_1, 3e-4},    {"q5_0.bin", MLA4J_TYPE_Q5_0, 1e-6},
        {"q5_1.bin", MLA4J_TYPE_Q5_1, 3e-4},    {"iq4_nl.bin", MLA4J_TYPE_IQ4_NL, 1e-6},
        {"q2_K.bin", MLA4J_TYPE_Q2_K, 1e-6},    {"q3_K.bin", MLA4J_TYPE_Q3_K, 1e-6},
        {"q5_K.bin", MLA4J_TYPE_Q5_K, 1e-6},    {"iq4_xs.bin", MLA4J_TYPE_IQ4_XS, 1e-6},
        {"q4_K.bin", MLA4J_TYPE_Q4_K, 1e-6},    {"q6_K.bin", MLA4J_TYPE_Q6_K, 1e-6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_vectors(&cases[i]);
    return check_summary("test_quants");
}
