package org.mla4j.convert;

import java.nio.file.Path;

import org.mla4j.gguf.GgmlType;

/**
 * Everything {@code mla4j convert} can be told. A value of {@link #AUTO} lets the converter choose
 * (documented per field). Use {@link #defaults(Method)} and the {@code with*} methods.
 *
 * @param method mha2mla (partial RoPE + low-rank K/V, output arch {@code mha2mla}) or transmla (RoRoPE, FreqFold,
 *     BKV-PCA, output arch {@code deepseek2})
 * @param lossless the exact form of the method: RoPE on every key dimension, a latent of all values; logits unchanged
 * @param ropeSelect mha2mla: which frequencies keep RoPE, per (layer, KV head)
 * @param ropeDims mha2mla: RoPE dims r kept per KV head (even); AUTO = chosen from the cache budget
 * @param svd mha2mla: joint or split factorisation of [W_k,nope ; W_v]
 * @param kvRank mha2mla: latent dims d_kv per KV head (the paper's d_kv); AUTO = from the cache budget
 * @param whiten mha2mla: factorise in the metric of the calibration activations (activation-aware SVD)
 * @param refit mha2mla: least-squares refit of the up-projections on the calibration statistics
 * @param queryFit mha2mla: fit the nope queries to the original's rotated scores on single calibration tokens
 *     ({@link QueryFit}); made where the converter searches (small models)
 * @param attentionFit mha2mla: after the closed form, fit every attention matrix of each converted layer jointly to
 *     the original attention's outputs on the calibration sequences ({@link AttentionFit}); where the converter searches
 * @param freqFold transmla: adjacent frequencies folded into one group (F); AUTO = chosen by calibration
 * @param kvLoraRank transmla: latent size C; AUTO = min(512, 2*n_kv*d_h - m)
 * @param ropeDim transmla: shared rope key dims m; AUTO = min(64, d_h)
 * @param qLoraRank transmla: rank of the query compression (attn_q_a/attn_q_b, q-LoRA); 0 = a plain attn_q
 * @param pcaFromActivations transmla: BKV-PCA on calibration activations (true) or on the weights only
 * @param latentNorm transmla: exact (identity by construction) or calibrated (trainable) attn_kv_a_norm
 * @param cacheValues total cache values per token and layer to aim for (overrides ranks when set); AUTO = unset
 * @param outType weight type of the output's matrices (F32, F16, BF16, Q8_0, Q4_0); null = the source's
 * @param calibration plain-text calibration file, or null to let the model generate its own text
 * @param calibTokens calibration tokens
 * @param calibSequence tokens per calibration sequence
 * @param seed seed of the generated calibration text
 * @param threads compute threads (0 = all)
 */
