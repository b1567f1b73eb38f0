package org.mla4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.bindings.mla4j_context_params;
import org.mla4j.gguf.GgmlType;
import org.mla4j.internal.Status;

/**
 * One conversation with a model: a KV cache, activation buffers and compute threads (mla4j_context). Calls are
 * serialized: a session used from two threads at once runs their calls one after the other, never interleaved.
 * {@link #cancel()} may be called from any thread, also while or after the session is closed. Closing the model
 * closes its open sessions. Any call after close throws {@link IllegalStateException}; closing twice is harmless.
 */
public final class Session implements AutoCloseable {

    /**
     * Session options.
     *
     * @param contextSize positions in the KV cache; 0 = the model's training context
     * @param threads compute threads; 0 = all online CPUs
     * @param batchSize tokens evaluated together during prompt processing
     * @param kvType KV cache element type: F32 or F16; for MLA models (latent cache) also Q8_0 and Q4_0
     * @param simd kernel implementation
     */
    public record Options(int contextSize, int threads, int batchSize, GgmlType kvType, Simd simd) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException when a count is negative (batch size: below 1) or the cache type is not F32, F16, Q8_0 or Q4_0
         */
        public Options {
            if (contextSize < 0) throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            if (kvType != GgmlType.F32 && kvType != GgmlType.F16 && kvType != GgmlType.Q8_0 && kvType != GgmlType.Q4_0) {
                throw new IllegalArgumentException("KV cache type must be F32, F16, Q8_0 or Q4_0, got " + kvType);
            }
        }

        /** {@return the model's training context, all CPUs, batches of 512, an F16 cache, the best kernels} */
        public static Options defaults() {
            return new Options(0, 0, 512, GgmlType.F16, Simd.AUTO);
        }

        /**
         * {@return these options with another context size}
         *
         * @param n positions in the KV cache; 0 = the model's training context
         */
        public Options withContextSize(int n) {
            return new Options(n, threads, batchSize, kvType, simd);
        }

        /**
         * {@return these options with another thread count}
         *
         * @param n compute threads; 0 = all online CPUs
         */
        public Options withThreads(int n) {
            return new Options(contextSize, n, batchSize, kvType, simd);
        }

        /**
         * {@return these options with another batch size}
         *
         * @param n tokens evaluated together during prompt processing
         */
        public Options withBatchSize(int n) {
            return new Options(contextSize, threads, n, kvType, simd);
        }

        /**
         * {@return these options with another KV cache type}
         *
         * @param t F32 or F16; for MLA models also Q8_0 and Q4_0
         */
        public Options withKvType(GgmlType t) {
            return new Options(contextSize, threads, batchSize, t, simd);
        }

