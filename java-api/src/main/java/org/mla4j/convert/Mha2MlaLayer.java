package org.mla4j.convert;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConvertOptions.SvdMode;
import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * MHA2MLA for one layer (mla-conversion.md, "MHA2MLA"): partial RoPE on the kept frequencies of each KV head, then a
 * low-rank factorisation of [W_k,nope ; W_v] into a latent shared by all heads. Produces the layer's tensors of our
 * {@code mha2mla} architecture (docs/FORMAT.md). The exact form (plan.identity()) keeps RoPE on every key dim and
 * caches the values themselves (W_DKV = W_v, W_UV = I), which is the GQA-as-MLA rewrite of TransMLA too.
 */
final class Mha2MlaLayer {
    /** Damping of the input covariance before whitening, relative to its mean eigenvalue. */
    private static final double WHITEN_DAMPING = 1e-6;

    private Mha2MlaLayer() {
    }

    /** Tensor name suffix (after "blk.i.") -> Matrix (rows x cols = ggml {cols, rows}) or double[] (vectors). */
    static Map<String, Object> convert(Arena a, SourceWeights src, int layer, ConversionPlan plan, LayerStats stats,
            int context) {
        Hyperparameters hp = src.hparams();
        int dh = hp.headDimK(), half = dh / 2, nh = hp.heads(), hkv = hp.kvHeads(), g = hp.groupSize();
        int r = plan.ropeDims(), n = plan.nope(), c = plan.latent();
        double[] theta = src.thetas();
        int[][] kept = new int[hkv][];
        if (r == dh) {
            for (int j = 0; j < hkv; j++) kept[j] = java.util.stream.IntStream.range(0, half).toArray();
        } else if (plan.keptFrequencies() != null) {
            kept = plan.keptFrequencies()[layer];
        } else {
            kept = RopeSelection.select(plan.options().ropeSelect(), hp, r, stats, theta, context);
        }
        int[][] ropeRows = new int[hkv][r], nopeRows = new int[hkv][n];
        for (int j = 0; j < hkv; j++) {
            boolean[] isRope = new boolean[dh];
            for (int p = 0; p < r / 2; p++) {
                ropeRows[j][2 * p] = kept[j][p];
                ropeRows[j][2 * p + 1] = kept[j][p] + half;
                isRope[kept[j][p]] = isRope[kept[j][p] + half] = true;
            }
            for (int d = 0, k = 0; d < dh; d++) if (!isRope[d]) nopeRows[j][k++] = d;
        }

        Map<String, Object> out = new LinkedHashMap<>();
        // Queries: per head [nope rows | rope rows], the rope rows as adjacent pairs.
        int[] qRows = new int[nh * dh];
        for (int h = 0; h < nh; h++) {
            int j = h / g;
            for (int d = 0; d < n; d++) qRows[h * dh + d] = h * dh + nopeRows[j][d];
            for (int d = 0; d < r; d++) qRows[h * dh + n + d] = h * dh + ropeRows[j][d];
        }
        Matrix wq = src.query(a, layer);
        Matrix qOut = Dense.rows(a, wq, qRows);
        out.put("attn_q.weight", qOut);
        double[] bq = src.bias(layer, "attn_q");
        double[] bqOut = bq != null ? Dense.select(bq, qRows) : null;
        if (bq != null) out.put("attn_q.bias", bqOut);

        Matrix wk = src.key(a, layer);
        double[] bk = src.bias(layer, "attn_k");
        if (r > 0) {
            int[] kRope = new int[hkv * r];
            for (int j = 0; j < hkv; j++) for (int d = 0; d < r; d++) kRope[j * r + d] = j * dh + ropeRows[j][d];
            out.put("attn_k_rope.weight", Dense.rows(a, wk, kRope));
            if (bk != null) out.put("attn_k_rope.bias", Dense.select(bk, kRope));
            Matrix freqs = Matrix.allocate(a, hkv, r / 2);
            for (int j = 0; j < hkv; j++) for (int p = 0; p < r / 2; p++) freqs.set(j, p, theta[kept[j][p]]);
            out.put("attn_rope_freqs", freqs);
        }
        // The key-nope bias only adds q.b_k, the same for every key: softmax drops it (mla-conversion.md, biases).
        int[] kNope = new int[hkv * n];
        for (int j = 0; j < hkv; j++) for (int d = 0; d < n; d++) kNope[j * n + d] = j * dh + nopeRows[j][d];
        Matrix wkn = n > 0 ? Dense.rows(a, wk, kNope) : null;
        Matrix wv = src.value(a, layer);

        Matrix down, upK, upV;
        if (plan.identity()) {
            down = wv;
            upK = null;
            upV = Dense.identity(a, hkv * dh);
        } else if (plan.options().svd() == SvdMode.SPLIT) {
            Factor fk = factor(a, wkn, plan.latentKey(), stats, plan.options());
            Factor fv = factor(a, wv, c - plan.latentKey(), stats, plan.options());
            down = Dense.stack(a, fk.down, fv.down);
            upK = padColumns(a, fk.up, 0, c);
            upV = padColumns(a, fv.up, plan.latentKey(), c);
        } else {
            Dense.Roots keyMetric = n > 0 && plan.options().whiten() ? queryMetric(a, wq, nopeRows, hp, stats) : null;
            Matrix keys = keyMetric != null ? Linalg.multiply(a, keyMetric.root(), false, wkn, false) : wkn;
            // The key/value balance (searched on small models): keys divided by it weigh less in the shared latent.
            double balance = plan.keyBalance();
            if (n > 0 && balance != 1.0) keys = Dense.scaled(a, keys, 1.0 / balance);
            Matrix joint = n > 0 ? Dense.stack(a, keys, wv) : wv;
            Factor f = factor(a, joint, c, stats, plan.options());
            down = f.down;
            upK = n > 0 ? Dense.rowRange(a, f.up, 0, hkv * n) : null;
            if (n > 0 && balance != 1.0) upK = Dense.scaled(a, upK, balance);
            if (keyMetric != null) upK = Linalg.multiply(a, keyMetric.inverse(), false, upK, false);
            upV = Dense.rowRange(a, f.up, hkv * n, hkv * dh);
        }
        out.put("attn_kv_a.weight", down);
        if (n > 0 && stats.tokens() != null && QueryFit.applies(plan)) fitQueries(a, hp, theta, nopeRows, wq, bq, wk, bk, down, upK, qOut, bqOut, stats);
        if (n > 0) {
            Matrix kb = Matrix.allocate(a, hkv * c, n);
            for (int j = 0; j < hkv; j++) {
                for (int cc = 0; cc < c; cc++) for (int d = 0; d < n; d++) kb.set(j * c + cc, d, upK.get(j * n + d, cc));
            }
            out.put("attn_k_b.weight", kb);
        }
        out.put("attn_v_b.weight", upV);
        double[] bv = src.bias(layer, "attn_v");
        if (bv != null) out.put("attn_v_b.bias", bv);
        return out;
    }

