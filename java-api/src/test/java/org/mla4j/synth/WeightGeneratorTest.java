package org.mla4j.synth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WeightGeneratorTest {
    @Test
    void meanStdAndBound() {
        int n = 1 << 20;
        float[] x = new float[n];
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(1, "t"), 0, 0.02f, x, n);
        double sum = 0;
        double sq = 0;
        double max = 0;
        for (float v : x) {
            sum += v;
            sq += (double) v * v;
            max = Math.max(max, Math.abs(v));
        }
        double mean = sum / n;
        double std = Math.sqrt(sq / n - mean * mean);
        // the standard error of the mean is 0.02/1024
        assertEquals(0, mean, 1e-4);
        assertEquals(0.02, std, 0.0002);
        // Irwin-Hall(4) is bounded by 2*sqrt(3) standard deviations, and the tails reach near it
        assertTrue(max <= 0.02 * 2 * Math.sqrt(3), "max " + max);
        assertTrue(max > 0.02 * 3, "max " + max);
    }

    @Test
    void streamsDependOnSeedNameAndRowOnly() {
        float[] a = new float[64];
        float[] b = new float[64];
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(5, "blk.0.attn_q.weight"), 3, 1, a, 64);
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(5, "blk.0.attn_q.weight"), 3, 1, b, 64);
        assertArrayEquals(a, b);
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(5, "blk.0.attn_q.weight"), 4, 1, b, 64);
        assertNotEquals(a[0], b[0]);
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(5, "blk.0.attn_k.weight"), 3, 1, b, 64);
        assertNotEquals(a[0], b[0]);
        WeightGenerator.fillRow(WeightGenerator.tensorSeed(6, "blk.0.attn_q.weight"), 3, 1, b, 64);
        assertNotEquals(a[0], b[0]);
    }
}
