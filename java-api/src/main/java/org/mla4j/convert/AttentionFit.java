package org.mla4j.convert;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import org.mla4j.Hyperparameters;
import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * The attention fit of MHA2MLA (beyond the papers, in the spirit of their fine-tuning, but local and closed over
 * calibration data): after the closed-form conversion of a layer (partial RoPE, low-rank latent, query fit), every
 * attention matrix of the converted layer (attn_q, attn_k_rope, attn_kv_a, attn_k_b, attn_v_b) is adjusted by
 * gradient descent (Adam, full batch) so that the converted attention, run on the converted model's inputs of this
 * layer, reproduces the original attention's output on the original model's inputs:
 *
 * <pre>
 *   minimise  (1/T) sum_t || W_o (o_t - o*_t) ||^2
 * </pre>
 *
 * over the calibration tokens kept for the layer (whole sequences, causal attention, RoPE at their positions). The
 * closed-form steps each fit one piece with the others fixed; this fits them jointly through the softmax, which is
 * what the removed rotations need. Cost: steps x tokens x sequence length x heads x d_h, so it is made where the
 * converter searches (small models). The parameters with the lowest loss seen are kept, so it never makes the
 * calibration loss worse than the closed form.
 */
final class AttentionFit {
    static final int STEPS = 300;
    /** Adam's step, relative to each tensor's root mean square at the start. */
    static final double LEARNING_RATE = 0.01;

    private AttentionFit() {
    }

    /** Whether a plan gets the fit: mha2mla with RoPE removed from some dims, asked for, heads small enough. */
    static boolean applies(ConversionPlan plan) {
        return plan.arch().equals("mha2mla") && !plan.identity() && plan.options().attentionFit()
                && plan.source().headDimK() <= 16 && plan.ropeDims() < plan.source().headDimK();
    }

    /** Shapes: H query heads, Hkv KV heads, dh head dim, n nope dims, r rope dims, c latent, e embedding. */
    record Dims(int nh, int hkv, int dh, int n, int r, int c, int e) {
        int group() {
            return nh / hkv;
        }
    }

    /**
     * The trainable tensors, row-major: 0 q (nh*dh x e, per head [nope n | rope r as adjacent pairs]), 1 kRope
     * (hkv*r x e), 2 down (c x e), 3 upK (hkv*n x c), 4 upV (hkv*dh x c).
     */
    static final class Params {
        final double[][] w;

        Params(double[][] w) {
            this.w = w;
        }

        static Params zerosLike(Params p) {
            double[][] z = new double[p.w.length][];
            for (int i = 0; i < z.length; i++) z[i] = new double[p.w[i].length];
            return new Params(z);
        }

        Params copy() {
            double[][] z = new double[w.length][];
            for (int i = 0; i < z.length; i++) z[i] = w[i].clone();
            return new Params(z);
        }

        void add(Params o) {
            for (int i = 0; i < w.length; i++) for (int k = 0; k < w[i].length; k++) w[i][k] += o.w[i][k];
        }
    }

    /**
     * What stays fixed: biases (or null), the rope frequencies [hkv][r/2], the output metric W_o^T W_o (nh*dh)^2.
     */
    record Fixed(Dims d, double[] bq, double[] bkRope, double[] bv, double[][] freqs, double[] metric) {
    }

    /** One calibration sequence: converted inputs x (T x e), positions, the original attention outputs (T x nh*dh). */
    record Sequence(double[][] x, int[] pos, double[][] target) {
    }

