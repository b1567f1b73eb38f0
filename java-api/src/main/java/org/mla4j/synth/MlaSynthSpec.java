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
 */
public record MlaSynthSpec(String arch, String name, int nEmbd, int nLayer, int nHead, int nHeadKv, int nFf,
        int nVocab, int nCtx, int kvLoraRank, int qLoraRank, int ropeDim, int nopeDim, int vDim, boolean legacyKvB,
        boolean latentNorm, boolean bias, float ropeBase, float rmsEps) {

    public static final Set<String> ARCHITECTURES = Set.of("deepseek2", "mha2mla");

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
        long perLayer = 2 * e + q + kv + c + absorb + h * vDim * e + 3 * e * nFf;
        return 2 * e * nVocab + e + nLayer * perLayer;
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
