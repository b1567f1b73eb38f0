package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Special tokens, BOS and streaming with real BPE vocabularies. Expected ids come from llama.cpp's
 * llama-tokenize on the same fixture files (`llama-tokenize -m VOCAB -p TEXT --ids [--no-parse-special]`).
 */
class BpeTokenizerTest {
    private static final String TEXT = "<|endoftext|>Hello<\uFF5Cend\u2581of\u2581sentence\uFF5C> world";

    private static Tokenizer load(String name) {
        return Tokenizer.forVocabulary(VocabFixtures.vocabulary(VocabFixtures.gguf(name)));
    }

    @Test
    void deepseekCoderAddsBosAndParsesItsControlTokensOnlyWhenAsked() {
        Tokenizer tokenizer = load("deepseek-coder");
        assertEquals(32013, tokenizer.bos());
        assertArrayEquals(new int[] {32013, 27, 91, 408, 990, 818, 91, 29, 17535, 32014, 1835},
                tokenizer.encode(TEXT, true, true));
        assertArrayEquals(new int[] {32013, 27, 91, 408, 990, 818, 91, 29, 17535, 27, 169, 121, 237, 408, 11028, 210,
                990, 11028, 210, 18119, 720, 169, 121, 237, 29, 1835}, tokenizer.encode(TEXT, true, false));
        assertTrue(tokenizer.isEndOfGeneration(32014));
        // Control tokens decode to nothing, but their piece is their text.
        assertEquals("Hello world", tokenizer.decode(new int[] {32013, 17535, 32014, 1835}));
        assertEquals("<\uFF5Cend\u2581of\u2581sentence\uFF5C>", tokenizer.piece(32014));
    }

    @Test
    void gpt2EndOfTextIsSpecialOnlyWithParseSpecial() {
        Tokenizer tokenizer = load("gpt-2");
        assertArrayEquals(new int[] {50256, 15496, 27, 171, 121, 250, 437, 5008, 223, 1659, 5008, 223, 34086, 594, 171,
                121, 250, 29, 995}, tokenizer.encode(TEXT, true, true));
        assertArrayEquals(new int[] {27, 91, 437, 1659, 5239, 91, 29, 15496, 27, 171, 121, 250, 437, 5008, 223, 1659,
                5008, 223, 34086, 594, 171, 121, 250, 29, 995}, tokenizer.encode(TEXT, true, false));
        assertTrue(tokenizer.isEndOfGeneration(50256));
        assertEquals(" world", tokenizer.piece(995));
    }

    @Test
    void starcoderAndFalconSpecialTokens() {
        assertArrayEquals(new int[] {0, 8302, 65, 23865, 274, 435, 4620, 247, 1048, 4620, 247, 18318, 23865, 274, 67,
                5810}, load("starcoder").encode(TEXT, true, true));
        assertArrayEquals(new int[] {11, 9856, 39, 181, 133, 234, 415, 13856, 207, 1487, 13856, 207, 19638, 608, 181,
                133, 234, 41, 1079}, load("falcon").encode(TEXT, true, true));
    }

    @Test
    void streamingHoldsBackACharacterSplitOverTokens() {
        Tokenizer tokenizer = load("gpt-2");
        // llama-tokenize: "héllo 😀" -> 71 'h', 2634 'é', 18798 'llo', 30325 ' \xF0\x9F\x98', 222 '\x80'.
        int[] ids = tokenizer.encode("h\u00E9llo \uD83D\uDE00", false, false);
        assertArrayEquals(new int[] {71, 2634, 18798, 30325, 222}, ids);
        Tokenizer.StreamDecoder stream = tokenizer.newStreamDecoder();
        assertEquals("h", stream.push(71));
        assertEquals("\u00E9", stream.push(2634));
        assertEquals("llo", stream.push(18798));
        assertEquals(" ", stream.push(30325));
        assertEquals("\uD83D\uDE00", stream.push(222));
        assertEquals("", stream.flush());
        assertArrayEquals(new byte[] {' ', (byte) 0xF0, (byte) 0x9F, (byte) 0x98}, tokenizer.pieceBytes(30325, false));
    }

    @Test
    void unknownPreTokenizerIsAnErrorNamingIt() {
        var metadata = new MapMetadata().put("tokenizer.ggml.model", "gpt2").put("tokenizer.ggml.pre", "klingon-v2")
                .put("tokenizer.ggml.tokens", List.of("a", "b", "ab")).put("tokenizer.ggml.merges", List.of("a b"));
        var e = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromMetadata(metadata));
        assertTrue(e.getMessage().contains("unknown pre-tokenizer type 'klingon-v2'"), e.getMessage());
    }

    @Test
    void bpeNeedsMerges() {
        var metadata = new MapMetadata().put("tokenizer.ggml.model", "gpt2")
                .put("tokenizer.ggml.tokens", List.of("a", "b", "ab"));
        var e = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromMetadata(metadata));
        assertTrue(e.getMessage().contains("tokenizer.ggml.merges"), e.getMessage());
    }

    @Test
    void llama3FamilyAddsBosAndMergesByRank() {
        // A tiny hand-made byte-level vocabulary: "Ġ" is the space. Ranks decide: "a b" (0) before "b c" (1).
        var tokens = List.of("a", "b", "c", "\u0120", "ab", "bc", "abc", "<|begin_of_text|>");
        var metadata = new MapMetadata().put("tokenizer.ggml.model", "gpt2").put("tokenizer.ggml.pre", "llama-bpe")
                .put("tokenizer.ggml.tokens", tokens).put("tokenizer.ggml.merges", List.of("a b", "b c", "ab c"))
                .put("tokenizer.ggml.bos_token_id", 7L)
                .put("tokenizer.ggml.token_type", new int[] {1, 1, 1, 1, 1, 1, 1, 3});
        Vocabulary vocabulary = Vocabulary.fromMetadata(metadata);
        assertTrue(vocabulary.addBos());
        assertFalse(vocabulary.addSpacePrefix());
        Tokenizer tokenizer = Tokenizer.forVocabulary(vocabulary);
        assertArrayEquals(new int[] {7, 6}, tokenizer.encode("abc", true, false));
        // "bca": b+c merge (rank 1); "a" stays. " abc": llama3's regex keeps the space with the letters, and the
        // word " abc" is no token, so it is merged: Ġ a b c -> Ġ ab c -> Ġ abc.
        assertArrayEquals(new int[] {5, 0}, tokenizer.encode("bca", false, false));
        assertArrayEquals(new int[] {3, 6}, tokenizer.encode(" abc", false, false));
        assertEquals(" abc", tokenizer.decode(new int[] {7, 3, 6}));
    }
}
