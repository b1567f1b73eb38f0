package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.TextSequences;

/**
 * Fidelity at a realistic head dimension (issue 14): the trained kjv-gqa-4l fixture (d_h 64, RoPE over the range of
 * frequencies real models have) converted at a quarter of its KV cache (64 of 256 values), default against the papers'
 * baselines, mean KL(original || converted) on held-out text of this project's own in the same King James style
 * (src/test/resources/fidelity/kjv-style-heldout.txt), which neither the calibration (text the model samples itself)
 * nor the search (sampled with another seed) sees. The shapes are given (rope dims, rope dim) so that the search only
 * measures FreqFold and the key/value balance, and the attention fit runs 3 s per layer instead of the default 25:
 * the full defaults do better (docs/BENCHMARKS.md, "Issue 14"); this guards the gain in about two minutes.
 */
class KjvFidelityTest {
    @TempDir
    static Path dir;
    private static Path model;
    private static List<int[]> text;

    @BeforeAll
    static void load() throws Exception {
        model = Fixtures.require("models/kjv-gqa-4l.gguf");
        Path file = Path.of(KjvFidelityTest.class.getResource("/fidelity/kjv-style-heldout.txt").toURI());
        try (Model m = Model.load(model)) {
            text = TextSequences.fromFile(m, file, 256);
        }
    }

    private static double kl(ConvertOptions o, Search.Mode search) throws Exception {
        Path out = dir.resolve("c-" + System.nanoTime() + ".gguf");
        Converter.convert(model, out, o.withThreads(2), search, Converter.Progress.NONE);
        try (Model ref = Model.load(model); Model conv = Model.load(out)) {
            return Evaluator.evaluate(ref, conv, text, Evaluator.Options.defaults().withThreads(2), null).klMean();
        }
    }

    @Test
    void transmlaAtAQuarterBeatsThePaperBaseline() throws Exception {
        double base = kl(ConvertOptions.paperBaseline(Method.TRANSMLA).withCacheValues(64), Search.Mode.OFF);
        double def = kl(ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(64).withRopeDim(32).withFitSeconds(3),
                Search.Mode.AUTO);
        System.err.printf("kjv transmla cache 64: baseline %.4f, default %.4f (%.1f%% lower)%n", base, def, 100 * (1 - def / base));
        // Measured 1.14 -> 0.37 with the full defaults (-68%); the target is -30%.
        assertTrue(def < 0.6 * base, "transmla 64: default " + def + " vs baseline " + base);
    }

    @Test
    void mha2mlaAtAQuarterBeatsThePaperBaseline() throws Exception {
        double base = kl(ConvertOptions.paperBaseline(Method.MHA2MLA).withCacheValues(64), Search.Mode.OFF);
        double def = kl(ConvertOptions.defaults(Method.MHA2MLA).withCacheValues(64).withRopeDims(16).withFitSeconds(3),
                Search.Mode.AUTO);
        System.err.printf("kjv mha2mla cache 64: baseline %.4f, default %.4f (%.1f%% lower)%n", base, def, 100 * (1 - def / base));
        // Measured 0.60 -> 0.027 with the full defaults (-95%); the target is -30%.
        assertTrue(def < 0.3 * base, "mha2mla 64: default " + def + " vs baseline " + base);
    }
}
