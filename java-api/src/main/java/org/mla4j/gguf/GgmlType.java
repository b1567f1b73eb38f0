package org.mla4j.gguf;

/** Tensor element types, with the ids, block sizes and block byte sizes ggml stores in GGUF files. */
public enum GgmlType {
    /** 32-bit IEEE float. */
    F32(0, 1, 4),
    /** 16-bit IEEE float. */
    F16(1, 1, 2),
    /** Blocks of 32 4-bit values with an F16 scale (18 bytes). */
    Q4_0(2, 32, 18),
    /** Blocks of 32 8-bit values with an F16 scale (34 bytes). */
    Q8_0(8, 32, 34),
    /** llama.cpp's 4-bit K-quant: super-blocks of 256 values (144 bytes); read only. */
    Q4_K(12, 256, 144),
    /** llama.cpp's 6-bit K-quant: super-blocks of 256 values (210 bytes); read only. */
    Q6_K(14, 256, 210),
    /** bfloat16: the upper half of an F32. */
    BF16(30, 1, 2);

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** {@return the ggml type id stored in GGUF tensor infos} */
    public int id() {
        return id;
    }

    /** {@return elements per block (1 for float types)} */
    public int blockSize() {
        return blockSize;
    }

    /** {@return bytes per block} */
    public int typeSize() {
        return typeSize;
    }

    /**
     * Bytes of a row of {@code elements} elements; the count must be a multiple of the block size.
     *
     * @throws ArithmeticException when the size does not fit a long (2^62 F16 elements, say)
     * @param elements elements in the row
     * @return its size in bytes
     */
    public long rowBytes(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements is not a multiple of the " + this
                    + " block size " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, typeSize);
    }

    /**
     * {@return the type with this ggml id}
     *
     * @param id the ggml type id
     */
    public static GgmlType fromId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported ggml tensor type id " + id);
    }
}
