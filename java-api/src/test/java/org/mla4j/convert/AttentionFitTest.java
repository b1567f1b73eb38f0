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
        AttentionFit.Dims d = new AttentionFit.Dims(NH, HKV, HKV, HKV, DH, 0, DH, HKV * DH, E, 1 / Math.sqrt(DH));
        double[] metric = new double[NH * DH * NH * DH];
        Matrix m = org.mla4j.linalg.Linalg.multiply(a, wo, true, wo, false);
        for (int i = 0; i < NH * DH; i++) for (int k = 0; k < NH * DH; k++) metric[i * NH * DH + k] = m.get(i, k);
        AttentionFit.Fixed fixed = new AttentionFit.Fixed(d, null, null, null, freqs, metric);
        List<AttentionFit.Sequence> data = AttentionFit.sequences(a, d,
                new AttentionFit.Original(wq, null, wk, null, wv, null, HKV), new QueryFit.Tokens(x, x, pos), theta, DH);
        return new Problem(exact(wq, wk, wv), fixed, data);
    }

    @Test
    void exactConversionReproducesTheOriginalAttention() {
        try (Arena a = Arena.ofConfined()) {
            Problem p = problem(a, 1);
            assertEquals(2, p.data.size(), "two sequences (positions restart at 0)");
            double loss;
            try (HeapGemm blas = new HeapGemm()) {
                loss = AttentionFit.lossAndGradient(p.exact, p.fixed, p.data, null, blas);
            }
            double norm = 0;
            for (AttentionFit.Sequence s : p.data) for (double v : s.target()) norm += v * v;
            assertTrue(norm > 1, "targets should not vanish: " + norm);
            assertTrue(loss < 1e-20, "the exact conversion should have no loss, got " + loss);
        }
    }

    @Test
    void gradientMatchesFiniteDifferences() {
        // mha2mla form: a compressed layer, 4 nope dims and 4 rope dims (2 frequencies) per head, a latent of 6.
        checkGradient(new AttentionFit.Dims(NH, HKV, HKV, HKV, DH, 4, 4, 6, E, 1 / Math.sqrt(DH)),
                new double[][] {{1.0, 0.01}, {0.1, 0.001}});
    }

    @Test
    void gradientMatchesFiniteDifferencesInTheDeepseek2Form() {
        // deepseek2 form: per head all d_h dims scored through the latent, one shared rope key of 4 dims.
        checkGradient(new AttentionFit.Dims(NH, 1, NH, NH, DH, DH, 4, 6, E, 1 / Math.sqrt(DH + 4)),
                new double[][] {{1.0, 0.01}});
    }

    private static void checkGradient(AttentionFit.Dims d, double[][] freqs) {
        try (Arena a = Arena.ofConfined(); HeapGemm blas = new HeapGemm()) {
            Problem exact = problem(a, 2);
            AttentionFit.Fixed fixed = new AttentionFit.Fixed(d, null, null, null, freqs, exact.fixed.metric());
            Random rnd = new Random(3);
            int[] sizes = {d.nh() * d.qd() * E, d.ropeHeads() * d.r() * E, d.c() * E, d.keyHeads() * d.n() * d.c(),
                d.valueHeads() * d.dv() * d.c()};
            double[][] w = new double[sizes.length][];
            for (int i = 0; i < sizes.length; i++) {
                w[i] = new double[sizes[i]];
                for (int k = 0; k < sizes[i]; k++) w[i][k] = 0.4 * rnd.nextGaussian();
            }
            AttentionFit.Params at = new AttentionFit.Params(w);
            AttentionFit.Params g = AttentionFit.Params.zerosLike(at);
            AttentionFit.lossAndGradient(at, fixed, exact.data, g, blas);
            Random pick = new Random(4);
            for (int tensor = 0; tensor < sizes.length; tensor++) {
                for (int k = 0; k < 6; k++) {
                    int i = pick.nextInt(at.w[tensor].length);
                    double keep = at.w[tensor][i], h = 1e-5 * Math.max(1, Math.abs(keep));
                    at.w[tensor][i] = keep + h;
                    double up = AttentionFit.lossAndGradient(at, fixed, exact.data, null, blas);
                    at.w[tensor][i] = keep - h;
                    double downLoss = AttentionFit.lossAndGradient(at, fixed, exact.data, null, blas);
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
            double before, after;
            try (HeapGemm blas = new HeapGemm()) {
                before = AttentionFit.lossAndGradient(start, p.fixed, p.data, null, blas);
                AttentionFit.Params fitted = AttentionFit.adam(start, p.fixed, p.data, blas, new double[2], 60);
                after = AttentionFit.lossAndGradient(fitted, p.fixed, p.data, null, blas);
            }
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
