package org.mla4j.serve;

import java.util.List;

/**
 * What the {@link BatchScheduler} runs on: a fixed number of slots, each a sequence with its own cache. One engine
 * thread calls it, never two at once, except {@link #cancelRunning()}. Today {@link SessionSlots} runs the work of a
 * step one slot after the other on one {@link org.mla4j.Session} per slot; a native batched backend (many
 * sequences in one forward pass over a paged latent cache) implements the same interface, so the scheduler, the
 * HTTP server and the LangChain4j models stay as they are.
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

    /** Evaluates every work item (each slot at most once); results in the same order. */
    List<Result> eval(List<Work> work);

    /** Interrupts an evaluation in progress (from another thread): its items fail with MLA4J_ERR_CANCELLED. */
    void cancelRunning();

    /** Bytes one cached token takes. */
    long bytesPerToken();

    /** Bytes allocated for all slots' caches. */
    long bytesAllocated();

    @Override
    void close();
}
