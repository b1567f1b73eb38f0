package org.mla4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.GgufQuantizer;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/** The evaluator on the real stories260K model: against itself, its Q8_0 quantization, and figures by hand. */
class EvaluatorTest {

    static final String STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in "
            + "the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.";
    static final Evaluator.Options ONE_THREAD = Evaluator.Options.defaults().withThreads(1);

    @TempDir
    static Path tmp;
    static Path stories;
    static Path q8;

    @BeforeAll
    static void quantize() throws Exception {
        stories = Fixtures.require("models/stories260K.gguf");
        q8 = tmp.resolve("stories260K-q8_0.gguf");
        GgufQuantizer.quantize(stories, q8, GgmlType.Q8_0, null);
    }

    @Test
    void aModelAgainstItselfIsExact() {
        try (Model a = Model.load(stories); Model b = Model.load(stories)) {
            List<int[]> seqs = SampledText.generate(a, 300, SampledText.EVALUATION_SEED, 100, 1, null);
            EvalResult r = Evaluator.evaluate(a, b, seqs, ONE_THREAD, null);
            assertEquals(300 - seqs.size(), r.tokens());
            assertEquals(0.0, r.klMean());
            assertEquals(0.0, r.klMax());
            assertEquals(1.0, r.top1Agreement());
            assertEquals(0.0, r.maxAbsLogitDiff());
            assertEquals(r.pplReference(), r.pplConverted());
            // The model's own samples: perplexity = exp(entropy rate), far below the 512-token vocabulary.
            assertTrue(r.pplReference() > 1.5 && r.pplReference() < 10, "ppl " + r.pplReference());
        }
    }

    @Test
    void perplexityIsTheExpOfTheMeanNextTokenNllComputedByHand() {
        try (Model m = Model.load(stories)) {
            List<int[]> seqs = TextSequences.fromText(m, STORY, 16, Long.MAX_VALUE);
            assertTrue(seqs.size() >= 3, "several sequences: " + seqs.size());
            double nll = 0;
            double nllDecode = 0;
            int positions = 0;
            for (int[] seq : seqs) {
                // The same batched call the evaluator makes, and independently one token at a time.
                float[][] logits;
                try (Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
                    // The evaluator never evaluates the last token (it is only a target): the same batch, so the
                    // same kernels (batches of 16+ tokens take the blocked attention, smaller ones the plain loop).
                    logits = s.evalAllLogits(java.util.Arrays.copyOf(seq, seq.length - 1));
                    s.reset();
                    for (int t = 0; t + 1 < seq.length; t++) {
                        nllDecode += ReferenceMetrics.nll(s.eval(seq[t]), seq[t + 1]);
                    }
                }
                for (int t = 0; t + 1 < seq.length; t++) nll += ReferenceMetrics.nll(logits[t], seq[t + 1]);
                positions += seq.length - 1;
            }
            EvalResult r = Evaluator.evaluate(m, m, seqs, ONE_THREAD, null);
            assertEquals(positions, r.tokens());
            assertEquals(Math.exp(nll / positions), r.pplReference(), 1e-12 * r.pplReference());
            assertEquals(Math.exp(nllDecode / positions), r.pplReference(), 1e-4 * r.pplReference());
            // A known text is far less likely than the model's own samples, but far more than uniform (512).
            assertTrue(r.pplReference() > 2 && r.pplReference() < 100, "ppl " + r.pplReference());
        }
    }

    @Test
    void singlePredictionsGiveTheNllOfThatToken() {
        try (Model m = Model.load(stories); Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
            int bos = m.tokenizer().bos();
            float[] afterBos = s.eval(bos);
            for (int token : new int[] {m.tokenizer().encode("Once", false, false)[0], 100, 511}) {
                EvalResult r = Evaluator.evaluate(m, m, List.of(new int[] {bos, token}), ONE_THREAD, null);
                assertEquals(1, r.tokens());
                assertEquals(ReferenceMetrics.nll(afterBos, token), Math.log(r.pplReference()), 1e-9);
            }
        }
    }

