package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Acceptance 1 and 2: llama.cpp's test vectors, and encode/decode round trips, for every fixture vocabulary. */
class BpeFixtureTest {

    @ParameterizedTest
    @ValueSource(strings = {"gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt", "starcoder", "refact"})
    void matchesEveryLlamaCppTestVector(String name) throws IOException {
        Path gguf = VocabFixtures.gguf(name);
        Vocabulary vocabulary = VocabFixtures.vocabulary(gguf);
        assertEquals(Vocabulary.MODEL_BPE, vocabulary.model());
        assertEquals(name, vocabulary.pre());
        Tokenizer tokenizer = Tokenizer.forVocabulary(vocabulary);
        assertInstanceOf(BpeTokenizer.class, tokenizer);
        List<String> texts = VocabFixtures.inputs(gguf);
        List<int[]> expected = VocabFixtures.outputs(gguf);
        assertEquals(46, texts.size());
        assertEquals(expected.size(), texts.size(), "tests in .inp vs lines in .out");
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            int[] actual = tokenizer.encode(texts.get(i), false, false);
            if (!Arrays.equals(expected.get(i), actual)) {
                failures.add("test " + i + " " + VocabFixtures.quoted(texts.get(i)) + "\n  expected "
                        + Arrays.toString(expected.get(i)) + "\n  actual   " + Arrays.toString(actual));
            }
        }
        assertTrue(failures.isEmpty(), name + ": " + failures.size() + " failures:\n" + String.join("\n", failures));
    }

    @ParameterizedTest
    @FieldSource("org.mla4j.tokenizer.VocabFixtures#ALL")
    void decodeOfEncodeGivesTheTextBack(String name) throws IOException {
        Path gguf = VocabFixtures.gguf(name);
        Tokenizer tokenizer = Tokenizer.forVocabulary(VocabFixtures.vocabulary(gguf));
        List<String> failures = new ArrayList<>();
        for (String text : VocabFixtures.inputs(gguf)) {
            String decoded = tokenizer.decode(tokenizer.encode(text, false, false));
            if (!decoded.equals(text)) {
                failures.add(VocabFixtures.quoted(text) + " decodes to " + VocabFixtures.quoted(decoded));
            }
        }
        assertTrue(failures.isEmpty(), name + ": " + failures.size() + " failures:\n" + String.join("\n", failures));
    }
}
