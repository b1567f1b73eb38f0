package org.mla4j.synth;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.synth.Synth.Planned;

/** Metadata and tensor plan of random-weight MLA models (deepseek2 as llama.cpp reads it, and mha2mla). */
final class MlaSynth {
    private MlaSynth() {
    }

    static void putMetadata(GgufWriter w, MlaSynthSpec s, int fileType, SynthVocab vocab) {
        String a = s.arch() + ".";
        Synth.putCommon(w, s.arch(), s.name(), fileType, s.nCtx(), s.nEmbd(), s.nLayer(), s.nFf(), s.nHead(),
                s.ropeDim(), s.ropeBase(), s.rmsEps());
        w.putUInt32(a + "attention.kv_lora_rank", s.kvLoraRank());
        w.putUInt32(a + "vocab_size", s.nVocab());
        if (s.isDeepseek2()) {
            // formats.md, "Dense-only deepseek2": what llama.cpp requires even without experts.
            if (s.legacyKvB()) { // attn_kv_b: llama.cpp's non-MLA mode, decompressed to n_head KV heads
                w.putUInt32(a + "attention.head_count_kv", s.nHead());
                w.putUInt32(a + "attention.key_length", s.headDimK());
                w.putUInt32(a + "attention.value_length", s.vDim());
                w.putUInt32(a + "attention.q_lora_rank", s.qLoraRank());
                w.putUInt32(a + "leading_dense_block_count", s.nLayer());
                w.putUInt32(a + "expert_feed_forward_length", s.nFf());
                w.putUInt32(a + "expert_shared_count", 0);
            } else {
                org.mla4j.gguf.Deepseek2Keys.putMla(w, s.nLayer(), s.nFf(), s.kvLoraRank(), s.ropeDim(), s.nopeDim(),
                        s.vDim(), s.qLoraRank(), s.moe() != null);
            }
            if (s.moe() != null) putMoe(w, s.moe());
            if (s.yarn() != null) {
                w.putString(a + "rope.scaling.type", "yarn");
                w.putFloat32(a + "rope.scaling.factor", s.yarn().factor());
                w.putUInt32(a + "rope.scaling.original_context_length", s.yarn().originalContext());
                w.putFloat32(a + "rope.scaling.yarn_log_multiplier", 0.1f * s.yarn().mscaleAllDim());
            }
        } else {
            w.putUInt32(a + "attention.head_count_kv", s.nHeadKv());
            w.putUInt32(a + "attention.key_length", s.headDimK());
        }
        Synth.putTokenizer(w, vocab);
    }

    /** The MoE keys as llama.cpp's converter writes them for DeepSeek V2/V3. */
    private static void putMoe(GgufWriter w, MlaSynthSpec.MoeShape m) {
        String a = "deepseek2.";
        w.putUInt32(a + "leading_dense_block_count", m.denseLayers());
        w.putUInt32(a + "expert_feed_forward_length", m.expertFf());
        w.putUInt32(a + "expert_count", m.experts());
        w.putUInt32(a + "expert_used_count", m.used());
        w.putUInt32(a + "expert_shared_count", m.shared());
        w.putFloat32(a + "expert_weights_scale", m.weightsScale());
        w.putBool(a + "expert_weights_norm", m.normWeights());
        w.putUInt32(a + "expert_gating_func", m.gating());
        if (m.groups() > 1) {
            w.putUInt32(a + "expert_group_count", m.groups());
            w.putUInt32(a + "expert_group_used_count", m.groupsUsed());
        }
    }

    /**
     * A MoE layer's FFN tensors (the router F32, as llama-quantize keeps it). Without shared experts the shared
     * tensors are left out: llama.cpp requires them (and fails with a floating-point exception on empty ones), so
     * such files run in mla4j only.
     */
    private static void planMoe(List<Planned> p, String b, MlaSynthSpec s, GgmlType type) {
        MlaSynthSpec.MoeShape m = s.moe();
        long e = s.nEmbd(), x = m.experts(), f = m.expertFf(), fs = (long) m.expertFf() * m.shared();
        p.add(Synth.matrix(b + "ffn_gate_inp.weight", GgmlType.F32, e, x, Synth.scaled(1, e)));
        if (m.bias()) p.add(new Planned(b + "exp_probs_b.bias", GgmlType.F32, new long[] {x}, false, 0.05f));
        p.add(Synth.projection3(b + "ffn_gate_exps.weight", type, e, f, x));
        p.add(Synth.projection3(b + "ffn_up_exps.weight", type, e, f, x));
        p.add(Synth.projection3(b + "ffn_down_exps.weight", type, f, e, x));
        if (fs == 0) return;
        p.add(Synth.projection(b + "ffn_gate_shexp.weight", type, e, fs));
        p.add(Synth.projection(b + "ffn_up_shexp.weight", type, e, fs));
        p.add(Synth.projection(b + "ffn_down_shexp.weight", type, fs, e));
    }

