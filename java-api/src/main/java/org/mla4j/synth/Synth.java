package org.mla4j.synth;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufType;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.gguf.TensorSource;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.quant.RowEncoder;

/**
 * Writes a random-weight model of a given shape as a GGUF file that llama.cpp loads: the metadata its llama/qwen2
 * loaders read, a synthetic SentencePiece vocabulary, and the exact tensor set of the architecture (formats.md,
 * "The llama architecture"). Weights are generated row by row while the file is written, so even a 1B model never
 * sits in memory.
 *
 * <p>Weights are bell-shaped with standard deviations chosen so that activations stay of order 1 and the model is
 * sensitive to everything a runtime could get wrong: a matrix with fan-in n has std 1/sqrt(n), so its output has the
 * scale of its RMS-normalised input; attn_q and attn_k get {@value #QK_GAIN} times that, so attention scores
 * q.k/sqrt(head_dim) have a std near {@value #QK_GAIN}^2 and attention (and with it RoPE and positions) is far from
 * uniform; embeddings have std 1 like a normalised activation; norm weights are 1; qwen2 biases have std
 * {@value #BIAS_STD}.
 */
public final class Synth {
    static final float QK_GAIN = 1.5f;
    static final float BIAS_STD = 0.5f;
    /** Bytes of encoded rows generated before each write. */
    private static final int CHUNK_BYTES = 4 << 20;

    private Synth() {
    }

    /** One tensor to generate: constant 1 (norms), given values, or random with standard deviation std. */
    record Planned(String name, GgmlType type, long[] shape, boolean ones, float std, float[] values) {
        Planned(String name, GgmlType type, long[] shape, boolean ones, float std) {
            this(name, type, shape, ones, std, null);
        }
    }

    /**
     * Writes the model.
     *
     * @param type weight type for the 2-D tensors: any of {@link RowEncoder#TYPES}. 1-D tensors are always F32, and a
     *             2-D tensor whose rows do not fill whole blocks of a quantized type gets llama-quantize's fallback
     *             ({@link GgufQuantizer#fallback}: Q4_K to Q5_0, ..., F16 last).
     * @param seed the same seed gives the same bytes
     * @param spec the model's shape
     * @param out the output file (replaced only when complete)
     * @param progress told how many bytes are written
     * @throws IOException when the file cannot be written
     */
    public static void write(SynthSpec spec, GgmlType type, long seed, Path out, ProgressListener progress)
            throws IOException {
        int fileType = fileType(type);
        SynthVocab vocab = SynthVocab.build(spec.nVocab());
        writePlanned(out, plan(spec, type), w -> putMetadata(w, spec, fileType, vocab), seed, progress);
    }

    /**
     * Writes an MLA model (deepseek2 or mha2mla): see {@link MlaSynthSpec}.
     *
     * @param spec the model's shape
     * @param type weight type for the 2-D tensors, as for the llama/qwen2 form
     * @param seed the same seed gives the same bytes
     * @param out the output file (replaced only when complete)
     * @param progress told how many bytes are written
     * @throws IOException when the file cannot be written
     */
    public static void write(MlaSynthSpec spec, GgmlType type, long seed, Path out, ProgressListener progress)
            throws IOException {
        int fileType = fileType(type);
        SynthVocab vocab = SynthVocab.build(spec.nVocab());
        writePlanned(out, MlaSynth.plan(spec, type, seed), w -> MlaSynth.putMetadata(w, spec, fileType, vocab), seed,
                progress);
    }

    private static void writePlanned(Path out, List<Planned> plan, java.util.function.Consumer<GgufWriter> metadata,
            long seed, ProgressListener progress) throws IOException {
        try (GgufWriter w = GgufWriter.create(out)) {
            metadata.accept(w);
            long total = plan.stream().mapToLong(t -> t.type.rowBytes(t.shape[0]) * rows(t)).sum();
            AtomicLong done = new AtomicLong();
            for (Planned t : plan) {
                w.addTensor(t.name, t.type, t.shape, source(t, seed, done, total, progress));
            }
            w.commit();
        }
    }

    /** llama_ftype of a model whose matrices are of {@code type}; the type must be one RowEncoder writes. */
    static int fileType(GgmlType type) {
        if (!RowEncoder.TYPES.contains(type)) {
            throw new IllegalArgumentException("synth supports " + RowEncoder.TYPES + ", not " + type);
        }
        return GgufQuantizer.fileType(type);
    }

