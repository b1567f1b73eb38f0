package org.mla4j.convert;

import java.lang.foreign.Arena;

import org.mla4j.linalg.Linalg;
import org.mla4j.linalg.Matrix;

/** Small dense-matrix helpers of the conversion math (row selection, stacking, moments of linear maps). */
final class Dense {
    private Dense() {
    }

    /** The given rows of m, in that order. */
    static Matrix rows(Arena arena, Matrix m, int[] rows) {
        Matrix out = Matrix.allocate(arena, rows.length, m.cols());
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < m.cols(); c++) out.set(r, c, m.get(rows[r], c));
        }
        return out;
    }

    /** Rows [from, from + count) of m. */
    static Matrix rowRange(Arena arena, Matrix m, int from, int count) {
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) idx[i] = from + i;
        return rows(arena, m, idx);
    }

    /** Columns [from, from + count) of m. */
    static Matrix colRange(Arena arena, Matrix m, int from, int count) {
        Matrix out = Matrix.allocate(arena, m.rows(), count);
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < count; c++) out.set(r, c, m.get(r, from + c));
        }
        return out;
    }

    /** The matrices one above the other. */
    static Matrix stack(Arena arena, Matrix... parts) {
        int rows = 0;
        for (Matrix p : parts) rows += p.rows();
        Matrix out = Matrix.allocate(arena, rows, parts[0].cols());
        int at = 0;
        for (Matrix p : parts) {
            for (int r = 0; r < p.rows(); r++) {
                for (int c = 0; c < p.cols(); c++) out.set(at + r, c, p.get(r, c));
            }
            at += p.rows();
        }
        return out;
    }

    static Matrix scaled(Arena arena, Matrix m, double s) {
        Matrix out = m.copy(arena);
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) out.set(r, c, m.get(r, c) * s);
        }
        return out;
    }

    static Matrix identity(Arena arena, int n) {
        Matrix out = Matrix.allocate(arena, n, n);
        for (int i = 0; i < n; i++) out.set(i, i, 1.0);
        return out;
    }

    static double[] select(double[] v, int[] idx) {
        if (v == null) return null;
        double[] out = new double[idx.length];
        for (int i = 0; i < idx.length; i++) out[i] = v[idx[i]];
        return out;
    }

    static double[] scaled(double[] v, double s) {
        if (v == null) return null;
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * s;
        return out;
    }

    static double frobeniusSquared(Matrix m) {
        double s = 0;
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) s += m.get(r, c) * m.get(r, c);
        }
        return s;
    }

    /**
     * E[y y^T] for y = W x + b over the calibration tokens, from the augmented moment M = sum_t [x;1][x;1]^T
     * ((E+1) x (E+1), bottom-right = token count): ([W b] M [W b]^T) / count. b may be null (zero).
     */
    static Matrix secondMoment(Arena arena, Matrix w, double[] b, Matrix moment) {
        int e = w.cols();
        Matrix aug = Matrix.allocate(arena, w.rows(), e + 1);
        for (int r = 0; r < w.rows(); r++) {
            for (int c = 0; c < e; c++) aug.set(r, c, w.get(r, c));
            aug.set(r, e, b == null ? 0.0 : b[r]);
        }
        Matrix am = Linalg.multiply(arena, aug, false, moment, false);
        Matrix out = Linalg.multiply(arena, am, false, aug, true);
        double n = moment.get(e, e);
        return scaled(arena, out, 1.0 / n);
    }

    /** The uncentered covariance E[x x^T] of the layer inputs (the top-left E x E block of the moment / count). */
    static Matrix inputCovariance(Arena arena, Matrix moment) {
        int e = moment.rows() - 1;
        Matrix out = Matrix.allocate(arena, e, e);
        double n = moment.get(e, e);
        for (int r = 0; r < e; r++) {
            for (int c = 0; c < e; c++) out.set(r, c, moment.get(r, c) / n);
        }
        return out;
    }

    /** Adds frac * mean(diag) to the diagonal (damping before an eigendecomposition or inverse). */
    static void damp(Matrix sym, double frac) {
        double mean = 0;
        for (int i = 0; i < sym.rows(); i++) mean += sym.get(i, i);
        mean /= sym.rows();
        double add = frac * mean;
        if (!(add > 0)) add = frac;
        for (int i = 0; i < sym.rows(); i++) sym.set(i, i, sym.get(i, i) + add);
    }

    /** G^1/2 and G^-1/2 of a symmetric positive semi-definite metric G scaled to a mean eigenvalue of 1. */
    record Roots(Matrix root, Matrix inverse) {
    }

    static Roots metricRoots(Arena a, Matrix g) {
        int n = g.rows();
        for (int r = 0; r < n; r++) for (int c = r + 1; c < n; c++) { // gemm round-off: eigh wants exact symmetry
            double v = 0.5 * (g.get(r, c) + g.get(c, r));
            g.set(r, c, v);
            g.set(c, r, v);
        }
        Linalg.Eigen e = Linalg.eigh(a, g, n);
        double mean = java.util.Arrays.stream(e.values()).map(v -> Math.max(v, 0)).average().orElse(1);
        if (!(mean > 0)) mean = 1;
        // G^(+-1/2) = V diag(lambda^(+-1/2)) V^T
        Matrix up = e.vectors().copy(a), down = e.vectors().copy(a);
        for (int i = 0; i < n; i++) {
            double sq = Math.sqrt(Math.max(e.values()[i], 1e-12 * Math.max(e.values()[0], 1e-300)) / mean);
            for (int r = 0; r < n; r++) {
                up.set(r, i, up.get(r, i) * sq);
                down.set(r, i, down.get(r, i) / sq);
            }
        }
        Matrix root = Linalg.multiply(a, up, false, e.vectors(), true);
        Matrix inv = Linalg.multiply(a, down, false, e.vectors(), true);
        return new Roots(root, inv);
    }
}
