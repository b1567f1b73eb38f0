package org.mla4j.quant;

import java.nio.ByteBuffer;

/**
 * Q5_0 blocks (32 elements: f16 d, u32 qh, u8 qs[16]; value = d * (q - 16), the low 4 bits as in Q4_0, bit 4 of
 * element j in bit j of qh) with llama.cpp's quantize_row_q5_0_ref (what quantize_q5_0 calls without an importance
 * matrix).
 */
public final class Q5_0 {
    /** Values per block. */
    public static final int BLOCK = 32;

    private Q5_0() {
    }

    /**
     * Quantizes x[off, off+32) into 22 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 22 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        // max is the signed value of largest magnitude (the first one on ties), so it maps exactly to q = 0
        float amax = 0;
        float max = 0;
        for (int j = 0; j < BLOCK; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        dst.putShort(Fp16.fromFloat(d));
        int qh = 0;
        byte[] qs = new byte[BLOCK / 2];
        for (int j = 0; j < BLOCK / 2; j++) {
            // (int8_t)(x*id + 16.5f) truncates a value in [0.5, 32.5]; 32 is clamped to 31
            int q0 = Math.min(31, (int) (x[off + j] * id + 16.5f));
            int q1 = Math.min(31, (int) (x[off + BLOCK / 2 + j] * id + 16.5f));
            qs[j] = (byte) ((q0 & 0x0F) | (q1 & 0x0F) << 4);
            qh |= (q0 >> 4 & 1) << j;
            qh |= (q1 >> 4 & 1) << (j + BLOCK / 2);
        }
        dst.putInt(qh);
        dst.put(qs);
    }
}
