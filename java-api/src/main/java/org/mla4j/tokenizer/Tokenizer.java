package org.mla4j.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Text to token ids and back, with llama.cpp's semantics.
 * Implementations are immutable and safe to share between threads; stream decoders are not.
 */
public interface Tokenizer {

    /**
     * Tokenizes text like llama.cpp's {@code llama_tokenize}.
     *
     * @param addSpecial add the BOS/EOS tokens the vocabulary asks for (add_bos / add_eos)
     * @param parseSpecial turn the text of control tokens (e.g. "&lt;s&gt;") into those tokens;
     *     user-defined tokens are always matched, as in llama.cpp
     * @param text the text
     * @return the token ids
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Ids to text like llama.cpp's {@code llama_detokenize(..., remove_special=false, unparse_special=false)}:
     * control and unknown tokens give no text, and with add_space_prefix the leading space of the first
     * token is removed unless that token is BOS (llama.cpp keeps " Hello" for [BOS, "▁Hello"]).
     * Byte sequences that are not valid UTF-8 become U+FFFD.
     *
     * @param ids token ids
     * @return the text
     */
    String decode(int[] ids);

    /**
     * The bytes token {@code id} stands for, like llama.cpp's {@code llama_token_to_piece} with lstrip 0.
     *
     * @param special also render control and unknown tokens as their text (otherwise they give no bytes)
     * @param id the token id
     * @return the bytes (not necessarily whole UTF-8 characters)
     */
    byte[] pieceBytes(int id, boolean special);

    /**
     * {@return the text token {@code id} stands for, control tokens included; a lone byte of a multi-byte character gives U+FFFD}
     *
     * @param id the token id
     */
    default String piece(int id) {
        return new String(pieceBytes(id, true), StandardCharsets.UTF_8);
    }

    /** {@return the BOS token id, or -1 when the vocabulary has none} */
    int bos();

    /** {@return the EOS token id, or -1 when the vocabulary has none} */
    int eos();

    /** {@return the number of tokens in the vocabulary} */
    int vocabSize();

    /**
     * {@return true for tokens that end generation: EOS, EOT, EOM and llama.cpp's end-of-turn tokens found by their text}
     *
     * @param id the token id
     */
    boolean isEndOfGeneration(int id);

    /** {@return a decoder for generated tokens, one at a time; it does not strip any leading space} */
    default StreamDecoder newStreamDecoder() {
        return new Utf8StreamDecoder(id -> pieceBytes(id, false));
    }

    /**
     * {@return tokenizer for a vocabulary, chosen by its tokenizer model name}
     *
     * @param vocabulary the vocabulary (SentencePiece "llama" or BPE "gpt2")
     */
    static Tokenizer forVocabulary(Vocabulary vocabulary) {
        return switch (vocabulary.model()) {
            case Vocabulary.MODEL_SPM -> new SentencePieceTokenizer(vocabulary);
            case Vocabulary.MODEL_BPE -> new BpeTokenizer(vocabulary);
            default -> throw new IllegalArgumentException("unsupported tokenizer model '" + vocabulary.model()
                    + "' (supported: '" + Vocabulary.MODEL_SPM + "', '" + Vocabulary.MODEL_BPE + "')");
        };
    }

    /** Turns generated tokens into text as they arrive. */
    interface StreamDecoder {
        /**
         * Adds one token and returns the text that is now complete: bytes of a character split across
         * byte tokens are held back until the character is whole.
         *
         * @param id the token id
         * @return the text now complete (often "")
         */
        String push(int id);

        /** {@return what is still held back (an incomplete character becomes U+FFFD) and empties the decoder} */
        String flush();
    }
}
