package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.SampledText;
import org.mla4j.gguf.GgmlType;

/**
 * Regression guard of the fidelity figures in docs/BENCHMARKS.md (issue 4, acceptance 3): mean KL on 2048 tokens
 * stories260K samples with eval's seed (not the calibration or search text), default against the paper-faithful
 * baseline at the same cache size, for mha2mla at half and a quarter of the GQA cache and transmla at a quarter
 * (transmla at half, -34%, has the smallest margin and is only reported).
 */
class FidelityTest {
    @TempDir
    Path dir;

    private double kl(Path stories, ConvertOptions o, Search.Mode search, List<int[]> text) throws Exception {
        Path out = dir.resolve("c-" + System.nanoTime() + ".gguf");
        // All 300 steps of the attention fit whatever the machine's load (its default time budget, 25 s per layer,
        // cut it to a few steps under load 15 and the quarter case then missed its target: 2.84 against 2.18).
        Converter.convert(stories, out, o.withThreads(2).withFitSeconds(3600), search, Converter.Progress.NONE);
        try (Model ref = Model.load(stories); Model conv = Model.load(out)) {
            return Evaluator.evaluate(ref, conv, text, Evaluator.Options.defaults().withThreads(2), null).klMean();
        }
    }

    @Test
    void defaultsBeatThePaperBaselines() throws Exception {
        Path stories = Fixtures.require("models/stories260K.gguf");
        List<int[]> text;
        try (Model m = Model.load(stories)) {
            text = SampledText.generate(m, 2048, SampledText.EVALUATION_SEED, 2, null);
        }
        // mha2mla at half the GQA cache (32 of 64 values): the paper's r = d_h/8 rounded up to 2, d_kv 6.
        double base = kl(stories, ConvertOptions.paperBaseline(Method.MHA2MLA).withCacheValues(32).withRopeDims(2),
                Search.Mode.OFF, text);
        double def = kl(stories, ConvertOptions.defaults(Method.MHA2MLA).withCacheValues(32), Search.Mode.AUTO, text);
        System.err.printf("mha2mla cache 32: baseline %.4f, default %.4f (%.1f%% lower)%n", base, def, 100 * (1 - def / base));
        assertTrue(def < 0.7 * base, "mha2mla 32: default " + def + " vs baseline " + base);
        // mha2mla at a quarter (16 values): r = 2, d_kv 2; the case that needs the attention fit (2.18 vs 3.39).
        base = kl(stories, ConvertOptions.paperBaseline(Method.MHA2MLA).withCacheValues(16).withRopeDims(2),
                Search.Mode.OFF, text);
        def = kl(stories, ConvertOptions.defaults(Method.MHA2MLA).withCacheValues(16), Search.Mode.AUTO, text);
        System.err.printf("mha2mla cache 16: baseline %.4f, default %.4f (%.1f%% lower)%n", base, def, 100 * (1 - def / base));
        assertTrue(def < 0.7 * base, "mha2mla 16: default " + def + " vs baseline " + base);
        // transmla at a quarter (16 values): m = 8, F = 1, weight-only PCA.
        base = kl(stories, ConvertOptions.paperBaseline(Method.TRANSMLA).withCacheValues(16).withRopeDim(8).withFreqFold(1),
                Search.Mode.OFF, text);
        def = kl(stories, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(16), Search.Mode.AUTO, text);
        System.err.printf("transmla cache 16: baseline %.4f, default %.4f (%.1f%% lower)%n", base, def, 100 * (1 - def / base));
        assertTrue(def < 0.7 * base, "transmla 16: default " + def + " vs baseline " + base);
    }
}
