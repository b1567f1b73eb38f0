package org.mla4j.synth;

import java.nio.charset.StandardCharsets;

/**
 * Seeded pseudo-random weights, fast enough to generate a billion values in seconds.
 *
 * <p>Every row of every tensor has its own stream, derived from (seed, tensor name, row), so a row's values do not
 * depend on the order or the thread that generates them. Each value comes from one SplitMix64 output: the sum of
 * its four 16-bit parts is an Irwin-Hall(4) variable, which is bell-shaped, bounded by +-3.46 std, and cheap.
 */
final class WeightGenerator {
    /** Standard deviation of the sum of four independent uniform 16-bit integers: 65536 * sqrt(4/12). */
    private static final double SUM_STD = 65536 * Math.sqrt(4.0 / 12);
    private static final double SUM_MEAN = 4 * 65535 / 2.0;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private WeightGenerator() {
    }

    /** A seed for one tensor: the run's seed mixed with the FNV-1a hash of the tensor's name. */
    static long tensorSeed(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return mix(seed ^ mix(h));
    }

    /** Fills out[0, n) with values of mean 0 and standard deviation std for row {@code row} of a tensor. */
    static void fillRow(long tensorSeed, long row, float std, float[] out, int n) {
        long state = mix(tensorSeed + row * GOLDEN);
        float scale = (float) (std / SUM_STD);
        float mean = (float) SUM_MEAN;
        for (int i = 0; i < n; i++) {
            state += GOLDEN;
            long z = mix(state);
            long sum = (z & 0xffff) + (z >>> 16 & 0xffff) + (z >>> 32 & 0xffff) + (z >>> 48);
            out[i] = (sum - mean) * scale;
        }
    }

    /** SplitMix64's finalizer: a bijective 64-bit mix. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
