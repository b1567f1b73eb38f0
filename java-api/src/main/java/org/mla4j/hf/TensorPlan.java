package org.mla4j.hf;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongUnaryOperator;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.TensorSource;

/**
 * The GGUF tensors of a conversion from a Hugging Face directory, each with the source that streams it. Building
 * the plan checks every expected input tensor for presence and exact shape (and nothing unexpected is left over),
 * so that a bad directory fails before any output file exists.
 */
final class TensorPlan {
    /** One output tensor: ggml shape (innermost first). */
    record Out(String name, GgmlType type, long[] ne, TensorSource source) {
        long byteSize() {
            long n = type.rowBytes(ne[0]);
            for (int i = 1; i < ne.length; i++) n = Math.multiplyExact(n, ne[i]);
            return n;
        }
    }

    private final HfModelDir dir;
    private final Set<String> used = new HashSet<>();
    private final List<Out> outs = new ArrayList<>();
    private final RowSource.Progress progress;

    TensorPlan(HfModelDir dir, RowSource.Progress progress) {
        this.dir = dir;
        this.progress = progress;
    }

    List<Out> outputs() {
        return outs;
    }

    /** The input tensor, checked to have exactly this PyTorch shape. */
    SafetensorsFile.Tensor need(String hf, long... shape) {
        return optional(hf, shape).orElseThrow(() -> new IllegalArgumentException(dir.dir() + ": missing tensor '" + hf
                + "' (expected shape " + Arrays.toString(shape) + ")"));
    }

    Optional<SafetensorsFile.Tensor> optional(String hf, long... shape) {
        Optional<SafetensorsFile.Tensor> t = dir.tensor(hf);
        t.ifPresent(x -> {
            if (!Arrays.equals(x.shape(), shape)) {
                throw new IllegalArgumentException(dir.dir() + ": tensor '" + hf + "' has shape "
                        + Arrays.toString(x.shape()) + ", expected " + Arrays.toString(shape));
            }
            used.add(hf);
        });
        return t;
    }

    /** A tensor copied as it is; 1-D tensors become F32, as llama.cpp's converter writes them. */
    void copy(String gguf, String hf, long... shape) {
        add(gguf, need(hf, shape), null);
    }

    /** A q/k weight or bias with llama.cpp's row permutation (heads of headDim rows). */
    void permuted(String gguf, String hf, int headDim, long... shape) {
        add(gguf, need(hf, shape), r -> QkPermutation.hfRowOf(r, headDim));
    }

    /** rowMap: the input row of each output row, null for the identity. */
    private void add(String gguf, SafetensorsFile.Tensor t, LongUnaryOperator rowMap) {
        GgmlType from = t.dtype().ggml();
        long[] ne = reversed(t.shape());
        if (t.rank() == 1) {
            // one element per "row", so a bias permutation moves elements
            long n = t.dim(0);
            outs.add(new Out(gguf, GgmlType.F32, ne, new RowSource(gguf, n, 1, from, GgmlType.F32,
                    RowSource.mapped(t.data(), from, 1, rowMap == null ? r -> r : rowMap), progress)));
        } else if (rowMap == null) {
            MemorySegment data = t.data();
            long bytes = data.byteSize();
            TensorSource raw = TensorSource.of(data);
            outs.add(new Out(gguf, from, ne, (out, size) -> {
                raw.writeTo(out, size);
                progress.written(gguf, bytes);
            }));
        } else {
            long cols = ne[0], rows = t.elementCount() / Math.max(1, cols);
            outs.add(new Out(gguf, from, ne, new RowSource(gguf, rows, cols, from, from,
                    RowSource.mapped(t.data(), from, cols, rowMap), progress)));
        }
    }

    /** A tensor computed by the caller (rows of {@code cols} elements gathered from the input). */
    void derived(String gguf, GgmlType type, long[] ne, long rows, RowSource.Rows input) {
        outs.add(new Out(gguf, type, ne, new RowSource(gguf, rows, ne[0], type, type, input, progress)));
    }

    /** Given F32 values. */
    void values(String gguf, float[] values) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        b.flip();
        TensorSource s = TensorSource.of(b);
        outs.add(new Out(gguf, GgmlType.F32, new long[] {values.length}, s));
    }

    /** Fails on an input tensor the architecture has no place for (dropping weights silently would be wrong). */
    void checkAllUsed() {
        for (String n : dir.tensorNames()) {
            if (!used.contains(n) && !n.endsWith(".rotary_emb.inv_freq")) {
                throw new IllegalArgumentException(dir.dir() + ": unexpected tensor '" + n + "' for a "
                        + dir.config().architecture() + " model");
            }
        }
    }

    static long[] reversed(long[] shape) {
        long[] r = new long[shape.length];
        for (int i = 0; i < shape.length; i++) r[i] = shape[shape.length - 1 - i];
        return r;
    }
}
