package org.mla4j.gguf;

/**
 * Tensor element types, with the ids, block sizes and block byte sizes ggml stores in GGUF files: every type ggml
 * defines, so that a file's layout can be read and listed whole. {@link #computable()} tells which ones mla4j runs
 * (the others are refused when a model is loaded, with the tensor named).
 */
public enum GgmlType {
    /** 32-bit IEEE float. */
    F32(0, 1, 4, true),
    /** 16-bit IEEE float. */
    F16(1, 1, 2, true),
    /** Blocks of 32 4-bit values with an F16 scale. */
    Q4_0(2, 32, 18, true),
    /** Blocks of 32 4-bit values with an F16 scale and minimum. */
    Q4_1(3, 32, 20, true),
    /** Blocks of 32 5-bit values with an F16 scale. */
    Q5_0(6, 32, 22, true),
    /** Blocks of 32 5-bit values with an F16 scale and minimum. */
    Q5_1(7, 32, 24, true),
    /** Blocks of 32 8-bit values with an F16 scale. */
    Q8_0(8, 32, 34, true),
    /** Blocks of 32 8-bit values with F16 scale and sum (activations only; not computed). */
    Q8_1(9, 32, 36, false),
    /** 2-bit K-quant (super-blocks of 256). */
    Q2_K(10, 256, 84, true),
    /** 3-bit K-quant (super-blocks of 256). */
    Q3_K(11, 256, 110, true),
    /** 4-bit K-quant (super-blocks of 256). */
    Q4_K(12, 256, 144, true),
    /** 5-bit K-quant (super-blocks of 256). */
    Q5_K(13, 256, 176, true),
    /** 6-bit K-quant (super-blocks of 256). */
    Q6_K(14, 256, 210, true),
    /** 8-bit K-quant (activations only; not computed). */
    Q8_K(15, 256, 292, false),
    /** ggml type IQ2_XXS (read and listed; refused for computation). */
    IQ2_XXS(16, 256, 66, false),
    /** ggml type IQ2_XS (read and listed; refused for computation). */
    IQ2_XS(17, 256, 74, false),
    /** ggml type IQ3_XXS (read and listed; refused for computation). */
    IQ3_XXS(18, 256, 98, false),
    /** ggml type IQ1_S (read and listed; refused for computation). */
    IQ1_S(19, 256, 50, false),
    /** 4-bit non-linear codebook, blocks of 32. */
    IQ4_NL(20, 32, 18, true),
    /** ggml type IQ3_S (read and listed; refused for computation). */
    IQ3_S(21, 256, 110, false),
    /** ggml type IQ2_S (read and listed; refused for computation). */
    IQ2_S(22, 256, 82, false),
    /** 4-bit non-linear codebook, super-blocks of 256. */
    IQ4_XS(23, 256, 136, true),
    /** ggml type I8 (read and listed; refused for computation). */
    I8(24, 1, 1, false),
    /** ggml type I16 (read and listed; refused for computation). */
    I16(25, 1, 2, false),
    /** ggml type I32 (read and listed; refused for computation). */
    I32(26, 1, 4, false),
    /** ggml type I64 (read and listed; refused for computation). */
    I64(27, 1, 8, false),
    /** ggml type F64 (read and listed; refused for computation). */
    F64(28, 1, 8, false),
    /** ggml type IQ1_M (read and listed; refused for computation). */
    IQ1_M(29, 256, 56, false),
    /** bfloat16: the upper half of an F32. */
    BF16(30, 1, 2, true),
    /** ggml type TQ1_0 (read and listed; refused for computation). */
    TQ1_0(34, 256, 54, false),
    /** ggml type TQ2_0 (read and listed; refused for computation). */
    TQ2_0(35, 256, 66, false),
    /** ggml type MXFP4 (read and listed; refused for computation). */
    MXFP4(39, 32, 17, false),
    /** ggml type NVFP4 (read and listed; refused for computation). */
    NVFP4(40, 64, 36, false),
    /** ggml type Q1_0 (read and listed; refused for computation). */
    Q1_0(41, 128, 18, false),
    /** ggml type Q2_0 (read and listed; refused for computation). */
    Q2_0(42, 64, 18, false);

    private final int id;
    private final int blockSize;
    private final int typeSize;
    private final boolean computable;

    GgmlType(int id, int blockSize, int typeSize, boolean computable) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
        this.computable = computable;
    }

    /** {@return whether mla4j's kernels compute with this type (a model with any other type is refused at load)} */
    public boolean computable() {
        return computable;
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
        throw new IllegalArgumentException("unknown ggml tensor type id " + id);
    }
}
