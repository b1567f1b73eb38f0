package org.mla4j.convert;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.mla4j.Hyperparameters;
import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * The attention fit (beyond the papers, in the spirit of their fine-tuning, but local and closed over calibration
 * data): after the closed-form conversion of a layer, every attention matrix of the converted layer is adjusted by
 * gradient descent (Adam, full batch) so that the converted attention, run on the converted model's inputs of this
 * layer, reproduces the original attention's output on the original model's inputs:
 *
 * <pre>
 *   minimise  (1/T) sum_t || W_o (o_t - o*_t) ||^2
 * </pre>
 *
 * over the calibration tokens kept for the layer (whole sequences, causal attention, RoPE at their positions). The
 * closed-form steps each fit one piece with the others fixed; this fits them jointly through the softmax, which is
 * what the removed rotations need. Both outputs are one attention form: per query head a query of n dims scored
 * through the latent and r dims with RoPE; the latent's keys and values come from up-projections per key (value) head,
 * the RoPE keys from rope-key heads. mha2mla has K = V = R = n_kv (each KV head its own rope key); deepseek2 (TransMLA)
 * has K = V = n_head and one shared rope key, its latent norm made an identity by construction, so the fit works on
 * the linear map behind it and the norm is rebuilt afterwards.
 *
 * <p>Every product is a BLAS matrix product over whole sequences ({@link HeapGemm}); cost per step about
 * 6 x tokens x (E x (query + rope + latent rows) + n_head x (seq x d_qk x 2 + d_v x seq)) flops. The number of steps
 * is bounded by {@link #STEPS} and by a time budget per layer (--fit-seconds, default {@value #SECONDS_PER_LAYER}),
 * measured on the first step.
 * The parameters with the lowest loss seen are kept, so it never makes the calibration loss worse than the closed form.
 */
final class AttentionFit {
    private static final System.Logger LOG = System.getLogger("org.mla4j.convert");
    static final int STEPS = 300;
    /** Default time budget of one layer's fit, in seconds (the steps are cut to fit it, the schedule follows). */
    static final double SECONDS_PER_LAYER = 25;
    /** Adam's step, relative to each tensor's root mean square at the start. */
    static final double LEARNING_RATE = 0.01;
    /** Double-precision flop rate the estimates assume: BLAS products on two cores, the Java softmax and copies included. */
    static final double FLOPS = 4e9;
    /** Steps a layer's budget should hold on models too large for the search (sets their token sample). */
    static final int MIN_STEPS_LARGE = 40;
    /** Most calibration tokens kept for the fit of a model too large for the search. */
    static final long MAX_TOKENS_LARGE = 2048;

    private AttentionFit() {
    }

    /**
     * Whether a plan gets the fit: mha2mla with RoPE removed from some dims, or deepseek2 with the exact latent norm and
     * no query compression; asked for (--attention-fit).
     */
    static boolean applies(ConversionPlan plan) {
        if (plan.identity() || !plan.options().attentionFit()) return false;
        if (plan.arch().equals("deepseek2")) {
            return plan.options().qLoraRank() == 0 && plan.options().latentNorm() == ConvertOptions.LatentNorm.EXACT;
        }
        return plan.ropeDims() < plan.source().headDimK();
    }

    /**
     * Shapes: nh query heads, R rope-key heads, K key heads, V value heads (each divides nh), dv value dims per head,
     * n latent-scored and r RoPE query dims per head, c latent, e embedding, scale of the scores.
     */
    record Dims(int nh, int ropeHeads, int keyHeads, int valueHeads, int dv, int n, int r, int c, int e, double scale) {
        int qd() {
            return n + r;
        }
    }

    /** Estimated seconds of one layer's fit for a plan, tokens kept for it and sequence length (the --dry-run cost). */
    static double estimatedSeconds(ConversionPlan plan, long tokens, int sequence) {
        return Math.min(plan.options().fitSeconds(), STEPS * stepFlops(plan, tokens, sequence) / FLOPS);
    }

    /** Double-precision work of one step (forward and backward over every kept token). */
    static double stepFlops(ConversionPlan plan, long tokens, int sequence) {
        Hyperparameters hp = plan.source();
        Dims d = dims(plan);
        return 6.0 * tokens * ((double) hp.embeddingLength() * (d.nh * d.qd() + d.ropeHeads * d.r + d.c)
                + (double) d.c * (d.keyHeads * d.n + d.valueHeads * d.dv)
                + (double) d.nh * Math.min(sequence, tokens) * (2.0 * d.qd() + 2.0 * d.dv))
                + 2.0 * tokens * (double) (d.nh * d.dv) * (d.nh * d.dv);
    }

    /**
     * Calibration tokens kept for the fit of a model too large for the search (whole sequences, at least one): as many
     * as let about {@link #MIN_STEPS_LARGE} steps run within the time budget of a layer, at most {@link
     * #MAX_TOKENS_LARGE}. More tokens per step would leave too few steps to move the parameters.
     */
    static long tokensForLargeModel(ConversionPlan plan, long calibTokens, int sequence) {
        long tokens = Math.max(1, Math.min(sequence, calibTokens));
        while (tokens + sequence <= Math.min(calibTokens, MAX_TOKENS_LARGE)
                && MIN_STEPS_LARGE * stepFlops(plan, tokens + sequence, sequence) / FLOPS <= plan.options().fitSeconds()) {
            tokens += sequence;
        }
        return tokens;
    }

    static Dims dims(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        int nh = hp.heads(), hkv = hp.kvHeads(), dh = hp.headDimK();
        if (plan.arch().equals("deepseek2")) {
            int m = plan.ropeDims();
            return new Dims(nh, 1, nh, nh, dh, dh, m, plan.latent(), hp.embeddingLength(), 1.0 / Math.sqrt(dh + m));
        }
        return new Dims(nh, hkv, hkv, hkv, dh, plan.nope(), plan.ropeDims(), plan.latent(), hp.embeddingLength(),
                1.0 / Math.sqrt(dh));
    }

    /**
     * The trainable tensors, row-major: 0 q (nh*(n+r) x e, per head [n | r rope dims as adjacent pairs]), 1 kRope
     * (R*r x e), 2 down (c x e), 3 upK (K*n x c), 4 upV (V*dv x c).
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
    }

    /**
     * What stays fixed: biases (or null), the rope frequencies [R][r/2], the output metric W_o^T W_o (nh*dv)^2.
     */
    record Fixed(Dims d, double[] bq, double[] bkRope, double[] bv, double[][] freqs, double[] metric) {
    }

    /** One calibration sequence: converted inputs x (T x e, row-major), positions, original outputs (T x nh*dv). */
    record Sequence(int t, double[] x, int[] pos, double[] target) {
    }

    /**
     * Fits the converted layer's tensors in place (out: as {@link Mha2MlaLayer#convert} or {@link TransMlaLayer#convert}
     * return them).
     *
     * @return the relative loss {before, after}: sum ||W_o (o - o*)||^2 / sum ||W_o o*||^2, or null when nothing is fitted
     */
    static double[] fit(Arena a, SourceWeights src, int layer, ConversionPlan plan, Map<String, Object> out,
            QueryFit.Tokens tokens, double[] theta) {
        Hyperparameters hp = src.hparams();
        Dims d = dims(plan);
        boolean ds2 = plan.arch().equals("deepseek2");
        Matrix q = (Matrix) out.get("attn_q.weight"), kb = (Matrix) out.get("attn_k_b.weight");
        Matrix upV = (Matrix) out.get("attn_v_b.weight");
        Matrix kRope, down;
        double[][] freqs;
        double[] normScale = null;
        if (ds2) {
            // [latent C | k_pe m]; the exact latent norm multiplies the latent rows by weight/sqrt(eps).
            Matrix mqa = (Matrix) out.get("attn_kv_a_mqa.weight");
            double[] nw = (double[]) out.get("attn_kv_a_norm.weight");
            down = Dense.rowRange(a, mqa, 0, d.c);
            normScale = new double[d.c];
            for (int i = 0; i < d.c; i++) normScale[i] = nw[i] / Math.sqrt(hp.rmsEps());
            for (int i = 0; i < d.c; i++) for (int k = 0; k < d.e; k++) down.set(i, k, down.get(i, k) * normScale[i]);
            kRope = Dense.rowRange(a, mqa, d.c, d.r);
            int collapse = hp.headDimK() / d.r;
            freqs = new double[1][d.r / 2];
            for (int p = 0; p < d.r / 2; p++) freqs[0][p] = theta[p * collapse];
        } else {
            kRope = (Matrix) out.get("attn_k_rope.weight");
            down = (Matrix) out.get("attn_kv_a.weight");
            if (kRope == null || kb == null) return null; // nothing removed or nothing to fit
            freqs = ((Matrix) out.get("attn_rope_freqs")).toArray();
        }
        int n = d.n, c = d.c, keyHeads = d.keyHeads;
        double[] upK = new double[keyHeads * n * c]; // attn_k_b holds (j*c + cc, dd) = upK[j*n + dd][cc]
        for (int j = 0; j < keyHeads; j++) {
            for (int cc = 0; cc < c; cc++) for (int dd = 0; dd < n; dd++) upK[(j * n + dd) * c + cc] = kb.get(j * c + cc, dd);
        }
        Params p = new Params(new double[][] {flat(q), flat(kRope), flat(down), upK, flat(upV)});
        Matrix wo = src.output(a, layer);
        double[] metric = flat(Linalg.multiply(a, wo, true, wo, false));
        Fixed f = new Fixed(d, (double[]) out.get("attn_q.bias"), (double[]) out.get("attn_k_rope.bias"),
                (double[]) out.get("attn_v_b.bias"), freqs, metric);
        Original orig = new Original(src.query(a, layer), src.bias(layer, "attn_q"), src.key(a, layer),
                src.bias(layer, "attn_k"), src.value(a, layer), src.bias(layer, "attn_v"), hp.kvHeads());
        List<Sequence> data = sequences(a, d, orig, tokens, theta, hp.headDimK());
        double norm = 0;
        int od = d.nh * d.dv;
        for (Sequence s : data) for (int i = 0; i < s.t; i++) norm += quadratic(metric, s.target, i * od, od);
        norm /= tokens.positions().length;

        double[] losses = new double[4];
        Params best;
        try (HeapGemm blas = new HeapGemm()) {
            best = adam(p, f, data, blas, losses, plan.options().fitSeconds());
        }
        double before = losses[0] / norm, after = losses[1] / norm;
        LOG.log(System.Logger.Level.DEBUG, () -> String.format(java.util.Locale.ROOT,
                "attention fit, layer %d: %d tokens, %d steps of %.2f s, relative loss %.5f -> %.5f", layer,
                tokens.positions().length, (int) losses[2], losses[3], before, after));
        if (after < before) {
            unflat(q, best.w[0]);
            for (int j = 0; j < keyHeads; j++) {
                for (int cc = 0; cc < c; cc++) for (int dd = 0; dd < n; dd++) kb.set(j * c + cc, dd, best.w[3][(j * n + dd) * c + cc]);
            }
            unflat(upV, best.w[4]);
            unflat(kRope, best.w[1]);
            unflat(down, best.w[2]);
            if (ds2) {
                TransMlaLayer.Normed normed = TransMlaLayer.exactNorm(a, down, hp, src.attentionNorm(layer));
                out.put("attn_kv_a_mqa.weight", Dense.stack(a, normed.rows(), kRope));
                out.put("attn_kv_a_norm.weight", normed.weight());
            }
        }
        return new double[] {before, after};
    }

    /**
     * Adam on the full batch with a cosine schedule over as many steps as the time budget allows; returns the
     * parameters of the lowest loss seen. losses: set to {loss at the start, loss of the returned parameters, steps,
     * seconds of the first step}.
     */
    static Params adam(Params start, Fixed f, List<Sequence> data, HeapGemm blas, double[] losses, double seconds) {
        // Every buffer is allocated once: a step makes no garbage the size of the parameters (on a 1B model they are
        // ~100 MB each, and a heap grown to hold that garbage would double the conversion's memory).
        Params p = start.copy(), m = Params.zerosLike(p), v = Params.zerosLike(p), best = p.copy(), g = Params.zerosLike(p);
        double[] lr = new double[p.w.length];
        for (int i = 0; i < lr.length; i++) {
            double ss = 0;
            for (double x : p.w[i]) ss += x * x;
            lr[i] = LEARNING_RATE * Math.sqrt(ss / Math.max(1, p.w[i].length));
        }
        double bestLoss = Double.MAX_VALUE, b1 = 0.9, b2 = 0.999;
        int steps = STEPS;
        long t0 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            for (double[] gi : g.w) java.util.Arrays.fill(gi, 0);
            double loss = lossAndGradient(p, f, data, g, blas);
            if (step == 0) {
                losses[0] = loss;
                double perStep = (System.nanoTime() - t0) / 1e9;
                steps = (int) Math.max(10, Math.min(STEPS, seconds / Math.max(perStep, 1e-6)));
                if (losses.length > 3) {
                    losses[2] = steps;
                    losses[3] = perStep;
                }
            }
            if (loss < bestLoss) {
                bestLoss = loss;
                for (int i = 0; i < p.w.length; i++) System.arraycopy(p.w[i], 0, best.w[i], 0, p.w[i].length);
            }
            double schedule = 0.5 * (1 + Math.cos(Math.PI * step / steps));
            double c1 = 1 - Math.pow(b1, step + 1), c2 = 1 - Math.pow(b2, step + 1);
            for (int i = 0; i < p.w.length; i++) {
                double[] w = p.w[i], gi = g.w[i], mi = m.w[i], vi = v.w[i];
                double stepSize = lr[i] * schedule;
                for (int k = 0; k < w.length; k++) {
                    mi[k] = b1 * mi[k] + (1 - b1) * gi[k];
                    vi[k] = b2 * vi[k] + (1 - b2) * gi[k] * gi[k];
                    w[k] -= stepSize * (mi[k] / c1) / (Math.sqrt(vi[k] / c2) + 1e-30);
                }
            }
        }
        double last = lossAndGradient(p, f, data, null, blas);
        if (last < bestLoss) {
            best = p;
            bestLoss = last;
        }
        losses[1] = bestLoss;
        return best;
    }

    /** The loss (1/T) sum_t (o_t - o*_t)^T M (o_t - o*_t) over all tokens, and its gradient added into grad (null: loss only). */
    static double lossAndGradient(Params p, Fixed f, List<Sequence> data, Params grad, HeapGemm blas) {
        int tokens = 0;
        for (Sequence s : data) tokens += s.t;
        double loss = 0;
        for (Sequence s : data) loss += sequence(p, f, s, grad, 1.0 / tokens, blas);
        return loss;
    }

    /** Forward and backward of one sequence; returns its part of the loss (weight inv per token). */
    static double sequence(Params p, Fixed f, Sequence s, Params g, double inv, HeapGemm blas) {
        Dims d = f.d;
        int t = s.t, e = d.e, nh = d.nh, n = d.n, r = d.r, c = d.c, qd = d.qd(), dv = d.dv;
        int nr = d.ropeHeads, nk = d.keyHeads, nv = d.valueHeads, od = nh * dv;
        double[] q = bias(blas.multiply(s.x, t, e, false, p.w[0], nh * qd, e, true), t, f.bq);
        double[] kr = r > 0 ? bias(blas.multiply(s.x, t, e, false, p.w[1], nr * r, e, true), t, f.bkRope) : null;
        double[] lat = blas.multiply(s.x, t, e, false, p.w[2], c, e, true);
        double[] kn = n > 0 ? blas.multiply(lat, t, c, false, p.w[3], nk * n, c, true) : null;
        double[] v = bias(blas.multiply(lat, t, c, false, p.w[4], nv * dv, c, true), t, f.bv);
        for (int i = 0; i < t; i++) {
            for (int h = 0; h < nh; h++) rotate(q, i * nh * qd + h * qd + n, f.freqs[h / (nh / nr)], s.pos[i], r, false);
            for (int j = 0; j < nr && r > 0; j++) rotate(kr, i * nr * r + j * r, f.freqs[j], s.pos[i], r, false);
        }
        double[][] qh = new double[nh][], kh = new double[nh][], vh = new double[nh][], prob = new double[nh][];
        double[] o = new double[t * od];
        for (int h = 0; h < nh; h++) {
            int jk = h / (nh / nk), jr = h / (nh / nr), jv = h / (nh / nv);
            qh[h] = block(q, t, nh * qd, h * qd, qd);
            kh[h] = new double[t * qd];
            for (int i = 0; i < t; i++) {
                if (n > 0) System.arraycopy(kn, i * nk * n + jk * n, kh[h], i * qd, n);
                if (r > 0) System.arraycopy(kr, i * nr * r + jr * r, kh[h], i * qd + n, r);
            }
            double[] pr = blas.multiply(qh[h], t, qd, false, kh[h], t, qd, true);
            for (int i = 0; i < t; i++) {
                int row = i * t;
                double max = Double.NEGATIVE_INFINITY;
                for (int u = 0; u <= i; u++) max = Math.max(max, pr[row + u] *= d.scale);
                double sum = 0;
                for (int u = 0; u <= i; u++) sum += pr[row + u] = Math.exp(pr[row + u] - max);
                double is = 1.0 / sum;
                for (int u = 0; u <= i; u++) pr[row + u] *= is;
                for (int u = i + 1; u < t; u++) pr[row + u] = 0;
            }
            prob[h] = pr;
            vh[h] = block(v, t, nv * dv, jv * dv, dv);
            double[] oh = blas.multiply(pr, t, t, false, vh[h], t, dv, false);
            for (int i = 0; i < t; i++) System.arraycopy(oh, i * dv, o, i * od + h * dv, dv);
        }
        double[] diff = new double[t * od];
        for (int k = 0; k < diff.length; k++) diff[k] = o[k] - s.target[k];
        double[] dm = blas.multiply(diff, t, od, false, f.metric, od, od, false);
        double loss = 0;
        for (int k = 0; k < diff.length; k++) loss += diff[k] * dm[k];
        loss *= inv;
        if (g == null) return loss;

        double[] gq = new double[t * nh * qd], gkr = r > 0 ? new double[t * nr * r] : null;
        double[] gkn = n > 0 ? new double[t * nk * n] : null, gv = new double[t * nv * dv];
        for (int h = 0; h < nh; h++) {
            int jk = h / (nh / nk), jr = h / (nh / nr), jv = h / (nh / nv);
            double[] goh = block(dm, t, od, h * dv, dv);
            for (int k = 0; k < goh.length; k++) goh[k] *= 2 * inv;
            double[] dp = blas.multiply(goh, t, dv, false, vh[h], t, dv, true);
            double[] gvh = blas.multiply(prob[h], t, t, true, goh, t, dv, false);
            for (int i = 0; i < t; i++) for (int x = 0; x < dv; x++) gv[i * nv * dv + jv * dv + x] += gvh[i * dv + x];
            double[] pr = prob[h];
            for (int i = 0; i < t; i++) {
                int row = i * t;
                double dot = 0;
                for (int u = 0; u <= i; u++) dot += pr[row + u] * dp[row + u];
                for (int u = 0; u <= i; u++) dp[row + u] = pr[row + u] * (dp[row + u] - dot) * d.scale;
                for (int u = i + 1; u < t; u++) dp[row + u] = 0;
            }
            double[] gqh = blas.multiply(dp, t, t, false, kh[h], t, qd, false);
            double[] gkh = blas.multiply(dp, t, t, true, qh[h], t, qd, false);
            for (int i = 0; i < t; i++) {
                System.arraycopy(gqh, i * qd, gq, i * nh * qd + h * qd, qd);
                for (int x = 0; x < n; x++) gkn[i * nk * n + jk * n + x] += gkh[i * qd + x];
                for (int x = 0; x < r; x++) gkr[i * nr * r + jr * r + x] += gkh[i * qd + n + x];
            }
        }
        for (int i = 0; i < t; i++) {
            // Back through the rotations (R^T), then the projections.
            for (int h = 0; h < nh; h++) rotate(gq, i * nh * qd + h * qd + n, f.freqs[h / (nh / nr)], s.pos[i], r, true);
            for (int j = 0; j < nr && r > 0; j++) rotate(gkr, i * nr * r + j * r, f.freqs[j], s.pos[i], r, true);
        }
        blas.gemm(1.0, gq, t, nh * qd, true, s.x, t, e, false, 1.0, g.w[0]);
        if (r > 0) blas.gemm(1.0, gkr, t, nr * r, true, s.x, t, e, false, 1.0, g.w[1]);
        double[] glat = blas.multiply(gv, t, nv * dv, false, p.w[4], nv * dv, c, false);
        blas.gemm(1.0, gv, t, nv * dv, true, lat, t, c, false, 1.0, g.w[4]);
        if (n > 0) {
            blas.gemm(1.0, gkn, t, nk * n, false, p.w[3], nk * n, c, false, 1.0, glat);
            blas.gemm(1.0, gkn, t, nk * n, true, lat, t, c, false, 1.0, g.w[3]);
        }
        blas.gemm(1.0, glat, t, c, true, s.x, t, e, false, 1.0, g.w[2]);
        return loss;
    }

    /** Columns [at, at + width) of a rows x cols row-major array, as a rows x width array. */
    private static double[] block(double[] m, int rows, int cols, int at, int width) {
        double[] out = new double[rows * width];
        for (int i = 0; i < rows; i++) System.arraycopy(m, i * cols + at, out, i * width, width);
        return out;
    }

    private static double[] bias(double[] m, int rows, double[] b) {
        if (b == null) return m;
        int cols = b.length;
        for (int i = 0; i < rows; i++) for (int k = 0; k < cols; k++) m[i * cols + k] += b[k];
        return m;
    }

    /** The original layer's attention projections (HF layout: RoPE pair i = dims i and i + d_h/2), biases or null. */
    record Original(Matrix wq, double[] bq, Matrix wk, double[] bk, Matrix wv, double[] bv, int kvHeads) {
    }

    /**
     * The calibration tokens cut into their sequences (a position of 0 starts one): the converted inputs, and as
     * targets the original attention's outputs on the original inputs.
     */
    static List<Sequence> sequences(Arena a, Dims d, Original w, QueryFit.Tokens tokens, double[] theta, int dh) {
        int nh = d.nh, half = dh / 2, grp = nh / w.kvHeads, e = d.e, od = nh * dh;
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
            double[] target = new double[t * od], x = new double[t * e];
            for (int i = 0; i < t; i++) {
                float[] row = tokens.convertedInputs()[start + i];
                for (int k = 0; k < e; k++) x[i * e + k] = row[k];
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
                        for (int dd = 0; dd < dh; dd++) target[i * od + h * dh + dd] += pr[u] / sum * vo[start + u][j * dh + dd];
                    }
                }
            }
            int[] p = java.util.Arrays.copyOfRange(pos, start, end);
            out.add(new Sequence(t, x, p, target));
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

    private static double quadratic(double[] m, double[] x, int off, int n) {
        double acc = 0;
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) acc += x[off + i] * m[i * n + k] * x[off + k];
        return acc;
    }

    private static double[] flat(Matrix m) {
        double[] out = new double[m.rows() * m.cols()];
        java.lang.foreign.MemorySegment.copy(m.segment(), java.lang.foreign.ValueLayout.JAVA_DOUBLE, 0, out, 0, out.length);
        return out;
    }

    private static void unflat(Matrix m, double[] v) {
        java.lang.foreign.MemorySegment.copy(v, 0, m.segment(), java.lang.foreign.ValueLayout.JAVA_DOUBLE, 0, v.length);
    }
}
