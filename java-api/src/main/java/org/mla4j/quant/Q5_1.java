package org.mla4j.quant;

import java.nio.ByteBuffer;

/**
 * Q5_1 blocks (32 elements: f16 d, f16 m, u32 qh, u8 qs[16]; value = d * q + m, bits laid out as in Q5_0) with
 * llama.cpp's quantize_row_q5_1_ref (what quantize_q5_1 calls without an importance matrix).
 */
public final class Q5_1 {
    /** Values per block. */
    public static final int BLOCK = 32;

    private Q5_1() {
    }

    /**
     * Quantizes x[off, off+32) into 24 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 24 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[off + j];
            if (v < min) min = v;
            if (v > max) max = v;
        }
        float d = (max - min) / ((1 << 5) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.putShort(Fp16.fromFloat(d));
        dst.putShort(Fp16.fromFloat(min));
        int qh = 0;
        byte[] qs = new byte[BLOCK / 2];
        for (int j = 0; j < BLOCK / 2; j++) {
            float x0 = (x[off + j] - min) * id;
            float x1 = (x[off + BLOCK / 2 + j] - min) * id;
            int q0 = (int) (x0 + 0.5f) & 0xFF; // (uint8_t) truncation, as in C
            int q1 = (int) (x1 + 0.5f) & 0xFF;
            qs[j] = (byte) ((q0 & 0x0F) | (q1 & 0x0F) << 4);
            qh |= (q0 >> 4 & 1) << j;
            qh |= (q1 >> 4 & 1) << (j + BLOCK / 2);
        }
        dst.putInt(qh);
        dst.put(qs);
    }
}
