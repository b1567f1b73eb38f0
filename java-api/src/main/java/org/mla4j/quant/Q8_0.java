package org.mla4j.quant;

import java.nio.ByteBuffer;

/**
 * Q8_0 blocks (32 elements: f16 d, i8 qs[32]) with llama.cpp's reference quantizer quantize_row_q8_0_ref:
 * d = amax/127, q = roundf(x/d) (ties away from zero).
 */
public final class Q8_0 {
    /** Values per block. */
    public static final int BLOCK = 32;
    /** Bytes per block: an F16 scale and the quantized values. */
    public static final int BLOCK_BYTES
 = 34;

    private Q8_0() {
    }

    /**
     * Quantizes x[off, off+32) into 34 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 34 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        float amax = 0;
        for (int j = 0; j < BLOCK; j++) {
            float a = Math.abs(x[off + j]);
            amax = amax > a ? amax : a; // ggml's MAX macro
        }
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.putShort(Fp16.fromFloat(d));
        for (int j = 0; j < BLOCK; j++) {
            dst.put((byte) roundf(x[off + j] * id));
        }
    }

    /**
     * C's roundf: halfway cases away from zero (Math.round rounds them up, Math.rint to even). Adding 0.5 in
     * double is exact for every float, so values just below one half are not pushed over it.
     */
    static int roundf(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }
}
