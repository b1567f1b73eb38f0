package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;
import org.mla4j.Hyperparameters;
import org.mla4j.Model;
import org.mla4j.calib.CalibrationStats;
import org.mla4j.eval.SampledText;
import org.mla4j.linalg.Matrix;

/**
 * The query fit on stories260K's layer 1 with exact (full-rank) nope keys: where the frequencies do not rotate
 * (theta = 0) the original scores are already matched and the fit returns the identity; with the model's own
 * frequencies it moves away from it (it has the rotation to make up for).
 */
class QueryFitTest {
    @Test
    void identityWithoutRotationAndAChangeWithIt() {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model model = Model.load(file); Arena a = Arena.ofConfined()) {
            Hyperparameters hp = model.hparams();
            List<int[]> seqs = SampledText.generate(model, 512, 7, 256, 1, null);
            try (CalibrationStats stats = CalibrationStats.collect(model, seqs, 1, 512, null)) {
                int layer = 1, dh = hp.headDimK(), half = dh / 2, hkv = hp.kvHeads();
                SourceWeights src = new SourceWeights(model.gguf(), hp);
                // Pair 0 (dims 0 and half) keeps RoPE; the other pairs are the nope dims.
                int[][] nope = new int[hkv][];
                for (int j = 0; j < hkv; j++) {
                    nope[j] = java.util.stream.IntStream.range(0, dh).filter(d -> d != 0 && d != half).toArray();
                }
                int n = nope[0].length;
                int[] rows = new int[hkv * n];
                for (int j = 0; j < hkv; j++) for (int d = 0; d < n; d++) rows[j * n + d] = j * dh + nope[j][d];
                Matrix wq = src.query(a, layer), wk = src.key(a, layer), keyNope = Dense.rows(a, wk, rows);
                float[][] x = stats.keptInputs(layer);
                QueryFit.Tokens tokens = new QueryFit.Tokens(x, x, QueryFit.positions(seqs, x.length));
                double[][][] still = QueryFit.fit(a, hp, new double[half], nope, wq, null, wk, null, keyNope, tokens);
                double[][][] fitted = QueryFit.fit(a, hp, src.thetas(), nope, wq, null, wk, null, keyNope, tokens);
                double stillOff = 0, fittedOff = 0;
                for (int h = 0; h < hp.heads(); h++) {
                    for (int i = 0; i < n; i++) {
                        for (int c = 0; c < n; c++) {
                            stillOff = Math.max(stillOff, Math.abs(still[h][i][c] - (i == c ? 1 : 0)));
                            fittedOff = Math.max(fittedOff, Math.abs(fitted[h][i][c] - (i == c ? 1 : 0)));
                        }
                    }
                }
                assertTrue(stillOff < 1e-3, "no rotation: B should be the identity, max |B - I| = " + stillOff);
                assertTrue(fittedOff > 0.05, "with rotation: B should differ from the identity, max |B - I| = " + fittedOff);
            }
        }
    }
}
