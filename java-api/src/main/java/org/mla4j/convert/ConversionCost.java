package org.mla4j.convert;

import java.util.Locale;

import org.mla4j.Hyperparameters;

/**
 * What the measured steps of a conversion will cost, estimated from the plan before any weight is read (printed by
 * {@code --dry-run}): how many candidate conversions the search writes and scores, and the attention fit's time.
 * The estimates assume about 4 GFLOP/s of double-precision products and 15 GFLOP/s of the native forward pass on two
 * cores; they are meant to tell seconds from hours, not to be exact.
 */
final class ConversionCost {
    private ConversionCost() {
    }

    /** Candidate conversions the search scores for a plan (0 where it does not run). */
    static int searchCandidates(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        ConvertOptions o = plan.options();
        if (plan.identity() || !Search.enabled(Search.Mode.AUTO, hp)) return 0;
        int dh = hp.headDimK();
        if (plan.arch().equals("deepseek2")) {
            int shapes = 0;
            for (int m = 2; m <= dh; m += 2) {
                if (dh % m != 0) continue;
                if (!(o.ropeDim() == ConvertOptions.AUTO && o.cacheValues() != ConvertOptions.AUTO) && m != plan.ropeDims()) continue;
                if (o.freqFold() != ConvertOptions.AUTO) {
                    shapes++;
                    continue;
                }
                for (int f = dh / m; f <= dh / 2; f *= 2) if ((dh / 2) % f == 0) shapes++;
            }
            return shapes + 3;
        }
        int splits = 0;
        if (o.cacheValues() != ConvertOptions.AUTO && o.ropeDims() == ConvertOptions.AUTO && o.kvRank() == ConvertOptions.AUTO) {
            for (int r = 2; r < dh; r += 2) if (dh <= 16 || r <= 8 || Search.isRoughlyGeometric(r)) splits++;
        }
        int r = plan.ropeDims();
        int descent = r > 0 && r < dh && Search.binomial(dh / 2, r / 2) <= 16
                ? (int) (hp.layers() * hp.kvHeads() * (Search.binomial(dh / 2, r / 2) - 1)) : 0;
        return splits + 1 + descent + 2;
    }

    /** Parameters of the source model (attention, FFN, embeddings and output). */
    static long parameters(Hyperparameters hp) {
        long attn = (long) hp.embeddingLength() * hp.headDimK() * (2L * hp.heads() + 2L * hp.kvHeads());
        long ffn = 3L * hp.embeddingLength() * hp.feedForwardLength();
        return (long) hp.layers() * (attn + ffn) + 2L * hp.vocabSize() * hp.embeddingLength();
    }

    /** Seconds of one candidate: written, loaded, and both models run over the search's held-out tokens. */
    static double candidateSeconds(Hyperparameters hp) {
        return 0.3 + 2.0 * 2 * parameters(hp) * Search.HELD_OUT_TOKENS / 15e9;
    }

    /**
     * The estimated seconds of each stage of a conversion on two cores (--dry-run; --verbose prints the measured ones
     * under the same names).
     *
     * @param text the calibration text the model writes itself (0 with a calibration file)
     * @param calibration the calibration pass: forward over the tokens and the input moments of every layer
     * @param search candidate conversions of the search and the in-order refit (small models)
     * @param layers the closed-form conversion of every layer, and writing them
     * @param fit the attention fit of every layer
     */
    record Estimate(double text, double calibration, double search, double layers, double fit) {
        double total() {
            return text + calibration + search + layers + fit;
        }
    }

    // Rates on two cores of the machine the estimates were measured on (docs/BENCHMARKS.md, "Conversion cost"):
    /** Weight bytes a decoding forward pass streams per second. */
    static final double DECODE_BYTES_PER_S = 8e9;
    /** Flops per second of the native forward pass over many rows (calibration, and parallel text per row). */
    static final double FORWARD_FLOPS = 40e9;
    /** Flops per second of the double-precision linear algebra of the closed-form steps and the moments. */
    static final double LINALG_FLOPS = 20e9;

    /** The estimate for a plan (the source's weights taken as one byte each, as Q8_0; F16 streams twice that). */
    static Estimate estimate(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        ConvertOptions o = plan.options();
        long params = parameters(hp);
        double bytes = params * bytesPerWeight(o);
        long tokens = o.calibTokens();
        int length = Math.min(o.calibSequence(), hp.contextLength());
        boolean measured = Search.enabled(Search.Mode.AUTO, hp);
        double text = 0;
        if (o.calibration() == null) {
            // Small models write one sequence at a time; large ones up to 8 at once (one weight pass per position).
            double passes = measured ? tokens : Math.ceil((double) tokens / length / 8) * length;
            text = passes * bytes / DECODE_BYTES_PER_S + tokens * 2.0 * params / FORWARD_FLOPS;
        }
        long e1 = hp.embeddingLength() + 1L;
        double calibration = tokens * 2.0 * params / FORWARD_FLOPS + hp.layers() * (double) e1 * e1 * tokens / LINALG_FLOPS;
        int candidates = searchCandidates(plan);
        double search = candidates * candidateSeconds(hp) + (measured && !plan.identity() ? (hp.layers() - 1)
                * (candidateSeconds(hp) + calibration) : 0);
        double layers = hp.layers() * layerFlops(plan) / LINALG_FLOPS + bytes / DECODE_BYTES_PER_S;
        double fit = 0;
        if (AttentionFit.applies(plan)) {
            long kept = measured ? Math.min(tokens, QueryFit.MAX_TOKENS) : AttentionFit.tokensForLargeModel(plan, tokens, length);
            fit = hp.layers() * AttentionFit.estimatedSeconds(plan, kept, length);
        }
        return new Estimate(text, calibration, search, layers, fit);
    }

    /** Double-precision work of one layer's closed form: the moments seen through the projections, eigen/SVDs. */
    static double layerFlops(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        double e = hp.embeddingLength(), dh = hp.headDimK();
        double rows = hp.heads() * dh + 2.0 * hp.kvHeads() * dh;
        // W M W^T for the queries and keys (2 rows E^2), and an eigendecomposition of an E x E moment (~10 E^3).
        return 2.0 * rows * e * e + 10.0 * e * e * e;
    }

    private static double bytesPerWeight(ConvertOptions o) {
        if (o.outType() == null) return 1.0625;
        return switch (o.outType()) {
            case F32 -> 4;
            case F16, BF16 -> 2;
            case Q4_0 -> 0.5625;
            default -> 1.0625;
        };
    }

    /** The --dry-run lines. */
    static String describe(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        StringBuilder b = new StringBuilder();
        boolean measured = Search.enabled(Search.Mode.AUTO, hp);
        int candidates = searchCandidates(plan);
        Estimate est = estimate(plan);
        b.append(String.format(Locale.ROOT, "measured steps (models under 50M parameters: %s): search %d candidate "
                + "conversions, in-order refit %d conversions, attention fit on %s (%d layers, at most %.0f s each)%n",
                measured ? "yes" : "no", candidates, measured && !plan.identity() ? hp.layers() - 1 : 0,
                !AttentionFit.applies(plan) ? "none" : measured ? "the converted inputs" : "the original inputs",
                hp.layers(), plan.options().fitSeconds()));
        b.append(String.format(Locale.ROOT, "estimated time on 2 cores: ~%.0f s (calibration text %.0f s, calibration "
                + "%.0f s, search and refit %.0f s, layers %.0f s, attention fit %.0f s)%n", est.total(), est.text(),
                est.calibration(), est.search(), est.layers(), est.fit()));
        return b.toString();
    }
}
