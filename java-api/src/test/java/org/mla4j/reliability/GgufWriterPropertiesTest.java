package org.mla4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufType;
import org.mla4j.gguf.GgufWriter;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * GgufWriter's inputs are user data (keys, values of any Java type, tensor names and shapes). Whatever they are,
 * the writer either refuses them with IllegalArgumentException (or NullPointerException for a null argument) and a
 * message, or accepts them; and what it accepts, the native reader must read back as written.
 */
class GgufWriterPropertiesTest {

    static final Path DIR;
    static {
        try {
            DIR = Files.createTempDirectory("mla4j-writer-props");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The rule: a clear refusal, nothing else (no ClassCastException, ArithmeticException, ...). */
    static boolean tryOrRefuse(Runnable r) {
        try {
            r.run();
            return true;
        } catch (IllegalArgumentException | NullPointerException e) {
            assertNotNull(e.getMessage(), "refused without a message: " + e);
            assertFalse(e.getMessage().isBlank());
            return false;
        }
    }

    @Provide
    Arbitrary<Object> anyValue() {
        return Arbitraries.oneOf(
                Arbitraries.integers().map(i -> (Object) i),
                Arbitraries.longs().map(l -> (Object) l),
                Arbitraries.of((Object) Long.MIN_VALUE, Long.MAX_VALUE, -1L, 0xFFFFFFFFL, 0x100000000L, 256, -129,
                        (short) -1, (byte) -128, Float.NaN, Double.POSITIVE_INFINITY, 1e300, true, "", "é", null,
                        new int[] {1}, List.of(), new Object()),
                Arbitraries.strings().ofMaxLength(40).map(s -> (Object) s),
                Arbitraries.doubles().map(d -> (Object) d));
    }

    @Provide
    Arbitrary<String> anyKey() {
        return Arbitraries.oneOf(Arbitraries.strings().ofMaxLength(30),
                Arbitraries.of("general.alignment", "general.architecture", "", "a\u0000b", "\uD800"));
    }

    @Property(tries = 400)
    void scalarValuesAreRefusedOrReadBack(@ForAll("anyKey") String key, @ForAll GgufType type,
            @ForAll("anyValue") Object value) throws IOException {
        Path out = DIR.resolve("scalar.gguf");
        try (GgufWriter w = GgufWriter.create(out)) {
            if (!tryOrRefuse(() -> w.putValue(key, type, value))) return;
            w.commit();
        }
        try (GgufFile f = GgufFile.open(out)) {
            // Java strings with lone surrogates are written as '?', so look the key up as it was encoded.
            String stored = f.keys().get(0);
            assertEquals(type, f.type(stored).orElseThrow());
            if (type == GgufType.STRING && value instanceof String s) {
                assertEquals(new String(s.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        java.nio.charset.StandardCharsets.UTF_8), f.getString(stored).orElseThrow());
            }
            if ((type == GgufType.INT32 || type == GgufType.INT64) && value instanceof Number n) {
                assertEquals(n.longValue(), f.getLong(stored).orElseThrow());
            }
        }
    }

    @Provide
    Arbitrary<long[]> anyShape() {
        Arbitrary<Long> dim = Arbitraries.oneOf(Arbitraries.longs().between(-2, 300),
                Arbitraries.of(0L, 32L, 256L, 1L << 31, 1L << 40, 1L << 62, Long.MAX_VALUE, Long.MIN_VALUE));
        return dim.array(long[].class).ofMaxSize(6);
    }

    @Property(tries = 400)
    void tensorShapesAreRefusedOrReadBack(@ForAll("anyShape") long[] shape, @ForAll GgmlType type,
            @ForAll("anyKey") String name) throws IOException {
        Path out = DIR.resolve("tensor.gguf");
        try (GgufWriter w = GgufWriter.create(out)) {
            if (!tryOrRefuse(() -> w.addTensor(name, type, shape, (ch, n) -> {
                ByteBuffer zeros = ByteBuffer.allocate(64 << 10);
                for (long left = n; left > 0; left -= zeros.capacity()) {
                    ch.write(zeros.clear().limit((int) Math.min(left, zeros.capacity())));
                }
            }))) {
                return;
            }
            GgufTensorInfo planned = w.tensorInfos().get(0);
            assertTrue(planned.byteSize() >= 0);
            if (planned.byteSize() > (4 << 20)) return; // accepted; too large to write in a unit test
            w.commit();
        }
        try (GgufFile f = GgufFile.open(out)) {
            GgufTensorInfo t = f.tensors().get(0);
            assertEquals(type, t.type());
            // Trailing dimensions of 1 may be dropped; the element count and the leading dimensions must match.
            assertArrayEquals(Arrays.copyOf(shape, t.shape().length), t.shape());
        }
    }
}
