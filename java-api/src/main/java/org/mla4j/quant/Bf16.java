package org.mla4j.quant;

/** bfloat16 conversions as ggml does them (ggml-impl.h ggml_compute_fp32_to_bf16). */
public final class Bf16 {
    private Bf16() {
    }

    /**
     * {@return the upper 16 bits of the float rounded to nearest, ties to even; a NaN keeps its top bits and is made quiet}
     *
     * @param f the float
     */
    public static short fromFloat(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16);
    }

    /**
     * {@return the float a bfloat16 stands for (exact)}
     *
     * @param h the bfloat16 bits
     */
    public static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }
}
