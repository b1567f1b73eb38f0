package org.mla4j.chat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.mla4j.Generation;
import org.mla4j.Generation.StopReason;
import org.mla4j.Session;
import org.mla4j.sampling.SamplerConfig;
import org.mla4j.tokenizer.Tokenizer;

/**
 * A multi-turn conversation on one {@link Session}. Each turn renders the whole conversation, tokenizes it, and
 * evaluates only what the KV cache does not hold yet: the cache is truncated to the longest common prefix of
 * the tokens it holds and the new prompt, so earlier turns are not recomputed. Not thread-safe, except
 * {@link #cancel()}, which may be called from any thread (e.g. a Ctrl-C handler).
 */
public final class ChatSession {
    /**
     * The reply of one turn and why it ended.
     *
     * @param text the reply's text
     * @param stopReason why the reply ended
     * @param promptTokensEvaluated prompt tokens evaluated for this turn (the cached part of the conversation is not)
     * @param generatedTokens tokens generated
     */
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
    private volatile Generation current;

    /**
     * A conversation on a session whose KV cache it then owns (nothing else should evaluate on it meanwhile).
     *
     * @param session   the session
     * @param tokenizer the model's tokenizer
     * @param format    how the conversation becomes prompt text (the model's chat template or the plain fallback)
     * @param sampler   the sampling configuration of the replies
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

    /** {@return the conversation so far (a copy)} */
    public List<ChatMessage> messages() {
        return List.copyOf(messages);
    }

    /**
     * Adds a system message (before the first user message, for templates that take one).
     *
     * @param text the system message's text
     */
    public void system(String text) {
        messages.add(ChatMessage.system(text));
    }

    /** {@return tokens held in the KV cache} */
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
        Generation g = current;
        if (g != null) g.cancel();
    }

    /**
     * Sends a user message and generates the reply, handing its text to {@code onText} as it is produced.
     * A cancelled reply keeps the text generated so far.
     *
     * @throws IllegalStateException when the conversation no longer fits in the context
     * @param userText the user's message
     * @param onText receives the reply's text piece by piece, as it is generated
     * @return the whole reply and why it ended
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
        Generation g = new Generation(session, tokenizer, prompt, keep,
                new Generation.Options(maxTokens, false, false, true, samplerConfig));
        current = g;
        if (cancelled) g.cancel();
        StringBuilder reply = new StringBuilder();
        Generation.Stats stats = g.run(t -> {
            reply.append(t.text());
            onText.accept(t.text());
            return true;
        });
        String rest = g.flush();
        reply.append(rest);
        onText.accept(rest);
        current = null;
        // What the cache now holds: the prompt and the generated tokens that were evaluated.
        int[] all = Arrays.copyOf(prompt, prompt.length + stats.generatedTokens());
        System.arraycopy(g.generatedTokens(), 0, all, prompt.length, stats.generatedTokens());
        cached = Arrays.copyOf(all, session.position());
        messages.add(ChatMessage.assistant(reply.toString()));
        return new Reply(reply.toString(), stats.stopReason(), prompt.length - keep, stats.generatedTokens());
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
