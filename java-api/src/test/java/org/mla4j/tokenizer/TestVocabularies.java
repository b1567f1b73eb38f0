package org.mla4j.tokenizer;

import java.util.ArrayList;
import java.util.List;

/** Small hand-made SentencePiece vocabularies whose tokenizations can be worked out by hand. */
final class TestVocabularies {
    static final int UNK = 0;
    static final int BOS = 1;
    static final int EOS = 2;
    /** Byte token for byte b is BYTE0 + b. */
    static final int BYTE0 = 3;
    static final int SPACE = 259; // "▁"
    static final int H = 260;
    static final int E = 261;
    static final int L = 262;
    static final int O = 263;
    static final int A = 264;
    static final int LL = 265;
    static final int HE = 266;
    static final int HELL = 267;
    static final int SPACE_HE = 268;
    static final int HELLO = 269;
    static final int AA = 270;
    static final int USER = 271; // "<|user|>", user-defined
    static final int TWO_SPACES = 272; // "▁▁"
    static final int END = 273; // "<|end|>", normal type in the metadata

    private TestVocabularies() {}

    /**
     * Scores are chosen so that greedy-by-score differs from longest-match: "▁hello" gives ▁ + hello
     * (ll first, then he, hell, hello), where a left-to-right longest match would give ▁he + ll + o.
     */
    static Vocabulary hello(String name, boolean withByteTokens, boolean addSpacePrefix) {
        List<String> tokens = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        add(tokens, scores, types, "<unk>", 0, Vocabulary.TYPE_UNKNOWN);
        add(tokens, scores, types, "<s>", 0, Vocabulary.TYPE_CONTROL);
        add(tokens, scores, types, "</s>", 0, Vocabulary.TYPE_CONTROL);
        for (int b = 0; b < 256; b++) {
            // Without byte tokens the ids stay the same: placeholders of unused type.
            add(tokens, scores, types, withByteTokens ? String.format("<0x%02X>", b) : "[unused" + b + "]", 0,
                    withByteTokens ? Vocabulary.TYPE_BYTE : Vocabulary.TYPE_UNUSED);
        }
        add(tokens, scores, types, "\u2581", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "h", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "e", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "l", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "o", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "a", -10, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "ll", -1, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "he", -2, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "hell", -3, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "\u2581he", -4, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "hello", -5, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "aa", -1, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "<|user|>", 0, Vocabulary.TYPE_USER_DEFINED);
        add(tokens, scores, types, "\u2581\u2581", -0.5f, Vocabulary.TYPE_NORMAL);
        add(tokens, scores, types, "<|end|>", 0, Vocabulary.TYPE_NORMAL);
        float[] s = new float[scores.size()];
        int[] t = new int[types.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
            t[i] = types.get(i);
        }
        return new Vocabulary(Vocabulary.MODEL_SPM, name, tokens, s, t, BOS, EOS, UNK, -1, -1, true, false,
                addSpacePrefix);
    }

    static Vocabulary hello() {
        return hello("test", true, true);
    }

    private static void add(List<String> tokens, List<Float> scores, List<Integer> types, String text, float score,
            int type) {
        tokens.add(text);
        scores.add(score);
        types.add(type);
    }
}
