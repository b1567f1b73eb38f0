package org.mla4j.convert;

import org.mla4j.linalg.Matrix;

/**
 * Calibration statistics of one layer of the original model.
 *
 * @param moment sum_t [x_t;1][x_t;1]^T of the attention inputs x (after attn_norm), (E+1) x (E+1)
 * @param queryPairNorm mean over tokens of the pre-RoPE query pair norms, [head][frequency index]
 * @param keyPairNorm the same for the keys, [KV head][frequency index]
 */
public record LayerStats(Matrix moment, double[][] queryPairNorm, double[][] keyPairNorm) {
}
