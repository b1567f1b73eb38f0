package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mla4j.quant.QuantTestSupport.decodeQ8_0;
import static org.mla4j.quant.QuantTestSupport.gaussian;
import static org.mla4j.quant.QuantTestSupport.le;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class Q8_0Test {
    private static byte[] encode(float[] x) {
        ByteBuffer b = le(x.length / 32 * 34);
        RowEncoder.of(org.mla4j.gguf.GgmlType.Q8_0).encode(x, 0, x.length, b);
        assertEquals(b.capacity(), b.position());
        return b.array();
    }

    @Test
    void halfwayValuesRoundAwayFromZero() {
        // amax 127 gives d = 1 exactly, so q = roundf(x)
        float[] x = new float[32];
        float[] in = {127, -0.5f, 0.5f, 2.5f, -2.5f, 1.4999999f, -127, 0, 0.49999997f, 100.5f, -100.5f, 3.3f, -3.7f};
        System.arraycopy(in, 0, x, 0, in.length);
        byte[] expected = new byte[34];
        expected[0] = 0x00; // fp16(1.0) = 0x3C00, little-endian
        expected[1] = 0x3C;
        byte[] q = {127, -1, 1, 3, -3, 1, -127, 0, 0, 101, -101, 3, -4};
        System.arraycopy(q, 0, expected, 2, q.length);
        assertArrayEquals(expected, encode(x));
    }

    @Test
    void scaleIsAmaxOver127() {
        // amax 254 (negative) -> d = 2: 3/2 = 1.5 -> 2, -3/2 -> -2, 5/2 = 2.5 -> 3, 1/2 -> 1
        float[] x = new float[32];
        x[0] = 3;
        x[1] = -3;
        x[2] = 5;
        x[3] = 1;
        x[31] = -254;
        byte[] out = encode(x);
        assertEquals(0x00, out[0]);
        assertEquals(0x40, out[1]); // fp16(2.0) = 0x4000
        assertArrayEquals(new byte[] {2, -2, 3, 1, 0}, java.util.Arrays.copyOfRange(out, 2, 7));
        assertEquals(-127, out[2 + 31]);
    }

    @Test
    void zeroBlockHasZeroScaleAndCodes() {
        assertArrayEquals(new byte[68], encode(new float[64]));
    }

    @Test
    void decodedValuesAreWithinHalfAStep() {
        int blocks = 256;
        float[] x = gaussian(blocks * 32, 0.02, 7);
        ByteBuffer b = ByteBuffer.wrap(encode(x)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        float[] y = decodeQ8_0(b, blocks);
        for (int i = 0; i < blocks; i++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[i * 32 + j]));
            }
            float d = amax / 127;
            float d16 = Float.float16ToFloat(b.getShort(i * 34));
            assertTrue(Math.abs(d - d16) <= d * 0x1p-10f, "fp16 scale within half an ulp");
            double bound = d16 / 2 + 127 * Math.abs(d - d16) + 1e-7;
            for (int j = 0; j < 32; j++) {
                int k = i * 32 + j;
                assertTrue(Math.abs(x[k] - y[k]) <= bound, "element " + k + ": " + x[k] + " -> " + y[k]);
            }
        }
    }
}
