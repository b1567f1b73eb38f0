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

    /** The --dry-run lines. */
    static String describe(ConversionPlan plan) {
        Hyperparameters hp = plan.source();
        StringBuilder b = new StringBuilder();
        boolean measured = Search.enabled(Search.Mode.AUTO, hp);
        int candidates = searchCandidates(plan);
        double search = candidates * candidateSeconds(hp);
        double fit = 0;
        if (measured && AttentionFit.applies(plan)) {
            long tokens = Math.min(plan.options().calibTokens(), QueryFit.MAX_TOKENS);
            fit = hp.layers() * AttentionFit.estimatedSeconds(plan, tokens, plan.options().calibSequence());
        }
        b.append(String.format(Locale.ROOT, "measured steps (models under 50M parameters: %s): search %d candidate "
                + "conversions (~%.0f s), attention fit ~%.0f s (%d layers, at most %.0f s each), in-order refit %d "
                + "conversions%n", measured ? "yes" : "no", candidates, search, fit, hp.layers(),
                plan.options().fitSeconds(), measured && !plan.identity() ? hp.layers() - 1 : 0));
        return b.toString();
    }
}
