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

    public record Started(int promptTokens, int cachedPromptTokens) implements Event {
    }

    public record Token(GeneratedToken token) implements Event {
    }

    public record Finished(CompletionResult result) implements Event {
    }

    public record Failed(RuntimeException error) implements Event {
    }

    /** A whole completion: its text, its tokens (with log-probabilities when asked for) and how it ended. */
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

    /** The next event, or null when none came within the timeout. */
    public Event poll(long timeout, TimeUnit unit) throws InterruptedException {
        return events.poll(timeout, unit);
    }

    /** The next event, waiting as long as it takes. */
    public Event take() throws InterruptedException {
        return events.take();
    }

    /**
     * Waits for the whole completion. A failure is rethrown; interrupting the waiting thread cancels it.
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
