package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.hf.GgufToHf;
import org.mla4j.synth.ProgressListener;

/**
 * `--format hf`: a TransMLA conversion exported as a DeepSeek-V3 Hugging Face directory carries the config keys
 * standard tools need, and mla4j reads the directory back to the same logits as the GGUF.
 */
class HfExportTest {
    @TempDir
    Path dir;

    @Test
    void transmlaOutputRoundTripsThroughAHuggingFaceDirectory() throws Exception {
        Path stories = Fixtures.require("models/stories260K.gguf");
        Path out = dir.resolve("stories-mla.gguf");
        Converter.convert(stories, out, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(32)
                .withCalibration(null, 256, 128, 42).withThreads(2), Search.Mode.OFF, Converter.Progress.NONE);
        Path hf = dir.resolve("stories-mla-hf");
        try (GgufFile g = GgufFile.open(out)) {
            GgufToHf.write(g, hf, null, ProgressListener.NONE);
        }
        JsonNode config = new ObjectMapper().readTree(Files.readString(hf.resolve("config.json")));
        assertEquals("deepseek_v3", config.path("model_type").asText());
        assertTrue(config.path("q_lora_rank").isNull(), config.toString());
        assertTrue(config.path("n_routed_experts").isNull(), config.toString());
        assertEquals(24, config.path("kv_lora_rank").asInt());
        assertEquals(8, config.path("qk_rope_head_dim").asInt());
        assertEquals(8, config.path("qk_nope_head_dim").asInt());
        assertEquals(8, config.path("v_head_dim").asInt());
        assertEquals(config.path("num_hidden_layers").asInt(), config.path("first_k_dense_replace").asInt());
        int[] tokens = Logits.tokens(64, 512);
        double diff = Logits.maxAbsDiff(Logits.of(out, tokens, GgmlType.F32), Logits.of(hf, tokens, GgmlType.F32));
        System.err.printf("TransMLA GGUF vs its HF export read back: max |logit diff| %.3g%n", diff);
        assertTrue(diff < 1e-4, "max |logit diff| " + diff);
    }
}
