package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Acceptance 3: a tokenizer.json written from a fixture vocabulary (in the form Hugging Face writes it for that
 * family) imports to metadata that tokenizes every .inp string exactly as the original GGUF does.
 */
class HuggingFaceImportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** The pre_tokenizer section Hugging Face has for each family. */
    private static ObjectNode preTokenizer(String family) {
        ObjectNode byteLevel = JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true);
        ObjectNode sequence = JSON.createObjectNode().put("type", "Sequence");
        ArrayNode steps = sequence.putArray("pretokenizers");
        switch (family) {
            case "gpt-2" -> {
                return byteLevel.put("use_regex", true);
            }
            case "starcoder" -> {
                steps.addObject().put("type", "Digits").put("individual_digits", true);
                steps.add(byteLevel.put("use_regex", true));
            }
            case "deepseek-coder" -> {
                for (String regex : List.of("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
                        "\\p{N}")) {
                    ObjectNode split = steps.addObject().put("type", "Split");
                    split.putObject("pattern").put("Regex", regex);
                    split.put("behavior", "Isolated").put("invert", false);
                }
                steps.add(byteLevel.put("use_regex", false));
            }
            default -> throw new IllegalArgumentException(family);
        }
        return sequence;
    }

    /** Writes tokenizer.json and tokenizer_config.json for a fixture vocabulary. */
    private Path[] write(Vocabulary v, String family) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("version", "1.0");
        ArrayNode added = root.putArray("added_tokens");
        root.set("pre_tokenizer", preTokenizer(family));
        ObjectNode model = root.putObject("model").put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < v.size(); id++) {
            int type = v.type(id);
            if (type == Vocabulary.TYPE_CONTROL || type == Vocabulary.TYPE_USER_DEFINED) {
                added.addObject().put("id", id).put("content", v.token(id)).put("normalized", false)
                        .put("special", type == Vocabulary.TYPE_CONTROL);
            } else {
                vocab.put(v.token(id), id);
            }
        }
        ArrayNode merges = model.putArray("merges");
        for (int i = 0; i < v.merges().size(); i++) {
            // Both forms Hugging Face writes: "a b" and ["a", "b"].
            String merge = v.merges().get(i);
            int space = merge.indexOf(' ', 1);
            if (i % 2 == 0) {
                merges.add(merge);
            } else {
                merges.addArray().add(merge.substring(0, space)).add(merge.substring(space + 1));
            }
        }
        ObjectNode config = JSON.createObjectNode().put("add_bos_token", v.addBos());
        if (v.bos() >= 0) config.put("bos_token", v.token(v.bos()));
        if (v.eos() >= 0) config.putObject("eos_token").put("content", v.token(v.eos()));
        config.put("chat_template", "{{ messages[0]['content'] }}");
        Path json = tmp.resolve(family + "-tokenizer.json");
        Path configFile = tmp.resolve(family + "-tokenizer_config.json");
        JSON.writeValue(json.toFile(), root);
        JSON.writeValue(configFile.toFile(), config);
        return new Path[] {json, configFile};
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt-2", "starcoder", "deepseek-coder"})
    void importedTokenizerTokenizesLikeTheGguf(String name) throws IOException {
        Path gguf = VocabFixtures.gguf(name);
        Vocabulary original = VocabFixtures.vocabulary(gguf);
        Path[] files = write(original, name);
        MetadataMap metadata = HuggingFaceImport.read(files[0], files[1]);
        assertEquals(name, metadata.getString("tokenizer.ggml.pre").orElseThrow());
        assertEquals("{{ messages[0]['content'] }}", metadata.getString("tokenizer.chat_template").orElseThrow());
        Vocabulary imported = Vocabulary.fromMetadata(metadata);
        assertEquals(original.size(), imported.size());
        assertEquals(original.bos(), imported.bos());
        assertEquals(original.eos(), imported.eos());
        assertEquals(original.addBos(), imported.addBos());
        Tokenizer expected = Tokenizer.forVocabulary(original);
        Tokenizer actual = Tokenizer.forVocabulary(imported);
        List<String> texts = VocabFixtures.inputs(gguf);
        List<int[]> vectors = VocabFixtures.outputs(gguf);
        for (int i = 0; i < texts.size(); i++) {
            assertArrayEquals(vectors.get(i), actual.encode(texts.get(i), false, false), VocabFixtures.quoted(texts.get(i)));
            assertArrayEquals(expected.encode(texts.get(i), true, true), actual.encode(texts.get(i), true, true));
        }
    }

    @Test
    void unknownPreTokenizerAndNonBpeModelsAreClearErrors() throws IOException {
        Path json = tmp.resolve("tokenizer.json");
        Files.writeString(json, """
                {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                 "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "x+"}, "behavior": "Isolated"}}""");
        var e = assertThrows(IllegalArgumentException.class, () -> HuggingFaceImport.read(json, null));
        assertTrue(e.getMessage().contains("pre-tokenizer not recognised (splits [x+]"), e.getMessage());
        Files.writeString(json, """
                {"model": {"type": "Unigram", "vocab": []}}""");
        e = assertThrows(IllegalArgumentException.class, () -> HuggingFaceImport.read(json, null));
        assertTrue(e.getMessage().contains("model type 'Unigram' is not supported"), e.getMessage());
        Files.writeString(json, "{");
        e = assertThrows(IllegalArgumentException.class, () -> HuggingFaceImport.read(json, null));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void addedTokensThatLookSpecialAreControl() {
        assertTrue(HuggingFaceImport.looksSpecial("<|im_start|>"));
        assertTrue(HuggingFaceImport.looksSpecial("<\uFF5Cfim\u2581hole\uFF5C>"));
        assertTrue(!HuggingFaceImport.looksSpecial("<tool_call>"));
    }
}
