package org.mla4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Function;

/**
 * What the SPM and BPE tokenizers share: the vocabulary, its special tokens, and llama.cpp's token-to-piece cache
 * (what each token decodes to), which differs between them only in how a normal token's text becomes bytes.
 */
abstract class VocabularyTokenizer implements Tokenizer {
    static final byte[] NO_BYTES = new byte[0];

    final Vocabulary vocabulary;
    final SpecialTokens special;
    /** What each token decodes to when special tokens are rendered. */
    private final byte[][] pieces;
    /** Tokens that decode to nothing unless special tokens are rendered: control and unknown. */
    private final boolean[] hidden;

    /** @param normalText the bytes a normal token's text stands for (SPM: U+2581 is a space; BPE: byte-level) */
    VocabularyTokenizer(Vocabulary vocabulary, Function<String, byte[]> normalText) {
        this.vocabulary = Objects.requireNonNull(vocabulary, "vocabulary");
        this.special = new SpecialTokens(vocabulary);
        int n = vocabulary.size();
        pieces = new byte[n][];
        hidden = new boolean[n];
        for (int id = 0; id < n; id++) {
            int attr = special.attributes(id);
            hidden[id] = (attr & (SpecialTokens.CONTROL | SpecialTokens.UNKNOWN)) != 0;
            pieces[id] = renderPiece(id, attr, vocabulary.token(id), normalText);
        }
    }

    /** llama.cpp's token_to_piece with special=true. */
    private static byte[] renderPiece(int id, int attr, String text, Function<String, byte[]> normalText) {
        if ((attr & (SpecialTokens.CONTROL | SpecialTokens.UNKNOWN | SpecialTokens.USER_DEFINED)) != 0) {
            return text.getBytes(StandardCharsets.UTF_8);
        }
        if ((attr & SpecialTokens.NORMAL) != 0) {
            return normalText.apply(text);
        }
        if ((attr & SpecialTokens.BYTE) != 0) {
            return new byte[] {SpecialTokens.byteTokenValue(id, text)};
        }
        return NO_BYTES; // unused and undefined tokens render as nothing
    }

    /** The bytes of a token; control and unknown tokens give none unless renderSpecial. */
    final byte[] piece(int id, boolean renderSpecial) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
        }
        return !renderSpecial && hidden[id] ? NO_BYTES : pieces[id];
    }

    /** {@return the vocabulary} */
    public Vocabulary vocabulary() {
        return vocabulary;
    }

    @Override
    public StreamDecoder newStreamDecoder() {
        return new Utf8StreamDecoder(id -> piece(id, false));
    }

    @Override
    public int bos() {
        return vocabulary.bos();
    }

    @Override
    public int eos() {
        return vocabulary.eos();
    }

    @Override
    public int vocabSize() {
        return vocabulary.size();
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return special.isEndOfGeneration(id);
    }
}
