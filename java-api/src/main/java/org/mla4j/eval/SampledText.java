package org.mla4j.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.LongConsumer;

import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.sampling.Sampler;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.tokenizer.Tokenizer;

/**
 * Text a model writes itself, as token sequences: calibration data for the converter and evaluation data for
 * {@link Evaluator} without any dataset. Each sequence starts with BOS and is sampled from the model's full
 * distribution (temperature 1, no top-k/top-p/min-p, no repetition penalty): truncated sampling would drop the
 * tail the converted model must also get right and would make the text easier (lower perplexity) than what the
 * model really predicts. A sequence ends after an end-of-generation token (kept: predicting it is part of the
 * text) or at the maximum length; the next one starts again from BOS. The whole run uses one seeded sampler, so
 * a seed gives the same sequences on the same model and kernels.
 */
public final class SampledText {

    /** The seed the converter samples its calibration text with. */
    public static final long CALIBRATION_SEED = 42;
    /** The seed {@code mla4j eval} samples with by default: other text than the calibration text. */
    public static final long EVALUATION_SEED = 1234;
    /** Longest default sequence: longer ones cost quadratic attention for little more information. */
    public static final int MAX_DEFAULT_LENGTH = 512;

    private SampledText() {
    }

    /**
     * {@return min(512, the model's training context)}
     *
     * @param model the model
     */
    public static int defaultMaxLength(Model model) {
        return Math.min(MAX_DEFAULT_LENGTH, model.hparams().contextLength());
    }

    /**
     * {@return {@link #generate(Model, int, long, int, int, LongConsumer)} with {@link #defaultMaxLength(Model)}}
     *
     * @param model the model that writes the text
     * @param nTokens tokens in all, BOS tokens included
     * @param seed the sampler's seed
     * @param threads compute threads, 0 = all CPUs
     * @param progress told the number of tokens produced so far, may be null
     */
    public static List<int[]> generate(Model model, int nTokens, long seed, int threads, LongConsumer progress) {
        return generate(model, nTokens, seed, defaultMaxLength(model), threads, progress);
    }

    /**
     * Samples sequences holding exactly {@code nTokens} tokens in all, BOS tokens included.
     *
     * @param maxLength the most tokens of one sequence, BOS included (at least 2)
     * @param threads compute threads, 0 = all CPUs
     * @param progress told the number of tokens produced so far (BOS included), may be null
     * @param model the model that writes the text
     * @param nTokens tokens in all, BOS tokens included
     * @param seed the sampler's seed
     * @return the sequences, each starting with BOS
     */
    public static List<int[]> generate(Model model, int nTokens, long seed, int maxLength, int threads,
            LongConsumer progress) {
        Objects.requireNonNull(model, "model");
        if (nTokens < 1) throw new IllegalArgumentException("nTokens must be >= 1, got " + nTokens);
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be >= 2, got " + maxLength);
        Tokenizer tokenizer = model.tokenizer();
        int bos = bosOf(model);
        Sampler sampler = new Sampler(new SamplerConfig(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, seed));
        List<int[]> sequences = new ArrayList<>();
        long produced = 0;
        Session.Options options = Session.Options.defaults().withThreads(threads).withContextSize(maxLength);
        try (Session session = model.newSession(options)) {
            while (produced < nTokens) {
                int length = (int) Math.min(maxLength, nTokens - produced);
                int[] seq = new int[length];
                seq[0] = bos;
                int n = 1;
                produced++;
                report(progress, produced);
                session.reset();
                float[] logits = length > 1 ? session.eval(bos) : null;
                while (n < length) {
                    int token = sampler.sample(logits);
                    seq[n++] = token;
                    produced++;
                    report(progress, produced);
                    if (tokenizer.isEndOfGeneration(token)) break;
                    if (n < length) logits = session.eval(token);
                }
                sequences.add(n == length ? seq : Arrays.copyOf(seq, n));
            }
        }
        return sequences;
    }

    /** Sequences written at once by {@link #generateParallel}. */
    public static final int PARALLEL_SEQUENCES = 8;

