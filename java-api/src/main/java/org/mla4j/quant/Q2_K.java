package org.mla4j.quant;

import static org.mla4j.quant.KQuants.QK_K;
import static org.mla4j.quant.KQuants.makeQkx2Quants;
import static org.mla4j.quant.KQuants.nearestInt;

import java.nio.ByteBuffer;

/**
 * Q2_K super-blocks (256 elements: u8 scales[16] (4-bit scale | 4-bit minimum per 16 values), u8 qs[64] (2-bit
 * levels), f16 d, f16 dmin) with llama.cpp's quantize_row_q2_K_ref (what quantize_q2_K calls without an
 * importance matrix).
 */
public final class Q2_K {
    /** Values per super-block. */
    public static final int BLOCK = QK_K;

    private Q2_K() {
    }

    /**
     * Quantizes x[off, off+256) into 84 bytes at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 84 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[QK_K];
        byte[] laux = new byte[16];
        float[] weights = new float[16];
        float[] mins = new float[QK_K / 16];
        float[] scales = new float[QK_K / 16];
        byte[] sc = new byte[QK_K / 16];
        final float q4scale = 15.f;

        float maxScale = 0; // the minimum is subtracted, so scales are never negative
        float maxMin = 0;
        for (int j = 0; j < QK_K / 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = Math.abs(x[off + 16 * j + l]);
            scales[j] = makeQkx2Quants(16, 3, x, off + 16 * j, weights, L, 16 * j, mins, j, laux, -0.5f, 0.1f, 15,
                    true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        short d;
        short dmin;
        if (maxScale > 0) {
            float iscale = q4scale / maxScale;
            for (int j = 0; j < QK_K / 16; ++j) sc[j] = (byte) nearestInt(iscale * scales[j]);
            d = Fp16.fromFloat(maxScale / q4scale);
        } else {
            d = Fp16.fromFloat(0.f);
        }
        if (maxMin > 0) {
            float iscale = q4scale / maxMin;
            for (int j = 0; j < QK_K / 16; ++j) sc[j] |= (byte) (nearestInt(iscale * mins[j]) << 4);
            dmin = Fp16.fromFloat(maxMin / q4scale);
        } else {
            dmin = Fp16.fromFloat(0.f);
        }
        // requantize each sub-block with the scale and minimum it will be decoded with
        for (int j = 0; j < QK_K / 16; ++j) {
            float dj = Fp16.toFloat(d) * (sc[j] & 0xF);
            if (dj == 0) continue;
            float dm = Fp16.toFloat(dmin) * ((sc[j] & 0xFF) >> 4);
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearestInt((x[off + 16 * j + ii] + dm) / dj);
                L[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
            }
        }
        dst.put(sc);
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                dst.put((byte) (L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6));
            }
        }
        dst.putShort(d);
        dst.putShort(dmin);
    }
}
