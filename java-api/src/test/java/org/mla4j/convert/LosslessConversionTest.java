package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.gguf.GgmlType;

/**
 * Acceptance 1 of the converter issue: the exact forms reproduce the original logits within 1e-4 (max abs, F32
 * weights and cache) on stories260K (GGUF input).
 */
class LosslessConversionTest {
    static final double TOLERANCE = 1e-4;

    @TempDir
    Path dir;

    private static ConvertOptions quick(ConvertOptions o) {
        return o.withCalibration(null, 256, 128, 42).withThreads(2);
    }

    private double convertAndCompare(Path source, ConvertOptions o, String expectArch) throws Exception {
        Path out = dir.resolve("out-" + System.nanoTime() + ".gguf");
        Converter.Result r = Converter.convert(source, out, quick(o), Converter.Progress.NONE);
        assertEquals(expectArch, r.plan().arch());
        int[] tokens = Logits.tokens(96, 512);
        return Logits.maxAbsDiff(Logits.of(source, tokens, GgmlType.F32), Logits.of(out, tokens, GgmlType.F32));
    }

    @Test
    void losslessFormsReproduceStories260K() throws Exception {
        Path stories = Fixtures.require("models/stories260K.gguf");
        for (Method m : Method.values()) {
            double diff = convertAndCompare(stories, ConvertOptions.defaults(m).withLossless(true), "mha2mla");
            System.err.printf("stories260K %s --lossless: max |logit diff| %.3g%n", m, diff);
            assertTrue(diff < TOLERANCE, m + ": max |logit diff| " + diff);
        }
    }

    @Test
    void fullRopeFullRankSvdReproducesStories260K() throws Exception {
        Path stories = Fixtures.require("models/stories260K.gguf");
        // r = d_h = 8 and d_kv = d_h: the joint SVD of W_v at full rank, not the identity form.
        for (boolean whiten : new boolean[] {false, true}) {
            double diff = convertAndCompare(stories, ConvertOptions.defaults(Method.MHA2MLA).withRopeDims(8)
                    .withKvRank(8).withWhiten(whiten), "mha2mla");
            System.err.printf("stories260K mha2mla r=8 d_kv=8 whiten=%s: max |logit diff| %.3g%n", whiten, diff);
            assertTrue(diff < TOLERANCE, "whiten " + whiten + ": max |logit diff| " + diff);
        }
    }
}
