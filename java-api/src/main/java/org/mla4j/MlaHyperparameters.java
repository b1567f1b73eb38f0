package org.mla4j;

/**
 * Multi-head latent attention hyperparameters (deepseek2, mha2mla). The cache holds, per token and layer, the latent
 * (kvLoraRank values) and ropeHeads roped key vectors of ropeDim values.
 *
 * @param kvLoraRank latent size C
 * @param qLoraRank deepseek2 query compression rank (0 = a plain attn_q)
 * @param headDimNope per-head key dims scored through the latent
 * @param ropeDim rotated key dims per rope head
 * @param ropeHeads roped key vectors per token: 1 (deepseek2) or the KV head count (mha2mla)
 * @param latentNorm true when the latent is RMS-normalised before caching
 * @param kqScale softmax scale
 */
public record MlaHyperparameters(int kvLoraRank, int qLoraRank, int headDimNope, int ropeDim, int ropeHeads,
        boolean latentNorm, float kqScale) {

    /** {@return values cached per token and layer} */
    public int cacheWidth() {
        return kvLoraRank + ropeHeads * ropeDim;
    }
}
