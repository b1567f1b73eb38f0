package org.mla4j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.mla4j.Fixtures;
import org.mla4j.gguf.GgufFile;

/** llama.cpp's tokenizer test vectors in the shared fixtures: vocab/ggml-vocab-NAME.gguf with .inp and .out. */
final class VocabFixtures {
    static final String SEPARATOR = "\n__ggml_vocab_test__\n";
    /** Every fixture vocabulary with test vectors. */
    static final List<String> ALL = List.of(
            "llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "mpt", "starcoder", "refact");

    private VocabFixtures() {}

    static Path gguf(String name) {
        return Fixtures.require("vocab/ggml-vocab-" + name + ".gguf");
    }

    static Vocabulary vocabulary(Path gguf) {
        try (GgufFile file = GgufFile.open(gguf)) {
            return Vocabulary.fromMetadata(file);
        }
    }

    /** The .inp texts: each one is followed by the separator line. */
    static List<String> inputs(Path gguf) throws IOException {
        Path inp = Path.of(gguf + ".inp");
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
    static List<int[]> outputs(Path gguf) throws IOException {
        List<int[]> ids = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(gguf + ".out"), StandardCharsets.UTF_8)) {
            String trimmed = line.trim();
            ids.add(trimmed.isEmpty() ? new int[0]
                    : Arrays.stream(trimmed.split(" ")).mapToInt(Integer::parseInt).toArray());
        }
        return ids;
    }

    static String quoted(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
