package org.mla4j.quant;

/**
 * Helpers of llama.cpp's reference quantizers (ggml/src/ggml-quants.c), ported operation for operation in float
 * arithmetic so that the encoders write the bytes llama-quantize writes without an importance matrix. Every
 * expression keeps C's evaluation order and its int-to-float conversions; reordering a sum changes the last bit
 * of a scale and with it, sometimes, a quantized value.
 */
final class KQuants {
    /** QK_K: values per super-block of the K-quants and IQ4_XS. */
    static final int QK_K = 256;
    /** GROUP_MAX_EPS: a group whose largest magnitude is below it is all zero. */
    static final float GROUP_MAX_EPS = 1e-15f;
    /** kvalues_iq4nl: the 16 levels of IQ4_NL and IQ4_XS. */
    static final byte[] IQ4NL_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private KQuants() {
    }

    /**
     * nearest_int: rounds half to even by adding 1.5 * 2^23 and reading the mantissa bits (valid for
     * |v| <= 4194303, which the callers guarantee as llama.cpp's do).
     */
    static int nearestInt(float v) {
        float val = v + 12582912.f;
        return (Float.floatToRawIntBits(val) & 0x007fffff) - 0x00400000;
    }

    /** best_index_int8: the index of the level nearest to x (the lower one on ties), by bisection. */
    static int bestIndexInt8(byte[] val, float x) {
        int n = val.length;
        if (x <= val[0]) return 0;
        if (x >= val[n - 1]) return n - 1;
        int ml = 0;
        int mu = n - 1;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < val[mav]) mu = mav; else ml = mav;
        }
        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }

    /**
     * make_qkx2_quants: a scale and a minimum for n values at x[off] with levels 0..nmax, searched over nstep+1
     * candidate scales by weighted least squares (absolute errors when useMad).
     *
     * @param L receives the levels (n values at lOff)
     * @param theMin receives -min at theMin[minIdx]
     * @return the scale
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int off, float[] weights, byte[] L, int lOff,
            float[] theMin, int minIdx, byte[] laux, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[off];
        float max = x[off];
        float sumW = weights[0];
        float sumX = sumW * x[off];
        for (int i = 1; i < n; ++i) {
            float xi = x[off + i];
            if (xi < min) min = xi;
            if (xi > max) max = xi;
            float w = weights[i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; ++i) L[lOff + i] = 0;
            theMin[minIdx] = -min;
            return 0.f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearestInt(iscale * (x[off + i] - min));
            L[lOff + i] = (byte) Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lOff + i] + min - x[off + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin[minIdx] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXl = 0;
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * (x[off + i] - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = (byte) l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXl += w * l * x[off + i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / D;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; ++i) {
                    float diff = thisScale * laux[i] + thisMin - x[off + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lOff, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[minIdx] = -min;
        return scale;
    }

    /**
     * make_qx_quants with no importance weights: a signed scale for n values at x[off] with levels -nmax..nmax-1
     * (stored as level + nmax), weighted by x^2 (rmseType 1), tried at 18 scales around nmax/max.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int off, byte[] L, int lOff, int rmseType) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[off + i]);
            if (ax > amax) {
                amax = ax;
                max = x[off + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) L[lOff + i] = 0;
            return 0.f;
        }
        float iscale = -nmax / max;
        if (rmseType != 1) {
            throw new IllegalArgumentException("only rmse_type 1 (Q6_K's) is ported");
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[off + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[off + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[off + i]);
                    L[lOff + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * make_q3_quants with do_rmse: a signed scale for n values at x[off] with levels -nmax..nmax-1 (stored as
     * level + nmax), refined by up to 5 passes that move single values to a better level.
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int off, byte[] L, int lOff) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[off + i]);
            if (ax > amax) {
                amax = ax;
                max = x[off + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) L[lOff + i] = 0;
            return 0.f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[off + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = (byte) l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; ++itry) {
            int nChanged = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[off + i];
                int li = L[lOff + i];
                float w = xi * xi;
                float slx = sumlx - w * xi * li;
                if (slx > 0) {
                    float sl2 = suml2 - w * li * li;
                    int newL = nearestInt(xi * sl2 / slx);
                    newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                    if (newL != li) {
                        slx += w * xi * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lOff + i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            ++nChanged;
                        }
                    }
                }
            }
            if (nChanged == 0) break;
        }
        for (int i = 0; i < n; ++i) L[lOff + i] += (byte) nmax;
        return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
    }

    /** get_scale_min_k4: the 6-bit scale (result[0]) and minimum (result[1]) of sub-block j of Q4_K/Q5_K. */
    static void scaleMinK4(int j, byte[] q, int[] result) {
        if (j < 4) {
            result[0] = q[j] & 63;
            result[1] = q[j + 4] & 63;
        } else {
            result[0] = (q[j + 4] & 0xF) | ((q[j - 4] & 0xFF) >> 6 << 4);
            result[1] = ((q[j + 4] & 0xFF) >> 4) | ((q[j] & 0xFF) >> 6 << 4);
        }
    }
}
