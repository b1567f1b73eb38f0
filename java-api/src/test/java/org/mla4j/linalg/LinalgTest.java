package org.mla4j.linalg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.Random;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mla4j.Mla4jException;

/**
 * The Java wrappers of the LAPACK-backed native linear algebra, against plain Java loops and matrices with known
 * decompositions. LAPACK is the bundled OpenBLAS (BundledLapackTest checks which file): its absence fails here, it
 * is not skipped.
 */
class LinalgTest {

    private static final Random RNG = new Random(42);

    @BeforeAll
    static void lapackPresent() {
        Linalg.requireAvailable();
        assertTrue(Linalg.available());
        assertTrue(!Linalg.library().isEmpty());
    }

    private static double[][] random(int r, int c) {
        double[][] a = new double[r][c];
        for (double[] row : a) for (int j = 0; j < c; j++) row[j] = RNG.nextDouble() * 2 - 1;
        return a;
    }

    private static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++)
            for (int j = 0; j < b[0].length; j++)
                for (int k = 0; k < b.length; k++) c[i][j] += a[i][k] * b[k][j];
        return c;
    }

    private static double[][] t(double[][] a) {
        double[][] r = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) r[j][i] = a[i][j];
        return r;
    }

    private static void assertClose(double[][] expected, Matrix actual, double tol) {
        assertEquals(expected.length, actual.rows());
        assertEquals(expected[0].length, actual.cols());
        for (int i = 0; i < expected.length; i++)
            for (int j = 0; j < expected[0].length; j++)
                assertEquals(expected[i][j], actual.get(i, j), tol, "element (" + i + ", " + j + ")");
    }

    @Test
    void matrixBasics() {
        try (Arena a = Arena.ofConfined()) {
            Matrix m = Matrix.of(a, new double[][] {{1, 2, 3}, {4, 5, 6}});
            assertEquals(2, m.rows());
            assertEquals(3, m.cols());
            assertEquals(6, m.get(1, 2));
            assertEquals(48, m.segment().byteSize());
            m.set(0, 1, -7);
            assertArrayEquals(new double[][] {{1, -7, 3}, {4, 5, 6}}, m.toArray());
            assertArrayEquals(new double[][] {{1, 4}, {-7, 5}, {3, 6}}, m.transpose(a).toArray());
            Matrix c = m.copy(a);
            c.set(0, 0, 9);
            assertEquals(1, m.get(0, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> m.get(2, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> m.set(0, 3, 1));
            assertThrows(IllegalArgumentException.class, () -> Matrix.allocate(a, 0, 3));
            assertThrows(IllegalArgumentException.class, () -> Matrix.of(a, new double[][] {{1, 2}, {3}}));
            assertEquals(0, Matrix.allocate(a, 2, 2).get(1, 1));
        }
    }

    @Test
    void multiplyMatchesPlainLoopsForEveryTransposition() {
        double[][] a = random(5, 3), b = random(3, 7), ref = mul(a, b);
        try (Arena arena = Arena.ofConfined()) {
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    Matrix ma = Matrix.of(arena, ta ? t(a) : a), mb = Matrix.of(arena, tb ? t(b) : b);
                    assertClose(ref, Linalg.multiply(arena, ma, ta, mb, tb), 1e-13);
                }
            }
            Matrix c = Matrix.of(arena, random(5, 7));
            double[][] c0 = c.toArray();
            Linalg.gemm(2.0, Matrix.of(arena, a), false, Matrix.of(arena, b), false, -1.0, c);
            for (int i = 0; i < 5; i++) for (int j = 0; j < 7; j++) assertEquals(2 * ref[i][j] - c0[i][j], c.get(i, j), 1e-13);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Linalg.multiply(arena, Matrix.of(arena, a), false, Matrix.of(arena, a), false));
            assertTrue(e.getMessage().contains("5 x 3"), e.getMessage());
        }
    }

    @Test
    void eighOfAKnownMatrix() {
        try (Arena arena = Arena.ofConfined()) {
            Matrix a = Matrix.of(arena, new double[][] {{2, 1, 0}, {1, 2, 0}, {0, 0, 5}});
            Linalg.Eigen e = Linalg.eigh(arena, a, 2);
            assertArrayEquals(new double[] {5, 3}, e.values(), 1e-13);
            assertEquals(3, e.vectors().rows());
            assertEquals(2, e.vectors().cols());
            assertEquals(1, Math.abs(e.vectors().get(2, 0)), 1e-13);
            assertEquals(Math.sqrt(0.5), Math.abs(e.vectors().get(0, 1)), 1e-13);
            assertEquals(e.vectors().get(0, 1), e.vectors().get(1, 1), 1e-13);
            assertEquals(0, e.vectors().get(2, 1), 1e-13);
        }
    }

    @Test
    void eighVectorsSatisfyTheEigenEquation() {
        double[][] r = random(12, 12), s = new double[12][12];
        for (int i = 0; i < 12; i++) for (int j = 0; j < 12; j++) s[i][j] = r[i][j] + r[j][i];
        try (Arena arena = Arena.ofConfined()) {
            Linalg.Eigen e = Linalg.eigh(arena, Matrix.of(arena, s), 4);
            double[][] v = e.vectors().toArray();
            double[][] av = mul(s, v);
            for (int j = 0; j < 4; j++) {
                if (j > 0) assertTrue(e.values()[j - 1] >= e.values()[j]);
                for (int i = 0; i < 12; i++) assertEquals(e.values()[j] * v[i][j], av[i][j], 1e-12);
            }
            double[][] vtv = mul(t(v), v);
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) assertEquals(i == j ? 1 : 0, vtv[i][j], 1e-12);
            Mla4jException ex = assertThrows(Mla4jException.class, () -> Linalg.eigh(arena, Matrix.of(arena, r), 2));
            assertTrue(ex.getMessage().contains("not symmetric"), ex.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Linalg.eigh(arena, Matrix.of(arena, s), 13));
        }
    }

    @Test
    void svdReconstructs() {
        double[][] a = random(8, 5);
        try (Arena arena = Arena.ofConfined()) {
            Linalg.Svd full = Linalg.svd(arena, Matrix.of(arena, a), 5);
            double[][] us = full.u().toArray();
            for (int i = 0; i < 8; i++) for (int j = 0; j < 5; j++) us[i][j] *= full.s()[j];
            double[][] rec = mul(us, full.vt().toArray());
            for (int i = 0; i < 8; i++) for (int j = 0; j < 5; j++) assertEquals(a[i][j], rec[i][j], 1e-12);
            Linalg.Svd top = Linalg.svd(arena, Matrix.of(arena, a), 2);
            assertArrayEquals(new double[] {full.s()[0], full.s()[1]}, top.s(), 1e-12);
            assertTrue(top.s()[0] >= top.s()[1]);
            double[][] utu = mul(t(top.u().toArray()), top.u().toArray());
            for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) assertEquals(i == j ? 1 : 0, utu[i][j], 1e-12);
            Matrix known = Matrix.of(arena, new double[][] {{0, 4}, {-3, 0}});
            assertArrayEquals(new double[] {4, 3}, Linalg.svd(arena, known, 2).s(), 1e-14);
            assertThrows(IllegalArgumentException.class, () -> Linalg.svd(arena, known, 3));
        }
    }

    @Test
    void lstsqMatchesTheNormalEquations() {
        double[][] a = random(10, 3), b = random(10, 2);
        for (int i = 0; i < 3; i++) a[i][i] += 3;
        // Normal equations (A^T A) x = A^T b, solved by Cramer's rule on the 3 x 3 system.
        double[][] g = mul(t(a), a), r = mul(t(a), b);
        try (Arena arena = Arena.ofConfined()) {
            Matrix x = Linalg.lstsq(arena, Matrix.of(arena, a), Matrix.of(arena, b));
            assertEquals(3, x.rows());
            assertEquals(2, x.cols());
            double det = det3(g);
            for (int col = 0; col < 2; col++) {
                for (int i = 0; i < 3; i++) {
                    double[][] gi = new double[3][];
                    for (int k = 0; k < 3; k++) gi[k] = g[k].clone();
                    for (int k = 0; k < 3; k++) gi[k][i] = r[k][col];
                    assertEquals(det3(gi) / det, x.get(i, col), 1e-12);
                }
            }
            // Rank deficient: x1 + x2 = 1 twice over; the minimum-norm solution is (0.5, 0.5).
            Matrix xd = Linalg.lstsq(arena, Matrix.of(arena, new double[][] {{1, 1}, {2, 2}}),
                    Matrix.of(arena, new double[][] {{1}, {2}}));
            assertEquals(0.5, xd.get(0, 0), 1e-13);
            assertEquals(0.5, xd.get(1, 0), 1e-13);
            assertThrows(IllegalArgumentException.class,
                    () -> Linalg.lstsq(arena, Matrix.of(arena, a), Matrix.of(arena, random(9, 1))));
        }
    }

    private static double det3(double[][] m) {
        return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    }

    @Test
    void nonFiniteInputIsRefusedWithTheNativeMessage() {
        try (Arena arena = Arena.ofConfined()) {
            Matrix a = Matrix.of(arena, new double[][] {{1, Double.NaN}, {Double.NaN, 1}});
            Mla4jException e = assertThrows(Mla4jException.class, () -> Linalg.svd(arena, a, 1));
            assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        }
    }
}
