/* test_kernels.c - the compute kernels: conversions on edge values, dequantization of blocks built by hand
 * from the format spec, Q8_0 activation quantization, every SIMD level against the scalar reference, and the
 * public type API's validation. */
#include "check.h"
#include "kernels_impl.h"
#include "mla4j.h"

#include <stdint.h>
#if MLA4J_X86
#include <immintrin.h>
#else
#include <arm_neon.h>
#endif

/* ---- helpers ------------------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_uniform(float lo, float hi) { return lo + (hi - lo) * (float)(rng_u32() & 0xffffff) / 16777216.0f; }

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* ---- fp16 / bf16 --------------------------------------------------------------------------------------- */

static void test_fp16(void) {
    CHECK(kern_fp32_to_fp16(0.0f) == 0x0000);
    CHECK(kern_fp32_to_fp16(-0.0f) == 0x8000);
    CHECK(kern_fp32_to_fp16(1.0f) == 0x3c00);
    CHECK(kern_fp32_to_fp16(-2.0f) == 0xc000);
    CHECK(kern_fp32_to_fp16(65504.0f) == 0x7bff);
    CHECK(kern_fp32_to_fp16(65519.99f) == 0x7bff); /* below the midpoint to the next (infinite) step */
    CHECK(kern_fp32_to_fp16(65520.0f) == 0x7c00);  /* the midpoint rounds to even: infinity */
    CHECK(kern_fp32_to_fp16(1e10f) == 0x7c00);
    CHECK(kern_fp32_to_fp16(INFINITY) == 0x7c00);
    CHECK(kern_fp32_to_fp16(-INFINITY) == 0xfc00);
    uint16_t nan = kern_fp32_to_fp16(NAN);
    CHECK((nan & 0x7c00) == 0x7c00 && (nan & 0x0200) != 0); /* a quiet NaN */
    CHECK((kern_fp32_to_fp16(float_of(0x7f800001u)) & 0x7fff) == 0x7e00); /* signalling NaN made quiet */
    /* subnormal halves: 2^-24 is the smallest; 2^-25 is a tie between 0 and 2^-24 (even: 0);
     * 3*2^-25 is a tie between 1 and 2 units (even: 2) */
    CHECK(kern_fp32_to_fp16(0x1p-24f) == 0x0001);
    CHECK(kern_fp32_to_fp16(0x1p-25f) == 0x0000);
    CHECK(kern_fp32_to_fp16(0x1.8p-24f) == 0x0002);
    CHECK(kern_fp32_to_fp16(0x1.0001p-25f) == 0x0001);
    CHECK(kern_fp32_to_fp16(-0x1p-24f) == 0x8001);
    CHECK(kern_fp32_to_fp16(0x1p-14f) == 0x0400);          /* smallest normal */
    CHECK(kern_fp32_to_fp16(0x1.ffcp-15f) == 0x0400);      /* largest subnormal + half a step: tie to even */
    CHECK(kern_fp32_to_fp16(1.0f + 0x1p-11f) == 0x3c00);   /* tie between 0x3c00 and 0x3c01: even */
    CHECK(kern_fp32_to_fp16(1.0f + 0x3p-11f) == 0x3c02);   /* tie between 0x3c01 and 0x3c02: even */
    CHECK(kern_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01);
    CHECK(kern_fp32_to_fp16(0.1f) == 0x2e66);

    CHECK(kern_fp16_to_fp32(0x0000) == 0.0f && !signbit(kern_fp16_to_fp32(0x0000)));
    CHECK(kern_fp16_to_fp32(0x8000) == 0.0f && signbit(kern_fp16_to_fp32(0x8000)));
    CHECK(kern_fp16_to_fp32(0x0001) == 0x1p-24f);
    CHECK(kern_fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f);
    CHECK(kern_fp16_to_fp32(0x0400) == 0x1p-14f);
    CHECK(kern_fp16_to_fp32(0x3c00) == 1.0f);
    CHECK(kern_fp16_to_fp32(0x3555) == 0x1.554p-2f);
    CHECK(kern_fp16_to_fp32(0xc000) == -2.0f);
    CHECK(kern_fp16_to_fp32(0x7bff) == 65504.0f);
    CHECK(isinf(kern_fp16_to_fp32(0x7c00)) && kern_fp16_to_fp32(0x7c00) > 0);
    CHECK(isinf(kern_fp16_to_fp32(0xfc00)) && kern_fp16_to_fp32(0xfc00) < 0);
    CHECK(isnan(kern_fp16_to_fp32(0x7e00)));
    CHECK(isnan(kern_fp16_to_fp32(0x7c01)));

    /* every non-NaN half survives a round trip */
    int roundtrip_bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;
        if (kern_fp32_to_fp16(kern_fp16_to_fp32((uint16_t)h)) != h) roundtrip_bad++;
    }
    CHECK(roundtrip_bad == 0);

    uint16_t row[4];
    const float in[4] = {0.5f, -0.0f, 65536.0f, 0x1p-24f};
    kern_fp32_to_fp16_row(in, row, 4);
    CHECK(row[0] == 0x3800 && row[1] == 0x8000 && row[2] == 0x7c00 && row[3] == 0x0001);
}

#if MLA4J_X86
/* The F16C instruction is what ggml uses on x86: compare with it on random bit patterns. */
__attribute__((target("f16c"))) static uint16_t hw_fp32_to_fp16(float f) {
    return (uint16_t)_cvtss_sh(f, 0 /* round to nearest even */);
}
static int hw_fp16_available(void) { return __builtin_cpu_supports("f16c"); }
#else
/* ARM64's FCVT (every ARMv8-A CPU; the FPCR rounding mode is round to nearest even), what ggml uses there. */
static uint16_t hw_fp32_to_fp16(float f) {
    return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);
}
static int hw_fp16_available(void) { return 1; }
#endif

static void test_fp16_vs_hardware(void) {
    if (!hw_fp16_available()) {
        printf("SKIPPED: no F16C for the hardware comparison\n");
        return;
    }
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = rng_u32() ^ (rng_u32() << 16);
        /* concentrate on the interesting exponent range (subnormal halves to overflow) half of the time */
        if (i & 1) u = (u & 0x807fffffu) | ((uint32_t)(100 + rng_u32() % 45) << 23);
        float f = float_of(u);
        if (kern_fp32_to_fp16(f) != hw_fp32_to_fp16(f)) {
            if (bad++ < 5) fprintf(stderr, "fp16 mismatch for 0x%08x: %04x vs %04x\n", u, kern_fp32_to_fp16(f), hw_fp32_to_fp16(f));
        }
    }
    CHECK(bad == 0);
}

