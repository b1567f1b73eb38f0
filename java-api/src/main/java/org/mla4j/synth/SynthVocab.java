package org.mla4j.synth;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.mla4j.tokenizer.Vocabulary;

/**
 * A synthetic SentencePiece ("llama") vocabulary laid out like Llama 2's: &lt;unk&gt; (type 2), &lt;s&gt; and
 * &lt;/s&gt; (type 3), the 256 byte tokens "&lt;0x00&gt;".."&lt;0xFF&gt;" (type 6), then normal pieces (type 1)
 * with decreasing scores: "▁", single characters, "▁" + letter, then for n = 2, 3, ... every lowercase string of
 * length n followed by each of them after "▁". Every lowercase word can therefore be built by score-greedy merging
 * from its characters, and all strings are unique by construction.
 *
 * @param tokens exactly the requested number of strings
 * @param scores tokenizer.ggml.scores: 0 for specials and bytes, -k for the k-th normal piece
 * @param types tokenizer.ggml.token_type
 */
public record SynthVocab(List<String> tokens, float[] scores, int[] types) {
    public static final int UNK = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    /** The three specials, the 256 byte tokens and "▁". */
    public static final int MIN_SIZE = 3 + 256 + 1;

    static final String SPACE = "\u2581";
    private static final String LOWER = "abcdefghijklmnopqrstuvwxyz";
    private static final String LETTERS = LOWER + LOWER.toUpperCase();
    private static final String SINGLES = LETTERS + "0123456789.,!?'\"-:;()";

    /**
     * {@return a vocabulary of this size, laid out as the class comment says}
     *
     * @param size tokens, at least {@link #MIN_SIZE}
     */
    public static SynthVocab build(int size) {
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException("vocabulary of " + size + " tokens; at least " + MIN_SIZE + " needed");
        }
        Builder b = new Builder(size);
        b.add("<unk>", Vocabulary.TYPE_UNKNOWN, 0);
        b.add("<s>", Vocabulary.TYPE_CONTROL, 0);
        b.add("</s>", Vocabulary.TYPE_CONTROL, 0);
        for (int i = 0; i < 256; i++) {
            // llama.cpp finds byte tokens by this exact spelling (uppercase hex), e.g. "<0x0A>" for a newline
            b.add(String.format("<0x%02X>", i), Vocabulary.TYPE_BYTE, 0);
        }
        b.piece(SPACE);
        for (char c : SINGLES.toCharArray()) {
            b.piece(String.valueOf(c));
        }
        for (char c : LETTERS.toCharArray()) {
            b.piece(SPACE + c);
        }
        for (int n = 2; !b.full(); n++) {
            long count = (long) Math.pow(26, n);
            for (long k = 0; k < count && !b.full(); k++) {
                b.piece(word(n, k));
            }
            for (long k = 0; k < count && !b.full(); k++) {
                b.piece(SPACE + word(n, k));
            }
        }
        return new SynthVocab(List.copyOf(b.tokens), b.scores, b.types);
    }

    /** The k-th lowercase string of length n in lexicographic order. */
    private static String word(int n, long k) {
        char[] c = new char[n];
        for (int i = n - 1; i >= 0; i--) {
            c[i] = LOWER.charAt((int) (k % 26));
            k /= 26;
        }
        return new String(c);
    }

    private static final class Builder {
        final List<String> tokens;
        final float[] scores;
        final int[] types;
        int pieces;

        Builder(int size) {
            tokens = new ArrayList<>(size);
            scores = new float[size];
            types = new int[size];
        }

        boolean full() {
            return tokens.size() == types.length;
        }

        void add(String token, int type, float score) {
            if (full()) {
                return;
            }
            types[tokens.size()] = type;
            scores[tokens.size()] = score;
            tokens.add(token);
        }

        void piece(String token) {
            add(token, Vocabulary.TYPE_NORMAL, -pieces++);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SynthVocab v && tokens.equals(v.tokens) && Arrays.equals(scores, v.scores)
                && Arrays.equals(types, v.types);
    }

    @Override
    public int hashCode() {
        return tokens.hashCode();
    }
}
