package org.mla4j.tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before BPE, like llama.cpp's {@code unicode_regex_split} for a
 * {@code tokenizer.ggml.pre} name. Each regex of the list splits every piece left by the previous one further;
 * both the matches and the text between them become pieces, so no text is ever dropped.
 *
 * <p>llama.cpp runs these regexes with {@code std::regex}, on text in which every non-ASCII whitespace
 * character has been replaced by U+000B (vertical tab), so that ECMAScript's ASCII-only {@code \s} matches it.
 * Java's default {@code \s} is the same ASCII set, so matching the same substituted text reproduces that,
 * including its side effects (e.g. U+3000 then no longer matches an explicit range that contains it).
 * {@code \p{L}}, {@code \p{N}} and {@code \p{P}} are the Unicode general categories in both.
 */
final class PreTokenizer {
    private static final String GPT2 =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    // llama.cpp's own implementation of GPT2 (unicode_regex_split_custom_gpt2) also takes the regex's final
    // "|\s+" alternative; without it a lone whitespace before a non-space is a gap, which is a piece too.
    private static final String LLAMA3 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    // Non-ASCII characters are written as escapes: several of them (e.g. U+1F7D, U+212A) have canonical
    // equivalents that an editor or a copy could silently normalise, which would change the ranges.
    private static final List<String> DEEPSEEK_LLM = List.of(
            "[\r\n]",
            "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\uD801\uDC00-\uD801\uDC4F\uD801\uDCB0-\uD801\uDCD3\uD801\uDCD8-\uD801\uDCFB\uD803\uDC80-\uD803\uDCB2\uD803\uDCC0-\uD803\uDCF2\uD806\uDCA0-\uD806\uDCDF\uD83A\uDD00-\uD83A\uDD43]+",
            "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
            "\\s+$",
            "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
            "\\p{N}+");
    private static final List<String> DEEPSEEK_CODER = List.of(
            "[\r\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
            "\\p{N}");
    private static final List<String> FALCON = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]");
    private static final List<String> STARCODER = List.of("\\p{N}", GPT2);
    private static final List<String> DEFAULT = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");

    /** The regexes of each known family, and the flags llama.cpp sets with them. */
    private record Family(List<String> regexes, boolean ignoreMerges, boolean addBos) {}

    private static final Family F_DEFAULT = new Family(DEFAULT, false, false);
    private static final Family F_LLAMA3 = new Family(List.of(LLAMA3), true, true);
    private static final Family F_LLAMA3_REGEX_ONLY = new Family(List.of(LLAMA3), false, false);
    private static final Family F_QWEN2 = new Family(List.of(QWEN2), false, false);
    private static final Family F_GPT2 = new Family(List.of(GPT2), false, false);
    private static final Family F_DEEPSEEK_LLM = new Family(DEEPSEEK_LLM, false, false);
    private static final Family F_DEEPSEEK_CODER = new Family(DEEPSEEK_CODER, false, false);
    private static final Family F_FALCON = new Family(FALCON, false, false);
    private static final Family F_STARCODER = new Family(STARCODER, false, false);

    /** llama.cpp's {@code tokenizer.ggml.pre} names (llama-vocab.cpp) for the families above. */
    private static final Map<String, Family> FAMILIES = Map.ofEntries(
            Map.entry("default", F_DEFAULT),
            Map.entry("llama3", F_LLAMA3), Map.entry("llama-v3", F_LLAMA3), Map.entry("llama-bpe", F_LLAMA3),
            Map.entry("falcon3", F_LLAMA3), Map.entry("falcon-h1", F_LLAMA3), Map.entry("pixtral", F_LLAMA3),
            Map.entry("midm-2.0", F_LLAMA3), Map.entry("lfm2", F_LLAMA3),
            Map.entry("dbrx", F_LLAMA3_REGEX_ONLY), Map.entry("smaug-bpe", F_LLAMA3_REGEX_ONLY),
            Map.entry("qwen2", F_QWEN2), Map.entry("deepseek-r1-qwen", F_QWEN2), Map.entry("kormo", F_QWEN2),
            Map.entry("megrez", F_QWEN2), Map.entry("stablelm2", F_QWEN2), Map.entry("hunyuan", F_QWEN2),
            Map.entry("gpt-2", F_GPT2), Map.entry("phi-2", F_GPT2), Map.entry("gigachat", F_GPT2),
            Map.entry("a.x-4.0", F_GPT2), Map.entry("mellum", F_GPT2), Map.entry("mpt", F_GPT2),
            Map.entry("olmo", F_GPT2), Map.entry("jais", F_GPT2), Map.entry("trillion", F_GPT2),
            Map.entry("granite-docling", F_GPT2), Map.entry("exaone4", F_GPT2),
            Map.entry("deepseek-llm", F_DEEPSEEK_LLM),
            Map.entry("deepseek-coder", F_DEEPSEEK_CODER),
            Map.entry("falcon", F_FALCON),
            Map.entry("starcoder", F_STARCODER), Map.entry("refact", F_STARCODER), Map.entry("smollm", F_STARCODER),
            Map.entry("command-r", F_STARCODER), Map.entry("codeshell", F_STARCODER),
            Map.entry("exaone", F_STARCODER), Map.entry("minerva-7b", F_STARCODER), Map.entry("mellum2", F_STARCODER));

    /**
     * Hugging Face pre-tokenizers by family: the Split regexes of tokenizer.json in order (Digits with
     * individual_digits counts as \p{N}), and whether its ByteLevel step applies the GPT-2 regex (use_regex).
     * llama.cpp's converter tells families apart by hashing the tokenizer's output on a probe text; the
     * definitions that produce that output are compared here instead, as no HF tokenizer runs in Java.
     */
    private record HfDefinition(List<String> splits, boolean byteLevelRegex) {}

    private static final String LLAMA3_HF = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_HF = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final Map<HfDefinition, String> HF_FAMILIES = Map.of(
            new HfDefinition(List.of(), true), "gpt-2",
            new HfDefinition(List.of("\\p{N}"), true), "starcoder",
            new HfDefinition(List.of(LLAMA3_HF), false), "llama-bpe",
            new HfDefinition(List.of(QWEN2_HF), false), "qwen2",
            new HfDefinition(DEEPSEEK_LLM, false), "deepseek-llm",
            new HfDefinition(DEEPSEEK_CODER, false), "deepseek-coder");

    /**
     * The {@code tokenizer.ggml.pre} name for a Hugging Face pre-tokenizer definition, if it is a known one.
     *
     * @param splits the regexes of its Split steps, in order (Digits with individual_digits as \p{N})
     * @param byteLevelRegex whether its ByteLevel step has use_regex (GPT-2's regex) on
     */
    static java.util.Optional<String> identify(List<String> splits, boolean byteLevelRegex) {
        return java.util.Optional.ofNullable(HF_FAMILIES.get(new HfDefinition(List.copyOf(splits), byteLevelRegex)));
    }

    /**
     * The Hugging Face definition that {@link #identify} maps back to {@code pre}, or else to a name of the same
     * family (the same regexes and flags): its Split regexes and whether its ByteLevel step uses the GPT-2 regex.
     */
    static java.util.Optional<Map.Entry<List<String>, Boolean>> hfDefinition(String pre) {
        Family family = FAMILIES.get(pre.isEmpty() ? "default" : pre);
        HfDefinition same = null;
        for (Map.Entry<HfDefinition, String> e : HF_FAMILIES.entrySet()) {
            if (e.getValue().equals(pre)) {
                same = e.getKey();
                break;
            }
            if (family != null && FAMILIES.get(e.getValue()) == family) same = e.getKey();
        }
        return java.util.Optional.ofNullable(same).map(d -> Map.entry(d.splits(), d.byteLevelRegex()));
    }

    private final String name;
    private final Pattern[] patterns;
    private final boolean ignoreMerges;
    private final boolean addBos;

    private PreTokenizer(String name, Family family) {
        this.name = name;
        this.patterns = family.regexes().stream().map(Pattern::compile).toArray(Pattern[]::new);
        this.ignoreMerges = family.ignoreMerges();
        this.addBos = family.addBos();
    }

    /**
     * The pre-tokenizer for a {@code tokenizer.ggml.pre} value; "" (absent) is "default", as in llama.cpp.
     *
     * @throws IllegalArgumentException for a name llama.cpp does not know or mla4j does not support
     */
    static PreTokenizer forName(String pre) {
        String key = pre.isEmpty() ? "default" : pre;
        Family family = FAMILIES.get(key);
        if (family == null) {
            throw new IllegalArgumentException("unknown pre-tokenizer type '" + pre + "' (tokenizer.ggml.pre); known: "
                    + String.join(", ", FAMILIES.keySet().stream().sorted().toList()));
        }
        return new PreTokenizer(key.toLowerCase(Locale.ROOT), family);
    }

    String name() {
        return name;
    }

    /** Whole words that are vocabulary tokens are taken as they are, without merging (llama3's ignore_merges). */
    boolean ignoreMerges() {
        return ignoreMerges;
    }

    /** The add_bos default of this family (metadata may override it). */
    boolean addBos() {
        return addBos;
    }

    /** Receives the words of a split, in order. */
    interface WordSink {
        void word(int start, int end);
    }

    /**
     * Splits text[start, end) into words, calling {@code sink.word(wordStart, wordEnd)} for each in order
     * (offsets in chars of {@code text}; words are never empty and cover the range without gaps).
     */
    void split(String text, int start, int end, WordSink sink) {
        if (start >= end) {
            return;
        }
        String matchText = whitespaceAsVerticalTab(text);
        // Boundaries are kept as a growing list of piece ends; each pattern refines the current pieces.
        int[] ends = {end};
        int[] starts = {start};
        int count = 1;
        for (Pattern pattern : patterns) {
            Matcher m = pattern.matcher(matchText);
            int[] newStarts = new int[Math.max(16, count * 2)];
            int[] newEnds = new int[newStarts.length];
            int n = 0;
            for (int p = 0; p < count; p++) {
                int pieceStart = starts[p];
                int pieceEnd = ends[p];
                m.region(pieceStart, pieceEnd); // opaque, anchoring bounds: like a regex_iterator on the piece
                int at = pieceStart;
                while (m.find()) {
                    if (n + 2 > newStarts.length) {
                        newStarts = Arrays.copyOf(newStarts, newStarts.length * 2);
                        newEnds = Arrays.copyOf(newEnds, newEnds.length * 2);
                    }
                    if (m.start() > at) {
                        newStarts[n] = at;
                        newEnds[n++] = m.start();
                    }
                    newStarts[n] = m.start();
                    newEnds[n++] = m.end();
                    at = m.end();
                }
                if (at < pieceEnd) {
                    if (n + 1 > newStarts.length) {
                        newStarts = Arrays.copyOf(newStarts, newStarts.length * 2);
                        newEnds = Arrays.copyOf(newEnds, newEnds.length * 2);
                    }
                    newStarts[n] = at;
                    newEnds[n++] = pieceEnd;
                }
            }
            starts = newStarts;
            ends = newEnds;
            count = n;
        }
        for (int i = 0; i < count; i++) {
            sink.word(starts[i], ends[i]);
        }
    }

    /** The text with every non-ASCII whitespace character (all are in the BMP) replaced by U+000B. */
    static String whitespaceAsVerticalTab(String text) {
        char[] chars = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x80 && isNonAsciiWhitespace(c)) {
                if (chars == null) {
                    chars = text.toCharArray();
                }
                chars[i] = '\u000B';
            }
        }
        return chars == null ? text : new String(chars);
    }

    /** llama.cpp's whitespace set above ASCII (unicode_set_whitespace): the Unicode White_Space property. */
    private static boolean isNonAsciiWhitespace(char c) {
        return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029
                || c == 0x202F || c == 0x205F || c == 0x3000;
    }
}