public record ConvertOptions(Method method, boolean lossless, RopeSelect ropeSelect, int ropeDims, SvdMode svd,
        int kvRank, boolean whiten, boolean refit, boolean queryFit, boolean attentionFit, int freqFold, int kvLoraRank, int ropeDim, int qLoraRank,
        boolean pcaFromActivations, LatentNorm latentNorm, int cacheValues, GgmlType outType, Path calibration,
        int calibTokens, int calibSequence, long seed, int threads) {

    public static final int AUTO = -1;

    public enum Method { MHA2MLA, TRANSMLA }

    public enum RopeSelect {
        HIGH, LOW, UNIFORM, TWO_NORM,
        /** The 2-norm score weighted by how much each frequency rotates over the calibration context. */
        ROTATION_AWARE
    }

    public enum SvdMode { JOINT, SPLIT }

    public enum LatentNorm { EXACT, CALIBRATED }

    public static ConvertOptions defaults(Method method) {
        return new ConvertOptions(method, false, RopeSelect.ROTATION_AWARE, AUTO, SvdMode.JOINT, AUTO, true, false, true, true,
                AUTO, AUTO, AUTO, 0, true, LatentNorm.EXACT, AUTO, null, null, 2048, 256, org.mla4j.eval.SampledText.CALIBRATION_SEED, 0);
    }

    /** {@return the papers' own choices: S_2-norm + SVD_joint (mha2mla); RoRoPE + FreqFold + weight-only PCA (transmla)} */
    public static ConvertOptions paperBaseline(Method method) {
        return defaults(method).withRopeSelect(RopeSelect.TWO_NORM).withWhiten(false).withQueryFit(false).withAttentionFit(false)
                .withPcaFromActivations(false);
    }

    public ConvertOptions withLossless(boolean v) {
        return with(b -> b.lossless = v);
    }
    public ConvertOptions withRopeSelect(RopeSelect v) {
        return with(b -> b.ropeSelect = v);
    }
    public ConvertOptions withRopeDims(int v) {
        return with(b -> b.ropeDims = v);
    }
    public ConvertOptions withSvd(SvdMode v) {
        return with(b -> b.svd = v);
    }
    public ConvertOptions withKvRank(int v) {
        return with(b -> b.kvRank = v);
    }
    public ConvertOptions withWhiten(boolean v) {
        return with(b -> b.whiten = v);
    }
    public ConvertOptions withRefit(boolean v) {
        return with(b -> b.refit = v);
    }
    public ConvertOptions withQueryFit(boolean v) {
        return with(b -> b.queryFit = v);
    }
    public ConvertOptions withAttentionFit(boolean v) {
        return with(b -> b.attentionFit = v);
    }
    public ConvertOptions withFreqFold(int v) {
        return with(b -> b.freqFold = v);
    }
    public ConvertOptions withKvLoraRank(int v) {
        return with(b -> b.kvLoraRank = v);
    }
    public ConvertOptions withRopeDim(int v) {
        return with(b -> b.ropeDim = v);
    }
    public ConvertOptions withQLoraRank(int v) {
        return with(b -> b.qLoraRank = v);
    }

    public ConvertOptions withPcaFromActivations(boolean v) {
        return with(b -> b.pcaFromActivations = v);
    }
    public ConvertOptions withLatentNorm(LatentNorm v) {
        return with(b -> b.latentNorm = v);
    }
    public ConvertOptions withCacheValues(int v) {
        return with(b -> b.cacheValues = v);
    }
    public ConvertOptions withOutType(GgmlType v) {
        return with(b -> b.outType = v);
    }
    public ConvertOptions withThreads(int v) {
        return with(b -> b.threads = v);
    }
    public ConvertOptions withCalibration(Path file, int tokens, int sequence, long seedValue) {
        return with(b -> {
            b.calibration = file;
            b.calibTokens = tokens;
            b.calibSequence = sequence;
            b.seed = seedValue;
        });
    }

    /** A copy with one or more fields changed (the with* methods). */
    private ConvertOptions with(java.util.function.Consumer<Fields> change) {
        Fields f = new Fields(this);
        change.accept(f);
        return f.build();
    }

    /** The mutable fields behind the with* methods. */
    private static final class Fields {
        Method method;
        boolean lossless;
        RopeSelect ropeSelect;
        int ropeDims;
        SvdMode svd;
        int kvRank;
        boolean whiten;
        boolean refit;
        boolean queryFit;
        boolean attentionFit;
        int freqFold;
        int kvLoraRank;
        int ropeDim;
        int qLoraRank;
        boolean pcaFromActivations;
        LatentNorm latentNorm;
        int cacheValues;
        GgmlType outType;
        Path calibration;
        int calibTokens;
        int calibSequence;
        long seed;
        int threads;

        Fields(ConvertOptions o) {
            method = o.method();
            lossless = o.lossless();
            ropeSelect = o.ropeSelect();
            ropeDims = o.ropeDims();
            svd = o.svd();
            kvRank = o.kvRank();
            whiten = o.whiten();
            refit = o.refit();
            queryFit = o.queryFit();
            attentionFit = o.attentionFit();
            freqFold = o.freqFold();
            kvLoraRank = o.kvLoraRank();
            ropeDim = o.ropeDim();
            qLoraRank = o.qLoraRank();
            pcaFromActivations = o.pcaFromActivations();
            latentNorm = o.latentNorm();
            cacheValues = o.cacheValues();
            outType = o.outType();
            calibration = o.calibration();
            calibTokens = o.calibTokens();
            calibSequence = o.calibSequence();
            seed = o.seed();
            threads = o.threads();
        }

        ConvertOptions build() {
            return new ConvertOptions(method, lossless, ropeSelect, ropeDims, svd, kvRank, whiten, refit, queryFit, attentionFit, freqFold, kvLoraRank, ropeDim, qLoraRank, pcaFromActivations, latentNorm, cacheValues, outType, calibration, calibTokens, calibSequence, seed, threads);
        }
    }
}
