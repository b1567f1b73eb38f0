package org.mla4j.serve;

import java.util.List;

/**
 * What the {@link BatchScheduler} runs on: a fixed number of slots, each a sequence with its own cache. One engine
 * thread calls it, never two at once, except {@link #cancelRunning()}. {@link BatchSlots} (the default) runs the
 * work of a step as one batched forward pass over a paged, prefix-sharing cache; {@link SessionSlots} runs it one slot
 * after the other on one {@link org.mla4j.Session} per slot.
 */
interface SlotBackend extends AutoCloseable {

    /** The tokens of one slot to evaluate in this step: a prompt chunk or the last generated token. */
    record Work(int slot, int[] tokens) {
    }

    /** The logits of a work item's last token, or the error that failed it (the slot's cache is then unchanged). */
    record Result(float[] logits, RuntimeException error) {
    }

    int slots();

    /** Positions of one slot's cache. */
    int contextSize();

    /** Forgets slot's cached tokens at positions >= position. */
    void truncate(int slot, int position);

    /**
     * Sets a slot up for a new request whose prompt shares keep tokens with the slot's cache: keeps at least those
     * (or more, from a cache shared between slots) and returns how many prompt tokens are cached now (less than the
     * prompt's length).
     */
    default int begin(int slot, int keep, int[] prompt) {
        truncate(slot, keep);
        return keep;
    }

    /** The slot's request ended (finished, failed or cancelled); a paged cache may give its blocks back. */
    default void end(int slot) {
    }

    /** Evaluates every work item (each slot at most once); results in the same order. */
    List<Result> eval(List<Work> work);

    /** Interrupts an evaluation in progress (from another thread): its items fail with MLA4J_ERR_CANCELLED. */
    void cancelRunning();

    /** Bytes one cached token takes. */
    long bytesPerToken();

    /** Bytes allocated for all slots' caches. */
    long bytesAllocated();

    /** Cache blocks {used, total, cached} of a paged cache; a cache without blocks reports zeros. */
    default int[] blocks() {
        return new int[] {0, 0, 0};
    }

    @Override
    void close();
}
