package org.mla4j.convert;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/**
 * Matrix products of row-major heap arrays through the BLAS that {@link Linalg} loads (the bundled OpenBLAS): the
 * fits keep their activations on the heap, where element-wise Java loops are fast, and hand every product to dgemm
 * (copying in and out costs one pass over each operand, the product k passes). Three native buffers are reused and
 * grown as needed; one instance per thread (the arena is confined).
 */
final class HeapGemm implements AutoCloseable {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment[] buffers = new MemorySegment[3];

    private MemorySegment buffer(int i, long elements) {
        if (buffers[i] == null || buffers[i].byteSize() < elements * Double.BYTES) {
            buffers[i] = arena.allocate(ValueLayout.JAVA_DOUBLE, Math.max(elements, 1024));
        }
        return buffers[i];
    }

    /**
     * c = alpha op(a) op(b) + beta c; a is aRows x aCols as stored (before op), likewise b; c is m x n with m the rows
     * of op(a) and n the columns of op(b).
     */
    void gemm(double alpha, double[] a, int aRows, int aCols, boolean transA, double[] b, int bRows, int bCols,
            boolean transB, double beta, double[] c) {
        int m = transA ? aCols : aRows, n = transB ? bRows : bCols;
        MemorySegment sa = buffer(0, (long) aRows * aCols), sb = buffer(1, (long) bRows * bCols), sc = buffer(2, (long) m * n);
        MemorySegment.copy(a, 0, sa, ValueLayout.JAVA_DOUBLE, 0, aRows * aCols);
        MemorySegment.copy(b, 0, sb, ValueLayout.JAVA_DOUBLE, 0, bRows * bCols);
        if (beta != 0) MemorySegment.copy(c, 0, sc, ValueLayout.JAVA_DOUBLE, 0, m * n);
        Linalg.gemm(alpha, Matrix.wrap(sa, aRows, aCols), transA, Matrix.wrap(sb, bRows, bCols), transB, beta,
                Matrix.wrap(sc, m, n));
        MemorySegment.copy(sc, ValueLayout.JAVA_DOUBLE, 0, c, 0, m * n);
    }

    /** {@return op(a) op(b) as a new array} (see {@link #gemm}) */
    double[] multiply(double[] a, int aRows, int aCols, boolean transA, double[] b, int bRows, int bCols, boolean transB) {
        double[] c = new double[(transA ? aCols : aRows) * (transB ? bRows : bCols)];
        gemm(1.0, a, aRows, aCols, transA, b, bRows, bCols, transB, 0.0, c);
        return c;
    }

    @Override
    public void close() {
        arena.close();
    }
}
