package org.mla4j.convert;

import org.mla4j.linalg.Matrix;

/**
 * Calibration statistics of one layer of the original model.
 *
 * @param moment sum_t [x_t;1][x_t;1]^T of the attention inputs x (after attn_norm), (E+1) x (E+1)
 * @param queryPairNorm mean over tokens of the pre-RoPE query pair norms, [head][frequency index]
 * @param keyPairNorm the same for the keys, [KV head][frequency index]
 * @param tokens single calibration tokens for {@link QueryFit}, or null where the fit is not made
 */
public record LayerStats(Matrix moment, double[][] queryPairNorm, double[][] keyPairNorm, QueryFit.Tokens tokens) {
    LayerStats withMoment(Matrix m) {
        return new LayerStats(m, queryPairNorm, keyPairNorm, tokens);
    }

    LayerStats withTokens(QueryFit.Tokens t) {
        return new LayerStats(moment, queryPairNorm, keyPairNorm, t);
    }
}
