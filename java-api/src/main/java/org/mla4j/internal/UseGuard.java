package org.mla4j.internal;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Guards a native object that several threads may use at once against being freed under them: every use holds a
 * shared (read) lock for the duration of its native calls, and {@link #close} takes the exclusive lock, so it waits
 * for the uses in progress and every later use throws {@link IllegalStateException}. A use after close is thus an
 * exception, never a call on freed memory.
 *
 * <pre>{@code
 * try (UseGuard.Use u = guard.enter()) {
 *     Status.check(Mla4jNative.mla4j_gguf_kv_count(handle, out));
 * }
 * }</pre>
 */
public final class UseGuard {

    /** An open use; close it (try-with-resources) on the thread that entered. */
    public interface Use extends AutoCloseable {
        @Override
        void close();
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Supplier<String> closedMessage;
    private volatile boolean closed;

    /** @param closedMessage the message of the exception a use after close throws */
    public UseGuard(Supplier<String> closedMessage) {
        this.closedMessage = closedMessage;
    }

    /** Starts a use; throws {@link IllegalStateException} when the object is closed (or closing). */
    public Use enter() {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        if (closed) {
            read.unlock();
            throw new IllegalStateException(closedMessage.get());
        }
        return read::unlock;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Marks the object closed once the uses in progress have ended, then runs {@code free} (only the first call
     * does; later calls return false at once). A thread inside a use must not call this.
     */
    public boolean close(Runnable free) {
        if (closed) return false;
        if (lock.getReadHoldCount() > 0) {
            throw new IllegalStateException("close() called while this thread is using the object");
        }
        lock.writeLock().lock();
        try {
            if (closed) return false;
            closed = true;
            free.run();
            return true;
        } finally {
            lock.writeLock().unlock();
        }
    }
}
