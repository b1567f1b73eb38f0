package org.mla4j.serve;

/** A submitted completion: cancel it from any thread. */
public interface CompletionHandle {

    /**
     * Cancels the completion: a queued one ends at once, a running one at the engine's next step, which frees its
     * slot. Its listener gets {@link FinishReason#CANCELLED} (unless it had already finished). Idempotent.
     */
    void cancel();

    /** {@return whether {@link #cancel()} was called, whether or not the completion had already finished} */
    boolean isCancelled();
}
