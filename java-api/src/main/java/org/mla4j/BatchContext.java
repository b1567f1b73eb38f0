package org.mla4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantLock;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.bindings.mla4j_batch_params;
import org.mla4j.bindings.mla4j_batch_stats;
import org.mla4j.gguf.GgmlType;
import org.mla4j.internal.Status;

/**
 * Many sequences decoded together (mla4j_batch): one call runs rows of several sequences through the model in one
 * forward pass, so each weight row is read once for all of them, while each row attends over its own sequence's
 * cache. The cache is one pool of fixed-size blocks; sequences whose tokens start alike share their full blocks
 * (prefix caching with copy-on-write), and blocks no sequence holds stay cached for a later prompt until the pool
 * needs them. A {@link Session} runs the same forward pass as a batch of one sequence.
 *
 * <p>Calls are serialized like a session's; {@link #cancel()} may come from any thread. Closing the model closes
 * its batch contexts. Any call after close throws {@link IllegalStateException}; closing twice is harmless.
 */
public final class BatchContext implements AutoCloseable {

    /**
     * Batch context options.
     *
     * @param sequences sequences at once
     * @param contextSize positions per sequence at most; 0 = the model's training context
     * @param threads compute threads; 0 = all online CPUs
     * @param batchSize rows per forward pass (a decode call with more runs several)
     * @param blocks cache blocks in the pool; 0 = enough for every sequence at full length
     * @param blockTokens positions per block, a multiple of 64
     * @param kvType cache element type: F32 or F16; for MLA models also Q8_0 and Q4_0
     * @param simd kernel implementation
     */
    public record Options(int sequences, int contextSize, int threads, int batchSize, int blocks, int blockTokens,
            GgmlType kvType, Simd simd) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException when a count is out of range or the cache type is not F32, F16, Q8_0 or Q4_0
         */
        public Options {
            if (sequences < 1) throw new IllegalArgumentException("sequences must be >= 1, got " + sequences);
            if (contextSize < 0) throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            if (blocks < 0) throw new IllegalArgumentException("blocks must be >= 0, got " + blocks);
            if (blockTokens < 64 || blockTokens % 64 != 0) {
                throw new IllegalArgumentException("blockTokens must be a positive multiple of 64, got " + blockTokens);
            }
            if (kvType != GgmlType.F32 && kvType != GgmlType.F16 && kvType != GgmlType.Q8_0 && kvType != GgmlType.Q4_0) {
                throw new IllegalArgumentException("KV cache type must be F32, F16, Q8_0 or Q4_0, got " + kvType);
            }
        }

        /**
         * {@return options for this many sequences: the training context, all CPUs, 512 rows per pass, a pool for
         * every sequence at full length in blocks of 64, an F16 cache, the best kernels}
         *
         * @param sequences sequences at once
         */
        public static Options defaults(int sequences) {
            return new Options(sequences, 0, 0, 512, 0, 64, GgmlType.F16, Simd.AUTO);
        }

        /**
         * {@return these options with another context size}
         *
         * @param n positions per sequence; 0 = the model's training context
         */
        public Options withContextSize(int n) {
            return new Options(sequences, n, threads, batchSize, blocks, blockTokens, kvType, simd);
        }

        /**
         * {@return these options with another thread count}
         *
         * @param n compute threads; 0 = all online CPUs
         */
        public Options withThreads(int n) {
            return new Options(sequences, contextSize, n, batchSize, blocks, blockTokens, kvType, simd);
        }

        /**
         * {@return these options with another batch size}
         *
         * @param n rows per forward pass
         */
        public Options withBatchSize(int n) {
            return new Options(sequences, contextSize, threads, n, blocks, blockTokens, kvType, simd);
        }

        /**
         * {@return these options with another pool size}
         *
         * @param n cache blocks; 0 = enough for every sequence at full length
         */
        public Options withBlocks(int n) {
            return new Options(sequences, contextSize, threads, batchSize, n, blockTokens, kvType, simd);
        }

        /**
         * {@return these options with another KV cache type}
         *
         * @param t F32 or F16; for MLA models also Q8_0 and Q4_0
         */
        public Options withKvType(GgmlType t) {
            return new Options(sequences, contextSize, threads, batchSize, blocks, blockTokens, t, simd);
        }

