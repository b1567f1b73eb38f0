package org.mla4j.sampling;

/**
 * Sampling settings, named and defaulted like llama.cpp's common_params_sampling.
 *
 * @param temperature logits are divided by it; 0 or less means greedy (argmax)
 * @param topK keep the k most likely tokens; 0 = off
 * @param topP keep the smallest set of most likely tokens whose probability reaches p; 1 = off
 * @param minP keep tokens whose probability is at least minP times the top one's; 0 = off
 * @param repeatPenalty penalty for tokens seen in the last {@code repeatLastN} tokens; 1 = off
 * @param repeatLastN how many recent tokens the repeat penalty looks at; 0 = off
 * @param seed seed of the random generator: the same seed and inputs give the same tokens
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN,
        long seed) {

    public static final float DEFAULT_TEMPERATURE = 0.8f;
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;
    public static final float DEFAULT_REPEAT_PENALTY = 1.0f;
    public static final int DEFAULT_REPEAT_LAST_N = 64;

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException when a value is out of its range
     */
    public SamplerConfig {
        if (Float.isNaN(temperature) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP >= 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in [0, 1] (1 = off), got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("minP must be in [0, 1] (0 = off), got " + minP);
        }
        if (!(repeatPenalty > 0) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeatPenalty must be a finite number > 0 (1 = off), got " + repeatPenalty);
        }
        if (repeatLastN < 0) {
            throw new IllegalArgumentException("repeatLastN must be >= 0 (0 = off), got " + repeatLastN);
        }
    }

    /**
     * {@return llama.cpp's defaults with the given seed}
     *
     * @param seed seed of the random generator
     */
    public static SamplerConfig defaults(long seed) {
        return new SamplerConfig(DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MIN_P,
                DEFAULT_REPEAT_PENALTY, DEFAULT_REPEAT_LAST_N, seed);
    }

    /** {@return always the most likely token (temperature 0), no penalty} */

    public static SamplerConfig greedy() {
        return new SamplerConfig(0, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MIN_P, DEFAULT_REPEAT_PENALTY,
                DEFAULT_REPEAT_LAST_N, 0);
    }

    /** {@return whether this samples greedily (temperature 0 or less)} */
    public boolean isGreedy() {
        return temperature <= 0;
    }
}
