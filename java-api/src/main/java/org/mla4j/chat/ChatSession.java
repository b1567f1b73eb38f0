package org.mla4j.chat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.mla4j.Generation.StopReason;
import org.mla4j.Mla4jException;
import org.mla4j.Session;
import org.mla4j.sampling.Sampler;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.tokenizer.Tokenizer;

/**
 * A multi-turn conversation on one {@link Session}. Each turn renders the whole conversation, tokenizes it, and
 * evaluates only what the KV cache does not hold yet: the cache is truncated to the longest common prefix of
 * the tokens it holds and the new prompt, so earlier turns are not recomputed. Not thread-safe, except
 * {@link #cancel()}, which may be called from any thread (e.g. a Ctrl-C handler).
 */
public final class ChatSession {
    /** The reply of one turn and why it ended. */
    public record Reply(String text, StopReason stopReason, int promptTokensEvaluated, int generatedTokens) {}

    private final Session session;
    private final Tokenizer tokenizer;
    private final ChatFormat format;
    private final SamplerConfig samplerConfig;
    private final int maxTokens;
    private final List<ChatMessage> messages = new ArrayList<>();
    /** The token ids in the KV cache, in order. */
    private int[] cached = new int[0];
    private volatile boolean cancelled;

    /**
     * @param maxTokens tokens to generate at most per reply
     */
    public ChatSession(Session session, Tokenizer tokenizer, ChatFormat format, SamplerConfig sampler, int maxTokens) {
        this.session = Objects.requireNonNull(session, "session");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.format = Objects.requireNonNull(format, "format");
        this.samplerConfig = Objects.requireNonNull(sampler, "sampler");
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        this.maxTokens = maxTokens;
    }

    public List<ChatMessage> messages() {
        return List.copyOf(messages);
    }

    /** Adds a system message (before the first user message, for templates that take one). */
    public void system(String text) {
        messages.add(ChatMessage.system(text));
    }

    /** Tokens held in the KV cache. */
    public int cachedTokens() {
        return cached.length;
    }

    /** Forgets the conversation and empties the KV cache. */
    public void reset() {
        messages.clear();
        cached = new int[0];
        session.reset();
    }

    /** Stops the reply being generated soon; safe from any thread. */
    public void cancel() {
        cancelled = true;
        session.cancel();
    }

    /**
     * Sends a user message and generates the reply, handing its text to {@code onText} as it is produced.
     * A cancelled reply keeps the text generated so far.
     *
     * @throws IllegalStateException when the conversation no longer fits in the context
     */
    public Reply send(String userText, Consumer<String> onText) {
        cancelled = false;
        messages.add(ChatMessage.user(userText));
        int[] prompt;
        try {
            prompt = format.tokens(messages, true);
        } catch (RuntimeException e) {
            messages.removeLast();
            throw e;
        }
        if (prompt.length >= session.contextSize()) {
            messages.removeLast();
            throw new IllegalStateException("the conversation (" + prompt.length + " tokens) does not fit in the context "
                    + "of " + session.contextSize() + " tokens; /reset to start over");
        }
        // Keep the common prefix, but evaluate at least one token: its logits give the first reply token.
        int keep = Math.min(commonPrefix(cached, prompt), prompt.length - 1);
        session.setPosition(keep);
        cached = Arrays.copyOf(prompt, keep);
        Sampler sampler = new Sampler(samplerConfig);
        for (int id : prompt) {
            sampler.accept(id);
        }
        Tokenizer.StreamDecoder decoder = tokenizer.newStreamDecoder();
        StringBuilder reply = new StringBuilder();
        StopReason stop = StopReason.MAX_TOKENS;
        int generated = 0;
        try {
            evalPrompt(Arrays.copyOfRange(prompt, keep, prompt.length));
            while (true) {
                if (cancelled) {
                    stop = StopReason.CANCELLED;
                    break;
                }
                if (generated >= maxTokens) {
                    break;
                }
                int id = sampler.sample(session.logits());
                sampler.accept(id);
                if (tokenizer.isEndOfGeneration(id)) {
                    stop = StopReason.END_OF_GENERATION;
                    break;
                }
                generated++;
                String text = decoder.push(id);
                reply.append(text);
                onText.accept(text);
                if (session.position() >= session.contextSize()) {
                    stop = StopReason.CONTEXT_FULL;
                    break;
                }
                eval(new int[] {id});
            }
        } catch (Mla4jException e) {
            if (!(cancelled && e.statusName().equals("MLA4J_ERR_CANCELLED"))) {
                throw e;
            }
            stop = StopReason.CANCELLED; // the cancelled eval added nothing to the cache
        }
        String rest = decoder.flush();
        reply.append(rest);
        onText.accept(rest);
        messages.add(ChatMessage.assistant(reply.toString()));
        return new Reply(reply.toString(), stop, prompt.length - keep, generated);
    }

    /**
     * Evaluates the new prompt tokens. A cancel request made after the last eval of the previous turn (Ctrl-C
     * while a token was being sampled) is still pending and cancels the next eval; that eval adds nothing to
     * the cache, so it is simply run again.
     */
    private void evalPrompt(int[] ids) {
        try {
            eval(ids);
        } catch (Mla4jException e) {
            if (cancelled || !e.statusName().equals("MLA4J_ERR_CANCELLED")) {
                throw e;
            }
            eval(ids);
        }
    }

    private void eval(int[] ids) {
        if (ids.length == 0) {
            return;
        }
        session.eval(ids);
        int[] grown = Arrays.copyOf(cached, cached.length + ids.length);
        System.arraycopy(ids, 0, grown, cached.length, ids.length);
        cached = grown;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }
}
