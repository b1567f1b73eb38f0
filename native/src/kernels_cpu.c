/* kernels_cpu.c - the dispatch of every kernel to the implementation of the requested SIMD level. The CPU's
 * levels are detected by cpu_x86.c (CPUID) or cpu_arm.c (HWCAP / sysctl), whichever the build compiles; only
 * the SIMD files of the build's processor exist (native/CMakeLists.txt), hence the MLA4J_X86 / MLA4J_ARM64 cases. */
#include "kernels_impl.h"

#include <string.h>

/* Levels of one processor family form a chain (each includes the one below); SCALAR belongs to every family. */
static int simd_family(int level) {
    if (level == MLA4J_SIMD_AVX2 || level == MLA4J_SIMD_AVX512) return 1;
    if (level >= MLA4J_SIMD_NEON && level <= MLA4J_SIMD_NEON_I8MM) return 2;
    return 0;
}

int kern_simd_available(int level) {
    if (level == MLA4J_SIMD_SCALAR) return 1;
    int best = kern_cpu_best_simd();
    return simd_family(level) != 0 && simd_family(level) == simd_family(best) && level <= best;
}

int kern_resolve_simd(int simd) {
    int best = kern_cpu_best_simd();
    if (simd == MLA4J_SIMD_SCALAR) return simd;
    /* AUTO, unknown values and the levels of another processor family mean "the best this CPU has" */
    if (simd_family(simd) == 0 || simd_family(simd) != simd_family(best)) return best;
    return simd > best ? best : simd;
}

const char *kern_simd_name(int level) {
    switch (level) {
    case MLA4J_SIMD_AUTO: return "auto";
    case MLA4J_SIMD_SCALAR: return "scalar";
    case MLA4J_SIMD_AVX2: return "avx2";
    case MLA4J_SIMD_AVX512: return "avx512";
    case MLA4J_SIMD_NEON: return "neon";
    case MLA4J_SIMD_NEON_DOTPROD: return "neon-dotprod";
    case MLA4J_SIMD_NEON_I8MM: return "neon-i8mm";
    default: return "unknown";
    }
}

/* ---- Dispatch ------------------------------------------------------------------------------------------ */

/* The conversion is exact (every level writes identical bytes, see test_kernels), so it always runs at the best
 * level of the CPU whatever level the matrix product then uses. */
void kern_act_convert(int32_t type, const float *x, int64_t cols, int64_t t0, int64_t t1, void *act) {
    int64_t stride = kern_act_stride(type, cols);
    int best = kern_cpu_best_simd();
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *dst = (uint8_t *)act + t * stride;
        const float *src = x + t * cols;
        if (!kern_act_is_q8(type) && !kern_act_is_q8k(type)) memcpy(dst, src, (size_t)cols * sizeof(float));
#if MLA4J_X86
        else if (kern_act_is_q8k(type) && best == MLA4J_SIMD_AVX512) kern_quantize_act_q8k_avx512(src, cols, dst);
        else if (kern_act_is_q8k(type) && best == MLA4J_SIMD_AVX2) kern_quantize_act_q8k_avx2(src, cols, dst);
#endif
#if MLA4J_ARM64
        else if (kern_act_is_q8k(type) && best >= MLA4J_SIMD_NEON) kern_quantize_act_q8k_neon(src, cols, dst);
#endif
        else if (kern_act_is_q8k(type)) kern_quantize_act_q8k_ref(src, cols, dst);
#if MLA4J_X86
        else if (best == MLA4J_SIMD_AVX512) kern_quantize_act_q8_avx512(type, src, cols, dst);
        else if (best == MLA4J_SIMD_AVX2) kern_quantize_act_q8_avx2(type, src, cols, dst);
#endif
#if MLA4J_ARM64
        else if (best >= MLA4J_SIMD_NEON) kern_quantize_act_q8_neon(type, src, cols, dst);
#endif
        else kern_quantize_act_q8_ref(type, src, cols, dst);
    }
}

void kern_matmul(int simd, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                 int64_t r1) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: kern_matmul_avx512(kern_cpu_has_avx512vnni(), w, act, n_tok, y, ldy, r0, r1); break;
    case MLA4J_SIMD_AVX2: kern_matmul_avx2(w, act, n_tok, y, ldy, r0, r1); break;
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON_I8MM: kern_matmul_neon(MLA4J_SIMD_NEON_I8MM, w, act, n_tok, y, ldy, r0, r1); break;
    case MLA4J_SIMD_NEON_DOTPROD: kern_matmul_neon(MLA4J_SIMD_NEON_DOTPROD, w, act, n_tok, y, ldy, r0, r1); break;
    case MLA4J_SIMD_NEON: kern_matmul_neon(MLA4J_SIMD_NEON, w, act, n_tok, y, ldy, r0, r1); break;
#endif
    default: kern_matmul_ref(w, act, n_tok, y, ldy, r0, r1); break;
    }
}

float kern_dot_f32(int simd, const float *a, const float *b, int64_t n) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: return kern_dot_f32_avx512(a, b, n);
    case MLA4J_SIMD_AVX2: return kern_dot_f32_avx2(a, b, n);
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON:
    case MLA4J_SIMD_NEON_DOTPROD:
    case MLA4J_SIMD_NEON_I8MM: return kern_dot_f32_neon(a, b, n);
#endif
    default: return kern_dot_f32_ref(a, b, n);
    }
}

float kern_dot_f16(int simd, const uint16_t *a, const float *b, int64_t n) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: return kern_dot_f16_avx512(a, b, n);
    case MLA4J_SIMD_AVX2: return kern_dot_f16_avx2(a, b, n);
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON:
    case MLA4J_SIMD_NEON_DOTPROD:
    case MLA4J_SIMD_NEON_I8MM: return kern_dot_f16_neon(a, b, n);
#endif
    default: return kern_dot_f16_ref(a, b, n);
    }
}

void kern_axpy_f32(int simd, float a, const float *x, float *y, int64_t n) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: kern_axpy_f32_avx512(a, x, y, n); break;
    case MLA4J_SIMD_AVX2: kern_axpy_f32_avx2(a, x, y, n); break;
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON:
    case MLA4J_SIMD_NEON_DOTPROD:
    case MLA4J_SIMD_NEON_I8MM: kern_axpy_f32_neon(a, x, y, n); break;
#endif
    default: kern_axpy_f32_ref(a, x, y, n); break;
    }
}

void kern_axpy_f16(int simd, float a, const uint16_t *x, float *y, int64_t n) {
    switch (kern_resolve_simd(simd)) {
#if MLA4J_X86
    case MLA4J_SIMD_AVX512: kern_axpy_f16_avx512(a, x, y, n); break;
    case MLA4J_SIMD_AVX2: kern_axpy_f16_avx2(a, x, y, n); break;
#endif
#if MLA4J_ARM64
    case MLA4J_SIMD_NEON:
    case MLA4J_SIMD_NEON_DOTPROD:
    case MLA4J_SIMD_NEON_I8MM: kern_axpy_f16_neon(a, x, y, n); break;
#endif
    default: kern_axpy_f16_ref(a, x, y, n); break;
    }
}
