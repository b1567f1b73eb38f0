package org.mla4j.convert;

import java.lang.foreign.Arena;

import org.mla4j.Hyperparameters;
import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * The query fit of MHA2MLA (beyond the paper): removing RoPE from a frequency leaves that pair's score q . k without
 * its rotation by the distance, q^T R((n - m) theta) k, which no factorisation of the keys can restore. What the
 * queries can still do is match, where the original model attends, the scores the rotation gave. Per query head h
 * a map B_h of its nope part (n x n, n = nope dims) is fitted on single calibration tokens:
 *
 * <pre>
 *   minimise  sum_m sum_n p_mn (e_mn - sum_n' p_mn' e_mn')^2,   e_mn = (B q_m) . k^_n - s_mn
 * </pre>
 *
 * with p the original attention probabilities, q_m the query's nope part without rotation, k^_n the converted key
 * (decompressed from the latent, so the fit also absorbs the low-rank error) and s_mn = q_R,m . k_R,n over the
 * removed dims, rotated as in the original. The error's mean over each query's attention is dropped because softmax
 * ignores a shift common to a query's scores. Linear least squares in the n^2 entries of B (a ridge towards the
 * identity, the paper's choice, keeps it well posed). Cost: tokens x context x n^4 per head, so it is meant for
 * small heads and small calibration sets (the converter applies it where it searches, to small models).
 */
final class QueryFit {
    /** Ridge towards B = I, relative to the mean diagonal of the normal equations. */
    private static final double RIDGE = 1e-4;

    private QueryFit() {
    }

    /** Calibration tokens kept for the fit at most (the fit costs tokens x context x n^4 per head). */
    static final long MAX_TOKENS = 4096;

    /** Whether a plan gets the fit: mha2mla with RoPE removed from some dims, asked for. */
    static boolean applies(ConversionPlan plan) {
        return plan.arch().equals("mha2mla") && !plan.identity() && plan.options().queryFit()
                && plan.source().headDimK() <= 16;
    }

    /** The position of each of the first count tokens of the sequences, in their sequence. */
    static int[] positions(java.util.List<int[]> sequences, int count) {
        int[] pos = new int[count];
        int t = 0;
        for (int[] seq : sequences) for (int i = 0; i < seq.length && t < count; i++) pos[t++] = i;
        return pos;
    }

    /**
     * Calibration tokens of one layer: the original model's attention inputs (which give the target scores and the
     * attention), the converted model's (which give the fitted queries and keys: the layers before, converted, change
     * them; the same array before the in-order refit has measured them) and each token's position in its sequence.
     */
    record Tokens(float[][] inputs, float[][] convertedInputs, int[] positions) {
        Tokens withConverted(float[][] converted) {
            return new Tokens(inputs, converted, positions);
        }
    }

    /**
     * B per query head, [head][i][a]: the fitted nope query is (B q)_i = sum_a B[i][a] q_a over the nope dims in
     * nopeRows order.
     *
     * @param nopeRows per KV head, the head dims (HF layout: pair i = dims i and i + d_h/2) without RoPE
     * @param keyNope the converted nope keys as a map of the layer input, (n_kv * n) x E (row j * n + d)
     */
    static double[][][] fit(Arena a, Hyperparameters hp, double[] theta, int[][] nopeRows, Matrix wq, double[] bq,
            Matrix wk, double[] bk, Matrix keyNope, Tokens tokens) {
        int dh = hp.headDimK(), half = dh / 2, nh = hp.heads(), g = hp.groupSize(), n = nopeRows[0].length;
        int t = tokens.inputs().length, f = n;
        Matrix x = matrix(a, tokens.inputs()), xc = matrix(a, tokens.convertedInputs());
        double[][] qr = rotated(withBias(Linalg.multiply(a, x, false, wq, true).toArray(), bq), tokens.positions(), theta, dh, half);
        double[][] kr = rotated(withBias(Linalg.multiply(a, x, false, wk, true).toArray(), bk), tokens.positions(), theta, dh, half);
        double[][] q = withBias(Linalg.multiply(a, xc, false, wq, true).toArray(), bq);
        double[][] kHat = Linalg.multiply(a, xc, false, keyNope, true).toArray();
        double scale = 1.0 / Math.sqrt(dh);
        double[][][] out = new double[nh][][];
        for (int h = 0; h < nh; h++) {
            int j = h / g, off = j * n;
            int[] nope = nopeRows[j];
            double[][] gram = new double[f * n][f * n];
            double[] rhs = new double[f * n];
            double[] qn = new double[n], p = new double[t], target = new double[t], kMean = new double[f], rv = new double[f];
            double[][] cov = new double[f][f];
            int start = 0;
            for (int m = 0; m < t; m++) {
                if (tokens.positions()[m] == 0) start = m;
                // The original attention of query m over its sequence's keys start..m.
                double max = Double.NEGATIVE_INFINITY;
                for (int s = start; s <= m; s++) {
                    double dot = 0;
                    for (int d = 0; d < dh; d++) dot += qr[m][h * dh + d] * kr[s][j * dh + d];
                    p[s] = dot * scale;
                    max = Math.max(max, p[s]);
                    double rem = 0;
                    for (int d : nope) rem += qr[m][h * dh + d] * kr[s][j * dh + d];
                    target[s] = rem;
                }
                double sum = 0;
                for (int s = start; s <= m; s++) sum += p[s] = Math.exp(p[s] - max);
                double tMean = 0;
                java.util.Arrays.fill(kMean, 0);
                for (int s = start; s <= m; s++) {
                    p[s] /= sum;
                    tMean += p[s] * target[s];
                    for (int d = 0; d < f; d++) kMean[d] += p[s] * kHat[s][off + d];
                }
                for (double[] row : cov) java.util.Arrays.fill(row, 0);
                java.util.Arrays.fill(rv, 0);
                for (int s = start; s <= m; s++) {
                    double ts = target[s] - tMean;
                    for (int d = 0; d < f; d++) {
                        double kd = p[s] * (kHat[s][off + d] - kMean[d]);
                        rv[d] += kd * ts;
                        for (int e = 0; e <= d; e++) cov[d][e] += kd * (kHat[s][off + e] - kMean[e]);
                    }
                }
                for (int d = 0; d < n; d++) qn[d] = q[m][h * dh + nope[d]];
                // Unknown (i, a) = M[i][a] at i * n + a multiplies k_i q_a: the normal equations get cov (x) q q^T.
                for (int i = 0; i < f; i++) {
                    for (int c = 0; c <= i; c++) {
                        double cv = cov[i][c];
                        for (int aa = 0; aa < n; aa++) {
                            double cq = cv * qn[aa];
                            for (int b = 0; b < n; b++) gram[i * n + aa][c * n + b] += cq * qn[b];
                        }
                    }
                    for (int aa = 0; aa < n; aa++) rhs[i * n + aa] += rv[i] * qn[aa];
                }
            }
            out[h] = solve(a, gram, rhs, n);
        }
        return out;
    }

    /** The normal equations (lower block triangle filled) with the ridge towards the identity, solved by LAPACK. */
    private static double[][] solve(Arena a, double[][] gram, double[] rhs, int n) {
        int f = n;
        int u = f * n;
        for (int i = 0; i < f; i++) {
            for (int c = 0; c < i; c++) {
                for (int aa = 0; aa < n; aa++) for (int b = 0; b < n; b++) gram[c * n + b][i * n + aa] = gram[i * n + aa][c * n + b];
            }
        }
        double trace = 0;
        for (int i = 0; i < u; i++) trace += gram[i][i];
        double ridge = RIDGE * Math.max(trace / u, Double.MIN_NORMAL);
        Matrix gm = Matrix.allocate(a, u, u), r = Matrix.allocate(a, u, 1);
        for (int i = 0; i < u; i++) {
            for (int c = 0; c < u; c++) gm.set(i, c, gram[i][c] + (i == c ? ridge : 0));
            r.set(i, 0, rhs[i] + (i / n == i % n ? ridge : 0));
        }
        Matrix sol = Linalg.lstsq(a, gm, r);
        double[][] m = new double[f][n];
        for (int i = 0; i < f; i++) for (int aa = 0; aa < n; aa++) m[i][aa] = sol.get(i * n + aa, 0);
        return m;
    }

    static Matrix matrix(Arena a, float[][] rows) {
        Matrix m = Matrix.allocate(a, rows.length, rows[0].length);
        for (int i = 0; i < rows.length; i++) for (int e = 0; e < rows[i].length; e++) m.set(i, e, rows[i][e]);
        return m;
    }

    static double[][] withBias(double[][] rows, double[] bias) {
        if (bias != null) for (double[] row : rows) for (int i = 0; i < row.length; i++) row[i] += bias[i];
        return rows;
    }

    /** Heads of dh values rotated as RoPE does at each token's position (HF layout: pair i = dims i, i + half). */
    static double[][] rotated(double[][] v, int[] pos, double[] theta, int dh, int half) {
        double[][] out = new double[v.length][];
        for (int t = 0; t < v.length; t++) {
            out[t] = v[t].clone();
            for (int h = 0; h < v[t].length / dh; h++) {
                for (int i = 0; i < half; i++) {
                    double ang = pos[t] * theta[i], c = Math.cos(ang), s = Math.sin(ang);
                    double x0 = v[t][h * dh + i], x1 = v[t][h * dh + i + half];
                    out[t][h * dh + i] = x0 * c - x1 * s;
                    out[t][h * dh + i + half] = x0 * s + x1 * c;
                }
            }
        }
        return out;
    }

    /** The query rows of head h's nope part mapped by b: row i = sum_a b[i][a] * wq row nope[a] (bias likewise). */
    static void apply(Matrix qOut, double[] bqOut, int outRow0, Matrix wq, double[] bq, int srcRow0, int[] nope, double[][] b) {
        int n = nope.length;
        for (int i = 0; i < n; i++) {
            for (int e = 0; e < wq.cols(); e++) {
                double v = 0;
                for (int aa = 0; aa < n; aa++) v += b[i][aa] * wq.get(srcRow0 + nope[aa], e);
                qOut.set(outRow0 + i, e, v);
            }
            if (bq != null) {
                double v = 0;
                for (int aa = 0; aa < n; aa++) v += b[i][aa] * bq[srcRow0 + nope[aa]];
                bqOut[outRow0 + i] = v;
            }
        }
    }
}
