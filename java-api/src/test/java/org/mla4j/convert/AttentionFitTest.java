package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.mla4j.linalg.Matrix;

/**
 * The attention fit's pieces on small random layers: its forward pass equals the original GQA attention (computed
 * by the separate target code, HF rotate_half layout) when the parameters are the exact conversion; its gradient
 * equals central finite differences of its loss; and Adam brings a perturbed exact conversion back close to it.
 */
class AttentionFitTest {
    private static final int NH = 4, HKV = 2, DH = 8, E = 12, T = 9;

    /** The exact conversion's parameters, r = d_h: q and k rows to adjacent pairs, latent = values, W_UV = I. */
    private static AttentionFit.Params exact(Matrix wq, Matrix wk, Matrix wv) {
        int half = DH / 2;
        double[] q = new double[NH * DH * E], k = new double[HKV * DH * E], down = new double[HKV * DH * E];
        double[] upV = new double[HKV * DH * HKV * DH];
        for (int h = 0; h < NH; h++) {
            for (int p = 0; p < half; p++) {
                for (int e = 0; e < E; e++) {
                    q[(h * DH + 2 * p) * E + e] = wq.get(h * DH + p, e);
                    q[(h * DH + 2 * p + 1) * E + e] = wq.get(h * DH + p + half, e);
                }
            }
        }
        for (int j = 0; j < HKV; j++) {
            for (int p = 0; p < half; p++) {
                for (int e = 0; e < E; e++) {
                    k[(j * DH + 2 * p) * E + e] = wk.get(j * DH + p, e);
                    k[(j * DH + 2 * p + 1) * E + e] = wk.get(j * DH + p + half, e);
                }
            }
        }
        for (int i = 0; i < HKV * DH; i++) {
            for (int e = 0; e < E; e++) down[i * E + e] = wv.get(i, e);
            upV[i * HKV * DH + i] = 1;
        }
        return new AttentionFit.Params(new double[][] {q, k, down, new double[0], upV});
    }

    private record Problem(AttentionFit.Params exact, AttentionFit.Fixed fixed, List<AttentionFit.Sequence> data) {
    }

    private static Problem problem(Arena a, long seed) {
        Random rnd = new Random(seed);
        Matrix wq = random(a, rnd, NH * DH, E), wk = random(a, rnd, HKV * DH, E), wv = random(a, rnd, HKV * DH, E);
        Matrix wo = random(a, rnd, E, NH * DH);
        double[] theta = new double[DH / 2];
        for (int i = 0; i < theta.length; i++) theta[i] = Math.pow(10000, -2.0 * i / DH);
        double[][] freqs = new double[HKV][];
        for (int j = 0; j < HKV; j++) freqs[j] = theta.clone();
        float[][] x = new float[2 * T][E];
        int[] pos = new int[2 * T];
        for (int t = 0; t < 2 * T; t++) {
            pos[t] = t % T;
            for (int e = 0; e < E; e++) x[t][e] = (float) rnd.nextGaussian();
        }
        AttentionFit.Dims d = new AttentionFit.Dims(NH, HKV, DH, 0, DH, HKV * DH, E);
        double[] metric = new double[NH * DH * NH * DH];
        Matrix m = org.mla4j.linalg.Linalg.multiply(a, wo, true, wo, false);
        for (int i = 0; i < NH * DH; i++) for (int k = 0; k < NH * DH; k++) metric[i * NH * DH + k] = m.get(i, k);
        AttentionFit.Fixed fixed = new AttentionFit.Fixed(d, null, null, null, freqs, metric);
        List<AttentionFit.Sequence> data = AttentionFit.sequences(a, d,
                new AttentionFit.Original(wq, null, wk, null, wv, null), new QueryFit.Tokens(x, x, pos), theta);
        return new Problem(exact(wq, wk, wv), fixed, data);
    }