    static List<Planned> plan(MlaSynthSpec s, GgmlType type, long seed) {
        long e = s.nEmbd(), h = s.nHead(), c = s.kvLoraRank(), r = s.ropeDim(), n = s.nopeDim(), dv = s.vDim();
        long f = s.nFf();
        List<Planned> p = new ArrayList<>();
        p.add(Synth.matrix("token_embd.weight", type, e, s.nVocab(), 1)); // rows are activations
        for (int i = 0; i < s.nLayer(); i++) {
            String b = "blk." + i + ".";
            p.add(Synth.norm(b + "attn_norm.weight", e));
            if (s.isDeepseek2()) {
                if (s.qLoraRank() > 0) {
                    p.add(Synth.projection(b + "attn_q_a.weight", type, e, s.qLoraRank()));
                    p.add(Synth.norm(b + "attn_q_a_norm.weight", s.qLoraRank()));
                    p.add(Synth.projection(b + "attn_q_b.weight", type, s.qLoraRank(), h * (n + r)));
                } else {
                    p.add(Synth.projection(b + "attn_q.weight", type, e, h * (n + r)));
                }
                p.add(Synth.projection(b + "attn_kv_a_mqa.weight", type, e, c + r));
                p.add(Synth.norm(b + "attn_kv_a_norm.weight", c));
                if (s.legacyKvB()) {
                    p.add(Synth.projection(b + "attn_kv_b.weight", type, c, h * (n + dv)));
                } else {
                    p.add(Synth.projection3(b + "attn_k_b.weight", type, n, c, h));
                    p.add(Synth.projection3(b + "attn_v_b.weight", type, c, dv, h));
                }
            } else {
                long kvh = s.nHeadKv();
                p.add(Synth.projection(b + "attn_q.weight", type, e, h * (n + r)));
                if (s.bias()) p.add(Synth.bias(b + "attn_q.bias", h * (n + r)));
                if (r > 0) {
                    p.add(Synth.projection(b + "attn_k_rope.weight", type, e, kvh * r));
                    if (s.bias()) p.add(Synth.bias(b + "attn_k_rope.bias", kvh * r));
                    p.add(new Planned(b + "attn_rope_freqs", GgmlType.F32, new long[] {r / 2, kvh}, false, 0,
                            ropeFrequencies(s, i, seed)));
                }
                p.add(Synth.projection(b + "attn_kv_a.weight", type, e, c));
                if (s.latentNorm()) p.add(Synth.norm(b + "attn_kv_a_norm.weight", c));
                p.add(Synth.projection3(b + "attn_k_b.weight", type, n, c, kvh));
                p.add(Synth.projection3(b + "attn_v_b.weight", type, c, dv, kvh));
                if (s.bias()) p.add(Synth.bias(b + "attn_v_b.bias", kvh * dv));
            }
            p.add(Synth.projection(b + "attn_output.weight", type, h * dv, e));
            p.add(Synth.norm(b + "ffn_norm.weight", e));
            if (s.isMoeLayer(i)) {
                planMoe(p, b, s, type);
                continue;
            }
            p.add(Synth.projection(b + "ffn_gate.weight", type, e, f));
            p.add(Synth.projection(b + "ffn_up.weight", type, e, f));
            p.add(Synth.projection(b + "ffn_down.weight", type, f, e));
        }
        p.add(Synth.norm("output_norm.weight", e));
        p.add(Synth.projection("output.weight", type, e, s.nVocab()));
        return p;
    }

    /**
     * mha2mla's kept RoPE frequencies for one layer: for each KV head, ropeDim/2 distinct frequency indices i of the
     * original head (d_h/2 of them), ascending, as theta_i = base^(-2i/d_h) radians per position. A seeded random
     * choice per (layer, head) stands in for the S_2-norm selection.
     */
    static float[] ropeFrequencies(MlaSynthSpec s, int layer, long seed) {
        int dh = s.headDimK(), pairs = s.ropeDim() / 2, kvh = s.nHeadKv();
        float[] out = new float[pairs * kvh];
        SplittableRandom rng = new SplittableRandom(seed * 31 + layer);
        for (int g = 0; g < kvh; g++) {
            int[] idx = rng.ints(0, dh / 2).distinct().limit(pairs).sorted().toArray();
            for (int p = 0; p < pairs; p++) out[g * pairs + p] = (float) Math.pow(s.ropeBase(), -2.0 * idx[p] / dh);
        }
        return out;
    }
}