static void test_bf16(void) {
    CHECK(kern_fp32_to_bf16(1.0f) == 0x3f80);
    CHECK(kern_fp32_to_bf16(-0.0f) == 0x8000);
    CHECK(kern_fp32_to_bf16(0.0f) == 0x0000);
    CHECK(kern_fp32_to_bf16(float_of(0x3f808000u)) == 0x3f80); /* tie, lower is even */
    CHECK(kern_fp32_to_bf16(float_of(0x3f818000u)) == 0x3f82); /* tie, upper is even */
    CHECK(kern_fp32_to_bf16(float_of(0x3f808001u)) == 0x3f81);
    CHECK(kern_fp32_to_bf16(float_of(0x3f807fffu)) == 0x3f80);
    CHECK(kern_fp32_to_bf16(INFINITY) == 0x7f80);
    CHECK(kern_fp32_to_bf16(-INFINITY) == 0xff80);
    CHECK(kern_fp32_to_bf16(float_of(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds up to infinity */
    CHECK(kern_fp32_to_bf16(float_of(0x7f800001u)) == 0x7fc0); /* signalling NaN: truncated, quiet bit set */
    CHECK(kern_fp32_to_bf16(float_of(0xffc12345u)) == 0xffc1);
    CHECK(kern_fp32_to_bf16(float_of(0x00018000u)) == 0x0002); /* subnormal tie to even */
    CHECK(kern_fp32_to_bf16(float_of(0x00008000u)) == 0x0000);
    CHECK(kern_bf16_to_fp32(0x3f80) == 1.0f);
    CHECK(kern_bf16_to_fp32(0xc040) == -3.0f);
    CHECK(bits_of(kern_bf16_to_fp32(0x8000)) == 0x80000000u);
    CHECK(isnan(kern_bf16_to_fp32(0x7fc0)));
}

/* ---- dequantization of hand-built blocks ------------------------------------------------------------ */

static void test_type_traits(void) {
    struct {
        int32_t type;
        const char *name;
        int64_t bs, ts;
    } expect[] = {{MLA4J_TYPE_F32, "F32", 1, 4},       {MLA4J_TYPE_F16, "F16", 1, 2},
                  {MLA4J_TYPE_BF16, "BF16", 1, 2},     {MLA4J_TYPE_Q4_0, "Q4_0", 32, 18},
                  {MLA4J_TYPE_Q8_0, "Q8_0", 32, 34},   {MLA4J_TYPE_Q4_K, "Q4_K", 256, 144},
                  {MLA4J_TYPE_Q6_K, "Q6_K", 256, 210}, {MLA4J_TYPE_Q4_1, "Q4_1", 32, 20},
                  {MLA4J_TYPE_Q5_0, "Q5_0", 32, 22},   {MLA4J_TYPE_Q5_1, "Q5_1", 32, 24},
                  {MLA4J_TYPE_IQ4_NL, "IQ4_NL", 32, 18}, {MLA4J_TYPE_Q2_K, "Q2_K", 256, 84},
                  {MLA4J_TYPE_Q3_K, "Q3_K", 256, 110}, {MLA4J_TYPE_Q5_K, "Q5_K", 256, 176},
                  {MLA4J_TYPE_IQ4_XS, "IQ4_XS", 256, 136}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        const char *name = NULL;
        int64_t bs = 0, ts = 0;
        CHECK(mla4j_type_info(expect[i].type, &name, &bs, &ts) == MLA4J_OK);
        CHECK(name != NULL && strcmp(name, expect[i].name) == 0);
        CHECK(bs == expect[i].bs && ts == expect[i].ts);
    }
    CHECK(mla4j_type_info(16 /* IQ2_XXS */, NULL, NULL, NULL) == MLA4J_ERR_UNSUPPORTED);
    CHECK(strstr(mla4j_last_error(), "unsupported tensor type 16") != NULL);
    CHECK(kern_type_traits_of(-1) == NULL && kern_type_traits_of(43) == NULL);
}

static void test_dequantize_q4_0(void) {
    uint8_t blk[18];
    put_u16(blk, 0x3800); /* d = 0.5 */
    for (int j = 0; j < 16; j++) blk[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q4_0, blk, sizeof blk, y, 32) == MLA4J_OK);
    CHECK(y[0] == -4.0f);  /* (0-8)*0.5 */
    CHECK(y[8] == 0.0f);   /* (8-8)*0.5 */
    CHECK(y[15] == 3.5f);  /* (15-8)*0.5 */
    CHECK(y[16] == 3.5f);  /* high nibble of qs[0] = 15 */
    CHECK(y[31] == -4.0f); /* high nibble of qs[15] = 0 */
    int bad = 0;
    for (int j = 0; j < 16; j++) bad += y[j] != (j - 8) * 0.5f || y[j + 16] != (7 - j) * 0.5f;
    CHECK(bad == 0);
}

static void test_dequantize_q8_0(void) {
    uint8_t blk[34];
    put_u16(blk, 0x3400); /* d = 0.25 */
    for (int j = 0; j < 32; j++) blk[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    float y[32];
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q8_0, blk, sizeof blk, y, 32) == MLA4J_OK);
    CHECK(y[0] == -32.0f);  /* -128 * 0.25 */
    CHECK(y[16] == 0.0f);
    CHECK(y[31] == 30.0f);  /* 120 * 0.25 */
    int bad = 0;
    for (int j = 0; j < 32; j++) bad += y[j] != (float)(j * 8 - 128) * 0.25f;
    CHECK(bad == 0);
}

static void test_dequantize_q4_k(void) {
    /* Sub-block scales sc = {1,2,3,4,17,6,33,8} and mins m = {0,1,2,3,4,20,6,50}, packed by hand following
     * get_scale_min_k4: bytes 0-3 hold sc[0..3] plus the top 2 bits of sc[4..7]; bytes 4-7 hold m[0..3] plus
     * the top 2 bits of m[4..7]; bytes 8-11 hold the low nibbles of sc[4..7] (low) and m[4..7] (high). */
    static const int sc[8] = {1, 2, 3, 4, 17, 6, 33, 8};
    static const int mn[8] = {0, 1, 2, 3, 4, 20, 6, 50};
    static const uint8_t scales[12] = {0x41, 0x02, 0x83, 0x04, 0x00, 0x41, 0x02, 0xc3, 0x41, 0x46, 0x61, 0x28};
    uint8_t blk[144];
    put_u16(blk, 0x3c00);     /* d = 1 */
    put_u16(blk + 2, 0x3800); /* dmin = 0.5 */
    memcpy(blk + 4, scales, 12);
    for (int i = 0; i < 128; i++) blk[16 + i] = (uint8_t)((i & 15) | ((15 - (i & 15)) << 4));
    float y[256];
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q4_K, blk, sizeof blk, y, 256) == MLA4J_OK);
    CHECK(y[0] == 0.0f);            /* 1*1*0 - 0.5*0 */
    CHECK(y[33] == 2.0f * 14 - 0.5f); /* sub-block 1: high nibble 15-1 */
    CHECK(y[128 + 5] == 17.0f * 5 - 2.0f);  /* sub-block 4: sc 17, m 4 */
    CHECK(y[160 + 2] == 6.0f * 13 - 10.0f); /* sub-block 5: sc 6, m 20 */
    CHECK(y[255] == 8.0f * 0 - 25.0f);      /* sub-block 7: sc 8, m 50, quant 15-15 */
    int bad = 0;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = l & 15, hi = 15 - (l & 15);
            bad += y[64 * c + l] != (float)(sc[2 * c] * lo) - 0.5f * (float)mn[2 * c];
            bad += y[64 * c + 32 + l] != (float)(sc[2 * c + 1] * hi) - 0.5f * (float)mn[2 * c + 1];
        }
    CHECK(bad == 0);
}

