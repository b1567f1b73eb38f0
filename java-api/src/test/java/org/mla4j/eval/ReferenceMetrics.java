package org.mla4j.eval;

/**
 * Plain textbook formulas (probabilities first, then logs) that tests check the production code's log-softmax
 * arithmetic against. Written differently from {@link PositionStats} on purpose.
 */
public final class ReferenceMetrics {
    private ReferenceMetrics() {
    }

    public static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    /** KL(softmax(ref) || softmax(other)) in nats. */
    public static double kl(float[] ref, float[] other) {
        double[] p = softmax(ref), q = softmax(other);
        double kl = 0;
        for (int i = 0; i < p.length; i++) if (p[i] > 0) kl += p[i] * Math.log(p[i] / q[i]);
        return kl;
    }

    /** -log softmax(logits)[token]. */
    public static double nll(float[] logits, int token) {
        return -Math.log(softmax(logits)[token]);
    }

    /** The first index of the largest logit. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
