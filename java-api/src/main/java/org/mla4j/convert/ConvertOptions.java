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
 * @param fitSeconds time budget of the attention fit per layer, in seconds (the steps are cut to fit it)
 */
public record ConvertOptions(Method method, boolean lossless, RopeSelect ropeSelect, int ropeDims, SvdMode svd,
        int kvRank, boolean whiten, boolean refit, boolean queryFit, boolean attentionFit, int freqFold, int kvLoraRank, int ropeDim, int qLoraRank,
        boolean pcaFromActivations, LatentNorm latentNorm, int cacheValues, GgmlType outType, Path calibration,
        int calibTokens, int calibSequence, long seed, int threads, double fitSeconds) {

    /** A value the converter chooses (from the budget, the defaults or calibration). */
    public static final int AUTO = -1;

    /** The conversion method. */
    public enum Method {
        /** MHA2MLA: partial RoPE and low-rank K/V, written as our mha2mla architecture. */
        MHA2MLA,
        /** TransMLA: RoRoPE, FreqFold and BKV-PCA, written as a stock deepseek2 model. */
        TRANSMLA
    }

    /** How mha2mla chooses the frequencies that keep RoPE in each (layer, KV head). */
    public enum RopeSelect {
        /** The highest frequencies. */
        HIGH,
        /** The lowest frequencies. */
        LOW,
        /** Frequencies spread uniformly. */
        UNIFORM,
        /** The frequencies whose query and key pair norms are largest on the calibration text (the paper's S_2-norm). */
        TWO_NORM,
        /** The 2-norm score weighted by how much each frequency rotates over the calibration context. */
        ROTATION_AWARE
    }

    /** How mha2mla factorises the non-RoPE keys and the values. */
    public enum SvdMode {
        /** One latent shared by keys and values. */
        JOINT,
        /** Separate latents for keys and values. */
        SPLIT
    }

    /** The latent norm (attn_kv_a_norm) transmla writes. */
    public enum LatentNorm {
        /** An identity by construction (the latent is scaled so that the norm changes nothing). */
        EXACT,
        /** Weights calibrated on the calibration text (trainable further). */
        CALIBRATED
    }

    /**
     * {@return the defaults of a method (what {@code mla4j convert} does without options)}
     *
     * @param method the conversion method
     */
    public static ConvertOptions defaults(Method method) {
        return new ConvertOptions(method, false, RopeSelect.ROTATION_AWARE, AUTO, SvdMode.JOINT, AUTO, true, false, true, true,
                AUTO, AUTO, AUTO, 0, true, LatentNorm.EXACT, AUTO, null, null, 2048, 256, org.mla4j.eval.SampledText.CALIBRATION_SEED, 0,
                AttentionFit.SECONDS_PER_LAYER);
    }

    /**
     * {@return the papers' own choices: S_2-norm + SVD_joint (mha2mla); RoRoPE + FreqFold + weight-only PCA (transmla)}
     *
     * @param method the conversion method
     */
    public static ConvertOptions paperBaseline(Method method) {
        return defaults(method).withRopeSelect(RopeSelect.TWO_NORM).withWhiten(false).withQueryFit(false).withAttentionFit(false)
                .withPcaFromActivations(false);
    }

    /**
     * {@return these options with another lossless}
     *
     * @param v whether to write the exact form
     */
    public ConvertOptions withLossless(boolean v) {
        return with(b -> b.lossless = v);
    }
    /**
     * {@return these options with another ropeSelect}
     *
     * @param v how mha2mla chooses the frequencies that keep RoPE
     */
    public ConvertOptions withRopeSelect(RopeSelect v) {
        return with(b -> b.ropeSelect = v);
    }
    /**
     * {@return these options with another ropeDims}
     *
     * @param v mha2mla: RoPE dims kept per KV head (even)
     */
    public ConvertOptions withRopeDims(int v) {
        return with(b -> b.ropeDims = v);
    }
    /**
     * {@return these options with another svd}
     *
     * @param v mha2mla: joint or split factorisation
     */
    public ConvertOptions withSvd(SvdMode v) {
        return with(b -> b.svd = v);
    }
    /**
     * {@return these options with another kvRank}
     *
     * @param v mha2mla: latent dims per KV head
     */
    public ConvertOptions withKvRank(int v) {
        return with(b -> b.kvRank = v);
    }
    /**
     * {@return these options with another whiten}
     *
     * @param v mha2mla: whether the SVD is whitened by the calibration covariance
     */
    public ConvertOptions withWhiten(boolean v) {
        return with(b -> b.whiten = v);
    }
    /**
     * {@return these options with another refit}
     *
     * @param v mha2mla: whether the up-projections are refitted by least squares
     */
    public ConvertOptions withRefit(boolean v) {
        return with(b -> b.refit = v);
    }
    /**
     * {@return these options with another queryFit}
     *
     * @param v mha2mla: whether the queries are fitted (small models)
     */
    public ConvertOptions withQueryFit(boolean v) {
        return with(b -> b.queryFit = v);
    }
    /**
     * {@return these options with another attentionFit}
     *
     * @param v mha2mla: whether each layer's attention is fitted (small models)
     */
    public ConvertOptions withAttentionFit(boolean v) {
        return with(b -> b.attentionFit = v);
    }
    /**
     * {@return these options with another freqFold}
     *
     * @param v transmla: FreqFold F, or AUTO
     */
    public ConvertOptions withFreqFold(int v) {
        return with(b -> b.freqFold = v);
    }
    /**
     * {@return these options with another kvLoraRank}
     *
     * @param v transmla: latent size C, or AUTO
     */
    public ConvertOptions withKvLoraRank(int v) {
        return with(b -> b.kvLoraRank = v);
    }
    /**
     * {@return these options with another ropeDim}
     *
     * @param v transmla: shared rope key dims m, or AUTO
     */
    public ConvertOptions withRopeDim(int v) {
        return with(b -> b.ropeDim = v);
    }
    /**
     * {@return these options with another qLoraRank}
     *
     * @param v transmla: query compression rank; 0 = a plain attn_q
     */
    public ConvertOptions withQLoraRank(int v) {
        return with(b -> b.qLoraRank = v);
    }

    /**
     * {@return these options with another pcaFromActivations}
     *
     * @param v transmla: BKV-PCA from calibration activations (true) or the weights
     */
    public ConvertOptions withPcaFromActivations(boolean v) {
        return with(b -> b.pcaFromActivations = v);
    }
    /**
     * {@return these options with another latentNorm}
     *
     * @param v transmla: exact or calibrated latent norm
     */
    public ConvertOptions withLatentNorm(LatentNorm v) {
        return with(b -> b.latentNorm = v);
    }
    /**
     * {@return these options with another cacheValues}
     *
     * @param v cache values per token and layer to aim for, or AUTO
     */
    public ConvertOptions withCacheValues(int v) {
        return with(b -> b.cacheValues = v);
    }
    /**
     * {@return these options with another outType}
     *
     * @param v weight type of the output's matrices; null = the source's
     */
    public ConvertOptions withOutType(GgmlType v) {
        return with(b -> b.outType = v);
    }
    /**
     * {@return these options with another threads}
     *
     * @param v compute threads (0 = all)
     */
    public ConvertOptions withThreads(int v) {
        return with(b -> b.threads = v);
    }
    /**
     * {@return these options with another fitSeconds}
     *
     * @param v time budget of the attention fit per layer, in seconds
     */
    public ConvertOptions withFitSeconds(double v) {
        return with(b -> b.fitSeconds = v);
    }

    /**
     * {@return these options with other calibration settings}
     *
     * @param file      plain-text calibration file, or null to let the model generate its own text
     * @param tokens    calibration tokens
     * @param sequence  tokens per calibration sequence
     * @param seedValue seed of the generated calibration text
     */
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
        double fitSeconds;

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
            fitSeconds = o.fitSeconds();
        }

        ConvertOptions build() {
            return new ConvertOptions(method, lossless, ropeSelect, ropeDims, svd, kvRank, whiten, refit, queryFit, attentionFit, freqFold, kvLoraRank, ropeDim, qLoraRank, pcaFromActivations, latentNorm, cacheValues, outType, calibration, calibTokens, calibSequence, seed, threads, fitSeconds);
        }
    }
}
