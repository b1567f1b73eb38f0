package org.mla4j.convert;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

import org.mla4j.Hyperparameters;
import org.mla4j.gguf.Deepseek2Keys;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.gguf.TensorSource;
import org.mla4j.linalg.Matrix;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.quant.RowEncoder;

/**
 * Writes the converted model: the source's general and tokenizer metadata, the output architecture's keys, the
 * untouched tensors (embeddings, norms, attn_output, FFN) re-encoded to the output type where asked, and each
 * layer's converted attention tensors. Layers are converted lazily, when the writer reaches their first tensor, and
 * each layer's buffers are freed before the next one is converted, so memory stays at one layer's worth.
 */
final class MlaGgufOutput {
    /** Converts one layer into its named tensors (suffix after "blk.i."), in the given arena. */
    interface LayerConverter {
        Map<String, Object> convert(Arena arena, int layer);
    }

    private final GgufFile src;
    private final ConversionPlan plan;
    private final LayerConverter converter;
    private final IntConsumer layerDone;
    private Arena layerArena;
    private int cachedLayer = -1;
    private Map<String, Object> cached;

    MlaGgufOutput(GgufFile src, ConversionPlan plan, LayerConverter converter, IntConsumer layerDone) {
        this.src = src;
        this.plan = plan;
        this.converter = converter;
        this.layerDone = layerDone;
    }

    void write(Path out) throws IOException {
        Hyperparameters hp = plan.source();
        GgmlType type = plan.options().outType();
        try (GgufWriter w = GgufWriter.create(out)) {
            String srcArch = hp.architecture() + ".";
            for (String key : src.keys()) {
                if (key.startsWith(srcArch) || key.equals("general.architecture") || key.equals("general.file_type")
                        || key.equals("general.alignment")) continue;
                w.copyFrom(src, key);
            }
            w.putString("general.architecture", plan.arch());
            w.putUInt32("general.file_type", GgufQuantizer.fileType(type));
            if (!w.containsKey("general.quantization_version")) w.putUInt32("general.quantization_version", 2);
            putArchKeys(w, hp);

            copy(w, "token_embd.weight", type);
            copy(w, "output_norm.weight", type);
            if (src.tensor("output.weight").isPresent()) copy(w, "output.weight", type);
            for (int il = 0; il < hp.layers(); il++) {
                String p = "blk." + il + ".";
                copy(w, p + "attn_norm.weight", type);
                List<ConversionPlan.TensorSpec> specs = plan.layerTensors(il);
                for (int i = 0; i < specs.size(); i++) {
                    ConversionPlan.TensorSpec s = specs.get(i);
                    boolean last = i == specs.size() - 1;
                    int layer = il;
                    GgmlType t = convertedType(s);
                    w.addTensor(s.name(), t, s.shape(), (ch, size) -> {
                        Object value = layer(layer).get(s.name().substring(p.length()));
                        if (value == null) throw new IllegalStateException("layer " + layer + " produced no " + s.name());
                        encode(value, t, s.shape()[0], ch);
                        if (last) layerDone.accept(layer);
                    });
                }
                copy(w, p + "attn_output.weight", type);
                copy(w, p + "ffn_norm.weight", type);
                copy(w, p + "ffn_gate.weight", type);
                copy(w, p + "ffn_up.weight", type);
                copy(w, p + "ffn_down.weight", type);
            }
            try {
                w.commit();
            } finally {
                if (layerArena != null) layerArena.close();
            }
        }
    }

    private void putArchKeys(GgufWriter w, Hyperparameters hp) {
        String a = plan.arch() + ".";
        w.putUInt32(a + "context_length", hp.contextLength());
        w.putUInt32(a + "embedding_length", hp.embeddingLength());
        w.putUInt32(a + "block_count", hp.layers());
        w.putUInt32(a + "feed_forward_length", hp.feedForwardLength());
        w.putUInt32(a + "attention.head_count", hp.heads());
        w.putFloat32(a + "rope.freq_base", hp.ropeFreqBase());
        w.putFloat32(a + "attention.layer_norm_rms_epsilon", hp.rmsEps());
        w.putUInt32(a + "attention.kv_lora_rank", plan.latent());
        w.putUInt32(a + "rope.dimension_count", plan.ropeDims());
        w.putUInt32(a + "vocab_size", hp.vocabSize());
        int dh = hp.headDimK();
        if (plan.arch().equals("deepseek2")) {
            Deepseek2Keys.putDenseMla(w, hp.layers(), hp.feedForwardLength(), plan.latent(), plan.ropeDims(), dh, dh,
                    plan.options().qLoraRank());
        } else {
            w.putUInt32(a + "attention.head_count_kv", hp.kvHeads());
            w.putUInt32(a + "attention.key_length", dh);
        }
    }

    /** Converted tensors: frequencies and vectors F32; the exact-norm latent rows F32 or BF16; else the output type. */
    private GgmlType convertedType(ConversionPlan.TensorSpec s) {
        GgmlType type = plan.options().outType();
        if (s.shape().length == 1 || s.name().endsWith("attn_rope_freqs")) return GgmlType.F32;
        if (s.name().endsWith("attn_kv_a_mqa.weight") || s.name().endsWith("attn_q_a.weight")) return type == GgmlType.BF16 ? GgmlType.BF16 : GgmlType.F32;
        return GgufQuantizer.fallback(type, s.shape()[0], GgmlType.F32);
    }

    private void copy(GgufWriter w, String name, GgmlType target) {
        GgufTensorInfo t = src.tensor(name).orElseThrow(() -> new ConversionException(
                src.path() + ": tensor '" + name + "' is missing"));
        GgufQuantizer.Decision d = GgufQuantizer.decide(t, target);
        TensorSource data = d.to() == t.type() ? TensorSource.of(src.tensorData(t))
                : GgufQuantizer.reencode(src.tensorData(t), t, d.to());
        w.addTensor(name, d.to(), t.shape(), data);
    }

    private Map<String, Object> layer(int il) {
        if (il != cachedLayer) {
            if (layerArena != null) layerArena.close();
            cached = null;
            layerArena = Arena.ofConfined();
            cached = converter.convert(layerArena, il);
            cachedLayer = il;
        }
        return cached;
    }

    private static void encode(Object value, GgmlType type, long cols, java.nio.channels.WritableByteChannel ch)
            throws IOException {
        RowEncoder enc = RowEncoder.of(type);
        int n = Math.toIntExact(cols);
        float[] row = new float[n];
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(type.rowBytes(n))).order(ByteOrder.LITTLE_ENDIAN);
        if (value instanceof double[] v) {
            for (int i = 0; i < n; i++) row[i] = (float) v[i];
            writeRow(enc, row, buf, ch);
            return;
        }
        Matrix m = (Matrix) value;
        if (m.cols() != n) throw new IllegalStateException("tensor row of " + m.cols() + " values, expected " + n);
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < n; c++) row[c] = (float) m.get(r, c);
            writeRow(enc, row, buf, ch);
        }
    }

    private static void writeRow(RowEncoder enc, float[] row, ByteBuffer buf, java.nio.channels.WritableByteChannel ch)
            throws IOException {
        buf.clear();
        enc.encode(row, 0, row.length, buf);
        buf.flip();
        while (buf.hasRemaining()) ch.write(buf);
    }
}
