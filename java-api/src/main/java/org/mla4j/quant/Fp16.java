package org.mla4j.quant;

/** IEEE binary16 conversions as ggml does them (ggml-impl.h ggml_compute_fp32_to_fp16). */
public final class Fp16 {
    private Fp16() {
    }

    /**
     * Rounds to the nearest binary16, ties to even, with subnormals, overflow to infinity, and every NaN turned
     * into the quiet NaN 0x7E00 with its sign (ggml drops the payload; the JDK would keep part of it).
     *
     * @param f the float
     * @return the binary16 bits
     */
    public static short fromFloat(float f) {
        if (Float.isNaN(f)) {
            return (short) ((Float.floatToRawIntBits(f) >>> 16 & 0x8000) | 0x7E00);
        }
        return Float.floatToFloat16(f);
    }

    /**
     * {@return the float a binary16 stands for (exact)}
     *
     * @param h the binary16 bits
     */
    public static float toFloat(short h) {
        return Float.float16ToFloat(h);
    }
}
