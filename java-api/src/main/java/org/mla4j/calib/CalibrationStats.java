package org.mla4j.calib;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongConsumer;

import org.mla4j.Hyperparameters;
import org.mla4j.Model;
import org.mla4j.NativeLibrary;
import org.mla4j.Session;
import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgmlType;
import org.mla4j.internal.NativeHandles;
import org.mla4j.internal.Status;
import org.mla4j.linalg.Matrix;

/**
 * Statistics of the attention inputs of an original (llama, qwen2) model over calibration sequences, gathered by
 * the native forward pass (mla4j_calib). Per layer, over every token t, with x_t = RMSNorm(h_t) * attn_norm the
 * input of the q/k/v projections (E = embedding length):
 * <ul>
 * <li>{@link #moment}: M = sum_t [x_t; 1][x_t; 1]^T, (E+1) x (E+1): sum x x^T, the sums of x in the last row and
 * column, the token count in the corner; E[(W x + b)(W x + b)^T] of any linear map follows exactly;</li>
 * <li>{@link #queryPairNormSums}/{@link #keyPairNormSums}: sum_t |(a, b)| of the pairs RoPE rotates by frequency i,
 * per head, before RoPE and with biases (MHA2MLA's S_2-norm scores).</li>
 * </ul>
 * The statistics stay readable after the model is closed. Not thread-safe; {@link #close()} frees the native memory.
 */
public final class CalibrationStats implements AutoCloseable {

    /** Tokens evaluated together, and the granularity of progress reports. */
    public static final int BATCH = 512;

    private final MemorySegment handle;
    private final int layers;
    private final int embedding;
    private final int heads;
    private final int kvHeads;
    private final int pairs;
    private boolean closed;

    private CalibrationStats(MemorySegment handle, Hyperparameters hp) {
        this.handle = handle;
        this.layers = hp.layers();
        this.embedding = hp.embeddingLength();
        this.heads = hp.heads();
        this.kvHeads = hp.kvHeads();
        this.pairs = hp.ropeDims() / 2;
    }

    /**
     * Runs every sequence from position 0 in a fresh state (F32 KV cache, context = the longest sequence) and
     * returns the statistics of all their tokens. progress receives the number of tokens done so far after each
     * batch. MLA models, or a machine without LAPACK/BLAS, throw {@link org.mla4j.Mla4jException}.
     *
     * @param model the (llama or qwen2) model
     * @param sequences token sequences, each run from position 0
     * @param threads compute threads, 0 = all CPUs
     * @param progress told the number of tokens done, may be null
     * @return the statistics, to be closed by the caller
     */
    public static CalibrationStats collect(Model model, List<int[]> sequences, int threads, LongConsumer progress) {
        return collect(model, sequences, threads, 0, progress);
    }

    /**
     * As {@link #collect(Model, List, int, LongConsumer)}, also keeping the attention inputs of the first keptTokens
     * tokens of every layer ({@link #keptInputs}), in the order of the sequences.
     *
     * @param model the (llama or qwen2) model
     * @param sequences token sequences, each run from position 0
     * @param threads compute threads, 0 = all CPUs
     * @param keptTokens how many tokens' attention inputs to keep (0 = none)
     * @param progress told the number of tokens done, may be null
     * @return the statistics, to be closed by the caller
     */
    public static CalibrationStats collect(Model model, List<int[]> sequences, int threads, long keptTokens,
            LongConsumer progress) {
        if (keptTokens < 0) throw new IllegalArgumentException("keptTokens " + keptTokens + " is negative");
        if (sequences.isEmpty()) throw new IllegalArgumentException("no calibration sequences");
        int longest = 0;
        for (int i = 0; i < sequences.size(); i++) {
            if (sequences.get(i).length == 0) throw new IllegalArgumentException("calibration sequence " + i + " is empty");
            longest = Math.max(longest, sequences.get(i).length);
        }
        CalibrationStats stats = create(model);
        try {
            if (keptTokens > 0) Status.check(Mla4jNative.mla4j_calib_keep_inputs(stats.handle, keptTokens), "keeping calibration inputs");
        } catch (RuntimeException e) {
            stats.close();
            throw e;
        }
        try (Session session = model.newSession(Session.Options.defaults().withContextSize(longest).withThreads(threads)
                .withBatchSize(BATCH).withKvType(GgmlType.F32))) {
            NativeHandles.get().withSession(session, ctx -> {
                Status.check(Mla4jNative.mla4j_context_set_calib(ctx, stats.handle), "attaching calibration statistics");
                return null;
            });
            long done = 0;
            for (int[] seq : sequences) {
                session.reset();
                for (int from = 0; from < seq.length; from += BATCH) {
                    session.eval(Arrays.copyOfRange(seq, from, Math.min(seq.length, from + BATCH)));
                    done += Math.min(BATCH, seq.length - from);
                    if (progress != null) progress.accept(done);
                }
            }
            // Closing the session frees its context, which detaches the statistics.
            return stats;
        } catch (RuntimeException | Error e) {
            stats.close();
            throw e;
        }
    }

