/* kernels.h - compute kernels: type traits, float conversions, dequantization, dot products and the
 * matrix product used by the forward pass.
 *
 * Each kernel has a plain C reference version (kernels_ref.c) and SIMD versions (x86-64: kernels_avx2.c,
 * kernels_avx512.c; ARM64: kernels_neon.c) selected by the `simd` argument (an mla4j_simd level, never AUTO
 * here: callers resolve AUTO with kern_resolve_simd). Tests compare every SIMD kernel with its reference. */
#ifndef MLA4J_KERNELS_H
#define MLA4J_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The processor family of this build: only its SIMD files are compiled (native/CMakeLists.txt). */
#if defined(__x86_64__) || defined(_M_X64)
#define MLA4J_X86 1
#define MLA4J_ARM64 0
#elif defined(__aarch64__) || defined(_M_ARM64)
#define MLA4J_X86 0
#define MLA4J_ARM64 1
#else
#error "mla4j: unsupported processor; supported: x86-64 and ARM64 (aarch64)"
#endif

typedef struct kern_type_traits {
    const char *name;   /* "Q8_0" */
    int64_t block_size; /* elements per block */
    int64_t type_size;  /* bytes per block */
} kern_type_traits;

/* Traits of a supported tensor type, or NULL. */
const kern_type_traits *kern_type_traits_of(int32_t type);

/* Resolves MLA4J_SIMD_AUTO (and levels of the other processor family) to the best level of this CPU; clamps a
 * requested level to what the CPU has. */
int kern_resolve_simd(int simd);
/* Whether level runs as itself here (SCALAR always; otherwise a level of this CPU's family up to its best). */
int kern_simd_available(int level);
/* "scalar", "avx2", "neon-dotprod", ... */
const char *kern_simd_name(int level);
/* cpu_x86.c or cpu_arm.c: the best level of this CPU, its features, and the optional x86 extensions (0 on ARM64). */
int kern_cpu_best_simd(void);
const char *kern_cpu_features(void);
int kern_cpu_has_avx512vnni(void);
int kern_cpu_has_avx512bf16(void);

/* Scalar conversions (ggml semantics: fp16 round-to-nearest-even, bf16 round-to-nearest-even, NaN kept). */
float kern_fp16_to_fp32(uint16_t h);
uint16_t kern_fp32_to_fp16(float f);
float kern_bf16_to_fp32(uint16_t h);
uint16_t kern_fp32_to_bf16(float f);
void kern_fp32_to_fp16_row(const float *x, uint16_t *y, int64_t n);

/* Decodes n elements (a multiple of the block size) of `type`. */
void kern_dequantize_row(int32_t type, const void *src, float *dst, int64_t n);

/* A weight matrix: `rows` rows of `cols` elements of `type`, each row_bytes long, stored contiguously. */
typedef struct kern_matrix {
    int32_t type;
    int64_t cols;
    int64_t rows;
    size_t row_bytes;
    const void *data;
} kern_matrix;

/* Rows [first, first + count) of a matrix, as a matrix (a view: no copy). */
static inline kern_matrix kern_matrix_rows(const kern_matrix *w, int64_t first, int64_t count) {
    kern_matrix s = *w;
    s.rows = count;
    s.data = (const uint8_t *)w->data + (size_t)first * w->row_bytes;
    return s;
}

/* Activations are converted once per matrix product into the form the dot product of the weight type
 * consumes: Q8_0 blocks for Q4_0 and Q8_0 weights (like llama.cpp's vec_dot_type), floats otherwise
 * (layout in kernels_impl.h). cols must be a multiple of the weight type's block size.
 * kern_act_size: bytes needed for n_tok vectors of `cols` elements (a multiple of 64; act should be 64-byte
 * aligned, e.g. from mla4j_alloc_aligned). */
size_t kern_act_size(int32_t type, int64_t cols, int64_t n_tok);
/* Converts vectors t0..t1-1 of x (n_tok vectors of `cols` floats, contiguous) into act. The result does not
 * depend on the SIMD level (the rounding is exact), so this takes none. */
void kern_act_convert(int32_t type, const float *x, int64_t cols, int64_t t0, int64_t t1, void *act);

/* Y[t*ldy + r] = W[r] . act[t] for t in [0, n_tok) and r in [r0, r1). */
void kern_matmul(int simd, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                 int64_t r1);

/* Vector helpers for attention and the KV cache (f16 = IEEE half stored as uint16_t). */
float kern_dot_f32(int simd, const float *a, const float *b, int64_t n);
float kern_dot_f16(int simd, const uint16_t *a, const float *b, int64_t n);
void kern_axpy_f32(int simd, float a, const float *x, float *y, int64_t n);  /* y += a*x */
void kern_axpy_f16(int simd, float a, const uint16_t *x, float *y, int64_t n);

#endif
