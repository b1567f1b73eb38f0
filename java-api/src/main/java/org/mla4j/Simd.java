package org.mla4j;

/** Which implementation of the native compute kernels a session uses (mla4j_simd). */
public enum Simd {
    /** The best the CPU supports. */
    AUTO(0),
    /** Plain C reference kernels. */
    SCALAR(1),
    /** AVX2 + FMA + F16C kernels. */
    AVX2(2),
    /** AVX-512 kernels (with VNNI and BF16 where the CPU has them). */
    AVX512(3);

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