    /** Empty statistics of model, filled by attaching them to a session's context. */
    private static CalibrationStats create(Model model) {
        NativeLibrary.prepareLapack(); // the statistics accumulate with BLAS (dsyrk), loaded by mla4j_calib_create
        MemorySegment h = NativeHandles.get().withModel(model, m -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                Status.checkLapack(Mla4jNative.mla4j_calib_create(m, out), "calibration statistics of " + model.path());
                return out.get(ADDRESS, 0);
            }
        });
        return new CalibrationStats(h, model.hparams());
    }

    /** {@return tokens accumulated} */
    public long tokens() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_calib_get_token_count(live(), out));
            return out.get(JAVA_LONG, 0);
        }
    }

    /** {@return embedding length E of the model (the moment is (E+1) x (E+1))} */
    public int embeddingLength() {
        return embedding;
    }

    /** {@return the model's number of layers} */
    public int layers() {
        return layers;
    }

    /**
     * {@return the moment of layer, a symmetric (E+1) x (E+1) matrix in arena (see the class comment)}
     *
     * @param arena where the matrix lives
     * @param layer the layer
     */
    public Matrix moment(Arena arena, int layer) {
        checkLayer(layer);
        Matrix m = Matrix.allocate(arena, embedding + 1, embedding + 1);
        Status.check(Mla4jNative.mla4j_calib_get_moment(live(), layer, m.segment()));
        return m;
    }

    /** {@return how many tokens' inputs are kept (at most the keptTokens of {@link #collect(Model, List, int, long, LongConsumer)})} */
    public long keptTokens() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_calib_get_kept_count(live(), out));
            return out.get(JAVA_LONG, 0);
        }
    }

    /**
     * {@return the kept attention inputs of layer: {@link #keptTokens()} rows of E values, in evaluation order}
     *
     * @param layer the layer
     */
    public float[][] keptInputs(int layer) {
        checkLayer(layer);
        int n = Math.toIntExact(keptTokens());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_FLOAT, Math.max(1L, (long) n * embedding));
            Status.check(Mla4jNative.mla4j_calib_get_kept_inputs(live(), layer, s));
            float[][] rows = new float[n][embedding];
            for (int t = 0; t < n; t++) MemorySegment.copy(s, JAVA_FLOAT, (long) t * embedding * Float.BYTES, rows[t], 0, embedding);
            return rows;
        }
    }

    /**
     * {@return sums over tokens of the query pair norms of layer: [n_head][n_rot/2]}
     *
     * @param layer the layer
     */
    public double[][] queryPairNormSums(int layer) {
        return pairNorms(layer)[0];
    }

    /**
     * {@return sums over tokens of the key pair norms of layer: [n_head_kv][n_rot/2]}
     *
     * @param layer the layer
     */
    public double[][] keyPairNormSums(int layer) {
        return pairNorms(layer)[1];
    }

    private double[][][] pairNorms(int layer) {
        checkLayer(layer);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = a.allocate(JAVA_DOUBLE, Math.max(1L, (long) heads * pairs));
            MemorySegment k = a.allocate(JAVA_DOUBLE, Math.max(1L, (long) kvHeads * pairs));
            Status.check(Mla4jNative.mla4j_calib_get_pair_norms(live(), layer, q, k));
            return new double[][][] {rows(q, heads), rows(k, kvHeads)};
        }
    }

    private double[][] rows(MemorySegment s, int n) {
        double[][] out = new double[n][pairs];
        for (int h = 0; h < n; h++) MemorySegment.copy(s, JAVA_DOUBLE, (long) h * pairs * Double.BYTES, out[h], 0, pairs);
        return out;
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= layers) throw new IndexOutOfBoundsException("layer " + layer + " out of range [0, " + layers + ")");
    }

    private MemorySegment live() {
        if (closed) throw new IllegalStateException("the calibration statistics are closed");
        return handle;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Mla4jNative.mla4j_calib_free(handle);
    }
}
