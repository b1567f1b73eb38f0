package org.mla4j.hf;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongToDoubleFunction;

import org.mla4j.NativeLibrary;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.synth.ProgressListener;
import org.mla4j.tokenizer.HuggingFaceExport;

/**
 * Writes a GGUF model as a Hugging Face directory: {@code llama} (the q/k rows permuted back to rotate_half
 * order), {@code qwen2}, and {@code deepseek2} as a DeepSeek-V3 dense model (attn_k_b/attn_v_b merged back into
 * kv_b_proj) that transformers, vLLM and SGLang load. Tensors are written in one dtype (F32 or BF16; quantized
 * tensors are dequantized natively); config.json, tokenizer.json and tokenizer_config.json come with them. The
 * directory is assembled beside the target and renamed when complete.
 *
 * <p>deepseek2 norms: transformers' {@code modeling_deepseek_v3.py} builds {@code q_a_layernorm} and
 * {@code kv_a_layernorm} with its default eps of 1e-6 whatever {@code rms_norm_eps} says, while vLLM, SGLang and
 * llama.cpp apply {@code rms_norm_eps} to every norm. The export therefore writes {@code rms_norm_eps} = 1e-6, so that
 * both readings agree, and compensates in the weights: RMSNorm(a z; a^2 eps) = RMSNorm(z; eps), so scaling the input
 * of every norm by a = sqrt(1e-6 / eps) makes it compute with eps 1e-6 exactly what the GGUF computes with its own
 * eps. The residual stream is scaled through everything that writes into it (token embeddings, o_proj, down_proj);
 * a tied lm_head sees the scaled embeddings, so the final norm's weight is divided by a; the latent norms' inputs
 * are scaled through the latent rows of kv_a_proj_with_mqa and q_a_proj (docs/FORMAT.md, "Hugging Face export").
 */
public final class GgufToHf {
    /** The eps transformers' DeepSeek-V3 always uses for q_a_layernorm and kv_a_layernorm (DeepseekV3RMSNorm's default). */
    public static final double DEEPSEEK_FIXED_NORM_EPS = 1e-6;

    /** Hugging Face's default shard size (save_pretrained's max_shard_size "5GB"). */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    private GgufToHf() {
    }

    /**
     * {@return the default output dtype: F32 when every tensor of the GGUF is F32, else BF16}
     *
     * @param g the model's file
     */
    public static GgmlType defaultDtype(GgufFile g) {
        return g.tensors().stream().allMatch(t -> t.type() == GgmlType.F32) ? GgmlType.F32 : GgmlType.BF16;
    }

    /**
     * Writes a GGUF model as a Hugging Face directory, in shards of the default size.
     *
     * @param g the model's file
     * @param outDir the directory to write
     * @param dtype F32 or BF16, or null for {@link #defaultDtype}
     * @param progress told which tensor is written
     * @throws IOException when a file cannot be written
     */
    public static void write(GgufFile g, Path outDir, GgmlType dtype, ProgressListener progress) throws IOException {
        write(g, outDir, dtype, DEFAULT_SHARD_BYTES, progress);
    }

    /**
     * Writes a GGUF model as a Hugging Face directory.
     *
     * @param g the model's file
     * @param outDir the directory to write
     * @param dtype F32 or BF16, or null for {@link #defaultDtype}
     * @param maxShardBytes tensor bytes per safetensors file before a new shard starts (a tensor is never split)
     * @param progress told which tensor is written
     * @throws IOException when a file cannot be written
     */
    public static void write(GgufFile g, Path outDir, GgmlType dtype, long maxShardBytes, ProgressListener progress)
            throws IOException {
        write(g, outDir, dtype, maxShardBytes, true, progress);
    }

    /**
     * The factor a = sqrt(1e-6 / eps) on the input of every norm of a deepseek2 model with RMSNorm epsilon eps (1 when
     * eps already is 1e-6 in float32, the precision GGUF stores it in).
     */
    static double normInputScale(double eps) {
        return (float) eps == (float) DEEPSEEK_FIXED_NORM_EPS ? 1 : Math.sqrt(DEEPSEEK_FIXED_NORM_EPS / eps);
    }

