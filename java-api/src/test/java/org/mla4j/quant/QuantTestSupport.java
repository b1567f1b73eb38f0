package org.mla4j.quant;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** Decoders written from the block layouts in shared/docs/formats.md, to check the encoders' output. */
final class QuantTestSupport {
    private QuantTestSupport() {
    }

    static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Q8_0: f16 d; i8 qs[32]; x = qs*d. */
    static float[] decodeQ8_0(ByteBuffer b, int blocks) {
        float[] x = new float[blocks * 32];
        for (int i = 0; i < blocks; i++) {
            float d = Float.float16ToFloat(b.getShort(i * 34));
            for (int j = 0; j < 32; j++) {
                x[i * 32 + j] = b.get(i * 34 + 2 + j) * d;
            }
        }
        return x;
    }

    /** Q4_0: f16 d; u8 qs[16]; x[j] = ((qs[j]&0xF)-8)*d, x[j+16] = ((qs[j]>>4)-8)*d. */
    static float[] decodeQ4_0(ByteBuffer b, int blocks) {
        float[] x = new float[blocks * 32];
        for (int i = 0; i < blocks; i++) {
            float d = Float.float16ToFloat(b.getShort(i * 18));
            for (int j = 0; j < 16; j++) {
                int q = b.get(i * 18 + 2 + j) & 0xff;
                x[i * 32 + j] = ((q & 0xF) - 8) * d;
                x[i * 32 + j + 16] = ((q >> 4) - 8) * d;
            }
        }
        return x;
    }

    static float[] gaussian(int n, double std, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller keeps the test free of the code under test's generator
            x[i] = (float) (std * Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble()));
        }
        return x;
    }
}