static void test_dequantize_q6_k(void) {
    /* ql bytes 0x21 (low nibble 1, high nibble 2); qh bytes 0xe4 (2-bit fields 0,1,2,3 from the bottom).
     * So in each 128-element half the four 32-element quarters hold the 6-bit values
     * 1|0<<4 = 1, 1|1<<4 = 17, 2|2<<4 = 34, 2|3<<4 = 50, i.e. -31, -15, 2, 18 after subtracting 32. */
    static const int qv[4] = {-31, -15, 2, 18};
    uint8_t blk[210];
    memset(blk, 0x21, 128);
    memset(blk + 128, 0xe4, 64);
    int8_t sc[16];
    for (int i = 0; i < 16; i++) sc[i] = (int8_t)((i % 2 ? -1 : 1) * (i + 1));
    memcpy(blk + 192, sc, 16);
    put_u16(blk + 208, 0x3800); /* d = 0.5, stored last */
    float y[256];
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q6_K, blk, sizeof blk, y, 256) == MLA4J_OK);
    CHECK(y[0] == -15.5f);   /* 0.5 * sc[0]=1 * -31 */
    CHECK(y[40] == -22.5f);  /* quarter 1, l=8: 0.5 * sc[2]=3 * -15 */
    CHECK(y[127] == -72.0f); /* quarter 3, l=31: 0.5 * sc[7]=-8 * 18 */
    CHECK(y[200] == 13.0f);  /* second half, quarter 2, l=8: 0.5 * sc[12]=13 * 2 */
    int bad = 0;
    for (int e = 0; e < 256; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        bad += y[e] != 0.5f * (float)sc[8 * h + l / 16 + 2 * k] * (float)qv[k];
    }
    CHECK(bad == 0);
}

static void test_dequantize_float_types(void) {
    uint8_t f16[6];
    put_u16(f16, 0x3c00);
    put_u16(f16 + 2, 0xc000);
    put_u16(f16 + 4, 0x0001);
    float y[3];
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F16, f16, sizeof f16, y, 3) == MLA4J_OK);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0x1p-24f);
    uint8_t bf16[4];
    put_u16(bf16, 0x3f80);
    put_u16(bf16 + 2, 0xc040);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_BF16, bf16, sizeof bf16, y, 2) == MLA4J_OK);
    CHECK(y[0] == 1.0f && y[1] == -3.0f);
    const float f32[3] = {1.5f, -0.25f, 1e30f};
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F32, f32, sizeof f32, y, 3) == MLA4J_OK);
    CHECK(y[0] == 1.5f && y[1] == -0.25f && y[2] == 1e30f);
}

static void test_api_validation(void) {
    uint8_t buf[64] = {0};
    float y[64], out = 123.0f, x[64] = {0};
    CHECK(mla4j_type_dequantize(19 /* IQ1_S */, buf, sizeof buf, y, 32) == MLA4J_ERR_UNSUPPORTED);
    CHECK(strstr(mla4j_last_error(), "unsupported tensor type 19") != NULL);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q4_0, buf, sizeof buf, y, 33) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "not a multiple of the Q4_0 block size 32") != NULL);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q8_0, buf, 67, y, 64) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "need 68 bytes, the buffer has 67") != NULL);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q8_0, NULL, 68, y, 64) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F32, buf, sizeof buf, NULL, 4) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F32, buf, sizeof buf, y, 0) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F32, buf, sizeof buf, y, -4) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_Q4_K, buf, sizeof buf, y, 256) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "need 144 bytes") != NULL);
    CHECK(mla4j_type_dequantize(MLA4J_TYPE_F32, buf, SIZE_MAX, y, INT64_MAX) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "overflow") != NULL);
    CHECK(mla4j_type_dot(MLA4J_TYPE_Q4_0, buf, 18, x, 32, 7, &out) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mla4j_last_error(), "simd = 7") != NULL);
    CHECK(mla4j_type_dot(MLA4J_TYPE_Q4_0, buf, 17, x, 32, 0, &out) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dot(MLA4J_TYPE_Q4_0, buf, 18, NULL, 32, 0, &out) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dot(MLA4J_TYPE_Q4_0, buf, 18, x, 32, 0, NULL) == MLA4J_ERR_INVALID_ARGUMENT);
    CHECK(mla4j_type_dot(99, buf, 18, x, 32, 0, &out) == MLA4J_ERR_UNSUPPORTED);
    CHECK(out == 123.0f); /* outputs untouched on failure */
    CHECK(mla4j_type_dot(MLA4J_TYPE_Q4_0, buf, 18, x, 32, 0, &out) == MLA4J_OK);
    CHECK(out == 0.0f && mla4j_last_error()[0] == '\0');
}

/* ---- Q8_0 activations -------------------------------------------------------------------------------- */

