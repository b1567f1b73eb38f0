package org.mla4j.mla;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;

/**
 * A plain reference forward pass of deepseek2 and mha2mla models (F32 weights only), written from the formulas of
 * docs (mla-conversion.md "Target: DeepSeek MLA", formats.md "How llama.cpp computes MLA", docs/FORMAT.md) with
 * straightforward loops: per head, keys and values are decompressed from the cached latent
 * (k_nope = W_UK c, v = W_UV c) and attention runs in the ordinary MHA form. Nothing here is shared with the
 * native absorbed implementation it checks.
 */
final class ReferenceMla {
    private final GgufFile g;
    private final String arch;
    private final int E, H, L, F, V, C, Q, R, N, Dv, nKv, nAbs, nRope;
    private final float eps, base, scale;
    private final boolean legacy;
    /** Per layer: cached latents and rope keys of all past tokens. */
    private final List<List<float[]>> latents = new ArrayList<>();
    private final List<List<float[]>> ropeKeys = new ArrayList<>();

    ReferenceMla(GgufFile g) {
        this.g = g;
        arch = g.getString("general.architecture").orElseThrow();
        E = i("embedding_length");
        H = i("attention.head_count");
        L = i("block_count");
        F = i("feed_forward_length");
        C = i("attention.kv_lora_rank");
        R = i("rope.dimension_count");
        eps = (float) (double) g.getDouble(arch + ".attention.layer_norm_rms_epsilon").orElseThrow();
        base = (float) (double) g.getDouble(arch + ".rope.freq_base").orElseThrow();
        V = (int) g.tensor("token_embd.weight").orElseThrow().shape()[1];
        if (arch.equals("deepseek2")) {
            Q = (int) g.getLong(arch + ".attention.q_lora_rank").orElse(0);
            legacy = !g.contains(arch + ".attention.key_length_mla");
            int dk = legacy ? i("attention.key_length") : i("attention.key_length_mla");
            Dv = legacy ? i("attention.value_length") : i("attention.value_length_mla");
            N = dk - R;
            nKv = H;
            nAbs = H;
            nRope = 1;
        } else {
            Q = 0;
            legacy = false;
            int dh = i("attention.key_length");
            N = dh - R;
            Dv = dh;
            nKv = i("attention.head_count_kv");
            nAbs = nKv;
            nRope = nKv;
        }
        scale = (float) (1.0 / Math.sqrt(N + R));
        for (int l = 0; l < L; l++) {
            latents.add(new ArrayList<>());
            ropeKeys.add(new ArrayList<>());
        }
    }

    private int i(String key) {
        return (int) g.getLong(arch + "." + key).orElseThrow(() -> new IllegalStateException("missing " + key));
    }

    private float[] tensor(String name) {
        GgufTensorInfo t = g.tensor(name).orElseThrow(() -> new IllegalStateException("missing " + name));
        if (t.type() != GgmlType.F32) throw new IllegalStateException(name + " must be F32 for the reference");
        MemorySegment m = g.tensorData(t);
        float[] out = new float[(int) t.elementCount()];
        MemorySegment.copy(m, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, out.length);
        return out;
    }

    private float[] optional(String name) {
        return g.tensor(name).isPresent() ? tensor(name) : null;
    }

