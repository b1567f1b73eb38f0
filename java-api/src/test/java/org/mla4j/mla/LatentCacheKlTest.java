package org.mla4j.mla;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.Simd;
import org.mla4j.eval.ReferenceMetrics;
import org.mla4j.gguf.GgmlType;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;

/** The accuracy cost of quantizing the latent cache: mean KL(f32 cache || quantized cache) over 512 tokens. */
class LatentCacheKlTest {

    @TempDir
    Path tmp;

    static final int TOKENS = 512;

    /** batch 512: the MHA form of the prefill (float); batch 16: the absorbed form (int8 scores, bf16 sums). */
    static float[][] logits(Model m, GgmlType cache, int[] tokens, int batch) {
        try (Session s = m.newSession(new Session.Options(TOKENS, 2, batch, cache, Simd.AUTO))) {
            return s.evalAllLogits(tokens);
        }
    }

    @Test
    void q8_0LatentCacheCostsLessThan1e3MeanKl() throws Exception {
        Path file = tmp.resolve("deepseek2-small.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-small"), GgmlType.F32, 11, file, ProgressListener.NONE);
        int[] tokens = new int[TOKENS];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
        for (int t = 0; t < TOKENS; t++) tokens[t] = t == 0 ? 1 : rng.nextInt(4096);
        try (Model m = Model.load(file)) {
            assertEquals(160 * 2 * 4, m.kvBytesPerToken(GgmlType.F16)); // 4 layers x (128 latent + 32 rope) x 2 bytes
            assertEquals(4 * 5 * 34, m.kvBytesPerToken(GgmlType.Q8_0)); // 160 values = 5 blocks of 32
            assertEquals(4 * 5 * 18, m.kvBytesPerToken(GgmlType.Q4_0));
            float[][] ref = logits(m, GgmlType.F32, tokens, 512);
            GgmlType[] types = {GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0};
            for (int batch : new int[] {512, 16}) {
                double[] mean = new double[3];
                for (int k = 0; k < types.length; k++) {
                    float[][] got = logits(m, types[k], tokens, batch);
                    for (int t = 0; t < TOKENS; t++) mean[k] += ReferenceMetrics.kl(ref[t], got[t]) / TOKENS;
                }
                // Recorded in docs/BENCHMARKS.md ("Latent cache types").
                System.out.printf(Locale.ROOT, "latent cache mean KL vs F32 over %d tokens, %s form (batch %d): F16 %.3e, "
                        + "Q8_0 %.3e, Q4_0 %.3e%n", TOKENS, batch == 512 ? "MHA" : "absorbed", batch, mean[0], mean[1], mean[2]);
                assertTrue(mean[0] < mean[1] && mean[1] < mean[2], "more bits, less divergence");
                assertTrue(mean[1] < 1e-3, "Q8_0 mean KL " + mean[1] + " (batch " + batch + ")");
            }
        }
    }

    @Test
    void quantizedCachesNeedRowsOf32AndMlaModels() throws Exception {
        Path mla = tmp.resolve("mha2mla-tiny.gguf");
        Synth.write(MlaSynthSpec.preset("mha2mla-tiny"), GgmlType.F32, 1, mla, ProgressListener.NONE); // 16 + 2 x 4
        try (Model m = Model.load(mla)) {
            Mla4jException e = assertThrows(Mla4jException.class,
                    () -> m.newSession(Session.Options.defaults().withKvType(GgmlType.Q8_0)).close());
            assertTrue(e.getMessage().contains("need a multiple of 32"), e.getMessage());
        }
    }
}
