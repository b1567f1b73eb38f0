package org.mla4j.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Mla4jException;
import org.mla4j.Model;

/**
 * Malformed and hostile GGUF files opened from Java: each one must give an {@link Mla4jException} whose message names
 * the file and the problem, never a crash. The image is written by hand so that every field can be corrupted.
 */
class HostileGgufTest {

    @TempDir
    Path tmp;

    /** Offsets of the fields the tests corrupt. */
    int nTensorsAt, nKvAt, firstKeyLenAt, valueTypeAt, tensorTypeAt, tensor1OffsetAt, dataStart;

    /** GGUF v3: general.architecture = "llama", test.count u32, and tensors "a" F32 [8, 2] and "b" Q8_0 [32]. */
    byte[] valid() {
        ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3);
        nTensorsAt = b.position();
        b.putLong(2);
        nKvAt = b.position();
        b.putLong(2);
        firstKeyLenAt = b.position();
        string(b, "general.architecture");
        b.putInt(8);
        string(b, "llama");
        string(b, "test.count");
        valueTypeAt = b.position();
        b.putInt(4).putInt(7);
        string(b, "a");
        b.putInt(2).putLong(8).putLong(2);
        tensorTypeAt = b.position();
        b.putInt(0).putLong(0);
        string(b, "b");
        b.putInt(1).putLong(32).putInt(8);
        tensor1OffsetAt = b.position();
        b.putLong(64);
        while (b.position() % 32 != 0) b.put((byte) 0);
        dataStart = b.position();
        for (int i = 0; i < 16; i++) b.putFloat(i);
        b.putShort((short) 0x3c00);
        for (int i = 0; i < 32; i++) b.put((byte) (i - 16));
        while (b.position() % 32 != 0) b.put((byte) 0);
        return Arrays.copyOf(b.array(), b.position());
    }

    static void string(ByteBuffer b, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        b.putLong(bytes.length).put(bytes);
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    void assertRefused(byte[] bytes, String expected) throws IOException {
        Path p = write("hostile.gguf", bytes);
        Mla4jException e = assertThrows(Mla4jException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    static byte[] with(byte[] base, int at, long value, int width) {
        byte[] copy = base.clone();
        ByteBuffer b = ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN);
        if (width == 4) b.putInt(at, (int) value);
        else b.putLong(at, value);
        return copy;
    }

    @Test
    void validImageOpens() throws IOException {
        try (GgufFile g = GgufFile.open(write("ok.gguf", valid()))) {
            assertEquals(3, g.version());
            assertEquals("llama", g.getString("general.architecture").orElseThrow());
            assertEquals(7, g.getLong("test.count").orElseThrow());
            assertEquals(2, g.tensors().size());
            GgufTensorInfo a = g.tensor("a").orElseThrow();
            assertEquals(5.0f, g.tensorData(a).get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 20));
            assertEquals(dataStart, g.dataOffset());
        }
    }

    @Test
    void truncationAtEveryByteIsRefused() throws IOException {
        byte[] full = valid();
        int end = dataStart + 64 + 34; // the last tensor's padding is optional
        for (int cut = 0; cut < end; cut++) {
            Path p = write("cut.gguf", Arrays.copyOf(full, cut));
            Mla4jException e = assertThrows(Mla4jException.class, () -> GgufFile.open(p).close(), "cut at " + cut);
            assertEquals("MLA4J_ERR_FORMAT", e.statusName(), "cut at " + cut + ": " + e.getMessage());
        }
    }

    @Test
    void badMagicVersionsAndEndianness() throws IOException {
        byte[] v = valid();
        v[3] = 'X';
        assertRefused(v, "bad magic");
        assertRefused(with(valid(), 4, 1, 4), "unsupported GGUF version 1");
        assertRefused(with(valid(), 4, 9, 4), "unsupported GGUF version 9");
        assertRefused(with(valid(), 4, 0x03000000, 4), "big-endian");
    }

    @Test
    void hugeCountsAndLengths() throws IOException {
        assertRefused(with(valid(), nTensorsAt, Long.MAX_VALUE, 8), "tensors, impossible");
        assertRefused(with(valid(), nKvAt, -1L, 8), "keys, impossible");
        assertRefused(with(valid(), firstKeyLenAt, 1L << 60, 8), "truncated");
    }

    @Test
    void offsetsPastTheEndOrMisaligned() throws IOException {
        assertRefused(with(valid(), tensor1OffsetAt, 1L << 40, 8), "has offset 1099511627776, expected 64");
        assertRefused(with(valid(), tensor1OffsetAt, 65, 8), "has offset 65, expected 64");
        assertRefused(Arrays.copyOf(valid(), dataStart + 64 + 20), "past the end");
    }

    @Test
    void unknownTypes() throws IOException {
        assertRefused(with(valid(), valueTypeAt, 99, 4), "unknown value type 99");
        assertRefused(with(valid(), tensorTypeAt, 99, 4), "type id 99");
    }

    @Test
    void duplicateKeysAndTensorNames() throws IOException {
        byte[] v = valid();
        // Rename "test.count" to "general.ar" ... would change lengths; instead rename tensor "b" to "a".
        int bName = tensorTypeAt + 4 + 8 + 8;
        assertEquals('b', v[bName]);
        v[bName] = 'a';
        assertRefused(v, "duplicate tensor name 'a'");

        ByteBuffer b = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(0).putLong(2);
        string(b, "k");
        b.putInt(4).putInt(1);
        string(b, "k");
        b.putInt(4).putInt(2);
        assertRefused(Arrays.copyOf(b.array(), b.position()), "duplicate key 'k'");
    }

    @Test
    void legacyVersion1FixtureIsRefusedClearly() {
        Path v1 = Fixtures.require("models/tinyllamas-stories-260k-f32.gguf");
        Mla4jException e = assertThrows(Mla4jException.class, () -> GgufFile.open(v1));
        assertTrue(e.getMessage().contains("unsupported GGUF version 1"), e.getMessage());
        e = assertThrows(Mla4jException.class, () -> Model.load(v1));
        assertEquals("MLA4J_ERR_UNSUPPORTED", e.statusName());
    }

    @Test
    void modelLoadNamesMissingPiecesAndBadFiles() throws IOException {
        Path p = write("arch-only.gguf", valid());
        Mla4jException e = assertThrows(Mla4jException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("missing required key 'llama.context_length'"), e.getMessage());
        e = assertThrows(Mla4jException.class, () -> Model.load(tmp.resolve("absent.gguf")));
        assertEquals("MLA4J_ERR_IO", e.statusName());
        e = assertThrows(Mla4jException.class, () -> Model.load(write("empty.gguf", new byte[0])));
        assertTrue(e.getMessage().contains("empty file"), e.getMessage());
    }
}
