package org.mla4j.synth;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The shape of a synthetic model.
 *
 * @param arch llama.cpp architecture: "llama" or "qwen2" (qwen2 adds q/k/v biases; llama.cpp ropes it NEOX-style)
 * @param name general.name
 * @param nEmbd embedding width E
 * @param nLayer number of blocks
 * @param nHead query heads H (head dim = E/H)
 * @param nHeadKv key/value heads (GQA when fewer than H)
 * @param nFf feed-forward width F
 * @param nVocab vocabulary size V (at least 260: 3 specials, 256 byte tokens, "▁")
 * @param nCtx training context length
 * @param ropeBase rope.freq_base
 * @param rmsEps attention.layer_norm_rms_epsilon
 */
public record SynthSpec(String arch, String name, int nEmbd, int nLayer, int nHead, int nHeadKv, int nFf, int nVocab,
        int nCtx, float ropeBase, float rmsEps) {

    public static final Set<String> ARCHITECTURES = Set.of("llama", "qwen2");

    /**
     * Checks the shape.
     *
     * @throws IllegalArgumentException for an unknown architecture or a shape llama.cpp cannot load
     */
    public SynthSpec {
        if (!ARCHITECTURES.contains(arch)) {
            throw new IllegalArgumentException("unsupported architecture '" + arch + "'; expected one of "
                    + ARCHITECTURES);
        }
        positive("nEmbd", nEmbd);
        positive("nLayer", nLayer);
        positive("nHead", nHead);
        positive("nHeadKv", nHeadKv);
        positive("nFf", nFf);
        positive("nCtx", nCtx);
        if (nEmbd % nHead != 0 || (nEmbd / nHead) % 2 != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " must split into " + nHead
                    + " heads of an even size (rope rotates pairs)");
        }
        if (nHead % nHeadKv != 0) {
            throw new IllegalArgumentException("n_head " + nHead + " is not a multiple of n_head_kv " + nHeadKv);
        }
        if (nVocab < SynthVocab.MIN_SIZE) {
            throw new IllegalArgumentException("n_vocab " + nVocab + " is below the minimum " + SynthVocab.MIN_SIZE);
        }
        if (!(ropeBase > 0) || !(rmsEps > 0)) {
            throw new IllegalArgumentException("rope base and rms epsilon must be positive");
        }
    }

    private static void positive(String what, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + " must be positive, got " + v);
        }
    }

    /** {@return dimension of one attention head (and rope.dimension_count)} */
    public int headDim() {
        return nEmbd / nHead;
    }

    /** {@return whether attn_q/k/v carry biases (qwen2)} */
    public boolean qkvBias() {
        return arch.equals("qwen2");
    }

    /** {@return number of parameters, biases and norms included} */
    public long parameterCount() {
        long e = nEmbd;
        long kv = (long) nHeadKv * headDim();
        long perLayer = 2 * e                   // attn_norm, ffn_norm
                + e * e * 2 + e * kv * 2       // q, output; k, v
                + 3 * e * nFf                  // gate, up, down
                + (qkvBias() ? e + 2 * kv : 0);
        return 2 * e * nVocab + e + nLayer * perLayer;
    }

    private static final Map<String, SynthSpec> PRESETS = new LinkedHashMap<>();

    static {
        PRESETS.put("tiny", new SynthSpec("llama", "synth-tiny", 64, 2, 4, 2, 128, 512, 512, 10000f, 1e-5f));
        PRESETS.put("small", new SynthSpec("llama", "synth-small", 256, 4, 8, 4, 768, 4096, 1024, 10000f, 1e-5f));
        // Llama-3.2-1B-like shape (head dim 64) with a Llama-2-sized SentencePiece vocabulary
        PRESETS.put("1b", new SynthSpec("llama", "synth-1b", 2048, 16, 32, 8, 8192, 32000, 4096, 500000f, 1e-5f));
        PRESETS.put("1b-mha", new SynthSpec("llama", "synth-1b-mha", 2048, 16, 32, 32, 8192, 32000, 4096, 500000f,
                1e-5f));
        PRESETS.put("qwen2-tiny", new SynthSpec("qwen2", "synth-qwen2-tiny", 64, 2, 4, 2, 128, 512, 512, 1e6f,
                1e-6f));
        PRESETS.put("qwen2-small", new SynthSpec("qwen2", "synth-qwen2-small", 256, 4, 8, 4, 768, 4096, 1024, 1e6f,
                1e-6f));
    }

    /** {@return preset names: tiny, small, 1b, 1b-mha, qwen2-tiny, qwen2-small} */
    public static Set<String> presetNames() {
        return PRESETS.keySet();
    }

    /**
     * {@return a named preset shape}
     *
     * @param name one of the preset names
     * @throws IllegalArgumentException for an unknown name
     */
    public static SynthSpec preset(String name) {
        SynthSpec s = PRESETS.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown synth preset '" + name + "'; known: " + PRESETS.keySet());
        }
        return s;
    }
}
