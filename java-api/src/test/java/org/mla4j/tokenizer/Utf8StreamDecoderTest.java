package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Utf8StreamDecoderTest {
    private static int complete(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return Utf8StreamDecoder.completeLength(b);
    }

    @Test
    void holdsOnlyAnIncompleteTrailingCharacter() {
        assertEquals(0, complete());
        assertEquals(1, complete('a'));
        assertEquals(1, complete('a', 0xE2));           // € started
        assertEquals(1, complete('a', 0xE2, 0x82));     // € still incomplete
        assertEquals(4, complete('a', 0xE2, 0x82, 0xAC)); // € complete
        assertEquals(0, complete(0xF0, 0x9F, 0x98));    // 4-byte emoji missing one byte
        assertEquals(4, complete(0xF0, 0x9F, 0x98, 0x80));
        assertEquals(2, complete(0xC3, 0xA9));          // é
    }

    @Test
    void invalidBytesAreNotHeldBack() {
        assertEquals(1, complete(0x80));       // stray continuation byte
        assertEquals(2, complete(0xE2, 0x28)); // broken sequence: decoded now as U+FFFD + '('
        assertEquals(1, complete(0xFF));       // never valid in UTF-8
    }

    @Test
    void decodesPiecesAsTheyComplete() {
        byte[][] pieces = {{'h', 'i'}, {(byte) 0xF0}, {(byte) 0x9F, (byte) 0x98}, {(byte) 0x80, '!'}, {(byte) 0x80}};
        Utf8StreamDecoder decoder = new Utf8StreamDecoder(id -> pieces[id]);
        assertEquals("hi", decoder.push(0));
        assertEquals("", decoder.push(1));
        assertEquals("", decoder.push(2));
        assertEquals("\uD83D\uDE00!", decoder.push(3));
        assertEquals("\uFFFD", decoder.push(4));
        assertEquals("", decoder.flush());
    }
}
