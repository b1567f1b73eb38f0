package org.mla4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgmlType;
import org.mla4j.sampling.SamplerConfig;

/**
 * The real stories260K model, greedy, against the published llama2.c output quoted in the fixtures' SOURCES.md:
 * 64 positions counting BOS, i.e. 5 prompt positions and 59 generated tokens evaluated, plus a 60th token sampled
 * from the last position: 60 generated tokens in all (llama.cpp's -n 60).
 */
class StoriesGreedyTest {

    static final String PROMPT = "Once upon a time";
    static final String REFERENCE = "Once upon a time, there was a little girl named Lily. She loved to play outside "
            + "in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

    /** Prompt ids [BOS, "▁Once", "▁upon", "▁a", "▁time"], as llama.cpp's llama-tokenize gives them for tok512. */
    static final int[] PROMPT_IDS = {1, 403, 407, 261, 378};

    /**
     * The greedy continuation. Provenance: llama.cpp's llama-tokenize on the reference text gives exactly
     * PROMPT_IDS followed by these ids, and llama.cpp's llama-simple/llama-completion print the same text
     * (docs/BENCHMARKS.md, "Correctness checks against llama.cpp").
     */
    static final int[] GREEDY_IDS = {432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
            410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268,
            388, 426, 338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13, 438, 310};

    static String generate(Path model, int n, Session.Options options, int[][] idsOut) {
        try (Model m = Model.load(model); Session s = m.newSession(options)) {
            Generation g = new Generation(s, m.tokenizer(), PROMPT, Generation.Options.of(n, SamplerConfig.greedy()));
            StringBuilder text = new StringBuilder(PROMPT);
            g.run(t -> {
                text.append(t.text());
                return true;
            });
            text.append(g.flush());
            if (idsOut != null) idsOut[0] = g.promptTokens();
            if (idsOut != null) idsOut[1] = g.generatedTokens();
            return text.toString();
        }
    }

    @Test
    void greedyOutputMatchesTheReference() {
        Path model = Fixtures.require("models/stories260K.gguf");
        int[][] ids = new int[2][];
        String text = generate(model, GREEDY_IDS.length, Session.Options.defaults().withThreads(2), ids);
        assertArrayEquals(PROMPT_IDS, ids[0]);
        assertArrayEquals(GREEDY_IDS, ids[1]);
        assertEquals(REFERENCE, text);
    }

    @Test
    void sameOutputWithF32CacheScalarKernelsAndOneThread() {
        Path model = Fixtures.require("models/stories260K.gguf");
        Session.Options scalar = new Session.Options(0, 1, 1, GgmlType.F32, Simd.SCALAR);
        assertEquals(REFERENCE, generate(model, GREEDY_IDS.length, scalar, null));
    }

    @Test
    void hyperparametersAreRead() {
        try (Model m = Model.load(Fixtures.require("models/stories260K.gguf"))) {
            Hyperparameters h = m.hparams();
            // llama.context_length in this file is 2048 (SOURCES.md quotes the training context, 512).
            assertEquals(new Hyperparameters("llama", 512, 2048, 64, 5, 8, 4, 8, 8, 172, 8, false, 10000f, 1f, 1e-5f,
                    false, false), h);
            // 5 layers x (4 KV heads x 8 dims) x (K + V) x 2 bytes
            assertEquals(5 * 32 * 2 * 2, m.kvBytesPerToken(GgmlType.F16));
            assertEquals(512, m.tokenizer().vocabSize());
        }
    }

    @Test
    void sessionRefusesBadInputAndMisuse() {
        try (Model m = Model.load(Fixtures.require("models/stories260K.gguf"))) {
            Session s = m.newSession(Session.Options.defaults().withContextSize(4).withThreads(1));
            Mla4jException e = assertThrows(Mla4jException.class, () -> s.eval(1, 512));
            assertTrue(e.getMessage().contains("token id 512 at index 1 is out of range [0, 512)"), e.getMessage());
            e = assertThrows(Mla4jException.class, () -> s.eval(1, 2, 3, 4, 5));
            assertTrue(e.getMessage().contains("context full"), e.getMessage());
            assertEquals(0, s.position());
            s.eval(1, 2);
            assertEquals(2, s.position());
            s.reset();
            assertEquals(0, s.position());
            s.close();
            s.close(); // harmless
            assertThrows(IllegalStateException.class, () -> s.eval(1));
        }
    }

    @Test
    void batchedPrefillMatchesTokenByToken() {
        try (Model m = Model.load(Fixtures.require("models/stories260K.gguf"));
                Session batched = m.newSession(Session.Options.defaults().withThreads(2).withKvType(GgmlType.F32));
                Session single = m.newSession(Session.Options.defaults().withThreads(2).withKvType(GgmlType.F32))) {
            int[] tokens = new int[128];
            for (int i = 0; i < tokens.length; i++) tokens[i] = i == 0 ? 1 : (i * 53 + 7) % 512;
            float[][] all = batched.evalAllLogits(tokens);
            for (int i = 0; i < tokens.length; i++) {
                float[] one = single.eval(tokens[i]);
                for (int v = 0; v < one.length; v++) {
                    assertEquals(one[v], all[i][v], 1e-4f * Math.max(1f, Math.abs(one[v])), "token " + i + " logit " + v);
                }
            }
        }
    }

    @Test
    void generationIsAnIteratorAndCanBeCancelledFromAnotherThread() throws Exception {
        try (Model m = Model.load(Fixtures.require("models/stories260K.gguf"));
                Session s = m.newSession(Session.Options.defaults().withThreads(1))) {
            Generation g = new Generation(s, m.tokenizer(), PROMPT, Generation.Options.of(5, SamplerConfig.greedy()));
            int[] first = new int[5];
            int n = 0;
            while (g.hasNext()) first[n++] = g.next().id();
            assertEquals(5, n);
            assertArrayEquals(java.util.Arrays.copyOf(GREEDY_IDS, 5), first);
            assertEquals(Generation.StopReason.MAX_TOKENS, g.stats().stopReason());

            s.reset();
            Generation endless = new Generation(s, m.tokenizer(), PROMPT,
                    new Generation.Options(100_000, true, false, false, SamplerConfig.greedy()));
            java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
            Thread canceller = new Thread(() -> {
                while (seen.get() < 20) Thread.onSpinWait();
                endless.cancel();
            });
            canceller.start();
            Generation.Stats stats = endless.run(t -> {
                seen.incrementAndGet();
                return true;
            });
            canceller.join(10_000);
            assertEquals(Generation.StopReason.CANCELLED, stats.stopReason());
            assertTrue(stats.generatedTokens() >= 20 && stats.generatedTokens() < 2000, "stopped at " + stats.generatedTokens());
            // The session stays usable after a cancellation.
            s.reset();
            assertEquals(GREEDY_IDS[0], argmax(s.eval(PROMPT_IDS)));
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
