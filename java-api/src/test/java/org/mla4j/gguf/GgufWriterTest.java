package org.mla4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Byte-exact checks of GgufWriter output against the layout in shared/docs/formats.md, built by hand here. */
class GgufWriterTest {
    @TempDir
    Path dir;

    /** Little-endian expected-bytes builder for the tests; deliberately independent of the writer's code. */
    private static final class Expected {
        final ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);

        Expected raw(int... bytes) {
            for (int x : bytes) {
                b.put((byte) x);
            }
            return this;
        }

        Expected str(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            b.putLong(u.length).put(u);
            return this;
        }

        Expected zeros(int n) {
            b.put(new byte[n]);
            return this;
        }

        byte[] bytes() {
            byte[] out = new byte[b.position()];
            b.duplicate().flip().get(out);
            return out;
        }
    }

    private static TensorSource floats(float... values) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buf.putFloat(v);
        }
        return TensorSource.of(buf.flip());
    }

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 3;
        }
        return v;
    }

    @Test
    void oneKeyAndThreeTensorsAreLaidOutByteForByte() throws IOException {
        Path out = dir.resolve("m.gguf");
        float[] w = ramp(64);
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putUInt32("test.value", 0x01020304L);
            g.addTensor("w", GgmlType.F32, new long[] {32, 2}, floats(w));
            g.addTensor("b", GgmlType.F32, new long[] {3}, floats(1, 2, 3));
            g.addTensor("c", GgmlType.F32, new long[] {1}, floats(-1));
            g.commit();
        }
        Expected e = new Expected();
        e.raw('G', 'G', 'U', 'F').raw(3, 0, 0, 0);
        e.b.putLong(3).putLong(1);                       // n_tensors, n_kv: 24 bytes so far
        e.str("test.value").raw(4, 0, 0, 0).raw(4, 3, 2, 1); // 8+10 + 4 + 4 = 26 -> 50
        e.str("w").raw(2, 0, 0, 0);                      // 9 + 4 -> 63
        e.b.putLong(32).putLong(2).putInt(0).putLong(0); // ne, F32, offset 0 -> 91
        e.str("b").raw(1, 0, 0, 0);                      // -> 104
        e.b.putLong(3).putInt(0).putLong(256);           // after 256 bytes of w -> 124
        e.str("c").raw(1, 0, 0, 0);                      // -> 137
        e.b.putLong(1).putInt(0).putLong(256 + 32);      // b's 12 bytes padded to 32 -> 157
        assertEquals(157, e.b.position());
        e.zeros(3);                                      // data section starts at PAD(157, 32) = 160
        for (float v : w) {
            e.b.putFloat(v);
        }
        e.b.putFloat(1).putFloat(2).putFloat(3).put(new byte[20]);
        e.b.putFloat(-1).put(new byte[28]);              // the last blob is padded too
        assertEquals(160 + 256 + 32 + 32, e.b.position());
        assertArrayEquals(e.bytes(), Files.readAllBytes(out));
    }

    @Test
    void alignmentKeyIsHonoured() throws IOException {
        Path out = dir.resolve("a.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putUInt32("general.alignment", 64);
            g.addTensor("x", GgmlType.F32, new long[] {2}, floats(1.5f, -2));
            g.addTensor("y", GgmlType.F32, new long[] {1}, floats(7));
            assertEquals(List.of(0L, 64L), g.tensorInfos().stream().map(GgufTensorInfo::offset).toList());
            g.commit();
        }
        Expected e = new Expected();
        e.raw('G', 'G', 'U', 'F').raw(3, 0, 0, 0);
        e.b.putLong(2).putLong(1);
        e.str("general.alignment").raw(4, 0, 0, 0).b.putInt(64); // 24 + 25 + 8 = 57
        e.str("x").raw(1, 0, 0, 0).b.putLong(2).putInt(0).putLong(0);   // +33 = 90
        e.str("y").raw(1, 0, 0, 0).b.putLong(1).putInt(0).putLong(64);  // +33 = 123
        e.zeros(128 - 123);
        e.b.putFloat(1.5f).putFloat(-2).put(new byte[56]);
        e.b.putFloat(7).put(new byte[60]);
        assertArrayEquals(e.bytes(), Files.readAllBytes(out));
    }

    @Test
    void withoutTensorsTheFileEndsAfterTheLastValue() throws IOException {
        Path out = dir.resolve("vocab.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putString("general.architecture", "llama");
            g.putStringArray("tokenizer.ggml.tokens", List.of("<unk>", "▁a"));
            g.putArray("tokenizer.ggml.token_type", GgufType.INT32, new int[] {2, 1});
            g.putBool("tokenizer.ggml.add_bos_token", true);
            g.putFloat32("f", 0.5f);
            g.commit();
        }
        Expected e = new Expected();
        e.raw('G', 'G', 'U', 'F').raw(3, 0, 0, 0);
        e.b.putLong(0).putLong(5);
        e.str("general.architecture").raw(8, 0, 0, 0).str("llama");
        e.str("tokenizer.ggml.tokens").raw(9, 0, 0, 0).raw(8, 0, 0, 0).b.putLong(2);
        e.str("<unk>").str("▁a"); // "▁" is 3 UTF-8 bytes: e2 96 81
        e.str("tokenizer.ggml.token_type").raw(9, 0, 0, 0).raw(5, 0, 0, 0).b.putLong(2).putInt(2).putInt(1);
        e.str("tokenizer.ggml.add_bos_token").raw(7, 0, 0, 0).raw(1);
        e.str("f").raw(6, 0, 0, 0).raw(0, 0, 0, 0x3f);
        assertArrayEquals(e.bytes(), Files.readAllBytes(out));
    }

    @Test
    void scalarTypesHaveTheirIdsAndWidths() throws IOException {
        Path out = dir.resolve("s.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putUInt8("a", 255).putInt8("b", -2).putUInt16("c", 0xBEEF).putInt16("d", -3);
            g.putInt32("e", -5).putUInt64("f", -1L).putInt64("g", 1L << 40).putFloat64("h", 1.0);
            g.putValue("i", GgufType.UINT32, 4_000_000_000L);
            g.putArray("j", GgufType.UINT16, List.of(1, 65535));
            g.commit();
        }
        Expected e = new Expected();
        e.raw('G', 'G', 'U', 'F').raw(3, 0, 0, 0);
        e.b.putLong(0).putLong(10);
        e.str("a").raw(0, 0, 0, 0).raw(0xff);
        e.str("b").raw(1, 0, 0, 0).raw(0xfe);
        e.str("c").raw(2, 0, 0, 0).raw(0xef, 0xbe);
        e.str("d").raw(3, 0, 0, 0).raw(0xfd, 0xff);
        e.str("e").raw(5, 0, 0, 0).raw(0xfb, 0xff, 0xff, 0xff);
        e.str("f").raw(10, 0, 0, 0).b.putLong(-1L);
        e.str("g").raw(11, 0, 0, 0).raw(0, 0, 0, 0, 0, 1, 0, 0);
        e.str("h").raw(12, 0, 0, 0).raw(0, 0, 0, 0, 0, 0, 0xf0, 0x3f);
        e.str("i").raw(4, 0, 0, 0).raw(0x00, 0x28, 0x6b, 0xee);
        e.str("j").raw(9, 0, 0, 0).raw(2, 0, 0, 0).b.putLong(2);
        e.raw(1, 0, 0xff, 0xff);
        assertArrayEquals(e.bytes(), Files.readAllBytes(out));
    }

    @Test
    void quantizedTensorSizeAndPadding() throws IOException {
        Path out = dir.resolve("q.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.addTensor("q", GgmlType.Q8_0, new long[] {64, 3}, TensorSource.of(ByteBuffer.allocate(6 * 34)));
            g.addTensor("r", GgmlType.Q4_0, new long[] {32}, TensorSource.of(ByteBuffer.allocate(18)));
            List<GgufTensorInfo> infos = g.tensorInfos();
            assertEquals(204, infos.get(0).byteSize());
            assertEquals(224, infos.get(1).offset());
            assertEquals(18, infos.get(1).byteSize());
            g.commit();
        }
        // header: 24 + ("q": 9+4+16+4+8 = 41) + ("r": 9+4+8+4+8 = 33) = 98 -> 128; data 224 + 32
        assertEquals(128 + 224 + 32, Files.size(out));
    }

    // ---- validation ----------------------------------------------------------------------------------------

    @Test
    void duplicatesAndBadNamesAreRejectedByName() {
        GgufWriter g = GgufWriter.create(dir.resolve("x.gguf"));
        g.putUInt32("k", 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.putString("k", "v"));
        assertTrue(e.getMessage().contains("'k'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.putString("", "v"));

        g.addTensor("t", GgmlType.F32, new long[] {1}, floats(0));
        e = assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("t", GgmlType.F32, new long[] {1}, floats(0)));
        assertTrue(e.getMessage().contains("'t'"), e.getMessage());

        String name63 = "n".repeat(63);
        g.addTensor(name63, GgmlType.F32, new long[] {1}, floats(0));
        e = assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("n".repeat(64), GgmlType.F32, new long[] {1}, floats(0)));
        assertTrue(e.getMessage().contains("64 bytes"), e.getMessage());
        // 22 x "▁" is 66 UTF-8 bytes although only 22 chars
        assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("▁".repeat(22), GgmlType.F32, new long[] {1}, floats(0)));
    }

    @Test
    void shapesAreChecked() {
        GgufWriter g = GgufWriter.create(dir.resolve("x.gguf"));
        TensorSource none = (out, n) -> { };
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("q", GgmlType.Q8_0, new long[] {48, 2}, none));
        assertTrue(e.getMessage().contains("block size 32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.addTensor("a", GgmlType.F32, new long[0], none));
        assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("a", GgmlType.F32, new long[] {1, 1, 1, 1, 1}, none));
        assertThrows(IllegalArgumentException.class, () -> g.addTensor("a", GgmlType.F32, new long[] {-1}, none));
        assertThrows(IllegalArgumentException.class,
                () -> g.addTensor("a", GgmlType.F32, new long[] {1L << 40, 1L << 40}, none));
    }

    @Test
    void valuesAreCheckedAgainstTheirTypes() {
        GgufWriter g = GgufWriter.create(dir.resolve("x.gguf"));
        assertThrows(IllegalArgumentException.class, () -> g.putUInt32("a", -1));
        assertThrows(IllegalArgumentException.class, () -> g.putUInt32("a", 1L << 32));
        assertThrows(IllegalArgumentException.class, () -> g.putUInt8("a", 256));
        assertThrows(IllegalArgumentException.class, () -> g.putValue("a", GgufType.INT32, 1.5));
        assertThrows(IllegalArgumentException.class, () -> g.putValue("a", GgufType.BOOL, 1));
        assertThrows(IllegalArgumentException.class, () -> g.putValue("a", GgufType.ARRAY, new int[] {1}));
        assertThrows(IllegalArgumentException.class, () -> g.putArray("a", GgufType.ARRAY, List.of()));
        assertThrows(IllegalArgumentException.class, () -> g.putArray("a", GgufType.INT32, new long[] {1}));
        assertThrows(IllegalArgumentException.class, () -> g.putInt32("general.alignment", 32));
        assertThrows(IllegalArgumentException.class, () -> g.putUInt32("general.alignment", 48));
        assertThrows(IllegalArgumentException.class, () -> g.putUInt32("general.alignment", 0));
        assertFalse(g.containsKey("a"), "rejected values must not be stored");
        assertEquals(32, g.alignment());
    }

    // ---- atomicity -----------------------------------------------------------------------------------------

    @Test
    void aShortSourceFailsAndLeavesNoFile() throws IOException {
        Path out = dir.resolve("short.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.addTensor("t", GgmlType.F32, new long[] {4}, floats(1, 2, 3));
            IOException e = assertThrows(IOException.class, g::commit);
            assertTrue(e.getMessage().contains("'t'") && e.getMessage().contains("wrote 12 bytes, expected 16"),
                    e.getMessage());
        }
        assertFalse(Files.exists(out));
        assertEquals(List.of(), listDir());
    }

    @Test
    void aLongSourceFailsAndLeavesThePreviousFileIntact() throws IOException {
        Path out = dir.resolve("long.gguf");
        Files.write(out, new byte[] {1, 2, 3});
        try (GgufWriter g = GgufWriter.create(out)) {
            g.addTensor("t", GgmlType.F32, new long[] {1}, floats(1, 2));
            IOException e = assertThrows(IOException.class, g::commit);
            assertTrue(e.getMessage().contains("more than the expected 4 bytes"), e.getMessage());
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(out));
        assertEquals(List.of(out), listDir());
    }

    @Test
    void aThrowingSourceLeavesThePreviousFileIntact() throws IOException {
        Path out = dir.resolve("boom.gguf");
        Files.write(out, new byte[] {9});
        try (GgufWriter g = GgufWriter.create(out)) {
            g.addTensor("ok", GgmlType.F32, new long[] {1}, floats(1));
            g.addTensor("bad", GgmlType.F32, new long[] {1}, (ch, n) -> {
                throw new IllegalStateException("generator failed");
            });
            assertThrows(IllegalStateException.class, g::commit);
        }
        assertArrayEquals(new byte[] {9}, Files.readAllBytes(out));
        assertEquals(List.of(out), listDir());
    }

    @Test
    void closeWithoutCommitWritesNothingAndCommitReplacesAnOldFile() throws IOException {
        Path out = dir.resolve("c.gguf");
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putUInt32("k", 1);
        }
        assertFalse(Files.exists(out));
        Files.write(out, new byte[] {1});
        try (GgufWriter g = GgufWriter.create(out)) {
            g.putUInt32("k", 1);
            g.commit();
            assertThrows(IllegalStateException.class, () -> g.putUInt32("k2", 1));
        }
        assertEquals(24 + 9 + 4 + 4, Files.size(out));
        assertEquals(List.of(out), listDir());
    }

    private List<Path> listDir() throws IOException {
        try (var s = Files.list(dir)) {
            return s.toList();
        }
    }
}
