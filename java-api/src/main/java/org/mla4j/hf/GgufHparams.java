package org.mla4j.hf;

import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufType;

/**
 * The hyperparameters of a llama, qwen2 or deepseek2 GGUF that a Hugging Face config.json needs, with the checks
 * that the model can be expressed there at all.
 *
 * @param headDim llama/qwen2 per-head size
 * @param ropeScale linear rope scaling factor (1 = none)
 */
record GgufHparams(String arch, int embd, int layers, int heads, int kvHeads, int headDim, int ff, int vocab,
        int ctx, double ropeBase, double rmsEps, double ropeScale, boolean tied, int qLora, int kvLora, int nope,
        int rope, int vDim) {

    boolean mla() {
        return arch.equals("deepseek2");
    }

    static GgufHparams read(GgufFile g) {
        String arch = g.getString("general.architecture").orElseThrow(() -> new IllegalArgumentException(g.path()
                + ": no general.architecture"));
        if (arch.equals("mha2mla")) {
            throw new IllegalArgumentException(g.path() + ": architecture mha2mla cannot be written as a Hugging Face "
                    + "model: its per-KV-head rope keys are not expressible as deepseek_v3; convert with --method transmla "
                    + "(without --lossless) for a model that exports");
        }
        if (!arch.equals("llama") && !arch.equals("qwen2") && !arch.equals("deepseek2")) {
            throw new IllegalArgumentException(g.path() + ": architecture '" + arch + "' cannot be written as a Hugging "
                    + "Face model (llama, qwen2, deepseek2 only)");
        }
        Keys k = new Keys(g, arch + ".");
        int embd = k.u32("embedding_length"), layers = k.u32("block_count"), heads = k.u32("attention.head_count");
        int ff = k.u32("feed_forward_length");
        int vocab = g.contains(arch + ".vocab_size") ? k.u32("vocab_size")
                : (int) g.tensor("token_embd.weight").orElseThrow(() -> new IllegalArgumentException(g.path()
                        + ": missing tensor 'token_embd.weight'")).shape()[1];
        int ctx = k.u32("context_length");
        double base = k.f32("rope.freq_base", 10000), eps = k.f32("attention.layer_norm_rms_epsilon", 1e-5);
        String scaling = g.getString(arch + ".rope.scaling.type").orElse("none");
        double scale = 1;
        if (scaling.equals("linear") && !arch.equals("deepseek2")) {
            double factor = k.f32("rope.scaling.factor", 1);
            scale = factor > 0 ? factor : 1;
        } else if (!scaling.equals("none")) {
            throw new IllegalArgumentException(g.path() + ": rope scaling '" + scaling + "' cannot be written back");
        }
        if (g.tensor("rope_freqs.weight").isPresent()) {
            throw new IllegalArgumentException(g.path() + ": rope_freqs.weight (llama3 rope scaling) cannot be written "
                    + "back: the factors do not determine transformers' rope_scaling parameters");
        }
        boolean tied = g.tensor("output.weight").isEmpty();
        if (!arch.equals("deepseek2")) {
            int kvHeads = g.contains(arch + ".attention.head_count_kv") ? k.u32("attention.head_count_kv") : heads;
            int headDim = g.contains(arch + ".attention.key_length") ? k.u32("attention.key_length") : embd / heads;
            if (arch.equals("llama") && g.tensor("blk.0.attn_q.bias").isPresent()) {
                throw new IllegalArgumentException(g.path() + ": llama attention biases cannot be written back yet");
            }
            return new GgufHparams(arch, embd, layers, heads, kvHeads, headDim, ff, vocab, ctx, base, eps, scale, tied,
                    0, 0, 0, 0, 0);
        }
        if (g.getLong(arch + ".expert_count").orElse(0) != 0
                || g.contains(arch + ".leading_dense_block_count") && k.u32("leading_dense_block_count") != layers) {
            throw new IllegalArgumentException(g.path() + ": deepseek2 with MoE layers: not supported yet (dense only)");
        }
        int rope = k.u32("rope.dimension_count");
        boolean mlaMode = g.contains(arch + ".attention.key_length_mla");
        int keyLen = mlaMode ? k.u32("attention.key_length_mla") : k.u32("attention.key_length");
        int vDim = mlaMode ? k.u32("attention.value_length_mla") : k.u32("attention.value_length");
        int qLora = (int) g.getLong(arch + ".attention.q_lora_rank").orElse(0);
        return new GgufHparams(arch, embd, layers, heads, heads, vDim, ff, vocab, ctx, base, eps, 1, tied, qLora,
                k.u32("attention.kv_lora_rank"), keyLen - rope, rope, vDim);
    }

    private record Keys(GgufFile g, String prefix) {
        int u32(String key) {
            String full = prefix + key;
            if (g.type(full).orElse(null) == GgufType.ARRAY) {
                throw new IllegalArgumentException(g.path() + ": " + full + " varies by layer, which config.json "
                        + "cannot express");
            }
            long v = g.getLong(full).orElseThrow(() -> new IllegalArgumentException(g.path() + ": no key '" + full + "'"));
            if (v <= 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException(g.path() + ": " + full + " = " + v);
            return (int) v;
        }

        double f32(String key, double def) {
            return g.getDouble(prefix + key).orElse(def);
        }
    }
}
