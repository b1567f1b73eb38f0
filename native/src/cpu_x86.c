/* cpu_x86.c - x86-64 CPU feature detection: CPUID plus the OS's XSAVE state check (XGETBV). Compiled only for
 * x86-64 (native/CMakeLists.txt); cpu_arm.c is its ARM64 twin. kernels_cpu.c dispatches on the level found here. */
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