    /**
     * @param matchNormEps deepseek2: write rms_norm_eps 1e-6 and compensate in the weights (see the class comment);
     *     false writes the GGUF's eps and unscaled weights, the export before this was fixed, which transformers
     *     reads wrongly: tests keep it to show that their reference forward pass catches the difference
     */
    static void write(GgufFile g, Path outDir, GgmlType dtype, long maxShardBytes, boolean matchNormEps,
            ProgressListener progress) throws IOException {
        NativeLibrary.load();
        GgmlType type = dtype == null ? defaultDtype(g) : dtype;
        if (type != GgmlType.F32 && type != GgmlType.BF16 && type != GgmlType.F16) {
            throw new IllegalArgumentException("Hugging Face output dtype must be F32, BF16 or F16, not " + type);
        }
        GgufHparams hp = GgufHparams.read(g);
        AtomicLong done = new AtomicLong();
        long[] total = {0};
        GgufTensors t = new GgufTensors(g, type, (name, bytes) -> progress.progress(name, done.addAndGet(bytes), total[0]));
        long e = hp.embd(), v = hp.vocab();
        double a = hp.mla() && matchNormEps ? normInputScale(hp.rmsEps()) : 1;
        LongToDoubleFunction residual = a == 1 ? null : r -> a;
        t.addScaled("model.embed_tokens.weight", "token_embd.weight", residual, e, v);
        for (int i = 0; i < hp.layers(); i++) {
            String b = "blk." + i + ".", hf = "model.layers." + i + ".";
            t.add(hf + "input_layernorm.weight", b + "attn_norm.weight", null, e);
            if (hp.mla()) {
                deepseekAttention(t, hp, b, hf + "self_attn.", a);
            } else {
                attention(t, hp, b, hf + "self_attn.");
            }
            t.add(hf + "post_attention_layernorm.weight", b + "ffn_norm.weight", null, e);
            t.add(hf + "mlp.gate_proj.weight", b + "ffn_gate.weight", null, e, hp.ff());
            t.add(hf + "mlp.up_proj.weight", b + "ffn_up.weight", null, e, hp.ff());
            t.addScaled(hf + "mlp.down_proj.weight", b + "ffn_down.weight", residual, hp.ff(), e);
        }
        // a tied lm_head reads the scaled embeddings: the final norm's weight takes the factor back
        t.addScaled("model.norm.weight", "output_norm.weight", a == 1 || !hp.tied() ? null : r -> 1 / a, e);
        if (!hp.tied()) t.add("lm_head.weight", "output.weight", null, e, v);
        t.checkAllUsed(hp.arch());

        List<SafetensorsWriter> shards = shard(t.entries(), SafetensorsDtype.of(type), maxShardBytes);
        total[0] = shards.stream().mapToLong(SafetensorsWriter::dataBytes).sum();
        HfDirectoryWriter.write(outDir, dir -> {
            HfConfigJson.write(dir.resolve(HfModelDir.CONFIG), hp, hp.mla() && matchNormEps ? DEEPSEEK_FIXED_NORM_EPS
                    : hp.rmsEps(), g, type);
            HuggingFaceExport.write(g, g.path().toString(), hp.ctx(), dir);
            if (shards.size() == 1) {
                shards.get(0).write(dir.resolve(HfModelDir.SINGLE));
            } else {
                List<String> names = new ArrayList<>();
                for (int s = 0; s < shards.size(); s++) {
                    String name = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
                    shards.get(s).write(dir.resolve(name));
                    names.add(name);
                }
                HfConfigJson.writeIndex(dir.resolve(HfModelDir.INDEX), shards, names, total[0]);
            }
        });
    }

    private static void attention(GgufTensors t, GgufHparams hp, String b, String a) {
        long e = hp.embd(), q = (long) hp.heads() * hp.headDim(), kv = (long) hp.kvHeads() * hp.headDim();
        int hd = hp.headDim();
        boolean permute = hp.arch().equals("llama");
        t.add(a + "q_proj.weight", b + "attn_q.weight", permute ? r -> QkPermutation.ggufRowOf(r, hd) : null, e, q);
        t.add(a + "k_proj.weight", b + "attn_k.weight", permute ? r -> QkPermutation.ggufRowOf(r, hd) : null, e, kv);
        t.add(a + "v_proj.weight", b + "attn_v.weight", null, e, kv);
        if (hp.arch().equals("qwen2")) {
            t.add(a + "q_proj.bias", b + "attn_q.bias", null, q);
            t.add(a + "k_proj.bias", b + "attn_k.bias", null, kv);
            t.add(a + "v_proj.bias", b + "attn_v.bias", null, kv);
        }
        t.add(a + "o_proj.weight", b + "attn_output.weight", null, q, e);
    }

    /** @param scale the norm input factor: on the q-LoRA and KV latents and the attention output */
    private static void deepseekAttention(GgufTensors t, GgufHparams hp, String b, String a, double scale) {
        long e = hp.embd(), h = hp.heads(), n = hp.nope(), r = hp.rope(), c = hp.kvLora(), dv = hp.vDim();
        LongToDoubleFunction all = scale == 1 ? null : row -> scale;
        if (hp.qLora() > 0) {
            t.addScaled(a + "q_a_proj.weight", b + "attn_q_a.weight", all, e, hp.qLora());
            t.add(a + "q_a_layernorm.weight", b + "attn_q_a_norm.weight", null, hp.qLora());
            t.add(a + "q_b_proj.weight", b + "attn_q_b.weight", null, hp.qLora(), h * (n + r));
        } else {
            t.add(a + "q_proj.weight", b + "attn_q.weight", null, e, h * (n + r));
        }
        // rows [latent C | k_pe R]: only the latent feeds kv_a_layernorm
        t.addScaled(a + "kv_a_proj_with_mqa.weight", b + "attn_kv_a_mqa.weight",
                scale == 1 ? null : row -> row < c ? scale : 1, e, c + r);
        t.add(a + "kv_a_layernorm.weight", b + "attn_kv_a_norm.weight", null, c);
        if (t.has(b + "attn_kv_b.weight")) {
            t.add(a + "kv_b_proj.weight", b + "attn_kv_b.weight", null, c, h * (n + dv));
        } else {
            t.kvB(a + "kv_b_proj.weight", b + "attn_k_b.weight", b + "attn_v_b.weight", n, c, dv, h);
        }
        t.addScaled(a + "o_proj.weight", b + "attn_output.weight", all, h * dv, e);
    }

    /** Groups the tensors into files of at most maxBytes of data each (one tensor may exceed it alone). */
    private static List<SafetensorsWriter> shard(List<GgufTensors.Entry> entries, SafetensorsDtype dtype, long maxBytes) {
        List<SafetensorsWriter> shards = new ArrayList<>();
        SafetensorsWriter cur = new SafetensorsWriter();
        for (GgufTensors.Entry en : entries) {
            long bytes = new SafetensorsWriter.Entry(en.name(), dtype, en.shape(), en.source()).byteSize();
            if (!cur.isEmpty() && cur.dataBytes() + bytes > maxBytes) {
                shards.add(cur);
                cur = new SafetensorsWriter();
            }
            cur.add(en.name(), dtype, en.shape(), en.source());
        }
        shards.add(cur);
        return shards;
    }
}