static void test_quantize_act(void) {
    /* amax = 127 makes d = 1 and id = 1, so the quants are roundf(x): halves round away from zero. */
    float x[64] = {127.0f, -63.5f, 0.5f, -0.5f, 2.5f, 0.49f, -126.6f, 3.0f};
    for (int j = 32; j < 64; j++) x[j] = (j - 48) * 0.01f; /* second block: amax 0.15 */
    size_t sz = kern_act_size(MLA4J_TYPE_Q8_0, 64, 1);
    CHECK(sz % 64 == 0);
    void *act = aligned_alloc(64, sz);
    kern_act_convert(MLA4J_TYPE_Q8_0, x, 64, 0, 1, act);
    kern_q8_act a = kern_q8_act_of(act, 64, 0);
    CHECK(a.d[0] == 1.0f);
    CHECK(a.qs[0] == 127 && a.qs[1] == -64 && a.qs[2] == 1 && a.qs[3] == -1 && a.qs[4] == 3 && a.qs[5] == 0);
    CHECK(a.qs[6] == -127 && a.qs[7] == 3 && a.qs[8] == 0);
    CHECK(a.corr[0] == -128 * (127 - 64 + 1 - 1 + 3 + 0 - 127 + 3));
    /* block 2: d = 0.15/127 rounded to fp16; x = -0.16 is the largest magnitude: -127 */
    CHECK(a.d[1] == kern_fp16_to_fp32(kern_fp32_to_fp16(16 * 0.01f / 127.0f)));
    CHECK(a.qs[32] == -127 && a.qs[48] == 0 && a.qs[63] == 119); /* 15/16*127 = 119.06 */
    /* Q4_0 weights use offset 8 in the correction */
    kern_act_convert(MLA4J_TYPE_Q4_0, x, 64, 0, 1, act);
    CHECK(a.corr[0] == -8 * (127 - 64 + 1 - 1 + 3 + 0 - 127 + 3));
    free(act);

    /* an all-zero block: d = 0, quants 0 */
    float z[32] = {0};
    void *act0 = aligned_alloc(64, kern_act_size(MLA4J_TYPE_Q8_0, 32, 1));
    kern_act_convert(MLA4J_TYPE_Q8_0, z, 32, 0, 1, act0);
    kern_q8_act a0 = kern_q8_act_of(act0, 32, 0);
    CHECK(a0.d[0] == 0.0f && a0.qs[0] == 0 && a0.qs[31] == 0 && a0.corr[0] == 0);
    free(act0);

    /* every level writes identical bytes (the rounding is exact); ties included */
    int best = kern_cpu_best_simd();
    const int64_t cols = 1024;
    float *xs = malloc(sizeof(float) * cols);
    for (int64_t i = 0; i < cols; i++) xs[i] = rng_uniform(-2.0f, 2.0f) * (float)(1 + i / 256);
    for (int64_t i = 0; i < 32; i++) xs[i] = (float)(i - 16) * 0.5f + (i == 0 ? -127.0f : 0.0f); /* ties */
    for (int type = 0; type < 2; type++) {
        int32_t t = type ? MLA4J_TYPE_Q4_0 : MLA4J_TYPE_Q8_0;
        size_t n = kern_act_size(t, cols, 1);
        uint8_t *r = aligned_alloc(64, n), *s = aligned_alloc(64, n);
        memset(r, 0, n);
        kern_quantize_act_q8_ref(t, xs, cols, r);
#if MLA4J_ARM64
        if (best >= MLA4J_SIMD_NEON) {
            memset(s, 0, n);
            kern_quantize_act_q8_neon(t, xs, cols, s);
            CHECK(memcmp(r, s, n) == 0);
        }
#else
        if (best >= MLA4J_SIMD_AVX2) {
            memset(s, 0, n);
            kern_quantize_act_q8_avx2(t, xs, cols, s);
            CHECK(memcmp(r, s, n) == 0);
        }
        if (best >= MLA4J_SIMD_AVX512) {
            memset(s, 0, n);
            kern_quantize_act_q8_avx512(t, xs, cols, s);
            CHECK(memcmp(r, s, n) == 0);
        }
#endif
        free(r);
        free(s);
    }
    free(xs);
}

/* Q8_K activations (the K-quant types): every level writes the reference's bytes, which test_quants ties to
 * llama.cpp's quantize_row_q8_K through the dot products. Blocks: random; ties (max -127 makes the scale 1, so
 * x.5 rounds half to even); +m and -m (the first one's sign wins); NaNs (skipped); an infinity (zero block); zeros;
 * a maximum so small that -127/max overflows (the reference's infinity rules). */
static void test_quantize_act_q8k(void) {
    const int64_t nblk = 8, cols = nblk * QK_K;
    float *xs = malloc(sizeof(float) * cols);
    for (int64_t i = 0; i < cols; i++) xs[i] = rng_uniform(-2.0f, 2.0f) * (float)(1 + i / 256);
    float *b1 = xs + QK_K, *b2 = xs + 2 * QK_K, *b3 = xs + 3 * QK_K, *b4 = xs + 4 * QK_K, *b5 = xs + 5 * QK_K,
          *b6 = xs + 6 * QK_K;
    for (int j = 0; j < QK_K; j++) b1[j] = (float)(j % 200 - 100) + 0.5f;
    b1[7] = -127.0f;
    for (int j = 0; j < QK_K; j++) b2[j] *= 0.1f;
    b2[10] = 3.0f, b2[20] = -3.0f;
    for (int j = 0; j < QK_K; j++) b3[j] = 0.01f * (float)(j % 7);
    b3[0] = NAN, b3[100] = -NAN, b3[255] = 5.0f;
    b4[9] = INFINITY;
    for (int j = 0; j < QK_K; j++) b5[j] = 0.0f;
    for (int j = 0; j < QK_K; j++) b6[j] = (j % 3 - 1) * 1e-38f;
    const int best = kern_cpu_best_simd();
    block_q8_K *r = malloc(sizeof(block_q8_K) * nblk), *got = malloc(sizeof(block_q8_K) * nblk);
    kern_quantize_act_q8k_ref(xs, cols, r);
    CHECK(r[1].d == 1.0f && r[1].qs[7] == -127 && r[1].qs[0] == -100 && r[1].qs[1] == -98); /* -99.5, -98.5: to even */
    CHECK(r[2].d < 0.0f && r[2].qs[10] == -127 && r[2].qs[20] == 127);
    CHECK(r[3].qs[0] == 0 && r[3].qs[100] == 0 && r[3].qs[255] == -127);
    CHECK(r[4].d == 0.0f && r[4].qs[0] == 0 && r[5].d == 0.0f);
    int16_t sum = 0;
    for (int j = 0; j < 16; j++) sum = (int16_t)(sum + r[0].qs[16 + j]);
    CHECK(r[0].bsums[1] == sum);
#if MLA4J_X86
    for (int level = MLA4J_SIMD_AVX2; level <= best; level++) {
        memset(got, 0x5a, sizeof(block_q8_K) * nblk);
        if (level == MLA4J_SIMD_AVX2) kern_quantize_act_q8k_avx2(xs, cols, got);
        else kern_quantize_act_q8k_avx512(xs, cols, got);
        for (int64_t b = 0; b < nblk; b++)
            CHECK_MSG(memcmp(&r[b], &got[b], sizeof r[b]) == 0, "Q8_K level %d block %lld differs", level, (long long)b);
    }
#else
    if (best >= MLA4J_SIMD_NEON) { /* one NEON version serves the three ARM levels */
        memset(got, 0x5a, sizeof(block_q8_K) * nblk);
        kern_quantize_act_q8k_neon(xs, cols, got);
        for (int64_t b = 0; b < nblk; b++)
            CHECK_MSG(memcmp(&r[b], &got[b], sizeof r[b]) == 0, "Q8_K neon block %lld differs", (long long)b);
    }
#endif
    free(r);
    free(got);
    free(xs);
}

