package org.mla4j.convert;

import java.lang.foreign.Arena;
import java.util.LinkedHashMap;
import java.util.Map;

import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConvertOptions.LatentNorm;
import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * TransMLA for one layer (mla-conversion.md, "TransMLA"), producing the layer's tensors of a stock {@code deepseek2}
 * file:
 * <ol>
 *   <li>RoRoPE + FreqFold: per group of F adjacent frequencies, the eigenvectors U_g of the key second moment across
 *       the KV heads and the group's frequencies (real and imaginary parts as separate samples) rotate the keys; the
 *       top F/c components of each group keep RoPE (component fc of group g on frequency theta_{gF + fc c}), the rest
 *       lose it. P below is that rotation of the concatenated key heads: rope rows first, as the adjacent pairs of
 *       deepseek2's k_pe, then the NoPE rows.</li>
 *   <li>BKV-PCA: the NoPE keys (divided by alpha, the key/value norm ratio) and the values share a latent of C dims,
 *       the top eigenvectors R of their second moment (from the calibration activations, or the weights only). With
 *       activations the key errors are also weighed as the queries see them (G^1/2 K_nope, G the queries' second
 *       moment in the rotated key coordinates), so the latent keeps the key directions that move scores.</li>
 *   <li>The query keeps its original d_h dims as q_nope and gets q_pe = P_rope W_q; all of q is multiplied by
 *       sqrt((d_h + m)/d_h) because deepseek2 scales scores by 1/sqrt(d_h + m).</li>
 *   <li>The latent RMSNorm that deepseek2 always applies is made an identity by construction ("Exact latent RMSNorm
 *       for stock engines"): the latent rows of attn_kv_a_mqa are scaled by a tiny s, the norm weight is sqrt(eps)/s.</li>
 * </ol>
 */
final class TransMlaLayer {
    /** Damping of the RoRoPE and BKV-PCA second moments, as TransMLA adds it (1% of the mean diagonal). */
    private static final double DAMPING = 0.01;
    /** Bound on the relative error of the exact latent norm per layer (mla-conversion.md recommends ~1e-10). */
    private static final double NORM_DELTA = 1e-10;

    private TransMlaLayer() {
    }

    static Map<String, Object> convert(Arena a, SourceWeights src, int layer, ConversionPlan plan, LayerStats stats,
            int freqFold, float[] attnNorm) {
        Hyperparameters hp = src.hparams();
        int dh = hp.headDimK(), half = dh / 2, nh = hp.heads(), hkv = hp.kvHeads(), g = hp.groupSize();
        int lat = hkv * dh, m = plan.ropeDims(), c = plan.latent(), collapse = dh / m, f = freqFold;
        int groups = half / f, keptPerGroup = f / collapse;
        Matrix wk = src.key(a, layer), wv = src.value(a, layer), wq = src.query(a, layer);

        // 1. RoRoPE + FreqFold: the rotation P (lat x lat) of the concatenated key heads.
        Matrix rot = Matrix.allocate(a, lat, lat);
        int nopeAt = m;
        for (int grp = 0; grp < groups; grp++) {
            int feats = hkv * f;
            int[] re = new int[feats], im = new int[feats];
            for (int j = 0; j < hkv; j++) {
                for (int fi = 0; fi < f; fi++) {
                    re[j * f + fi] = j * dh + grp * f + fi;
                    im[j * f + fi] = re[j * f + fi] + half;
                }
            }
            Matrix h = sum(a, Dense.secondMoment(a, Dense.rows(a, wk, re), null, stats.moment()),
                    Dense.secondMoment(a, Dense.rows(a, wk, im), null, stats.moment()));
            Dense.damp(h, DAMPING);
            Matrix u = Linalg.eigh(a, h, feats).vectors();
            for (int k = 0; k < feats; k++) {
                int rowRe, rowIm;
                if (k < keptPerGroup) {
                    int p = grp * keptPerGroup + k;
                    rowRe = 2 * p;
                    rowIm = 2 * p + 1;
                } else {
                    rowRe = nopeAt++;
                    rowIm = nopeAt++;
                }
                for (int x = 0; x < feats; x++) {
                    rot.set(rowRe, re[x], u.get(x, k));
                    rot.set(rowIm, im[x], u.get(x, k));
                }
            }
        }
        Matrix wkRot = Linalg.multiply(a, rot, false, wk, false);
        Matrix kPe = Dense.rowRange(a, wkRot, 0, m);
        // With one KV head and m = d_h every key dim keeps RoPE: the latent holds the values alone.
        boolean keysInLatent = lat > m;
        Matrix kNope = keysInLatent ? Dense.rowRange(a, wkRot, m, lat - m) : null;
        Matrix metricInv = null;
        if (keysInLatent && plan.options().pcaFromActivations()) {
            // Weigh the NoPE key errors as the queries see them: E[(q.dk)^2] = dk^T G dk with G the query second moment
            // in the rotated key coordinates, G = sum_j P_nope,j (sum over heads h of group j of E[q_h q_h^T]) P_nope,j^T.
            Matrix gm = Matrix.allocate(a, lat - m, lat - m);
            for (int j = 0; j < hkv; j++) {
                Matrix qj = Matrix.allocate(a, dh, dh);
                for (int head = j * g; head < (j + 1) * g; head++) {
                    Matrix mm = Dense.secondMoment(a, Dense.rowRange(a, wq, head * dh, dh), null, stats.moment());
                    for (int x = 0; x < dh; x++) for (int y2 = 0; y2 < dh; y2++) qj.set(x, y2, qj.get(x, y2) + mm.get(x, y2));
                }
                Matrix pn = Dense.colRange(a, Dense.rowRange(a, rot, m, lat - m), j * dh, dh);
                Linalg.gemm(1.0, Linalg.multiply(a, pn, false, qj, false), false, pn, true, 1.0, gm);
            }
            Dense.damp(gm, DAMPING);
            Dense.Roots roots = Dense.metricRoots(a, gm);
            metricInv = roots.inverse();
            Matrix root = roots.root();
            kNope = Linalg.multiply(a, root, false, kNope, false);
        }

        // 2. BKV-PCA of [K_nope / alpha ; V].
        double alpha = keysInLatent ? meanRms(a, kNope, stats, plan.options().pcaFromActivations())
                / meanRms(a, wv, stats, plan.options().pcaFromActivations()) * plan.keyBalance() : 1.0;
        Matrix y = keysInLatent ? Dense.stack(a, Dense.scaled(a, kNope, 1.0 / alpha), wv) : wv;
        Matrix cy = plan.options().pcaFromActivations() ? Dense.secondMoment(a, y, null, stats.moment())
                : Linalg.multiply(a, y, false, y, true);
        Dense.damp(cy, DAMPING);
        Matrix pcs = Linalg.eigh(a, cy, c).vectors(); // (2 lat - m) x C
        Matrix down = Linalg.multiply(a, pcs, true, y, false); // C x E
        Matrix rK = keysInLatent ? Dense.rowRange(a, pcs, 0, lat - m) : null;
        if (metricInv != null) rK = Linalg.multiply(a, metricInv, false, rK, false); // back to unweighted keys
        Matrix rV = Dense.rowRange(a, pcs, lat - m, lat);

        // 3. Queries and the per-head absorption matrices.
        Matrix kb = Matrix.allocate(a, nh * c, dh);
        Matrix vb = Matrix.allocate(a, nh * dh, c);
        for (int head = 0; head < nh; head++) {
            int j = head / g;
            Matrix pj = Dense.colRange(a, rot, j * dh, dh); // lat x dh
            if (keysInLatent) {
                Matrix kbh = Dense.scaled(a, Linalg.multiply(a, Dense.rowRange(a, pj, m, lat - m), true, rK, false), alpha);
                for (int cc = 0; cc < c; cc++) for (int d = 0; d < dh; d++) kb.set(head * c + cc, d, kbh.get(d, cc));
            }
            copyRows(Dense.rowRange(a, rV, j * dh, dh), vb, head * dh);
        }

        // 4. The latent norm.
        Map<String, Object> out = new LinkedHashMap<>();
        LatentNorm kind = plan.options().latentNorm();
        Normed latent = normed(a, down, kind, hp, attnNorm, stats);
        int qRank = plan.options().qLoraRank();
        if (qRank > 0) {
            // q-LoRA: the top principal directions R_q of the queries; q = W_qb RMSNorm(W_qa x) with W_qa = R_q^T W_q and
            // W_qb = [full query rows] R_q, the norm made an identity like the latent's.
            Matrix qPca = Linalg.eigh(a, damped(Dense.secondMoment(a, wq, null, stats.moment())), qRank).vectors();
            Normed qa = normed(a, Linalg.multiply(a, qPca, true, wq, false), kind, hp, attnNorm, stats);
            out.put("attn_q_a.weight", qa.rows);
            out.put("attn_q_a_norm.weight", qa.weight);
            out.put("attn_q_b.weight", headQueries(a, qPca, rot, hp, m));
        } else {
            out.put("attn_q.weight", headQueries(a, wq, rot, hp, m));
        }
        out.put("attn_kv_a_mqa.weight", Dense.stack(a, latent.rows, kPe));
        out.put("attn_kv_a_norm.weight", latent.weight);
        out.put("attn_k_b.weight", kb);
        out.put("attn_v_b.weight", vb);
        return out;
    }

    /**
     * deepseek2 query rows from the n_head x d_h rows X of the original query (W_q itself, or the q-LoRA directions
     * R_q): per head [X_h ; P_rope,j X_h] (q_nope, then q_pe = the rope rows of the key rotation applied to the head's
     * query), all times sqrt((d_h + m)/d_h) because deepseek2 scales scores by 1/sqrt(d_h + m).
     */
    private static Matrix headQueries(Arena a, Matrix x, Matrix rot, Hyperparameters hp, int m) {
        int dh = hp.headDimK(), nh = hp.heads(), g = hp.groupSize();
        double scale = Math.sqrt((double) (dh + m) / dh);
        Matrix q = Matrix.allocate(a, nh * (dh + m), x.cols());
        for (int head = 0; head < nh; head++) {
            Matrix xh = Dense.rowRange(a, x, head * dh, dh);
            Matrix ropeRows = Dense.colRange(a, Dense.rowRange(a, rot, 0, m), (head / g) * dh, dh); // m x dh
            copyRows(Dense.scaled(a, xh, scale), q, head * (dh + m));
            copyRows(Dense.scaled(a, Linalg.multiply(a, ropeRows, false, xh, false), scale), q, head * (dh + m) + dh);
        }
        return q;
    }

    /** Rows that feed an RMSNorm, and the norm's weight. */
    record Normed(Matrix rows, double[] weight) {
    }

    /** The latent rows w (the linear map the norm should leave unchanged) with the exact norm (see {@link #normed}). */
    static Normed exactNorm(Arena a, Matrix w, Hyperparameters hp, float[] attnNorm) {
        return normed(a, w, LatentNorm.EXACT, hp, attnNorm, null);
    }

    /**
     * The rows W of a projection whose output z = W x passes an RMSNorm in deepseek2, made to leave z unchanged:
     * EXACT scales W by a tiny s (the norm then works in its linear regime, eps dominating) and sets the weight to
     * sqrt(eps)/s; CALIBRATED keeps W and sets the weight to the RMS of z over the calibration tokens.
     */
    private static Normed normed(Arena a, Matrix w, LatentNorm kind, Hyperparameters hp, float[] attnNorm, LayerStats stats) {
        int n = w.rows();
        double eps = hp.rmsEps();
        double[] weight = new double[n];
        if (kind == LatentNorm.EXACT) {
            double maxG2 = 0;
            for (float g : attnNorm) maxG2 = Math.max(maxG2, (double) g * g);
            // ||z||^2 <= ||W||_F^2 ||x||^2 and ||x||^2 < E max(attn_norm^2): a bound on mean(z^2) for any token.
            double bound = Dense.frobeniusSquared(w) * hp.embeddingLength() * maxG2 / n;
            double s = Math.sqrt(2 * NORM_DELTA * eps / bound);
            java.util.Arrays.fill(weight, Math.sqrt(eps) / s);
            return new Normed(Dense.scaled(a, w, s), weight);
        }
        Matrix zz = Dense.secondMoment(a, w, null, stats.moment());
        double ms = 0;
        for (int i = 0; i < n; i++) ms += zz.get(i, i);
        java.util.Arrays.fill(weight, Math.sqrt(ms / n));
        return new Normed(w, weight);
    }

    private static Matrix damped(Matrix m) {
        Dense.damp(m, DAMPING);
        return m;
    }

    /** Mean over the rows of W of the RMS of (W x) over the calibration inputs (or of the row norms of W). */
    private static double meanRms(Arena a, Matrix w, LayerStats stats, boolean activations) {
        double sum = 0;
        if (activations) {
            Matrix mm = Dense.secondMoment(a, w, null, stats.moment());
            for (int i = 0; i < w.rows(); i++) sum += Math.sqrt(Math.max(mm.get(i, i), 0));
        } else {
            for (int i = 0; i < w.rows(); i++) {
                double s = 0;
                for (int k = 0; k < w.cols(); k++) s += w.get(i, k) * w.get(i, k);
                sum += Math.sqrt(s);
            }
        }
        return sum / w.rows();
    }

    private static Matrix sum(Arena a, Matrix x, Matrix y) {
        Matrix out = x.copy(a);
        for (int r = 0; r < x.rows(); r++) for (int k = 0; k < x.cols(); k++) out.set(r, k, x.get(r, k) + y.get(r, k));
        return out;
    }

    private static void copyRows(Matrix from, Matrix to, int at) {
        for (int r = 0; r < from.rows(); r++) for (int k = 0; k < from.cols(); k++) to.set(at + r, k, from.get(r, k));
    }
}
