package org.mla4j.hf;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongToDoubleFunction;
import java.util.function.LongUnaryOperator;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.TensorSource;
import org.mla4j.internal.Status;
import org.mla4j.quant.RowEncoder;

/**
 * The Hugging Face tensors of a GGUF model being written back, each streamed from the GGUF's mapping in the output
 * dtype (rows of other types are dequantized natively), and a check that every GGUF tensor found a place.
 */
final class GgufTensors {
    /** One output tensor with its PyTorch shape. */
    record Entry(String name, long[] shape, TensorSource source) {
    }

    private final GgufFile g;
    private final GgmlType dtype;
    private final RowSource.Progress progress;
    private final Set<String> used = new HashSet<>();
    private final List<Entry> entries = new ArrayList<>();

    GgufTensors(GgufFile g, GgmlType dtype, RowSource.Progress progress) {
        this.g = g;
        this.dtype = dtype;
        this.progress = progress;
    }

    List<Entry> entries() {
        return entries;
    }

    GgmlType dtype() {
        return dtype;
    }

    boolean has(String gguf) {
        return g.tensor(gguf).isPresent();
    }

    GgufTensorInfo need(String gguf, long... ne) {
        GgufTensorInfo t = g.tensor(gguf).orElseThrow(() -> new IllegalArgumentException(g.path()
                + ": missing tensor '" + gguf + "'"));
        if (!java.util.Arrays.equals(t.shape(), ne)) {
            throw new IllegalArgumentException(g.path() + ": tensor '" + gguf + "' has shape " + t.shapeString()
                    + ", expected " + java.util.Arrays.toString(ne));
        }
        used.add(gguf);
        return t;
    }

    /** Copies a tensor (ggml shape ne) to HF name hf, rows mapped (output row to input row) or null. */
    void add(String hf, String gguf, LongUnaryOperator rowMap, long... ne) {
        addEntry(hf, gguf, rowMap, null, ne);
    }

    /** Copies a tensor (ggml shape ne) to HF name hf, each output row r multiplied by rowScale(r). */
    void addScaled(String hf, String gguf, LongToDoubleFunction rowScale, long... ne) {
        addEntry(hf, gguf, null, rowScale, ne);
    }

    private void addEntry(String hf, String gguf, LongUnaryOperator rowMap, LongToDoubleFunction rowScale, long... ne) {
        GgufTensorInfo t = need(gguf, ne);
        long cols = ne[0], rows = t.elementCount() / Math.max(1, cols);
        MemorySegment data = g.tensorData(t);
        entries.add(new Entry(hf, TensorPlan.reversed(ne), new RowSource(hf, rows, cols, t.type(), dtype,
                RowSource.mapped(data, t.type(), cols, rowMap == null ? r -> r : rowMap), progress, rowScale)));
    }

    /**
     * kv_b_proj [H*(N+Dv), C] from attn_k_b {N, C, H} and attn_v_b {C, Dv, H}: per head, N rows of the
     * transposed k_b slice, then the Dv rows of v_b (formats.md, "How llama.cpp computes MLA", step 3 and 6).
     */
    void kvB(String hf, String kb, String vb, long n, long c, long dv, long h) {
        GgufTensorInfo k = need(kb, n, c, h), v = need(vb, c, dv, h);
        MemorySegment kd = g.tensorData(k), vd = g.tensorData(v);
        long outRow = dtype.rowBytes(c);
        entries.add(new Entry(hf, new long[] {h * (n + dv), c}, (out, size) -> {
            RowEncoder enc = RowEncoder.of(dtype);
            long kRow = k.type().rowBytes(n), vRow = v.type().rowBytes(c);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment slice = a.allocate(JAVA_FLOAT, c * n);
                MemorySegment row = a.allocate(JAVA_FLOAT, c);
                ByteBuffer buf = ByteBuffer.allocateDirect((int) outRow).order(ByteOrder.LITTLE_ENDIAN);
                MemorySegment bufSeg = MemorySegment.ofBuffer(buf);
                for (long head = 0; head < h; head++) {
                    // the head's C rows of N values, decoded once, then read down each column
                    Status.check(Mla4jNative.mla4j_type_dequantize(k.type().id(), kd.asSlice(head * c * kRow, c * kRow),
                            c * kRow, slice, c * n), "decoding " + kb);
                    for (long d = 0; d < n; d++) {
                        for (long col = 0; col < c; col++) {
                            row.setAtIndex(JAVA_FLOAT, col, slice.getAtIndex(JAVA_FLOAT, col * n + d));
                        }
                        emit(enc, row, bufSeg, buf, out);
                    }
                    for (long e = 0; e < dv; e++) {
                        Status.check(Mla4jNative.mla4j_type_dequantize(v.type().id(),
                                vd.asSlice((head * dv + e) * vRow, vRow), vRow, row, c), "decoding " + vb);
                        emit(enc, row, bufSeg, buf, out);
                    }
                    progress.written(hf, (n + dv) * outRow);
                }
            }
        }));
    }

    private static void emit(RowEncoder enc, MemorySegment floats, MemorySegment bufSeg, ByteBuffer buf,
            java.nio.channels.WritableByteChannel out) throws java.io.IOException {
        enc.encode(floats, bufSeg);
        buf.clear();
        while (buf.hasRemaining()) out.write(buf);
    }

    /** Fails on a GGUF tensor that has no place in the Hugging Face model. */
    void checkAllUsed(String arch) {
        for (GgufTensorInfo t : g.tensors()) {
            if (!used.contains(t.name())) {
                throw new IllegalArgumentException(g.path() + ": tensor '" + t.name() + "' cannot be expressed in a "
                        + arch + " Hugging Face model");
            }
        }
    }
}
