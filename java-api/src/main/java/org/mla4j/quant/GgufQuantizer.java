package org.mla4j.quant;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.internal.Status;

/**
 * Re-encodes a GGUF model's weight matrices to one type (any of {@link RowEncoder#TYPES}), like llama.cpp's
 * {@code llama-quantize --pure} without an importance matrix, with the same bytes: 1-D tensors and norms are
 * kept, metadata is copied (general.file_type updated), and a matrix whose rows are not a multiple of the type's
 * block size gets llama-quantize's fallback type ({@link #fallback}). Tensors are converted a chunk of rows at a
 * time (rows in parallel) while the output is streamed to a temporary file that replaces the target only when
 * complete.
 */
public final class GgufQuantizer {

    /**
     * What happened to one tensor.
     *
     * @param tensor   the tensor's name
     * @param from     its type in the source
     * @param to       its type in the output
     * @param fallback true when it could not take the target type (rows not a multiple of the block size)
     */
    public record Decision(String tensor, GgmlType from, GgmlType to, boolean fallback) {
    }

    private GgufQuantizer() {
    }

    /**
     * {@return llama_ftype of a file whose matrices are mostly {@code type}} (llama.h; a file all in Q3_K, Q4_K or
     * Q5_K is labelled with the _S mix, the one that gives most matrices that type)
     *
     * @param type the main matrix type
     */
    public static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case Q2_K -> 10;
            case Q3_K -> 11; // LLAMA_FTYPE_MOSTLY_Q3_K_S
            case Q4_K -> 14; // Q4_K_S
            case Q5_K -> 16; // Q5_K_S
            case Q6_K -> 18;
            case IQ4_NL -> 25;
            case IQ4_XS -> 30;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no file type for " + type);
        };
    }

    /**
     * {@return the type a tensor gets when a file is quantized to {@code target}}
     *
     * @param t the tensor
     * @param target the file's target type
     */
    public static Decision decide(GgufTensorInfo t, GgmlType target) {
        long[] shape = t.shape();
        // llama-quantize leaves norms and the MoE router (ffn_gate_inp) unquantized; rope frequency tables are data
        boolean matrix = shape.length >= 2 && shape[1] > 1 && !t.name().endsWith("_norm.weight")
                && !t.name().contains("ffn_gate_inp.weight") && !t.name().contains("rope_freqs");
        if (!matrix) return new Decision(t.name(), t.type(), t.type(), false);
        GgmlType to = fallback(target, shape[0], t.type() == GgmlType.F32 ? GgmlType.F32 : GgmlType.F16);
        return new Decision(t.name(), t.type(), to, to != target);
    }

    /**
     * The type a matrix with rows of {@code cols} values gets when {@code target} was asked for: the target when
     * the rows are whole blocks of it, else llama-quantize's fallback (llama-quant.cpp tensor_type_fallback):
     * IQ4_XS to IQ4_NL, Q2_K and Q3_K to Q4_0, Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0 (all blocks of 32), and F16
     * when even those do not fit (rows not a multiple of 32). For the 32-element targets (Q4_0, Q4_1, Q5_0, Q5_1,
     * Q8_0, IQ4_NL) llama-quantize has no fallback and stops; mla4j writes such matrices as {@code unfit}.
     *
     * @param target the type asked for
     * @param cols values per row (the tensor's first dimension)
     * @param unfit the type for a 32-element target's unfit rows (F16, or F32 to keep an F32 source exact)
     * @return the type to write
     */
    public static GgmlType fallback(GgmlType target, long cols, GgmlType unfit) {
        if (cols % target.blockSize() == 0) return target;
        GgmlType second = switch (target) {
            case IQ4_XS -> GgmlType.IQ4_NL;
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> null;
        };
        if (second == null) return unfit;
        return cols % second.blockSize() == 0 ? second : GgmlType.F16; // llama-quantize: "must use F16"
    }

    /**
     * Quantizes {@code in} into {@code out}.
     *
     * @param progress receives each tensor's decision as it is written (may be null)
     * @return the decisions for every tensor, in file order
     * @param in the source GGUF file
     * @param out the output file (replaced only when complete)
     * @param target one of {@link RowEncoder#TYPES}
     * @throws IOException when a file cannot be read or written
     */
    public static List<Decision> quantize(Path in, Path out, GgmlType target, Consumer<Decision> progress)
            throws IOException {
        if (!RowEncoder.TYPES.contains(target)) {
            throw new IllegalArgumentException("cannot quantize to " + target + " (supported: "
                    + RowEncoder.typeNames() + ")");
        }
        List<Decision> decisions = new ArrayList<>();
        try (GgufFile src = GgufFile.open(in); GgufWriter w = GgufWriter.create(out)) {
            for (String key : src.keys()) {
                if (key.equals("general.file_type") || key.equals("general.alignment")) continue;
                w.copyFrom(src, key);
            }
            w.putUInt32("general.file_type", fileType(target));
            if (!src.contains("general.quantization_version")) w.putUInt32("general.quantization_version", 2);
            for (GgufTensorInfo t : src.tensors()) {
                Decision d = decide(t, target);
                decisions.add(d);
                MemorySegment data = src.tensorData(t);
                if (d.to() == d.from()) {
                    w.addTensor(t.name(), t.type(), t.shape(), withProgress(org.mla4j.gguf.TensorSource.of(data), d, progress));
                } else {
                    w.addTensor(t.name(), d.to(), t.shape(), withProgress(reencode(data, t, d.to()), d, progress));
                }
            }
            w.commit();
        }
        return decisions;
    }

    private static org.mla4j.gguf.TensorSource withProgress(org.mla4j.gguf.TensorSource s, Decision d,
            Consumer<Decision> progress) {
        return (channel, size) -> {
            s.writeTo(channel, size);
            if (progress != null) progress.accept(d);
        };
    }

    /** Output bytes encoded per parallel step: small enough to bound memory, large enough to keep 2+ cores busy. */
    private static final int CHUNK_BYTES = 4 << 20;

    /**
     * Decodes each row of the source (any supported type) to floats and encodes it as {@code to}, the rows of a
     * chunk in parallel (the K-quant and IQ4 searches cost far more than the I/O), written in order.
     *
     * @param data the tensor's bytes
     * @param t the tensor
     * @param to the output type
     * @return a source writing the re-encoded tensor
     */
    public static org.mla4j.gguf.TensorSource reencode(MemorySegment data, GgufTensorInfo t, GgmlType to) {
        return (channel, size) -> {
            long cols = t.shape()[0];
            long rows = t.elementCount() / cols;
            long srcRow = t.type().rowBytes(cols);
            int n = Math.toIntExact(cols);
            int outRow = Math.toIntExact(to.rowBytes(cols));
            int rowsPerChunk = (int) Math.max(1, Math.min(rows, CHUNK_BYTES / Math.max(1, outRow)));
            RowEncoder enc = RowEncoder.of(to);
            ByteBuffer chunk = ByteBuffer.allocate(Math.multiplyExact(rowsPerChunk, outRow))
                    .order(ByteOrder.LITTLE_ENDIAN);
            try (Arena shared = Arena.ofShared()) {
                // one float buffer per worker thread, native (the dequantizer's output) and on the heap (the encoder's input)
                ThreadLocal<MemorySegment> floats = ThreadLocal.withInitial(() -> shared.allocate(JAVA_FLOAT, cols));
                ThreadLocal<float[]> rowBuf = ThreadLocal.withInitial(() -> new float[n]);
                for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
                    long first = r0;
                    int m = (int) Math.min(rowsPerChunk, rows - r0);
                    java.util.stream.IntStream.range(0, m).parallel().forEach(i -> {
                        MemorySegment f = floats.get();
                        float[] row = rowBuf.get();
                        MemorySegment src = data.asSlice((first + i) * srcRow, srcRow);
                        Status.check(Mla4jNative.mla4j_type_dequantize(t.type().id(), src, srcRow, f, cols),
                                "decoding " + t.name());
                        MemorySegment.copy(f, JAVA_FLOAT, 0, row, 0, n);
                        enc.encode(row, 0, n, chunk.slice(i * outRow, outRow).order(ByteOrder.LITTLE_ENDIAN));
                    });
                    chunk.clear().limit(m * outRow);
                    while (chunk.hasRemaining()) channel.write(chunk);
                }
            }
        };
    }
}
