package org.mla4j.serve;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import org.mla4j.BatchContext;
import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.Simd;
import org.mla4j.gguf.GgmlType;
import org.mla4j.sampling.Sampler;
import org.mla4j.tokenizer.Tokenizer;

/**
 * Serves many completions at once on one model: requests wait in a bounded queue, take one of {@code parallel}
 * slots as soon as one is free (continuous admission: a new request starts while others run), and one engine thread
 * runs steps in which every running slot advances: a decode step (one token) for the slots that are generating and a
 * chunk of at most {@code batchSize} prompt tokens for one slot that is still reading its prompt, so a long prompt
 * never stalls the others for more than a chunk. Tokens are sampled, detokenized, checked against stop strings and
 * handed to each request's {@link CompletionListener}. A slot keeps its cache after a request: the next request
 * whose prompt starts with the same tokens (a conversation's earlier turns, a system prompt) evaluates only the rest.
 *
 * <p>The slots are the sequences of one {@link org.mla4j.BatchContext} ({@link BatchSlots}): a step is one batched
 * forward pass of every running slot's rows over a paged cache whose full blocks slots share when prompts start alike.
 * {@link SessionSlots} (one {@link Session} per slot, evaluated one after the other) remains behind the same
 * {@link SlotBackend} interface.
 *
 * <p>Thread-safe: submit, cancel, stats and shutdown may be called from any thread.
 */
public final class BatchScheduler implements AutoCloseable {

    /**
     * Scheduler options.
     *
     * @param parallel slots: requests served at once
     * @param contextSize positions of each slot's cache (the longest prompt plus reply); 0 = the model's training
     *     context
     * @param threads compute threads (0 = all CPUs)
     * @param kvType cache type (F32, F16; MLA models also Q8_0, Q4_0)
     * @param batchSize prompt tokens evaluated in one step (a chunk)
     * @param maxQueued requests that may wait for a slot; more are refused with {@link QueueFullException}
     */
    public record Options(int parallel, int contextSize, int threads, GgmlType kvType, int batchSize, int maxQueued) {
        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException if parallel or batchSize is below 1, or contextSize, threads or maxQueued
         *     is negative
         */
        public Options {
            if (parallel < 1) throw new IllegalArgumentException("parallel must be >= 1, got " + parallel);
            if (contextSize < 0) throw new IllegalArgumentException("contextSize must be >= 0, got " + contextSize);
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            if (maxQueued < 0) throw new IllegalArgumentException("maxQueued must be >= 0, got " + maxQueued);
        }

        /**
         * {@return the defaults: 1 slot, the model's training context, all CPUs, an F16 cache, chunks of 512 prompt
         * tokens, 64 queued requests}
         */
        public static Options defaults() {
            return new Options(1, 0, 0, GgmlType.F16, 512, 64);
        }

        /**
         * {@return a copy of these options with another number of slots}
         *
         * @param n slots: requests served at once, at least 1
         */
        public Options withParallel(int n) {
            return new Options(n, contextSize, threads, kvType, batchSize, maxQueued);
        }

        /**
         * {@return a copy of these options with another slot context size}
         *
         * @param n positions of each slot's cache; 0 = the model's training context
         */
        public Options withContextSize(int n) {
            return new Options(parallel, n, threads, kvType, batchSize, maxQueued);
        }

        /**
         * {@return a copy of these options with another thread count}
         *
         * @param n compute threads; 0 = all CPUs
         */
        public Options withThreads(int n) {
            return new Options(parallel, contextSize, n, kvType, batchSize, maxQueued);
        }

        /**
         * {@return a copy of these options with another cache type}
         *
         * @param t cache type (F32, F16; MLA models also Q8_0, Q4_0)
         */
        public Options withKvType(GgmlType t) {
            return new Options(parallel, contextSize, threads, t, batchSize, maxQueued);
        }

        /**
         * {@return a copy of these options with another prompt chunk size}
         *
         * @param n prompt tokens evaluated in one step, at least 1
         */
        public Options withBatchSize(int n) {
            return new Options(parallel, contextSize, threads, kvType, n, maxQueued);
        }

