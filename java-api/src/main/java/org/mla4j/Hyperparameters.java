package org.mla4j;

/**
 * Hyperparameters of a loaded model, as the native forward pass uses them (mla4j_hparams).
 *
 * @param architecture general.architecture ("llama", "qwen2")
 * @param headDimK per-head query/key size
 * @param headDimV per-head value size
 * @param ropeDims rotated dimensions per head
 * @param ropeNeox true for NEOX rotation (split halves, qwen2), false for adjacent pairs (llama)
 * @param tiedOutput true when the output head reuses token_embd.weight
 * @param qkvBias true when q/k/v projections have biases (qwen2)
 */
public record Hyperparameters(String architecture, int vocabSize, int contextLength, int embeddingLength, int layers,
        int heads, int kvHeads, int headDimK, int headDimV, int feedForwardLength, int ropeDims, boolean ropeNeox,
        float ropeFreqBase, float ropeFreqScale, float rmsEps, boolean tiedOutput, boolean qkvBias) {

    /** {@return query heads per KV head} */
    public int groupSize() {
        return heads / kvHeads;
    }
}
