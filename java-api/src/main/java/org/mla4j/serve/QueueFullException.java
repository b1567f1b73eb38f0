package org.mla4j.serve;

/** The scheduler's queue of waiting requests is full (an HTTP server answers 429). */
public final class QueueFullException extends RuntimeException {
    /**
     * Creates the exception.
     *
     * @param capacity requests allowed to wait for a slot ({@link BatchScheduler.Options#maxQueued()}), for the
     *     message
     */
    public QueueFullException(int capacity) {
        super("too many requests: " + capacity + " are already waiting for a slot; try again later");
    }
}