        /**
         * {@return these options with other kernels}
         *
         * @param s the kernel implementation
         */
        public Options withSimd(Simd s) {
            return new Options(contextSize, threads, batchSize, kvType, s);
        }
    }

    private final Model model;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final ReentrantLock lock = new ReentrantLock();
    private final int vocabSize;
    private final int contextSize;
    /**
     * Held by cancel() around its native call and by close() around the free: cancel must not wait for the eval it
     * interrupts (which holds {@link #lock}), but must never reach a freed context either.
     */
    private final Object cancelGuard = new Object();
    private MemorySegment tokenBuffer;
    private volatile boolean closed;

    /** Created by {@link Model#newSession(Options)}, which keeps the model open meanwhile. */
    Session(Model model, MemorySegment modelHandle, Options options) {
        this.model = model;
        this.vocabSize = model.hparams().vocabSize();
        try {
            MemorySegment p = mla4j_context_params.allocate(arena);
            Mla4jNative.mla4j_context_params_init(p);
            mla4j_context_params.n_ctx(p, options.contextSize());
            mla4j_context_params.n_threads(p, options.threads());
            mla4j_context_params.n_batch(p, options.batchSize());
            mla4j_context_params.kv_type(p, options.kvType().id());
            mla4j_context_params.simd(p, options.simd().id());
            MemorySegment out = arena.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_context_create(modelHandle, p, out), "creating a session on " + model.path());
            handle = out.get(ADDRESS, 0);
            Status.check(Mla4jNative.mla4j_context_get_params(handle, p));
            contextSize = mla4j_context_params.n_ctx(p);
            tokenBuffer = arena.allocate(JAVA_INT, 64);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** {@return the model this session runs} */
    public Model model() {
        return model;
    }

    /** {@return positions in the KV cache} */
    public int contextSize() {
        return contextSize;
    }

    /**
     * Evaluates tokens at the current position (batched) and returns the logits of the last one.
     * Token ids out of range, or more tokens than the context has room for, throw {@link Mla4jException}.
     *
     * @param tokens token ids, at least one
     * @return the logits of the last token (one per vocabulary entry)
     */
    public float[] eval(int... tokens) {
        return run(tokens, false)[0];
    }

    /**
     * Evaluates tokens and returns the logits of every one of them, in order.
     *
     * @param tokens token ids, at least one
     * @return one logits array per token
     */
    public float[][] evalAllLogits(int... tokens) {
        return run(tokens, true);
    }

    private float[][] run(int[] tokens, boolean all) {
        if (tokens.length == 0) throw new IllegalArgumentException("eval needs at least one token");
        lock.lock();
        try {
            MemorySegment h = live();
            if (tokenBuffer.byteSize() < 4L * tokens.length) {
                tokenBuffer = arena.allocate(JAVA_INT, Math.max(tokens.length, 2 * tokenBuffer.byteSize() / 4));
            }
            MemorySegment.copy(tokens, 0, tokenBuffer, JAVA_INT, 0, tokens.length);
            if (!all) {
                Status.check(Mla4jNative.mla4j_context_eval(h, tokenBuffer, tokens.length, MemorySegment.NULL));
                return new float[][] {logitsLocked(h)};
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(JAVA_FLOAT, (long) tokens.length * vocabSize);
                Status.check(Mla4jNative.mla4j_context_eval(h, tokenBuffer, tokens.length, out));
                float[][] result = new float[tokens.length][vocabSize];
                for (int t = 0; t < tokens.length; t++) {
                    MemorySegment.copy(out, JAVA_FLOAT, (long) t * vocabSize * 4, result[t], 0, vocabSize);
                }
                return result;
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@return the logits of the last evaluated token (a copy)} */
    public float[] logits() {
        lock.lock();
        try {
            return logitsLocked(live());
        } finally {
            lock.unlock();
        }
    }

    private float[] logitsLocked(MemorySegment h) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_context_get_logits(h, p));
            float[] out = new float[vocabSize];
            MemorySegment.copy(p.get(ADDRESS, 0).reinterpret(4L * vocabSize), JAVA_FLOAT, 0, out, 0, vocabSize);
            return out;
        }
    }

    /** {@return number of tokens in the KV cache} */
    public int position() {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            Status.check(Mla4jNative.mla4j_context_get_position(live(), out));
            return out.get(JAVA_INT, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Forgets the tokens at positions &gt;= pos.
     *
     * @param pos the new position, at most the current one
     */
    public void setPosition(int pos) {
        lock.lock();
        try {
            Status.check(Mla4jNative.mla4j_context_set_position(live(), pos));
        } finally {
            lock.unlock();
        }
    }

    /** Runs action on the native context under the session's lock (for {@link NativeHandlesAccess}). */
    <T> T withHandle(java.util.function.Function<MemorySegment, T> action) {
        lock.lock();
        try {
            return action.apply(live());
        } finally {
            lock.unlock();
        }
    }

    /** Empties the KV cache. */
    public void reset() {
        setPosition(0);
    }

    /** {@return bytes allocated for the KV cache} */
    public long kvBytes() {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_context_kv_bytes(live(), out));
            return out.get(JAVA_LONG, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks a running eval on another thread to stop soon (it then throws with MLA4J_ERR_CANCELLED). A request made
     * while no eval runs cancels the next one, unless {@link #withdrawCancel()} takes it back. On a closed session it
     * does nothing.
     */
    public void cancel() {
        synchronized (cancelGuard) {
            if (!closed) Mla4jNative.mla4j_context_cancel(handle, 1);
        }
    }

    /** Withdraws a cancel request that no eval has consumed yet. */
    public void withdrawCancel() {
        synchronized (cancelGuard) {
            if (!closed) Mla4jNative.mla4j_context_cancel(handle, 0);
        }
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed;
    }

    private MemorySegment live() {
        if (closed) {
            throw new IllegalStateException(model.isClosed() ? model.path() + ": the session was closed with its model"
                    : "the session is closed");
        }
        return handle;
    }

    /** Frees the session; waits for a call in progress on another thread. Closing twice is harmless. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            synchronized (cancelGuard) {
                closed = true;
                Mla4jNative.mla4j_context_free(handle);
            }
            arena.close();
            model.forget(this);
        } finally {
            lock.unlock();
        }
    }
}
