package org.mla4j.hf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.mla4j.NativeLibrary;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufType;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.tokenizer.HuggingFaceImport;
import org.mla4j.tokenizer.MetadataMap;
import org.mla4j.tokenizer.Vocabulary;

/**
 * Converts a Hugging Face directory to GGUF as llama.cpp's converter does: Llama/Mistral to {@code llama} with
 * the q/k row permutation, Qwen2 to {@code qwen2} (unpermuted, with biases), dense DeepSeek-V3 to {@code deepseek2}
 * in MLA mode (kv_b_proj split into attn_k_b / attn_v_b as DeepseekV2Model does). Tensor types are kept (1-D
 * tensors become F32); tensors stream from the mappings row by row. Every tensor is checked before the output is
 * created, and the output is written to a temporary file and renamed.
 */
public final class HfToGguf {
    private HfToGguf() {
    }

    /**
     * Converts a Hugging Face model directory to a GGUF file, as llama.cpp's converter does.
     *
     * @param dir the open model directory
     * @param out the GGUF file to write (replaced only when complete)
     * @param progress told which tensor is written
     * @throws IOException when a file cannot be read or written
     */
    public static void write(HfModelDir dir, Path out, ProgressListener progress) throws IOException {
        NativeLibrary.load();
        HfConfig c = dir.config();
        AtomicLong done = new AtomicLong();
        long[] total = {0};
        TensorPlan plan = new TensorPlan(dir, (tensor, bytes) -> progress.progress(tensor, done.addAndGet(bytes),
                total[0]));
        String arch = switch (c.family()) {
            case LLAMA -> "llama";
            case QWEN2 -> "qwen2";
            case DEEPSEEK_V3 -> "deepseek2";
        };
        if (c.family() == HfConfig.Family.LLAMA && c.ropeScaling().type().equals("llama3")) {
            plan.values("rope_freqs.weight", Llama3RopeFactors.compute(c));
        }
        plan.copy("token_embd.weight", "model.embed_tokens.weight", c.vocabSize(), c.hiddenSize());
        for (int i = 0; i < c.layers(); i++) {
            if (c.isMla()) {
                DeepseekTensors.layer(plan, c, i);
            } else {
                attention(plan, c, i);
            }
            ffn(plan, c, i);
        }
        plan.copy("output_norm.weight", "model.norm.weight", c.hiddenSize());
        if (dir.tensor("lm_head.weight").isPresent() || !c.tieWordEmbeddings()) {
            plan.copy("output.weight", "lm_head.weight", c.vocabSize(), c.hiddenSize());
        }
        plan.checkAllUsed();
        MetadataMap vocab = tokenizer(dir, c);
        total[0] = plan.outputs().stream().mapToLong(TensorPlan.Out::byteSize).sum();

        try (GgufWriter w = GgufWriter.create(out)) {
            int ropeDims = c.isMla() ? c.mla().qkRopeHeadDim() : c.headDim();
            Synth.putCommon(w, arch, name(dir), GgufQuantizer.fileType(fileType(plan)), c.maxPositions(),
                    c.hiddenSize(), c.layers(), c.intermediateSize(), c.heads(), ropeDims, (float) c.ropeTheta(),
                    (float) c.rmsEps());
            w.putUInt32(arch + ".vocab_size", c.vocabSize());
            if (c.isMla()) {
                DeepseekTensors.putMetadata(w, c);
            } else {
                w.putUInt32(arch + ".attention.head_count_kv", c.kvHeads());
                if (c.headDim() * c.heads() != c.hiddenSize()) {
                    w.putUInt32(arch + ".attention.key_length", c.headDim());
                    w.putUInt32(arch + ".attention.value_length", c.headDim());
                }
                if (c.ropeScaling().type().equals("linear")) {
                    w.putString(arch + ".rope.scaling.type", "linear");
                    w.putFloat32(arch + ".rope.scaling.factor", (float) c.ropeScaling().factor());
                }
            }
            putAll(w, vocab);
            for (TensorPlan.Out o : plan.outputs()) w.addTensor(o.name(), o.type(), o.ne(), o.source());
            w.commit();
        }
    }

