package org.mla4j.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SamplerTest {
    /** Logits whose softmax is exactly these probabilities (log p, up to float rounding). */
    private static float[] logitsOf(double... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]);
        }
        return logits;
    }

    /** Temperature 1 and only the given filters switched on. */
    private static Sampler filters(int topK, float topP, float minP) {
        return new Sampler(new SamplerConfig(1.0f, topK, topP, minP, 1.0f, 64, 7));
    }

    private static Sampler withPenalty(float temperature, float penalty, int lastN) {
        return new Sampler(new SamplerConfig(temperature, 0, 1.0f, 0.0f, penalty, lastN, 7));
    }

    @Test
    void defaultsAreLlamaCpps() {
        SamplerConfig c = SamplerConfig.defaults(42);
        assertEquals(new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 42), c);
    }

    @Test
    void greedyPicksArgmaxAndLowestIdOnTies() {
        Sampler greedy = new Sampler(SamplerConfig.greedy());
        assertEquals(1, greedy.sample(new float[] {1f, 3f, 2f}));
        assertEquals(0, greedy.sample(new float[] {5f, 5f, 1f}));
        assertEquals(2, greedy.sample(new float[] {Float.NEGATIVE_INFINITY, -7f, -3f}));
        assertEquals(1, new Sampler(new SamplerConfig(-1f, 0, 1f, 0f, 1f, 0, 0)).sample(new float[] {0f, 9f}));
    }

    @Test
    void topKOneEqualsGreedyForAnySeed() {
        SplittableRandom data = new SplittableRandom(1);
        for (int trial = 0; trial < 200; trial++) {
            float[] logits = new float[50];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) data.nextGaussian() * 3;
            }
            Sampler topK1 = new Sampler(new SamplerConfig(1.5f, 1, 1f, 0f, 1f, 64, trial));
            assertEquals(new Sampler(SamplerConfig.greedy()).sample(logits), topK1.sample(logits));
        }
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        float[] uniform = new float[1000];
        Sampler a = new Sampler(new SamplerConfig(0.8f, 0, 1f, 0f, 1f, 64, 123));
        Sampler b = new Sampler(new SamplerConfig(0.8f, 0, 1f, 0f, 1f, 64, 123));
        Sampler c = new Sampler(new SamplerConfig(0.8f, 0, 1f, 0f, 1f, 64, 124));
        int[] sa = new int[20];
        int[] sb = new int[20];
        int[] sc = new int[20];
        for (int i = 0; i < 20; i++) {
            sa[i] = a.sample(uniform);
            sb[i] = b.sample(uniform);
            sc[i] = c.sample(uniform);
        }
        assertArrayEquals(sa, sb);
        assertNotEquals(Arrays.toString(sa), Arrays.toString(sc));
        assertTrue(Arrays.stream(sa).distinct().count() > 10, "20 draws from 1000 equal tokens look random");
    }

    @Test
    void topKKeepsTheKMostLikely() {
        float[] logits = logitsOf(0.15, 0.5, 0.05, 0.3);
        assertArrayEquals(new int[] {1, 3}, filters(2, 1f, 0f).filter(logits));
        assertArrayEquals(new int[] {1, 3, 0, 2}, filters(0, 1f, 0f).filter(logits));
        assertArrayEquals(new int[] {1, 3, 0, 2}, filters(10, 1f, 0f).filter(logits));
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        assertArrayEquals(new int[] {0}, filters(0, 0.45f, 0f).filter(logits));
        assertArrayEquals(new int[] {0, 1}, filters(0, 0.7f, 0f).filter(logits));
        assertArrayEquals(new int[] {0, 1, 2}, filters(0, 0.85f, 0f).filter(logits));
        assertArrayEquals(new int[] {0, 1, 2, 3}, filters(0, 0.99f, 0f).filter(logits));
        assertArrayEquals(new int[] {0}, filters(0, 0f, 0f).filter(logits));
    }

    @Test
    void topPWorksOnWhatTopKLeft() {
        // After top-2 the probabilities are 0.625 and 0.375, so p=0.6 keeps one token; alone it would keep two.
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        assertArrayEquals(new int[] {0}, filters(2, 0.6f, 0f).filter(logits));
        assertArrayEquals(new int[] {0, 1}, filters(0, 0.6f, 0f).filter(logits));
    }

    @Test
    void minPKeepsTokensAtLeastMinPTimesTheTopProbability() {
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        assertArrayEquals(new int[] {0, 1, 2}, filters(0, 1f, 0.2f).filter(logits)); // >= 0.1
        assertArrayEquals(new int[] {0, 1}, filters(0, 1f, 0.5f).filter(logits));    // >= 0.25
        assertArrayEquals(new int[] {0}, filters(0, 1f, 1f).filter(logits));          // >= 0.5
    }

    @Test
    void drawsOnlyFromTheKeptTokensAndAllOfThem() {
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        Sampler sampler = filters(0, 0.7f, 0f);
        TreeSet<Integer> seen = new TreeSet<>();
        for (int i = 0; i < 2000; i++) {
            seen.add(sampler.sample(logits));
        }
        assertEquals(new TreeSet<>(java.util.List.of(0, 1)), seen);
    }

    @Test
    void drawFrequenciesFollowTheTemperedSoftmax() {
        // Temperature 0.5 squares the odds: 0.75/0.25 becomes 0.9/0.1.
        float[] logits = logitsOf(0.75, 0.25);
        Sampler sampler = new Sampler(new SamplerConfig(0.5f, 0, 1f, 0f, 1f, 0, 99));
        int zeros = 0;
        int draws = 20000;
        for (int i = 0; i < draws; i++) {
            zeros += sampler.sample(logits) == 0 ? 1 : 0;
        }
        assertEquals(0.9, zeros / (double) draws, 0.01);
    }

    @Test
    void repeatPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler sampler = withPenalty(0f, 2f, 64);
        sampler.accept(0);
        sampler.accept(1);
        sampler.accept(1); // counted once
        sampler.accept(7); // beyond the logits: ignored
        assertArrayEquals(new float[] {1.0f, -2.0f, 0.5f, 3.0f}, sampler.penalized(new float[] {2.0f, -1.0f, 0.5f, 3.0f}));
    }

    @Test
    void repeatPenaltyOnlyLooksAtTheLastNTokens() {
        Sampler sampler = withPenalty(0f, 2f, 2);
        sampler.accept(0);
        sampler.accept(1);
        sampler.accept(2);
        assertArrayEquals(new float[] {4f, 2f, 2f}, sampler.penalized(new float[] {4f, 4f, 4f}));
        // Greedy sees the penalized logits: token 0 wins now.
        assertEquals(0, sampler.sample(new float[] {4f, 4f, 4f}));
        sampler.reset();
        assertArrayEquals(new float[] {4f, 4f, 4f}, sampler.penalized(new float[] {4f, 4f, 4f}));
    }

    @Test
    void penaltyOffLeavesLogitsAlone() {
        Sampler sampler = withPenalty(0f, 1f, 64);
        sampler.accept(0);
        assertArrayEquals(new float[] {2f, -1f}, sampler.penalized(new float[] {2f, -1f}));
    }

    @Test
    void inputLogitsAreNotModified() {
        float[] logits = {2f, 1f};
        Sampler sampler = withPenalty(0.8f, 2f, 64);
        sampler.accept(0);
        sampler.sample(logits);
        assertArrayEquals(new float[] {2f, 1f}, logits);
    }

    @Test
    void badLogitsAreRejected() {
        Sampler sampler = new Sampler(SamplerConfig.defaults(1));
        assertEquals("logits are empty",
                assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[0])).getMessage());
        assertEquals("logit of token 1 is NaN",
                assertThrows(IllegalArgumentException.class, () -> sampler.sample(new float[] {0f, Float.NaN})).getMessage());
        assertEquals("logit of token 0 is +infinity", assertThrows(IllegalArgumentException.class,
                () -> sampler.sample(new float[] {Float.POSITIVE_INFINITY})).getMessage());
        assertEquals("all 2 logits are -infinity", assertThrows(IllegalArgumentException.class,
                () -> sampler.sample(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY})).getMessage());
        assertThrows(NullPointerException.class, () -> sampler.sample(null));
        assertThrows(IllegalArgumentException.class, () -> sampler.accept(-1));
    }

    @Test
    void badConfigValuesAreRejectedNamingTheField() {
        assertConfigError("temperature", () -> new SamplerConfig(Float.NaN, 40, 0.95f, 0.05f, 1f, 64, 0));
        assertConfigError("topK", () -> new SamplerConfig(0.8f, -1, 0.95f, 0.05f, 1f, 64, 0));
        assertConfigError("topP", () -> new SamplerConfig(0.8f, 40, 1.5f, 0.05f, 1f, 64, 0));
        assertConfigError("topP", () -> new SamplerConfig(0.8f, 40, Float.NaN, 0.05f, 1f, 64, 0));
        assertConfigError("minP", () -> new SamplerConfig(0.8f, 40, 0.95f, -0.1f, 1f, 64, 0));
        assertConfigError("repeatPenalty", () -> new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 0f, 64, 0));
        assertConfigError("repeatLastN", () -> new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1f, -1, 0));
    }

    private static void assertConfigError(String field, org.junit.jupiter.api.function.Executable create) {
        String message = assertThrows(IllegalArgumentException.class, create).getMessage();
        assertTrue(message.startsWith(field + " must be"), message);
    }
}
