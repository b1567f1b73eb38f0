package org.mla4j.gguf;

import java.util.Arrays;

/**
 * One tensor of a GGUF file.
 *
 * @param name tensor name
 * @param type element type
 * @param shape ggml dimensions, innermost first ({@code shape[0]} is the row length); 1 to 4 entries
 * @param offset offset of the data inside the file's data section
 * @param byteSize size of the data in bytes, without padding
 */
public record GgufTensorInfo(String name, GgmlType type, long[] shape, long offset, long byteSize) {
    /** Copies the shape, so that the record stays immutable. */
    public GgufTensorInfo {
        shape = shape.clone();
    }

    /** {@return the shape (a copy)} */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** {@return number of elements} */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** {@return shape as llama.cpp prints it, e.g. "[64, 512]"} */
    public String shapeString() {
        return Arrays.toString(shape);
    }
}
