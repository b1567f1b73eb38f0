package org.mla4j.quant;

import static org.mla4j.quant.KQuants.GROUP_MAX_EPS;
import static org.mla4j.quant.KQuants.QK_K;
import static org.mla4j.quant.KQuants.makeQxQuants;
import static org.mla4j.quant.KQuants.nearestInt;

import java.nio.ByteBuffer;

/**
 * Q6_K super-blocks (256 elements: u8 ql[128] (bits 0-3), u8 qh[64] (bits 4-5), i8 scales[16], f16 d; value =
 * d * scale * (level - 32) per 16 values) with llama.cpp's quantize_row_q6_K_ref (what quantize_q6_K calls without
 * an importance matrix).
 */
public final class Q6_K {
    /** Values per super-block. */
    public static final int BLOCK = QK_K;
    private static final int BLOCK_BYTES = 210;

    private Q6_K() {
    }

    /**
     * Quantizes x[off, off+256) into 210 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 210 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[QK_K];
        float[] scales = new float[QK_K / 16];
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            float scale = makeQxQuants(16, 32, x, off + 16 * ib, L, 16 * ib, 1);
            scales[ib] = scale;
            float absScale = Math.abs(scale);
            if (absScale > maxAbsScale) {
                maxAbsScale = absScale;
                maxScale = scale;
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) { // an all-zero block: every byte 0, d = +0
            dst.put(new byte[BLOCK_BYTES]);
            return;
        }
        float iscale = -128.f / maxScale;
        short d = Fp16.fromFloat(1 / iscale);
        byte[] sc = new byte[QK_K / 16];
        for (int ib = 0; ib < QK_K / 16; ++ib) sc[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
        // requantize each sub-block with the scale it will be decoded with
        for (int j = 0; j < QK_K / 16; ++j) {
            float dj = Fp16.toFloat(d) * sc[j];
            if (dj == 0) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearestInt(x[off + 16 * j + ii] / dj);
                L[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
            }
        }
        byte[] ql = new byte[QK_K / 2];
        byte[] qh = new byte[QK_K / 4];
        for (int j = 0, q = 0, h = 0; j < QK_K; j += 128, q += 64, h += 32) {
            for (int l = 0; l < 32; ++l) {
                int q1 = L[j + l] & 0xF;
                int q2 = L[j + l + 32] & 0xF;
                int q3 = L[j + l + 64] & 0xF;
                int q4 = L[j + l + 96] & 0xF;
                ql[q + l] = (byte) (q1 | q3 << 4);
                ql[q + l + 32] = (byte) (q2 | q4 << 4);
                qh[h + l] = (byte) (L[j + l] >> 4 | (L[j + l + 32] >> 4) << 2 | (L[j + l + 64] >> 4) << 4
                        | (L[j + l + 96] >> 4) << 6);
            }
        }
        dst.put(ql);
        dst.put(qh);
        dst.put(sc);
        dst.putShort(d);
    }
}
