package org.mla4j.gguf;

/**
 * The deepseek2 keys of a dense model in MLA mode (attn_k_b/attn_v_b), as llama.cpp requires them even without
 * experts (formats.md, "Dense-only deepseek2"). One place for the HF import, the synthesizer and the converter.
 */
public final class Deepseek2Keys {
    private Deepseek2Keys() {
    }

    /**
     * Puts the deepseek2 keys of a dense MLA model.
     *
     * @param w           the writer
     * @param layers      transformer blocks (all dense: leading_dense_block_count)
     * @param feedForward the dense FFN's hidden size
     * @param kvLoraRank  latent size C (kv_lora_rank itself is written by the caller with the other common keys)
     * @param rope        rope dims R per head
     * @param nope        nope key dims N per head
     * @param valueDim    value dims Dv per head
     * @param qLoraRank   q-LoRA rank (0 = a plain attn_q)
     */
    public static void putDenseMla(GgufWriter w, int layers, int feedForward, int kvLoraRank, int rope, int nope,
            int valueDim, int qLoraRank) {
        putMla(w, layers, feedForward, kvLoraRank, rope, nope, valueDim, qLoraRank, false);
    }

    /**
     * Puts the same keys for a dense or a Mixture-of-Experts MLA model: the attention keys always; with
     * {@code experts} the layer and expert keys (leading_dense_block_count, expert_feed_forward_length,
     * expert_shared_count) are left to the caller's MoE keys.
     *
     * @param w           the writer
     * @param layers      transformer blocks (written as leading_dense_block_count when dense; unused with experts)
     * @param feedForward the dense FFN's hidden size (written as expert_feed_forward_length when dense; unused with
     *                    experts)
     * @param kvLoraRank  latent size C (kv_lora_rank itself is written by the caller with the other common keys)
     * @param rope        rope dims R per head
     * @param nope        nope key dims N per head
     * @param valueDim    value dims Dv per head
     * @param qLoraRank   q-LoRA rank (0 = a plain attn_q)
     * @param experts     whether the model has MoE layers, whose keys the caller writes
     */
    public static void putMla(GgufWriter w, int layers, int feedForward, int kvLoraRank, int rope, int nope,
            int valueDim, int qLoraRank, boolean experts) {
        String a = "deepseek2.";
        w.putUInt32(a + "attention.head_count_kv", 1);
        w.putUInt32(a + "attention.key_length", kvLoraRank + rope);
        w.putUInt32(a + "attention.value_length", kvLoraRank);
        w.putUInt32(a + "attention.key_length_mla", nope + rope);
        w.putUInt32(a + "attention.value_length_mla", valueDim);
        w.putUInt32(a + "attention.q_lora_rank", qLoraRank);
        if (experts) return;
        w.putUInt32(a + "leading_dense_block_count", layers);
        w.putUInt32(a + "expert_feed_forward_length", feedForward);
        w.putUInt32(a + "expert_shared_count", 0);
    }
}
