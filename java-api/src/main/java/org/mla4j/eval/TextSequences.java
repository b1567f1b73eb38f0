package org.mla4j.eval;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import org.mla4j.Model;

/**
 * A text file as token sequences for {@link Evaluator} and the converter's calibration: the whole text is tokenized
 * once with the model's own tokenizer (no special tokens added or parsed, so "&lt;s&gt;" in the text stays text),
 * then cut into consecutive chunks of {@code maxLength - 1} tokens, each preceded by BOS. No text token is lost at a
 * chunk boundary (llama.cpp's perplexity overwrites the first token of each chunk with BOS instead); a last chunk of
 * fewer tokens is kept.
 */
public final class TextSequences {

    private TextSequences() {
    }

    /**
     * {@return every token of the file}
     *
     * @param model the model whose tokenizer reads the text
     * @param file a UTF-8 text file
     * @param maxLength the most tokens of one sequence, BOS included (at least 2)
     * @throws IOException when the file cannot be read, is not UTF-8, or holds no token
     */
    public static List<int[]> fromFile(Model model, Path file, int maxLength) throws IOException {
        return fromFile(model, file, maxLength, Long.MAX_VALUE);
    }

    /**
     * The file's first tokens as sequences.
     *
     * @param maxLength the most tokens of one sequence, BOS included (at least 2)
     * @param maxTokens the most tokens of all sequences together, BOS tokens included (at least 2)
     * @throws IOException when the file cannot be read, is not UTF-8, or holds no token
     * @param model the model whose tokenizer reads the text
     * @param file a UTF-8 text file
     * @return the sequences, each starting with BOS
     */
    public static List<int[]> fromFile(Model model, Path file, int maxLength, long maxTokens) throws IOException {
        Objects.requireNonNull(file, "file");
        String text = readUtf8(file);
        List<int[]> sequences = fromText(model, text, maxLength, maxTokens);
        if (sequences.isEmpty()) throw new IOException(file + ": the text gives no tokens");
        return sequences;
    }

    /**
     * {@return the text's first tokens as sequences (empty for a text without tokens); see {@link #fromFile}}
     *
     * @param model the model whose tokenizer reads the text
     * @param text the text
     * @param maxLength the most tokens of one sequence, BOS included (at least 2)
     * @param maxTokens the most tokens of all sequences together, BOS tokens included (at least 2)
     */
    public static List<int[]> fromText(Model model, String text, int maxLength, long maxTokens) {
        Objects.requireNonNull(model, "model");
        if (maxLength < 2) throw new IllegalArgumentException("maxLength must be >= 2, got " + maxLength);
        if (maxTokens < 2) throw new IllegalArgumentException("maxTokens must be >= 2, got " + maxTokens);
        int bos = SampledText.bosOf(model);
        int[] tokens = model.tokenizer().encode(text, false, false);
        List<int[]> sequences = new ArrayList<>();
        long budget = maxTokens;
        for (int start = 0; start < tokens.length && budget >= 2; ) {
            int n = (int) Math.min(Math.min(maxLength - 1, tokens.length - start), budget - 1);
            int[] seq = new int[n + 1];
            seq[0] = bos;
            System.arraycopy(tokens, start, seq, 1, n);
            sequences.add(seq);
            start += n;
            budget -= n + 1;
        }
        return sequences;
    }

    /**
     * {@return total tokens of the sequences, BOS tokens included}
     *
     * @param sequences token sequences
     */
    public static long totalTokens(List<int[]> sequences) {
        long n = 0;
        for (int[] s : sequences) n += s.length;
        return n;
    }

    /** The file as strict UTF-8: a malformed byte is an error naming the file, not a silent U+FFFD. */
    private static String readUtf8(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no such file", e);
        } catch (IOException e) {
            throw new IOException(file + ": cannot read: " + e.getMessage(), e);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not UTF-8 text", e);
        }
    }
}