    /**
     * Converts {@code dir} to a new GGUF file under java.io.tmpdir, which the caller deletes.
     *
     * @param dir the model directory
     * @return the temporary GGUF file
     * @throws IOException when a file cannot be read or written
     */
    public static Path toTemporaryGguf(Path dir) throws IOException {
        Path tmp = Files.createTempFile("mla4j-hf-", ".gguf");
        tmp.toFile().deleteOnExit();
        try (HfModelDir d = HfModelDir.open(dir)) {
            write(d, tmp, ProgressListener.NONE);
            return tmp;
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    private static void attention(TensorPlan p, HfConfig c, int i) {
        String hf = "model.layers." + i + ".", b = "blk." + i + ".";
        long e = c.hiddenSize(), q = (long) c.heads() * c.headDim(), kv = (long) c.kvHeads() * c.headDim();
        p.copy(b + "attn_norm.weight", hf + "input_layernorm.weight", e);
        boolean permute = c.family() == HfConfig.Family.LLAMA;
        String a = hf + "self_attn.";
        if (permute) {
            p.permuted(b + "attn_q.weight", a + "q_proj.weight", c.headDim(), q, e);
            p.permuted(b + "attn_k.weight", a + "k_proj.weight", c.headDim(), kv, e);
        } else {
            p.copy(b + "attn_q.weight", a + "q_proj.weight", q, e);
            p.copy(b + "attn_k.weight", a + "k_proj.weight", kv, e);
        }
        p.copy(b + "attn_v.weight", a + "v_proj.weight", kv, e);
        if (c.family() == HfConfig.Family.QWEN2) {
            p.copy(b + "attn_q.bias", a + "q_proj.bias", q);
            p.copy(b + "attn_k.bias", a + "k_proj.bias", kv);
            p.copy(b + "attn_v.bias", a + "v_proj.bias", kv);
        }
        p.copy(b + "attn_output.weight", a + "o_proj.weight", e, q);
    }

    static void ffn(TensorPlan p, HfConfig c, int i) {
        String hf = "model.layers." + i + ".", b = "blk." + i + ".";
        long e = c.hiddenSize(), f = c.intermediateSize();
        p.copy(b + "ffn_norm.weight", hf + "post_attention_layernorm.weight", e);
        p.copy(b + "ffn_gate.weight", hf + "mlp.gate_proj.weight", f, e);
        p.copy(b + "ffn_up.weight", hf + "mlp.up_proj.weight", f, e);
        p.copy(b + "ffn_down.weight", hf + "mlp.down_proj.weight", e, f);
    }

    /** The type most matrices have (general.file_type). */
    private static GgmlType fileType(TensorPlan p) {
        Map<GgmlType, Long> count = new java.util.EnumMap<>(GgmlType.class);
        for (TensorPlan.Out o : p.outputs()) {
            if (o.ne().length >= 2) count.merge(o.type(), 1L, Long::sum);
        }
        return count.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(GgmlType.F32);
    }

    private static String name(HfModelDir dir) {
        Path n = dir.dir().toAbsolutePath().normalize().getFileName();
        return n == null ? "model" : n.toString();
    }

    /** The tokenizer metadata, padded with unused "[PADi]" tokens up to the embedding's vocab_size. */
    static MetadataMap tokenizer(HfModelDir dir, HfConfig c) throws IOException {
        Path json = dir.tokenizerJson().orElseThrow(() -> new IllegalArgumentException(dir.dir()
                + ": no tokenizer.json (tokenizer.model alone is not supported)"));
        MetadataMap m = HuggingFaceImport.read(json, dir.tokenizerConfig().orElse(null));
        List<String> tokens = m.getStringArray("tokenizer.ggml.tokens").orElseThrow();
        int n = tokens.size();
        if (n > c.vocabSize()) {
            throw new IllegalArgumentException(json + ": " + n + " tokens, more than config.json's vocab_size "
                    + c.vocabSize());
        }
        if (n == c.vocabSize()) return m;
        Map<String, Object> padded = new java.util.LinkedHashMap<>(m.asMap());
        List<String> t = new ArrayList<>(tokens);
        int[] types = java.util.Arrays.copyOf(m.getIntArray("tokenizer.ggml.token_type").orElseThrow(), c.vocabSize());
        for (int i = n; i < c.vocabSize(); i++) {
            t.add("[PAD" + i + "]");
            types[i] = Vocabulary.TYPE_UNUSED;
        }
        padded.put("tokenizer.ggml.tokens", List.copyOf(t));
        padded.put("tokenizer.ggml.token_type", types);
        m.getFloatArray("tokenizer.ggml.scores").ifPresent(s -> padded.put("tokenizer.ggml.scores",
                java.util.Arrays.copyOf(s, c.vocabSize())));
        return new MetadataMap(padded);
    }

    /** Writes tokenizer metadata with the GGUF types llama.cpp's converter uses. */
    @SuppressWarnings("unchecked")
    static void putAll(GgufWriter w, MetadataMap m) {
        for (Map.Entry<String, Object> e : m.asMap().entrySet()) {
            Object v = e.getValue();
            switch (v) {
                case String s -> w.putString(e.getKey(), s);
                case Boolean b -> w.putBool(e.getKey(), b);
                case Long l -> w.putUInt32(e.getKey(), l);
                case float[] f -> w.putArray(e.getKey(), GgufType.FLOAT32, f);
                case int[] i -> w.putArray(e.getKey(), GgufType.INT32, i);
                case List<?> l -> w.putStringArray(e.getKey(), (List<String>) l);
                default -> throw new IllegalStateException("metadata value of " + v.getClass());
            }
        }
    }
}
