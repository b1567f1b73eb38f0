package org.mla4j.quant;

import java.nio.ByteBuffer;

/**
 * Q4_1 blocks (32 elements: f16 d, f16 m, u8 qs[16]; value = d * q + m, element j in the low nibble of qs[j],
 * element j+16 in the high one) with llama.cpp's quantize_row_q4_1_ref (what quantize_q4_1 calls without an
 * importance matrix).
 */
public final class Q4_1 {
    /** Values per block. */
    public static final int BLOCK = 32;

    private Q4_1() {
    }

    /**
     * Quantizes x[off, off+32) into 20 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 20 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[off + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / ((1 << 4) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.putShort(Fp16.fromFloat(d));
        dst.putShort(Fp16.fromFloat(min));
        for (int j = 0; j < BLOCK / 2; j++) {
            float x0 = (x[off + j] - min) * id;
            float x1 = (x[off + BLOCK / 2 + j] - min) * id;
            int q0 = Math.min(15, (byte) (int) (x0 + 0.5f)); // (int8_t) truncation, as in C
            int q1 = Math.min(15, (byte) (int) (x1 + 0.5f));
            dst.put((byte) (q0 | q1 << 4));
        }
    }
}
