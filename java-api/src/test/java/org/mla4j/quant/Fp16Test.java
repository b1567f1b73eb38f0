package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Expected bit patterns worked out by hand from the binary16 format (1 sign, 5 exponent bits, 10 mantissa bits). */
class Fp16Test {
    private static void check(int expected, float f) {
        assertEquals(expected, Fp16.fromFloat(f) & 0xffff, () -> "fp16 of " + f + " (0x"
                + Integer.toHexString(Float.floatToRawIntBits(f)) + ")");
    }

    @Test
    void normalValues() {
        check(0x3C00, 1.0f);
        check(0xC000, -2.0f);
        check(0x3800, 0.5f);
        check(0x3555, 1f / 3);       // 0.333333: mantissa 0x155.55.. rounds down
        check(0x7BFF, 65504f);       // largest finite
        check(0x0400, 0x1p-14f);     // smallest normal
        check(0x0000, 0.0f);
        check(0x8000, -0.0f);
    }

    @Test
    void tiesRoundToEven() {
        check(0x3C00, 1f + 0x1p-11f);      // halfway between 0x3C00 (even) and 0x3C01
        check(0x3C02, 1f + 3 * 0x1p-11f);  // halfway between 0x3C01 and 0x3C02 (even)
        check(0x3C01, 1f + 0x1p-11f + 0x1p-20f); // just above halfway
        check(0x7BFF, 65519.996f);         // below the 65520 midpoint
        check(0x7C00, 65520f);             // halfway between 0x7BFF (odd) and infinity
    }

    @Test
    void subnormals() {
        check(0x0001, 0x1p-24f);               // smallest subnormal
        check(0x0000, 0x1p-25f);               // halfway between 0 (even) and 0x0001
        check(0x0001, 0x1.000002p-25f);        // just above halfway
        check(0x0002, 3 * 0x1p-25f);           // halfway between 0x0001 and 0x0002 (even)
        check(0x03FF, 1023 * 0x1p-24f);        // largest subnormal
        check(0x8001, -0x1p-24f);
    }

    @Test
    void infinitiesAndNaNs() {
        check(0x7C00, Float.POSITIVE_INFINITY);
        check(0xFC00, Float.NEGATIVE_INFINITY);
        check(0x7C00, 1e10f);
        check(0x7E00, Float.NaN);
        check(0xFE00, Float.intBitsToFloat(0xFFC00000));
        check(0x7E00, Float.intBitsToFloat(0x7F800001)); // signalling NaN with a payload: ggml gives 0x7E00
        check(0x7E00, Float.intBitsToFloat(0x7FFFFFFF));
    }

    @Test
    void decode() {
        assertEquals(1.0f, Fp16.toFloat((short) 0x3C00));
        assertEquals(-0x1p-24f, Fp16.toFloat((short) 0x8001));
        assertEquals(65504f, Fp16.toFloat((short) 0x7BFF));
    }
}
