package org.mla4j;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.mla4j.sampling.Sampler;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.tokenizer.Tokenizer;

/**
 * Streaming text generation on a {@link Session}: the prompt is evaluated in one batch, then one token is sampled
 * and evaluated at a time. Use it as an iterator of {@link Token}s or with {@link #run(Listener)}; {@link #cancel()}
 * stops it from any thread (a prompt being evaluated is interrupted too).
 */
public final class Generation implements Iterator<Generation.Token> {

    /**
     * One generated token and the text it completes.
     *
     * @param id   the token id
     * @param text the text it completes (empty while a multi-byte character is still incomplete)
     */
    public record Token(int id, String text) {
    }

    /** Why generation ended. */
    public enum StopReason {
        /** The requested number of tokens was generated. */
        MAX_TOKENS,
        /** The model generated an end-of-generation token (EOS, EOT). */
        END_OF_GENERATION,
        /** The session's KV cache is full. */
        CONTEXT_FULL,
        /** {@link Generation#cancel()} (or the session's cancel) stopped it. */
        CANCELLED
    }

    /**
     * Generation options.
     *
     * @param maxTokens tokens to generate at most
     * @param addSpecial add BOS (and whatever else the vocabulary asks for) in front of the prompt
     * @param parseSpecial recognise control-token text such as "&lt;s&gt;" in the prompt
     * @param stopAtEndOfGeneration stop at EOS/EOT tokens
     * @param sampler sampling configuration
     */
    public record Options(int maxTokens, boolean addSpecial, boolean parseSpecial, boolean stopAtEndOfGeneration,
            SamplerConfig sampler) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException when maxTokens is negative
         */
        public Options {
            if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + maxTokens);
        }

        /**
         * The usual options: BOS added, control-token text not parsed, stop at end of generation.
         *
         * @param maxTokens tokens to generate at most
         * @param sampler   sampling configuration
         * @return the options
         */
        public static Options of(int maxTokens, SamplerConfig sampler) {
            return new Options(maxTokens, true, false, true, sampler);
        }
    }

    /**
     * Timing and counts, available once generation has ended.
     *
     * @param promptTokens    prompt tokens evaluated (a cached prefix not counted)
     * @param promptNanos     time spent evaluating them
     * @param generatedTokens tokens generated
     * @param generationNanos time spent generating them (after the prompt)
     * @param stopReason      why generation ended
     */
    public record Stats(int promptTokens, long promptNanos, int generatedTokens, long generationNanos,
            StopReason stopReason) {
        /** {@return prompt evaluation speed in tokens per second (0 when nothing was timed)} */
        public double promptTokensPerSecond() {
            return promptNanos == 0 ? 0 : promptTokens * 1e9 / promptNanos;
        }

        /**
         * Generation speed; the first generated token is sampled from the prompt's logits, so n-1 evals count.
         *
         * @return tokens per second (0 when nothing was timed)
         */
        public double generationTokensPerSecond() {
            return generationNanos == 0 ? 0 : Math.max(0, generatedTokens - 1) * 1e9 / generationNanos;
        }
    }

    /** Receives tokens as they are generated; return false to stop. */
    @FunctionalInterface
    public interface Listener {
        /**
         * Receives one token.
         *
         * @param token the token just generated
         * @return true to go on, false to stop generation here
         */
        boolean onToken(Token token);
    }

    private final Session session;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final Options options;
    private final int[] prompt;
    private final int cachedPrefix;
    private final Tokenizer.StreamDecoder decoder;
    private final List<Integer> generated = new ArrayList<>();
    private volatile boolean cancelled;
    /** Orders cancel() against the end of generation, which withdraws a request that no eval consumed. */
    private final Object cancelLock = new Object();
    private boolean started;
    private Token pending;
    private volatile StopReason stopReason;
    private long promptNanos;
    private long generationStart;
    private long generationNanos;

    /**
     * Generation after a text prompt, tokenized as the options say; nothing is evaluated before the first
     * {@link #next()} or {@link #run}.
     *
     * @param session   the session whose KV cache the prompt and the tokens go into (from its current position)
     * @param tokenizer the model's tokenizer
     * @param prompt    the prompt text
     * @param options   generation options
     */
    public Generation(Session session, Tokenizer tokenizer, String prompt, Options options) {
        this(session, tokenizer, tokenizer.encode(prompt, options.addSpecial(), options.parseSpecial()), 0, options);
    }

    /**
     * Generation after a prompt given as token ids, of which the first {@code cachedPrefix} are already in the
     * session's KV cache (its position must be {@code cachedPrefix}); the rest are evaluated as the prompt. All of
     * them count for the repetition penalty. A chat keeps its conversation in the cache this way.
     *
     * @param session      the session holding the cached prefix
     * @param tokenizer    the model's tokenizer
     * @param promptTokens the whole prompt's token ids, the cached prefix included
     * @param cachedPrefix how many of them the KV cache already holds
     * @param options      generation options (addSpecial and parseSpecial are not used: the prompt is tokenized)
     */
    public Generation(Session session, Tokenizer tokenizer, int[] promptTokens, int cachedPrefix, Options options) {
        this.session = session;
        this.tokenizer = tokenizer;
        this.options = options;
        this.sampler = new Sampler(options.sampler());
        this.prompt = promptTokens.clone();
        this.cachedPrefix = cachedPrefix;
        this.decoder = tokenizer.newStreamDecoder();
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens)");
        if (cachedPrefix < 0 || cachedPrefix >= prompt.length) {
            throw new IllegalArgumentException("cachedPrefix " + cachedPrefix + " must leave at least one of the "
                    + prompt.length + " prompt tokens to evaluate");
        }
    }

    /** {@return the prompt's token ids, as evaluated} */
    public int[] promptTokens() {
        return prompt.clone();
    }

    /** {@return the ids generated so far} */
    public int[] generatedTokens() {
        return generated.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Stops generation soon; safe from any thread. The request reaches the session only while this generation
     * runs, so it never cancels a later, unrelated eval.
     */
    public void cancel() {
        synchronized (cancelLock) {
            cancelled = true;
            if (stopReason == null) session.cancel();
        }
    }

    @Override
    public boolean hasNext() {
        if (pending == null && stopReason == null) pending = step();
        return pending != null;
    }

    @Override
    public Token next() {
        if (!hasNext()) throw new NoSuchElementException("generation has ended: " + stopReason);
        Token t = pending;
        pending = null;
        return t;
    }

    /**
     * Runs to the end, handing each token to the listener.
     *
     * @param listener receives each token; returning false stops generation
     * @return the statistics
     */
    public Stats run(Listener listener) {
        while (hasNext()) {
            if (!listener.onToken(next())) {
                stop(StopReason.CANCELLED);
                break;
            }
        }
        return stats();
    }

    /** {@return the statistics; complete once {@link #hasNext()} has returned false} */
    public Stats stats() {
        return new Stats(prompt.length - cachedPrefix, promptNanos, generated.size(), generationNanos,
                stopReason == null ? StopReason.MAX_TOKENS : stopReason);
    }

    /**
     * Text still held by the stream decoder (an incomplete character at the end); call after the last token.
     *
     * @return that text, usually ""
     */
    public String flush() {
        return decoder.flush();
    }

    private Token step() {
        try {
            if (!started) {
                started = true;
                for (int id : prompt) sampler.accept(id);
                long t0 = System.nanoTime();
                int[] fresh = java.util.Arrays.copyOfRange(prompt, cachedPrefix, prompt.length);
                if (session.position() != cachedPrefix) {
                    throw new IllegalStateException("the session holds " + session.position() + " tokens, not the "
                            + cachedPrefix + " cached prompt tokens");
                }
                if (fresh.length > session.contextSize() - session.position()) return stop(StopReason.CONTEXT_FULL);
                session.withdrawCancel(); // a request left over from an earlier, finished generation
                session.eval(fresh);
                promptNanos = System.nanoTime() - t0;
                generationStart = System.nanoTime();
            } else {
                if (cancelled) return stop(StopReason.CANCELLED);
                if (generated.size() >= options.maxTokens()) return stop(StopReason.MAX_TOKENS);
                if (session.position() >= session.contextSize()) return stop(StopReason.CONTEXT_FULL);
                session.eval(generated.get(generated.size() - 1));
            }
            if (cancelled) return stop(StopReason.CANCELLED);
            if (generated.size() >= options.maxTokens()) return stop(StopReason.MAX_TOKENS);
            int id = sampler.sample(session.logits());
            sampler.accept(id);
            if (options.stopAtEndOfGeneration() && tokenizer.isEndOfGeneration(id)) {
                return stop(StopReason.END_OF_GENERATION);
            }
            generated.add(id);
            generationNanos = System.nanoTime() - generationStart;
            return new Token(id, decoder.push(id));
        } catch (Mla4jException e) {
            if (cancelled && e.statusName().equals("MLA4J_ERR_CANCELLED")) return stop(StopReason.CANCELLED);
            throw e;
        }
    }

    private Token stop(StopReason reason) {
        if (stopReason == null) {
            synchronized (cancelLock) {
                stopReason = reason;
                // A cancel that arrived between two evals must not cancel the session's next, unrelated eval.
                session.withdrawCancel();
            }
            if (generationStart != 0) generationNanos = System.nanoTime() - generationStart;
        }
        return null;
    }
}
