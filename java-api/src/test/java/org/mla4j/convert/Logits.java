package org.mla4j.convert;

import java.nio.file.Path;

import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;

/** Test helper: the logits of every position of a token sequence, and the largest difference between two models. */
public final class Logits {
    private Logits() {
    }

    public static float[][] of(Path model, int[] tokens, GgmlType cache) {
        try (Model m = Model.load(model);
             Session s = m.newSession(Session.Options.defaults().withThreads(2).withContextSize(tokens.length)
                     .withKvType(cache))) {
            return s.evalAllLogits(tokens);
        }
    }

    /** max |a - b| over all positions and vocabulary entries. */
    public static double maxAbsDiff(float[][] a, float[][] b) {
        return maxAbsDiff(toDouble(a), b);
    }

    /** max |a - b| over all positions and vocabulary entries (a float64 reference against mla4j's logits). */
    public static double maxAbsDiff(double[][] a, float[][] b) {
        if (a.length != b.length) throw new AssertionError("positions: " + a.length + " vs " + b.length);
        double max = 0;
        for (int t = 0; t < a.length; t++) {
            if (a[t].length != b[t].length) throw new AssertionError("vocabulary: " + a[t].length + " vs " + b[t].length);
            for (int v = 0; v < a[t].length; v++) max = Math.max(max, Math.abs(a[t][v] - b[t][v]));
        }
        return max;
    }

    /** The logits widened to double. */
    public static double[][] toDouble(float[][] x) {
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            y[t] = new double[x[t].length];
            for (int v = 0; v < x[t].length; v++) y[t][v] = x[t][v];
        }
        return y;
    }

    /** Tokens 1 (BOS) then a fixed pseudo-random walk over the vocabulary. */
    public static int[] tokens(int n, int vocab) {
        int[] t = new int[n];
        t[0] = 1;
        long x = 12345;
        for (int i = 1; i < n; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            t[i] = (int) Long.remainderUnsigned(x >>> 17, vocab - 3) + 3;
        }
        return t;
    }
}