    /**
     * The general keys and the shape keys every architecture has, under the "arch." prefix.
     *
     * @param w the writer
     * @param arch the architecture (key prefix)
     * @param name general.name
     * @param fileType general.file_type
     * @param ctx context_length
     * @param embd embedding_length
     * @param layers block_count
     * @param ff feed_forward_length
     * @param heads attention.head_count
     * @param ropeDims rope.dimension_count
     * @param ropeBase rope.freq_base
     * @param rmsEps attention.layer_norm_rms_epsilon
     */
    public static void putCommon(GgufWriter w, String arch, String name, int fileType, int ctx, int embd, int layers, int ff,
            int heads, int ropeDims, float ropeBase, float rmsEps) {
        String a = arch + ".";
        w.putString("general.architecture", arch);
        w.putString("general.name", name);
        w.putUInt32("general.file_type", fileType);
        w.putUInt32("general.quantization_version", 2);
        w.putUInt32(a + "context_length", ctx);
        w.putUInt32(a + "embedding_length", embd);
        w.putUInt32(a + "block_count", layers);
        w.putUInt32(a + "feed_forward_length", ff);
        w.putUInt32(a + "attention.head_count", heads);
        w.putUInt32(a + "rope.dimension_count", ropeDims);
        w.putFloat32(a + "rope.freq_base", ropeBase);
        w.putFloat32(a + "attention.layer_norm_rms_epsilon", rmsEps);
    }

    private static void putMetadata(GgufWriter w, SynthSpec s, int fileType, SynthVocab vocab) {
        String a = s.arch() + ".";
        putCommon(w, s.arch(), s.name(), fileType, s.nCtx(), s.nEmbd(), s.nLayer(), s.nFf(), s.nHead(), s.headDim(),
                s.ropeBase(), s.rmsEps());
        w.putUInt32(a + "attention.head_count_kv", s.nHeadKv());
        w.putUInt32(a + "vocab_size", s.nVocab());
        putTokenizer(w, vocab);
    }

    /** The synthetic SentencePiece vocabulary, as llama.cpp's loader reads it. */
    static void putTokenizer(GgufWriter w, SynthVocab vocab) {
        w.putString("tokenizer.ggml.model", "llama");
        w.putStringArray("tokenizer.ggml.tokens", vocab.tokens());
        w.putArray("tokenizer.ggml.scores", GgufType.FLOAT32, vocab.scores());
        w.putArray("tokenizer.ggml.token_type", GgufType.INT32, vocab.types());
        w.putUInt32("tokenizer.ggml.bos_token_id", SynthVocab.BOS);
        w.putUInt32("tokenizer.ggml.eos_token_id", SynthVocab.EOS);
        w.putUInt32("tokenizer.ggml.unknown_token_id", SynthVocab.UNK);
        w.putBool("tokenizer.ggml.add_bos_token", true);
        w.putBool("tokenizer.ggml.add_eos_token", false);
    }

    /** The architecture's tensors in the order convert_hf_to_gguf writes them. */
    static List<Planned> plan(SynthSpec s, GgmlType type) {
        long e = s.nEmbd();
        long kv = (long) s.nHeadKv() * s.headDim();
        long f = s.nFf();
        List<Planned> p = new ArrayList<>();
        p.add(matrix("token_embd.weight", type, e, s.nVocab(), 1)); // rows are activations, not a projection
        for (int i = 0; i < s.nLayer(); i++) {
            String b = "blk." + i + ".";
            p.add(norm(b + "attn_norm.weight", e));
            p.add(matrix(b + "attn_q.weight", type, e, e, scaled(QK_GAIN, e)));
            p.add(matrix(b + "attn_k.weight", type, e, kv, scaled(QK_GAIN, e)));
            p.add(matrix(b + "attn_v.weight", type, e, kv, scaled(1, e)));
            if (s.qkvBias()) {
                p.add(bias(b + "attn_q.bias", e));
                p.add(bias(b + "attn_k.bias", kv));
                p.add(bias(b + "attn_v.bias", kv));
            }
            p.add(matrix(b + "attn_output.weight", type, e, e, scaled(1, e)));
            p.add(norm(b + "ffn_norm.weight", e));
            p.add(matrix(b + "ffn_gate.weight", type, e, f, scaled(1, e)));
            p.add(matrix(b + "ffn_up.weight", type, e, f, scaled(1, e)));
            p.add(matrix(b + "ffn_down.weight", type, f, e, scaled(1, f)));
        }
        p.add(norm("output_norm.weight", e));
        p.add(matrix("output.weight", type, e, s.nVocab(), scaled(1, e)));
        return p;
    }

