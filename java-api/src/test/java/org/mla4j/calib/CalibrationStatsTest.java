package org.mla4j.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Hyperparameters;
import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.linalg.Matrix;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * Calibration statistics of the native forward pass against a plain Java recomputation of layer 0 from the GGUF's
 * F32 tensors (x = RMSNorm(embedding) * attn_norm; q = W_q x + b_q, k = W_k x + b_k before RoPE): stories260K
 * (llama, adjacent pairs) and a synthesized qwen2 (NEOX halves, biases); the structure of every layer's moment.
 */
class CalibrationStatsTest {

    @TempDir
    Path tmp;

    /** Layer-0 statistics computed from the file, in double. */
    record Reference(double[][] moment, double[][] q, double[][] k) {
    }

    private static float[] f32(GgufFile g, String name) {
        GgufTensorInfo t = g.tensor(name).orElseThrow(() -> new AssertionError("no tensor " + name));
        assertEquals(GgmlType.F32, t.type(), name);
        return g.tensorData(t).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }

    static Reference layer0(Path file, Hyperparameters hp, List<int[]> sequences) {
        int e = hp.embeddingLength(), dk = hp.headDimK(), pairs = hp.ropeDims() / 2;
        double[][] m = new double[e + 1][e + 1], qn = new double[hp.heads()][pairs], kn = new double[hp.kvHeads()][pairs];
        try (GgufFile g = GgufFile.open(file)) {
            float[] emb = f32(g, "token_embd.weight"), norm = f32(g, "blk.0.attn_norm.weight");
            float[] wq = f32(g, "blk.0.attn_q.weight"), wk = f32(g, "blk.0.attn_k.weight");
            float[] bq = hp.qkvBias() ? f32(g, "blk.0.attn_q.bias") : null, bk = hp.qkvBias() ? f32(g, "blk.0.attn_k.bias") : null;
            for (int[] seq : sequences) {
                for (int tok : seq) {
                    double ss = 0;
                    for (int i = 0; i < e; i++) ss += (double) emb[tok * e + i] * emb[tok * e + i];
                    double scale = 1 / Math.sqrt(ss / e + hp.rmsEps());
                    double[] x = new double[e + 1];
                    for (int i = 0; i < e; i++) x[i] = emb[tok * e + i] * scale * norm[i];
                    x[e] = 1;
                    for (int i = 0; i <= e; i++) for (int j = 0; j <= e; j++) m[i][j] += x[i] * x[j];
                    addPairs(qn, project(wq, bq, x, e), dk, pairs, hp.ropeNeox());
                    addPairs(kn, project(wk, bk, x, e), dk, pairs, hp.ropeNeox());
                }
            }
        }
        return new Reference(m, qn, kn);
    }

    private static double[] project(float[] w, float[] b, double[] x, int e) {
        double[] y = new double[w.length / e];
        for (int o = 0; o < y.length; o++) {
            double s = b != null ? b[o] : 0;
            for (int i = 0; i < e; i++) s += (double) w[o * e + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    /** llama GGUF: pair i = (2i, 2i+1); NEOX (qwen2): (i, i + n_rot/2). */
    private static void addPairs(double[][] sums, double[] v, int dk, int pairs, boolean neox) {
        for (int h = 0; h < sums.length; h++) {
            for (int i = 0; i < pairs; i++) {
                double a = v[h * dk + (neox ? i : 2 * i)], b = v[h * dk + (neox ? i + pairs : 2 * i + 1)];
                sums[h][i] += Math.hypot(a, b);
            }
        }
    }

    private static void assertRelClose(double[][] expected, double[][] actual, double tol, String what) {
        double max = 0, diff = 0;
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i].length, actual[i].length, what);
            for (int j = 0; j < expected[i].length; j++) {
                max = Math.max(max, Math.abs(expected[i][j]));
                diff = Math.max(diff, Math.abs(expected[i][j] - actual[i][j]));
            }
        }
        assertTrue(max > 0, what + ": reference is all zero");
        assertTrue(diff <= tol * max, what + ": differs by " + diff + " (largest value " + max + ")");
    }