        /**
         * {@return a copy of these options with another queue capacity}
         *
         * @param n requests that may wait for a slot, 0 or more
         */
        public Options withMaxQueued(int n) {
            return new Options(parallel, contextSize, threads, kvType, batchSize, n);
        }
    }

    /**
     * Counters and gauges (for /metrics). Totals count since the scheduler started.
     *
     * @param slots number of slots
     * @param busySlots slots serving a request now
     * @param queued requests waiting for a slot now
     * @param requestsTotal requests accepted by {@link #submit}
     * @param requestsRejected requests refused with {@link QueueFullException}
     * @param finished requests that ended, by finish reason (every reason present, 0 when none)
     * @param failed requests that ended with {@link CompletionListener#onFailed}
     * @param promptTokensTotal prompt tokens evaluated (tokens reused from a slot's cache not counted)
     * @param cachedPromptTokensTotal prompt tokens reused from a slot's cache instead of evaluated
     * @param generatedTokensTotal tokens generated (an end-of-generation token that ends a reply not counted)
     * @param cacheTokensUsed cache positions held by running requests (idle slots' reusable prefixes not counted)
     * @param cacheBytesUsed those positions in bytes
     * @param cacheBytesAllocated bytes allocated for all slots' caches (0 once closed)
     * @param bytesPerToken bytes one cached token (position) takes in a slot's cache
     * @param cacheBlocksUsed blocks of the paged cache held by sequences (0 on a backend without blocks)
     * @param cacheBlocksTotal blocks in the paged cache's pool
     * @param cacheBlocksCached blocks held by no sequence, kept for prompts that start alike
     */
    public record Stats(int slots, int busySlots, int queued, long requestsTotal, long requestsRejected,
            Map<FinishReason, Long> finished, long failed, long promptTokensTotal, long cachedPromptTokensTotal,
            long generatedTokensTotal, long cacheTokensUsed, long cacheBytesUsed, long cacheBytesAllocated,
            long bytesPerToken, int cacheBlocksUsed, int cacheBlocksTotal, int cacheBlocksCached) {
    }

    private enum State { RUNNING, DRAINING, CANCELLING, CLOSED }

    private final Model model;
    private final Tokenizer tokenizer;
    private final SlotBackend backend;
    private final Options options;
    private final int contextSize;
    private final Slot[] slots;
    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Thread engine;
    private volatile State state = State.RUNNING;
    private volatile long cacheTokensUsed;
    /** Read from the backend by the engine thread after each step (the backend is not called from other threads). */
    private volatile int[] cacheBlocks = {0, 0, 0};
    private volatile long cacheBytesAllocated;
    private volatile int busySlots;
    private final AtomicLong requestsTotal = new AtomicLong();
    private final AtomicLong requestsRejected = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong promptTokens = new AtomicLong();
    private final AtomicLong cachedPromptTokens = new AtomicLong();
    private final AtomicLong generatedTokens = new AtomicLong();
    private final Map<FinishReason, AtomicLong> finished = new EnumMap<>(FinishReason.class);
    private long useClock;

    private BatchScheduler(Model model, SlotBackend backend, Options options) {
        this.model = model;
        this.tokenizer = model.tokenizer();
        this.backend = backend;
        this.options = options;
        this.contextSize = backend.contextSize();
        this.slots = new Slot[backend.slots()];
        for (int i = 0; i < slots.length; i++) slots[i] = new Slot(i);
        for (FinishReason r : FinishReason.values()) finished.put(r, new AtomicLong());
        readCacheGauges();
        engine = new Thread(this::loop, "mla4j-engine");
        engine.setDaemon(true);
        engine.start();
    }

    /**
     * Creates the slots on a loaded model and starts the engine thread. The slots are the sequences of one
     * {@link org.mla4j.BatchContext} (each step one batched forward pass over a paged cache whose blocks slots
     * share when prompts start alike); with the system property {@code mla4j.serve.backend=sessions} they are one
     * {@link Session} each instead, evaluated one after the other.
     *
     * @param model the loaded model; it must stay open until the scheduler is closed, which does not close it
     * @param options slots, context, threads, cache type, chunk size and queue capacity
     * @return the running scheduler; close it to free the slots
     */
    public static BatchScheduler start(Model model, Options options) {
        if ("sessions".equals(System.getProperty("mla4j.serve.backend"))) {
            Session.Options so = new Session.Options(options.contextSize(), options.threads(), options.batchSize(),
                    options.kvType(), Simd.AUTO);
            return new BatchScheduler(model, new SessionSlots(model, options.parallel(), so), options);
        }
        // One pass per step: the generating slots' tokens plus one prompt chunk.
        BatchContext.Options bo = new BatchContext.Options(options.parallel(), options.contextSize(), options.threads(),
                options.batchSize() + options.parallel(), 0, 64, options.kvType(), Simd.AUTO);
        return new BatchScheduler(model, new BatchSlots(model, options.parallel(), bo), options);
    }

