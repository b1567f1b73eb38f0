package org.mla4j.linalg;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A dense ROW-MAJOR matrix of doubles off the Java heap, element (i, j) at index {@code i * cols + j} of its
 * segment: the layout the native {@link Linalg} functions take. The memory belongs to the {@link Arena} it was
 * allocated in (the converter works a layer at a time in one confined arena), so a matrix is valid, and usable
 * from the arena's threads, until that arena closes.
 */
public final class Matrix {

    private final MemorySegment segment;
    private final int rows;
    private final int cols;

    private Matrix(MemorySegment segment, int rows, int cols) {
        this.segment = segment;
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * {@return a rows x cols matrix of zeros in arena}
     *
     * @param arena where it lives
     * @param rows rows
     * @param cols columns
     */
    public static Matrix allocate(Arena arena, int rows, int cols) {
        return new Matrix(arena.allocate(JAVA_DOUBLE, elements(rows, cols)), rows, cols);
    }

    /**
     * {@return a matrix holding a copy of {@code values} (rectangular: every row of the same length)}
     *
     * @param arena where it lives
     * @param values the rows
     */
    public static Matrix of(Arena arena, double[][] values) {
        if (values.length == 0) throw new IllegalArgumentException("a matrix needs at least one row");
        int cols = values[0].length;
        Matrix m = allocate(arena, values.length, cols);
        for (int i = 0; i < values.length; i++) {
            if (values[i].length != cols) {
                throw new IllegalArgumentException("row " + i + " has " + values[i].length + " values, row 0 has " + cols);
            }
            MemorySegment.copy(values[i], 0, m.segment, JAVA_DOUBLE, (long) i * cols * Double.BYTES, cols);
        }
        return m;
    }

    /**
     * {@return a view of an existing segment of at least rows * cols doubles (not copied)}
     *
     * @param segment row-major doubles
     * @param rows rows
     * @param cols columns
     */
    public static Matrix wrap(MemorySegment segment, int rows, int cols) {
        long n = elements(rows, cols);
        if (segment.byteSize() < n * Double.BYTES) {
            throw new IllegalArgumentException("a " + rows + " x " + cols + " matrix needs " + n * Double.BYTES
                    + " bytes, the segment has " + segment.byteSize());
        }
        return new Matrix(segment.asSlice(0, n * Double.BYTES), rows, cols);
    }

    private static long elements(int rows, int cols) {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException("matrix sizes must be positive, got " + rows + " x " + cols);
        return (long) rows * cols;
    }

    /** {@return the number of rows} */
    public int rows() {
        return rows;
    }

    /** {@return the number of columns} */
    public int cols() {
        return cols;
    }

    /**
     * {@return element (i, j)}
     *
     * @param i row
     * @param j column
     */
    public double get(int i, int j) {
        return segment.getAtIndex(JAVA_DOUBLE, index(i, j));
    }

    /**
     * Sets element (i, j).
     *
     * @param i row
     * @param j column
     * @param v the value
     */
    public void set(int i, int j, double v) {
        segment.setAtIndex(JAVA_DOUBLE, index(i, j), v);
    }

    private long index(int i, int j) {
        Objects.checkIndex(i, rows);
        Objects.checkIndex(j, cols);
        return (long) i * cols + j;
    }

    /** {@return the rows * cols doubles, row-major} */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * {@return a copy in arena}
     *
     * @param arena where the copy lives
     */
    public Matrix copy(Arena arena) {
        Matrix m = allocate(arena, rows, cols);
        m.segment.copyFrom(segment);
        return m;
    }

    /**
     * {@return the transpose (cols x rows), in arena}
     *
     * @param arena where the transpose lives
     */
    public Matrix transpose(Arena arena) {
        Matrix t = allocate(arena, cols, rows);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) t.segment.setAtIndex(JAVA_DOUBLE, (long) j * rows + i, get(i, j));
        }
        return t;
    }

    /** {@return the values as Java arrays (for small matrices and tests)} */
    public double[][] toArray() {
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) MemorySegment.copy(segment, JAVA_DOUBLE, (long) i * cols * Double.BYTES, out[i], 0, cols);
        return out;
    }

    @Override
    public String toString() {
        return "Matrix[" + rows + " x " + cols + "]";
    }
}
