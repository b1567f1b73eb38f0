package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.convert.ConvertOptions;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.convert.Converter;
import org.mla4j.convert.Logits;
import org.mla4j.convert.Search;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * `--method transmla --lossless` of a model with one KV head (MQA) is a stock deepseek2 (its key is the one shared
 * rope key, its values the full-rank latent), so it exports to Hugging Face: the converted GGUF and the float64
 * DeepSeek-V3 reference reading of its export (both eps semantics) give the source model's logits.
 */
class LosslessMqaExportTest {
    @TempDir
    Path dir;

    @Test
    void mqaLosslessTransmlaIsAnExactDeepseekV3() throws Exception {
        Path src = dir.resolve("mqa.gguf");
        // the tiny llama preset's shape with one KV head: head dim 16, rms eps 1e-5
        Synth.write(new SynthSpec("llama", "synth-mqa", 64, 2, 4, 1, 128, 512, 512, 10000f, 1e-5f), GgmlType.F32, 5, src,
                ProgressListener.NONE);
        Path out = dir.resolve("mqa-mla.gguf");
        Converter.convert(src, out, ConvertOptions.defaults(Method.TRANSMLA).withLossless(true)
                .withCalibration(null, 256, 128, 42).withThreads(2), Search.Mode.AUTO, Converter.Progress.NONE);
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals("deepseek2", g.getString("general.architecture").orElseThrow());
            assertEquals(16, g.getLong("deepseek2.attention.kv_lora_rank").orElseThrow());
            assertEquals(16, g.getLong("deepseek2.rope.dimension_count").orElseThrow());
        }
        Path hf = dir.resolve("mqa-mla-hf");
        try (GgufFile g = GgufFile.open(out)) {
            GgufToHf.write(g, hf, GgmlType.F32, ProgressListener.NONE);
        }
        int[] tokens = new int[48];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i == 0 ? 1 : 3 + (i * 197) % 509;
        float[][] source = Logits.of(src, tokens, GgmlType.F32);
        double converted = Logits.maxAbsDiff(Logits.of(out, tokens, GgmlType.F32), source);
        System.err.printf("MQA lossless transmla: GGUF vs source max |logit diff| %.3g%n", converted);
        assertTrue(converted < 1e-4, "converted GGUF vs source: " + converted);
        for (DeepseekV3Reference.Semantics s : DeepseekV3Reference.Semantics.values()) {
            double d = Logits.maxAbsDiff(DeepseekV3Reference.logits(hf, tokens, s), source);
            System.err.printf("MQA lossless transmla: HF export (%s) vs source max |logit diff| %.3g%n", s, d);
            assertTrue(d < 1e-4, s + ": " + d);
        }
    }



}