    /**
     * Fits the converted layer's tensors in place (out: as {@link Mha2MlaLayer#convert} returns them).
     *
     * @return the relative loss {before, after}: sum ||W_o (o - o*)||^2 / sum ||W_o o*||^2
     */
    static double[] fit(Arena a, SourceWeights src, int layer, Map<String, Object> out, QueryFit.Tokens tokens,
            double[] theta, int threads) {
        Hyperparameters hp = src.hparams();
        Matrix q = (Matrix) out.get("attn_q.weight"), kRope = (Matrix) out.get("attn_k_rope.weight");
        Matrix down = (Matrix) out.get("attn_kv_a.weight"), kb = (Matrix) out.get("attn_k_b.weight");
        Matrix upV = (Matrix) out.get("attn_v_b.weight"), freqM = (Matrix) out.get("attn_rope_freqs");
        if (kRope == null || kb == null) return null; // nothing removed or nothing to fit
        int nh = hp.heads(), hkv = hp.kvHeads(), dh = hp.headDimK(), e = hp.embeddingLength();
        int c = down.rows(), r = kRope.rows() / hkv, n = dh - r;
        Dims d = new Dims(nh, hkv, dh, n, r, c, e);
        double[] upK = new double[hkv * n * c]; // attn_k_b holds (j*c + cc, dd) = upK[j*n + dd][cc]
        for (int j = 0; j < hkv; j++) {
            for (int cc = 0; cc < c; cc++) for (int dd = 0; dd < n; dd++) upK[(j * n + dd) * c + cc] = kb.get(j * c + cc, dd);
        }
        Params p = new Params(new double[][] {flat(q), flat(kRope), flat(down), upK, flat(upV)});
        double[][] freqs = freqM.toArray();
        Matrix wo = src.output(a, layer);
        double[] metric = flat(Linalg.multiply(a, wo, true, wo, false));
        Fixed f = new Fixed(d, (double[]) out.get("attn_q.bias"), (double[]) out.get("attn_k_rope.bias"),
                (double[]) out.get("attn_v_b.bias"), freqs, metric);
        Original orig = new Original(src.query(a, layer), src.bias(layer, "attn_q"), src.key(a, layer),
                src.bias(layer, "attn_k"), src.value(a, layer), src.bias(layer, "attn_v"));
        List<Sequence> data = sequences(a, d, orig, tokens, theta);
        double norm = 0;
        for (Sequence s : data) for (double[] o : s.target) norm += quadratic(metric, o, o.length);
        int tokenCount = tokens.positions().length;
        norm /= tokenCount;

        Params best = adam(p, f, data, Math.max(1, threads));
        double before = lossAndGradient(p, f, data, null, threads) / norm;
        double after = lossAndGradient(best, f, data, null, threads) / norm;
        if (after < before) {
            unflat(q, best.w[0]);
            unflat(kRope, best.w[1]);
            unflat(down, best.w[2]);
            for (int j = 0; j < hkv; j++) {
                for (int cc = 0; cc < c; cc++) for (int dd = 0; dd < n; dd++) kb.set(j * c + cc, dd, best.w[3][(j * n + dd) * c + cc]);
            }
            unflat(upV, best.w[4]);
        }
        return new double[] {before, after};
    }

    /** Adam on the full batch with a cosine schedule; returns the parameters of the lowest loss seen. */
    static Params adam(Params start, Fixed f, List<Sequence> data, int threads) {
        Params p = start.copy(), m = Params.zerosLike(p), v = Params.zerosLike(p), best = p.copy();
        double[] lr = new double[p.w.length];
        for (int i = 0; i < lr.length; i++) {
            double ss = 0;
            for (double x : p.w[i]) ss += x * x;
            lr[i] = LEARNING_RATE * Math.sqrt(ss / Math.max(1, p.w[i].length));
        }
        double bestLoss = Double.MAX_VALUE, b1 = 0.9, b2 = 0.999;
        for (int step = 0; step < STEPS; step++) {
            Params g = Params.zerosLike(p);
            double loss = lossAndGradient(p, f, data, g, threads);
            if (loss < bestLoss) {
                bestLoss = loss;
                best = p.copy();
            }
            double schedule = 0.5 * (1 + Math.cos(Math.PI * step / STEPS));
            double c1 = 1 - Math.pow(b1, step + 1), c2 = 1 - Math.pow(b2, step + 1);
            for (int i = 0; i < p.w.length; i++) {
                double[] w = p.w[i], gi = g.w[i], mi = m.w[i], vi = v.w[i];
                double step_i = lr[i] * schedule;
                for (int k = 0; k < w.length; k++) {
                    mi[k] = b1 * mi[k] + (1 - b1) * gi[k];
                    vi[k] = b2 * vi[k] + (1 - b2) * gi[k] * gi[k];
                    w[k] -= step_i * (mi[k] / c1) / (Math.sqrt(vi[k] / c2) + 1e-30);
                }
            }
        }
        double last = lossAndGradient(p, f, data, null, threads);
        return last < bestLoss ? p : best;
    }

