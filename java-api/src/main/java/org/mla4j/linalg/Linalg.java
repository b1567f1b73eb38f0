package org.mla4j.linalg;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.mla4j.NativeLibrary;
import org.mla4j.bindings.Mla4jNative;
import org.mla4j.internal.Status;

/**
 * Dense linear algebra for model conversion, computed by LAPACK/BLAS that the native library loads at run time:
 * {@code $MLA4J_LAPACK} when set (and then only it), else the OpenBLAS bundled on the class path
 * (org.bytedeco:openblas, extracted by {@link NativeLibrary#prepareLapack()}), else the system's libopenblas.so.0 or
 * liblapack.so.3. Inference never needs it. When no LAPACK can be loaded every method throws
 * {@link org.mla4j.Mla4jException} (MLA4J_ERR_UNSUPPORTED) whose message lists the libraries tried and why each
 * failed. Results are allocated in the caller's arena.
 */
public final class Linalg {

    /**
     * The top-k eigenpairs.
     *
     * @param values  the eigenvalues, descending
     * @param vectors n x k, eigenvector j in column j, unit length
     */
    public record Eigen(double[] values, Matrix vectors) {
    }

    /**
     * The top-k singular triplets: a ~ u diag(s) vt.
     *
     * @param u  m x k left singular vectors
     * @param s  the singular values, descending
     * @param vt k x n right singular vectors, transposed
     */
    public record Svd(Matrix u, double[] s, Matrix vt) {
    }

    private Linalg() {
    }

    /** {@return true when LAPACK/BLAS could be loaded} */
    public static boolean available() {
        NativeLibrary.prepareLapack();
        return Mla4jNative.mla4j_linalg_available() == Mla4jNative.MLA4J_OK();
    }

    /** Throws {@link org.mla4j.Mla4jException} naming the libraries tried when LAPACK/BLAS cannot be loaded. */
    public static void requireAvailable() {
        NativeLibrary.prepareLapack();
        Status.checkLapack(Mla4jNative.mla4j_linalg_available(), null);
    }

    /**
     * Returns the file the LAPACK routines were loaded from, as the dynamic loader resolved it (e.g. the bundled
     * ~/.cache/mla4j/VERSION/openblas/libopenblas.so.0); loads LAPACK if needed.
     *
     * @return the path of the loaded library
     */
    public static String library() {
        NativeLibrary.prepareLapack();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            Status.checkLapack(Mla4jNative.mla4j_linalg_get_library(out), null);
            return out.get(ADDRESS, 0).reinterpret(4096).getString(0);
        }
    }

    /**
     * {@return op(a) op(b) in arena, op(x) = x or its transpose}
     *
     * @param arena where the result lives
     * @param a left matrix
     * @param transA whether to use a's transpose
     * @param b right matrix
     * @param transB whether to use b's transpose
     */
    public static Matrix multiply(Arena arena, Matrix a, boolean transA, Matrix b, boolean transB) {
        int m = transA ? a.cols() : a.rows(), n = transB ? b.rows() : b.cols();
        Matrix c = Matrix.allocate(arena, m, n);
        gemm(1.0, a, transA, b, transB, 0.0, c);
        return c;
    }

    /**
     * c = alpha op(a) op(b) + beta c, in place (c is only written when beta is 0).
     *
     * @param alpha scale of the product
     * @param a left matrix
     * @param transA whether to use a's transpose
     * @param b right matrix
     * @param transB whether to use b's transpose
     * @param beta scale of c's previous contents
     * @param c the result, updated in place
     */
    public static void gemm(double alpha, Matrix a, boolean transA, Matrix b, boolean transB, double beta, Matrix c) {
        int m = transA ? a.cols() : a.rows(), k = transA ? a.rows() : a.cols();
        int kb = transB ? b.cols() : b.rows(), n = transB ? b.rows() : b.cols();
        if (k != kb || c.rows() != m || c.cols() != n) {
            throw new IllegalArgumentException("cannot multiply " + shape(a, transA) + " by " + shape(b, transB) + " into "
                    + c.rows() + " x " + c.cols());
        }
        NativeLibrary.prepareLapack();
        Status.checkLapack(Mla4jNative.mla4j_linalg_gemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.segment(), b.segment(),
                beta, c.segment()), null);
    }

    private static String shape(Matrix x, boolean trans) {
        return trans ? x.cols() + " x " + x.rows() + " (transposed)" : x.rows() + " x " + x.cols();
    }

    /**
     * {@return the k largest eigenvalues of a symmetric matrix and their eigenvectors (only those k are computed)}
     *
     * @param arena where the result lives
     * @param symmetric an n x n symmetric matrix (not modified)
     * @param k how many eigenpairs, 1 to n
     */
    public static Eigen eigh(Arena arena, Matrix symmetric, int k) {
        int n = symmetric.rows();
        if (symmetric.cols() != n) throw new IllegalArgumentException("eigh needs a square matrix, got " + symmetric);
        if (k < 1 || k > n) throw new IllegalArgumentException("k must be in [1, " + n + "], got " + k);
        Matrix vectors = Matrix.allocate(arena, n, k);
        NativeLibrary.prepareLapack();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment values = tmp.allocate(JAVA_DOUBLE, k);
            Status.checkLapack(Mla4jNative.mla4j_linalg_eigh(symmetric.segment(), n, k, values, vectors.segment()), null);
            return new Eigen(values.toArray(JAVA_DOUBLE), vectors);
        }
    }

    /**
     * {@return the top k singular triplets of a (1 &lt;= k &lt;= min(rows, cols))}
     *
     * @param arena where the result lives
     * @param a the matrix (not modified)
     * @param k how many triplets
     */
    public static Svd svd(Arena arena, Matrix a, int k) {
        int m = a.rows(), n = a.cols();
        if (k < 1 || k > Math.min(m, n)) throw new IllegalArgumentException("k must be in [1, " + Math.min(m, n) + "], got " + k);
        Matrix u = Matrix.allocate(arena, m, k), vt = Matrix.allocate(arena, k, n);
        NativeLibrary.prepareLapack();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment s = tmp.allocate(JAVA_DOUBLE, k);
            Status.checkLapack(Mla4jNative.mla4j_linalg_svd(a.segment(), m, n, k, u.segment(), s, vt.segment()), null);
            return new Svd(u, s.toArray(JAVA_DOUBLE), vt);
        }
    }

    /**
     * {@return x (a.cols() x b.cols()) minimising ||a x - b||_F; the minimum-norm solution when a is rank deficient}
     *
     * @param arena where the result lives
     * @param a m x n
     * @param b m x p
     */
    public static Matrix lstsq(Arena arena, Matrix a, Matrix b) {
        if (a.rows() != b.rows()) {
            throw new IllegalArgumentException("lstsq: a has " + a.rows() + " rows, b has " + b.rows());
        }
        Matrix x = Matrix.allocate(arena, a.cols(), b.cols());
        NativeLibrary.prepareLapack();
        Status.checkLapack(Mla4jNative.mla4j_linalg_lstsq(a.segment(), a.rows(), a.cols(), b.segment(), b.cols(), x.segment()), null);
        return x;
    }
}
