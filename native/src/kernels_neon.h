/* kernels_neon.h - what the NEON kernel files (kernels_neon.c, kernels_kquants_neon.c) share: the target attributes
 * of the dotprod and i8mm functions, fp16 loads, and the int8 products of 16 and 32 quants at each level. */
#ifndef MLA4J_KERNELS_NEON_H
#define MLA4J_KERNELS_NEON_H

#include "kernels_impl.h"

#include <arm_neon.h>

/* GCC declares the SDOT and SMMLA intrinsics for "arch=armv8.2-a+dotprod" and "arch=armv8.2-a+i8mm", and inlines
 * them only into functions whose target includes that (FEAT_DotProd exists from ARMv8.2 on, so a CPU with it
 * has all of ARMv8.2-A); clang (macOS) names the features alone. */
#if defined(__clang__)
#define TARGET_DOTPROD __attribute__((target("dotprod")))
#define TARGET_I8MM __attribute__((target("dotprod,i8mm")))
#else
#define TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#define TARGET_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#endif
#define INLINE static inline __attribute__((always_inline))

/* IEEE half to float with the FCVT instruction: exact, like kern_fp16_to_fp32. */
INLINE float fp16_to_f32(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

INLINE float32x4_t load_f16x4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/* 16 signed weight bytes times 16 activation bytes into 4 int32 lanes. Baseline: SMULL/SMLAL2 put two products in
 * each int16 lane (at most 2 x 128 x 127 < 2^15: |activation| <= 127), SADDLP widens; dotprod: SDOT. */
INLINE int32x4_t dot16_base(int8x16_t w, const int8_t *a) {
    const int8x16_t av = vld1q_s8(a);
    return vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(av)), w, av));
}

TARGET_DOTPROD INLINE int32x4_t dot16_sdot(int8x16_t w, const int8_t *a) {
    return vdotq_s32(vdupq_n_s32(0), w, vld1q_s8(a));
}

#endif