    /** Symmetric with the token count in the corner, for every layer. */
    private static void assertStructure(CalibrationStats s, long tokens) {
        try (Arena a = Arena.ofConfined()) {
            for (int l = 0; l < s.layers(); l++) {
                Matrix m = s.moment(a, l);
                int n = s.embeddingLength() + 1;
                assertEquals(n, m.rows());
                assertEquals((double) tokens, m.get(n - 1, n - 1), "layer " + l);
                for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) assertEquals(m.get(i, j), m.get(j, i));
            }
        }
    }

    private static void assertLayer0(CalibrationStats s, Reference ref) {
        try (Arena a = Arena.ofConfined()) {
            assertRelClose(ref.moment(), s.moment(a, 0).toArray(), 1e-5, "layer-0 moment");
        }
        assertRelClose(ref.q(), s.queryPairNormSums(0), 1e-5, "layer-0 query pair norms");
        assertRelClose(ref.k(), s.keyPairNormSums(0), 1e-5, "layer-0 key pair norms");
    }

    private static int[] sequence(int n, int mul, int add, int vocab) {
        int[] s = new int[n];
        s[0] = 1;
        for (int i = 1; i < n; i++) s[i] = (i * mul + add) % vocab;
        return s;
    }

    @Test
    void storiesLayerZeroMatchesTheFile() {
        Path file = Fixtures.require("models/stories260K.gguf");
        List<int[]> seqs = List.of(sequence(30, 37, 11, 512), sequence(600, 101, 5, 512)); // 600: two batches
        List<Long> progress = new ArrayList<>();
        CalibrationStats stats;
        Reference ref;
        try (Model model = Model.load(file)) {
            assertTrue(!model.hparams().ropeNeox());
            stats = CalibrationStats.collect(model, seqs, 2, progress::add);
            ref = layer0(file, model.hparams(), seqs);
        }
        try (stats) { // readable after the model is closed
            assertEquals(List.of(30L, 542L, 630L), progress);
            assertEquals(630, stats.tokens());
            assertEquals(5, stats.layers());
            assertStructure(stats, 630);
            assertLayer0(stats, ref);
            assertEquals(8, stats.queryPairNormSums(4).length);
            assertEquals(4, stats.keyPairNormSums(4)[0].length);
            assertThrows(IndexOutOfBoundsException.class, () -> stats.queryPairNormSums(5));
        }
        assertThrows(IllegalStateException.class, stats::tokens);
    }

    @Test
    void qwen2NeoxPairsAndBiases() throws Exception {
        Path file = tmp.resolve("qwen2-tiny.gguf");
        Synth.write(SynthSpec.preset("qwen2-tiny"), GgmlType.F32, 7, file, ProgressListener.NONE);
        List<int[]> seqs = List.of(sequence(40, 13, 3, 512), sequence(9, 7, 2, 512));
        try (Model model = Model.load(file)) {
            Hyperparameters hp = model.hparams();
            assertTrue(hp.ropeNeox() && hp.qkvBias(), "qwen2 synth: NEOX with biases");
            try (CalibrationStats stats = CalibrationStats.collect(model, seqs, 1, null)) {
                assertEquals(49, stats.tokens());
                assertStructure(stats, 49);
                assertLayer0(stats, layer0(file, hp, seqs));
            }
        }
    }

    @Test
    void keptInputsAreTheRowsOfTheMoment() {
        Path file = Fixtures.require("models/stories260K.gguf");
        List<int[]> seqs = List.of(sequence(30, 37, 11, 512), sequence(20, 101, 5, 512));
        try (Model model = Model.load(file);
             CalibrationStats all = CalibrationStats.collect(model, seqs, 2, 1000, null);
             CalibrationStats first = CalibrationStats.collect(model, seqs.subList(0, 1), 1, 0, null);
             CalibrationStats some = CalibrationStats.collect(model, seqs, 1, 30, null);
             Arena arena = Arena.ofConfined()) {
            assertEquals(50, all.keptTokens());
            assertEquals(30, some.keptTokens()); // the first sequence only
            assertEquals(0, first.keptTokens());
            for (int layer : new int[] {0, 3}) {
                float[][] x = some.keptInputs(layer);
                Matrix m = first.moment(arena, layer);
                double worst = 0, scale = 0;
                for (int i = 0; i < 64; i++) {
                    for (int j = 0; j < 64; j++) {
                        double sum = 0;
                        for (float[] row : x) sum += (double) row[i] * row[j];
                        worst = Math.max(worst, Math.abs(sum - m.get(i, j)));
                        scale = Math.max(scale, Math.abs(m.get(i, j)));
                    }
                }
                assertTrue(worst < 1e-5 * scale, "layer " + layer + ": kept rows vs moment " + worst + " of " + scale);
                assertArrayEquals(x[29], all.keptInputs(layer)[29], 0f);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> all.keptInputs(5));
            assertThrows(IllegalArgumentException.class, () -> CalibrationStats.collect(model, seqs, 1, -1, null));
        }
    }

    @Test
    void mlaModelsGetMomentsAndBadSequencesAreRefused() throws Exception {
        Path file = tmp.resolve("mha2mla-tiny.gguf");
        Synth.write(MlaSynthSpec.preset("mha2mla-tiny"), GgmlType.F16, 1, file, ProgressListener.NONE);
        try (Model model = Model.load(file)) {
            // A converted (MLA) model is measured again by the converter's refit: moments only, pair norms stay 0.
            try (CalibrationStats stats = CalibrationStats.collect(model, List.of(new int[] {1, 2, 3}), 1, null);
                 Arena arena = Arena.ofConfined()) {
                assertEquals(3, stats.tokens());
                Matrix m = stats.moment(arena, 0);
                int e = model.hparams().embeddingLength();
                assertEquals(3.0, m.get(e, e), 0.0);
                assertTrue(m.get(0, 0) > 0, "the moment holds the layer inputs");
                for (double[] row : stats.queryPairNormSums(0)) for (double v : row) assertEquals(0.0, v, 0.0);
            }
            assertThrows(IllegalArgumentException.class, () -> CalibrationStats.collect(model, List.of(), 1, null));
            assertThrows(IllegalArgumentException.class, () -> CalibrationStats.collect(model, List.of(new int[0]), 1, null));
        }
    }
}
