package org.mla4j.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Hugging Face {@code config.json}, parsed and checked, usable without the weights (a dry run).
 *
 * <p>Input architectures: {@code LlamaForCausalLM} / {@code MistralForCausalLM} (SmolLM and other Llama-family
 * models use the former) and {@code Qwen2ForCausalLM} (q/k/v biases). Read-back: {@code DeepseekV3ForCausalLM}
 * with dense layers only, as {@link GgufToHf} writes it. Defaults follow transformers' config classes (and
 * llama.cpp's converter): num_key_value_heads = num_attention_heads, head_dim = hidden_size / heads, rope_theta
 * 10000, rms_norm_eps 1e-6.
 *
 * @param path the config.json file
 * @param family which layout the tensors have
 * @param architecture architectures[0], or the model_type when the list is absent
 * @param hiddenSize hidden_size (the residual stream's width)
 * @param layers num_hidden_layers
 * @param heads num_attention_heads
 * @param kvHeads num_key_value_heads
 * @param headDim per-head size of q/k/v (llama, qwen2); for deepseek_v3 the value head size
 * @param intermediateSize intermediate_size (the FFN's hidden size)
 * @param vocabSize vocab_size
 * @param rmsEps rms_norm_eps
 * @param ropeTheta rope_theta
 * @param maxPositions max_position_embeddings
 * @param tieWordEmbeddings tie_word_embeddings: the output head is the embedding matrix
 * @param ropeScaling none, linear or llama3
 * @param torchDtype the config's torch_dtype (or dtype), "" when absent
 * @param mla the deepseek_v3 latent-attention sizes; null for llama and qwen2
 */
public record HfConfig(Path path, Family family, String architecture, int hiddenSize, int layers, int heads,
        int kvHeads, int headDim, int intermediateSize, int vocabSize, double rmsEps, double ropeTheta,
        int maxPositions, boolean tieWordEmbeddings, RopeScaling ropeScaling, String torchDtype, Mla mla) {

    /** The tensor layouts mla4j converts. */
    public enum Family {
        /** Llama, Mistral, SmolLM: rotate_half rope, so llama.cpp permutes q/k rows. */
        LLAMA,
        /** Qwen2: NEOX rope (no permutation) and q/k/v biases. */
        QWEN2,
        /** DeepSeek-V3 dense MLA, as GgufToHf writes it. */
        DEEPSEEK_V3
    }

    /**
     * Rope scaling.
     *
     * @param type "none", "linear" or "llama3"
     * @param factor the scaling factor (linear, llama3)
     * @param lowFreqFactor llama3: low_freq_factor
     * @param highFreqFactor llama3: high_freq_factor
     * @param originalContext llama3: original_max_position_embeddings
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
            int originalContext) {
        /** No scaling. */
        public static final RopeScaling NONE = new RopeScaling("none", 1, 0, 0, 0);
    }

    /**
     * DeepSeek-V3 attention sizes (formats.md notation Q, C, R, N, Dv).
     *
     * @param qLoraRank q_lora_rank Q (0 = a plain q_proj)
     * @param kvLoraRank kv_lora_rank C
     * @param qkRopeHeadDim qk_rope_head_dim R
     * @param qkNopeHeadDim qk_nope_head_dim N
     * @param vHeadDim v_head_dim Dv
     */
    public record Mla(int qLoraRank, int kvLoraRank, int qkRopeHeadDim, int qkNopeHeadDim, int vHeadDim) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Family> ARCHITECTURES = Map.of(
            "LlamaForCausalLM", Family.LLAMA, "MistralForCausalLM", Family.LLAMA,
            "Qwen2ForCausalLM", Family.QWEN2, "DeepseekV3ForCausalLM", Family.DEEPSEEK_V3);
    private static final Map<String, Family> MODEL_TYPES = Map.of(
            "llama", Family.LLAMA, "mistral", Family.LLAMA, "qwen2", Family.QWEN2, "deepseek_v3", Family.DEEPSEEK_V3);

    /**
     * Reads a config.json.
     *
     * @param file the file
     * @return the parsed, checked configuration
     * @throws IOException when the file cannot be read or is not JSON
     */
    public static HfConfig read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
        return parse(file, root);
    }

    static HfConfig parse(Path file, JsonNode c) {
        Reader r = new Reader(file, c);
        String arch;
        Family family;
        JsonNode archs = c.path("architectures");
        if (archs.isArray() && !archs.isEmpty()) {
            arch = archs.get(0).asText();
            family = ARCHITECTURES.get(arch);
        } else {
            arch = c.path("model_type").asText("");
            family = MODEL_TYPES.get(arch);
        }
        if (family == null) {
            throw new IllegalArgumentException(file + ": architecture '" + arch + "' is not supported (supported: "
                    + "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, and DeepseekV3ForCausalLM as mla4j "
                    + "writes it)");
        }
        int hidden = r.positive("hidden_size");
        int layers = r.positive("num_hidden_layers");
        int heads = r.positive("num_attention_heads");
        int kvHeads = r.optionalPositive("num_key_value_heads").orElse(heads);
        int ff = r.positive("intermediate_size");
        int vocab = r.positive("vocab_size");
        double eps = r.number("rms_norm_eps", 1e-6);
        double theta = r.number("rope_theta", 10000);
        int ctx = r.optionalPositive("max_position_embeddings").orElse(family == Family.QWEN2 ? 32768 : 2048);
        boolean tied = c.path("tie_word_embeddings").asBoolean(false);
        String dtype = c.path("torch_dtype").asText(c.path("dtype").asText(""));
        RopeScaling scaling = ropeScaling(file, c.path("rope_scaling"), family);
        if (!(eps > 0)) throw r.bad("rms_norm_eps", "must be positive");
        if (!(theta > 0)) throw r.bad("rope_theta", "must be positive");
        for (String flag : List.of("mlp_bias")) {
            if (c.path(flag).asBoolean(false)) throw r.bad(flag, "true is not supported (llama.cpp has no such bias)");
        }
        if (family == Family.DEEPSEEK_V3) {
            Mla mla = deepseek(r, c, layers);
            return new HfConfig(file, family, arch, hidden, layers, heads, heads, mla.vHeadDim(), ff, vocab, eps, theta,
                    ctx, tied, scaling, dtype, mla);
        }
        if (family == Family.LLAMA && c.path("attention_bias").asBoolean(false)) {
            throw r.bad("attention_bias", "true is not supported for Llama models yet (q/k/v/o biases)");
        }
        int headDim = r.optionalPositive("head_dim").orElse(0);
        if (headDim == 0) {
            if (hidden % heads != 0) throw r.bad("hidden_size", hidden + " is not a multiple of num_attention_heads " + heads);
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) throw r.bad("head_dim", headDim + " is odd; rope rotates pairs");
        if (heads % kvHeads != 0) {
            throw r.bad("num_key_value_heads", kvHeads + " does not divide num_attention_heads " + heads);
        }
        return new HfConfig(file, family, arch, hidden, layers, heads, kvHeads, headDim, ff, vocab, eps, theta, ctx,
                tied, scaling, dtype, null);
    }

    private static Mla deepseek(Reader r, JsonNode c, int layers) {
        JsonNode experts = c.path("n_routed_experts");
        if (!experts.isMissingNode() && !experts.isNull() && experts.asLong() != 0) {
            throw r.bad("n_routed_experts", experts + ": MoE not supported yet (dense layers only)");
        }
        int dense = r.optionalPositive("first_k_dense_replace").orElse(0);
        if (dense != layers) {
            throw r.bad("first_k_dense_replace", dense + " must equal num_hidden_layers " + layers
                    + " (dense layers only; MoE not supported yet)");
        }
        if (!c.path("rope_interleave").asBoolean(true)) {
            throw r.bad("rope_interleave", "false is not supported (rope rows must be interleaved, as DeepSeek's are)");
        }
        JsonNode q = c.path("q_lora_rank");
        int qLora = q.isMissingNode() || q.isNull() ? 0 : r.positive("q_lora_rank");
        Mla m = new Mla(qLora, r.positive("kv_lora_rank"), r.positive("qk_rope_head_dim"),
                r.positive("qk_nope_head_dim"), r.positive("v_head_dim"));
        if (m.qkRopeHeadDim() % 2 != 0) throw r.bad("qk_rope_head_dim", "must be even (rope rotates pairs)");
        return m;
    }

    private static RopeScaling ropeScaling(Path file, JsonNode s, Family family) {
        if (s.isMissingNode() || s.isNull()) return RopeScaling.NONE;
        String type = s.path("rope_type").asText(s.path("type").asText(""));
        String where = file + ": rope_scaling";
        double factor = s.path("factor").asDouble(0);
        switch (type) {
            case "default", "none" -> {
                return RopeScaling.NONE;
            }
            case "linear" -> {
                if (!(factor > 0)) throw new IllegalArgumentException(where + ": linear scaling needs a positive factor");
                if (family == Family.DEEPSEEK_V3) break;
                return new RopeScaling("linear", factor, 0, 0, 0);
            }
            case "llama3" -> {
                if (family != Family.LLAMA) break;
                // llama.cpp's LlamaModel.generate_extra_tensors defaults
                return new RopeScaling("llama3", s.path("factor").asDouble(8.0), s.path("low_freq_factor").asDouble(1.0),
                        s.path("high_freq_factor").asDouble(4.0),
                        s.path("original_max_position_embeddings").asInt(8192));
            }
            default -> {
            }
        }
        throw new IllegalArgumentException(where + " type '" + type + "' is not supported for " + family.name()
                .toLowerCase(java.util.Locale.ROOT) + " (supported: none, linear" + (family == Family.LLAMA ? ", llama3" : "")
                + ")");
    }

    /** {@return whether this is a latent-attention (deepseek_v3) model} */
    public boolean isMla() {
        return mla != null;
    }

    /** Reads numbers with messages naming config.json and the key. */
    private record Reader(Path file, JsonNode c) {
        int positive(String key) {
            return optionalPositive(key).orElseThrow(() -> bad(key, "is missing"));
        }

        Optional<Integer> optionalPositive(String key) {
            JsonNode n = c.get(key);
            if (n == null || n.isNull()) return Optional.empty();
            if (!n.canConvertToExactIntegral() || !n.canConvertToInt() || n.asInt() <= 0) {
                throw bad(key, n + " is not a positive integer");
            }
            return Optional.of(n.asInt());
        }

        double number(String key, double def) {
            JsonNode n = c.get(key);
            if (n == null || n.isNull()) return def;
            if (!n.isNumber()) throw bad(key, n + " is not a number");
            return n.asDouble();
        }

        IllegalArgumentException bad(String key, String problem) {
            return new IllegalArgumentException(file + ": " + key + " " + problem);
        }
    }
}
