package org.mla4j.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * SentencePiece (llama.cpp "llama"/SPM) tokenizer with llama.cpp's semantics ({@code llm_tokenizer_spm}):
 * each text fragment gets a leading space (add_space_prefix) when it starts the text or follows a special token,
 * spaces become U+2581, and adjacent symbols (initially one per character) are merged greedily, always taking
 * the pair whose merged text is the vocabulary token with the highest score (ties: leftmost pair). Characters
 * that end up in no token fall back to byte tokens {@code <0xXX>}.
 */
public final class SentencePieceTokenizer extends VocabularyTokenizer {
    private static final char SPACE_MARK = '\u2581';
    /** Token for each byte value (byte fallback), or -1. */
    private final int[] byteTokens = new int[256];

    /**
     * A tokenizer for a SentencePiece vocabulary.
     *
     * @param vocabulary the vocabulary
     */
    public SentencePieceTokenizer(Vocabulary vocabulary) {
        super(vocabulary, text -> text.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8));
        for (int b = 0; b < 256; b++) {
            int id = vocabulary.idOrMinusOne(String.format("<0x%02X>", b));
            if (id < 0 && b < 0x80) {
                id = vocabulary.idOrMinusOne(String.valueOf((char) b)); // llama.cpp's fallback: the byte itself
            }
            byteTokens[b] = id;
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        SpecialTokens.requireWellFormed(text);
        IntList out = new IntList(text.length() / 3 + 4);
        if (addSpecial && vocabulary.addBos()) {
            out.add(vocabulary.bos());
        }
        boolean afterSpecial = true; // the first text fragment gets the prefix space too
        for (SpecialTokens.Fragment fragment : special.split(text, parseSpecial)) {
            if (fragment.isToken()) {
                out.add(fragment.token());
                afterSpecial = true;
            } else {
                String piece = text.substring(fragment.start(), fragment.end());
                if (vocabulary.addSpacePrefix() && afterSpecial) {
                    piece = " " + piece;
                }
                mergeSymbols(piece.replace(' ', SPACE_MARK), out);
                afterSpecial = false;
            }
        }
        if (addSpecial && vocabulary.addEos()) {
            out.add(vocabulary.eos());
        }
        return out.toArray();
    }

    /** A candidate merge of symbols {@code left} and {@code right}, valid while their lengths still sum to size. */
    private record Bigram(int left, int right, float score, int size) {}

    /**
     * Merges the characters of {@code text} into tokens (llama.cpp's llm_tokenizer_spm_session::tokenize).
     * Symbols form a linked list over the text; a merge grows the left symbol and empties the right one.
     * Queue entries made stale by an earlier merge are recognised by the changed symbol lengths and skipped.
     */
    private void mergeSymbols(String text, IntList out) {
        int n = text.codePointCount(0, text.length());
        int[] start = new int[n];
        int[] length = new int[n]; // in chars; 0 once merged into the symbol on its left
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, offset = 0; i < n; i++) {
            start[i] = offset;
            length[i] = Character.charCount(text.codePointAt(offset));
            offset += length[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // Highest score first; among equal scores the leftmost pair.
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n),
                (a, b) -> a.score() != b.score() ? Float.compare(b.score(), a.score()) : Integer.compare(a.left(), b.left()));
        for (int i = 1; i < n; i++) {
            offerBigram(text, start, length, i - 1, i, queue);
        }
        while (!queue.isEmpty()) {
            Bigram bigram = queue.poll();
            int left = bigram.left();
            int right = bigram.right();
            if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.size()) {
                continue;
            }
            length[left] += length[right];
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offerBigram(text, start, length, prev[left], left, queue);
            }
            if (next[left] >= 0) {
                offerBigram(text, start, length, left, next[left], queue);
            }
        }
        for (int i = 0; i != -1 && n > 0; i = next[i]) {
            emitSymbol(text.substring(start[i], start[i] + length[i]), out);
        }
    }

    private void offerBigram(String text, int[] start, int[] length, int left, int right, PriorityQueue<Bigram> queue) {
        int size = length[left] + length[right];
        if (size > vocabulary.maxTokenLength()) {
            return; // no token is that long
        }
        int id = vocabulary.idOrMinusOne(text.substring(start[left], start[left] + size));
        if (id >= 0) {
            queue.add(new Bigram(left, right, vocabulary.score(id), size));
        }
    }

    /**
     * A final symbol: its token; else one byte token per UTF-8 byte; else (no byte tokens) one unknown token,
     * as SentencePiece does without byte fallback.
     */
    private void emitSymbol(String symbol, IntList out) {
        int id = vocabulary.idOrMinusOne(symbol);
        if (id >= 0) {
            out.add(id);
            return;
        }
        byte[] bytes = symbol.getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) {
            if (byteTokens[b & 0xFF] < 0) {
                if (vocabulary.unk() < 0) {
                    throw new IllegalArgumentException(String.format("cannot encode '%s': the vocabulary has no token "
                            + "for it, no byte token <0x%02X> and no unknown token", symbol, b & 0xFF));
                }
                out.add(vocabulary.unk());
                return;
            }
        }
        for (byte b : bytes) {
            out.add(byteTokens[b & 0xFF]);
        }
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean stripSpace = vocabulary.addSpacePrefix();
        for (int id : ids) {
            byte[] piece = piece(id, false);
            int skip = stripSpace && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            out.write(piece, skip, piece.length - skip);
            stripSpace = false; // only the very first token, even if it rendered nothing (e.g. BOS)
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] pieceBytes(int id, boolean renderSpecial) {
        return piece(id, renderSpecial).clone();
    }
}
