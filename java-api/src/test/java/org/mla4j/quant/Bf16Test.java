package org.mla4j.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Expected bit patterns worked out by hand: bf16 is the upper half of the float32 bits, rounded. */
class Bf16Test {
    private static void check(int expected, int floatBits) {
        assertEquals(expected, Bf16.fromFloat(Float.intBitsToFloat(floatBits)) & 0xffff,
                () -> "bf16 of 0x" + Integer.toHexString(floatBits));
    }

    @Test
    void rounding() {
        check(0x3F80, 0x3F800000); // 1.0 exactly
        check(0x3F80, 0x3F807FFF); // below halfway
        check(0x3F80, 0x3F808000); // halfway, 0x3F80 is even
        check(0x3F82, 0x3F818000); // halfway, 0x3F81 is odd -> up
        check(0x3F81, 0x3F808001); // above halfway
        check(0xBF82, 0xBF818000); // sign does not change the rule
        check(0x0002, 0x00018000); // subnormals round the same way
        check(0x7F80, 0x7F7FFFFF); // the largest float rounds up to infinity
        check(0x8000, 0x80000000); // -0
    }

    @Test
    void infinitiesAndNaNs() {
        check(0x7F80, 0x7F800000);
        check(0xFF80, 0xFF800000);
        check(0x7FC0, 0x7FC00000); // quiet NaN keeps its bits
        check(0x7FC0, 0x7F800001); // signalling NaN: payload below bit 16 dropped, quiet bit (64) set
        check(0xFFC1, 0xFF810000); // top payload bits kept
    }

    @Test
    void decode() {
        assertEquals(1.0f, Bf16.toFloat((short) 0x3F80));
        assertEquals(-2.0f, Bf16.toFloat((short) 0xC000));
        assertEquals(Float.intBitsToFloat(0x7F7F0000), Bf16.toFloat((short) 0x7F7F));
    }
}