    /**
     * A matrix {ne0, ne1} with the given std; when its rows do not fill whole blocks of {@code type} it gets
     * llama-quantize's fallback type (Q4_K to Q5_0, ..., F16 last: {@link GgufQuantizer#fallback}).
     */
    static Planned matrix(String name, GgmlType type, long ne0, long ne1, float std) {
        GgmlType t = GgufQuantizer.fallback(type, ne0, GgmlType.F16);
        return new Planned(name, t, new long[] {ne0, ne1}, false, std);
    }

    /** gain/sqrt(fanIn): the std that keeps a matrix's output at gain times the scale of its input. */
    static float scaled(float gain, long fanIn) {
        return (float) (gain / Math.sqrt(fanIn));
    }

    /** A projection {ne0 inputs, ne1 outputs} whose outputs keep the scale of its inputs. */
    static Planned projection(String name, GgmlType type, long ne0, long ne1) {
        return matrix(name, type, ne0, ne1, scaled(1, ne0));
    }

    /** A stack of ne2 projections [ne0 inputs, ne1 outputs]. */
    static Planned projection3(String name, GgmlType type, long ne0, long ne1, long ne2) {
        GgmlType t = GgufQuantizer.fallback(type, ne0, GgmlType.F16);
        return new Planned(name, t, new long[] {ne0, ne1, ne2}, false, scaled(1, ne0));
    }

    static Planned norm(String name, long n) {
        return new Planned(name, GgmlType.F32, new long[] {n}, true, 0);
    }

    static Planned bias(String name, long n) {
        return new Planned(name, GgmlType.F32, new long[] {n}, false, BIAS_STD);
    }

    static long rows(Planned t) {
        return Arrays.stream(t.shape).skip(1).reduce(1, Math::multiplyExact);
    }

    /** Generates and encodes the tensor a chunk of rows at a time, rows in parallel, each from its own stream. */
    private static TensorSource source(Planned t, long seed, AtomicLong done, long total, ProgressListener progress) {
        return (out, byteSize) -> {
            int ne0 = Math.toIntExact(t.shape[0]);
            long rows = rows(t);
            if (rows == 0 || ne0 == 0) return; // an empty tensor (deepseek2's shared experts when there are none)
            int rowBytes = Math.toIntExact(t.type.rowBytes(ne0));
            int rowsPerChunk = (int) Math.max(1, Math.min(rows, CHUNK_BYTES / rowBytes));
            RowEncoder encoder = RowEncoder.of(t.type);
            long tensorSeed = WeightGenerator.tensorSeed(seed, t.name);
            ByteBuffer chunk = ByteBuffer.allocateDirect(rowsPerChunk * rowBytes).order(ByteOrder.LITTLE_ENDIAN);
            ThreadLocal<float[]> rowBuffer = ThreadLocal.withInitial(() -> new float[ne0]);
            for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                long first = r0;
                int n = (int) Math.min(rowsPerChunk, rows - r0);
                IntStream.range(0, n).parallel().forEach(i -> {
                    float[] row = rowBuffer.get();
                    if (t.values != null) {
                        System.arraycopy(t.values, Math.toIntExact((first + i) * ne0), row, 0, ne0);
                    } else if (t.ones) {
                        Arrays.fill(row, 1f);
                    } else {
                        WeightGenerator.fillRow(tensorSeed, first + i, t.std, row, ne0);
                    }
                    ByteBuffer dst = chunk.slice(i * rowBytes, rowBytes).order(ByteOrder.LITTLE_ENDIAN);
                    encoder.encode(row, 0, ne0, dst);
                });
                out.write(chunk.clear().limit(n * rowBytes));
                progress.progress(t.name, done.addAndGet((long) n * rowBytes), total);
            }
        };
    }
}
