package org.mla4j;

/**
 * Hyperparameters of a loaded model, as the native forward pass uses them (mla4j_hparams).
 *
 * @param architecture general.architecture ("llama", "qwen2")
 * @param vocabSize tokens in the vocabulary (logits per position)
 * @param contextLength the context length the model was trained with
 * @param embeddingLength width of the residual stream (n_embd)
 * @param layers transformer blocks
 * @param heads query heads per layer
 * @param kvHeads key/value heads per layer (fewer than heads: grouped-query attention)
 * @param headDimK per-head query/key size
 * @param headDimV per-head value size
 * @param feedForwardLength hidden size of the feed-forward network
 * @param ropeDims rotated dimensions per head
 * @param ropeFreqBase RoPE frequency base (theta)
 * @param ropeFreqScale RoPE frequency scale (1 = none)
 * @param rmsEps epsilon of the RMS norms
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