    @Test
    void q8_0QuantizationDivergesSlightlyAndEveryFigureMatchesAHandComputation() {
        try (Model ref = Model.load(stories); Model conv = Model.load(q8)) {
            List<int[]> seqs = SampledText.generate(ref, 512, SampledText.EVALUATION_SEED, 128, 1, null);
            EvalResult r = Evaluator.evaluate(ref, conv, seqs, ONE_THREAD, null);
            assertEquals(512 - seqs.size(), r.tokens());
            // Measured: KL mean 7e-4, max 8e-3, top-1 98%, ppl +0.2%, max logit difference 0.5 (8-bit weights).
            assertTrue(r.klMean() > 1e-5 && r.klMean() < 1e-2, "kl mean " + r.klMean());
            assertTrue(r.klMax() > r.klMean() && r.klMax() < 0.1, "kl max " + r.klMax());
            assertTrue(r.top1Agreement() > 0.95 && r.top1Agreement() < 1, "top-1 " + r.top1Agreement());
            assertEquals(1, r.pplConverted() / r.pplReference(), 0.01);
            assertTrue(r.maxAbsLogitDiff() > 0.01 && r.maxAbsLogitDiff() < 2, "max diff " + r.maxAbsLogitDiff());

            // Every figure again from the two models' logits with the textbook formulas.
            double nllRef = 0, nllConv = 0, klSum = 0, klMax = 0, maxDiff = 0;
            long agree = 0, n = 0;
            for (int[] seq : seqs) {
                float[][] a, b;
                try (Session s = ref.newSession(Session.Options.defaults().withThreads(1))) {
                    a = s.evalAllLogits(seq);
                }
                try (Session s = conv.newSession(Session.Options.defaults().withThreads(1))) {
                    b = s.evalAllLogits(seq);
                }
                for (int t = 0; t + 1 < seq.length; t++) {
                    nllRef += ReferenceMetrics.nll(a[t], seq[t + 1]);
                    nllConv += ReferenceMetrics.nll(b[t], seq[t + 1]);
                    double kl = ReferenceMetrics.kl(a[t], b[t]);
                    klSum += kl;
                    klMax = Math.max(klMax, kl);
                    if (ReferenceMetrics.argmax(a[t]) == ReferenceMetrics.argmax(b[t])) agree++;
                    for (int i = 0; i < a[t].length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[t][i] - b[t][i]));
                    n++;
                }
            }
            assertEquals(n, r.tokens());
            assertEquals(Math.exp(nllRef / n), r.pplReference(), 1e-9 * r.pplReference());
            assertEquals(Math.exp(nllConv / n), r.pplConverted(), 1e-9 * r.pplConverted());
            assertEquals(klSum / n, r.klMean(), 1e-9 * r.klMean());
            assertEquals(klMax, r.klMax(), 1e-9 * r.klMax());
            assertEquals((double) agree / n, r.top1Agreement());
            assertEquals(maxDiff, r.maxAbsLogitDiff(), 1e-6);
        }
    }

    @Test
    void theConvertedModelsCacheTypeIsUsed() {
        try (Model m = Model.load(stories)) {
            List<int[]> seqs = SampledText.generate(m, 256, SampledText.EVALUATION_SEED, 256, 1, null);
            EvalResult same = Evaluator.evaluate(m, m, seqs, ONE_THREAD.withConvertedKvType(GgmlType.F16), null);
            EvalResult f32 = Evaluator.evaluate(m, m, seqs, ONE_THREAD.withConvertedKvType(GgmlType.F32), null);
            assertEquals(0.0, same.klMean());
            // An F32 cache against the reference's F16 one: measured KL 2e-6, a few ulps of logit difference.
            assertTrue(f32.klMean() > 0 && f32.klMean() < 1e-4, "kl " + f32.klMean());
        }
    }

    @Test
    void modelsWithDifferentVocabulariesAreRefusedNamingBothFiles() throws Exception {
        Path bigger = tmp.resolve("synth-600.gguf");
        Path other = tmp.resolve("synth-512.gguf");
        Synth.write(new SynthSpec("llama", "v600", 64, 1, 4, 2, 128, 600, 256, 10000f, 1e-5f), GgmlType.F32, 1, bigger,
                ProgressListener.NONE);
        Synth.write(new SynthSpec("llama", "v512", 64, 1, 4, 2, 128, 512, 256, 10000f, 1e-5f), GgmlType.F32, 1, other,
                ProgressListener.NONE);
        try (Model ref = Model.load(stories); Model a = Model.load(bigger); Model b = Model.load(other)) {
            List<int[]> seqs = List.<int[]>of(new int[] {1, 2, 3});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Evaluator.evaluate(ref, a, seqs, ONE_THREAD, null));
            assertEquals("cannot compare " + bigger + " with " + stories
                    + ": n_vocab is 600 in the converted model and 512 in the reference", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Evaluator.evaluate(ref, b, seqs, ONE_THREAD, null));
            assertTrue(e.getMessage().startsWith("cannot compare " + other + " with " + stories
                    + ": their tokenizers differ at token "), e.getMessage());
        }
    }

    @Test
    void badSequencesAreRefused() {
        try (Model m = Model.load(stories)) {
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> Evaluator.evaluate(m, m, List.<int[]>of(new int[] {1, 512}), ONE_THREAD, null))
                    .getMessage().contains("sequence 0 position 1: token id 512 is outside the vocabulary [0, 512)"));
            assertTrue(assertThrows(IllegalArgumentException.class,
                    () -> Evaluator.evaluate(m, m, List.<int[]>of(new int[] {1}), ONE_THREAD, null))
                    .getMessage().startsWith("no position to evaluate"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> Evaluator.evaluate(m, m,
                    List.<int[]>of(new int[] {1, 2, 3}), ONE_THREAD.withContextSize(2), null))
                    .getMessage().contains("more than the context size 2"));
        }
    }

    @Test
    void progressCountsPositionsAndLoneBosSequencesCountNone() {
        try (Model m = Model.load(stories)) {
            List<int[]> seqs = new ArrayList<>(List.of(new int[] {1, 5, 6, 7}, new int[] {1}, new int[] {1, 9}));
            List<Long> seen = new ArrayList<>();
            EvalResult r = Evaluator.evaluate(m, m, seqs, ONE_THREAD, seen::add);
            assertEquals(4, r.tokens());
            assertEquals(List.of(3L, 4L), seen);
        }
    }
}