/* ---- every level against the reference --------------------------------------------------------------- */

static void fill_weights(int32_t type, uint8_t *data, int64_t rows, int64_t cols) {
    const kern_type_traits *tr = kern_type_traits_of(type);
    int64_t nblocks = rows * cols / tr->block_size;
    for (int64_t i = 0; i < nblocks * tr->type_size; i++) data[i] = (uint8_t)rng_u32();
    for (int64_t b = 0; b < nblocks; b++) {
        uint8_t *blk = data + b * tr->type_size;
        switch (type) {
        case MLA4J_TYPE_F32: {
            float v = rng_uniform(-1.0f, 1.0f);
            memcpy(blk, &v, 4);
            break;
        }
        case MLA4J_TYPE_F16: put_u16(blk, kern_fp32_to_fp16(rng_uniform(-1.0f, 1.0f))); break;
        case MLA4J_TYPE_BF16: put_u16(blk, kern_fp32_to_bf16(rng_uniform(-1.0f, 1.0f))); break;
        case MLA4J_TYPE_Q4_0:
        case MLA4J_TYPE_Q8_0: put_u16(blk, kern_fp32_to_fp16(rng_uniform(0.001f, 0.05f))); break;
        case MLA4J_TYPE_Q4_K:
            put_u16(blk, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f)));
            put_u16(blk + 2, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f)));
            break;
        case MLA4J_TYPE_Q6_K: put_u16(blk + 208, kern_fp32_to_fp16(rng_uniform(0.0001f, 0.001f))); break;
        case MLA4J_TYPE_Q5_0:
        case MLA4J_TYPE_IQ4_NL:
        case MLA4J_TYPE_IQ4_XS: put_u16(blk, kern_fp32_to_fp16(rng_uniform(0.001f, 0.05f))); break;
        case MLA4J_TYPE_Q4_1:
        case MLA4J_TYPE_Q5_1:
        case MLA4J_TYPE_Q5_K: /* a scale and a (negative, as llama.cpp writes them) minimum */
            put_u16(blk, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f)));
            put_u16(blk + 2, kern_fp32_to_fp16(rng_uniform(type == MLA4J_TYPE_Q5_K ? 0.001f : -0.1f, 0.01f)));
            break;
        case MLA4J_TYPE_Q2_K:
            put_u16(blk + 80, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f)));
            put_u16(blk + 82, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f)));
            break;
        case MLA4J_TYPE_Q3_K: put_u16(blk + 108, kern_fp32_to_fp16(rng_uniform(0.001f, 0.01f))); break;
        default: break;
        }
    }
}

typedef void (*matmul_fn)(const kern_matrix *, const void *, int64_t, float *, int64_t, int64_t, int64_t);
#if MLA4J_X86
static void mm_avx512_bw(const kern_matrix *w, const void *a, int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    kern_matmul_avx512(0, w, a, n, y, ldy, r0, r1);
}
static void mm_avx512_vnni(const kern_matrix *w, const void *a, int64_t n, float *y, int64_t ldy, int64_t r0,
                           int64_t r1) {
    kern_matmul_avx512(1, w, a, n, y, ldy, r0, r1);
}
#else
static void mm_neon(const kern_matrix *w, const void *a, int64_t n, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    kern_matmul_neon(MLA4J_SIMD_NEON, w, a, n, y, ldy, r0, r1);
}
static void mm_neon_dotprod(const kern_matrix *w, const void *a, int64_t n, float *y, int64_t ldy, int64_t r0,
                            int64_t r1) {
    kern_matmul_neon(MLA4J_SIMD_NEON_DOTPROD, w, a, n, y, ldy, r0, r1);
}
static void mm_neon_i8mm(const kern_matrix *w, const void *a, int64_t n, float *y, int64_t ldy, int64_t r0,
                         int64_t r1) {
    kern_matmul_neon(MLA4J_SIMD_NEON_I8MM, w, a, n, y, ldy, r0, r1);
}
#endif

/* The sum of |w_i * a_i| of one output: the scale of its rounding error. */
static double l1_scale(const kern_matrix *w, const void *act, int64_t r, int64_t t) {
    float *wr = malloc(sizeof(float) * w->cols);
    kern_dequantize_row(w->type, (const uint8_t *)w->data + r * w->row_bytes, wr, w->cols);
    double s = 0;
    if (kern_act_is_q8(w->type)) {
        kern_q8_act a = kern_q8_act_of(act, w->cols, t);
        for (int64_t i = 0; i < w->cols; i++) s += fabs((double)wr[i] * a.qs[i] * a.d[i / 32]);
    } else if (kern_act_is_q8k(w->type)) {
        const block_q8_K *a = (const block_q8_K *)((const uint8_t *)act + t * kern_act_stride(w->type, w->cols));
        for (int64_t i = 0; i < w->cols; i++) s += fabs((double)wr[i] * a[i / QK_K].qs[i % QK_K] * a[i / QK_K].d);
    } else {
        const float *a = (const float *)((const uint8_t *)act + t * kern_act_stride(w->type, w->cols));
        for (int64_t i = 0; i < w->cols; i++) s += fabs((double)wr[i] * a[i]);
    }
    free(wr);
    return s;
}

