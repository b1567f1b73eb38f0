package org.mla4j.convert;

import org.mla4j.Hyperparameters;
import org.mla4j.gguf.GgufFile;

/**
 * The hyperparameters of a llama/qwen2 GGUF file read from its metadata alone (no weights loaded), as llama.cpp
 * reads them (formats.md, "The llama architecture"), for plans and dry runs.
 */
public final class SourceHparams {
    private SourceHparams() {
    }

    /**
     * {@return the hyperparameters of a llama or qwen2 GGUF file's metadata}
     *
     * @param g the file
     */
    public static Hyperparameters fromGguf(GgufFile g) {
        String arch = g.getString("general.architecture").orElseThrow(() -> new ConversionException(
                g.path() + ": no general.architecture"));
        if (!arch.equals("llama") && !arch.equals("qwen2")) {
            throw new ConversionException(g.path() + ": architecture '" + arch
                    + "'; conversion reads llama and qwen2 models (MHA or GQA)");
        }
        int embd = required(g, arch, "embedding_length");
        int heads = required(g, arch, "attention.head_count");
        int kv = (int) g.getLong(arch + ".attention.head_count_kv").orElse(heads);
        int hk = (int) g.getLong(arch + ".attention.key_length").orElse(embd / heads);
        int hv = (int) g.getLong(arch + ".attention.value_length").orElse(embd / heads);
        int vocab = g.tensor("token_embd.weight").map(t -> (int) t.shape()[1]).orElseThrow(() ->
                new ConversionException(g.path() + ": tensor 'token_embd.weight' is missing"));
        double scale = 1.0;
        if (g.getString(arch + ".rope.scaling.type").orElse("none").equals("linear")) {
            scale = 1.0 / g.getDouble(arch + ".rope.scaling.factor").orElse(1.0);
        }
        return new Hyperparameters(arch, vocab, required(g, arch, "context_length"), embd, required(g, arch, "block_count"),
                heads, kv, hk, hv, required(g, arch, "feed_forward_length"),
                (int) g.getLong(arch + ".rope.dimension_count").orElse(hk), arch.equals("qwen2"),
                (float) (double) g.getDouble(arch + ".rope.freq_base").orElse(10000.0), (float) scale,
                (float) (double) g.getDouble(arch + ".attention.layer_norm_rms_epsilon").orElseThrow(() ->
                        new ConversionException(g.path() + ": no " + arch + ".attention.layer_norm_rms_epsilon")),
                g.tensor("output.weight").isEmpty(), g.tensor("blk.0.attn_q.bias").isPresent());
    }

    /**
     * {@return the hyperparameters of a Hugging Face config.json (llama, mistral, qwen2)}
     *
     * @param c the config
     */
    public static Hyperparameters fromHfConfig(org.mla4j.hf.HfConfig c) {
        if (c.family() == org.mla4j.hf.HfConfig.Family.DEEPSEEK_V3) {
            throw new ConversionException(c.path() + ": the model is already MLA (deepseek_v3)");
        }
        boolean qwen = c.family() == org.mla4j.hf.HfConfig.Family.QWEN2;
        double scale = c.ropeScaling().type().equals("linear") ? 1.0 / c.ropeScaling().factor() : 1.0;
        return new Hyperparameters(qwen ? "qwen2" : "llama", c.vocabSize(), c.maxPositions(), c.hiddenSize(), c.layers(),
                c.heads(), c.kvHeads(), c.headDim(), c.headDim(), c.intermediateSize(), c.headDim(), qwen,
                (float) c.ropeTheta(), (float) scale, (float) c.rmsEps(), c.tieWordEmbeddings(), qwen);
    }

    private static int required(GgufFile g, String arch, String key) {
        return (int) g.getLong(arch + "." + key).orElseThrow(() -> new ConversionException(
                g.path() + ": required key '" + arch + "." + key + "' is missing"));
    }
}
