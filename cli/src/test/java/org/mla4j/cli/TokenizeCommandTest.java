package org.mla4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mla4j.Fixtures;

/** `mla4j tokenize` prints what llama.cpp's llama-tokenize prints for the same file and text. */
class TokenizeCommandTest {

    @Test
    void idsOfAModelPromptWithBos() {
        String model = Fixtures.require("models/stories260K.gguf").toString();
        // llama-tokenize -m stories260K.gguf -p 'Once upon a time' --ids
        CliTest.Run r = CliTest.run("tokenize", "-m", model, "-p", "Once upon a time", "--ids");
        assertEquals(0, r.code(), r.err());
        assertEquals("[1, 403, 407, 261, 378]\n", r.out());
        assertEquals("[403, 407, 261, 378]\n", CliTest.run("tokenize", "-m", model, "-p", "Once upon a time", "--ids",
                "--no-bos").out());
    }

    @Test
    void piecesOfAVocabularyFileLikeLlamaTokenize() {
        String vocab = Fixtures.require("vocab/ggml-vocab-gpt-2.gguf").toString();
        // llama-tokenize -m ggml-vocab-gpt-2.gguf -p 'h\u00e9llo \ud83d\ude00\n<|endoftext|>' --no-parse-special:
        // the escape \n becomes a newline, and pieces are raw bytes (the emoji is split over two tokens).
        CliTest.Run r = CliTest.run("tokenize", "-m", vocab, "-p", "h\u00E9llo \uD83D\uDE00\\n<|endoftext|>");
        assertEquals(0, r.code(), r.err());
        String expected = "    71 -> 'h'\n  2634 -> '\u00E9'\n 18798 -> 'llo'\n 30325 -> ' \uFFFD'\n   222 -> '\uFFFD'\n"
                + "   198 -> '\n'\n    27 -> '<'\n    91 -> '|'\n   437 -> 'end'\n  1659 -> 'of'\n  5239 -> 'text'\n"
                + "    91 -> '|'\n    29 -> '>'\n";
        assertEquals(expected, r.out()); // CliTest decodes stdout as UTF-8: the split emoji bytes read as U+FFFD
        CliTest.Run special = CliTest.run("tokenize", "-m", vocab, "-p", "x<|endoftext|>", "--parse-special", "--ids");
        assertEquals("[87, 50256]\n", special.out());
    }

    @Test
    void badInputIsAnError() {
        CliTest.Run r = CliTest.run("tokenize", "-m", "/nonexistent/vocab.gguf", "-p", "x");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("mla4j: error: "), r.err());
        assertEquals(2, CliTest.run("tokenize", "-m", "x.gguf").code()); // neither -p nor -f
    }
}
