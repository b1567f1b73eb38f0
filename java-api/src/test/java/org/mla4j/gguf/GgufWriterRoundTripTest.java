package org.mla4j.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files written by GgufWriter read back through the native reader (GgufFile), and real files re-written. */
class GgufWriterRoundTripTest {
    @TempDir
    Path dir;

    @Test
    void everyValueTypeAndTensorReadsBack() throws IOException {
        Path out = dir.resolve("rt.gguf");
        ByteBuffer q8 = ByteBuffer.allocate(2 * 34).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < q8.capacity(); i++) {
            q8.put(i, (byte) i);
        }
        try (GgufWriter w = GgufWriter.create(out)) {
            w.putString("general.architecture", "llama");
            w.putUInt32("general.alignment", 64);
            w.putUInt8("u8", 200).putInt8("i8", -100).putUInt16("u16", 60000).putInt16("i16", -30000);
            w.putUInt32("u32", 4_000_000_000L).putInt32("i32", -7).putUInt64("u64", 1L << 62);
            w.putInt64("i64", -(1L << 50)).putFloat32("f32", 0.1f).putFloat64("f64", Math.PI).putBool("b", true);
            w.putStringArray("strs", List.of("a", "", "▁x"));
            w.putArray("f32s", GgufType.FLOAT32, new float[] {1.5f, -0.25f});
            w.putArray("i32s", GgufType.INT32, new int[] {3, -1});
            w.putArray("u16s", GgufType.UINT16, new short[] {1, (short) 65535});
            w.addTensor("a", GgmlType.F32, new long[] {3}, TensorSource.of(floats(1, 2, 3)));
            w.addTensor("blk.0.attn_q.weight", GgmlType.Q8_0, new long[] {32, 2, 1}, TensorSource.of(q8));
            w.commit();
        }
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(3, f.version());
            assertEquals(64, f.alignment());
            assertEquals(List.of("general.architecture", "general.alignment", "u8", "i8", "u16", "i16", "u32", "i32",
                    "u64", "i64", "f32", "f64", "b", "strs", "f32s", "i32s", "u16s"), f.keys());
            assertEquals("llama", f.getString("general.architecture").orElseThrow());
            assertEquals(GgufType.UINT8, f.type("u8").orElseThrow());
            assertEquals(200, f.getLong("u8").getAsLong());
            assertEquals(-100, f.getLong("i8").getAsLong());
            assertEquals(60000, f.getLong("u16").getAsLong());
            assertEquals(-30000, f.getLong("i16").getAsLong());
            assertEquals(4_000_000_000L, f.getLong("u32").getAsLong());
            assertEquals(GgufType.UINT32, f.type("u32").orElseThrow());
            assertEquals(-7, f.getLong("i32").getAsLong());
            assertEquals(1L << 62, f.getLong("u64").getAsLong());
            assertEquals(-(1L << 50), f.getLong("i64").getAsLong());
            assertEquals(0.1f, f.getDouble("f32").orElseThrow().floatValue());
            assertEquals(GgufType.FLOAT32, f.type("f32").orElseThrow());
            assertEquals(Math.PI, f.getDouble("f64").orElseThrow());
            assertEquals(true, f.getBoolean("b").orElseThrow());
            assertEquals(List.of("a", "", "▁x"), f.getStringArray("strs").orElseThrow());
            assertArrayEquals(new float[] {1.5f, -0.25f}, f.getFloatArray("f32s").orElseThrow());
            assertArrayEquals(new int[] {3, -1}, f.getIntArray("i32s").orElseThrow());
            assertArrayEquals(new byte[] {1, 0, (byte) 0xff, (byte) 0xff}, f.getArrayBytes("u16s").orElseThrow());

            List<GgufTensorInfo> t = f.tensors();
            assertEquals(2, t.size());
            assertEquals("a", t.get(0).name());
            assertEquals(0, t.get(0).offset());
            assertEquals(12, t.get(0).byteSize());
            assertEquals("blk.0.attn_q.weight", t.get(1).name());
            assertEquals(GgmlType.Q8_0, t.get(1).type());
            assertEquals(64, t.get(1).offset());
            assertEquals(68, t.get(1).byteSize());
            assertEquals(0, f.dataOffset() % 64);
            assertEquals(f.dataOffset() + 64 + 128, f.fileSize());
            assertArrayEquals(new float[] {1, 2, 3},
                    f.tensorData(t.get(0)).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertArrayEquals(q8.array(), f.tensorData(t.get(1)).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    /** Re-writing a llama.cpp-written model key by key and tensor by tensor reproduces it byte for byte. */
    @Test
    void rewritingStories260KReproducesItExactly() throws IOException {
        rewriteAndCompare(fixture("models/stories260K.gguf"));
    }

    /** A vocab-only llama.cpp file: no tensors, so no padding after the last key. */
    @Test
    void rewritingAVocabOnlyFileReproducesItExactly() throws IOException {
        rewriteAndCompare(fixture("vocab/ggml-vocab-llama-spm.gguf"));
    }

    private void rewriteAndCompare(Path original) throws IOException {
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(original); GgufWriter w = GgufWriter.create(copy)) {
            for (String key : f.keys()) {
                w.copyFrom(f, key);
            }
            for (GgufTensorInfo t : f.tensors()) {
                w.addTensor(t.name(), t.type(), t.shape(), TensorSource.of(f.tensorData(t)));
            }
            w.commit();
        }
        assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(copy));
    }

    private static Path fixture(String relative) {
        String root = System.getenv("MLA4J_FIXTURES");
        assumeTrue(root != null, "MLA4J_FIXTURES is not set");
        Path p = Path.of(root, relative);
        assumeTrue(Files.exists(p), p + " is missing");
        return p;
    }

    private static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return b.flip();
    }
}
