/* kernels_cpu.c - CPU feature detection (CPUID plus the OS's XSAVE state check) and the dispatch of every
 * kernel to the implementation of the requested SIMD level. */
#include "kernels_impl.h"

#include <cpuid.h>
#include <pthread.h>
#include <string.h>

typedef struct cpu_info {
    int avx2, fma, f16c;                              /* usable: the CPU has them and the OS saves YMM state */
    int avx512f, avx512bw, avx512vl, avx512dq;        /* usable: the OS also saves opmask and ZMM state */
    int avx512vnni, avx512bf16;
    int best;                                         /* mla4j_simd */
    char features[160];
} cpu_info;

static cpu_info cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

/* XCR0 tells which register states the OS saves on a context switch; a CPU feature whose registers the OS
 * does not save must not be used. */
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void append_feature(const char *name, int present) {
    if (!present) return;
    if (cpu.features[0] != '\0') strncat(cpu.features, " ", sizeof cpu.features - strlen(cpu.features) - 1);
    strncat(cpu.features, name, sizeof cpu.features - strlen(cpu.features) - 1);
}

static void detect_cpu(void) {
    unsigned a, b, c, d;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    int osxsave = 0, avx = 0, fma = 0, f16c = 0;
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
        fma = (c >> 12) & 1;
        osxsave = (c >> 27) & 1;
        avx = (c >> 28) & 1;
        f16c = (c >> 29) & 1;
    }
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6;   /* XMM and YMM state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6; /* plus opmask, ZMM0-15 upper halves, ZMM16-31 */
    unsigned b7 = 0, c7 = 0, a71 = 0;
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        b7 = b;
        c7 = c;
        if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) a71 = a;
    }
    int ymm_ok = avx && os_ymm;
    cpu.avx2 = ymm_ok && ((b7 >> 5) & 1);
    cpu.fma = ymm_ok && fma;
    cpu.f16c = ymm_ok && f16c;
    int zmm_ok = ymm_ok && os_zmm;
    cpu.avx512f = zmm_ok && ((b7 >> 16) & 1);
    cpu.avx512dq = cpu.avx512f && ((b7 >> 17) & 1);
    cpu.avx512bw = cpu.avx512f && ((b7 >> 30) & 1);
    cpu.avx512vl = cpu.avx512f && ((b7 >> 31) & 1);
    cpu.avx512vnni = cpu.avx512f && ((c7 >> 11) & 1);
    cpu.avx512bf16 = cpu.avx512f && ((a71 >> 5) & 1);

    /* A level needs everything its file is compiled with (see CMakeLists.txt), except VNNI and BF16 which the
     * AVX-512 kernels only use behind their own check. */
    int has_avx2_level = cpu.avx2 && cpu.fma && cpu.f16c;
    int has_avx512_level = has_avx2_level && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq;
    cpu.best = has_avx512_level ? MLA4J_SIMD_AVX512 : has_avx2_level ? MLA4J_SIMD_AVX2 : MLA4J_SIMD_SCALAR;

    append_feature("avx2", cpu.avx2);
    append_feature("fma", cpu.fma);
    append_feature("f16c", cpu.f16c);
    append_feature("avx512f", cpu.avx512f);
    append_feature("avx512bw", cpu.avx512bw);
    append_feature("avx512vl", cpu.avx512vl);
    append_feature("avx512dq", cpu.avx512dq);
    append_feature("avx512vnni", cpu.avx512vnni);
    append_feature("avx512bf16", cpu.avx512bf16);
}

static const cpu_info *cpu_get(void) {
    pthread_once(&cpu_once, detect_cpu);
    return &cpu;
}

int kern_cpu_best_simd(void) { return cpu_get()->best; }

const char *kern_cpu_features(void) { return cpu_get()->features; }

int kern_cpu_has_avx512vnni(void) { return cpu_get()->avx512vnni; }

int kern_cpu_has_avx512bf16(void) { return cpu_get()->avx512bf16; }

int kern_resolve_simd(int simd) {
    int best = kern_cpu_best_simd();
    if (simd <= MLA4J_SIMD_AUTO || simd > best) return best;
    return simd;
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
        if (kern_act_is_q8k(type)) kern_quantize_act_q8k_ref(src, cols, dst);
        else if (!kern_act_is_q8(type)) memcpy(dst, src, (size_t)cols * sizeof(float));
        else if (best == MLA4J_SIMD_AVX512) kern_quantize_act_q8_avx512(type, src, cols, dst);
        else if (best == MLA4J_SIMD_AVX2) kern_quantize_act_q8_avx2(type, src, cols, dst);
        else kern_quantize_act_q8_ref(type, src, cols, dst);
    }
}

void kern_matmul(int simd, const kern_matrix *w, const void *act, int64_t n_tok, float *y, int64_t ldy, int64_t r0,
                 int64_t r1) {
    switch (kern_resolve_simd(simd)) {
    case MLA4J_SIMD_AVX512: kern_matmul_avx512(kern_cpu_has_avx512vnni(), w, act, n_tok, y, ldy, r0, r1); break;
    case MLA4J_SIMD_AVX2: kern_matmul_avx2(w, act, n_tok, y, ldy, r0, r1); break;
    default: kern_matmul_ref(w, act, n_tok, y, ldy, r0, r1); break;
    }
}

float kern_dot_f32(int simd, const float *a, const float *b, int64_t n) {
    switch (kern_resolve_simd(simd)) {
    case MLA4J_SIMD_AVX512: return kern_dot_f32_avx512(a, b, n);
    case MLA4J_SIMD_AVX2: return kern_dot_f32_avx2(a, b, n);
    default: return kern_dot_f32_ref(a, b, n);
    }
}

float kern_dot_f16(int simd, const uint16_t *a, const float *b, int64_t n) {
    switch (kern_resolve_simd(simd)) {
    case MLA4J_SIMD_AVX512: return kern_dot_f16_avx512(a, b, n);
    case MLA4J_SIMD_AVX2: return kern_dot_f16_avx2(a, b, n);
    default: return kern_dot_f16_ref(a, b, n);
    }
}

void kern_axpy_f32(int simd, float a, const float *x, float *y, int64_t n) {
    switch (kern_resolve_simd(simd)) {
    case MLA4J_SIMD_AVX512: kern_axpy_f32_avx512(a, x, y, n); break;
    case MLA4J_SIMD_AVX2: kern_axpy_f32_avx2(a, x, y, n); break;
    default: kern_axpy_f32_ref(a, x, y, n); break;
    }
}

void kern_axpy_f16(int simd, float a, const uint16_t *x, float *y, int64_t n) {
    switch (kern_resolve_simd(simd)) {
    case MLA4J_SIMD_AVX512: kern_axpy_f16_avx512(a, x, y, n); break;
    case MLA4J_SIMD_AVX2: kern_axpy_f16_avx2(a, x, y, n); break;
    default: kern_axpy_f16_ref(a, x, y, n); break;
    }
}
