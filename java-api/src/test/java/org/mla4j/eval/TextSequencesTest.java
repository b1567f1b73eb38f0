package org.mla4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Fixtures;
import org.mla4j.Model;

class TextSequencesTest {

    @TempDir
    Path tmp;
    static Path stories;

    @BeforeAll
    static void fixture() {
        stories = Fixtures.require("models/stories260K.gguf");
    }

    @Test
    void theTextIsCutIntoBosPrefixedChunksWithoutLosingATokenAndNoSpecialParsing() throws Exception {
        String text = EvaluatorTest.STORY + " <s> " + EvaluatorTest.STORY;
        Path file = tmp.resolve("story.txt");
        Files.writeString(file, text);
        try (Model m = Model.load(stories)) {
            int[] all = m.tokenizer().encode(text, false, false);
            List<int[]> seqs = TextSequences.fromFile(m, file, 10);
            int[] joined = seqs.stream().flatMapToInt(s -> java.util.Arrays.stream(s, 1, s.length)).toArray();
            assertArrayEquals(all, joined);
            for (int i = 0; i < seqs.size(); i++) {
                assertEquals(m.tokenizer().bos(), seqs.get(i)[0]);
                if (i < seqs.size() - 1) assertEquals(10, seqs.get(i).length);
            }
            assertTrue(java.util.Arrays.stream(joined).noneMatch(t -> t == m.tokenizer().bos()), "<s> stays text");
            assertEquals(all.length + seqs.size(), TextSequences.totalTokens(seqs));

            List<int[]> limited = TextSequences.fromFile(m, file, 10, 25);
            assertEquals(List.of(10, 10, 5), limited.stream().map(s -> s.length).toList());
            assertArrayEquals(java.util.Arrays.copyOf(seqs.get(2), 5), limited.get(2));
        }
    }

    @Test
    void unreadableFilesAreErrorsNamingTheFile() throws Exception {
        Path missing = tmp.resolve("missing.txt");
        Path binary = tmp.resolve("binary.txt");
        Files.write(binary, new byte[] {'a', (byte) 0xFF, (byte) 0xFE, 'b'});
        Path empty = tmp.resolve("empty.txt");
        Files.writeString(empty, "", StandardCharsets.UTF_8);
        try (Model m = Model.load(stories)) {
            assertEquals(missing + ": no such file",
                    assertThrows(IOException.class, () -> TextSequences.fromFile(m, missing, 16)).getMessage());
            assertEquals(binary + ": not UTF-8 text",
                    assertThrows(IOException.class, () -> TextSequences.fromFile(m, binary, 16)).getMessage());
            assertEquals(empty + ": the text gives no tokens",
                    assertThrows(IOException.class, () -> TextSequences.fromFile(m, empty, 16)).getMessage());
        }
    }
}
