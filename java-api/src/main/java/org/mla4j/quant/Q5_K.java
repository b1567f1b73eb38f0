package org.mla4j.quant;

import static org.mla4j.quant.KQuants.QK_K;

import java.nio.ByteBuffer;

/**
 * Q5_K super-blocks (256 elements: f16 d, f16 dmin, u8 scales[12], u8 qh[32] (bit 4 of each level), u8 qs[128]
 * (bits 0-3); value = d * scale * q - dmin * min per 32 values) with llama.cpp's quantize_row_q5_K_ref (what
 * quantize_q5_K calls without an importance matrix).
 */
public final class Q5_K {
    /** Values per super-block. */
    public static final int BLOCK = QK_K;

    private Q5_K() {
    }

    /**
     * Quantizes x[off, off+256) into 176 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 176 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[QK_K];
        ScaleMin32.Result r = ScaleMin32.quantize(x, off, 31, -0.5f, 0.1f, 15, L);
        byte[] qh = new byte[QK_K / 8];
        byte[] ql = new byte[QK_K / 2];
        int m1 = 1;
        int m2 = 2;
        for (int n = 0, q = 0; n < QK_K; n += 64, q += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= (byte) m1;
                }
                int l2 = L[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= (byte) m2;
                }
                ql[q + j] = (byte) (l1 | l2 << 4);
            }
            m1 <<= 2;
            m2 <<= 2;
        }
        dst.putShort(r.d());
        dst.putShort(r.dmin());
        dst.put(r.scales());
        dst.put(qh);
        dst.put(ql);
    }
}
