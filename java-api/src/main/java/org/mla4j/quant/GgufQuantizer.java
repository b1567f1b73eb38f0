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
 * Re-encodes a GGUF model's weight matrices to Q8_0 or Q4_0, like llama.cpp's llama-quantize: 1-D tensors and
 * norms stay F32, metadata is copied (general.file_type updated), and a matrix whose rows are not a multiple of the
 * block size falls back to F32 (F32 source) or F16. Tensors are converted one row at a time while the output is
 * streamed to a temporary file that replaces the target only when complete.
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
     * {@return llama_ftype of a file whose matrices are mostly {@code type}}
     *
     * @param type the main matrix type
     */
    public static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
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
        boolean matrix = shape.length >= 2 && shape[1] > 1 && !t.name().endsWith("_norm.weight");
        if (!matrix) return new Decision(t.name(), t.type(), t.type(), false);
        if (shape[0] % target.blockSize() != 0) {
            GgmlType fb = t.type() == GgmlType.F32 ? GgmlType.F32 : GgmlType.F16;
            return new Decision(t.name(), t.type(), fb, true);
        }
        return new Decision(t.name(), t.type(), target, false);
    }

    /**
     * Quantizes {@code in} into {@code out}.
     *
     * @param progress receives each tensor's decision as it is written (may be null)
     * @return the decisions for every tensor, in file order
     * @param in the source GGUF file
     * @param out the output file (replaced only when complete)
     * @param target Q8_0 or Q4_0 (or F16, BF16, F32)
     * @throws IOException when a file cannot be read or written
     */
    public static List<Decision> quantize(Path in, Path out, GgmlType target, Consumer<Decision> progress)
            throws IOException {
        if (target != GgmlType.Q8_0 && target != GgmlType.Q4_0 && target != GgmlType.F16 && target != GgmlType.BF16
                && target != GgmlType.F32) {
            throw new IllegalArgumentException("cannot quantize to " + target + " (supported: q8_0, q4_0, f16, bf16, f32)");
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

    /**
     * Decodes each row of the source (any supported type) to floats and encodes it as {@code to}.
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
            RowEncoder enc = RowEncoder.of(to);
            float[] row = new float[Math.toIntExact(cols)];
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(to.rowBytes(cols))).order(ByteOrder.LITTLE_ENDIAN);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment floats = a.allocate(JAVA_FLOAT, cols);
                for (long r = 0; r < rows; r++) {
                    MemorySegment src = data.asSlice(r * srcRow, srcRow);
                    Status.check(Mla4jNative.mla4j_type_dequantize(t.type().id(), src, srcRow, floats, cols),
                            "decoding " + t.name());
                    MemorySegment.copy(floats, JAVA_FLOAT, 0, row, 0, row.length);
                    buf.clear();
                    enc.encode(row, 0, row.length, buf);
                    buf.flip();
                    while (buf.hasRemaining()) channel.write(buf);
                }
            }
        };
    }
}
