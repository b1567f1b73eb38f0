/* cpu_arm.c - ARM64 CPU feature detection, the only file with operating-system calls for it: Linux reports the
 * features in the auxiliary vector (getauxval AT_HWCAP / AT_HWCAP2, set by the kernel from the ID registers, so it
 * also tells what the kernel lets user space use); macOS answers sysctlbyname("hw.optional.arm.FEAT_*"). Compiled
 * only for ARM64 (native/CMakeLists.txt); cpu_x86.c is its x86-64 twin. Advanced SIMD (NEON) is part of every
 * ARMv8-A CPU that runs a general-purpose OS, so MLA4J_SIMD_NEON is the floor. */
#include "kernels_impl.h"

#include <pthread.h>
#include <string.h>

#if defined(__linux__)
#include <sys/auxv.h>
/* Bits of <asm/hwcap.h>, spelled out for C libraries whose headers predate them. */
#define MLA4J_HWCAP_ASIMD (1UL << 1)
#define MLA4J_HWCAP_ASIMDHP (1UL << 10)
#define MLA4J_HWCAP_ASIMDDP (1UL << 20)
#define MLA4J_HWCAP_SVE (1UL << 22)
#define MLA4J_HWCAP2_I8MM (1UL << 13)
#define MLA4J_HWCAP2_BF16 (1UL << 14)
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

typedef struct cpu_info {
    int asimd, asimdhp, dotprod, i8mm, bf16, sve; /* reported for the features string; dotprod/i8mm pick levels */
    int best;                                     /* mla4j_simd */
    char features[96];
} cpu_info;

static cpu_info cpu;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void append_feature(const char *name, int present) {
    if (!present) return;
    if (cpu.features[0] != '\0') strncat(cpu.features, " ", sizeof cpu.features - strlen(cpu.features) - 1);
    strncat(cpu.features, name, sizeof cpu.features - strlen(cpu.features) - 1);
}

#if defined(__APPLE__)
static int sysctl_flag(const char *name) {
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(name, &v, &len, NULL, 0) == 0 && v != 0;
}
#endif

static void detect_cpu(void) {
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    cpu.asimd = (hw & MLA4J_HWCAP_ASIMD) != 0;
    cpu.asimdhp = (hw & MLA4J_HWCAP_ASIMDHP) != 0;
    cpu.dotprod = (hw & MLA4J_HWCAP_ASIMDDP) != 0;
    cpu.sve = (hw & MLA4J_HWCAP_SVE) != 0;
    cpu.i8mm = (hw2 & MLA4J_HWCAP2_I8MM) != 0;
    cpu.bf16 = (hw2 & MLA4J_HWCAP2_BF16) != 0;
#elif defined(__APPLE__)
    cpu.asimd = 1; /* every Apple silicon CPU */
    cpu.asimdhp = sysctl_flag("hw.optional.arm.FEAT_FP16");
    cpu.dotprod = sysctl_flag("hw.optional.arm.FEAT_DotProd");
    cpu.i8mm = sysctl_flag("hw.optional.arm.FEAT_I8MM");
    cpu.bf16 = sysctl_flag("hw.optional.arm.FEAT_BF16");
#else
    cpu.asimd = 1; /* no way to ask: the baseline only */
#endif
    /* The i8mm level also uses SDOT (for one token), so it needs both. */
    cpu.best = !cpu.asimd ? MLA4J_SIMD_SCALAR
               : cpu.dotprod && cpu.i8mm ? MLA4J_SIMD_NEON_I8MM
               : cpu.dotprod ? MLA4J_SIMD_NEON_DOTPROD
                             : MLA4J_SIMD_NEON;
    append_feature("asimd", cpu.asimd);
    append_feature("asimdhp", cpu.asimdhp);
    append_feature("dotprod", cpu.dotprod);
    append_feature("i8mm", cpu.i8mm);
    append_feature("bf16", cpu.bf16);
    append_feature("sve", cpu.sve);
}

static const cpu_info *cpu_get(void) {
    pthread_once(&cpu_once, detect_cpu);
    return &cpu;
}

int kern_cpu_best_simd(void) { return cpu_get()->best; }

const char *kern_cpu_features(void) { return cpu_get()->features; }

int kern_cpu_has_avx512vnni(void) { return 0; }

int kern_cpu_has_avx512bf16(void) { return 0; }
