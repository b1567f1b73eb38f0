package org.mla4j.hf;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.function.LongToDoubleFunction;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.TensorSource;
import org.mla4j.internal.Status;
import org.mla4j.quant.RowEncoder;

/**
 * Streams a tensor row by row from memory-mapped input rows, in any order (a row permutation moves whole rows) and
 * optionally converting the type: rows of another type are decoded natively ({@code mla4j_type_dequantize}, which
 * covers F16, BF16 and the quantized types) and re-encoded with ggml's rounding. Output goes out in chunks of a few
 * MiB, so no whole tensor is ever copied onto the heap.
 */
final class RowSource implements TensorSource {
    /** The input bytes (of type {@code from}, {@code cols} elements) of output row {@code r}. */
    interface Rows {
        /**
         * @param scratch native memory of at least one input row, for rows that must be gathered
         */
        MemorySegment row(long r, MemorySegment scratch);
    }

    private static final int CHUNK = 4 << 20;
    private final String name;
    private final long rows;
    private final long cols;
    private final GgmlType from;
    private final GgmlType to;
    private final Rows input;
    private final Progress progress;
    private final LongToDoubleFunction rowScale;

    /** Receives the bytes written so far by all sources of one conversion. */
    interface Progress {
        void written(String tensor, long bytes);
    }

    RowSource(String name, long rows, long cols, GgmlType from, GgmlType to, Rows input, Progress progress) {
        this(name, rows, cols, from, to, input, progress, null);
    }

    /**
     * @param rowScale factor applied to each output row before it is encoded (null = none); a scaled row is always
     *     decoded to float32, multiplied in double precision and re-encoded with ggml's rounding
     */
    RowSource(String name, long rows, long cols, GgmlType from, GgmlType to, Rows input, Progress progress,
            LongToDoubleFunction rowScale) {
        this.rowScale = rowScale;
        this.name = name;
        this.rows = rows;
        this.cols = cols;
        this.from = from;
        this.to = to;
        this.input = input;
        this.progress = progress;
    }

    /** Rows of a contiguous segment of {@code cols}-element rows of {@code type}, taken in the order of map. */
    static Rows mapped(MemorySegment data, GgmlType type, long cols, java.util.function.LongUnaryOperator map) {
        long rowBytes = type.rowBytes(cols);
        return (r, scratch) -> data.asSlice(map.applyAsLong(r) * rowBytes, rowBytes);
    }

    @Override
    public void writeTo(WritableByteChannel out, long byteSize) throws IOException {
        long inRow = from.rowBytes(cols);
        long outRow = to.rowBytes(cols);
        int perChunk = (int) Math.max(1, Math.min(rows, CHUNK / Math.max(1, outRow)));
        boolean copy = from == to && rowScale == null;
        RowEncoder encoder = copy ? null : RowEncoder.of(to);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment scratch = a.allocate(Math.max(1, inRow), 8);
            MemorySegment floats = copy ? null : a.allocate(JAVA_FLOAT, Math.max(1, cols));
            ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.max(1, perChunk * outRow));
            MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
            for (long r0 = 0; r0 < rows; r0 += perChunk) {
                int n = (int) Math.min(perChunk, rows - r0);
                for (int i = 0; i < n; i++) {
                    MemorySegment src = input.row(r0 + i, scratch);
                    MemorySegment dst = bufSeg.asSlice(i * outRow, outRow);
                    if (encoder == null) {
                        MemorySegment.copy(src, 0, dst, 0, outRow);
                    } else {
                        Status.check(Mla4jNative.mla4j_type_dequantize(from.id(), src, inRow, floats, cols),
                                "decoding " + name);
                        if (rowScale != null) scale(floats, rowScale.applyAsDouble(r0 + i));
                        encoder.encode(floats, dst);
                    }
                }
                buf.clear().limit((int) (n * outRow));
                while (buf.hasRemaining()) out.write(buf);
                if (progress != null) progress.written(name, n * outRow);
            }
        }
    }

    private void scale(MemorySegment floats, double factor) {
        if (factor == 1) return;
        for (long c = 0; c < cols; c++) {
            floats.setAtIndex(JAVA_FLOAT, c, (float) (floats.getAtIndex(JAVA_FLOAT, c) * factor));
        }
    }
}
