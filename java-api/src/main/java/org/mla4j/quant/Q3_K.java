package org.mla4j.quant;

import static org.mla4j.quant.KQuants.QK_K;
import static org.mla4j.quant.KQuants.makeQ3Quants;
import static org.mla4j.quant.KQuants.nearestInt;

import java.nio.ByteBuffer;

/**
 * Q3_K super-blocks (256 elements: u8 hmask[32] (bit 2 of each level), u8 qs[64] (bits 0-1), u8 scales[12] (16
 * signed 6-bit scales), f16 d; value = d * (scale - 32) * (level - 4)) with llama.cpp's quantize_row_q3_K_ref
 * (what quantize_q3_K calls without an importance matrix).
 */
public final class Q3_K {
    /** Values per super-block. */
    public static final int BLOCK = QK_K;

    private Q3_K() {
    }

    /**
     * Quantizes x[off, off+256) into 110 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 110 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[QK_K];
        float[] scales = new float[QK_K / 16];
        byte[] sc = new byte[12];

        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            scales[j] = makeQ3Quants(16, 4, x, off + 16 * j, L, 16 * j);
            float scale = Math.abs(scales[j]);
            if (scale > amax) {
                amax = scale;
                maxScale = scales[j];
            }
        }
        short d;
        if (maxScale != 0) {
            float iscale = -32.f / maxScale;
            for (int j = 0; j < QK_K / 16; ++j) {
                int l = (byte) nearestInt(iscale * scales[j]); // int8_t in C
                l = Math.max(-32, Math.min(31, l)) + 32;
                if (j < 8) {
                    sc[j] = (byte) (l & 0xF);
                } else {
                    sc[j - 8] |= (byte) ((l & 0xF) << 4);
                }
                l >>= 4;
                sc[j % 4 + 8] |= (byte) (l << (2 * (j / 4)));
            }
            d = Fp16.fromFloat(1 / iscale);
        } else {
            d = Fp16.fromFloat(0.f);
        }
        // requantize each sub-block with the scale it will be decoded with
        for (int j = 0; j < QK_K / 16; ++j) {
            int s = j < 8 ? sc[j] & 0xF : (sc[j - 8] & 0xFF) >> 4;
            s = (byte) ((s | ((sc[8 + j % 4] & 0xFF) >> (2 * (j / 4)) & 3) << 4) - 32);
            float dj = Fp16.toFloat(d) * s;
            if (dj == 0) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearestInt(x[off + 16 * j + ii] / dj);
                L[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
            }
        }
        // the high bit of the first 32 levels goes to bit 0 of hmask[0..31], of the next 32 to bit 1, and so on
        byte[] hmask = new byte[QK_K / 8];
        int m = 0;
        int hm = 1;
        for (int j = 0; j < QK_K; ++j) {
            if (L[j] > 3) {
                hmask[m] |= (byte) hm;
                L[j] -= 4;
            }
            if (++m == QK_K / 8) {
                m = 0;
                hm <<= 1;
            }
        }
        dst.put(hmask);
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                dst.put((byte) (L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6));
            }
        }
        dst.put(sc);
        dst.putShort(d);
    }
}
