package org.mla4j.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.mla4j.gguf.GgmlType;

/**
 * Encodes float32 values as a ggml tensor type, writing ggml's little-endian block layout: F32, F16, BF16 and every
 * quantized type mla4j computes with (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS),
 * each quantized as llama-quantize does without an importance matrix (the same bytes). Counts must be multiples
 * of the type's block size (256 for the K-quants and IQ4_XS).
 */
public interface RowEncoder {
    /** {@return the type this encoder writes} */
    GgmlType type();

    /**
     * Encodes src[off, off+n) at dst's position, advancing it by {@code type().rowBytes(n)} bytes.
     *
     * @throws IllegalArgumentException if n is not a multiple of the block size or dst is not little-endian
     * @param src the values
     * @param off the first value in src
     * @param n how many (a multiple of the block size)
     * @param dst where the encoded bytes go (advanced)
     */
    void encode(float[] src, int off, int n, ByteBuffer dst);

    /**
     * Encodes all remaining floats of src (advancing it) at dst's position.
     *
     * @param src the values (advanced to its limit)
     * @param dst where the encoded bytes go (advanced)
     */
    default void encode(FloatBuffer src, ByteBuffer dst) {
        float[] chunk = new float[Math.min(src.remaining(), CHUNK)];
        while (src.hasRemaining()) {
            int n = Math.min(chunk.length, src.remaining());
            src.get(chunk, 0, n);
            encode(chunk, 0, n, dst);
        }
    }

    /**
     * Encodes the little-endian float32 values of {@code src} into the start of {@code dst}.
     *
     * @return the number of bytes written to dst
     * @param src float32 values
     * @param dst where the encoded bytes go
     */
    default long encode(MemorySegment src, MemorySegment dst) {
        if (src.byteSize() % Float.BYTES != 0) {
            throw new IllegalArgumentException("float32 source of " + src.byteSize() + " bytes");
        }
        long n = src.byteSize() / Float.BYTES;
        long outBytes = type().rowBytes(n);
        if (dst.byteSize() < outBytes) {
            throw new IllegalArgumentException("destination of " + dst.byteSize() + " bytes; " + n
                    + " elements of " + type() + " need " + outBytes);
        }
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        float[] chunk = new float[(int) Math.min(n, CHUNK)];
        long written = 0;
        for (long i = 0; i < n; i += chunk.length) {
            int m = (int) Math.min(chunk.length, n - i);
            MemorySegment.copy(src, f32, i * Float.BYTES, chunk, 0, m);
            long bytes = type().rowBytes(m);
            ByteBuffer out = dst.asSlice(written, bytes).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            encode(chunk, 0, m, out);
            written += bytes;
        }
        return written;
    }

    /** The types {@link #of} encodes, in the order help texts list them. */
    java.util.List<GgmlType> TYPES = java.util.List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0,
            GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q5_1, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q4_1, GgmlType.Q4_0,
            GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.Q3_K, GgmlType.Q2_K);

    /** {@return the names of {@link #TYPES} as llama.cpp spells them, lowercased: "f32, f16, ..., q2_k"} */
    static String typeNames() {
        return String.join(", ", TYPES.stream().map(t -> t.name().toLowerCase(java.util.Locale.ROOT)).toList());
    }

    /** Elements per piece in the FloatBuffer/MemorySegment variants: a multiple of every block size. */
    int CHUNK = 1 << 16;

    /**
     * {@return the encoder for {@code type}}
     *
     * @throws IllegalArgumentException for a type mla4j does not compute with (IQ1/IQ2/IQ3, TQ, MXFP4, ...)
     * @param type F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K or IQ4_XS
     */
    static RowEncoder of(GgmlType type) {
        return switch (type) {
            case F32 -> new BlockEncoder(type, (x, off, dst) -> dst.putFloat(x[off]));
            case F16 -> new BlockEncoder(type, (x, off, dst) -> dst.putShort(Fp16.fromFloat(x[off])));
            case BF16 -> new BlockEncoder(type, (x, off, dst) -> dst.putShort(Bf16.fromFloat(x[off])));
            case Q8_0 -> new BlockEncoder(type, Q8_0::quantizeBlock);
            case Q4_0 -> new BlockEncoder(type, Q4_0::quantizeBlock);
            case Q4_1 -> new BlockEncoder(type, Q4_1::quantizeBlock);
            case Q5_0 -> new BlockEncoder(type, Q5_0::quantizeBlock);
            case Q5_1 -> new BlockEncoder(type, Q5_1::quantizeBlock);
            case IQ4_NL -> new BlockEncoder(type, IQ4_NL::quantizeBlock);
            case Q2_K -> new BlockEncoder(type, Q2_K::quantizeBlock);
            case Q3_K -> new BlockEncoder(type, Q3_K::quantizeBlock);
            case Q4_K -> new BlockEncoder(type, Q4_K::quantizeBlock);
            case Q5_K -> new BlockEncoder(type, Q5_K::quantizeBlock);
            case Q6_K -> new BlockEncoder(type, Q6_K::quantizeBlock);
            case IQ4_XS -> new BlockEncoder(type, IQ4_NL::quantizeXsBlock);
            default -> throw new IllegalArgumentException("no encoder for " + type);
        };
    }
}