static void test_levels(void) {
#if MLA4J_X86
    int best = kern_cpu_best_simd();
#endif
    struct {
        const char *name;
        matmul_fn fn;
        int available;
    } levels[] = {
#if MLA4J_X86
        {"avx2", kern_matmul_avx2, best >= MLA4J_SIMD_AVX2},
        {"avx512bw", mm_avx512_bw, best >= MLA4J_SIMD_AVX512},
        {"avx512vnni", mm_avx512_vnni, best >= MLA4J_SIMD_AVX512 && kern_cpu_has_avx512vnni()},
#else
        {"neon", mm_neon, kern_simd_available(MLA4J_SIMD_NEON)},
        {"neon-dotprod", mm_neon_dotprod, kern_simd_available(MLA4J_SIMD_NEON_DOTPROD)},
        {"neon-i8mm", mm_neon_i8mm, kern_simd_available(MLA4J_SIMD_NEON_I8MM)},
#endif
    };
    const int32_t types[] = {MLA4J_TYPE_F32,  MLA4J_TYPE_F16,  MLA4J_TYPE_BF16,   MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q8_0,
                             MLA4J_TYPE_Q4_K, MLA4J_TYPE_Q6_K, MLA4J_TYPE_Q4_1,   MLA4J_TYPE_Q5_0, MLA4J_TYPE_Q5_1,
                             MLA4J_TYPE_IQ4_NL, MLA4J_TYPE_Q2_K, MLA4J_TYPE_Q3_K, MLA4J_TYPE_Q5_K, MLA4J_TYPE_IQ4_XS};
    const int64_t ntoks[] = {1, 3, 8, 9, 17, 64}; /* 3 and 8: the few-token path (KERN_FEW_TOKENS), 9 on: the GEMM */
    const int64_t rows = 37, r0 = 2, r1 = 37, ldy = 41; /* 35 rows: odd tails of 4- and 2-row tiles */
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int32_t type = types[ti];
        const kern_type_traits *tr = kern_type_traits_of(type);
        int64_t cols = tr->block_size == 256 ? 768 : 352; /* odd block counts: 11 x 32, 3 x 256 */
        kern_matrix w = {type, cols, rows, (size_t)(cols / tr->block_size * tr->type_size), NULL};
        uint8_t *wdata = malloc(w.row_bytes * rows);
        fill_weights(type, wdata, rows, cols);
        w.data = wdata;
        for (size_t ni = 0; ni < sizeof ntoks / sizeof ntoks[0]; ni++) {
            int64_t n_tok = ntoks[ni];
            float *x = malloc(sizeof(float) * cols * n_tok);
            for (int64_t i = 0; i < cols * n_tok; i++) x[i] = rng_uniform(-1.0f, 1.0f) * (1.0f + (float)(i % 97) / 10);
            void *act = aligned_alloc(64, kern_act_size(type, cols, n_tok));
            kern_act_convert(type, x, cols, 0, n_tok, act);
            float *yref = malloc(sizeof(float) * ldy * n_tok), *y = malloc(sizeof(float) * ldy * n_tok);
            for (int64_t i = 0; i < ldy * n_tok; i++) yref[i] = -7.0f;
            kern_matmul_ref(&w, act, n_tok, yref, ldy, r0, r1);
            for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
                if (!levels[li].available) continue;
                for (int64_t i = 0; i < ldy * n_tok; i++) y[i] = -7.0f;
                levels[li].fn(&w, act, n_tok, y, ldy, r0, r1);
                int bad = 0, untouched_bad = 0;
                for (int64_t t = 0; t < n_tok; t++)
                    for (int64_t r = 0; r < ldy; r++) {
                        float a = y[t * ldy + r], b = yref[t * ldy + r];
                        if (r < r0 || r >= r1) {
                            untouched_bad += a != -7.0f;
                            continue;
                        }
                        double tol = 1e-5 * fmax(1.0, l1_scale(&w, act, r, t));
                        /* The NEON int8 kernels add the exact block totals in the reference's order: same bits. */
                        if (MLA4J_ARM64 && (kern_act_is_q8(type) || kern_act_is_q8k(type))) tol = 0;
                        if (!(fabs((double)a - b) <= tol)) {
                            if (bad++ < 3)
                                fprintf(stderr, "%s %s n_tok=%lld t=%lld r=%lld: %.9g vs ref %.9g\n", levels[li].name,
                                        tr->name, (long long)n_tok, (long long)t, (long long)r, a, b);
                        }
                    }
                CHECK_MSG(bad == 0 && untouched_bad == 0, "%s %s n_tok=%lld: %d wrong, %d written outside", levels[li].name,
                          tr->name, (long long)n_tok, bad, untouched_bad);
            }
            free(x);
            free(act);
            free(yref);
            free(y);
        }
        free(wdata);
    }
}

/* One-hot activations pick single weights: every level's decoding of the float-activation types must give the
 * reference's floats exactly (a sum of one product w*1 and zeros is exact). */
static void test_decode_exact(void) {
    const int32_t types[] = {MLA4J_TYPE_F32, MLA4J_TYPE_F16, MLA4J_TYPE_BF16};
    const int64_t rows = 5, cols = 1536, n_tok = 6; /* 1536: a 1024 chunk and a 512 tail */
    const int64_t pos[6] = {0, 1, 255, 256, 1100, 1535};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const kern_type_traits *tr = kern_type_traits_of(types[ti]);
        kern_matrix w = {types[ti], cols, rows, (size_t)(cols / tr->block_size * tr->type_size), NULL};
        uint8_t *data = malloc(w.row_bytes * rows);
        fill_weights(w.type, data, rows, cols);
        w.data = data;
        float *x = calloc((size_t)(cols * n_tok), sizeof(float));
        for (int64_t t = 0; t < n_tok; t++) x[t * cols + pos[t]] = 1.0f;
        void *act = aligned_alloc(64, kern_act_size(w.type, cols, n_tok));
        kern_act_convert(w.type, x, cols, 0, n_tok, act);
        float *wf = malloc(sizeof(float) * cols * rows), *y = malloc(sizeof(float) * rows * n_tok);
        for (int64_t r = 0; r < rows; r++) kern_dequantize_row(w.type, data + r * w.row_bytes, wf + r * cols, cols);
        for (int simd = MLA4J_SIMD_SCALAR; simd <= MLA4J_SIMD_NEON_I8MM; simd++) {
            if (!kern_simd_available(simd)) continue;
            kern_matmul(simd, &w, act, n_tok, y, rows, 0, rows);
            int bad = 0;
            for (int64_t t = 0; t < n_tok; t++)
                for (int64_t r = 0; r < rows; r++) bad += y[t * rows + r] != wf[r * cols + pos[t]];
            CHECK_MSG(bad == 0, "%s simd %d: %d decoded weights differ", tr->name, simd, bad);
        }
        free(data);
        free(x);
        free(act);
        free(wf);
        free(y);
    }
}

