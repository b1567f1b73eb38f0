package org.mla4j.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A completion's events as a blocking stream, for a consumer on its own thread (an HTTP handler, a LangChain4j
 * callback thread): the engine thread only enqueues. {@link #poll} returns events in order; the last is a
 * {@link Finished} or a {@link Failed}.
 */
public final class TokenStream implements CompletionListener {

    /** An event of the stream. */
    public sealed interface Event permits Started, Token, Finished, Failed {
    }

    /**
     * The request got a slot (see {@link CompletionListener#onStarted}).
     *
     * @param promptTokens the prompt's length in tokens
     * @param cachedPromptTokens leading prompt tokens reused from the slot's cache
     */
    public record Started(int promptTokens, int cachedPromptTokens) implements Event {
    }

    /**
     * A generated token (see {@link CompletionListener#onToken}).
     *
     * @param token the token and the text it releases
     */
    public record Token(GeneratedToken token) implements Event {
    }

    /**
     * The completion ended normally or was cancelled; the last event.
     *
     * @param result why it ended, its token counts and timings
     */
    public record Finished(CompletionResult result) implements Event {
    }

    /**
     * The completion failed; the last event.
     *
     * @param error the failure
     */
    public record Failed(RuntimeException error) implements Event {
    }

    /**
     * A whole completion: its text, its tokens (with log-probabilities when asked for) and how it ended.
     *
     * @param text the reply: the concatenated texts of the tokens (stop strings excluded)
     * @param tokens the generated tokens in order
     * @param result why it ended, its token counts and timings
     */
    public record Completion(String text, List<GeneratedToken> tokens, CompletionResult result) {
    }

    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile CompletionHandle handle;

    TokenStream() {
    }

    void attach(CompletionHandle h) {
        handle = h;
    }

    /** Cancels the completion (see {@link CompletionHandle#cancel()}). */
    public void cancel() {
        handle.cancel();
    }

    /**
     * {@return the next event, or null when none came within the timeout}
     *
     * @param timeout how long to wait, in {@code unit}s
     * @param unit the unit of {@code timeout}
     * @throws InterruptedException if the waiting thread is interrupted (the completion goes on)
     */
    public Event poll(long timeout, TimeUnit unit) throws InterruptedException {
        return events.poll(timeout, unit);
    }

    /**
     * {@return the next event, waiting as long as it takes}
     *
     * @throws InterruptedException if the waiting thread is interrupted (the completion goes on)
     */
    public Event take() throws InterruptedException {
        return events.take();
    }

    /**
     * Waits for the whole completion. A failure is rethrown; interrupting the waiting thread cancels it.
     *
     * @return the reply's text, its tokens and how it ended (a cancelled completion returns normally, with
     *     {@link FinishReason#CANCELLED})
     * @throws InterruptedException if the waiting thread is interrupted; the completion is then cancelled
     */
    public Completion collect() throws InterruptedException {
        StringBuilder text = new StringBuilder();
        List<GeneratedToken> tokens = new ArrayList<>();
        try {
            while (true) {
                Event e = events.take();
                switch (e) {
                    case Started s -> { }
                    case Token t -> {
                        text.append(t.token().text());
                        tokens.add(t.token());
                    }
                    case Finished f -> {
                        return new Completion(text.toString(), tokens, f.result());
                    }
                    case Failed f -> throw f.error();
                }
            }
        } catch (InterruptedException e) {
            cancel();
            throw e;
        }
    }

    @Override
    public void onStarted(int promptTokens, int cachedPromptTokens) {
        events.add(new Started(promptTokens, cachedPromptTokens));
    }

    @Override
    public void onToken(GeneratedToken token) {
        events.add(new Token(token));
    }

    @Override
    public void onFinished(CompletionResult result) {
        events.add(new Finished(result));
    }

    @Override
    public void onFailed(RuntimeException error) {
        events.add(new Failed(error));
    }
}
