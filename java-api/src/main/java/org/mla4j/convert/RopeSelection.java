package org.mla4j.convert;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConvertOptions.RopeSelect;

/**
 * MHA2MLA's partial-RoPE choice (mla-conversion.md, "Partial-RoPE strategies"): for every KV head of a layer, the
 * r/2 frequency indices (of d_h/2) that keep their rotation. Query heads use the set of their KV head.
 */
final class RopeSelection {
    private RopeSelection() {
    }

    /**
     * @param theta angular frequency of each frequency index (radians per position)
     * @param context the context length over which rotation is weighed (ROTATION_AWARE)
     * @return [KV head][r/2] kept frequency indices, ascending
     */
    static int[][] select(RopeSelect how, Hyperparameters hp, int r, LayerStats stats, double[] theta, int context) {
        int half = hp.headDimK() / 2, hkv = hp.kvHeads(), keep = r / 2;
        int[][] out = new int[hkv][];
        for (int j = 0; j < hkv; j++) {
            out[j] = switch (how) {
                case HIGH -> IntStream.range(0, keep).toArray();
                case LOW -> IntStream.range(half - keep, half).toArray();
                case UNIFORM -> uniform(hp.headDimK(), r);
                case TWO_NORM, ROTATION_AWARE -> top(score(hp, stats, j, how == RopeSelect.ROTATION_AWARE, theta, context), keep);
            };
        }
        return out;
    }

    private static int[] uniform(int dh, int r) {
        if (r == 0) return new int[0];
        int step = dh / r;
        return IntStream.range(0, r / 2).map(k -> k * step).toArray();
    }

    /**
     * S_{j,i} = sum over the query heads h of group j of Qbar_{h,i} * Kbar_{j,i} (a product of means, as the paper's
     * 2_norm.py computes it); rotation-aware: times 1 - sin(T theta_i)/(T theta_i), the mean over relative positions
     * 0..T of 1 - cos(t theta_i), which is how much removing the rotation of that frequency changes its scores.
     */
    static double[] score(Hyperparameters hp, LayerStats stats, int j, boolean rotationAware, double[] theta, int context) {
        int half = hp.headDimK() / 2, g = hp.groupSize();
        double[] s = new double[half];
        for (int i = 0; i < half; i++) {
            double q = 0;
            for (int h = j * g; h < (j + 1) * g; h++) q += stats.queryPairNorm()[h][i];
            s[i] = q * stats.keyPairNorm()[j][i];
            if (rotationAware) {
                double x = context * theta[i];
                s[i] *= x < 1e-12 ? 0.0 : 1.0 - Math.sin(x) / x;
            }
        }
        return s;
    }

    /** The indices of the k largest scores (ties: the lower index), ascending. */
    private static int[] top(double[] score, int k) {
        Integer[] idx = IntStream.range(0, score.length).boxed().toArray(Integer[]::new);
        Arrays.sort(idx, Comparator.<Integer>comparingDouble(i -> -score[i]).thenComparingInt(i -> i));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) out[i] = idx[i];
        Arrays.sort(out);
        return out;
    }
}
