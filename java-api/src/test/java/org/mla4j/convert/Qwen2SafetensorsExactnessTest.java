package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.hf.GgufToHf;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * Acceptance 1, second model: a qwen2-shaped model with q/k/v biases, read from a safetensors directory that the test
 * writes; the exact forms reproduce its logits within 1e-4 (max abs, F32).
 */
class Qwen2SafetensorsExactnessTest {
    @TempDir
    Path dir;

    @Test
    void exactFormsReproduceQwen2WithBiasesFromSafetensors() throws Exception {
        Path gguf = dir.resolve("qwen2.gguf");
        Synth.write(SynthSpec.preset("qwen2-tiny"), GgmlType.F32, 11, gguf, ProgressListener.NONE);
        Path hf = dir.resolve("qwen2-hf");
        try (GgufFile g = GgufFile.open(gguf)) {
            GgufToHf.write(g, hf, GgmlType.F32, ProgressListener.NONE);
        }
        assertTrue(Files.isRegularFile(hf.resolve("model.safetensors")));
        assertTrue(Files.readString(hf.resolve("config.json")).contains("Qwen2ForCausalLM"));
        try (GgufFile g = GgufFile.open(gguf)) {
            assertTrue(g.tensor("blk.0.attn_k.bias").isPresent(), "the model has biases");
        }
        int[] tokens = Logits.tokens(80, 512);
        float[][] ref = Logits.of(gguf, tokens, GgmlType.F32);
        ConvertOptions[] forms = {
            ConvertOptions.defaults(Method.TRANSMLA).withLossless(true),
            ConvertOptions.defaults(Method.MHA2MLA).withLossless(true),
            ConvertOptions.defaults(Method.MHA2MLA).withRopeDims(16).withKvRank(16), // full RoPE, full-rank SVD
        };
        for (ConvertOptions o : forms) {
            Path out = dir.resolve("out-" + System.nanoTime() + ".gguf");
            Converter.Result r = Converter.convert(hf, out, o.withCalibration(null, 256, 128, 42).withThreads(2),
                    Converter.Progress.NONE);
            assertEquals("mha2mla", r.plan().arch());
            double diff = Logits.maxAbsDiff(ref, Logits.of(out, tokens, GgmlType.F32));
            System.err.printf("qwen2 (biases, safetensors) %s lossless=%s r=%d: max |logit diff| %.3g%n", o.method(),
                    o.lossless(), r.plan().ropeDims(), diff);
            assertTrue(diff < 1e-4, o + ": " + diff);
        }
    }
}
