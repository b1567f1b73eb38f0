package org.mla4j.tokenizer;

import org.mla4j.Fixtures;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.mla4j.gguf.GgufFile;

/** llama.cpp's tokenizer test vectors and the stories260K tokenizer, read from the real GGUF files. */
class SentencePieceFixtureTest {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    private static Tokenizer load(Path gguf) {
        try (GgufFile file = GgufFile.open(gguf)) {
            return Tokenizer.forVocabulary(Vocabulary.fromMetadata(file));
        }
    }

    /** The .inp texts: each one is followed by the separator line. */
    private static List<String> inputs(Path inp) throws IOException {
        String all = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> texts = new ArrayList<>();
        int from = 0;
        for (int at = all.indexOf(SEPARATOR); at >= 0; at = all.indexOf(SEPARATOR, from)) {
            texts.add(all.substring(from, at));
            from = at + SEPARATOR.length();
        }
        assertEquals(all.length(), from, "text after the last separator in " + inp);
        return texts;
    }

    /** The .out lines: ids each preceded by a space; an empty line for no tokens. */
    private static List<int[]> outputs(Path out) throws IOException {
        List<int[]> ids = new ArrayList<>();
        for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
            String trimmed = line.trim();
            ids.add(trimmed.isEmpty() ? new int[0]
                    : Arrays.stream(trimmed.split(" ")).mapToInt(Integer::parseInt).toArray());
        }
        return ids;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama-spm", "phi-3"})
    void matchesEveryLlamaCppTestVector(String name) throws IOException {
        Path gguf = Fixtures.require("vocab/ggml-vocab-" + name + ".gguf");
        Tokenizer tokenizer = load(gguf);
        assertInstanceOf(SentencePieceTokenizer.class, tokenizer);
        List<String> texts = inputs(Path.of(gguf + ".inp"));
        List<int[]> expected = outputs(Path.of(gguf + ".out"));
        assertEquals(expected.size(), texts.size(), "tests in .inp vs lines in .out");
        assertEquals(46, texts.size());
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            int[] actual = tokenizer.encode(texts.get(i), false, false);
            if (!Arrays.equals(expected.get(i), actual)) {
                failures.add("test " + i + " " + quoted(texts.get(i)) + "\n  expected " + Arrays.toString(expected.get(i))
                        + "\n  actual   " + Arrays.toString(actual));
            }
            String decoded = tokenizer.decode(expected.get(i));
            if (!decoded.equals(texts.get(i))) {
                failures.add("test " + i + " decodes to " + quoted(decoded) + " instead of " + quoted(texts.get(i)));
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " failures:\n" + String.join("\n", failures));
    }

    @Test
    void llamaVocabularyMetadata() {
        Tokenizer tokenizer = load(Fixtures.require("vocab/ggml-vocab-llama-spm.gguf"));
        assertEquals(32000, tokenizer.vocabSize());
        assertEquals(1, tokenizer.bos());
        assertEquals(2, tokenizer.eos());
        assertTrue(tokenizer.isEndOfGeneration(2));
        assertEquals("<s>", tokenizer.piece(1));
        // llama-2: 15043 is "▁Hello", 13 is the byte token <0x0A>.
        assertEquals(" Hello", tokenizer.piece(15043));
        assertEquals("\n", tokenizer.piece(13));
        // With BOS and special parsing: "<s>" in the text is the BOS token, and the text after it gets its prefix space.
        assertEquals(List.of(1, 1, 15043), box(tokenizer.encode("<s>Hello", true, true)));
    }

    @Test
    void phi3EndOfTurnTokenEndsGeneration() {
        Tokenizer tokenizer = load(Fixtures.require("vocab/ggml-vocab-phi-3.gguf"));
        assertEquals(32064, tokenizer.vocabSize());
        assertEquals(32000, tokenizer.eos()); // <|endoftext|>
        assertTrue(tokenizer.isEndOfGeneration(32007)); // <|end|>
        assertTrue(tokenizer.isEndOfGeneration(32000));
        // Phi-3's special tokens swallow the whitespace after them (llama.cpp's RSTRIP for Phi-3).
        // "Hello" then gets the prefix space a fragment after a special token gets: 15043 is "▁Hello" (test vectors).
        assertEquals(List.of(32010, 15043), box(tokenizer.encode("<|user|>\nHello", false, true)));
        // Without special parsing the control token is plain text and the newline stays.
        assertTrue(tokenizer.encode("<|user|>\nHello", false, false).length > 3);
    }

    @Test
    void stories260kPromptStartsWithBos() {
        Tokenizer tokenizer = load(Fixtures.require("models/stories260K.gguf"));
        assertEquals(512, tokenizer.vocabSize());
        int[] ids = tokenizer.encode("Once upon a time", true, false);
        assertEquals(1, ids[0]);
        assertTrue(ids.length > 1);
        // The published llama2.c continuation round-trips through encode/decode.
        String story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                + "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";
        assertEquals(story, tokenizer.decode(tokenizer.encode(story, false, false)));
        assertEquals(" " + story, tokenizer.decode(tokenizer.encode(story, true, false)));
    }

    private static List<Integer> box(int[] ids) {
        return Arrays.stream(ids).boxed().toList();
    }

    private static String quoted(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