    @Test
    void exactConversionReproducesTheOriginalAttention() {
        try (Arena a = Arena.ofConfined()) {
            Problem p = problem(a, 1);
            assertEquals(2, p.data.size(), "two sequences (positions restart at 0)");
            double loss = AttentionFit.lossAndGradient(p.exact, p.fixed, p.data, null, 2);
            double norm = 0;
            for (AttentionFit.Sequence s : p.data) for (double[] o : s.target()) for (double v : o) norm += v * v;
            assertTrue(norm > 1, "targets should not vanish: " + norm);
            assertTrue(loss < 1e-20, "the exact conversion should have no loss, got " + loss);
        }
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        try (Arena a = Arena.ofConfined()) {
            Problem exact = problem(a, 2);
            // A compressed layer: 4 nope dims and 4 rope dims (2 frequencies) per head, a latent of 6.
            int n = 4, r = 4, c = 6;
            AttentionFit.Dims d = new AttentionFit.Dims(NH, HKV, DH, n, r, c, E);
            double[][] freqs = {{1.0, 0.01}, {0.1, 0.001}};
            AttentionFit.Fixed fixed = new AttentionFit.Fixed(d, null, null, null, freqs, exact.fixed.metric());
            Random rnd = new Random(3);
            int[] sizes = {NH * DH * E, HKV * r * E, c * E, HKV * n * c, HKV * DH * c};
            double[][] w = new double[sizes.length][];
            for (int i = 0; i < sizes.length; i++) {
                w[i] = new double[sizes[i]];
                for (int k = 0; k < sizes[i]; k++) w[i][k] = 0.4 * rnd.nextGaussian();
            }
            AttentionFit.Params at = new AttentionFit.Params(w);
            AttentionFit.Params g = AttentionFit.Params.zerosLike(at);
            AttentionFit.lossAndGradient(at, fixed, exact.data, g, 2);
            Random pick = new Random(4);
            for (int tensor = 0; tensor < sizes.length; tensor++) {
                for (int k = 0; k < 6; k++) {
                    int i = pick.nextInt(at.w[tensor].length);
                    double keep = at.w[tensor][i], h = 1e-5 * Math.max(1, Math.abs(keep));
                    at.w[tensor][i] = keep + h;
                    double up = AttentionFit.lossAndGradient(at, fixed, exact.data, null, 1);
                    at.w[tensor][i] = keep - h;
                    double downLoss = AttentionFit.lossAndGradient(at, fixed, exact.data, null, 1);
                    at.w[tensor][i] = keep;
                    double numeric = (up - downLoss) / (2 * h), analytic = g.w[tensor][i];
                    assertEquals(numeric, analytic, 1e-5 * Math.max(1, Math.abs(numeric)),
                            "tensor " + tensor + " element " + i);
                }
            }
        }
    }

    @Test
    void adamRecoversAPerturbedExactConversion() {
        try (Arena a = Arena.ofConfined()) {
            Problem p = problem(a, 5);
            AttentionFit.Params start = perturbed(p.exact, new Random(6), 0.1);
            double before = AttentionFit.lossAndGradient(start, p.fixed, p.data, null, 2);
            AttentionFit.Params fitted = AttentionFit.adam(start, p.fixed, p.data, 2);
            double after = AttentionFit.lossAndGradient(fitted, p.fixed, p.data, null, 2);
            assertTrue(after < before / 20, "Adam should cut the loss 20-fold: " + before + " -> " + after);
        }
    }

    private static AttentionFit.Params perturbed(AttentionFit.Params p, Random rnd, double relative) {
        AttentionFit.Params out = p.copy();
        for (double[] w : out.w) {
            double ss = 0;
            for (double v : w) ss += v * v;
            double rms = Math.sqrt(ss / Math.max(1, w.length));
            for (int i = 0; i < w.length; i++) w[i] += relative * rms * rnd.nextGaussian();
        }
        return out;
    }

    private static Matrix random(Arena a, Random rnd, int rows, int cols) {
        Matrix m = Matrix.allocate(a, rows, cols);
        double s = 1 / Math.sqrt(cols);
        for (int i = 0; i < rows; i++) for (int k = 0; k < cols; k++) m.set(i, k, s * rnd.nextGaussian());
        return m;
    }
}
