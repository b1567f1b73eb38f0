package org.mla4j.quant;

import static org.mla4j.quant.KQuants.GROUP_MAX_EPS;
import static org.mla4j.quant.KQuants.IQ4NL_VALUES;
import static org.mla4j.quant.KQuants.bestIndexInt8;
import static org.mla4j.quant.KQuants.nearestInt;

import java.nio.ByteBuffer;

/**
 * IQ4_NL blocks (32 elements: f16 d, u8 qs[16]; value = d * kvalues_iq4nl[q]) and IQ4_XS super-blocks (256
 * elements: f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128]; a 6-bit signed scale per 32 values) with llama.cpp's
 * quantize_row_iq4_nl_impl as quantize_iq4_nl and quantize_iq4_xs call it without an importance matrix (ntry 7,
 * weights x^2). Note that llama-quantize's quantize_iq4_nl tries 15 scales while quantize_row_iq4_nl_ref tries
 * none; this follows llama-quantize.
 */
public final class IQ4_NL {
    /** Values per IQ4_NL block. */
    public static final int BLOCK = 32;
    /** Values per IQ4_XS super-block. */
    public static final int XS_BLOCK = KQuants.QK_K;
    private static final int NTRY = 7;

    private IQ4_NL() {
    }

    /**
     * Quantizes x[off, off+32) into an 18-byte IQ4_NL block at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the block's first value in x
     * @param dst where the block goes (advanced by 18 bytes)
     */
    public static void quantizeBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[BLOCK];
        float[] scales = new float[1];
        blockScales(x, off, BLOCK, scales, L);
        dst.putShort(Fp16.fromFloat(scales[0]));
        float id = scales[0] != 0 ? 1 / scales[0] : 0;
        for (int j = 0; j < BLOCK; ++j) L[j] = (byte) bestIndexInt8(IQ4NL_VALUES, id * x[off + j]);
        putNibbles(L, BLOCK, dst);
    }

    /**
     * Quantizes x[off, off+256) into a 136-byte IQ4_XS super-block at dst's position (dst must be little-endian).
     *
     * @param x the values
     * @param off the super-block's first value in x
     * @param dst where the block goes (advanced by 136 bytes)
     */
    public static void quantizeXsBlock(float[] x, int off, ByteBuffer dst) {
        byte[] L = new byte[XS_BLOCK];
        int nb = XS_BLOCK / 32;
        float[] scales = new float[nb];
        float maxScale = blockScales(x, off, XS_BLOCK, scales, L);
        float d = -maxScale / 32; // -0.0 when every block is zero, as in C
        float id = d != 0 ? 1 / d : 0.f;
        int scalesH = 0;
        byte[] scalesL = new byte[nb / 2];
        for (int ib = 0; ib < nb; ++ib) {
            int l = nearestInt(id * scales[ib]);
            l = Math.max(-32, Math.min(31, l));
            float dl = d * l;
            float idl = dl != 0 ? 1 / dl : 0.f;
            for (int j = 0; j < 32; ++j) {
                L[ib * 32 + j] = (byte) bestIndexInt8(IQ4NL_VALUES, idl * x[off + ib * 32 + j]);
            }
            l += 32;
            int lLow = l & 0xf;
            int lHigh = l >> 4;
            if (ib % 2 == 0) scalesL[ib / 2] = (byte) lLow;
            else scalesL[ib / 2] |= (byte) (lLow << 4);
            scalesH |= lHigh << 2 * (ib % 8);
        }
        dst.putShort(Fp16.fromFloat(d));
        dst.putShort((short) scalesH);
        dst.put(scalesL);
        putNibbles(L, XS_BLOCK, dst);
    }

    /**
     * The first half of quantize_row_iq4_nl_impl: for each 32 values the least-squares scale (weights x^2) over
     * 2*NTRY+1 candidate scales, and their levels in L.
     *
     * @return the scale of largest magnitude (its sign kept)
     */
    private static float blockScales(float[] x, int off, int superBlock, float[] scales, byte[] L) {
        byte[] values = IQ4NL_VALUES;
        float[] weight = new float[32];
        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < superBlock / 32; ++ib) {
            int xb = off + ib * 32;
            for (int j = 0; j < 32; ++j) weight[j] = x[xb + j] * x[xb + j];
            float amax = 0;
            float max = 0;
            for (int j = 0; j < 32; ++j) {
                float ax = Math.abs(x[xb + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xb + j];
                }
            }
            if (amax < GROUP_MAX_EPS) {
                scales[ib] = 0;
                continue;
            }
            float d = -max / values[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                float al = id * x[xb + j];
                int l = bestIndexInt8(values, al);
                L[ib * 32 + j] = (byte) l;
                float q = values[l];
                float w = weight[j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
            float best = d * sumqx;
            for (int itry = -NTRY; itry <= NTRY; ++itry) {
                id = (itry + values[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; ++j) {
                    float al = id * x[xb + j];
                    int l = bestIndexInt8(values, al);
                    float q = values[l];
                    float w = weight[j];
                    sumqx += w * q * x[xb + j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }
        return maxScale;
    }

    /** Packs 4-bit levels: per 32 values, value j in the low nibble of byte j, value j+16 in its high nibble. */
    private static void putNibbles(byte[] L, int n, ByteBuffer dst) {
        for (int i = 0; i < n / 32; ++i) {
            for (int j = 0; j < 16; ++j) dst.put((byte) (L[32 * i + j] | L[32 * i + 16 + j] << 4));
        }
    }
}
