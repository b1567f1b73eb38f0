package org.mla4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.mla4j.gguf.GgufFile;
import org.mla4j.tokenizer.Tokenizer;
import org.mla4j.tokenizer.Vocabulary;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Prints the tokens of a text like llama.cpp's llama-tokenize, so that the two can be compared: one
 * {@code "%6d -> '%s'"} line per token, or with --ids only {@code [1, 2, 3]}. Works on vocabulary-only GGUF
 * files too (nothing but the tokenizer metadata is read). Unlike recent llama-tokenize, special tokens in the
 * text are only parsed with --parse-special (llama-tokenize: pass --no-parse-special to compare without).
 */
@Command(name = "tokenize", description = "Print the tokens of a text (like llama.cpp's llama-tokenize).")
final class TokenizeCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model or vocabulary file.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = {"-p", "--prompt"}, description = "Text to tokenize.")
        String prompt;

        @Option(names = {"-f", "--file"}, description = "File whose UTF-8 text is tokenized.")
        Path file;
    }

    @Option(names = "--ids", description = "Print only the ids, as [1, 2, 3].")
    boolean ids;

    @Option(names = "--no-bos", description = "Do not add BOS/EOS tokens, even if the model normally does.")
    boolean noBos;

    @Option(names = "--parse-special", description = "Turn the text of control tokens (e.g. <|im_start|>) into them.")
    boolean parseSpecial;

    @Option(names = "--no-escape", description = "Take -p literally (by default \\n, \\t, \\\\, \\xHH... are processed, "
            + "as llama.cpp does).")
    boolean noEscape;

    @Override
    public Integer call() throws IOException {
        String text = input.file != null ? Files.readString(input.file, StandardCharsets.UTF_8)
                : noEscape ? input.prompt : processEscapes(input.prompt);
        Tokenizer tokenizer;
        try (GgufFile gguf = GgufFile.open(model)) {
            tokenizer = Tokenizer.forVocabulary(Vocabulary.fromMetadata(gguf));
        }
        int[] tokens = tokenizer.encode(text, !noBos, parseSpecial);
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        if (ids) {
            StringBuilder line = new StringBuilder("[");
            for (int i = 0; i < tokens.length; i++) {
                line.append(i > 0 ? ", " : "").append(tokens[i]);
            }
            out.println(line.append(']'));
        } else {
            for (int id : tokens) {
                // llama-tokenize prints the raw piece bytes (control tokens as their text).
                out.printf("%6d -> '", id);
                out.write(tokenizer.pieceBytes(id, true));
                out.println("'");
            }
        }
        out.flush();
        return 0;
    }

    /** llama.cpp's string_process_escapes: \n \r \t \' \" \\ and \xHH (a byte); other escapes stay as written. */
    static String processEscapes(String text) {
        byte[] in = text.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length);
        for (int i = 0; i < in.length; i++) {
            if (in[i] != '\\' || i + 1 >= in.length) {
                out.write(in[i]);
                continue;
            }
            byte c = in[++i];
            switch (c) {
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case 't' -> out.write('\t');
                case '\'', '"', '\\' -> out.write(c);
                default -> {
                    int hi = c == 'x' && i + 2 < in.length ? Character.digit(in[i + 1], 16) : -1;
                    int lo = hi >= 0 ? Character.digit(in[i + 2], 16) : -1;
                    if (lo >= 0) {
                        out.write(hi * 16 + lo);
                        i += 2;
                    } else {
                        out.write('\\');
                        out.write(c);
                    }
                }
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