    /** y = W x for a GGUF matrix {in, out} (row o at o*in). */
    static float[] mul(float[] w, float[] x, int in, int out) {
        float[] y = new float[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int k = 0; k < in; k++) s += (double) w[o * in + k] * x[k];
            y[o] = (float) s;
        }
        return y;
    }

    static float[] rmsNorm(float[] x, float[] w, float eps) {
        double ss = 0;
        for (float v : x) ss += (double) v * v;
        float sc = (float) (1.0 / Math.sqrt(ss / x.length + eps));
        float[] y = new float[x.length];
        for (int k = 0; k < x.length; k++) y[k] = x[k] * sc * (w == null ? 1f : w[k]);
        return y;
    }

    /** Adjacent-pair rotation of x[off, off+n) at position pos with angular frequencies theta. */
    static void rope(float[] x, int off, int n, int pos, double[] theta) {
        for (int p = 0; p < n / 2; p++) {
            double a = pos * theta[p];
            double c = Math.cos(a), s = Math.sin(a);
            double x0 = x[off + 2 * p], x1 = x[off + 2 * p + 1];
            x[off + 2 * p] = (float) (x0 * c - x1 * s);
            x[off + 2 * p + 1] = (float) (x0 * s + x1 * c);
        }
    }

    private double[] thetas(int layer, int ropeHead) {
        double[] t = new double[R / 2];
        float[] table = arch.equals("mha2mla") ? tensor("blk." + layer + ".attn_rope_freqs") : null;
        for (int p = 0; p < R / 2; p++) {
            t[p] = table != null ? table[ropeHead * (R / 2) + p] : Math.pow(base, -2.0 * p / R);
        }
        return t;
    }

    /** Logits of the next token after appending {@code token} at position {@code pos}. */
    float[] step(int token, int pos) {
        float[] emb = tensor("token_embd.weight");
        float[] x = new float[E];
        System.arraycopy(emb, token * E, x, 0, E);
        for (int l = 0; l < L; l++) {
            String b = "blk." + l + ".";
            float[] xn = rmsNorm(x, tensor(b + "attn_norm.weight"), eps);
            int dk = N + R;
            float[] q;
            if (Q > 0) {
                float[] qa = rmsNorm(mul(tensor(b + "attn_q_a.weight"), xn, E, Q), tensor(b + "attn_q_a_norm.weight"), eps);
                q = mul(tensor(b + "attn_q_b.weight"), qa, Q, H * dk);
            } else {
                q = mul(tensor(b + "attn_q.weight"), xn, E, H * dk);
                float[] bq = optional(b + "attn_q.bias");
                if (bq != null) for (int k = 0; k < q.length; k++) q[k] += bq[k];
            }
            float[] latent;
            float[] kr;
            if (arch.equals("deepseek2")) {
                float[] kv = mul(tensor(b + "attn_kv_a_mqa.weight"), xn, E, C + R);
                latent = java.util.Arrays.copyOf(kv, C);
                kr = java.util.Arrays.copyOfRange(kv, C, C + R);
            } else {
                latent = mul(tensor(b + "attn_kv_a.weight"), xn, E, C);
                kr = R > 0 ? mul(tensor(b + "attn_k_rope.weight"), xn, E, nKv * R) : new float[0];
                float[] bk = optional(b + "attn_k_rope.bias");
                if (bk != null) for (int k = 0; k < kr.length; k++) kr[k] += bk[k];
            }
            for (int rh = 0; rh < nRope; rh++) rope(kr, rh * R, R, pos, thetas(l, rh));
            float[] kvNorm = optional(b + "attn_kv_a_norm.weight");
            if (kvNorm != null) latent = rmsNorm(latent, kvNorm, eps);
            latents.get(l).add(latent);
            ropeKeys.get(l).add(kr);

            float[] kb = legacy ? null : tensor(b + "attn_k_b.weight");
            float[] vb = legacy ? null : tensor(b + "attn_v_b.weight");
            float[] kvb = legacy ? tensor(b + "attn_kv_b.weight") : null;
            float[] vBias = optional(b + "attn_v_b.bias");
            float[] att = new float[H * Dv];
            int n = latents.get(l).size();
            for (int h = 0; h < H; h++) {
                int slice = h / (H / nAbs), rh = h / (H / nRope), kvHead = h / (H / nKv);
                rope(q, h * dk + N, R, pos, thetas(l, rh));
                double[] scores = new double[n];
                float[][] values = new float[n][];
                for (int j = 0; j < n; j++) {
                    float[] c = latents.get(l).get(j);
                    double s = 0;
                    for (int d = 0; d < N; d++) { // k_nope[d] = sum_c W_UK[d][c] c[c]
                        double k = 0;
                        for (int cc = 0; cc < C; cc++) {
                            float w = legacy ? kvb[(h * (N + Dv) + d) * C + cc] : kb[(slice * C + cc) * N + d];
                            k += (double) w * c[cc];
                        }
                        s += q[h * dk + d] * k;
                    }
                    float[] krj = ropeKeys.get(l).get(j);
                    for (int d = 0; d < R; d++) s += (double) q[h * dk + N + d] * krj[rh * R + d];
                    scores[j] = s * scale;
                    float[] v = new float[Dv];
                    for (int e = 0; e < Dv; e++) {
                        double acc = 0;
                        for (int cc = 0; cc < C; cc++) {
                            float w = legacy ? kvb[(h * (N + Dv) + N + e) * C + cc] : vb[(slice * Dv + e) * C + cc];
                            acc += (double) w * c[cc];
                        }
                        v[e] = (float) acc;
                    }
                    values[j] = v;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double s : scores) max = Math.max(max, s);
                double sum = 0;
                for (int j = 0; j < n; j++) sum += scores[j] = Math.exp(scores[j] - max);
                for (int e = 0; e < Dv; e++) {
                    double o = 0;
                    for (int j = 0; j < n; j++) o += scores[j] / sum * values[j][e];
                    att[h * Dv + e] = (float) o + (vBias != null ? vBias[kvHead * Dv + e] : 0f);
                }
            }
            float[] o = mul(tensor(b + "attn_output.weight"), att, H * Dv, E);
            for (int k = 0; k < E; k++) x[k] += o[k];
            float[] xf = rmsNorm(x, tensor(b + "ffn_norm.weight"), eps);
            float[] gate = mul(tensor(b + "ffn_gate.weight"), xf, E, F);
            float[] up = mul(tensor(b + "ffn_up.weight"), xf, E, F);
            for (int k = 0; k < F; k++) gate[k] = (float) (gate[k] / (1 + Math.exp(-gate[k]))) * up[k];
            float[] down = mul(tensor(b + "ffn_down.weight"), gate, F, E);
            for (int k = 0; k < E; k++) x[k] += down[k];
        }
        float[] xo = rmsNorm(x, tensor("output_norm.weight"), eps);
        return mul(tensor("output.weight"), xo, E, V);
    }
}
