package org.mla4j.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Token attributes as llama.cpp derives them at load time (from token types, token texts and model name),
 * the end-of-generation set, and the splitting of text at special tokens ({@code tokenizer_st_partition}).
 * Shared by all tokenizer models.
 */
final class SpecialTokens {
    // llama.cpp's llama_token_attr bits.
    static final int UNKNOWN = 1;
    static final int UNUSED = 1 << 1;
    static final int NORMAL = 1 << 2;
    static final int CONTROL = 1 << 3;
    static final int USER_DEFINED = 1 << 4;
    static final int BYTE = 1 << 5;
    static final int LSTRIP = 1 << 7;
    static final int RSTRIP = 1 << 8;

    /**
     * Token texts llama.cpp treats as end of generation (and forces to control type), whatever the metadata says.
     * Entries that only matter for byte-level BPE families (o200k, gemma4, minimax) are included for the later
     * BPE tokenizer; the workarounds that remove some of them again for those families are not.
     */
    private static final Set<String> EOG_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
            "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
            "<\uFF5Cend\u2581of\u2581sentence\uFF5C>", "[e~[");

    /**
     * Texts llama.cpp recognises as fill-in-the-middle tokens and forces to control type (so that they are only
     * matched in text with parse_special); pad, repo and file-separator FIM tokens also end generation.
     * llama.cpp does this when the metadata has no fim_*_token_id (mla4j reads none) and for the first match
     * of each kind; real vocabularies have at most one.
     */
    private static final Set<String> FIM_TEXTS = Set.of(
            "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\uFF5Cfim\u2581begin\uFF5C>", "<PRE>", "\u2581<PRE>",
            "<|code_prefix|>", "<|prefix|>",
            "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\uFF5Cfim\u2581hole\uFF5C>", "<SUF>", "\u2581<SUF>",
            "<|code_suffix|>", "<|suffix|>",
            "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\uFF5Cfim\u2581end\uFF5C>", "<MID>", "\u2581<MID>",
            "<|code_middle|>", "<|middle|>");
    private static final Set<String> FIM_EOG_TEXTS = Set.of(
            "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
            "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
            "<|file_sep|>");
    /** gpt-oss's channel tokens, which llama.cpp always renders (user-defined type whatever the metadata says). */
    private static final Set<String> ALWAYS_RENDERED_TEXTS = Set.of("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>");

    /** A piece of the input: either the special token {@code token}, or text [start, end) when token is -1. */
    record Fragment(int token, int start, int end) {
        boolean isToken() {
            return token >= 0;
        }
    }

    private final Vocabulary vocabulary;
    private final int[] attributes;
    private final boolean[] endOfGeneration;
    /** Control, user-defined and unknown tokens, longest text first: the order in which text is split. */
    private final int[] splitOrder;

    SpecialTokens(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
        int n = vocabulary.size();
        attributes = new int[n];
        endOfGeneration = new boolean[n];
        for (int id = 0; id < n; id++) {
            attributes[id] = attributeOfType(vocabulary.type(id));
            String text = vocabulary.token(id);
            if (EOG_TEXTS.contains(text) || FIM_EOG_TEXTS.contains(text)) {
                endOfGeneration[id] = true;
                attributes[id] |= CONTROL;
            } else if (FIM_TEXTS.contains(text)) {
                attributes[id] |= CONTROL;
            } else if (ALWAYS_RENDERED_TEXTS.contains(text)) {
                attributes[id] = USER_DEFINED;
            }
        }
        for (int id : new int[] {vocabulary.eos(), vocabulary.eot(), vocabulary.eom()}) {
            if (id >= 0) {
                endOfGeneration[id] = true;
            }
        }
        // llama.cpp sorts by byte length with an unstable sort; ties are ordered by id here to be deterministic.
        splitOrder = IntStream.range(0, n)
                .filter(id -> (attributes[id] & (CONTROL | USER_DEFINED | UNKNOWN)) != 0)
                .boxed()
                .sorted(Comparator.<Integer>comparingInt(id -> -utf8Length(vocabulary.token(id))).thenComparingInt(id -> id))
                .mapToInt(Integer::intValue)
                .toArray();
        applyModelQuirks();
    }

    /** llama.cpp's per-model attribute fixes that change tokenization (the only ones for SPM vocabularies). */
    private void applyModelQuirks() {
        String name = vocabulary.name().toLowerCase(Locale.ROOT);
        if (name.contains("phi-3") || name.contains("phi3")) {
            // Phi-3: special tokens swallow the whitespace after them, except <unk>, <s> and <|endoftext|>.
            for (int id : splitOrder) {
                attributes[id] |= RSTRIP;
            }
            vocabulary.id("</s>").ifPresent(id -> attributes[id] |= RSTRIP);
            for (String text : List.of("<unk>", "<s>", "<|endoftext|>")) {
                vocabulary.id(text).ifPresent(id -> attributes[id] &= ~RSTRIP);
            }
        }
    }

    private static int attributeOfType(int type) {
        return switch (type) {
            case Vocabulary.TYPE_NORMAL -> NORMAL;
            case Vocabulary.TYPE_UNKNOWN -> UNKNOWN;
            case Vocabulary.TYPE_CONTROL -> CONTROL;
            case Vocabulary.TYPE_USER_DEFINED -> USER_DEFINED;
            case Vocabulary.TYPE_UNUSED -> UNUSED;
            case Vocabulary.TYPE_BYTE -> BYTE;
            default -> 0; // undefined
        };
    }

    private static int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    int attributes(int id) {
        return attributes[id];
    }

    boolean isEndOfGeneration(int id) {
        return id >= 0 && id < endOfGeneration.length && endOfGeneration[id];
    }

    /**
     * Splits text at special tokens, longest token first, leftmost occurrences first. Control and unknown tokens
     * are only matched when {@code parseSpecial}; user-defined tokens always are. LSTRIP/RSTRIP tokens drop the
     * whitespace before/after them. Fragments of text are never empty. Empty text gives no fragments.
     */
    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new Fragment(-1, 0, text.length()));
        for (int id : splitOrder) {
            int attr = attributes[id];
            if (!parseSpecial && (attr & (CONTROL | UNKNOWN)) != 0) {
                continue;
            }
            String special = vocabulary.token(id);
            if (text.indexOf(special) < 0) {
                continue; // cheap common case: this token does not occur at all
            }
            List<Fragment> next = new ArrayList<>(fragments.size() + 2);
            for (Fragment fragment : fragments) {
                if (fragment.isToken()) {
                    next.add(fragment);
                } else {
                    splitFragment(text, fragment.start(), fragment.end(), id, special, attr, next);
                }
            }
            fragments = next;
        }
        return fragments;
    }

    private static void splitFragment(String text, int start, int end, int id, String special, int attr,
            List<Fragment> out) {
        while (start < end) {
            int match = text.indexOf(special, start, end); // bounded: no rescans past the fragment
            if (match < 0) {
                break;
            }
            int leftEnd = match;
            if ((attr & LSTRIP) != 0) {
                while (leftEnd > start && isCSpace(text.charAt(leftEnd - 1))) {
                    leftEnd--;
                }
            }
            if (leftEnd > start) {
                out.add(new Fragment(-1, start, leftEnd));
            }
            out.add(new Fragment(id, match, match + special.length()));
            start = match + special.length();
            if ((attr & RSTRIP) != 0) {
                while (start < end && isCSpace(text.charAt(start))) {
                    start++;
                }
            }
        }
        if (start < end) {
            out.add(new Fragment(-1, start, end));
        }
    }

    /** Rejects text that has no UTF-8 form: an unpaired UTF-16 surrogate. */
    static void requireWellFormed(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(
                        "text has an unpaired UTF-16 surrogate at index " + i + "; it cannot be encoded as UTF-8");
            }
        }
    }

    /** The byte a byte token "&lt;0xXX&gt;" stands for. */
    static byte byteTokenValue(int id, String text) {
        if (text.length() != 6 || !text.startsWith("<0x") || text.charAt(5) != '>') {
            throw new IllegalArgumentException("byte token " + id + " is '" + text + "', expected the form <0xXX>");
        }
        try {
            return (byte) Integer.parseInt(text, 3, 5, 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("byte token " + id + " is '" + text + "', expected the form <0xXX>", e);
        }
    }

    /** C's isspace in the "C" locale, which llama.cpp uses for LSTRIP/RSTRIP. */
    private static boolean isCSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
    }
}
