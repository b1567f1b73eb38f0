package org.mla4j.quant;

import static org.mla4j.quant.KQuants.QK_K;

import java.nio.ByteBuffer;

/**
 * Q4_K super-blocks (256 elements: f16 d, f16 dmin, u8 scales[12] (8 6-bit scales and minimums), u8 qs[128];
 * value = d * scale * q - dmin * min per 32 values) with llama.cpp's quantize_row_q4_K_ref (what quantize_q4_K
 * calls without an importance matrix).
 */
public final class Q4_K {
    /** Values per super-block. */
    public static final int BLOCK = QK_K;

    private Q4_K() {
    }

    /**
     * Quantizes x[off, off+256) into 144 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 144 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[QK_K];
        ScaleMin32.Result r = ScaleMin32.quantize(x, off, 15, -1.f, 0.1f, 20, L);
        dst.putShort(r.d());
        dst.putShort(r.dmin());
        dst.put(r.scales());
        for (int j = 0; j < QK_K; j += 64) {
            for (int l = 0; l < 32; ++l) dst.put((byte) (L[j + l] | L[j + l + 32] << 4));
        }
    }
}
