package org.mla4j.serve;

/** The scheduler is shutting down or closed and takes no new requests (an HTTP server answers 503). */
public final class SchedulerClosedException extends RuntimeException {
    /** Creates the exception with a message saying the server is shutting down. */
    public SchedulerClosedException() {
        super("the server is shutting down and takes no new requests");
    }
}
