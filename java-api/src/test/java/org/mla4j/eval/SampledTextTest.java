package org.mla4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Session;
import org.mla4j.Model;
import org.mla4j.tokenizer.Tokenizer;

class SampledTextTest {

    static Path stories;

    @BeforeAll
    static void fixture() {
        stories = Fixtures.require("models/stories260K.gguf");
    }

    static void assertSameSequences(List<int[]> a, List<int[]> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "sequence " + i);
    }

    @Test
    void exactTokenCountsAndWellFormedSequences() {
        try (Model m = Model.load(stories)) {
            Tokenizer tok = m.tokenizer();
            for (int n : new int[] {1, 2, 63, 64, 65, 300}) {
                List<Long> progress = new ArrayList<>();
                List<int[]> seqs = SampledText.generate(m, n, 7, 64, 1, progress::add);
                assertEquals(n, TextSequences.totalTokens(seqs), "n = " + n);
                assertEquals(n, progress.getLast());
                assertEquals(n, progress.size()); // once per token, BOS included
                for (int i = 0; i < seqs.size(); i++) {
                    int[] s = seqs.get(i);
                    assertEquals(tok.bos(), s[0]);
                    assertTrue(s.length >= 1 && s.length <= 64);
                    for (int t = 1; t < s.length - 1; t++) assertFalse(tok.isEndOfGeneration(s[t]), "EOS ends a sequence");
                    boolean last = i == seqs.size() - 1;
                    if (!last && s.length < 64) assertTrue(tok.isEndOfGeneration(s[s.length - 1]), "short only at EOS");
                }
            }
        }
    }

    @Test
    void parallelSequencesAreEachTheTextOneSequenceAloneGives() {
        // Batched decoding (several sequences per forward pass) must write the same text as decoding each sequence
        // alone with its sampler: sequence i of a wave is generate()'s first sequence with seed + i.
        try (Model m = Model.load(stories)) {
            Tokenizer tok = m.tokenizer();
            for (int n : new int[] {1, 63, 64, 65, 300, 600}) {
                List<Long> progress = new ArrayList<>();
                List<int[]> seqs = SampledText.generateParallel(m, n, 7, 64, 2, progress::add);
                assertEquals(n, TextSequences.totalTokens(seqs), "n = " + n);
                assertEquals(n, progress.getLast());
                for (int[] s : seqs) {
                    assertEquals(tok.bos(), s[0]);
                    assertTrue(s.length >= 1 && s.length <= 64);
                    for (int t = 1; t < s.length - 1; t++) assertFalse(tok.isEndOfGeneration(s[t]), "EOS ends a sequence");
                }
                int wave = (int) Math.min(SampledText.PARALLEL_SEQUENCES, (n + 63) / 64);
                for (int i = 0; i < wave; i++) {
                    int planned = Math.min(64, n - i * 64);
                    int[] alone = SampledText.generate(m, planned, 7 + i, 64, 1, null).getFirst();
                    assertArrayEquals(alone, seqs.get(i), "n = " + n + ", sequence " + i);
                }
            }
        }
    }

    @Test
    void aSeedGivesTheSameSequencesAnotherSeedOthers() {
        try (Model m = Model.load(stories)) {
            List<int[]> a = SampledText.generate(m, 200, SampledText.CALIBRATION_SEED, 1, null);
            List<int[]> b = SampledText.generate(m, 200, SampledText.CALIBRATION_SEED, 2, null); // threads do not matter
            assertSameSequences(a, b);
            List<int[]> c = SampledText.generate(m, 200, SampledText.EVALUATION_SEED, 1, null);
            assertFalse(java.util.Arrays.equals(a.getFirst(), c.getFirst()), "calibration and evaluation text differ");
            assertEquals(512, SampledText.defaultMaxLength(m)); // min(512, n_ctx_train 2048)
            assertEquals(1, a.size());
        }
    }

    @Test
    void tokensAreDrawnFromTheFullDistribution() {
        // Calibration: for each sampled token, its probability of falling outside the k most likely tokens is the
        // tail mass at that position, so the count of such tokens has that sum as its mean. Top-k, top-p or min-p
        // truncation would leave (almost) no tokens in the tail; a temperature below 1 would leave too few.
        int[] ks = {1, 5, 20};
        double[] expected = new double[ks.length], variance = new double[ks.length];
        long[] observed = new long[ks.length];
        try (Model m = Model.load(stories); Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
            for (int[] seq : SampledText.generate(m, 2000, 5, 500, 1, null)) {
                s.reset();
                float[][] logits = s.evalAllLogits(java.util.Arrays.copyOf(seq, seq.length - 1));
                for (int t = 0; t + 1 < seq.length; t++) {
                    double[] p = ReferenceMetrics.softmax(logits[t]);
                    double[] sorted = p.clone();
                    java.util.Arrays.sort(sorted);
                    for (int j = 0; j < ks.length; j++) {
                        double cut = sorted[sorted.length - ks[j]];
                        double tail = 0;
                        for (double q : p) if (q < cut) tail += q;
                        expected[j] += tail;
                        variance[j] += tail * (1 - tail);
                        if (p[seq[t + 1]] < cut) observed[j]++;
                    }
                }
            }
        }
        for (int j = 0; j < ks.length; j++) {
            // Measured (seed 5): 644 / 676 expected outside the top 1, 259 / 251 outside the top 5.
            System.out.printf(java.util.Locale.ROOT, "outside the top %d: %d sampled, %.1f expected%n", ks[j],
                    observed[j], expected[j]);
            assertTrue(expected[j] > 10, "a tail worth testing: " + expected[j]);
            assertEquals(expected[j], observed[j], 5 * Math.sqrt(variance[j]), "tokens outside the top " + ks[j]);
        }
    }
}
