package org.mla4j.eval;

/**
 * The per-position figures of {@link Evaluator}, accumulated in double precision: NLL of the next token under both
 * models, KL(reference || converted), argmax agreement and the largest logit difference.
 */
final class PositionStats {
    private final int vocab;
    private final String referenceName;
    private final String convertedName;
    /** log softmax of the current position's logits, reused. */
    private final double[] logpRef;
    private final double[] logpConv;
    private long positions;
    private double nllRef;
    private double nllConv;
    private double klSum;
    private double klMax;
    private long agree;
    private double maxAbsDiff;

    PositionStats(int vocab, String referenceName, String convertedName) {
        this.vocab = vocab;
        this.referenceName = referenceName;
        this.convertedName = convertedName;
        this.logpRef = new double[vocab];
        this.logpConv = new double[vocab];
    }

    /** Adds one predicted position: the two models' logits there and the token that actually follows. */
    void add(float[] ref, float[] conv, int next, int sequence, int position) {
        int argRef = logSoftmax(ref, logpRef, referenceName, sequence, position);
        int argConv = logSoftmax(conv, logpConv, convertedName, sequence, position);
        nllRef -= logpRef[next];
        nllConv -= logpConv[next];
        double kl = 0;
        double diff = 0;
        for (int i = 0; i < vocab; i++) {
            double lr = logpRef[i];
            if (lr != Double.NEGATIVE_INFINITY) kl += Math.exp(lr) * (lr - logpConv[i]); // 0 log 0 = 0
            if (ref[i] != conv[i]) diff = Math.max(diff, Math.abs((double) ref[i] - conv[i])); // -inf == -inf: 0
        }
        // KL >= 0; a sum of terms of both signs can round a few ulps below 0 when the distributions are equal.
        kl = Math.max(0, kl);
        klSum += kl;
        klMax = Math.max(klMax, kl);
        maxAbsDiff = Math.max(maxAbsDiff, diff);
        if (argRef == argConv) agree++;
        positions++;
    }

    long positions() {
        return positions;
    }

    EvalResult result() {
        if (positions == 0) throw new IllegalStateException("no predicted positions");
        return new EvalResult(Math.exp(nllRef / positions), Math.exp(nllConv / positions), klSum / positions, klMax,
                (double) agree / positions, maxAbsDiff, positions);
    }

    /** Writes log softmax(logits) into out and returns the argmax (lowest id on ties). */
    private int logSoftmax(float[] logits, double[] out, String model, int sequence, int position) {
        if (logits.length != vocab) {
            throw new IllegalStateException(model + ": " + logits.length + " logits, expected " + vocab);
        }
        int arg = 0;
        for (int i = 0; i < vocab; i++) {
            float v = logits[i];
            if (Float.isNaN(v) || v == Float.POSITIVE_INFINITY) {
                throw new IllegalStateException(model + ": logit of token " + i + " is " + v + " at sequence "
                        + sequence + " position " + position);
            }
            if (v > logits[arg]) arg = i;
        }
        double max = logits[arg];
        if (max == Double.NEGATIVE_INFINITY) {
            throw new IllegalStateException(model + ": every logit is -infinity at sequence " + sequence + " position "
                    + position);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
        double lse = max + Math.log(sum);
        for (int i = 0; i < vocab; i++) out[i] = logits[i] - lse;
        return arg;
    }
}
