package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mla4j.tokenizer.TestVocabularies.*;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class SentencePieceTokenizerTest {
    private final Tokenizer tokenizer = Tokenizer.forVocabulary(TestVocabularies.hello());

    @Test
    void mergesByHighestScoreNotLongestMatch() {
        // ll(-1), then he(-2), then hell(-3); ▁he(-4) is stale by then; hello(-5) last.
        assertArrayEquals(new int[] {SPACE, HELLO}, tokenizer.encode("hello", false, false));
    }

    @Test
    void equalScoresMergeLeftmostPairFirst() {
        assertArrayEquals(new int[] {SPACE, AA, A}, tokenizer.encode("aaa", false, false));
    }

    @Test
    void addsBosOnlyWhenAskedAndNothingForEmptyText() {
        assertArrayEquals(new int[] {BOS, SPACE, HELLO}, tokenizer.encode("hello", true, false));
        assertArrayEquals(new int[] {BOS}, tokenizer.encode("", true, false));
        assertArrayEquals(new int[] {}, tokenizer.encode("", false, false));
    }

    @Test
    void spacesBecomeSpaceMarks() {
        assertArrayEquals(new int[] {TWO_SPACES}, tokenizer.encode(" ", false, false));
        // "▁hello▁aa": the second word has no "▁a" token, so the mark stays alone.
        assertArrayEquals(new int[] {SPACE, HELLO, SPACE, AA}, tokenizer.encode("hello aa", false, false));
    }

    @Test
    void withoutSpacePrefixNothingIsPrepended() {
        Tokenizer noPrefix = Tokenizer.forVocabulary(TestVocabularies.hello("test", true, false));
        assertArrayEquals(new int[] {HELLO}, noPrefix.encode("hello", false, false));
        // Nothing was added, so decoding strips nothing either.
        assertEquals(" hello", noPrefix.decode(new int[] {SPACE, HELLO}));
    }

    @Test
    void unknownCharactersFallBackToUtf8ByteTokens() {
        // € is E2 82 AC.
        assertArrayEquals(new int[] {SPACE, BYTE0 + 0xE2, BYTE0 + 0x82, BYTE0 + 0xAC},
                tokenizer.encode("\u20AC", false, false));
        // A supplementary character (U+1F600, F0 9F 98 80) is one symbol of two chars.
        assertArrayEquals(new int[] {SPACE, BYTE0 + 0xF0, BYTE0 + 0x9F, BYTE0 + 0x98, BYTE0 + 0x80},
                tokenizer.encode("\uD83D\uDE00", false, false));
    }

    @Test
    void withoutByteTokensAnUnknownCharacterIsOneUnknownToken() {
        Tokenizer noBytes = Tokenizer.forVocabulary(TestVocabularies.hello("test", false, true));
        assertArrayEquals(new int[] {SPACE, UNK, HELLO}, noBytes.encode("\u20AChello", false, false));
    }

    @Test
    void controlTokensAreTextUnlessParseSpecial() {
        assertArrayEquals(new int[] {BOS, SPACE, HELLO}, tokenizer.encode("<s>hello", false, true));
        // '<', 's', '>' have no tokens: bytes 3C 73 3E.
        assertArrayEquals(new int[] {SPACE, BYTE0 + 0x3C, BYTE0 + 0x73, BYTE0 + 0x3E, HELLO},
                tokenizer.encode("<s>hello", false, false));
    }

    @Test
    void userDefinedTokensAreAlwaysSplitOutAndTheNextFragmentGetsAPrefixSpace() {
        assertArrayEquals(new int[] {SPACE, HELLO, USER, SPACE, HELLO}, tokenizer.encode("hello<|user|>hello", false, false));
        // Without the Phi-3 quirk the spaces after the token stay: "▁▁▁hello" -> ▁▁ (leftmost of two equal pairs), ▁, hello.
        assertArrayEquals(new int[] {SPACE, HELLO, USER, TWO_SPACES, SPACE, HELLO},
                tokenizer.encode("hello<|user|>  hello", false, false));
    }

    @Test
    void phi3SpecialTokensSwallowFollowingWhitespace() {
        Tokenizer phi3 = Tokenizer.forVocabulary(TestVocabularies.hello("Phi3", true, true));
        assertArrayEquals(new int[] {SPACE, HELLO, USER, SPACE, HELLO}, phi3.encode("hello<|user|> \n\thello", false, false));
        // <s> keeps the whitespace after it even for Phi-3.
        assertArrayEquals(new int[] {BOS, TWO_SPACES, HELLO}, phi3.encode("<s> hello", false, true));
    }

    @Test
    void textOfEndOfGenerationTokensMakesThemControlTokens() {
        // "<|end|>" is typed normal here, but llama.cpp forces it to control: not matched without parseSpecial,
        // hidden when decoding, and it ends generation.
        assertArrayEquals(new int[] {END}, tokenizer.encode("<|end|>", false, true));
        assertEquals("", tokenizer.decode(new int[] {END}));
        assertTrue(tokenizer.isEndOfGeneration(END));
        assertTrue(tokenizer.isEndOfGeneration(EOS));
        assertFalse(tokenizer.isEndOfGeneration(BOS));
        assertFalse(tokenizer.isEndOfGeneration(HELLO));
    }

    @Test
    void decodeStripsTheLeadingSpaceOfTheFirstTokenOnly() {
        assertEquals("hello", tokenizer.decode(new int[] {SPACE, HELLO}));
        assertEquals("hello hello", tokenizer.decode(new int[] {SPACE, HELLO, SPACE, HELLO}));
        // As in llama.cpp's detokenize: a leading BOS consumes the strip, so the space stays.
        assertEquals(" hello", tokenizer.decode(new int[] {BOS, SPACE, HELLO}));
        assertEquals("\u20AC", tokenizer.decode(new int[] {SPACE, BYTE0 + 0xE2, BYTE0 + 0x82, BYTE0 + 0xAC}));
        assertEquals("hello<|user|>", tokenizer.decode(new int[] {HELLO, USER}));
        assertEquals("hello", tokenizer.decode(new int[] {HELLO, EOS, UNK}));
        assertEquals("\uFFFD", tokenizer.decode(new int[] {BYTE0 + 0xE2}));
    }

    @Test
    void piecesRenderControlTokensButBytesAreRaw() {
        assertEquals("<s>", tokenizer.piece(BOS));
        assertEquals(" he", tokenizer.piece(SPACE_HE));
        assertArrayEquals(new byte[] {}, tokenizer.pieceBytes(BOS, false));
        assertArrayEquals(new byte[] {(byte) 0xE2}, tokenizer.pieceBytes(BYTE0 + 0xE2, false));
        assertEquals("\n", tokenizer.piece(BYTE0 + 0x0A));
    }

    @Test
    void streamDecoderHoldsSplitCharacters() {
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder();
        assertEquals(" ", stream.push(SPACE));
        assertEquals("", stream.push(BYTE0 + 0xE2));
        assertEquals("", stream.push(BYTE0 + 0x82));
        assertEquals("\u20AC", stream.push(BYTE0 + 0xAC));
        assertEquals("", stream.push(BOS));
        assertEquals("hello", stream.push(HELLO));
        assertEquals("", stream.push(BYTE0 + 0xE2));
        assertEquals("\uFFFD", stream.flush());
        assertEquals("", stream.flush());
    }

    @Test
    void badInputIsRejectedWithAClearMessage() {
        var e = assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {HELLO, 9999}));
        assertTrue(e.getMessage().contains("9999"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tokenizer.piece(-1));
        var s = assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("a\uD800b", false, false));
        assertTrue(s.getMessage().contains("surrogate at index 1"), s.getMessage());
        assertThrows(NullPointerException.class, () -> tokenizer.encode(null, false, false));
    }

    @Test
    void noUnknownTokenAndNoByteTokensIsAnError() {
        Vocabulary v = TestVocabularies.hello("test", false, true);
        Vocabulary noUnk = new Vocabulary(v.model(), v.name(), v.tokens(), v.scores(), v.types(), v.bos(), v.eos(), -1,
                -1, -1, true, false, true);
        var e = assertThrows(IllegalArgumentException.class,
                () -> Tokenizer.forVocabulary(noUnk).encode("x", false, false));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
    }

    @Test
    void unsupportedModelIsRejected() {
        Vocabulary v = TestVocabularies.hello();
        Vocabulary bert = new Vocabulary("bert", "", v.tokens(), v.scores(), v.types(), -1, -1, -1, -1, -1, false,
                false, false);
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.forVocabulary(bert));
        assertTrue(e.getMessage().contains("'bert'"), e.getMessage());
    }

    @Test
    void wordStartsUseTheSpacePrefixedTokenWhenItWins() {
        // "▁he\n": he(-2) merges first, then ▁he(-4); the newline falls back to its byte token.
        assertArrayEquals(new int[] {SPACE_HE, BYTE0 + 0x0A}, tokenizer.encode("he\n", false, false));
    }

    @Test
    void longTextEncodesInLinearTime() {
        String unit = "hello aaa \u20AC hello<|user|>he\n";
        int repeats = 1_000_000 / unit.length() + 1;
        String text = unit.repeat(repeats);
        int[][] result = new int[1][];
        // An O(n^2) merge would take minutes on 1 MB; linear-ish takes well under a second.
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            result[0] = tokenizer.encode(text, false, false);
        });
        // First fragment "▁hello▁aaa▁€▁hello" gives 11 tokens + <|user|>; each later fragment
        // "▁he\nhello▁aaa▁€▁hello" gives ▁he, 0A, hello, ▁, aa, a, ▁, E2, 82, AC, ▁, hello + <|user|>;
        // the last one "▁he\n" gives ▁he, 0A.
        assertEquals(12 + 13 * (repeats - 1) + 2, result[0].length);
        assertArrayEquals(new int[] {SPACE, HELLO, SPACE, AA, A, SPACE, BYTE0 + 0xE2, BYTE0 + 0x82, BYTE0 + 0xAC, SPACE,
                HELLO, USER, SPACE_HE, BYTE0 + 0x0A, HELLO}, java.util.Arrays.copyOf(result[0], 15));
    }
}
