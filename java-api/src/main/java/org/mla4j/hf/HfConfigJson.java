package org.mla4j.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;

/**
 * config.json (transformers' LlamaConfig, Qwen2Config or DeepseekV3Config fields) and model.safetensors.index.json
 * for a model written by {@link GgufToHf}.
 */
final class HfConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HfConfigJson() {
    }

    /** @param rmsEps the rms_norm_eps to write (GgufToHf compensates deepseek2 weights for 1e-6) */
    static void write(Path file, GgufHparams hp, double rmsEps, GgufFile g, GgmlType dtype) throws IOException {
        ObjectNode c = JSON.createObjectNode();
        switch (hp.arch()) {
            case "llama" -> {
                c.putArray("architectures").add("LlamaForCausalLM");
                c.put("model_type", "llama");
            }
            case "qwen2" -> {
                c.putArray("architectures").add("Qwen2ForCausalLM");
                c.put("model_type", "qwen2");
            }
            default -> {
                c.putArray("architectures").add("DeepseekV3ForCausalLM");
                c.put("model_type", "deepseek_v3");
            }
        }
        c.put("hidden_size", hp.embd());
        c.put("intermediate_size", hp.ff());
        c.put("num_hidden_layers", hp.layers());
        c.put("num_attention_heads", hp.heads());
        // TransMLA writes num_key_value_heads = num_attention_heads for its deepseek_v3 models too.
        c.put("num_key_value_heads", hp.mla() ? hp.heads() : hp.kvHeads());
        c.put("hidden_act", "silu");
        c.put("max_position_embeddings", hp.ctx());
        c.put("rms_norm_eps", rmsEps);
        c.put("rope_theta", hp.ropeBase());
        if (hp.ropeScale() != 1) {
            c.putObject("rope_scaling").put("rope_type", "linear").put("type", "linear").put("factor", hp.ropeScale());
        } else {
            c.putNull("rope_scaling");
        }
        c.put("vocab_size", hp.vocab());
        c.put("tie_word_embeddings", hp.tied());
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("initializer_range", 0.02);
        c.put("use_cache", true);
        g.getLong("tokenizer.ggml.bos_token_id").ifPresent(id -> c.put("bos_token_id", id));
        g.getLong("tokenizer.ggml.eos_token_id").ifPresent(id -> c.put("eos_token_id", id));
        if (hp.mla()) {
            if (hp.qLora() > 0) c.put("q_lora_rank", hp.qLora());
            else c.putNull("q_lora_rank");
            c.put("kv_lora_rank", hp.kvLora());
            c.put("qk_rope_head_dim", hp.rope());
            c.put("qk_nope_head_dim", hp.nope());
            c.put("v_head_dim", hp.vDim());
            c.put("head_dim", hp.rope()); // what DeepseekV3Config derives
            c.put("rope_interleave", true); // the rope rows are in adjacent-pair (NORM) order
            c.put("first_k_dense_replace", hp.layers());
            c.putNull("n_routed_experts");
            c.putNull("n_shared_experts");
            c.putNull("num_experts_per_tok");
            c.put("moe_intermediate_size", hp.ff());
            c.put("moe_layer_freq", 1);
            c.put("routed_scaling_factor", 1.0);
            c.put("norm_topk_prob", true);
        } else {
            c.put("head_dim", hp.headDim());
            if (hp.arch().equals("llama")) c.put("mlp_bias", false);
            if (hp.arch().equals("qwen2")) c.put("use_sliding_window", false);
        }
        c.put("torch_dtype", switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            default -> "bfloat16";
        });
        Files.writeString(file, JSON.writeValueAsString(c));
    }

    static void writeIndex(Path file, List<SafetensorsWriter> shards, List<String> names, long totalBytes)
            throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = root.putObject("weight_map");
        for (int s = 0; s < shards.size(); s++) {
            for (String t : shards.get(s).names()) map.put(t, names.get(s));
        }
        Files.writeString(file, JSON.writeValueAsString(root));
    }
}
