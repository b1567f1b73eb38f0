package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class QkPermutationTest {
    /**
     * formats.md: within a head of hd rows, GGUF row 2i+j is HF row j*(hd/2)+i, i.e. GGUF rows 0, 1, 2, 3, ... are
     * HF rows 0, hd/2, 1, hd/2+1, ...; written out for hd = 8 and two heads.
     */
    @Test
    void matchesLlamaCppPermute() {
        long[] expected = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
        long[] got = new long[16];
        for (int r = 0; r < 16; r++) got[r] = QkPermutation.hfRowOf(r, 8);
        assertArrayEquals(expected, got);
    }

    @Test
    void inverseUndoesIt() {
        for (int hd : new int[] {2, 8, 64, 128}) {
            for (long r = 0; r < 3L * hd; r++) {
                assertEquals(r, QkPermutation.ggufRowOf(QkPermutation.hfRowOf(r, hd), hd));
                // the independent statement: HF row j*hd/2+i <- GGUF row 2i+j
                long head = r / hd, k = r % hd, i = k % (hd / 2), j = k / (hd / 2);
                assertEquals(head * hd + 2 * i + j, QkPermutation.ggufRowOf(r, hd));
            }
        }
    }
}
