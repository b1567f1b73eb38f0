package org.mla4j.convert;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

import org.mla4j.Hyperparameters;
import org.mla4j.bindings.Mla4jNative;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.internal.Status;
import org.mla4j.linalg.Matrix;

/**
 * The attention projections of an original llama/qwen2 GGUF model, read one layer at a time as double matrices in
 * the Hugging Face layout the conversion math is written in (mla-conversion.md, "Conventions"): a weight is
 * {@code [out][in]}, and within every head the rotated pair of frequency {@code i} is rows {@code (i, i + d_h/2)}
 * (rotate_half). llama GGUF files store the pair as adjacent rows {@code (2i, 2i+1)} (formats.md, "HF -> GGUF Q/K row
 * permutation"), so their q and k rows are un-permuted here; qwen2 files are already in that layout.
 */
public final class SourceWeights {
    private final GgufFile gguf;
    private final Hyperparameters hp;
    private final double[] thetas;

    /**
     * The weights of a source model.
     *
     * @param gguf the model's file
     * @param hp   its hyperparameters
     */
    public SourceWeights(GgufFile gguf, Hyperparameters hp) {
        this.gguf = gguf;
        this.hp = hp;
        this.thetas = computeThetas();
    }

    /** {@return the model's hyperparameters} */
    public Hyperparameters hparams() {
        return hp;
    }

    /**
     * {@return W_q [H*dh][E]}
     *
     * @param arena where the matrix lives
     * @param layer the layer
     */
    public Matrix query(Arena arena, int layer) {
        return projection(arena, layer, "attn_q", hp.heads(), true);
    }

    /**
     * {@return W_k [Hkv*dh][E]}
     *
     * @param arena where the matrix lives
     * @param layer the layer
     */
    public Matrix key(Arena arena, int layer) {
        return projection(arena, layer, "attn_k", hp.kvHeads(), true);
    }

    /**
     * {@return W_v [Hkv*dh][E]}
     *
     * @param arena where the matrix lives
     * @param layer the layer
     */
    public Matrix value(Arena arena, int layer) {
        return projection(arena, layer, "attn_v", hp.kvHeads(), false);
    }

    /**
     * {@return W_o [E][H*dh] (attn_output; its columns are the concatenated value heads, never permuted)}
     *
     * @param arena where the matrix lives
     * @param layer the layer
     */
    public Matrix output(Arena arena, int layer) {
        String name = "blk." + layer + ".attn_output.weight";
        GgufTensorInfo t = gguf.tensor(name).orElseThrow(() -> new ConversionException(
                gguf.path() + ": tensor '" + name + "' is missing"));
        int rows = hp.embeddingLength(), cols = hp.heads() * hp.headDimV();
        MemorySegment f32 = decodeSegment(arena, t, cols, rows);
        Matrix m = Matrix.allocate(arena, rows, cols);
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) m.set(r, c, f32.getAtIndex(JAVA_FLOAT, (long) r * cols + c));
        return m;
    }

    /**
     * Bias of attn_q, attn_k or attn_v in the same row order as the weight, or null when the model has none.
     *
     * @param layer the layer
     * @param which "attn_q", "attn_k" or "attn_v"
     * @return the bias, or null
     */
    public double[] bias(int layer, String which) {
        String name = "blk." + layer + "." + which + ".bias";
        Optional<GgufTensorInfo> t = gguf.tensor(name);
        if (t.isEmpty()) return null;
        int heads = which.equals("attn_q") ? hp.heads() : hp.kvHeads();
        float[] raw = decodeVector(t.get(), heads * hp.headDimK());
        double[] out = new double[raw.length];
        boolean permute = !which.equals("attn_v") && needsUnpermute();
        for (int row = 0; row < raw.length; row++) out[row] = raw[permute ? ggufRow(row) : row];
        return out;
    }

    /**
     * Angular frequency of each pair {@code i} of a head (i &lt; n_rot/2) in radians per position, as the source model
     * rotates it: {@code freq_scale * base^(-2i/n_rot) / factor_i}, with the per-frequency divisors of llama3-style
     * rope scaling (rope_freqs.weight) when the file has them. A new array each call.
     *
     * @return the frequencies, n_rot/2 of them
     */
    public double[] thetas() {
        return thetas.clone();
    }

    private double[] computeThetas() {
        float[] factors = gguf.tensor("rope_freqs.weight").map(t -> decodeVector(t, hp.ropeDims() / 2)).orElse(null);
        double[] t = new double[hp.ropeDims() / 2];
        for (int i = 0; i < t.length; i++) {
            t[i] = hp.ropeFreqScale() * Math.pow(hp.ropeFreqBase(), -2.0 * i / hp.ropeDims());
            if (factors != null) t[i] /= factors[i];
        }
        return t;
    }

    /**
     * {@return attn_norm of a layer (the weights of the RMSNorm in front of the attention), decoded from any stored type}
     *
     * @param layer the layer
     */
    public float[] attentionNorm(int layer) {
        String name = "blk." + layer + ".attn_norm.weight";
        return decodeVector(gguf.tensor(name).orElseThrow(() -> new ConversionException(
                gguf.path() + ": tensor '" + name + "' is missing")), hp.embeddingLength());
    }

    private boolean needsUnpermute() {
        return !hp.ropeNeox();
    }

    /** The GGUF row (within a head) holding HF row {@code hfRow}: HF row j*dh/2+i is GGUF row 2i+j. */
    private int ggufRow(int row) {
        int dh = hp.headDimK();
        int head = row / dh, within = row % dh;
        int j = within / (dh / 2), i = within % (dh / 2);
        return head * dh + 2 * i + j;
    }

    private Matrix projection(Arena arena, int layer, String which, int heads, boolean rotated) {
        String name = "blk." + layer + "." + which + ".weight";
        GgufTensorInfo t = gguf.tensor(name).orElseThrow(() -> new ConversionException(
                gguf.path() + ": tensor '" + name + "' is missing"));
        int rows = heads * hp.headDimK(), cols = hp.embeddingLength();
        MemorySegment f32 = decodeSegment(arena, t, cols, rows);
        Matrix m = Matrix.allocate(arena, rows, cols);
        boolean permute = rotated && needsUnpermute();
        for (int r = 0; r < rows; r++) {
            long src = (long) (permute ? ggufRow(r) : r) * cols;
            for (int c = 0; c < cols; c++) m.set(r, c, f32.getAtIndex(JAVA_FLOAT, src + c));
        }
        return m;
    }

    private float[] decodeVector(GgufTensorInfo t, int n) {
        try (Arena a = Arena.ofConfined()) {
            return decodeSegment(a, t, n, 1).toArray(JAVA_FLOAT);
        }
    }

    /** Decodes a whole tensor of exactly ne = {cols, rows} to float32. */
    private MemorySegment decodeSegment(Arena arena, GgufTensorInfo t, long cols, long rows) {
        long[] s = t.shape();
        long n = cols * rows;
        if (t.elementCount() != n || s[0] != cols && !(s.length == 1 && s[0] == n)) {
            throw new ConversionException(gguf.path() + ": tensor '" + t.name() + "' has shape " + t.shapeString()
                    + ", expected [" + cols + (rows > 1 ? ", " + rows : "") + "]");
        }
        MemorySegment out = arena.allocate(JAVA_FLOAT, n);
        MemorySegment data = gguf.tensorData(t);
        Status.check(Mla4jNative.mla4j_type_dequantize(t.type().id(), data, data.byteSize(), out, n),
                "decoding " + t.name() + " of " + gguf.path());
        return out;
    }
}
