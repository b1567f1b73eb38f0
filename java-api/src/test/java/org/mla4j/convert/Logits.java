package org.mla4j.convert;

import java.nio.file.Path;

import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;

/** Test helper: the logits of every position of a token sequence, and the largest difference between two models. */
final class Logits {
    private Logits() {
    }

    static float[][] of(Path model, int[] tokens, GgmlType cache) {
        try (Model m = Model.load(model);
             Session s = m.newSession(Session.Options.defaults().withThreads(2).withContextSize(tokens.length)
                     .withKvType(cache))) {
            return s.evalAllLogits(tokens);
        }
    }

    /** max |a - b| over all positions and vocabulary entries. */
    static double maxAbsDiff(float[][] a, float[][] b) {
        double max = 0;
        for (int t = 0; t < a.length; t++) {
            for (int v = 0; v < a[t].length; v++) max = Math.max(max, Math.abs(a[t][v] - b[t][v]));
        }
        return max;
    }

    /** Tokens 1 (BOS) then a fixed pseudo-random walk over the vocabulary. */
    static int[] tokens(int n, int vocab) {
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
