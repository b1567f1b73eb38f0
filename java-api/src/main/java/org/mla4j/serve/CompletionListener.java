package org.mla4j.serve;

/**
 * Receives a completion's events from the {@link BatchScheduler}'s engine thread. Implementations must return
 * quickly (hand the events to another thread, as {@link TokenStream} does): the engine serves every slot. Exactly one
 * of {@link #onFinished} and {@link #onFailed} is called, last.
 */
public interface CompletionListener {

    /** The request got a slot; {@code cachedPromptTokens} of its prompt are already in that slot's cache. */
    default void onStarted(int promptTokens, int cachedPromptTokens) {
    }

    void onToken(GeneratedToken token);

    void onFinished(CompletionResult result);

    void onFailed(RuntimeException error);
}
