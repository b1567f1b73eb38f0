package org.mla4j.eval;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongConsumer;

import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;

/**
 * Fidelity of a converted model to its original (the reference) on token sequences.
 *
 * <p>Each sequence runs through both models from an empty KV cache. Position t of a sequence of length n (t = 0 ..
 * n-2) predicts token t+1 from tokens 0..t; only these n-1 positions per sequence are counted (the last position
 * predicts nothing that is known). Per position, in double precision from the float logits, with natural logs:
 * NLL = -log softmax(logits)[token t+1] under each model (perplexity = exp(mean NLL)); KL(reference || converted) =
 * sum_i p_ref(i) (log p_ref(i) - log p_conv(i)); top-1 agreement when both argmaxes (ties: lowest id) are equal; and
 * max |logit_ref(i) - logit_conv(i)| over the vocabulary. Means are over all counted positions of all sequences.
 */
public final class Evaluator {

    /** Logits held per model and chunk of positions: 16M floats (64 MiB), whatever the vocabulary size. */
    private static final int CHUNK_FLOATS = 1 << 24;

    /**
     * Evaluation settings.
     *
     * @param threads compute threads per model, 0 = all CPUs
     * @param contextSize KV cache positions; 0 = the longest sequence. Longer sequences are an error.
     * @param referenceKvType KV cache type of the reference model's session
     * @param convertedKvType KV cache type of the converted model's session (e.g. Q8_0 to measure a quantized
     *        latent cache)
     */
    public record Options(int threads, int contextSize, GgmlType referenceKvType, GgmlType convertedKvType) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException when a count is negative
         * @throws NullPointerException when a cache type is null
         */
        public Options {
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (contextSize < 0) throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
            Objects.requireNonNull(referenceKvType, "referenceKvType");
            Objects.requireNonNull(convertedKvType, "convertedKvType");
        }

        /** {@return all CPUs, context of the longest sequence, F16 caches (llama.cpp's default) for both} */
        public static Options defaults() {
            return new Options(0, 0, GgmlType.F16, GgmlType.F16);
        }

        /**
         * {@return these options with another thread count}
         *
         * @param n compute threads per model, 0 = all CPUs
         */
        public Options withThreads(int n) {
            return new Options(n, contextSize, referenceKvType, convertedKvType);
        }

        /**
         * {@return these options with another context size}
         *
         * @param n KV cache positions; 0 = the longest sequence
         */
        public Options withContextSize(int n) {
            return new Options(threads, n, referenceKvType, convertedKvType);
        }

        /**
         * {@return these options with another cache type for the reference}
         *
         * @param t the reference session's KV cache type
         */
        public Options withReferenceKvType(GgmlType t) {
            return new Options(threads, contextSize, t, convertedKvType);
        }

        /**
         * {@return these options with another cache type for the converted model}
         *
         * @param t the converted session's KV cache type
         */
        public Options withConvertedKvType(GgmlType t) {
            return new Options(threads, contextSize, referenceKvType, t);
        }
    }

    private Evaluator() {
    }

    /**
     * Throws {@link IllegalArgumentException} naming both files when the models' vocabularies differ (size or
     * token texts), since their logits would then not be over the same tokens.
     *
     * @param reference the original model
     * @param converted the converted model
     */
    public static void checkCompatible(Model reference, Model converted) {
        int nr = reference.hparams().vocabSize();
        int nc = converted.hparams().vocabSize();
        if (nr != nc) {
            throw new IllegalArgumentException("cannot compare " + converted.path() + " with " + reference.path()
                    + ": n_vocab is " + nc + " in the converted model and " + nr + " in the reference");
        }
        String key = "tokenizer.ggml.tokens";
        Optional<List<String>> tr = reference.gguf().getStringArray(key);
        Optional<List<String>> tc = converted.gguf().getStringArray(key);
        if (tr.isEmpty() || tc.isEmpty()) {
            throw new IllegalArgumentException("cannot compare " + converted.path() + " with " + reference.path() + ": "
                    + (tr.isEmpty() ? reference.path() : converted.path()) + " has no " + key);
        }
        List<String> a = tr.get();
        List<String> b = tc.get();
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            if (!a.get(i).equals(b.get(i))) {
                throw new IllegalArgumentException("cannot compare " + converted.path() + " with " + reference.path()
                        + ": their tokenizers differ at token " + i + " ('" + b.get(i) + "' in the converted model, '"
                        + a.get(i) + "' in the reference)");
            }
        }
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("cannot compare " + converted.path() + " with " + reference.path()
                    + ": " + key + " has " + b.size() + " entries in the converted model and " + a.size()
                    + " in the reference");
        }
    }

    /**
     * Evaluates the converted model against the reference on the sequences.
     *
     * @param sequences token ids (e.g. from {@link SampledText} or {@link TextSequences}); a sequence of n tokens
     *        gives n-1 predicted positions (a lone BOS, which SampledText may end with, gives none)
     * @param progress told the number of positions counted so far, may be null
     * @param reference the original model
     * @param converted the converted model
     * @param options threads, context size and cache types
     * @return the figures over all predicted positions
     */
    public static EvalResult evaluate(Model reference, Model converted, List<int[]> sequences, Options options,
            LongConsumer progress) {
        Objects.requireNonNull(options, "options");
        checkCompatible(reference, converted);
        int vocab = reference.hparams().vocabSize();
        int longest = 0;
        for (int i = 0; i < sequences.size(); i++) {
            int[] s = sequences.get(i);
            if (s.length == 0) throw new IllegalArgumentException("sequence " + i + " is empty");
            for (int t = 0; t < s.length; t++) {
                if (s[t] < 0 || s[t] >= vocab) {
                    throw new IllegalArgumentException("sequence " + i + " position " + t + ": token id " + s[t]
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            longest = Math.max(longest, s.length);
        }
        if (longest < 2) {
            throw new IllegalArgumentException("no position to evaluate: every sequence needs at least 2 tokens to "
                    + "predict one (given " + sequences.size() + " sequence(s) of at most " + longest + ")");
        }
        int ctx = options.contextSize() == 0 ? longest : options.contextSize();
        if (longest > ctx) {
            throw new IllegalArgumentException("a sequence has " + longest + " tokens, more than the context size " + ctx);
        }
        Session.Options base = Session.Options.defaults().withThreads(options.threads()).withContextSize(ctx);
        int chunk = Math.max(1, Math.min(ctx, CHUNK_FLOATS / vocab));
        PositionStats stats = new PositionStats(vocab, reference.path().toString(), converted.path().toString());
        try (Session ref = reference.newSession(base.withKvType(options.referenceKvType()));
             Session conv = converted.newSession(base.withKvType(options.convertedKvType()))) {
            for (int i = 0; i < sequences.size(); i++) {
                int[] seq = sequences.get(i);
                ref.reset();
                conv.reset();
                // Positions 0..n-2 are counted; the last token is only ever a target, so it is never evaluated.
                int counted = seq.length - 1;
                for (int start = 0; start < counted; start += chunk) {
                    int end = Math.min(counted, start + chunk);
                    int[] tokens = Arrays.copyOfRange(seq, start, end);
                    float[][] lr = ref.evalAllLogits(tokens);
                    float[][] lc = conv.evalAllLogits(tokens);
                    for (int t = start; t < end; t++) {
                        stats.add(lr[t - start], lc[t - start], seq[t + 1], i, t);
                    }
                    if (progress != null) progress.accept(stats.positions());
                }
            }
        }
        return stats.result();
    }
}