    /**
     * As {@link #generate(Model, int, long, int, int, LongConsumer)}, but up to {@value #PARALLEL_SEQUENCES} sequences
     * are written at once, one row each per forward pass of a {@link org.mla4j.BatchContext}: the weights are read once
     * for all of them, which is what decoding a large model costs (several times faster than one sequence at a time).
     * Each sequence of a wave has its own sampler, seeded with seed + its index, so the text differs from
     * {@link #generate}'s for the same seed (the same for the same seed, model and kernels).
     *
     * @param model the model that writes the text
     * @param nTokens tokens in all, BOS tokens included
     * @param seed the first sampler's seed
     * @param maxLength the most tokens of one sequence, BOS included (at least 2)
     * @param threads compute threads, 0 = all CPUs
     * @param progress told the number of tokens produced so far (BOS included), may be null
     * @return the sequences, each starting with BOS
     */
    public static List<int[]> generateParallel(Model model, int nTokens, long seed, int maxLength, int threads,
            LongConsumer progress) {
        Objects.requireNonNull(model, "model");
        if (nTokens < 1) throw new IllegalArgumentException("nTokens must be >= 1, got " + nTokens);
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be >= 2, got " + maxLength);
        Tokenizer tokenizer = model.tokenizer();
        int bos = bosOf(model);
        List<int[]> sequences = new ArrayList<>();
        long produced = 0;
        int context = (maxLength + 63) / 64 * 64;
        org.mla4j.BatchContext.Options options = org.mla4j.BatchContext.Options.defaults(PARALLEL_SEQUENCES)
                .withContextSize(context).withThreads(threads);
        try (org.mla4j.BatchContext batch = model.newBatchContext(options)) {
            long index = 0;
            while (produced < nTokens) {
                // A wave: as many sequences as the tokens still wanted need, at most PARALLEL_SEQUENCES.
                int count = (int) Math.min(PARALLEL_SEQUENCES, (nTokens - produced + maxLength - 1) / maxLength);
                int[][] seq = new int[count][];
                int[] n = new int[count], ids = new int[count];
                Sampler[] samplers = new Sampler[count];
                long left = nTokens - produced;
                for (int i = 0; i < count; i++) {
                    seq[i] = new int[(int) Math.min(maxLength, left - (long) i * maxLength)];
                    seq[i][0] = bos;
                    n[i] = 1;
                    ids[i] = batch.add().id();
                    samplers[i] = new Sampler(new SamplerConfig(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, seed + index++));
                    produced++;
                }
                report(progress, produced);
                boolean[] done = new boolean[count];
                int[] last = new int[count];
                for (int i = 0; i < count; i++) {
                    last[i] = bos;
                    done[i] = seq[i].length == 1;
                }
                while (true) {
                    int rows = 0;
                    for (int i = 0; i < count; i++) if (!done[i]) rows++;
                    if (rows == 0) break;
                    int[] rid = new int[rows], rpos = new int[rows], rtok = new int[rows], which = new int[rows];
                    for (int i = 0, k = 0; i < count; i++) {
                        if (done[i]) continue;
                        rid[k] = ids[i];
                        rpos[k] = n[i] - 1;
                        rtok[k] = last[i];
                        which[k++] = i;
                    }
                    batch.decode(rid, rpos, rtok, null);
                    for (int k = 0; k < rows; k++) {
                        int i = which[k];
                        int token = samplers[i].sample(batch.logits(k));
                        seq[i][n[i]++] = token;
                        last[i] = token;
                        produced++;
                        if (n[i] == seq[i].length || tokenizer.isEndOfGeneration(token)) done[i] = true;
                    }
                    report(progress, produced);
                }
                for (int i = 0; i < count; i++) {
                    batch.remove(ids[i]);
                    // An early end leaves tokens unwritten: produced counts only those written, the next wave adds them.
                    sequences.add(n[i] == seq[i].length ? seq[i] : Arrays.copyOf(seq[i], n[i]));
                }
            }
        }
        return sequences;
    }

    /** The model's BOS id, or a clear error when its vocabulary has none. */
    static int bosOf(Model model) {
        int bos = model.tokenizer().bos();
        if (bos < 0 || bos >= model.hparams().vocabSize()) {
            throw new IllegalArgumentException(model.path() + ": the vocabulary has no BOS token to start sequences with");
        }
        return bos;
    }

    private static void report(LongConsumer progress, long produced) {
        if (progress != null) progress.accept(produced);
    }
}