    /** {@link QueryFit} against the converted keys (decompressed from the latent): rewrites qOut's nope rows and bias. */
    private static void fitQueries(Arena a, Hyperparameters hp, double[] theta, int[][] nopeRows, Matrix wq, double[] bq,
            Matrix wk, double[] bk, Matrix down, Matrix upK, Matrix qOut, double[] bqOut, LayerStats stats) {
        int dh = hp.headDimK(), g = hp.groupSize();
        Matrix keyNope = Linalg.multiply(a, upK, false, down, false);
        double[][][] b = QueryFit.fit(a, hp, theta, nopeRows, wq, bq, wk, bk, keyNope, stats.tokens());
        for (int h = 0; h < hp.heads(); h++) QueryFit.apply(qOut, bqOut, h * dh, wq, bq, h * dh, nopeRows[h / g], b[h]);
    }

    /**
     * The metric in which key-nope errors are measured when factorising with activations: E[(q . dk)^2] = dk^T G dk,
     * G block-diagonal over the KV heads, block j = sum over the query heads h of group j of E[q_nope,h q_nope,h^T].
     */
    static Dense.Roots queryMetric(Arena a, Matrix wq, int[][] nopeRows, Hyperparameters hp, LayerStats stats) {
        int dh = hp.headDimK(), g = hp.groupSize(), hkv = hp.kvHeads(), n = nopeRows[0].length;
        Matrix gm = Matrix.allocate(a, hkv * n, hkv * n);
        for (int j = 0; j < hkv; j++) {
            for (int h = j * g; h < (j + 1) * g; h++) {
                int[] rows = new int[n];
                for (int d = 0; d < n; d++) rows[d] = h * dh + nopeRows[j][d];
                Matrix mm = Dense.secondMoment(a, Dense.rows(a, wq, rows), null, stats.moment());
                for (int x = 0; x < n; x++) for (int y = 0; y < n; y++) {
                    gm.set(j * n + x, j * n + y, gm.get(j * n + x, j * n + y) + mm.get(x, y));
                }
            }
        }
        Dense.damp(gm, 0.01);
        return Dense.metricRoots(a, gm);
    }

