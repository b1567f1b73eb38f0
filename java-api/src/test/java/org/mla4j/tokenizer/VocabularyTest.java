package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class VocabularyTest {
    private static final List<String> TOKENS = List.of("<unk>", "<s>", "</s>", "\u2581a", "b");

    private static MapMetadata spm() {
        return new MapMetadata().put("tokenizer.ggml.model", "llama").put("tokenizer.ggml.tokens", TOKENS);
    }

    @Test
    void spmDefaultsFollowLlamaCpp() {
        Vocabulary v = Vocabulary.fromMetadata(spm());
        assertEquals("llama", v.model());
        assertEquals("", v.name());
        assertEquals(5, v.size());
        assertEquals(1, v.bos());
        assertEquals(2, v.eos());
        assertEquals(0, v.unk());
        assertEquals(-1, v.eot());
        assertEquals(-1, v.eom());
        assertTrue(v.addBos());
        assertFalse(v.addEos());
        assertTrue(v.addSpacePrefix());
        assertArrayEquals(new float[5], v.scores());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1}, v.types());
        assertEquals(3, v.id("\u2581a").orElseThrow());
        assertTrue(v.id("c").isEmpty());
    }

    @Test
    void metadataOverridesDefaults() {
        Vocabulary v = Vocabulary.fromMetadata(spm()
                .put("general.name", "Phi3")
                .put("tokenizer.ggml.scores", new float[] {0, 0, 0, -1.5f, -2})
                .put("tokenizer.ggml.token_type", new int[] {2, 3, 3, 1, 1})
                .put("tokenizer.ggml.bos_token_id", 3L)
                .put("tokenizer.ggml.eos_token_id", 4L)
                .put("tokenizer.ggml.unknown_token_id", 0L)
                .put("tokenizer.ggml.eot_token_id", 2L)
                .put("tokenizer.ggml.add_bos_token", false)
                .put("tokenizer.ggml.add_eos_token", true)
                .put("tokenizer.ggml.add_space_prefix", false));
        assertEquals("Phi3", v.name());
        assertEquals(3, v.bos());
        assertEquals(4, v.eos());
        assertEquals(2, v.eot());
        assertEquals(-1.5f, v.score(3));
        assertEquals(Vocabulary.TYPE_CONTROL, v.type(1));
        assertFalse(v.addBos());
        assertTrue(v.addEos());
        assertFalse(v.addSpacePrefix());
    }

    @Test
    void outOfRangeSpecialIdsKeepTheDefault() {
        // stories260K stores 0xFFFFFFFF for absent ids; llama.cpp warns and keeps the default.
        Vocabulary v = Vocabulary.fromMetadata(spm().put("tokenizer.ggml.bos_token_id", 4294967295L)
                .put("tokenizer.ggml.eot_token_id", 5L));
        assertEquals(1, v.bos());
        assertEquals(-1, v.eot());
    }

    @Test
    void emptyTokenTextsAreRenamedLikeLlamaCpp() {
        Vocabulary v = Vocabulary.fromMetadata(new MapMetadata().put("tokenizer.ggml.model", "llama")
                .put("tokenizer.ggml.tokens", List.of("<unk>", "<s>", "</s>", "")));
        assertEquals("[EMPTY_3]", v.token(3));
    }

    @Test
    void missingOrBrokenMetadataIsRejectedWithTheKeyName() {
        var noModel = assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromMetadata(new MapMetadata().put("tokenizer.ggml.tokens", TOKENS)));
        assertTrue(noModel.getMessage().contains("tokenizer.ggml.model"), noModel.getMessage());
        var noTokens = assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromMetadata(new MapMetadata().put("tokenizer.ggml.model", "llama")));
        assertTrue(noTokens.getMessage().contains("tokenizer.ggml.tokens"), noTokens.getMessage());
        var shortScores = assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromMetadata(spm().put("tokenizer.ggml.scores", new float[] {1, 2})));
        assertTrue(shortScores.getMessage().contains("tokenizer.ggml.scores has 2 entries for 5 tokens"),
                shortScores.getMessage());
        var shortTypes = assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromMetadata(spm().put("tokenizer.ggml.token_type", new int[] {1})));
        assertTrue(shortTypes.getMessage().contains("token_type"), shortTypes.getMessage());
        var duplicate = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromMetadata(
                new MapMetadata().put("tokenizer.ggml.model", "llama").put("tokenizer.ggml.tokens", List.of("a", "b", "a"))));
        assertTrue(duplicate.getMessage().contains("'a' has ids 0 and 2"), duplicate.getMessage());
    }

    @Test
    void addBosWithoutBosTokenIsRejected() {
        // Two tokens only: the SPM default BOS id 1 exists, EOS id 2 does not; add_eos then cannot work.
        var e = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromMetadata(new MapMetadata()
                .put("tokenizer.ggml.model", "llama").put("tokenizer.ggml.tokens", List.of("<unk>", "<s>"))
                .put("tokenizer.ggml.add_eos_token", true)));
        assertTrue(e.getMessage().contains("add_eos_token"), e.getMessage());
    }

    @Test
    void accessorsDoNotExposeInternalArrays() {
        Vocabulary v = Vocabulary.fromMetadata(spm());
        v.scores()[0] = 42;
        v.types()[0] = 42;
        assertEquals(0f, v.score(0));
        assertEquals(Vocabulary.TYPE_NORMAL, v.type(0));
    }
}
