package org.mla4j.quant;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.mla4j.NativeLibrary;
import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgmlType;
import org.mla4j.internal.Status;

/**
 * The Java encoders against llama.cpp: rows of floats quantized by llama.cpp's ggml_quantize_chunk (no importance
 * matrix, llama-quantize's call) are stored with the bytes it wrote and its dequantization
 * (src/test/resources/quant-encoders/README.md). The Java encoder must write the same bytes, and the native
 * library's dequantization of the Java-written row must equal llama.cpp's, bit for bit.
 */
class LlamaCppEncoderTest {
    /** One stored type: n values per row, and each row's input, llama.cpp's bytes and its dequantization. */
    private record Vectors(int n, float[][] input, byte[][] bytes, float[][] dequantized) {
    }

    @BeforeAll
    static void loadNative() {
        NativeLibrary.load();
    }

    private static Vectors read(GgmlType type) throws IOException {
        String name = "/quant-encoders/" + type.name().toLowerCase().replace("_k", "_K") + ".bin";
        byte[] all;
        try (InputStream in = LlamaCppEncoderTest.class.getResourceAsStream(name)) {
            if (in == null) fail(name + " is not on the class path");
            all = in.readAllBytes();
        }
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        b.get(magic);
        assertEquals("MQEV", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, b.getInt(), "version");
        assertEquals(type.id(), b.getInt(), "ggml type id");
        int n = b.getInt();
        int rows = b.getInt();
        int rowBytes = Math.toIntExact(type.rowBytes(n));
        float[][] input = new float[rows][n];
        byte[][] bytes = new byte[rows][rowBytes];
        float[][] deq = new float[rows][n];
        for (int r = 0; r < rows; r++) {
            b.asFloatBuffer().get(input[r]);
            b.position(b.position() + n * Float.BYTES);
            b.get(bytes[r]);
            b.asFloatBuffer().get(deq[r]);
            b.position(b.position() + n * Float.BYTES);
        }
        assertEquals(0, b.remaining(), name + " has trailing bytes");
        return new Vectors(n, input, bytes, deq);
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
        "IQ4_XS"})
    void javaWritesLlamaCppBytesAndTheyDecodeAsLlamaCppDecodes(GgmlType type) throws IOException {
        Vectors v = read(type);
        RowEncoder enc = RowEncoder.of(type);
        assertEquals(8, v.input().length);
        try (Arena arena = Arena.ofConfined()) {
            for (int row = 0; row < v.input().length; row++) {
                final int r = row;
                int rowBytes = v.bytes()[r].length;
                ByteBuffer out = ByteBuffer.allocate(rowBytes).order(ByteOrder.LITTLE_ENDIAN);
                enc.encode(v.input()[r], 0, v.n(), out);
                assertEquals(rowBytes, out.position());
                int firstDiff = Arrays.mismatch(v.bytes()[r], out.array());
                assertEquals(-1, firstDiff, () -> type + " row " + r + ": first differing byte " + firstDiff
                        + " (block " + firstDiff / type.typeSize() + ", byte " + firstDiff % type.typeSize() + ")");

                MemorySegment q = arena.allocate(rowBytes);
                MemorySegment.copy(out.array(), 0, q, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, rowBytes);
                MemorySegment f = arena.allocate(JAVA_FLOAT, v.n());
                Status.check(Mla4jNative.mla4j_type_dequantize(type.id(), q, rowBytes, f, v.n()), "dequantize");
                float[] got = f.toArray(JAVA_FLOAT);
                for (int i = 0; i < v.n(); i++) {
                    assertEquals(Float.floatToRawIntBits(v.dequantized()[r][i]), Float.floatToRawIntBits(got[i]),
                            type + " row " + r + " value " + i + ": llama.cpp " + v.dequantized()[r][i]
                                    + ", mla4j " + got[i]);
                }
            }
        }
    }

}
