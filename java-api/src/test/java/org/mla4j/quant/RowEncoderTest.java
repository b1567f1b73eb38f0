package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.mla4j.quant.QuantTestSupport.gaussian;
import static org.mla4j.quant.QuantTestSupport.le;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgmlType;

class RowEncoderTest {
    @Test
    void floatTypesWriteLittleEndianElements() {
        float[] x = {1.0f, -2.0f, 0.5f};
        ByteBuffer f32 = le(12);
        RowEncoder.of(GgmlType.F32).encode(x, 0, 3, f32);
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0, 0, 0, 0, 0x3F}, f32.array());
        ByteBuffer f16 = le(6);
        RowEncoder.of(GgmlType.F16).encode(x, 0, 3, f16);
        assertArrayEquals(new byte[] {0, 0x3C, 0, (byte) 0xC0, 0, 0x38}, f16.array());
        ByteBuffer bf16 = le(6);
        RowEncoder.of(GgmlType.BF16).encode(x, 0, 3, bf16);
        assertArrayEquals(new byte[] {(byte) 0x80, 0x3F, 0, (byte) 0xC0, 0, 0x3F}, bf16.array());
    }

    @Test
    void offsetSelectsTheRow() {
        float[] x = new float[64];
        x[32] = 127;
        ByteBuffer b = le(34);
        RowEncoder.of(GgmlType.Q8_0).encode(x, 32, 32, b);
        assertEquals(0x3C00, b.getShort(0));
        assertEquals(127, b.get(2));
    }

    @Test
    void badArgumentsAreRejected() {
        RowEncoder q8 = RowEncoder.of(GgmlType.Q8_0);
        assertThrows(IllegalArgumentException.class, () -> q8.encode(new float[48], 0, 48, le(100)));
        assertThrows(IllegalArgumentException.class, () -> q8.encode(new float[32], 0, 32, le(33)));
        assertThrows(IllegalArgumentException.class,
                () -> q8.encode(new float[32], 0, 32, ByteBuffer.allocate(34)));
        assertThrows(IllegalArgumentException.class, () -> RowEncoder.of(GgmlType.IQ2_XXS));
        assertThrows(IllegalArgumentException.class, () -> RowEncoder.of(GgmlType.Q8_K));
        RowEncoder q4k = RowEncoder.of(GgmlType.Q4_K);
        assertThrows(IllegalArgumentException.class, () -> q4k.encode(new float[288], 0, 288, le(1000)));
    }

    @Test
    void everyListedTypeHasItsEncoderAndEveryComputableTypeIsListed() {
        for (GgmlType t : RowEncoder.TYPES) assertEquals(t, RowEncoder.of(t).type());
        for (GgmlType t : GgmlType.values()) {
            assertEquals(t.computable(), RowEncoder.TYPES.contains(t), t + ": computable but not writable, or back");
        }
    }

    @Test
    void bufferAndSegmentVariantsMatchTheArrayVariant() {
        for (GgmlType t : RowEncoder.TYPES) {
            int n = RowEncoder.CHUNK * 2 + 3 * Math.max(32, t.blockSize()); // several chunks and a partial one
            float[] x = gaussian(n, 1, 3);
            RowEncoder enc = RowEncoder.of(t);
            int bytes = (int) t.rowBytes(n);
            ByteBuffer expected = le(bytes);
            enc.encode(x, 0, n, expected);

            ByteBuffer viaBuffer = le(bytes);
            enc.encode(FloatBuffer.wrap(x), viaBuffer);
            assertArrayEquals(expected.array(), viaBuffer.array(), t.toString());

            try (Arena arena = Arena.ofConfined()) {
                MemorySegment src = arena.allocate((long) n * 4);
                MemorySegment.copy(x, 0, src, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        0, n);
                MemorySegment dst = arena.allocate(bytes + 10);
                assertEquals(bytes, enc.encode(src, dst));
                assertArrayEquals(expected.array(), dst.asSlice(0, bytes).toArray(ValueLayout.JAVA_BYTE),
                        t.toString());
            }
        }
    }
}
