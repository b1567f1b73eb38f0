package org.mla4j.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.IntFunction;

/**
 * Streams token pieces as text, holding back the bytes of a UTF-8 character that is not complete yet
 * (a character can be split over several byte-fallback tokens). Invalid bytes become U+FFFD.
 */
final class Utf8StreamDecoder implements Tokenizer.StreamDecoder {
    private static final byte[] EMPTY = new byte[0];

    private final IntFunction<byte[]> pieces;
    /** Bytes of an incomplete trailing character: at most 3. */
    private byte[] pending = EMPTY;

    Utf8StreamDecoder(IntFunction<byte[]> pieces) {
        this.pieces = Objects.requireNonNull(pieces, "pieces");
    }

    @Override
    public String push(int id) {
        byte[] piece = pieces.apply(id);
        byte[] bytes = Arrays.copyOf(pending, pending.length + piece.length);
        System.arraycopy(piece, 0, bytes, pending.length, piece.length);
        int complete = completeLength(bytes);
        pending = Arrays.copyOfRange(bytes, complete, bytes.length);
        return new String(bytes, 0, complete, StandardCharsets.UTF_8);
    }

    @Override
    public String flush() {
        String rest = new String(pending, StandardCharsets.UTF_8);
        pending = EMPTY;
        return rest;
    }

    /**
     * Length of the prefix of {@code bytes} that can be decoded now: everything except a trailing lead byte
     * that still misses some of its continuation bytes.
     */
    static int completeLength(byte[] bytes) {
        int end = bytes.length;
        // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte of the last character.
        for (int i = end - 1; i >= 0 && i >= end - 4; i--) {
            int b = bytes[i] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue;
            }
            int needed = sequenceLength(b);
            return needed > end - i ? i : end;
        }
        return end;
    }

    /** Bytes in a UTF-8 sequence starting with lead byte {@code b}; 1 for ASCII and for invalid leads. */
    private static int sequenceLength(int b) {
        if (b >= 0xC2 && b <= 0xDF) {
            return 2;
        }
        if (b >= 0xE0 && b <= 0xEF) {
            return 3;
        }
        if (b >= 0xF0 && b <= 0xF4) {
            return 4;
        }
        return 1;
    }
}