    /**
     * The loss (1/T) sum_t (o_t - o*_t)^T M (o_t - o*_t) over all tokens, and its gradient added into grad (null:
     * loss only). Sequences are spread over threads, each with its own gradient, summed at the end.
     */
    static double lossAndGradient(Params p, Fixed f, List<Sequence> data, Params grad, int threads) {
        int tokens = 0;
        for (Sequence s : data) tokens += s.x.length;
        int chunks = Math.max(1, Math.min(threads, data.size()));
        double inv = 1.0 / tokens;
        Params[] grads = new Params[chunks];
        double[] losses = new double[chunks];
        IntStream.range(0, chunks).parallel().forEach(k -> {
            Params g = grad != null ? Params.zerosLike(p) : null;
            double l = 0;
            for (int i = k; i < data.size(); i += chunks) l += sequence(p, f, data.get(i), g, inv);
            grads[k] = g;
            losses[k] = l;
        });
        double loss = 0;
        for (int k = 0; k < chunks; k++) {
            loss += losses[k];
            if (grad != null) grad.add(grads[k]);
        }
        return loss;
    }

    /** Forward and backward of one sequence; returns its part of the loss (weight inv per token). */
    private static double sequence(Params p, Fixed f, Sequence s, Params g, double inv) {
        Dims d = f.d;
        int t = s.x.length, nh = d.nh, hkv = d.hkv, dh = d.dh, n = d.n, r = d.r, c = d.c, e = d.e, grp = d.group();
        double scale = 1.0 / Math.sqrt(dh);
        double[][] q = new double[t][], kr = new double[t][], lat = new double[t][], kn = new double[t][], v = new double[t][];
        for (int i = 0; i < t; i++) {
            q[i] = matvec(p.w[0], s.x[i], nh * dh, e, f.bq);
            kr[i] = matvec(p.w[1], s.x[i], hkv * r, e, f.bkRope);
            lat[i] = matvec(p.w[2], s.x[i], c, e, null);
            kn[i] = matvec(p.w[3], lat[i], hkv * n, c, null);
            v[i] = matvec(p.w[4], lat[i], hkv * dh, c, f.bv);
            for (int h = 0; h < nh; h++) rotate(q[i], h * dh + n, f.freqs[h / grp], s.pos[i], r, false);
            for (int j = 0; j < hkv; j++) rotate(kr[i], j * r, f.freqs[j], s.pos[i], r, false);
        }
        double[][][] prob = new double[nh][t][];
        double[][] o = new double[t][nh * dh];
        for (int h = 0; h < nh; h++) {
            int j = h / grp;
            for (int i = 0; i < t; i++) {
                double[] pr = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= i; u++) {
                    double dot = 0;
                    for (int x = 0; x < n; x++) dot += q[i][h * dh + x] * kn[u][j * n + x];
                    for (int x = 0; x < r; x++) dot += q[i][h * dh + n + x] * kr[u][j * r + x];
                    pr[u] = dot * scale;
                    max = Math.max(max, pr[u]);
                }
                double sum = 0;
                for (int u = 0; u <= i; u++) sum += pr[u] = Math.exp(pr[u] - max);
                for (int u = 0; u <= i; u++) {
                    pr[u] /= sum;
                    for (int x = 0; x < dh; x++) o[i][h * dh + x] += pr[u] * v[u][j * dh + x];
                }
                prob[h][i] = pr;
            }
        }
        int od = nh * dh;
        double loss = 0;
        double[][] go = new double[t][od];
        for (int i = 0; i < t; i++) {
            double[] diff = new double[od];
            for (int x = 0; x < od; x++) diff[x] = o[i][x] - s.target[i][x];
            for (int x = 0; x < od; x++) {
                double mx = 0;
                for (int y = 0; y < od; y++) mx += f.metric[x * od + y] * diff[y];
                loss += inv * diff[x] * mx;
                go[i][x] = 2 * inv * mx;
            }
        }
        if (g == null) return loss;

