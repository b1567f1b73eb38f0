package org.mla4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.mla4j.bindings.Mla4jNative;
import org.mla4j.bindings.mla4j_hparams;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.internal.NativeHandles;
import org.mla4j.internal.Status;
import org.mla4j.internal.UseGuard;
import org.mla4j.tokenizer.Tokenizer;
import org.mla4j.tokenizer.Vocabulary;

/**
 * A model loaded from a GGUF file (llama, qwen2): weights memory-mapped by the native library, immutable, safe to
 * share between threads, each of which creates its own {@link Session}. {@link #close()} closes the sessions still
 * open on it first (waiting for their calls in progress), so closing a model under a running session is safe.
 */
public final class Model implements AutoCloseable {

    private final Path path;
    private final MemorySegment handle;
    private final Hyperparameters hparams;
    private final MlaHyperparameters mla;
    private final GgufFile gguf;
    private final UseGuard guard;
    /** Open sessions, closed by {@link #close()} before the model is freed. */
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    /** Open batch contexts, closed with the sessions. */
    private final Set<BatchContext> batches = ConcurrentHashMap.newKeySet();
    private volatile Tokenizer tokenizer;

    static {
        NativeHandles.register(new NativeHandlesAccess());
    }

    private Model(Path path, MemorySegment handle) {
        this.path = path;
        this.handle = handle;
        this.guard = new UseGuard(() -> path + ": the model is closed");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hp = mla4j_hparams.allocate(a);
            Status.check(Mla4jNative.mla4j_model_get_hparams(handle, hp));
            this.hparams = new Hyperparameters(mla4j_hparams.arch(hp).getString(0), mla4j_hparams.n_vocab(hp),
                    mla4j_hparams.n_ctx_train(hp), mla4j_hparams.n_embd(hp), mla4j_hparams.n_layer(hp),
                    mla4j_hparams.n_head(hp), mla4j_hparams.n_head_kv(hp), mla4j_hparams.head_dim_k(hp),
                    mla4j_hparams.head_dim_v(hp), mla4j_hparams.n_ff(hp), mla4j_hparams.n_rot(hp),
                    mla4j_hparams.rope_type(hp) == Mla4jNative.MLA4J_ROPE_NEOX(), mla4j_hparams.rope_freq_base(hp),
                    mla4j_hparams.rope_freq_scale(hp), mla4j_hparams.rms_eps(hp), mla4j_hparams.tied_output(hp) != 0,
                    mla4j_hparams.has_qkv_bias(hp) != 0);
            this.mla = mla4j_hparams.is_mla(hp) == 0 ? null
                    : new MlaHyperparameters(mla4j_hparams.kv_lora_rank(hp), mla4j_hparams.q_lora_rank(hp),
                            mla4j_hparams.head_dim_nope(hp), mla4j_hparams.rope_dim(hp),
                            mla4j_hparams.n_rope_heads(hp), mla4j_hparams.latent_norm(hp) != 0,
                            mla4j_hparams.kq_scale(hp));
            MemorySegment g = a.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_model_get_gguf(handle, g));
            this.gguf = GgufFile.borrow(path, g.get(ADDRESS, 0));
        }
    }

    /**
     * Loads a model; a missing, malformed or unsupported file throws {@link Mla4jException} naming the problem. A
     * Hugging Face directory (config.json + safetensors + tokenizer.json) is converted to a temporary GGUF first
     * ({@link org.mla4j.hf.HfToGguf}), which is deleted once loaded: the model keeps its own copy or mapping.
     *
     * @param path a GGUF file or a Hugging Face model directory
     * @return the loaded model, to be closed by the caller
     */
    public static Model load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    /** How the weights are held: {@link Mmap#AUTO}, {@link Mmap#ON} (llama.cpp's --mmap), {@link Mmap#OFF}. */
    public enum Mmap {
        /** Files that fit easily (a quarter of the available memory) are read into huge pages, larger ones mapped. */
        AUTO,
        /** Memory-mapped: pages loaded on demand and shared with the page cache; files larger than RAM run. */
        ON,
        /** Read into anonymous memory (the page cache of what was read is dropped: never held twice). */
        OFF
    }

    /**
     * Options of {@link #load(Path, LoadOptions)}: the mmap mode and whether to mlock the weights.
     *
     * @param mmap how the weights are held: mapped, read into memory, or chosen by size
     * @param mlock lock the weights in memory (llama.cpp's --mlock); when the system refuses (RLIMIT_MEMLOCK) the
     *     model still loads unlocked, and {@link MemoryInfo#locked()} says so
     */
    public record LoadOptions(Mmap mmap, boolean mlock) {
        /**
         * Checks the options.
         *
         * @throws NullPointerException if mmap is null
         */
        public LoadOptions {
            java.util.Objects.requireNonNull(mmap, "mmap");
        }

        /** {@return the defaults: {@link Mmap#AUTO}, no mlock} */
        public static LoadOptions defaults() {
            return new LoadOptions(Mmap.AUTO, false);
        }

        /**
         * {@return a copy of these options with another mmap mode}
         *
         * @param m the mmap mode, not null
         */
        public LoadOptions withMmap(Mmap m) {
            return new LoadOptions(m, mlock);
        }

        /**
         * {@return a copy of these options with mlock on or off}
         *
         * @param lock whether to lock the weights in memory
         */
        public LoadOptions withMlock(boolean lock) {
            return new LoadOptions(mmap, lock);
        }
    }

    /**
     * How a loaded model's weights are held: a mapping of the file or a copy, locked or not, and their bytes.
     *
     * @param mapped true when the weights are a memory mapping of the file, false for a copy in anonymous memory
     * @param locked true when mlock succeeded on the whole image (false when not asked for or refused)
     * @param bytes size of the file image in bytes
     */
    public record MemoryInfo(boolean mapped, boolean locked, long bytes) {
    }

    /**
     * Loads a model with the given memory options (see {@link #load(Path)}).
     *
     * @param path a GGUF file or a Hugging Face model directory
     * @param options the mmap mode and whether to mlock the weights
     * @return the loaded model, to be closed by the caller
     * @throws Mla4jException for a missing, malformed or unsupported file
     * @throws java.io.UncheckedIOException when a Hugging Face directory cannot be converted
     */
    public static Model load(Path path, LoadOptions options) {
        if (org.mla4j.hf.HfModelDir.isModelDir(path)) return loadHfDirectory(path, options);
        NativeLibrary.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int mode = switch (options.mmap()) {
                case AUTO -> Mla4jNative.MLA4J_MMAP_AUTO();
                case ON -> Mla4jNative.MLA4J_MMAP_ON();
                case OFF -> Mla4jNative.MLA4J_MMAP_OFF();
            };
            Status.check(Mla4jNative.mla4j_model_load_ex(a.allocateFrom(path.toString()), mode, options.mlock() ? 1 : 0,
                    out));
            MemorySegment handle = out.get(ADDRESS, 0);
            try {
                return new Model(path, handle);
            } catch (RuntimeException e) {
                Mla4jNative.mla4j_model_free(handle);
                throw e;
            }
        }
    }

    private static Model loadHfDirectory(Path dir, LoadOptions options) {
        Path gguf;
        try {
            gguf = org.mla4j.hf.HfToGguf.toTemporaryGguf(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
        try {
            return load(gguf, options);
        } finally {
            try {
                java.nio.file.Files.deleteIfExists(gguf);
            } catch (java.io.IOException e) {
                // a temporary file left in java.io.tmpdir; the model is loaded either way
            }
        }
    }

    /** {@return the file (or Hugging Face directory) the model was loaded from} */
    public Path path() {
        return path;
    }

    /** {@return the model's hyperparameters} */
    public Hyperparameters hparams() {
        return hparams;
    }

    /** {@return the latent-attention hyperparameters of an MLA model (deepseek2, mha2mla); empty for llama and qwen2} */
    public java.util.Optional<MlaHyperparameters> mla() {
        return java.util.Optional.ofNullable(mla);
    }

    /** {@return the model's metadata and tensor table (a view valid while the model is open)} */
    public GgufFile gguf() {
        if (guard.isClosed()) throw new IllegalStateException(path + ": the model is closed");
        return gguf;
    }

    /** {@return the tokenizer described by the file's tokenizer.ggml.* metadata (built on first use)} */
    public Tokenizer tokenizer() {
        Tokenizer t = tokenizer;
        if (t == null) {
            synchronized (this) {
                if (tokenizer == null) {
                    tokenizer = Tokenizer.forVocabulary(Vocabulary.fromMetadata(gguf()));
                }
                t = tokenizer;
            }
        }
        return t;
    }

    /**
     * Bytes of KV cache one token takes over all layers for a cache of the given type: F32 or F16, and for MLA
     * models also Q8_0 and Q4_0 (when the latent row is a multiple of 32 values).
     *
     * @param kvType the cache element type
     * @return bytes per token, all layers together
     */
    public long kvBytesPerToken(GgmlType kvType) {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_model_kv_bytes_per_token(handle, kvType.id(), out));
            return out.get(JAVA_LONG, 0);
        }
    }

    /** {@return how the weights are held in memory} */
    public MemoryInfo memory() {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment mapped = a.allocate(JAVA_INT), locked = a.allocate(JAVA_INT), bytes = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_model_get_memory(handle, mapped, locked, bytes));
            return new MemoryInfo(mapped.get(JAVA_INT, 0) != 0, locked.get(JAVA_INT, 0) != 0, bytes.get(JAVA_LONG, 0));
        }
    }

    /**
     * Returns the resident set size of this process in bytes (VmRSS of /proc/self/status), or -1 where the system
     * does not tell it. Weights of a memory-mapped model count once they have been read.
     *
     * @return the resident set size in bytes, or -1
     */
    public static long residentSetSize() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    String[] f = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(f[0]) * 1024L;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** {@return a new session (KV cache, buffers, threads) with default options} */
    public Session newSession() {
        return newSession(Session.Options.defaults());
    }

    /**
     * Creates a session; any number of threads may create sessions on one model at once.
     *
     * @param options the session's context size, threads, batch size, cache type and kernels
     * @return the new session, to be closed by the caller (closing the model closes it too)
     */
    public Session newSession(Session.Options options) {
        // The session is created and registered under the guard, so close() either sees it or refuses it.
        try (UseGuard.Use u = guard.enter()) {
            Session s = new Session(this, handle, options);
            sessions.add(s);
            return s;
        }
    }

    /**
     * Creates a batch context: many sequences decoded together over one paged, prefix-sharing cache.
     *
     * @param options sequences, context size, threads, rows per pass, pool size, cache type and kernels
     * @return the new batch context, to be closed by the caller (closing the model closes it too)
     */
    public BatchContext newBatchContext(BatchContext.Options options) {
        try (UseGuard.Use u = guard.enter()) {
            BatchContext b = new BatchContext(this, handle, options);
            batches.add(b);
            return b;
        }
    }

    /** Runs action on the native model while the model stays open (for {@link NativeHandlesAccess}). */
    <T> T withHandle(java.util.function.Function<MemorySegment, T> action) {
        try (UseGuard.Use u = guard.enter()) {
            return action.apply(handle);
        }
    }

    /** Called by {@link Session#close()}. */
    void forget(Session s) {
        sessions.remove(s);
    }

    /** Called by {@link BatchContext#close()}. */
    void forget(BatchContext b) {
        batches.remove(b);
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Frees the model: first closes every session still open on it (each waits for its call in progress; later
     * calls on them throw {@link IllegalStateException}), then its GGUF view, then the native model. Closing twice
     * is harmless.
     */
    @Override
    public void close() {
        guard.close(() -> {
            for (Session s : List.copyOf(sessions)) s.close();
            for (BatchContext b : List.copyOf(batches)) b.close();
            gguf.close();
            Mla4jNative.mla4j_model_free(handle);
        });
    }

    @Override
    public String toString() {
        return "Model[" + path + ", " + hparams.architecture() + ", " + hparams.layers() + " layers]";
    }
}
