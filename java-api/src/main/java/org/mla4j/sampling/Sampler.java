package org.mla4j.sampling;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits with llama.cpp's default sampler chain: repetition penalty, top-k, top-p,
 * min-p, temperature, then a draw from the softmax with a seeded generator. Temperature 0 or less picks the
 * argmax of the penalized logits (ties: lowest id). Not thread-safe: one sampler per generation.
 */
public final class Sampler {
    private final SamplerConfig config;
    private final SplittableRandom random;
    /** The last {@code repeatLastN} accepted tokens, as a ring buffer. */
    private final int[] history;
    private int historySize;
    private int historyNext;

    /**
     * A sampler (its random generator seeded from the configuration).
     *
     * @param config the sampling configuration
     */
    public Sampler(SamplerConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.random = new SplittableRandom(config.seed());
        this.history = new int[config.repeatLastN()];
    }

    /** {@return the sampling configuration} */
    public SamplerConfig config() {
        return config;
    }

    /**
     * Records a token of the sequence (prompt or generated) for the repetition penalty.
     *
     * @param token the token id
     */
    public void accept(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token id must be >= 0, got " + token);
        }
        if (history.length == 0) {
            return;
        }
        history[historyNext] = token;
        historyNext = (historyNext + 1) % history.length;
        historySize = Math.min(historySize + 1, history.length);
    }

    /** Forgets the accepted tokens. */
    public void reset() {
        historySize = 0;
        historyNext = 0;
    }

    /**
     * Samples a token id. The array is not modified.
     *
     * @throws IllegalArgumentException if logits is empty, contains NaN or +infinity, or is all -infinity
     * @param logits the logits of the last position (not modified)
     * @return the chosen token id
     */
    public int sample(float[] logits) {
        float[] penalized = penalized(logits);
        if (config.isGreedy()) {
            return argmax(penalized);
        }
        int[] kept = filter(penalized);
        return draw(penalized, kept);
    }

    /** Copy of the logits with the repetition penalty applied (llama.cpp: positive / penalty, else * penalty). */
    float[] penalized(float[] logits) {
        checkLogits(logits);
        float[] out = logits.clone();
        float penalty = config.repeatPenalty();
        if (penalty == 1.0f || historySize == 0) {
            return out;
        }
        BitSet seen = new BitSet(out.length);
        for (int i = 0; i < historySize; i++) {
            int token = history[i];
            // Each distinct token is penalized once, however often it occurs; ids beyond the logits are ignored.
            if (token < out.length && !seen.get(token)) {
                seen.set(token);
                out[token] = out[token] > 0 ? out[token] / penalty : out[token] * penalty;
            }
        }
        return out;
    }

    /**
     * The candidate ids left after top-k, top-p and min-p (in that order, as in llama.cpp), most likely first,
     * ties by lowest id. At least one candidate always remains.
     */
    int[] filter(float[] logits) {
        int[] order = sortedByLogit(logits);
        int n = order.length;
        if (config.topK() > 0) {
            n = Math.min(n, config.topK());
        }
        if (config.topP() < 1.0f) {
            double[] probabilities = softmax(logits, order, n, 1.0);
            double cumulative = 0;
            for (int i = 0; i < n; i++) {
                cumulative += probabilities[i];
                if (cumulative >= config.topP()) {
                    n = i + 1;
                    break;
                }
            }
        }
        if (config.minP() > 0.0f) {
            // p_i >= minP * p_max  <=>  logit_i >= logit_max + log(minP); the top token always stays.
            double threshold = logits[order[0]] + Math.log(config.minP());
            int keep = 1;
            while (keep < n && logits[order[keep]] >= threshold) {
                keep++;
            }
            n = keep;
        }
        return Arrays.copyOf(order, n);
    }

    private int draw(float[] logits, int[] candidates) {
        double[] probabilities = softmax(logits, candidates, candidates.length, config.temperature());
        double u = random.nextDouble();
        double cumulative = 0;
        for (int i = 0; i < candidates.length; i++) {
            cumulative += probabilities[i];
            if (u < cumulative) {
                return candidates[i];
            }
        }
        return candidates[candidates.length - 1]; // u just below a sum that rounded under 1
    }

    /** Softmax of logits[order[0..n)] / temperature; order[0] holds the largest logit. */
    private static double[] softmax(float[] logits, int[] order, int n, double temperature) {
        double max = logits[order[0]] / temperature;
        double[] p = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(logits[order[i]] / temperature - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** Ids ordered by logit, largest first, ties by lowest id. */
    private static int[] sortedByLogit(float[] logits) {
        // Pack (descending order-preserving logit bits, id) into longs so one primitive sort does it.
        long[] keys = new long[logits.length];
        for (int id = 0; id < logits.length; id++) {
            int bits = Float.floatToIntBits(logits[id] + 0.0f); // + 0.0f turns -0.0 into 0.0: they tie
            int ascending = bits ^ ((bits >> 31) & 0x7FFFFFFF); // signed-int order == float order
            keys[id] = ((long) ~ascending << 32) | id;
        }
        Arrays.sort(keys);
        int[] order = new int[keys.length];
        for (int i = 0; i < keys.length; i++) {
            order[i] = (int) keys[i];
        }
        return order;
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int id = 1; id < logits.length; id++) {
            if (logits[id] > logits[best]) {
                best = id;
            }
        }
        return best;
    }

    private static void checkLogits(float[] logits) {
        Objects.requireNonNull(logits, "logits");
        if (logits.length == 0) {
            throw new IllegalArgumentException("logits are empty");
        }
        boolean anyFinite = false;
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (Float.isNaN(v)) {
                throw new IllegalArgumentException("logit of token " + i + " is NaN");
            }
            if (v == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("logit of token " + i + " is +infinity");
            }
            anyFinite |= v != Float.NEGATIVE_INFINITY;
        }
        if (!anyFinite) {
            throw new IllegalArgumentException("all " + logits.length + " logits are -infinity");
        }
    }
}
