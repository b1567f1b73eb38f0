package org.mla4j;

/** Which implementation of the native compute kernels a session uses (mla4j_simd). */
public enum Simd {
    /** The best the CPU supports. */
    AUTO(0),
    /** Plain C reference kernels. */
    SCALAR(1),
    AVX2(2),
    AVX512(3);

    private final int id;

    Simd(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    public static Simd fromId(int id) {
        for (Simd s : values()) {
            if (s.id == id) return s;
        }
        throw new IllegalArgumentException("unknown simd level " + id);
    }
}
