package org.mla4j.quant;

import static org.mla4j.quant.KQuants.QK_K;
import static org.mla4j.quant.KQuants.makeQkx2Quants;
import static org.mla4j.quant.KQuants.nearestInt;
import static org.mla4j.quant.KQuants.scaleMinK4;

/**
 * The part Q4_K and Q5_K share in llama.cpp's quantize_row_q4_K_ref / quantize_row_q5_K_ref: a scale and a
 * minimum per 32 values by make_qkx2_quants (weights av_x + |x|), both quantized to 6 bits against the
 * super-block's largest, then every value requantized with the scale and minimum it will be decoded with.
 */
final class ScaleMin32 {
    /** The super-block's F16 d and dmin and the 12 packed bytes of 6-bit scales and minimums. */
    record Result(short d, short dmin, byte[] scales) {
    }

    private ScaleMin32() {
    }

    /**
     * @param nmax the largest level (15 for Q4_K, 31 for Q5_K)
     * @param L receives the 256 levels
     */
    static Result quantize(float[] x, int off, int nmax, float rmin, float rdelta, int nstep, byte[] L) {
        byte[] laux = new byte[32];
        float[] weights = new float[32];
        float[] mins = new float[QK_K / 32];
        float[] scales = new float[QK_K / 32];
        float maxScale = 0; // the minimum is subtracted, so scales are never negative
        float maxMin = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            int b = off + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; ++l) sumX2 += x[b + l] * x[b + l];
            float avX = (float) Math.sqrt(sumX2 / 32); // sqrtf: the double root rounds to the same float
            for (int l = 0; l < 32; ++l) weights[l] = avX + Math.abs(x[b + l]);
            scales[j] = makeQkx2Quants(32, nmax, x, b, weights, L, 32 * j, mins, j, laux, rmin, rdelta, nstep,
                    false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        byte[] packed = new byte[12];
        for (int j = 0; j < QK_K / 32; ++j) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF); // uint8_t in C, then MIN(63, .)
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            if (j < 4) {
                packed[j] = (byte) ls;
                packed[j + 4] = (byte) lm;
            } else {
                packed[j + 4] = (byte) ((ls & 0xF) | (lm & 0xF) << 4);
                packed[j - 4] |= (byte) ((ls >> 4) << 6);
                packed[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short d = Fp16.fromFloat(maxScale / 63.f);
        short dmin = Fp16.fromFloat(maxMin / 63.f);
        int[] sm = new int[2];
        for (int j = 0; j < QK_K / 32; ++j) {
            scaleMinK4(j, packed, sm);
            float dj = Fp16.toFloat(d) * sm[0];
            if (dj == 0) continue;
            float dm = Fp16.toFloat(dmin) * sm[1];
            for (int ii = 0; ii < 32; ++ii) {
                int l = nearestInt((x[off + 32 * j + ii] + dm) / dj);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
        return new Result(d, dmin, packed);
    }
}
