package org.mla4j.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mla4j.Fixtures;
import org.mla4j.Generation;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.sampling.SamplerConfig;

/**
 * One model shared by 4 threads, each with its own session, 200 generations each (seeded sampling, different
 * prompts and seeds): every output must equal, token for token, the same generation run alone on one thread. Shared
 * state corrupted by a concurrent session (KV cache, scratch buffers, the model's views) would change tokens.
 */
@Timeout(300)
class ConcurrencyStressTest {

    static final String[] PROMPTS = {"Once upon a time", "The little dog", "Lily and Tom went to the park",
            "One day, a big", "She was happy because"};
    static final int GENERATIONS = 200;
    static final int THREADS = 4;
    static final int TOKENS = 12;

    /** Generation i: prompt i mod 5, llama.cpp's default sampler with seed i (temperature 0.8). */
    static int[] generate(Model model, Session session, int i) {
        session.reset();
        Generation g = new Generation(session, model.tokenizer(), PROMPTS[i % PROMPTS.length],
                Generation.Options.of(TOKENS, SamplerConfig.defaults(i)));
        g.run(t -> true);
        return g.generatedTokens();
    }

    static Session.Options options() {
        return Session.Options.defaults().withThreads(1).withContextSize(64);
    }

    @Test
    void fourThreadsWithOwnSessionsMatchSingleThreadedRuns() throws Exception {
        try (Model model = Model.load(Fixtures.require("models/stories260K.gguf"))) {
            int[][] reference = new int[GENERATIONS][];
            try (Session s = model.newSession(options())) {
                for (int i = 0; i < GENERATIONS; i++) reference[i] = generate(model, s, i);
            }
            // Seeds differ, so most references differ: a test comparing identical outputs would prove little.
            long distinct = java.util.Arrays.stream(reference).map(java.util.Arrays::toString).distinct().count();
            assertTrue(distinct >= 150, distinct + " distinct outputs of " + GENERATIONS);

            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<int[][]>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int offset = t * 50; // each thread walks the list from a different start
                    results.add(pool.submit(() -> {
                        int[][] out = new int[GENERATIONS][];
                        try (Session s = model.newSession(options())) {
                            for (int k = 0; k < GENERATIONS; k++) {
                                int i = (k + offset) % GENERATIONS;
                                out[i] = generate(model, s, i);
                            }
                        }
                        return out;
                    }));
                }
                for (int t = 0; t < THREADS; t++) {
                    int[][] got = results.get(t).get();
                    for (int i = 0; i < GENERATIONS; i++) {
                        assertArrayEquals(reference[i], got[i], "thread " + t + ", generation " + i);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