/* The quantized dot (Q8_0 activations) against the exact dot of the dequantized row with the float x.
 * Per element the activation error is at most d/2 from rounding plus |q|*|d - fp16(d)| <= 127*d*2^-11 from the
 * fp16 scale, with d = amax/127: so |error| <= sum over blocks of amax*(1/254 + 1/2048) * sum|w| (plus float
 * summation error). The float types must match the exact dot up to summation error. */
static void test_quantized_dot_error(void) {
    const int32_t types[] = {MLA4J_TYPE_Q4_0, MLA4J_TYPE_Q8_0, MLA4J_TYPE_Q4_K,   MLA4J_TYPE_Q6_K, MLA4J_TYPE_F16,
                             MLA4J_TYPE_BF16, MLA4J_TYPE_F32,  MLA4J_TYPE_Q4_1,   MLA4J_TYPE_Q5_0, MLA4J_TYPE_Q5_1,
                             MLA4J_TYPE_IQ4_NL, MLA4J_TYPE_Q2_K, MLA4J_TYPE_Q3_K, MLA4J_TYPE_Q5_K, MLA4J_TYPE_IQ4_XS};
    const int64_t n = 1024;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int32_t type = types[ti];
        const kern_type_traits *tr = kern_type_traits_of(type);
        size_t row_bytes = (size_t)(n / tr->block_size * tr->type_size);
        uint8_t *row = malloc(row_bytes);
        fill_weights(type, row, 1, n);
        float *wf = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n);
        CHECK(mla4j_type_dequantize(type, row, row_bytes, wf, n) == MLA4J_OK);
        for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-3.0f, 3.0f);
        double exact = 0, l1 = 0, bound = 0;
        for (int64_t b = 0; b < n / 32; b++) {
            double amax = 0, wsum = 0;
            for (int64_t i = b * 32; i < b * 32 + 32; i++) {
                exact += (double)wf[i] * x[i];
                l1 += fabs((double)wf[i] * x[i]);
                amax = fmax(amax, fabs(x[i]));
                wsum += fabs(wf[i]);
            }
            bound += amax * (1.0 / 254 + 1.0 / 2048) * wsum;
        }
        if (kern_act_is_q8k(type)) { /* Q8_K: one float scale amax/127 per 256 elements, not rounded to fp16 */
            bound = 0;
            for (int64_t b = 0; b < n / QK_K; b++) {
                double amax = 0, wsum = 0;
                for (int64_t i = b * QK_K; i < (b + 1) * QK_K; i++) {
                    amax = fmax(amax, fabs(x[i]));
                    wsum += fabs(wf[i]);
                }
                bound += amax / 254 * wsum;
            }
        } else if (!kern_act_is_q8(type)) {
            bound = 0;
        }
        bound += 1e-5 * fmax(1.0, l1);
        for (int simd = MLA4J_SIMD_SCALAR; simd <= MLA4J_SIMD_NEON_I8MM; simd++) {
            if (!kern_simd_available(simd)) continue;
            float got = 0;
            CHECK(mla4j_type_dot(type, row, row_bytes, x, n, simd, &got) == MLA4J_OK);
            CHECK_MSG(fabs(got - exact) <= bound, "%s simd %d: %.7g vs exact %.7g (bound %.3g)", tr->name, simd, got,
                      exact, bound);
        }
        free(row);
        free(wf);
        free(x);
    }
}

static void test_vector_helpers(void) {
    for (int64_t n = 1; n <= 131; n += 13) {
        float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
        uint16_t *h = malloc(sizeof(uint16_t) * n);
        float *yr = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
        double l1f = 0, l1h = 0;
        for (int64_t i = 0; i < n; i++) {
            a[i] = rng_uniform(-1, 1);
            b[i] = rng_uniform(-1, 1);
            h[i] = kern_fp32_to_fp16(rng_uniform(-1, 1));
            l1f += fabs((double)a[i] * b[i]);
            l1h += fabs((double)kern_fp16_to_fp32(h[i]) * b[i]);
        }
        float dref = kern_dot_f32_ref(a, b, n), dhref = kern_dot_f16_ref(h, b, n);
        for (int simd = MLA4J_SIMD_AVX2; simd <= MLA4J_SIMD_NEON_I8MM; simd++) {
            if (!kern_simd_available(simd)) continue;
            CHECK(fabs(kern_dot_f32(simd, a, b, n) - dref) <= 1e-5 * fmax(1, l1f));
            CHECK(fabs(kern_dot_f16(simd, h, b, n) - dhref) <= 1e-5 * fmax(1, l1h));
            memcpy(yr, b, sizeof(float) * n);
            memcpy(y, b, sizeof(float) * n);
            kern_axpy_f32_ref(0.75f, a, yr, n);
            kern_axpy_f32(simd, 0.75f, a, y, n);
            int bad = 0;
            for (int64_t i = 0; i < n; i++) bad += fabsf(y[i] - yr[i]) > 1e-6f;
            memcpy(yr, b, sizeof(float) * n);
            memcpy(y, b, sizeof(float) * n);
            kern_axpy_f16_ref(-1.25f, h, yr, n);
            kern_axpy_f16(simd, -1.25f, h, y, n);
            for (int64_t i = 0; i < n; i++) bad += fabsf(y[i] - yr[i]) > 1e-6f;
            CHECK_MSG(bad == 0, "axpy simd %d n %lld", simd, (long long)n);
        }
        /* a known value: (0.5, 0.5, ...) . (2, 2, ...) = n */
        for (int64_t i = 0; i < n; i++) {
            a[i] = 0.5f;
            b[i] = 2.0f;
            h[i] = 0x3800;
        }
        for (int simd = MLA4J_SIMD_SCALAR; simd <= MLA4J_SIMD_NEON_I8MM; simd++) {
            if (!kern_simd_available(simd)) continue;
            CHECK(kern_dot_f32(simd, a, b, n) == (float)n);
            CHECK(kern_dot_f16(simd, h, b, n) == (float)n);
        }
        free(a);
        free(b);
        free(h);
        free(yr);
        free(y);
    }
}

