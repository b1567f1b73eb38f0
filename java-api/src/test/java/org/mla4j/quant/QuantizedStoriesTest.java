package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;

/**
 * stories260K quantized to Q8_0 keeps its greedy output; tensors with 172-wide rows fall back to F32. Quantized to
 * Q4_K its 64-wide rows get llama-quantize's fallback Q5_0 and the 172-wide ones F16 (what llama-quantize --pure
 * Q4_K writes for this file).
 */
class QuantizedStoriesTest {

    @TempDir
    Path tmp;

    @Test
    void q8_0KeepsTheGreedyOutput() throws Exception {
        Path f32 = Fixtures.require("models/stories260K.gguf");
        Path q8 = tmp.resolve("stories260K-q8_0.gguf");
        List<GgufQuantizer.Decision> decisions = GgufQuantizer.quantize(f32, q8, GgmlType.Q8_0, null);

        Map<String, GgufQuantizer.Decision> byName = decisions.stream()
                .collect(Collectors.toMap(GgufQuantizer.Decision::tensor, d -> d));
        assertEquals(GgmlType.Q8_0, byName.get("blk.0.attn_q.weight").to());
        assertEquals(GgmlType.Q8_0, byName.get("blk.0.ffn_up.weight").to()); // rows of 64
        assertEquals(GgmlType.F32, byName.get("blk.0.ffn_down.weight").to()); // rows of 172: not a multiple of 32
        assertTrue(byName.get("blk.0.ffn_down.weight").fallback());
        assertEquals(GgmlType.F32, byName.get("blk.0.attn_norm.weight").to());
        assertFalse(byName.get("blk.0.attn_norm.weight").fallback());

        try (GgufFile g = GgufFile.open(q8)) {
            assertEquals(7, g.getLong("general.file_type").orElseThrow());
            long q8Count = g.tensors().stream().filter(t -> t.type() == GgmlType.Q8_0).count();
            long f32Count = g.tensors().stream().filter(t -> t.type() == GgmlType.F32).count();
            // per layer: q, k, v, o, gate, up = 6 Q8_0; norms x2 + ffn_down = 3 F32; plus token_embd, output (Q8_0)
            // and output_norm (F32)
            assertEquals(5 * 6 + 2, q8Count);
            assertEquals(5 * 3 + 1, f32Count);
            GgufTensorInfo q = g.tensor("blk.0.attn_q.weight").orElseThrow();
            assertEquals(64 / 32 * 34 * 64, q.byteSize());
        }
        assertTrue(Files.size(q8) < Files.size(f32));

        int n = org.mla4j.StoriesGreedyTestAccess.GREEDY_TOKENS;
        Session.Options opts = Session.Options.defaults().withThreads(2);
        int[][] a = new int[2][];
        int[][] b = new int[2][];
        String textF32 = org.mla4j.StoriesGreedyTestAccess.generate(f32, n, opts, a);
        String textQ8 = org.mla4j.StoriesGreedyTestAccess.generate(q8, n, opts, b);
        assertEquals(textF32, textQ8);
        assertEquals(java.util.Arrays.toString(a[1]), java.util.Arrays.toString(b[1]));
    }

    @Test
    void q4_KFallsBackAsLlamaQuantizeDoesAndRuns() throws Exception {
        Path f32 = Fixtures.require("models/stories260K.gguf");
        Path q4k = tmp.resolve("stories260K-q4_k.gguf");
        Map<String, GgufQuantizer.Decision> byName = GgufQuantizer.quantize(f32, q4k, GgmlType.Q4_K, null).stream()
                .collect(Collectors.toMap(GgufQuantizer.Decision::tensor, d -> d));
        assertEquals(GgmlType.Q5_0, byName.get("blk.0.attn_q.weight").to()); // rows of 64: Q4_K -> Q5_0
        assertTrue(byName.get("blk.0.attn_q.weight").fallback());
        assertEquals(GgmlType.F16, byName.get("blk.0.ffn_down.weight").to()); // rows of 172: F16
        assertEquals(GgmlType.F32, byName.get("blk.0.attn_norm.weight").to());
        try (GgufFile g = GgufFile.open(q4k)) {
            assertEquals(14, g.getLong("general.file_type").orElseThrow()); // LLAMA_FTYPE_MOSTLY_Q4_K_S
        }
        int[][] tokens = new int[2][];
        String text = org.mla4j.StoriesGreedyTestAccess.generate(q4k, 16, Session.Options.defaults().withThreads(2),
                tokens);
        assertFalse(text.isEmpty());
    }
}
