package org.mla4j.quant;

import java.nio.ByteBuffer;

/**
 * Q4_0 blocks (32 elements: f16 d, u8 qs[16]; element j in the low nibble of qs[j], element j+16 in the high one)
 * with llama.cpp's reference quantizer quantize_row_q4_0_ref.
 */
public final class Q4_0 {
    /** Values per block. */
    public static final int BLOCK = 32;
    /** Bytes per block: an F16 scale and the quantized values. */
    public static final int BLOCK_BYTES
 = 18;

    private Q4_0() {
    }

    /**
     * Quantizes x[off, off+32) into 18 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 18 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        // max is the signed value of largest magnitude (the first one on ties), so it maps exactly to q = 0 (-8*d)
        float amax = 0;
        float max = 0;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.putShort(Fp16.fromFloat(d));
        for (int j = 0; j < BLOCK / 2; j++) {
            // (int8_t)(x*id + 8.5f) truncates a value in [0.5, 16.5]; 16 is clamped to 15
            int q0 = Math.min(15, (int) (x[off + j] * id + 8.5f));
            int q1 = Math.min(15, (int) (x[off + j + BLOCK / 2] * id + 8.5f));
            dst.put((byte) (q0 | q1 << 4));
        }
    }
}
