package org.mla4j.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufType;
import org.mla4j.tokenizer.SentencePieceTokenizer;
import org.mla4j.tokenizer.Tokenizer;
import org.mla4j.tokenizer.Vocabulary;

/** Synthetic models read back through the native GGUF reader. */
class SynthTest {
    @TempDir
    Path dir;

    private Path synth(String preset, GgmlType type, long seed) throws IOException {
        Path out = dir.resolve(preset + "-" + type + "-" + seed + ".gguf");
        Synth.write(SynthSpec.preset(preset), type, seed, out, ProgressListener.NONE);
        return out;
    }

    private static Map<String, GgufTensorInfo> byName(GgufFile f) {
        return f.tensors().stream().collect(Collectors.toMap(GgufTensorInfo::name, t -> t));
    }

    private static void assertTensor(Map<String, GgufTensorInfo> t, String name, GgmlType type, long... shape) {
        GgufTensorInfo info = t.get(name);
        assertTrue(info != null, "missing tensor " + name);
        assertEquals(type, info.type(), name);
        assertArrayEquals(shape, info.shape(), name);
    }

    @Test
    void tinyLlamaHeaderHasTheKeysAndTensorsLlamaCppReads() throws IOException {
        try (GgufFile f = GgufFile.open(synth("tiny", GgmlType.Q8_0, 1))) {
            assertEquals("llama", f.getString("general.architecture").orElseThrow());
            assertEquals("synth-tiny", f.getString("general.name").orElseThrow());
            String[] u32 = {"general.file_type", "general.quantization_version", "llama.context_length",
                "llama.embedding_length", "llama.block_count", "llama.feed_forward_length",
                "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
                "llama.vocab_size", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.unknown_token_id"};
            long[] expected = {7, 2, 512, 64, 2, 128, 4, 2, 16, 512, 1, 2, 0};
            for (int i = 0; i < u32.length; i++) {
                assertEquals(GgufType.UINT32, f.type(u32[i]).orElseThrow(), u32[i]);
                assertEquals(expected[i], f.getLong(u32[i]).getAsLong(), u32[i]);
            }
            assertEquals(GgufType.FLOAT32, f.type("llama.rope.freq_base").orElseThrow());
            assertEquals(10000.0, f.getDouble("llama.rope.freq_base").orElseThrow());
            assertEquals(GgufType.FLOAT32, f.type("llama.attention.layer_norm_rms_epsilon").orElseThrow());
            assertEquals(1e-5f, f.getDouble("llama.attention.layer_norm_rms_epsilon").orElseThrow().floatValue());
            assertEquals("llama", f.getString("tokenizer.ggml.model").orElseThrow());
            assertEquals(true, f.getBoolean("tokenizer.ggml.add_bos_token").orElseThrow());
            List<String> tokens = f.getStringArray("tokenizer.ggml.tokens").orElseThrow();
            assertEquals(512, tokens.size());
            assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), tokens.subList(0, 4));
            assertEquals(GgufType.FLOAT32, f.arrayElementType("tokenizer.ggml.scores").orElseThrow());
            assertEquals(512, f.getFloatArray("tokenizer.ggml.scores").orElseThrow().length);
            assertEquals(GgufType.INT32, f.arrayElementType("tokenizer.ggml.token_type").orElseThrow());
            int[] types = f.getIntArray("tokenizer.ggml.token_type").orElseThrow();
            assertArrayEquals(new int[] {2, 3, 3, 6}, Arrays.copyOf(types, 4));

            assertEquals(1 + 2 * 9 + 2, f.tensors().size());
            Map<String, GgufTensorInfo> t = byName(f);
            assertTensor(t, "token_embd.weight", GgmlType.Q8_0, 64, 512);
            assertTensor(t, "output_norm.weight", GgmlType.F32, 64);
            assertTensor(t, "output.weight", GgmlType.Q8_0, 64, 512);
            for (int i = 0; i < 2; i++) {
                String b = "blk." + i + ".";
                assertTensor(t, b + "attn_norm.weight", GgmlType.F32, 64);
                assertTensor(t, b + "attn_q.weight", GgmlType.Q8_0, 64, 64);
                assertTensor(t, b + "attn_k.weight", GgmlType.Q8_0, 64, 32);
                assertTensor(t, b + "attn_v.weight", GgmlType.Q8_0, 64, 32);
                assertTensor(t, b + "attn_output.weight", GgmlType.Q8_0, 64, 64);
                assertTensor(t, b + "ffn_norm.weight", GgmlType.F32, 64);
                assertTensor(t, b + "ffn_gate.weight", GgmlType.Q8_0, 64, 128);
                assertTensor(t, b + "ffn_up.weight", GgmlType.Q8_0, 64, 128);
                assertTensor(t, b + "ffn_down.weight", GgmlType.Q8_0, 128, 64);
            }
            assertFalse(t.keySet().stream().anyMatch(n -> n.endsWith(".bias")));
        }
    }

    /**
     * The synthetic vocabulary tokenizes like llama.cpp: these ids are what llama.cpp (libllama from
     * node-llama-cpp 3.22.1, tokenize without BOS) gave for the tiny preset. Only 127 letter pairs fit in 512
     * tokens, so most words split into "▁x" and single letters; "ck" is one of the pairs.
     */
    @Test
    void tinyVocabularyTokenizesAsInLlamaCpp() throws IOException {
        try (GgufFile f = GgufFile.open(synth("tiny", GgmlType.Q4_0, 1))) {
            Tokenizer tok = new SentencePieceTokenizer(Vocabulary.fromMetadata(f));
            int[] ids = tok.encode("the quick brown fox", false, false);
            assertArrayEquals(new int[] {352, 267, 264, 349, 280, 268, 447, 334, 277, 274, 282, 273, 338, 274, 283},
                    ids);
            assertEquals("the quick brown fox", tok.decode(ids));
        }
    }

    @Test
    void qwen2HasQkvBiasesAndItsRopeBase() throws IOException {
        try (GgufFile f = GgufFile.open(synth("qwen2-tiny", GgmlType.F16, 1))) {
            assertEquals("qwen2", f.getString("general.architecture").orElseThrow());
            assertEquals(1, f.getLong("general.file_type").getAsLong());
            assertEquals(1e6, f.getDouble("qwen2.rope.freq_base").orElseThrow());
            assertEquals(64, f.getLong("qwen2.embedding_length").getAsLong());
            assertEquals(1 + 2 * 12 + 2, f.tensors().size());
            Map<String, GgufTensorInfo> t = byName(f);
            assertTensor(t, "blk.1.attn_q.bias", GgmlType.F32, 64);
            assertTensor(t, "blk.1.attn_k.bias", GgmlType.F32, 32);
            assertTensor(t, "blk.1.attn_v.bias", GgmlType.F32, 32);
            assertTensor(t, "blk.1.attn_q.weight", GgmlType.F16, 64, 64);
            assertFalse(t.containsKey("blk.0.attn_output.bias"));
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherWeights() throws IOException {
        byte[] a = Files.readAllBytes(synth("tiny", GgmlType.Q4_0, 42));
        byte[] b = Files.readAllBytes(synth("tiny", GgmlType.Q4_0, 42));
        byte[] c = Files.readAllBytes(synth("tiny", GgmlType.Q4_0, 43));
        assertArrayEquals(a, b);
        assertEquals(a.length, c.length);
        assertFalse(Arrays.equals(a, c));
    }

    @Test
    void f32WeightsHaveTheIntendedSpreadAndNormsAreOne() throws IOException {
        try (GgufFile f = GgufFile.open(synth("qwen2-tiny", GgmlType.F32, 3))) {
            Map<String, GgufTensorInfo> t = byName(f);
            float[] ones = new float[64];
            Arrays.fill(ones, 1f);
            assertArrayEquals(ones, f.tensorData(t.get("blk.0.ffn_norm.weight")).toArray(LE_FLOAT));
            assertArrayEquals(ones, f.tensorData(t.get("output_norm.weight")).toArray(LE_FLOAT));
            // n_embd 64, n_ff 128: embeddings 1, q/k 1.5/sqrt(64), v 1/sqrt(64), ffn_down 1/sqrt(128), biases 0.5
            assertRms(1.0, f, t.get("token_embd.weight"));
            assertRms(1.5 / 8, f, t.get("blk.1.attn_q.weight"));
            assertRms(1.5 / 8, f, t.get("blk.1.attn_k.weight"));
            assertRms(1.0 / 8, f, t.get("blk.0.attn_v.weight"));
            assertRms(1.0 / Math.sqrt(128), f, t.get("blk.0.ffn_down.weight"));
            assertRms(1.0 / 8, f, t.get("output.weight"));
            assertRms(0.5, f, t.get("blk.0.attn_q.bias"), 0.2);
        }
    }

    private static void assertRms(double expected, GgufFile f, GgufTensorInfo t) {
        assertRms(expected, f, t, 0.05);
    }

    private static void assertRms(double expected, GgufFile f, GgufTensorInfo t, double relTolerance) {
        float[] w = f.tensorData(t).toArray(LE_FLOAT);
        assertEquals(t.elementCount(), w.length);
        double sq = 0;
        for (float v : w) {
            sq += (double) v * v;
        }
        assertEquals(expected, Math.sqrt(sq / w.length), expected * relTolerance, t.name());
    }

    @Test
    void rowsThatDoNotFillBlocksFallBackToF16() throws IOException {
        // n_embd 80 is not a multiple of 32: matrices with ne[0] = 80 become F16, ffn_down (ne[0] = 128) stays Q4_0
        SynthSpec spec = new SynthSpec("llama", "odd", 80, 1, 4, 2, 128, 300, 64, 10000f, 1e-5f);
        Path out = dir.resolve("odd.gguf");
        Synth.write(spec, GgmlType.Q4_0, 1, out, ProgressListener.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            Map<String, GgufTensorInfo> t = byName(f);
            assertTensor(t, "token_embd.weight", GgmlType.F16, 80, 300);
            assertTensor(t, "blk.0.attn_k.weight", GgmlType.F16, 80, 40);
            assertTensor(t, "blk.0.ffn_down.weight", GgmlType.Q4_0, 128, 80);
            assertEquals(2, f.getLong("general.file_type").getAsLong());
        }
    }

    @Test
    void kQuantRowsThatDoNotFillSuperBlocksGetLlamaQuantizesFallback() throws IOException {
        // n_embd 256 fills Q4_K super-blocks; ffn_down's rows of 96 get Q5_0, llama-quantize's fallback for Q4_K
        // (llama-quant.cpp tensor_type_fallback)
        SynthSpec spec = new SynthSpec("llama", "k", 256, 1, 4, 2, 96, 300, 64, 10000f, 1e-5f);
        Path out = dir.resolve("k.gguf");
        Synth.write(spec, GgmlType.Q4_K, 1, out, ProgressListener.NONE);
        try (GgufFile f = GgufFile.open(out)) {
            Map<String, GgufTensorInfo> t = byName(f);
            assertTensor(t, "token_embd.weight", GgmlType.Q4_K, 256, 300);
            assertTensor(t, "blk.0.attn_k.weight", GgmlType.Q4_K, 256, 128);
            assertTensor(t, "blk.0.ffn_down.weight", GgmlType.Q5_0, 96, 256);
            assertEquals(14, f.getLong("general.file_type").getAsLong()); // LLAMA_FTYPE_MOSTLY_Q4_K_S
        }
    }

    @Test
    void progressReachesTheTotal() throws IOException {
        List<long[]> calls = new ArrayList<>();
        Synth.write(SynthSpec.preset("tiny"), GgmlType.BF16, 1, dir.resolve("p.gguf"),
                (name, done, total) -> calls.add(new long[] {done, total}));
        long[] last = calls.get(calls.size() - 1);
        assertEquals(last[1], last[0]);
        // 2-D BF16 tensors: 2*64*512 + 2*(64*64*2 + 64*32*2 + 3*64*128) elements of 2 bytes; 1-D: 5*64 floats
        long expected = 2L * (2 * 64 * 512 + 2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 128)) + 4L * 5 * 64;
        assertEquals(expected, last[1]);
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> SynthSpec.preset("huge"));
        assertThrows(IllegalArgumentException.class,
                () -> new SynthSpec("gpt2", "x", 64, 1, 4, 4, 64, 512, 64, 1e4f, 1e-5f));
        assertThrows(IllegalArgumentException.class,
                () -> new SynthSpec("llama", "x", 64, 1, 4, 3, 64, 512, 64, 1e4f, 1e-5f));
        // IQ2_XXS has no encoder (mla4j does not compute with it)
        assertThrows(IllegalArgumentException.class, () -> Synth.write(SynthSpec.preset("tiny"), GgmlType.IQ2_XXS, 1,
                dir.resolve("k.gguf"), ProgressListener.NONE));
        assertFalse(Files.exists(dir.resolve("k.gguf")));
    }

    @Test
    void presetsHaveTheAdvertisedShapes() {
        SynthSpec b = SynthSpec.preset("1b");
        assertEquals(64, b.headDim());
        assertEquals(8, b.nHeadKv());
        assertEquals(32, SynthSpec.preset("1b-mha").nHeadKv());
        // 2*2048*32000 + 2048 + 16 * (2*2048 + 2*2048^2 + 2*2048*512 + 3*2048*8192)
        assertEquals(1_104_218_112L, b.parameterCount());
        assertEquals(List.of("tiny", "small", "1b", "1b-mha", "qwen2-tiny", "qwen2-small"),
                List.copyOf(SynthSpec.presetNames()));
    }

    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
}
