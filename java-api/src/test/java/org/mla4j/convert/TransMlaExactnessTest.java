package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.gguf.GgmlType;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * TransMLA's exactness property (mla-conversion.md, "Exactness properties"): with one KV head, m = d_h, F = 1 (RoPE
 * stays on the only head) and the full kv_lora_rank 2 n_kv d_h - m, the deepseek2 output equals the original, through
 * RoRoPE, BKV-PCA, the pre-scaled query and the exact latent RMSNorm. Fewer latent dims must cost accuracy.
 */
class TransMlaExactnessTest {
    @TempDir
    Path dir;

    @Test
    void mqaAtFullRankIsExact() throws Exception {
        Path src = dir.resolve("mqa.gguf");
        Synth.write(new SynthSpec("llama", "mqa-test", 64, 2, 4, 1, 128, 320, 256, 10000f, 1e-5f), GgmlType.F32, 7, src,
                ProgressListener.NONE);
        int[] tokens = Logits.tokens(64, 320);
        float[][] ref = Logits.of(src, tokens, GgmlType.F32);
        double[] diffs = new double[3];
        int[] ranks = {16, 12, 4};
        for (int i = 0; i < ranks.length; i++) {
            Path out = dir.resolve("mqa-" + ranks[i] + ".gguf");
            ConvertOptions o = ConvertOptions.defaults(Method.TRANSMLA).withRopeDim(16).withFreqFold(1)
                    .withKvLoraRank(ranks[i]).withCalibration(null, 256, 64, 42).withThreads(2);
            Converter.Result r = Converter.convert(src, out, o, Search.Mode.OFF, Converter.Progress.NONE);
            assertEquals("deepseek2", r.plan().arch());
            diffs[i] = Logits.maxAbsDiff(ref, Logits.of(out, tokens, GgmlType.F32));
            System.err.printf("MQA transmla m=16 F=1 C=%d: max |logit diff| %.3g%n", ranks[i], diffs[i]);
        }
        assertTrue(diffs[0] < 1e-4, "full rank: " + diffs[0]);
        // q-LoRA at full rank (Q = n_head x d_h = 64): the query compression and its exact norm change nothing either.
        Path q = dir.resolve("mqa-qlora.gguf");
        Converter.convert(src, q, ConvertOptions.defaults(Method.TRANSMLA).withRopeDim(16).withFreqFold(1).withKvLoraRank(16)
                .withQLoraRank(64).withCalibration(null, 256, 64, 42).withThreads(2), Search.Mode.OFF, Converter.Progress.NONE);
        double qDiff = Logits.maxAbsDiff(ref, Logits.of(q, tokens, GgmlType.F32));
        System.err.printf("MQA transmla q-LoRA 64: max |logit diff| %.3g%n", qDiff);
        assertTrue(qDiff < 1e-4, "q-LoRA full rank: " + qDiff);
        assertTrue(diffs[1] > 1e-3 && diffs[2] > diffs[1], "truncation must cost: " + java.util.Arrays.toString(diffs));
    }
}
