package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mla4j.quant.QuantTestSupport.decodeQ4_0;
import static org.mla4j.quant.QuantTestSupport.gaussian;
import static org.mla4j.quant.QuantTestSupport.le;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.mla4j.gguf.GgmlType;
import org.junit.jupiter.api.Test;

class Q4_0Test {
    private static byte[] encode(float[] x) {
        ByteBuffer b = le(x.length / 32 * 18);
        RowEncoder.of(GgmlType.Q4_0).encode(x, 0, x.length, b);
        assertEquals(b.capacity(), b.position());
        return b.array();
    }

    /** The block layout: scale, then qs[j] = q[j] | q[j+16] << 4. */
    private static byte[] block(int d16, int[] q) {
        byte[] b = new byte[18];
        b[0] = (byte) d16;
        b[1] = (byte) (d16 >> 8);
        for (int j = 0; j < 16; j++) {
            b[2 + j] = (byte) (q[j] | q[j + 16] << 4);
        }
        return b;
    }

    @Test
    void allNegativeBlock() {
        // x_j = -(j+1)/4: max = -8 (j = 31), d = -8/-8 = 1, q = (int)(x + 8.5)
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) {
            x[j] = -(j + 1) / 4f;
        }
        int[] q = {8, 8, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0};
        assertArrayEquals(block(0x3C00, q), encode(x));
    }

    @Test
    void negativeMaxClampsTheTopAndHalvesRoundUp() {
        // max -8 -> d = 1: 7 -> 15, 7.6 -> 16 clamped to 15, -0.5 -> 8 (exactly 8.0), 0.5 -> 9, -3.7 -> 4
        float[] x = new float[32];
        float[] in = {-8, 7, 7.6f, -0.5f, 0.5f, -3.7f, 0};
        System.arraycopy(in, 0, x, 0, in.length);
        x[20] = 2.2f; // high nibble of qs[4]: 10.7 -> 10
        int[] q = new int[32];
        java.util.Arrays.fill(q, 8);
        int[] head = {0, 15, 15, 8, 9, 4, 8};
        System.arraycopy(head, 0, q, 0, head.length);
        q[20] = 10;
        assertArrayEquals(block(0x3C00, q), encode(x));
    }

    @Test
    void positiveMaxGivesNegativeScale() {
        // max +8 -> d = -1, id = -1: 8 -> 0.5 -> 0 (decodes to 8), -8 -> 16.5 -> 15 (decodes to -7), 1 -> 7
        float[] x = new float[32];
        x[0] = 8;
        x[1] = -8;
        x[2] = 1;
        int[] q = new int[32];
        java.util.Arrays.fill(q, 8);
        q[0] = 0;
        q[1] = 15;
        q[2] = 7;
        assertArrayEquals(block(0xBC00, q), encode(x));
    }

    @Test
    void firstOfEqualMagnitudesIsTheMax() {
        float[] a = new float[32];
        a[0] = 4;
        a[1] = -4; // max stays +4: d = -0.5 (fp16 0xB800)
        float[] b = new float[32];
        b[0] = -4;
        b[1] = 4;  // max stays -4: d = 0.5 (fp16 0x3800)
        int[] qa = new int[32];
        java.util.Arrays.fill(qa, 8);
        qa[0] = 0;
        qa[1] = 15; // -4 * -2 + 8.5 = 16.5 -> 16 -> 15
        int[] qb = qa.clone();
        assertArrayEquals(block(0xB800, qa), encode(a));
        assertArrayEquals(block(0x3800, qb), encode(b));
    }

    @Test
    void zeroBlock() {
        int[] q = new int[32];
        java.util.Arrays.fill(q, 8); // 0 * 0 + 8.5 -> 8
        // d = 0.0f / -8 is -0.0f in C as in Java, so the stored scale is fp16 -0 (0x8000)
        assertArrayEquals(block(0x8000, q), encode(new float[32]));
    }

    @Test
    void decodedValuesAreWithinOneStep() {
        int blocks = 256;
        float[] x = gaussian(blocks * 32, 0.02, 11);
        ByteBuffer b = ByteBuffer.wrap(encode(x)).order(ByteOrder.LITTLE_ENDIAN);
        float[] y = decodeQ4_0(b, blocks);
        int beyondHalfStep = 0;
        for (int i = 0; i < blocks; i++) {
            float d16 = Math.abs(Float.float16ToFloat(b.getShort(i * 18)));
            for (int j = 0; j < 32; j++) {
                int k = i * 32 + j;
                float err = Math.abs(x[k] - y[k]);
                // rounding costs half a step (plus the fp16 scale error); only the clamped side can lose a full step
                assertTrue(err <= d16 * 1.01f, "element " + k + ": " + x[k] + " -> " + y[k]);
                if (err > d16 * 0.51f) {
                    beyondHalfStep++;
                }
            }
        }
        assertTrue(beyondHalfStep < blocks, "clamping is rare: " + beyondHalfStep);
    }
}
