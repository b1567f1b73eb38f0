package org.mla4j.synth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class SynthVocabTest {
    @Test
    void llamaLayoutWithExactSizeAndUniqueTokens() {
        SynthVocab v = SynthVocab.build(32000);
        assertEquals(32000, v.tokens().size());
        assertEquals(32000, new HashSet<>(v.tokens()).size());
        assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>", "<0x01>"), v.tokens().subList(0, 5));
        assertEquals("<0x0A>", v.tokens().get(3 + 10)); // llama.cpp's newline byte token, uppercase hex
        assertEquals("<0xFF>", v.tokens().get(258));
        assertEquals("\u2581", v.tokens().get(259));
        assertEquals("a", v.tokens().get(260));
        assertEquals(2, v.types()[0]);
        assertEquals(3, v.types()[1]);
        assertEquals(3, v.types()[2]);
        assertEquals(6, v.types()[3]);
        assertEquals(6, v.types()[258]);
        assertEquals(1, v.types()[259]);
        assertEquals(1, v.types()[31999]);
        assertEquals(0f, v.scores()[258]);
        assertEquals(0f, v.scores()[259]);
        assertEquals(-1f, v.scores()[260]);
        assertEquals(-(31999 - 259), v.scores()[31999]);
        // 1 + 73 singles + 52 "▁x": letter pairs start at 259 + 126
        assertEquals("\u2581Z", v.tokens().get(384));
        assertEquals("aa", v.tokens().get(385));
        assertEquals("zz", v.tokens().get(385 + 675));
        assertEquals("\u2581aa", v.tokens().get(385 + 676));
        assertEquals("aaa", v.tokens().get(385 + 2 * 676));
        assertEquals("\u2581aaa", v.tokens().get(385 + 2 * 676 + 17576));
    }

    @Test
    void smallestVocabulary() {
        assertEquals(260, SynthVocab.build(260).tokens().size());
        assertThrows(IllegalArgumentException.class, () -> SynthVocab.build(259));
    }
}
