package org.mla4j.synth;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The shape of a random-weight multi-head latent attention model.
 *
 * <p>{@code deepseek2}: llama.cpp's architecture with dense layers: per head a nope part (nopeDim) scored through
 * the latent and a rope part (ropeDim) from one key shared by all heads; values of vDim; query compression when
 * qLoraRank &gt; 0; the absorbed attn_k_b/attn_v_b tensors, or the legacy attn_kv_b when legacyKvB. nHeadKv is
 * ignored (1 in the file, or nHead for the legacy form, as llama.cpp's converter writes).
 *
 * <p>{@code mha2mla}: our MHA2MLA layout (docs/FORMAT.md): nHeadKv KV heads each with ropeDim rotated dims on
 * frequencies chosen per (layer, KV head), head dim nopeDim + ropeDim, a latent of kvLoraRank shared by all heads,
 * an optional latent norm, optional q/k_rope/value biases.
 *
 * @param arch "deepseek2" or "mha2mla"
 * @param name general.name
 * @param nEmbd embedding width E
 * @param nLayer number of blocks
 * @param nHead query heads H
 * @param nHeadKv KV heads (mha2mla; see above for deepseek2)
 * @param nFf feed-forward width
 * @param nVocab vocabulary size (at least 260)
 * @param nCtx training context length
 * @param kvLoraRank latent size C
 * @param qLoraRank query compression rank (deepseek2; 0 = a plain attn_q)
 * @param ropeDim rotated key dims per head (deepseek2: of the shared key)
 * @param nopeDim key dims per head scored through the latent
 * @param vDim value dims per head
 * @param legacyKvB write the legacy attn_kv_b instead of attn_k_b/attn_v_b (deepseek2)
 * @param latentNorm whether the latent is RMS-normalised (mha2mla; deepseek2 always has the norm)
 * @param bias q/k_rope/value biases (mha2mla)
 * @param ropeBase rope.freq_base
 * @param rmsEps attention.layer_norm_rms_epsilon
 * @param moe the Mixture-of-Experts layers (deepseek2 only), or null for a dense model
 * @param yarn the YaRN RoPE scaling (deepseek2 only), or null for none
 */
public record MlaSynthSpec(String arch, String name, int nEmbd, int nLayer, int nHead, int nHeadKv, int nFf,
        int nVocab, int nCtx, int kvLoraRank, int qLoraRank, int ropeDim, int nopeDim, int vDim, boolean legacyKvB,
        boolean latentNorm, boolean bias, float ropeBase, float rmsEps, MoeShape moe, YarnScaling yarn) {

    /** The supported values of {@link #arch()}: {@code deepseek2} and {@code mha2mla}. */
    public static final Set<String> ARCHITECTURES = Set.of("deepseek2", "mha2mla");

    /**
     * deepseek2 Mixture-of-Experts layers (layers from {@code denseLayers} on), with llama.cpp's keys:
     * expert_count, expert_used_count, expert_shared_count, expert_feed_forward_length, leading_dense_block_count,
     * expert_gating_func (1 softmax, 2 sigmoid), exp_probs_b (selection bias) when {@code bias},
     * expert_group_count / expert_group_used_count (0 = no groups), expert_weights_norm, expert_weights_scale.
     *
     * @param experts routed experts per MoE layer (expert_count, at least 1)
     * @param used routed experts each token is sent to (expert_used_count, 1 to {@code experts})
     * @param shared shared experts every token goes through (expert_shared_count, 0 or more)
     * @param expertFf feed-forward width of one expert, routed or shared (expert_feed_forward_length)
     * @param denseLayers number of leading layers with a dense FFN before the MoE layers
     *        (leading_dense_block_count, 0 or more)
     * @param gating router scoring function: {@link #SOFTMAX} or {@link #SIGMOID}
     * @param bias whether the router has a per-expert selection bias (exp_probs_b)
     * @param groups expert groups (expert_group_count); 0 or 1 = no grouping, else a divisor of {@code experts}
     * @param groupsUsed groups a token's experts may come from (expert_group_used_count, 1 to {@code groups - 1}
     *        when grouped)
     * @param normWeights whether the selected experts' weights are normalised to sum to 1 (expert_weights_norm)
     * @param weightsScale factor applied to the routed experts' weights (expert_weights_scale)
     */
    public record MoeShape(int experts, int used, int shared, int expertFf, int denseLayers, int gating, boolean bias,
            int groups, int groupsUsed, boolean normWeights, float weightsScale) {
        /** {@link #gating()} value for softmax router scores (expert_gating_func 1, DeepSeek V2). */
        public static final int SOFTMAX = 1;
        /** {@link #gating()} value for sigmoid router scores (expert_gating_func 2, DeepSeek V3). */
        public static final int SIGMOID = 2;

        /**
         * Checks the shape.
         *
         * @throws IllegalArgumentException unless 1 &lt;= used &lt;= experts, shared &gt;= 0, expertFf &gt;= 1 and
         *         denseLayers &gt;= 0; for a gating other than {@link #SOFTMAX} or {@link #SIGMOID}; or, with more
         *         than one group, unless the groups divide the experts, 1 &lt;= groupsUsed &lt; groups and the used
         *         groups hold at least {@code used} experts
         */
        public MoeShape {
            if (experts < 1 || used < 1 || used > experts || shared < 0 || expertFf < 1 || denseLayers < 0) {
                throw new IllegalArgumentException("MoE shape needs 1 <= used <= experts, shared >= 0, expert FFN >= 1");
            }
            if (gating != SOFTMAX && gating != SIGMOID) throw new IllegalArgumentException("gating must be 1 or 2");
            if (groups > 1 && (experts % groups != 0 || groupsUsed < 1 || groupsUsed >= groups
                    || used > groupsUsed * (experts / groups))) {
                throw new IllegalArgumentException("expert groups must divide the experts, 1 <= groups used < groups, "
                        + "and the used groups must hold the used experts");
            }
        }
    }

    /**
     * YaRN RoPE scaling as llama.cpp's converter writes DeepSeek's: rope.scaling.type yarn, factor, original context,
     * and rope.scaling.yarn_log_multiplier = 0.1 x mscale_all_dim.
     *
     * @param factor context extension factor (rope.scaling.factor, greater than 1)
     * @param originalContext context length the model was pre-trained with, in tokens
     *        (rope.scaling.original_context_length, at least 1)
     * @param mscaleAllDim DeepSeek's mscale_all_dim from config.json's rope_scaling; written as 0.1 times it
     */
    public record YarnScaling(float factor, int originalContext, float mscaleAllDim) {
        /**
         * Checks the scaling.
         *
         * @throws IllegalArgumentException unless factor &gt; 1 and originalContext &gt;= 1
         */
        public YarnScaling {
            if (!(factor > 1f) || originalContext < 1) throw new IllegalArgumentException("YaRN needs factor > 1");
        }
    }

    /**
     * A dense model (no experts, no YaRN); the parameters are the record components of the same names.
     *
     * @param arch "deepseek2" or "mha2mla"
     * @param name general.name
     * @param nEmbd embedding width E
     * @param nLayer number of blocks
     * @param nHead query heads H
     * @param nHeadKv KV heads (mha2mla; ignored for deepseek2)
     * @param nFf feed-forward width
     * @param nVocab vocabulary size (at least 260)
     * @param nCtx training context length
     * @param kvLoraRank latent size C
     * @param qLoraRank query compression rank (deepseek2; 0 = a plain attn_q)
     * @param ropeDim rotated key dims per head (deepseek2: of the shared key)
     * @param nopeDim key dims per head scored through the latent
     * @param vDim value dims per head
     * @param legacyKvB write the legacy attn_kv_b instead of attn_k_b/attn_v_b (deepseek2)
     * @param latentNorm whether the latent is RMS-normalised (mha2mla; deepseek2 always has the norm)
     * @param bias q/k_rope/value biases (mha2mla)
     * @param ropeBase rope.freq_base
     * @param rmsEps attention.layer_norm_rms_epsilon
     * @throws IllegalArgumentException as the canonical constructor
     */
    public MlaSynthSpec(String arch, String name, int nEmbd, int nLayer, int nHead, int nHeadKv, int nFf, int nVocab,
            int nCtx, int kvLoraRank, int qLoraRank, int ropeDim, int nopeDim, int vDim, boolean legacyKvB,
            boolean latentNorm, boolean bias, float ropeBase, float rmsEps) {
        this(arch, name, nEmbd, nLayer, nHead, nHeadKv, nFf, nVocab, nCtx, kvLoraRank, qLoraRank, ropeDim, nopeDim, vDim,
                legacyKvB, latentNorm, bias, ropeBase, rmsEps, null, null);
    }

    /**
     * {@return a copy of this shape with the given Mixture-of-Experts layers}
     *
     * @param m the MoE layers, or null for a dense model
     * @throws IllegalArgumentException if m is not null and this is not deepseek2 or uses the legacy attn_kv_b
     */
    public MlaSynthSpec withMoe(MoeShape m) {
        return new MlaSynthSpec(arch, name, nEmbd, nLayer, nHead, nHeadKv, nFf, nVocab, nCtx, kvLoraRank, qLoraRank,
                ropeDim, nopeDim, vDim, legacyKvB, latentNorm, bias, ropeBase, rmsEps, m, yarn);
    }

    /**
     * {@return a copy of this shape with the given YaRN RoPE scaling}
     *
     * @param y the scaling, or null for none
     * @throws IllegalArgumentException if y is not null and this is not deepseek2
     */
    public MlaSynthSpec withYarn(YarnScaling y) {
        return new MlaSynthSpec(arch, name, nEmbd, nLayer, nHead, nHeadKv, nFf, nVocab, nCtx, kvLoraRank, qLoraRank,
                ropeDim, nopeDim, vDim, legacyKvB, latentNorm, bias, ropeBase, rmsEps, moe, y);
    }

    /**
     * {@return a copy of this shape with another query compression rank}
     *
     * @param q the q-LoRA rank; 0 = a plain attn_q (the only choice for mha2mla)
     * @throws IllegalArgumentException if mha2mla and {@code q != 0}
     */
    public MlaSynthSpec withQLoraRank(int q) {
        return new MlaSynthSpec(arch, name, nEmbd, nLayer, nHead, nHeadKv, nFf, nVocab, nCtx, kvLoraRank, q,
                ropeDim, nopeDim, vDim, legacyKvB, latentNorm, bias, ropeBase, rmsEps, moe, yarn);
    }

    /**
     * Checks the shape.
     *
     * @throws IllegalArgumentException for an unknown architecture or a shape llama.cpp cannot load
     */
    public MlaSynthSpec {
        if (!ARCHITECTURES.contains(arch)) {
            throw new IllegalArgumentException("unsupported MLA architecture '" + arch + "'; expected " + ARCHITECTURES);
        }
        for (int v : new int[] {nEmbd, nLayer, nHead, nHeadKv, nFf, nCtx, kvLoraRank, nopeDim, vDim}) {
            if (v <= 0) throw new IllegalArgumentException("MLA shape values must be positive: " + name);
        }
        if (ropeDim < 0 || ropeDim % 2 != 0) throw new IllegalArgumentException("rope dim must be even and >= 0, got " + ropeDim);
        if (nHead % nHeadKv != 0) throw new IllegalArgumentException("n_head " + nHead + " is not a multiple of " + nHeadKv);
        if (arch.equals("mha2mla") && (qLoraRank != 0 || legacyKvB || vDim != nopeDim + ropeDim)) {
            throw new IllegalArgumentException("mha2mla has no q-LoRA, no attn_kv_b and values of the head dim");
        }
        if (arch.equals("deepseek2") && ropeDim == 0) throw new IllegalArgumentException("deepseek2 needs a rope dim");
        if (nVocab < SynthVocab.MIN_SIZE) throw new IllegalArgumentException("n_vocab below " + SynthVocab.MIN_SIZE);
        if ((moe != null || yarn != null) && !arch.equals("deepseek2")) {
            throw new IllegalArgumentException("experts and YaRN are written for deepseek2 only");
        }
        if (moe != null && legacyKvB) throw new IllegalArgumentException("MoE presets use attn_k_b/attn_v_b");
    }

    /**
     * {@return whether layer il is a MoE layer: there are experts and il is past the leading dense layers}
     *
     * @param il layer index, 0-based
     */
    public boolean isMoeLayer(int il) {
        return moe != null && il >= moe.denseLayers();
    }

    /** {@return whether this is a deepseek2 model (else mha2mla)} */
    public boolean isDeepseek2() {
        return arch.equals("deepseek2");
    }

    /** {@return per-head key (and query) size: nope + rope} */
    public int headDimK() {
        return nopeDim + ropeDim;
    }

    /** {@return values cached per token and layer: the latent and the rope keys} */
    public int cacheWidth() {
        return kvLoraRank + (isDeepseek2() ? ropeDim : nHeadKv * ropeDim);
    }

    /** {@return the number of parameters, biases and norms included} */
    public long parameterCount() {
        long e = nEmbd, h = nHead, c = kvLoraRank, kvHeads = isDeepseek2() ? nHead : nHeadKv;
        long q = qLoraRank > 0 ? e * qLoraRank + qLoraRank + (long) qLoraRank * h * headDimK() : e * h * headDimK();
        long kv = isDeepseek2() ? e * (c + ropeDim) : e * c + e * (long) nHeadKv * ropeDim;
        long absorb = kvHeads * c * ((long) nopeDim + vDim);
        long attn = 2 * e + q + kv + c + absorb + h * vDim * e;
        long total = 2 * e * nVocab + e;
        for (int il = 0; il < nLayer; il++) {
            if (isMoeLayer(il)) {
                long router = e * moe.experts() + (moe.bias() ? moe.experts() : 0);
                total += attn + router + 3 * e * (long) moe.expertFf() * (moe.experts() + moe.shared());
            } else {
                total += attn + 3 * e * nFf;
            }
        }
        return total;
    }

    private static final Map<String, MlaSynthSpec> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("deepseek2-tiny", new MlaSynthSpec("deepseek2", "synth-deepseek2-tiny", 64, 2, 4, 1, 128, 512, 512,
                32, 0, 16, 16, 16, false, true, false, 10000f, 1e-5f));
        PRESETS.put("deepseek2-small", new MlaSynthSpec("deepseek2", "synth-deepseek2-small", 256, 4, 8, 1, 768, 4096,
                1024, 128, 96, 32, 32, 32, false, true, false, 10000f, 1e-5f));
        // The 1B-shaped deepseek2 of issue 3: kv_lora_rank 512, rope 64, nope 64, v 64, 16 layers, 2048, 32 heads.
        PRESETS.put("deepseek2-1b", new MlaSynthSpec("deepseek2", "synth-deepseek2-1b", 2048, 16, 32, 1, 8192, 32000,
                32768, 512, 0, 64, 64, 64, false, true, false, 10000f, 1e-5f));
        // DeepSeek-V2-Lite's shape (config.json of deepseek-ai/DeepSeek-V2-Lite): 27 layers, no q-LoRA, layer 0
        // dense (FFN 10944), then 64 routed experts (top 6, softmax, weights not normalised) and 2 shared, expert
        // FFN 1408; YaRN factor 40 over 4096 positions with mscale_all_dim 0.707.
        PRESETS.put("deepseek2-v2-lite", new MlaSynthSpec("deepseek2", "synth-deepseek2-v2-lite", 2048, 27, 16, 1, 10944,
                102400, 163840, 512, 0, 64, 128, 128, false, true, false, 10000f, 1e-6f,
                new MoeShape(64, 6, 2, 1408, 1, MoeShape.SOFTMAX, false, 0, 0, false, 1.0f),
                new YarnScaling(40f, 4096, 0.707f)));
        // DeepSeek-V3-style routing on a small model: sigmoid gating with the selection bias, 4 groups of which 2
        // are used, normalised weights scaled by 2.5, one shared expert, q-LoRA, YaRN.
        PRESETS.put("deepseek2-moe-small", new MlaSynthSpec("deepseek2", "synth-deepseek2-moe-small", 256, 4, 8, 1, 768,
                4096, 4096, 128, 96, 32, 32, 32, false, true, false, 10000f, 1e-6f,
                new MoeShape(16, 4, 1, 128, 1, MoeShape.SIGMOID, true, 4, 2, true, 2.5f),
                new YarnScaling(4f, 1024, 1.0f)));
        PRESETS.put("mha2mla-tiny", new MlaSynthSpec("mha2mla", "synth-mha2mla-tiny", 64, 2, 4, 2, 128, 512, 512, 16,
                0, 4, 12, 16, false, false, true, 10000f, 1e-5f));
        PRESETS.put("mha2mla-small", new MlaSynthSpec("mha2mla", "synth-mha2mla-small", 256, 4, 8, 4, 768, 4096, 1024,
                96, 0, 8, 24, 32, false, false, false, 10000f, 1e-5f));
    }

    /** {@return the names of the presets} */
    public static Set<String> presetNames() {
        return PRESETS.keySet();
    }

    /**
     * {@return a named preset shape}
     *
     * @param name one of {@link #presetNames()}
     * @throws IllegalArgumentException for an unknown name
     */
    public static MlaSynthSpec preset(String name) {
        MlaSynthSpec s = PRESETS.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown MLA synth preset '" + name + "'; known: " + PRESETS.keySet());
        }
        return s;
    }
}