static void test_simd_levels(void) {
    int best = kern_cpu_best_simd();
    CHECK(mla4j_simd_best() == best);
    CHECK(kern_simd_available(best) && kern_simd_available(MLA4J_SIMD_SCALAR) && !kern_simd_available(MLA4J_SIMD_AUTO));
    CHECK(kern_resolve_simd(MLA4J_SIMD_AUTO) == best);
    CHECK(kern_resolve_simd(MLA4J_SIMD_SCALAR) == MLA4J_SIMD_SCALAR);
    CHECK(kern_resolve_simd(42) == best);
    const char *f = mla4j_cpu_features();
    CHECK(f != NULL);
#if MLA4J_X86
    CHECK(best >= MLA4J_SIMD_SCALAR && best <= MLA4J_SIMD_AVX512);
    CHECK(kern_resolve_simd(MLA4J_SIMD_AVX512) == best);         /* clamped to what the CPU has */
    CHECK(kern_resolve_simd(MLA4J_SIMD_NEON_DOTPROD) == best);   /* another family's level: AUTO */
    CHECK(!kern_simd_available(MLA4J_SIMD_NEON));
    /* what the compiler's own CPUID check says must agree */
    CHECK((strstr(f, "avx2") != NULL) == (__builtin_cpu_supports("avx2") != 0));
    CHECK((strstr(f, "avx512bw") != NULL) == (__builtin_cpu_supports("avx512bw") != 0));
    CHECK((strstr(f, "avx512vnni") != NULL) == (__builtin_cpu_supports("avx512vnni") != 0));
    CHECK(kern_cpu_has_avx512vnni() == (__builtin_cpu_supports("avx512vnni") != 0));
#else
    CHECK(best >= MLA4J_SIMD_NEON && best <= MLA4J_SIMD_NEON_I8MM);
    CHECK(kern_resolve_simd(MLA4J_SIMD_NEON_I8MM) == best);      /* clamped to what the CPU has */
    CHECK(kern_resolve_simd(MLA4J_SIMD_NEON) == MLA4J_SIMD_NEON);
    CHECK(kern_resolve_simd(MLA4J_SIMD_AVX2) == best);           /* another family's level: AUTO */
    CHECK(!kern_simd_available(MLA4J_SIMD_AVX2) && !kern_cpu_has_avx512vnni());
    CHECK((strstr(f, "dotprod") != NULL) == (best >= MLA4J_SIMD_NEON_DOTPROD));
#endif
    /* The emulated CPU models of native/tests/qemu-aarch64.sh each name the level they must be detected as. */
    const char *want = getenv("MLA4J_TEST_EXPECT_SIMD");
    if (want != NULL && *want != '\0') {
        CHECK_MSG(strcmp(want, kern_simd_name(best)) == 0, "expected level %s, detected %s (features: %s)", want,
                  kern_simd_name(best), f);
    }
    printf("cpu: best simd %d (%s), features: %s\n", best, kern_simd_name(best), f);
}

#if MLA4J_X86
/* Random Q8_0 rows of `cols` values at an odd offset and stride (freed with free(*base)). */
static kern_matrix random_q8_rows(int64_t cols, int64_t rows, size_t pad, uint8_t **base) {
    const size_t row_bytes = (size_t)(cols / 32) * sizeof(block_q8_0) + pad;
    uint8_t *data = malloc(row_bytes * (size_t)rows + 1);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t blk = 0; blk < cols / 32; blk++) {
            uint8_t *p = data + 1 + (size_t)r * row_bytes + (size_t)blk * sizeof(block_q8_0);
            const uint16_t d = kern_fp32_to_fp16((float)(rand() % 1000 + 1) * 1e-4f);
            memcpy(p, &d, 2);
            for (int i = 0; i < 32; i++) p[2 + i] = (uint8_t)(rand() % 255 - 127);
        }
    }
    *base = data;
    return (kern_matrix){MLA4J_TYPE_Q8_0, cols, rows, row_bytes, data + 1};
}
#endif

/* The AVX2 panel repacking of 8 Q8_0 rows and the AVX-512 one of 16 (signed and offset) give the reference's bytes
 * (rows at an odd offset and stride, several blocks, starting past the first). */
static void test_repack_panels(void) {
#if !MLA4J_X86
    printf("SKIPPED: x86 panel repacking (not x86-64)\n");
#else
    uint8_t *base;
    if (kern_cpu_best_simd() < MLA4J_SIMD_AVX2) {
        printf("SKIPPED: AVX2 panel repacking (no AVX2)\n");
    } else {
        const kern_matrix w = random_q8_rows(5 * 32, 11, 3, &base);
        uint8_t a[4 * 8 * 36], b[4 * 8 * 36];
        kern_repack_q8_panel8_avx2(&w, 2, 1, 4, a);
        kern_repack_q8_panel(&w, 2, 8, 8, 1, 4, 1, b);
        CHECK(memcmp(a, b, sizeof a) == 0);
        free(base);
    }
    if (kern_cpu_best_simd() < MLA4J_SIMD_AVX512) {
        printf("SKIPPED: AVX-512 panel repacking (no AVX-512)\n");
    } else {
        const kern_matrix w = random_q8_rows(6 * 32, 19, 5, &base);
        uint8_t a[5 * 16 * 36], b[5 * 16 * 36];
        for (int q8_signed = 0; q8_signed <= 1; q8_signed++) {
            kern_repack_q8_panel16_avx512(&w, 3, 1, 5, q8_signed, a);
            kern_repack_q8_panel(&w, 3, 16, 16, 1, 5, q8_signed, b);
            CHECK_MSG(memcmp(a, b, sizeof a) == 0, "16-row panel differs (signed %d)", q8_signed);
        }
        free(base);
    }
#endif
}

int main(void) {
    test_fp16();
    test_fp16_vs_hardware();
    test_bf16();
    test_type_traits();
    test_dequantize_q4_0();
    test_dequantize_q8_0();
    test_dequantize_q4_k();
    test_dequantize_q6_k();
    test_dequantize_float_types();
    test_api_validation();
    test_quantize_act();
    test_quantize_act_q8k();
    test_simd_levels();
    test_levels();
    test_decode_exact();
    test_quantized_dot_error();
    test_vector_helpers();
    test_repack_panels();
    return check_summary("test_kernels");
}