    /** {@return the model the slots run on} */
    public Model model() {
        return model;
    }

    /** {@return the model's tokenizer, used to detokenize replies and match stop strings} */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** {@return positions of one slot's cache: a prompt must be shorter} */
    public int contextSize() {
        return contextSize;
    }

    /** {@return the number of slots: requests served at once} */
    public int slots() {
        return slots.length;
    }

    /** {@return the options the scheduler was started with (contextSize as given, possibly 0)} */
    public Options options() {
        return options;
    }

    /**
     * Queues a completion; the listener gets its events on the engine thread.
     *
     * @param request the prompt, token limit, sampling, stop strings and log-probability settings
     * @param listener receives the events; it must return quickly
     * @return a handle to cancel the completion with
     * @throws IllegalArgumentException when the prompt does not fit in a slot's context (it needs room for at least
     *     one generated token) or holds a token id outside the vocabulary
     * @throws QueueFullException when {@code maxQueued} requests are already waiting
     * @throws SchedulerClosedException while shutting down
     */
    public CompletionHandle submit(CompletionRequest request, CompletionListener listener) {
        int n = request.promptLength();
        if (n >= contextSize) {
            throw new IllegalArgumentException("the prompt has " + n + " tokens; a slot's context has " + contextSize
                    + " positions, and the reply needs at least one");
        }
        int vocab = model.hparams().vocabSize();
        for (int i = 0; i < n; i++) {
            int id = request.promptToken(i);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("prompt token " + id + " is outside the vocabulary (0.." + (vocab - 1)
                        + ")");
            }
        }
        Job job = new Job(request, listener);
        lock.lock();
        try {
            if (state != State.RUNNING) throw new SchedulerClosedException();
            int free = 0;
            for (Slot s : slots) if (s.job == null) free++;
            // Free slots take requests at the engine's next step; beyond them, maxQueued may wait.
            if (queue.size() >= options.maxQueued() + free) {
                requestsRejected.incrementAndGet();
                throw new QueueFullException(options.maxQueued());
            }
            queue.addLast(job);
            requestsTotal.incrementAndGet();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return job;
    }

    /**
     * Queues a completion and returns a blocking stream of its events (see {@link TokenStream}).
     *
     * @param request the prompt, token limit, sampling, stop strings and log-probability settings
     * @return the stream; its {@link TokenStream#cancel()} cancels the completion
     * @throws IllegalArgumentException when the prompt does not fit in a slot's context or holds a token id outside
     *     the vocabulary
     * @throws QueueFullException when {@code maxQueued} requests are already waiting
     * @throws SchedulerClosedException while shutting down
     */
    public TokenStream stream(CompletionRequest request) {
        TokenStream stream = new TokenStream();
        stream.attach(submit(request, stream));
        return stream;
    }

    /** {@return a snapshot of the counters and gauges (not taken atomically across them)} */
    public Stats stats() {
        int queued;
        lock.lock();
        try {
            queued = queue.size();
        } finally {
            lock.unlock();
        }
        Map<FinishReason, Long> done = new EnumMap<>(FinishReason.class);
        finished.forEach((r, c) -> done.put(r, c.get()));
        long used = cacheTokensUsed;
        int[] blocks = cacheBlocks;
        return new Stats(slots.length, busySlots, queued, requestsTotal.get(), requestsRejected.get(), done,
                failed.get(), promptTokens.get(), cachedPromptTokens.get(), generatedTokens.get(), used,
                used * backend.bytesPerToken(), state == State.CLOSED ? 0 : cacheBytesAllocated,
                backend.bytesPerToken(), blocks[0], blocks[1], blocks[2]);
    }

    /** {@return true until {@link #shutdown} or {@link #close} is called} */
    public boolean isAccepting() {
        return state == State.RUNNING;
    }

    /**
     * Stops taking requests, lets the queued and running ones finish for at most {@code grace}, then cancels what is
     * left (interrupting an evaluation in progress), stops the engine and frees the slots. Returns true when every
     * request finished by itself. Idempotent; later calls return at once.
     *
     * @param grace how long queued and running requests may take to finish before they are cancelled
     * @return true when every request finished by itself, false when some were cancelled or the calling thread was
     *     interrupted (a call after the scheduler closed returns true)
     */
    public boolean shutdown(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        boolean clean;
        List<Job> dropped = new ArrayList<>();
        lock.lock();
        try {
            if (state == State.CLOSED) return true;
            if (state == State.RUNNING) state = State.DRAINING;
            changed.signalAll();
            while (!idleLocked() && System.nanoTime() < deadline) {
                changed.awaitNanos(Math.min(deadline - System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(50)));
            }
            clean = idleLocked();
            if (!clean) {
                state = State.CANCELLING;
                dropped.addAll(queue);
                queue.clear();
                for (Slot s : slots) if (s.job != null) s.job.cancelled = true;
                backend.cancelRunning();
            }
            changed.signalAll();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            clean = false;
        } finally {
            lock.unlock();
        }
        for (Job j : dropped) j.finishUnstarted(FinishReason.CANCELLED);
        try {
            engine.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        state = State.CLOSED;
        backend.close();
        return clean;
    }

    /** Shuts down at once: cancels queued and running requests. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private boolean idleLocked() {
        if (!queue.isEmpty()) return false;
        for (Slot s : slots) if (s.job != null) return false;
        return true;
    }

    // ---------------------------------------------------------------- engine thread

    private void loop() {
        while (true) {
            List<Slot> admitted = new ArrayList<>();
            lock.lock();
            try {
                while (true) {
                    admitLocked(admitted);
                    boolean active = false;
                    for (Slot s : slots) active |= s.job != null;
                    if (active) break;
                    if (state != State.RUNNING && queue.isEmpty()) {
                        changed.signalAll();
                        return;
                    }
                    changed.awaitUninterruptibly();
                }
            } finally {
                lock.unlock();
            }
            try {
                for (Slot s : admitted) begin(s);
                step();
            } catch (RuntimeException | Error e) {
                // A bug must not stop the engine (every later request would hang): fail what runs, keep serving.
                RuntimeException err = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                for (Slot s : slots) if (s.job != null) fail(s, err);
            }
            updateGauges();
        }
    }

    /** Gives queued requests the free slots: each to the free slot whose cache shares the longest prefix with it. */
    private void admitLocked(List<Slot> admitted) {
        while (!queue.isEmpty()) {
            Job job = queue.peekFirst();
            Slot best = null;
            int bestShared = -1;
            for (Slot s : slots) {
                if (s.job != null) continue;
                int shared = job.request.cachePrompt() ? s.sharedPrefix(job.request) : 0;
                if (shared > bestShared || (shared == bestShared && s.lastUsed < best.lastUsed)) {
                    best = s;
                    bestShared = shared;
                }
            }
            if (best == null) return;
            queue.removeFirst();
            best.job = job;
            best.lastUsed = ++useClock;
            job.slot = best;
            admitted.add(best);
        }
    }

    /** Sets a newly admitted request up in its slot: keeps the shared prefix of the cache, drops the rest. */
    private void begin(Slot slot) {
        Job job = slot.job;
        CompletionRequest r = job.request;
        int keep = r.cachePrompt() ? Math.min(slot.sharedPrefix(r), r.promptLength() - 1) : 0;
        try {
            if (r.cachePrompt()) {
                // The backend may find more of the prompt cached (blocks shared between slots) than this slot held.
                int[] prompt = r.prompt();
                keep = backend.begin(slot.index, keep, prompt);
                slot.length = 0;
                slot.append(Arrays.copyOf(prompt, keep));
            } else {
                backend.truncate(slot.index, 0);
                slot.length = 0;
            }
        } catch (RuntimeException e) {
            fail(slot, e);
            return;
        }
        final int cached = keep;
        job.begin(cached, tokenizer);
        cachedPromptTokens.addAndGet(cached);
        job.call(() -> job.listener.onStarted(r.promptLength(), cached));
    }

    private void step() {
        List<SlotBackend.Work> work = new ArrayList<>();
        List<Slot> owners = new ArrayList<>();
        boolean prefillTaken = false;
        for (Slot s : slots) {
            Job job = s.job;
            if (job == null) continue;
            if (job.cancelled) {
                finish(s, FinishReason.CANCELLED);
                continue;
            }
            int n = job.request.promptLength();
            if (job.fed < n) {
                // One prompt chunk per step, so that the decode steps of the other slots keep their pace.
                if (prefillTaken) continue;
                prefillTaken = true;
                int end = Math.min(n, job.fed + options.batchSize());
                int[] chunk = new int[end - job.fed];
                for (int i = 0; i < chunk.length; i++) chunk[i] = job.request.promptToken(job.fed + i);
                work.add(new SlotBackend.Work(s.index, chunk));
            } else {
                work.add(new SlotBackend.Work(s.index, new int[] {job.lastToken}));
            }
            owners.add(s);
        }
        if (work.isEmpty()) return;
        List<SlotBackend.Result> results = backend.eval(work);
        for (int i = 0; i < results.size(); i++) {
            Slot s = owners.get(i);
            Job job = s.job;
            SlotBackend.Result res = results.get(i);
            int[] tokens = work.get(i).tokens();
            if (res.error() != null) {
                if (job.cancelled && isCancelledStatus(res.error())) {
                    finish(s, FinishReason.CANCELLED);
                } else {
                    fail(s, res.error());
                }
                continue;
            }
            s.append(tokens);
            if (job.fed < job.request.promptLength()) {
                job.fed += tokens.length;
                promptTokens.addAndGet(tokens.length);
                if (job.fed < job.request.promptLength()) continue;
                job.promptDone = System.nanoTime();
                if (job.request.maxTokens() == 0) {
                    finish(s, FinishReason.MAX_TOKENS);
                    continue;
                }
            }
            if (job.cancelled) {
                finish(s, FinishReason.CANCELLED);
                continue;
            }
            sample(s, res.logits());
        }
    }

    private void sample(Slot s, float[] logits) {
        Job job = s.job;
        int id;
        try {
            id = job.sampler.sample(logits);
        } catch (RuntimeException e) {
            fail(s, e);
            return;
        }
        job.sampler.accept(id);
        if (!job.request.ignoreEos() && tokenizer.isEndOfGeneration(id)) {
            finish(s, FinishReason.END_OF_GENERATION);
            return;
        }
        job.generated++;
        generatedTokens.incrementAndGet();
        String text = job.decoder.push(id);
        int top = job.request.topLogprobs();
        GeneratedToken token = top >= 0 ? TokenLogprobs.of(id, text, logits, top)
                : new GeneratedToken(id, text, Float.NaN, List.of());
        for (GeneratedToken t : job.stops.push(token)) job.call(() -> job.listener.onToken(t));
        if (job.stops.matched()) {
            finish(s, FinishReason.STOP_STRING);
        } else if (job.generated >= job.request.maxTokens()) {
            finish(s, FinishReason.MAX_TOKENS);
        } else if (s.length >= contextSize) {
            finish(s, FinishReason.CONTEXT_FULL);
        } else {
            job.lastToken = id;
        }
    }

    private void finish(Slot s, FinishReason reason) {
        Job job = s.job;
        if (reason != FinishReason.CANCELLED && reason != FinishReason.STOP_STRING) {
            for (GeneratedToken t : job.stops.flush()) job.call(() -> job.listener.onToken(t));
        }
        // An incomplete UTF-8 character at the very end is dropped, as llama-server does.
        release(s);
        finished.get(reason).incrementAndGet();
        long now = System.nanoTime();
        long promptEnd = job.promptDone != 0 ? job.promptDone : now;
        CompletionResult result = new CompletionResult(reason, job.request.promptLength(), job.cached, job.generated,
                job.started - job.submitted, promptEnd - job.started, now - promptEnd);
        job.finishOnce(() -> job.listener.onFinished(result));
    }

    private void fail(Slot s, RuntimeException error) {
        Job job = s.job;
        // The cache may hold part of a failed chunk's work: start the slot afresh.
        try {
            backend.truncate(s.index, 0);
        } catch (RuntimeException ignored) {
            // the next request truncates again and fails visibly if the slot is broken
        }
        s.length = 0;
        release(s);
        failed.incrementAndGet();
        job.finishOnce(() -> job.listener.onFailed(error));
    }

    private void release(Slot s) {
        try {
            backend.end(s.index);
        } catch (RuntimeException ignored) {
            // the next request's begin truncates again and fails visibly if the slot is broken
        }
        s.job.slot = null;
        s.job = null;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void updateGauges() {
        long used = 0;
        int busy = 0;
        for (Slot s : slots) {
            if (s.job != null) {
                used += s.length;
                busy++;
            }
        }
        cacheTokensUsed = used;
        busySlots = busy;
        readCacheGauges();
    }

    private void readCacheGauges() {
        if (state == State.CLOSED) return;
        try {
            cacheBlocks = backend.blocks();
            cacheBytesAllocated = backend.bytesAllocated();
        } catch (IllegalStateException closed) {
            // closed meanwhile by a shutdown that gave up waiting for this thread
        }
    }

    private static boolean isCancelledStatus(RuntimeException e) {
        return e instanceof Mla4jException m && "MLA4J_ERR_CANCELLED".equals(m.statusName());
    }

    // ---------------------------------------------------------------- state

    /** A slot: its cache's tokens (engine thread) and the request it serves (changed under the lock or by the engine). */
    private static final class Slot {
        final int index;
        int[] tokens = new int[64];
        int length;
        volatile Job job;
        long lastUsed;

        Slot(int index) {
            this.index = index;
        }

        int sharedPrefix(CompletionRequest r) {
            int n = Math.min(length, r.promptLength());
            int i = 0;
            while (i < n && tokens[i] == r.promptToken(i)) i++;
            return i;
        }

        void append(int[] more) {
            if (length + more.length > tokens.length) {
                tokens = Arrays.copyOf(tokens, Math.max(length + more.length, 2 * tokens.length));
            }
            System.arraycopy(more, 0, tokens, length, more.length);
            length += more.length;
        }
    }

    private final class Job implements CompletionHandle {
        final CompletionRequest request;
        final CompletionListener listener;
        final long submitted = System.nanoTime();
        volatile boolean cancelled;
        volatile Slot slot;
        private boolean done; // guarded by this
        // Engine-thread state of a running request.
        Sampler sampler;
        Tokenizer.StreamDecoder decoder;
        StopMatcher stops;
        int fed;
        int cached;
        int generated;
        int lastToken;
        long started;
        long promptDone;

        Job(CompletionRequest request, CompletionListener listener) {
            this.request = request;
            this.listener = listener;
        }

        void begin(int keep, Tokenizer tokenizer) {
            started = System.nanoTime();
            fed = keep;
            cached = keep;
            sampler = new Sampler(request.sampler());
            for (int i = 0; i < request.promptLength(); i++) sampler.accept(request.promptToken(i));
            decoder = tokenizer.newStreamDecoder();
            stops = new StopMatcher(request.stop());
        }

        @Override
        public void cancel() {
            cancelled = true;
            boolean wasQueued;
            lock.lock();
            try {
                wasQueued = queue.remove(this);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            if (wasQueued) finishUnstarted(FinishReason.CANCELLED);
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        /** Ends a request that never got a slot. */
        void finishUnstarted(FinishReason reason) {
            finished.get(reason).incrementAndGet();
            long now = System.nanoTime();
            CompletionResult result = new CompletionResult(reason, request.promptLength(), 0, 0, now - submitted, 0, 0);
            finishOnce(() -> listener.onFinished(result));
        }

        void finishOnce(Runnable r) {
            synchronized (this) {
                if (done) return;
                done = true;
            }
            try {
                r.run();
            } catch (RuntimeException ignored) {
                // a listener's failure must not stop the engine
            }
        }

        /** Runs a listener callback; a listener that throws gets its request cancelled. */
        void call(Runnable r) {
            try {
                r.run();
            } catch (RuntimeException e) {
                cancelled = true;
            }
        }
    }
}
