package org.mla4j.hf;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A float64 forward pass of transformers' {@code DeepseekV3ForCausalLM} (dense layers only), written from
 * {@code models/deepseek_v3/modeling_deepseek_v3.py} and reading nothing but a Hugging Face directory's config.json
 * and safetensors: the reference that an exported directory is checked against, independent of mla4j's own loader
 * and kernels. Followed from that file:
 * <ul>
 * <li>{@code DeepseekV3RMSNorm}: x * rsqrt(mean(x^2) + eps) * weight. The decoder's input and post-attention norms
 * and the final norm take {@code config.rms_norm_eps}; {@code q_a_layernorm} and {@code kv_a_layernorm} are built
 * without an eps argument and so always use the default 1e-6 ({@link Semantics#TRANSFORMERS}). vLLM and SGLang
 * build those two with {@code eps=config.rms_norm_eps} ({@link Semantics#RMS_NORM_EPS_EVERYWHERE}).</li>
 * <li>Queries: {@code q_proj(x)}, or {@code q_b_proj(q_a_layernorm(q_a_proj(x)))}, viewed as heads of
 * [q_pass (qk_nope_head_dim) | q_rot (qk_rope_head_dim)].</li>
 * <li>{@code kv_a_proj_with_mqa(x)} = [k_pass (kv_lora_rank) | k_rot (qk_rope_head_dim)];
 * {@code kv_b_proj(kv_a_layernorm(k_pass))} viewed as heads of [k_nope | value (v_head_dim)]; k_rot is shared by all
 * heads.</li>
 * <li>RoPE: inv_freq[j] = 1 / rope_theta^(2j / qk_rope_head_dim), cos/sin of cat(freqs, freqs); with
 * {@code rope_interleave} (the default) {@code apply_rotary_pos_emb_interleave} first reorders q_rot and k_rot as
 * view(d/2, 2).transpose, i.e. [x0, x2, x4, ..., x1, x3, ...], then applies x*cos + rotate_half(x)*sin.</li>
 * <li>Scores (q_pass.k_nope + q_rot.k_rot) * qk_head_dim^-0.5 (qk_head_dim = nope + rope; no rope_scaling, so no
 * yarn mscale), causal softmax, o_proj over the heads' weighted values.</li>
 * <li>MLP down_proj(silu(gate_proj(x)) * up_proj(x)); residual adds; final norm; lm_head, or embed_tokens when
 * {@code tie_word_embeddings}.</li>
 * </ul>
 * Configurations it cannot follow exactly (MoE layers, rope_scaling, attention biases, another activation) are
 * refused rather than approximated.
 */
final class DeepseekV3Reference {
    /** Which eps the q-LoRA and KV latent norms use. */
    enum Semantics {
        /** transformers' modeling_deepseek_v3.py: DeepseekV3RMSNorm's default 1e-6. */
        TRANSFORMERS,
        /** vLLM and SGLang (and llama.cpp): config.rms_norm_eps, like every other norm. */
        RMS_NORM_EPS_EVERYWHERE
    }

    /** DeepseekV3RMSNorm(hidden_size) without an eps argument. */
    static final double DEFAULT_NORM_EPS = 1e-6;

    private final int e;
    private final int layers;
    private final int heads;
    private final int qLora;
    private final int kvLora;
    private final int nope;
    private final int rope;
    private final int vDim;
    private final int vocab;
    private final double normEps;
    private final double theta;
    private final boolean interleave;
    private final boolean tied;
    private final Map<String, double[]> w = new HashMap<>();
    private final Map<String, long[]> shapes = new HashMap<>();

    private DeepseekV3Reference(Path dir) throws IOException {
        JsonNode c = new ObjectMapper().readTree(Files.readString(dir.resolve("config.json")));
        require(c.path("model_type").asText().equals("deepseek_v3"), "model_type " + c.path("model_type"));
        e = c.path("hidden_size").asInt();
        layers = c.path("num_hidden_layers").asInt();
        heads = c.path("num_attention_heads").asInt();
        qLora = c.path("q_lora_rank").isNull() || c.path("q_lora_rank").isMissingNode() ? 0 : c.path("q_lora_rank").asInt();
        kvLora = c.path("kv_lora_rank").asInt();
        nope = c.path("qk_nope_head_dim").asInt();
        rope = c.path("qk_rope_head_dim").asInt();
        vDim = c.path("v_head_dim").asInt();
        vocab = c.path("vocab_size").asInt();
        require(c.has("rms_norm_eps"), "no rms_norm_eps");
        normEps = c.path("rms_norm_eps").asDouble();
        theta = c.path("rope_theta").asDouble(10000);
        interleave = c.path("rope_interleave").asBoolean(true); // DeepseekV3Config's default
        tied = c.path("tie_word_embeddings").asBoolean(false);
        require(c.path("rope_scaling").isNull() || c.path("rope_scaling").isMissingNode(), "rope_scaling");
        require(c.path("hidden_act").asText("silu").equals("silu"), "hidden_act");
        require(!c.path("attention_bias").asBoolean(false), "attention_bias");
        require(c.path("first_k_dense_replace").asInt(0) >= layers, "MoE layers (first_k_dense_replace < layers)");
        // The checked export writes num_key_value_heads = num_attention_heads; other values only matter for repeat_kv
        // of keys that already have one head each.
        require(c.path("num_key_value_heads").asInt(heads) == heads, "num_key_value_heads != num_attention_heads");
        load(dir);
    }

    private static void require(boolean ok, String what) {
        if (!ok) throw new IllegalArgumentException("DeepseekV3Reference cannot follow this config: " + what);
    }

    /** Logits [position][vocab] of the token sequence from position 0 (no cache, one causal pass). */
    static double[][] logits(Path dir, int[] tokens, Semantics semantics) throws IOException {
        return new DeepseekV3Reference(dir).forward(tokens, semantics);
    }

    private double[][] forward(int[] tokens, Semantics semantics) {
        int t = tokens.length;
        double latentEps = semantics == Semantics.TRANSFORMERS ? DEFAULT_NORM_EPS : normEps;
        double[] emb = get("model.embed_tokens.weight", vocab, e);
        double[][] h = new double[t][];
        for (int i = 0; i < t; i++) h[i] = Arrays.copyOfRange(emb, tokens[i] * e, (tokens[i] + 1) * e);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] x = new double[t][];
            for (int i = 0; i < t; i++) x[i] = rmsNorm(h[i], get(p + "input_layernorm.weight", e), normEps);
            double[][] attn = attention(p + "self_attn.", x, latentEps);
            for (int i = 0; i < t; i++) add(h[i], attn[i]);
            for (int i = 0; i < t; i++) {
                double[] y = rmsNorm(h[i], get(p + "post_attention_layernorm.weight", e), normEps);
                add(h[i], mlp(p + "mlp.", y));
            }
        }
        double[] head = tied ? emb : get("lm_head.weight", vocab, e);
        double[][] out = new double[t][];
        for (int i = 0; i < t; i++) out[i] = linear(head, vocab, e, rmsNorm(h[i], get("model.norm.weight", e), normEps));
        return out;
    }

    private double[][] attention(String p, double[][] x, double latentEps) {
        int t = x.length, qk = nope + rope;
        double scaling = Math.pow(qk, -0.5);
        double[][] q = new double[t][];
        double[][] kRot = new double[t][];
        double[][] kv = new double[t][];
        for (int i = 0; i < t; i++) {
            if (qLora == 0) {
                q[i] = linear(get(p + "q_proj.weight", heads * qk, e), heads * qk, e, x[i]);
            } else {
                double[] qa = rmsNorm(linear(get(p + "q_a_proj.weight", qLora, e), qLora, e, x[i]),
                        get(p + "q_a_layernorm.weight", qLora), latentEps);
                q[i] = linear(get(p + "q_b_proj.weight", heads * qk, qLora), heads * qk, qLora, qa);
            }
            double[] ckv = linear(get(p + "kv_a_proj_with_mqa.weight", kvLora + rope, e), kvLora + rope, e, x[i]);
            double[] kPass = rmsNorm(Arrays.copyOfRange(ckv, 0, kvLora), get(p + "kv_a_layernorm.weight", kvLora), latentEps);
            kv[i] = linear(get(p + "kv_b_proj.weight", heads * (nope + vDim), kvLora), heads * (nope + vDim), kvLora, kPass);
            kRot[i] = rotary(Arrays.copyOfRange(ckv, kvLora, kvLora + rope), i);
        }
        double[][] out = new double[t][heads * vDim];
        for (int hd = 0; hd < heads; hd++) {
            for (int i = 0; i < t; i++) {
                double[] qRot = rotary(Arrays.copyOfRange(q[i], hd * qk + nope, (hd + 1) * qk), i);
                double[] scores = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= i; s++) {
                    double dot = 0;
                    for (int d = 0; d < nope; d++) dot += q[i][hd * qk + d] * kv[s][hd * (nope + vDim) + d];
                    for (int d = 0; d < rope; d++) dot += qRot[d] * kRot[s][d];
                    scores[s] = dot * scaling;
                    max = Math.max(max, scores[s]);
                }
                double sum = 0;
                for (int s = 0; s <= i; s++) sum += scores[s] = Math.exp(scores[s] - max);
                for (int s = 0; s <= i; s++) {
                    for (int d = 0; d < vDim; d++) {
                        out[i][hd * vDim + d] += scores[s] / sum * kv[s][hd * (nope + vDim) + nope + d];
                    }
                }
            }
        }
        double[] o = get(p + "o_proj.weight", e, heads * vDim);
        double[][] y = new double[t][];
        for (int i = 0; i < t; i++) y[i] = linear(o, e, heads * vDim, out[i]);
        return y;
    }

    /** apply_rotary_pos_emb(_interleave) on one head's rope part at position pos. */
    private double[] rotary(double[] x, int pos) {
        int d = x.length, half = d / 2;
        double[] v = x;
        if (interleave) { // view(d/2, 2).transpose(-1, -2).reshape(d): even elements first, then odd
            v = new double[d];
            for (int j = 0; j < half; j++) {
                v[j] = x[2 * j];
                v[half + j] = x[2 * j + 1];
            }
        }
        double[] r = new double[d];
        for (int k = 0; k < d; k++) {
            double angle = pos / Math.pow(theta, 2.0 * (k % half) / d); // emb = cat(freqs, freqs)
            double rotated = k < half ? -v[k + half] : v[k - half]; // rotate_half = cat(-x2, x1)
            r[k] = v[k] * Math.cos(angle) + rotated * Math.sin(angle);
        }
        return r;
    }

    private double[] mlp(String p, double[] x) {
        int f = (int) shapes.get(p + "gate_proj.weight")[0];
        double[] g = linear(get(p + "gate_proj.weight", f, e), f, e, x);
        double[] u = linear(get(p + "up_proj.weight", f, e), f, e, x);
        for (int k = 0; k < f; k++) g[k] = g[k] / (1 + Math.exp(-g[k])) * u[k];
        return linear(get(p + "down_proj.weight", e, f), e, f, g);
    }

    private static double[] rmsNorm(double[] x, double[] weight, double eps) {
        double ms = 0;
        for (double v : x) ms += v * v;
        double inv = 1 / Math.sqrt(ms / x.length + eps);
        double[] y = new double[x.length];
        for (int k = 0; k < x.length; k++) y[k] = weight[k] * (x[k] * inv);
        return y;
    }

    /** nn.Linear without bias: W [rows, cols] (row-major, PyTorch's [out, in]) times x. */
    private static double[] linear(double[] w, int rows, int cols, double[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int k = 0; k < cols; k++) s += w[r * cols + k] * x[k];
            y[r] = s;
        }
        return y;
    }

    private static void add(double[] acc, double[] x) {
        for (int k = 0; k < acc.length; k++) acc[k] += x[k];
    }

    /** A tensor, checked to have exactly the PyTorch shape the modeling file gives it. */
    private double[] get(String name, long... shape) {
        double[] t = w.get(name);
        if (t == null) throw new IllegalArgumentException("missing tensor " + name);
        if (!Arrays.equals(shapes.get(name), shape)) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(shapes.get(name)) + ", expected "
                    + Arrays.toString(shape));
        }
        return t;
    }

    /** Every tensor of model.safetensors, or of the shards a model.safetensors.index.json names, as float64. */
    private void load(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.exists(index)) {
            new ObjectMapper().readTree(Files.readString(index)).path("weight_map").forEach(f -> {
                Path file = dir.resolve(f.asText());
                if (!files.contains(file)) files.add(file);
            });
        } else {
            files.add(dir.resolve("model.safetensors"));
        }
        for (Path file : files) {
            try (SafetensorsFile st = SafetensorsFile.open(file)) {
                for (String name : st.names()) {
                    SafetensorsFile.Tensor t = st.tensor(name).orElseThrow();
                    w.put(name, toDoubles(t));
                    shapes.put(name, t.shape());
                }
            }
        }
    }

    private static double[] toDoubles(SafetensorsFile.Tensor t) {
        MemorySegment d = t.data();
        double[] out = new double[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> d.get(JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i);
                // bfloat16 is the upper half of a float32
                case BF16 -> Float.intBitsToFloat(d.get(JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i) << 16);
                case F16 -> Float.float16ToFloat(d.get(JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i));
            };
        }
        return out;
    }
}
