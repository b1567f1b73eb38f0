package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** A Llama-2-style tokenizer.json (legacy normalizer, BPE with byte_fallback) to SPM metadata. */
class HuggingFaceSpmImportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode tokenizer(String merges) throws Exception {
        return JSON.readTree(("{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
                + "{\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
                + "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\u2581\"},"
                + "{\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\u2581\"}]},"
                + "\"pre_tokenizer\": null, \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\","
                + "\"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0x41>\": 3, \"\u2581\": 4, \"a\": 5, \"b\": 6,"
                + "\"ab\": 7, \"\u2581ab\": 8, \"\u2581a\": 9}, \"merges\": " + merges + "}}"));
    }

    @Test
    void typesScoresAndIds() throws Exception {
        MetadataMap m = HuggingFaceImport.convert(tokenizer("[\"a b\", \"\u2581 ab\", \"\u2581a b\", \"\u2581 a\"]"),
                JSON.readTree("{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": true}"), "t.json");
        assertEquals("llama", m.getString("tokenizer.ggml.model").orElseThrow());
        assertArrayEquals(new int[] {2, 3, 3, 6, 1, 1, 1, 1, 1, 1}, m.getIntArray("tokenizer.ggml.token_type").orElseThrow());
        float[] s = m.getFloatArray("tokenizer.ggml.scores").orElseThrow();
        assertEquals(0f, s[7]);   // "ab": merge 0
        assertEquals(-1f, s[8]);  // "▁ab": merge 1
        assertEquals(-3f, s[9]);  // "▁a": merge 3 ("▁a b" is the second merge making "▁ab")
        assertEquals(1L, m.getLong("tokenizer.ggml.bos_token_id").orElseThrow());
        assertEquals(0L, m.getLong("tokenizer.ggml.unknown_token_id").orElseThrow());
        // BPE on " ab": [▁, a, b] -> merge "a b" first (rank 0) -> [▁, ab] -> "▁ ab" -> [▁ab]; SPM gives the same
        Tokenizer t = Tokenizer.forVocabulary(Vocabulary.fromMetadata(m));
        assertArrayEquals(new int[] {1, 8}, t.encode("ab", true, false));
    }

    @Test
    void bpeThatSpmCannotReproduceIsRefused() throws Exception {
        // "▁a" is in the vocabulary and can be made from "▁" + "a", but that merge is missing
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HuggingFaceImport.convert(
                tokenizer("[\"a b\", \"\u2581 ab\", \"\u2581a b\"]"), JSON.createObjectNode(), "t.json"));
        assertTrue(e.getMessage().contains("t.json: token '\u2581a' can be formed from '\u2581' + 'a'"), e.getMessage());
    }
}