        /**
         * {@return these options with other kernels}
         *
         * @param s the kernel implementation
         */
        public Options withSimd(Simd s) {
            return new Options(sequences, contextSize, threads, batchSize, blocks, blockTokens, kvType, s);
        }
    }

    /**
     * Block accounting of the cache pool.
     *
     * @param blocksTotal blocks in the pool
     * @param blocksUsed blocks held by at least one sequence
     * @param blocksCached blocks held by none, kept for prefix reuse (evicted when needed)
     * @param blockTokens positions per block
     * @param blockBytes cache bytes of one block (all layers)
     * @param activeSequences sequences added and not removed
     */
    public record Stats(int blocksTotal, int blocksUsed, int blocksCached, int blockTokens, long blockBytes,
            int activeSequences) {
    }

    /**
     * A sequence just added.
     *
     * @param id its id, for the other calls
     * @param cachedTokens how many of the prompt's first tokens are cached already (its next position)
     */
    public record Sequence(int id, int cachedTokens) {
    }

    private final Model model;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final ReentrantLock lock = new ReentrantLock();
    private final Object cancelGuard = new Object();
    private final int vocabSize;
    private final int contextSize;
    private final int sequences;
    private MemorySegment rows = MemorySegment.NULL; // 3 x capacity ints: sequences, positions, tokens
    private MemorySegment want = MemorySegment.NULL;
    private int capacity;
    private volatile boolean closed;

    /** Created by {@link Model#newBatchContext(Options)}, which keeps the model open meanwhile. */
    BatchContext(Model model, MemorySegment modelHandle, Options options) {
        this.model = model;
        this.vocabSize = model.hparams().vocabSize();
        this.sequences = options.sequences();
        this.contextSize = options.contextSize() > 0 ? options.contextSize() : model.hparams().contextLength();
        try {
            MemorySegment p = mla4j_batch_params.allocate(arena);
            Mla4jNative.mla4j_batch_params_init(p);
            mla4j_batch_params.n_threads(p, options.threads());
            mla4j_batch_params.n_seq_max(p, options.sequences());
            mla4j_batch_params.n_ctx(p, contextSize);
            mla4j_batch_params.n_batch(p, options.batchSize());
            mla4j_batch_params.n_blocks(p, options.blocks());
            mla4j_batch_params.block_tokens(p, options.blockTokens());
            mla4j_batch_params.kv_type(p, options.kvType().id());
            mla4j_batch_params.simd(p, options.simd().id());
            MemorySegment out = arena.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_batch_create(modelHandle, p, out), "creating a batch context on " + model.path());
            handle = out.get(ADDRESS, 0);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** {@return the model this batch runs} */
    public Model model() {
        return model;
    }

    /** {@return positions per sequence at most} */
    public int contextSize() {
        return contextSize;
    }

    /** {@return sequences at once} */
    public int sequences() {
        return sequences;
    }

    /**
     * Adds a sequence, reusing the cached blocks that hold its prompt's first tokens. The caller then decodes the
     * prompt from {@link Sequence#cachedTokens()} on.
     *
     * @param prompt the tokens the sequence will start with (may be empty: nothing to match)
     * @return the sequence's id and its cached prompt tokens (always fewer than the prompt's)
     * @throws Mla4jException when every sequence is in use (MLA4J_ERR_STATE) or a token is out of range
     */
    public Sequence add(int... prompt) {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = live();
            MemorySegment p = prompt.length == 0 ? MemorySegment.NULL : a.allocateFrom(JAVA_INT, prompt);
            MemorySegment id = a.allocate(JAVA_INT), cached = a.allocate(JAVA_INT);
            Status.check(Mla4jNative.mla4j_batch_seq_add(h, p, prompt.length, id, cached));
            return new Sequence(id.get(JAVA_INT, 0), cached.get(JAVA_INT, 0));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Removes a sequence; its blocks go back to the pool (full ones stay cached for reuse).
     *
     * @param id the sequence
     */
    public void remove(int id) {
        lock.lock();
        try {
            Status.check(Mla4jNative.mla4j_batch_seq_remove(live(), id));
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return the position of the sequence's next token}
     *
     * @param id the sequence
     */
    public int position(int id) {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_INT);
            Status.check(Mla4jNative.mla4j_batch_seq_position(live(), id, out));
            return out.get(JAVA_INT, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Forgets the sequence's tokens at positions &gt;= pos.
     *
     * @param id the sequence
     * @param pos the new position, at most the current one
     */
    public void truncate(int id, int pos) {
        lock.lock();
        try {
            Status.check(Mla4jNative.mla4j_batch_seq_truncate(live(), id, pos));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs rows through the model in one call: row i is token {@code tokens[i]} of sequence {@code ids[i]} at position
     * {@code positions[i]}. Each sequence's rows continue its positions in order; rows of different sequences may
     * interleave. Nothing advances when a row is refused (unknown sequence, position gap, full pool).
     *
     * @param ids the sequence of each row
     * @param positions the position of each row
     * @param tokens the token of each row
     * @param wantLogits which rows keep their logits for {@link #logits(int)}; null = each sequence's last row
     */
    public void decode(int[] ids, int[] positions, int[] tokens, boolean[] wantLogits) {
        int n = ids.length;
        if (positions.length != n || tokens.length != n || (wantLogits != null && wantLogits.length != n)) {
            throw new IllegalArgumentException("decode: ids, positions, tokens (and wantLogits) must have one entry per row");
        }
        if (n == 0) throw new IllegalArgumentException("decode needs at least one row");
        lock.lock();
        try {
            MemorySegment h = live();
            if (n > capacity) {
                capacity = Math.max(n, 2 * capacity);
                rows = arena.allocate(JAVA_INT, 3L * capacity);
                want = arena.allocate(JAVA_BYTE, capacity);
            }
            MemorySegment.copy(ids, 0, rows, JAVA_INT, 0, n);
            MemorySegment.copy(positions, 0, rows, JAVA_INT, 4L * capacity, n);
            MemorySegment.copy(tokens, 0, rows, JAVA_INT, 8L * capacity, n);
            if (wantLogits != null) {
                for (int i = 0; i < n; i++) want.set(JAVA_BYTE, i, (byte) (wantLogits[i] ? 1 : 0));
            }
            Status.check(Mla4jNative.mla4j_batch_decode(h, n, rows, rows.asSlice(4L * capacity),
                    rows.asSlice(8L * capacity), wantLogits != null ? want : MemorySegment.NULL));
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return the logits of a row of the last {@link #decode} call (a copy)}
     *
     * @param row the row, one whose logits were kept
     */
    public float[] logits(int row) {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_batch_get_logits(live(), row, p));
            float[] out = new float[vocabSize];
            MemorySegment.copy(p.get(ADDRESS, 0).reinterpret(4L * vocabSize), JAVA_FLOAT, 0, out, 0, vocabSize);
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** {@return the block accounting of the cache pool} */
    public Stats stats() {
        lock.lock();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = mla4j_batch_stats.allocate(a);
            Status.check(Mla4jNative.mla4j_batch_get_stats(live(), s));
            return new Stats(mla4j_batch_stats.blocks_total(s), mla4j_batch_stats.blocks_used(s),
                    mla4j_batch_stats.blocks_cached(s), mla4j_batch_stats.block_tokens(s),
                    mla4j_batch_stats.block_bytes(s), mla4j_batch_stats.n_seq_active(s));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks a running decode on another thread to stop soon (it then throws with MLA4J_ERR_CANCELLED). A request made
     * while no decode runs cancels the next one, unless {@link #withdrawCancel()} takes it back. On a closed batch
     * context it does nothing.
     */
    public void cancel() {
        synchronized (cancelGuard) {
            if (!closed) Mla4jNative.mla4j_batch_cancel(handle, 1);
        }
    }

    /** Withdraws a cancel request that no decode has consumed yet. */
    public void withdrawCancel() {
        synchronized (cancelGuard) {
            if (!closed) Mla4jNative.mla4j_batch_cancel(handle, 0);
        }
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return closed;
    }

    private MemorySegment live() {
        if (closed) {
            throw new IllegalStateException(model.isClosed() ? model.path() + ": the batch context was closed with its model"
                    : "the batch context is closed");
        }
        return handle;
    }

    /** Frees the batch context; waits for a call in progress on another thread. Closing twice is harmless. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            synchronized (cancelGuard) {
                closed = true;
                Mla4jNative.mla4j_batch_free(handle);
            }
            arena.close();
            model.forget(this);
        } finally {
            lock.unlock();
        }
    }
}
