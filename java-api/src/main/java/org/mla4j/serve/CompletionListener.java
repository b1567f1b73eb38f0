package org.mla4j.serve;

/**
 * Receives a completion's events from the {@link BatchScheduler}'s engine thread. Implementations must return
 * quickly (hand the events to another thread, as {@link TokenStream} does): the engine serves every slot. Exactly one
 * of {@link #onFinished} and {@link #onFailed} is called, last.
 */
public interface CompletionListener {

    /**
     * The request got a slot; {@code cachedPromptTokens} of its prompt are already in that slot's cache. Called at
     * most once, before any token; a request cancelled or failed while queued never gets it. Does nothing by default.
     *
     * @param promptTokens the prompt's length in tokens
     * @param cachedPromptTokens leading prompt tokens reused from the slot's cache (not evaluated again), 0 to
     *     {@code promptTokens - 1}
     */
    default void onStarted(int promptTokens, int cachedPromptTokens) {
    }

    /**
     * A token was generated and accepted into the reply (end-of-generation tokens are not passed on unless the
     * request ignores them).
     *
     * @param token the token, the text it releases (possibly empty) and its log-probabilities when asked for
     */
    void onToken(GeneratedToken token);

    /**
     * The completion ended normally or was cancelled; the last event.
     *
     * @param result why it ended, its token counts and timings
     */
    void onFinished(CompletionResult result);

    /**
     * The evaluation failed (an error of the slot's backend, such as a native evaluation error); the last event. The
     * slot's cache has been cleared.
     *
     * @param error the failure
     */
    void onFailed(RuntimeException error);
}