    /** W ~ up * down with down (rank x E) and up (rows x rank). */
    record Factor(Matrix down, Matrix up) {
    }

    /**
     * The rank-k factorisation of W: plain SVD (all of Sigma in the up-projection, as the paper does), or whitened by
     * the input covariance S (the best rank-k fit of W x over the calibration inputs), optionally followed by the
     * least-squares refit of the up-projection, up = W S D^T (D S D^T)^-1.
     */
    static Factor factor(Arena a, Matrix w, int k, LayerStats stats, ConvertOptions o) {
        Factor f;
        if (o.whiten()) {
            Matrix s = Dense.inputCovariance(a, stats.moment());
            int e = s.rows();
            Linalg.Eigen eig = Linalg.eigh(a, s, e);
            double mean = Arrays.stream(eig.values()).map(v -> Math.max(v, 0)).average().orElse(1.0);
            double[] root = new double[e];
            for (int i = 0; i < e; i++) root[i] = Math.sqrt(Math.max(eig.values()[i], 0) + WHITEN_DAMPING * mean);
            Matrix l = eig.vectors().copy(a); // Q diag(root): S ~ L L^T
            for (int r = 0; r < e; r++) for (int cc = 0; cc < e; cc++) l.set(r, cc, l.get(r, cc) * root[cc]);
            Linalg.Svd svd = Linalg.svd(a, Linalg.multiply(a, w, false, l, false), k);
            Matrix vt = svd.vt().copy(a); // D = Vt diag(1/root) Q^T
            for (int r = 0; r < k; r++) for (int cc = 0; cc < e; cc++) vt.set(r, cc, vt.get(r, cc) / root[cc]);
            f = new Factor(Linalg.multiply(a, vt, false, eig.vectors(), true), timesDiag(a, svd.u(), svd.s()));
        } else {
            Linalg.Svd svd = Linalg.svd(a, w, k);
            f = new Factor(svd.vt(), timesDiag(a, svd.u(), svd.s()));
        }
        if (o.refit()) f = new Factor(f.down, refitUp(a, w, f.down, stats));
        return f;
    }

    /** argmin_U E||W x - U D x||^2 = W S D^T (D S D^T)^-1, solved as (D S D^T) U^T = D S W^T. */
    static Matrix refitUp(Arena a, Matrix w, Matrix down, LayerStats stats) {
        Matrix s = Dense.inputCovariance(a, stats.moment());
        Matrix sd = Linalg.multiply(a, s, false, down, true); // S D^T (E x k)
        Matrix gram = Linalg.multiply(a, down, false, sd, false); // D S D^T
        Matrix rhs = Linalg.multiply(a, sd, true, w, true); // D S W^T (k x rows)
        return Linalg.lstsq(a, gram, rhs).transpose(a);
    }

    private static Matrix timesDiag(Arena a, Matrix u, double[] s) {
        Matrix out = u.copy(a);
        for (int r = 0; r < u.rows(); r++) for (int cc = 0; cc < u.cols(); cc++) out.set(r, cc, u.get(r, cc) * s[cc]);
        return out;
    }

    /** m placed at columns [at, at + m.cols()) of a rows x width zero matrix. */
    private static Matrix padColumns(Arena a, Matrix m, int at, int width) {
        Matrix out = Matrix.allocate(a, m.rows(), width);
        for (int r = 0; r < m.rows(); r++) for (int cc = 0; cc < m.cols(); cc++) out.set(r, at + cc, m.get(r, cc));
        return out;
    }
}