        double[][] gq = new double[t][nh * dh], gkr = new double[t][hkv * r], gkn = new double[t][hkv * n], gv = new double[t][hkv * dh];
        for (int h = 0; h < nh; h++) {
            int j = h / grp;
            for (int i = 0; i < t; i++) {
                double[] pr = prob[h][i], dp = new double[i + 1];
                double dot = 0;
                for (int u = 0; u <= i; u++) {
                    double acc = 0;
                    for (int x = 0; x < dh; x++) {
                        acc += go[i][h * dh + x] * v[u][j * dh + x];
                        gv[u][j * dh + x] += pr[u] * go[i][h * dh + x];
                    }
                    dp[u] = acc;
                    dot += pr[u] * acc;
                }
                for (int u = 0; u <= i; u++) {
                    double ds = pr[u] * (dp[u] - dot) * scale;
                    if (ds == 0) continue;
                    for (int x = 0; x < n; x++) {
                        gq[i][h * dh + x] += ds * kn[u][j * n + x];
                        gkn[u][j * n + x] += ds * q[i][h * dh + x];
                    }
                    for (int x = 0; x < r; x++) {
                        gq[i][h * dh + n + x] += ds * kr[u][j * r + x];
                        gkr[u][j * r + x] += ds * q[i][h * dh + n + x];
                    }
                }
            }
        }
        for (int i = 0; i < t; i++) {
            // Back through the rotations (R^T), then the projections.
            for (int h = 0; h < nh; h++) rotate(gq[i], h * dh + n, f.freqs[h / grp], s.pos[i], r, true);
            for (int j = 0; j < hkv; j++) rotate(gkr[i], j * r, f.freqs[j], s.pos[i], r, true);
            double[] glat = new double[c];
            for (int row = 0; row < hkv * n; row++) {
                double gr = gkn[i][row];
                if (gr == 0) continue;
                for (int cc = 0; cc < c; cc++) {
                    glat[cc] += gr * p.w[3][row * c + cc];
                    g.w[3][row * c + cc] += gr * lat[i][cc];
                }
            }
            for (int row = 0; row < hkv * dh; row++) {
                double gr = gv[i][row];
                for (int cc = 0; cc < c; cc++) {
                    glat[cc] += gr * p.w[4][row * c + cc];
                    g.w[4][row * c + cc] += gr * lat[i][cc];
                }
            }
            outer(g.w[0], gq[i], s.x[i]);
            outer(g.w[1], gkr[i], s.x[i]);
            outer(g.w[2], glat, s.x[i]);
        }
        return loss;
    }

    /** The original layer's attention projections (HF layout: RoPE pair i = dims i and i + d_h/2), biases or null. */
    record Original(Matrix wq, double[] bq, Matrix wk, double[] bk, Matrix wv, double[] bv) {
    }

    /**
     * The calibration tokens cut into their sequences (a position of 0 starts one): the converted inputs, and as
     * targets the original attention's outputs on the original inputs.
     */
    static List<Sequence> sequences(Arena a, Dims d, Original w, QueryFit.Tokens tokens, double[] theta) {
        int nh = d.nh, dh = d.dh, half = dh / 2, grp = d.group();
        Matrix xm = QueryFit.matrix(a, tokens.inputs());
        int[] pos = tokens.positions();
        double[][] qo = QueryFit.rotated(project(a, xm, w.wq, w.bq), pos, theta, dh, half);
        double[][] ko = QueryFit.rotated(project(a, xm, w.wk, w.bk), pos, theta, dh, half);
        double[][] vo = project(a, xm, w.wv, w.bv);
        int count = pos.length;
        List<Sequence> out = new ArrayList<>();
        double scale = 1.0 / Math.sqrt(dh);
        for (int start = 0; start < count; ) {
            int end = start + 1;
            while (end < count && pos[end] != 0) end++;
            int t = end - start;
            double[][] target = new double[t][nh * dh], x = new double[t][];
            for (int i = 0; i < t; i++) {
                x[i] = toDouble(tokens.convertedInputs()[start + i]);
                for (int h = 0; h < nh; h++) {
                    int j = h / grp;
                    double[] pr = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int u = 0; u <= i; u++) {
                        double dot = 0;
                        for (int dd = 0; dd < dh; dd++) dot += qo[start + i][h * dh + dd] * ko[start + u][j * dh + dd];
                        pr[u] = dot * scale;
                        max = Math.max(max, pr[u]);
                    }
                    for (int u = 0; u <= i; u++) sum += pr[u] = Math.exp(pr[u] - max);
                    for (int u = 0; u <= i; u++) {
                        for (int dd = 0; dd < dh; dd++) target[i][h * dh + dd] += pr[u] / sum * vo[start + u][j * dh + dd];
                    }
                }
            }
            int[] p = java.util.Arrays.copyOfRange(pos, start, end);
            out.add(new Sequence(x, p, target));
            start = end;
        }
        return out;
    }

    private static double[][] project(Arena a, Matrix x, Matrix w, double[] bias) {
        return QueryFit.withBias(Linalg.multiply(a, x, false, w, true).toArray(), bias);
    }

    /** Adjacent-pair RoPE of r dims at off in place (pair p = dims 2p, 2p+1, frequency freqs[p]); transposed: R^T. */
    static void rotate(double[] v, int off, double[] freqs, int pos, int r, boolean transposed) {
        for (int pp = 0; pp < r / 2; pp++) {
            double ang = pos * freqs[pp], cs = Math.cos(ang), sn = transposed ? -Math.sin(ang) : Math.sin(ang);
            double x0 = v[off + 2 * pp], x1 = v[off + 2 * pp + 1];
            v[off + 2 * pp] = x0 * cs - x1 * sn;
            v[off + 2 * pp + 1] = x0 * sn + x1 * cs;
        }
    }

    private static double[] matvec(double[] w, double[] x, int rows, int cols, double[] bias) {
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++) {
            double acc = bias != null ? bias[i] : 0;
            for (int k = 0; k < cols; k++) acc += w[i * cols + k] * x[k];
            y[i] = acc;
        }
        return y;
    }

    private static void outer(double[] g, double[] left, double[] right) {
        int cols = right.length;
        for (int i = 0; i < left.length; i++) {
            double l = left[i];
            if (l == 0) continue;
            for (int k = 0; k < cols; k++) g[i * cols + k] += l * right[k];
        }
    }

    private static double quadratic(double[] m, double[] x, int n) {
        double acc = 0;
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) acc += x[i] * m[i * n + k] * x[k];
        return acc;
    }

    private static double[] flat(Matrix m) {
        double[] out = new double[m.rows() * m.cols()];
        for (int i = 0; i < m.rows(); i++) for (int k = 0; k < m.cols(); k++) out[i * m.cols() + k] = m.get(i, k);
        return out;
    }

    private static void unflat(Matrix m, double[] v) {
        for (int i = 0; i < m.rows(); i++) for (int k = 0; k < m.cols(); k++) m.set(i, k, v[i * m.cols() + k]);
    }

    private static double[] toDouble(float[] row) {
        double[] out = new double[row.length];
        for (int i = 0; i < row.length; i++) out[i] = row[i];
        return out;
    }
}
