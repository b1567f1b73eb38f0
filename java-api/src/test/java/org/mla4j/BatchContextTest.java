package org.mla4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgmlType;

/**
 * The Java face of mla4j_batch on stories260K: three sequences decoded together (a prompt chunk of one interleaved
 * with decode rows of the others) give a single session's logits; a shared prompt is reused from the cache; pool
 * exhaustion and position gaps fail with the native message; blocks return when sequences leave.
 */
class BatchContextTest {

    static double relDiff(float[] a, float[] b) {
        double amax = 1, d = 0;
        for (int i = 0; i < a.length; i++) {
            amax = Math.max(amax, Math.abs(b[i]));
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d / amax;
    }

    static int[] tokens(int n, int seed) {
        int[] t = new int[n];
        t[0] = 1;
        for (int i = 1; i < n; i++) t[i] = (i * 37 + seed * 11) % 512;
        return t;
    }

    @Test
    void batchedRowsGiveSingleSessionLogits() throws Exception {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model m = Model.load(file)) {
            int[][] seqs = {tokens(70, 1), tokens(20, 2), tokens(90, 3)};
            float[][][] ref = new float[3][][];
            Session.Options so = Session.Options.defaults().withContextSize(128).withThreads(1).withKvType(GgmlType.F32);
            for (int i = 0; i < 3; i++) {
                try (Session s = m.newSession(so)) {
                    ref[i] = s.evalAllLogits(seqs[i]);
                }
            }
            BatchContext.Options bo = BatchContext.Options.defaults(3).withContextSize(128).withThreads(1)
                    .withKvType(GgmlType.F32);
            try (BatchContext b = m.newBatchContext(bo)) {
                int[] id = new int[3];
                for (int i = 0; i < 3; i++) id[i] = b.add().id();
                // Step 1: the first 50 tokens of sequence 0 and the first token of 1 and 2.
                // Then one token per sequence per step, until each is done.
                int[] pos = new int[3];
                double worst = 0;
                int compared = 0;
                while (pos[0] < 70 || pos[1] < 20 || pos[2] < 90) {
                    java.util.List<int[]> rows = new java.util.ArrayList<>();
                    for (int i = 0; i < 3; i++) {
                        int k = i == 0 && pos[0] == 0 ? 50 : 1;
                        for (int j = 0; j < k && pos[i] + j < seqs[i].length; j++) rows.add(new int[] {i, pos[i] + j});
                    }
                    int n = rows.size();
                    int[] ids = new int[n], ps = new int[n], ts = new int[n];
                    boolean[] want = new boolean[n];
                    for (int r = 0; r < n; r++) {
                        int i = rows.get(r)[0];
                        ids[r] = id[i];
                        ps[r] = rows.get(r)[1];
                        ts[r] = seqs[i][ps[r]];
                        want[r] = true;
                    }
                    b.decode(ids, ps, ts, want);
                    for (int r = 0; r < n; r++) {
                        int i = rows.get(r)[0];
                        worst = Math.max(worst, relDiff(b.logits(r), ref[i][ps[r]]));
                        compared++;
                        pos[i] = ps[r] + 1;
                    }
                }
                assertEquals(180, compared);
                assertTrue(worst <= 1e-4, "batched vs single-session logits: " + worst);
                assertEquals(90, b.position(id[2]));
                BatchContext.Stats st = b.stats();
                assertEquals(2 + 1 + 2, st.blocksUsed()); // 70, 20 and 90 positions in blocks of 64
                assertEquals(3 * 2, st.blocksTotal());
                for (int i = 0; i < 3; i++) b.remove(id[i]);
                assertEquals(0, b.stats().blocksUsed());
                assertEquals(2, b.stats().blocksCached()); // the full first blocks of sequences 0 and 2
                // A prompt that starts like sequence 2 reuses its first block.
                BatchContext.Sequence again = b.add(java.util.Arrays.copyOf(seqs[2], 80));
                assertEquals(64, again.cachedTokens());
                assertEquals(64, b.position(again.id()));
            }
        }
    }

    @Test
    void refusalsCarryTheNativeMessage() throws Exception {
        Path file = Fixtures.require("models/stories260K.gguf");
        try (Model m = Model.load(file)) {
            BatchContext b = m.newBatchContext(BatchContext.Options.defaults(2).withContextSize(256).withBlocks(1)
                    .withThreads(1));
            int id = b.add().id();
            int[] t = tokens(65, 4), ids = new int[65], ps = new int[65];
            for (int i = 0; i < 65; i++) {
                ids[i] = id;
                ps[i] = i;
            }
            Mla4jException e = assertThrows(Mla4jException.class, () -> b.decode(ids, ps, t, null));
            assertTrue(e.getMessage().contains("kv pool: no free block (1 blocks of 64 tokens in use)"), e.getMessage());
            assertEquals(0, b.position(id));
            e = assertThrows(Mla4jException.class, () -> b.decode(new int[] {id}, new int[] {3}, new int[] {1}, null));
            assertTrue(e.getMessage().contains("continues at position 0, not 3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> b.decode(new int[] {id}, new int[0], new int[] {1}, null));
            m.close(); // closes the batch context too
            assertTrue(b.isClosed());
            assertThrows(IllegalStateException.class, () -> b.position(id));
            b.close();
        }
    }
}
