package org.mla4j;

/**
 * Which implementation of the native compute kernels a session uses (mla4j_simd). A level above what the CPU has is
 * lowered to the best it has; a level of the other processor family (AVX2 on ARM64, NEON on x86-64) means AUTO.
 */
public enum Simd {
    /** The best the CPU supports. */
    AUTO(0),
    /** Plain C reference kernels. */
    SCALAR(1),
    /** x86-64: AVX2 + FMA + F16C. */
    AVX2(2),
    /** x86-64: AVX-512 F/BW/VL/DQ (+VNNI, +BF16 where present). */
    AVX512(3),
    /** ARM64: Advanced SIMD, every ARMv8-A CPU. */
    NEON(4),
    /** ARM64: NEON + SDOT (FEAT_DotProd). */
    NEON_DOTPROD(5),
    /** ARM64: NEON + SDOT + SMMLA (FEAT_I8MM). */
    NEON_I8MM(6);

    private final int id;

    Simd(int id) {
        this.id = id;
    }

    /** {@return the mla4j_simd value} */
    public int id() {
        return id;
    }

    /**
     * The level of an mla4j_simd value.
     *
     * @param id the mla4j_simd value
     * @return the level
     * @throws IllegalArgumentException when no level has that value
     */
    public static Simd fromId(int id) {
        for (Simd s : values()) {
            if (s.id == id) return s;
        }
        throw new IllegalArgumentException("unknown simd level " + id);
    }
}
