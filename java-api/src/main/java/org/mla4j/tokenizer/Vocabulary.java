package org.mla4j.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A tokenizer vocabulary as stored in GGUF metadata (llama.cpp's {@code llama_vocab::impl::load}).
 * Special token ids are -1 when the vocabulary has none.
 */
public final class Vocabulary {
    /** {@code tokenizer.ggml.model} of SentencePiece vocabularies. */
    public static final String MODEL_SPM = "llama";
    /** {@code tokenizer.ggml.model} of byte-level BPE vocabularies (GPT-2 style). */
    public static final String MODEL_BPE = "gpt2";

    // tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
    /** Token type: not set. */
    public static final int TYPE_UNDEFINED = 0;
    /** Token type: an ordinary text token. */
    public static final int TYPE_NORMAL = 1;
    /** Token type: the unknown token. */
    public static final int TYPE_UNKNOWN = 2;
    /** Token type: a control token (BOS, EOS, chat markers), matched in text only when asked. */
    public static final int TYPE_CONTROL = 3;
    /** Token type: a user-defined token, always matched in text. */
    public static final int TYPE_USER_DEFINED = 4;
    /** Token type: unused. */
    public static final int TYPE_UNUSED = 5;
    /** Token type: a byte token such as "&lt;0x0A&gt;" (SentencePiece byte fallback). */
    public static final int TYPE_BYTE = 6;

    private static final String KEY_PREFIX = "tokenizer.ggml.";

    private final String model;
    private final String name;
    private final String pre;
    private final List<String> merges;
    private final List<String> tokens;
    private final float[] scores;
    private final int[] types;
    private final int bos;
    private final int eos;
    private final int unk;
    private final int eot;
    private final int eom;
    private final boolean addBos;
    private final boolean addEos;
    private final boolean addSpacePrefix;
    private final Map<String, Integer> ids;
    private final int maxTokenLength;

    /**
     * A vocabulary without BPE data (SentencePiece).
     *
     * @param model tokenizer model name ({@code tokenizer.ggml.model}, e.g. "llama")
     * @param name model name ({@code general.name}, "" when absent); llama.cpp keys a few quirks on it
     * @param tokens token texts, unique and non-empty
     * @param scores one score per token
     * @param types one {@code TYPE_*} per token
     * @param bos BOS id or -1
     * @param eos EOS id or -1
     * @param unk unknown-token id or -1
     * @param eot end-of-turn id or -1
     * @param eom end-of-message id or -1
     * @param addBos whether encoding adds BOS
     * @param addEos whether encoding adds EOS
     * @param addSpacePrefix whether SentencePiece encoding puts a space in front of the text
     */
    public Vocabulary(String model, String name, List<String> tokens, float[] scores, int[] types,
            int bos, int eos, int unk, int eot, int eom, boolean addBos, boolean addEos, boolean addSpacePrefix) {
        this(model, name, "", List.of(), tokens, scores, types, bos, eos, unk, eot, eom, addBos, addEos, addSpacePrefix);
    }

    /**
     * A vocabulary with BPE data as well.
     *
     * @param pre pre-tokenizer name ({@code tokenizer.ggml.pre}, "" when absent)
     * @param merges BPE merges ({@code tokenizer.ggml.merges}), each "left right"; empty for SentencePiece
     * @param model tokenizer model name ({@code tokenizer.ggml.model}, e.g. "gpt2")
     * @param name model name ({@code general.name}, "" when absent)
     * @param tokens token texts, unique and non-empty
     * @param scores one score per token
     * @param types one {@code TYPE_*} per token
     * @param bos BOS id or -1
     * @param eos EOS id or -1
     * @param unk unknown-token id or -1
     * @param eot end-of-turn id or -1
     * @param eom end-of-message id or -1
     * @param addBos whether encoding adds BOS
     * @param addEos whether encoding adds EOS
     * @param addSpacePrefix whether SentencePiece encoding puts a space in front of the text
     */
    public Vocabulary(String model, String name, String pre, List<String> merges, List<String> tokens, float[] scores,
            int[] types, int bos, int eos, int unk, int eot, int eom, boolean addBos, boolean addEos,
            boolean addSpacePrefix) {
        this.model = Objects.requireNonNull(model, "model");
        this.name = Objects.requireNonNull(name, "name");
        this.pre = Objects.requireNonNull(pre, "pre");
        this.merges = List.copyOf(Objects.requireNonNull(merges, "merges"));
        this.tokens = List.copyOf(Objects.requireNonNull(tokens, "tokens"));
        int n = this.tokens.size();
        if (n == 0) {
            throw new IllegalArgumentException("vocabulary has no tokens");
        }
        if (scores.length != n || types.length != n) {
            throw new IllegalArgumentException("vocabulary has " + n + " tokens but " + scores.length + " scores and "
                    + types.length + " token types");
        }
        this.scores = scores.clone();
        this.types = types.clone();
        this.ids = new HashMap<>(n * 2);
        int maxLength = 0;
        for (int i = 0; i < n; i++) {
            String token = this.tokens.get(i);
            if (token.isEmpty()) {
                throw new IllegalArgumentException("token " + i + " is empty");
            }
            Integer previous = ids.putIfAbsent(token, i);
            if (previous != null) {
                throw new IllegalArgumentException(
                        "duplicate token in vocabulary: '" + token + "' has ids " + previous + " and " + i);
            }
            maxLength = Math.max(maxLength, token.length());
        }
        this.maxTokenLength = maxLength;
        this.bos = checkId("bos", bos, n);
        this.eos = checkId("eos", eos, n);
        this.unk = checkId("unk", unk, n);
        this.eot = checkId("eot", eot, n);
        this.eom = checkId("eom", eom, n);
        if (addBos && bos < 0) {
            throw new IllegalArgumentException("add_bos_token is true, but the vocabulary has no BOS token");
        }
        if (addEos && eos < 0) {
            throw new IllegalArgumentException("add_eos_token is true, but the vocabulary has no EOS token");
        }
        this.addBos = addBos;
        this.addEos = addEos;
        this.addSpacePrefix = addSpacePrefix;
    }

    private static int checkId(String what, int id, int n) {
        if (id < -1 || id >= n) {
            throw new IllegalArgumentException(what + " token id " + id + " is outside the vocabulary [0, " + n + ")");
        }
        return id;
    }

    /**
     * Reads a vocabulary from {@code tokenizer.ggml.*} metadata with llama.cpp's rules: scores default to 0, types
     * to normal, empty token texts become "[EMPTY_i]", and special ids / flags default per tokenizer model
     * (SentencePiece: BOS 1, EOS 2, UNK 0, add_bos true, add_space_prefix true; BPE: BOS 11, EOS 11, no UNK,
     * add_bos true only for the pre-tokenizers that ask for it, e.g. llama3). A special id in the metadata
     * that is outside the vocabulary (e.g. 0xFFFFFFFF) is ignored, keeping the default. BPE vocabularies need
     * {@code tokenizer.ggml.merges}.
     *
     * @throws IllegalArgumentException when required keys are missing or arrays are too short
     * @param metadata the model's metadata
     * @return the vocabulary
     */
    public static Vocabulary fromMetadata(MetadataSource metadata) {
        String model = metadata.getString(KEY_PREFIX + "model").orElseThrow(
                () -> new IllegalArgumentException("missing metadata key " + KEY_PREFIX + "model"));
        List<String> texts = metadata.getStringArray(KEY_PREFIX + "tokens").orElseThrow(
                () -> new IllegalArgumentException("missing metadata key " + KEY_PREFIX + "tokens (string array)"));
        int n = texts.size();
        List<String> tokens = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String text = texts.get(i);
            tokens.add(text == null || text.isEmpty() ? "[EMPTY_" + i + "]" : text);
        }
        float[] scores = metadata.getFloatArray(KEY_PREFIX + "scores").map(s -> prefix(s, n, "scores"))
                .orElseGet(() -> new float[n]);
        int[] types = metadata.getIntArray(KEY_PREFIX + "token_type").map(t -> prefix(t, n, "token_type"))
                .orElseGet(() -> {
                    int[] normal = new int[n];
                    Arrays.fill(normal, TYPE_NORMAL);
                    return normal;
                });

        boolean spm = model.equals(MODEL_SPM);
        boolean bpe = model.equals(MODEL_BPE);
        String pre = metadata.getString(KEY_PREFIX + "pre").orElse("");
        List<String> merges = List.of();
        boolean addBosDefault = spm;
        if (bpe) {
            merges = metadata.getStringArray(KEY_PREFIX + "merges").orElseThrow(() -> new IllegalArgumentException(
                    "missing metadata key " + KEY_PREFIX + "merges (string array), required for gpt2 (BPE) vocabularies"));
            addBosDefault = PreTokenizer.forName(pre).addBos(); // also rejects an unknown pre-tokenizer name
        }
        // llama.cpp's defaults: SPM <s>=1, </s>=2, <unk>=0; BPE 11 for both BOS and EOS (GPT-2 era converters).
        int bos = specialId(metadata, "bos_token_id", spm ? 1 : bpe ? 11 : -1, n);
        int eos = specialId(metadata, "eos_token_id", spm ? 2 : bpe ? 11 : -1, n);
        int unk = specialId(metadata, "unknown_token_id", spm ? 0 : -1, n);
        int eot = specialId(metadata, "eot_token_id", -1, n);
        int eom = specialId(metadata, "eom_token_id", -1, n);
        boolean addBos = metadata.getBoolean(KEY_PREFIX + "add_bos_token").orElse(addBosDefault);
        boolean addEos = metadata.getBoolean(KEY_PREFIX + "add_eos_token").orElse(false);
        boolean addSpacePrefix = metadata.getBoolean(KEY_PREFIX + "add_space_prefix").orElse(spm);
        String name = metadata.getString("general.name").orElse("");
        return new Vocabulary(model, name, pre, merges, tokens, scores, types, bos, eos, unk, eot, eom, addBos,
                addEos, addSpacePrefix);
    }

    private static int specialId(MetadataSource metadata, String key, int defaultId, int n) {
        int fallback = defaultId < n ? defaultId : -1;
        var value = metadata.getLong(KEY_PREFIX + key);
        if (value.isEmpty() || value.getAsLong() < 0 || value.getAsLong() >= n) {
            return fallback;
        }
        return (int) value.getAsLong();
    }

    private static float[] prefix(float[] values, int n, String what) {
        if (values.length < n) {
            throw new IllegalArgumentException(KEY_PREFIX + what + " has " + values.length + " entries for " + n + " tokens");
        }
        return Arrays.copyOf(values, n);
    }

    private static int[] prefix(int[] values, int n, String what) {
        if (values.length < n) {
            throw new IllegalArgumentException(KEY_PREFIX + what + " has " + values.length + " entries for " + n + " tokens");
        }
        return Arrays.copyOf(values, n);
    }

    /** {@return the tokenizer model name ({@code tokenizer.ggml.model})} */
    public String model() {
        return model;
    }

    /** {@return the pre-tokenizer name ({@code tokenizer.ggml.pre}), "" when absent} */
    public String pre() {
        return pre;
    }

    /** {@return BPE merges in rank order, each "left right"; empty for SentencePiece} */
    public List<String> merges() {
        return merges;
    }

    /** {@return the model's {@code general.name}, "" when absent} */
    public String name() {
        return name;
    }

    /** {@return the number of tokens} */
    public int size() {
        return tokens.size();
    }

    /** {@return the token texts} */
    public List<String> tokens() {
        return tokens;
    }

    /**
     * {@return a token's text}
     *
     * @param id the token id
     */
    public String token(int id) {
        return tokens.get(id);
    }

    /**
     * {@return a token's score}
     *
     * @param id the token id
     */
    public float score(int id) {
        return scores[id];
    }

    /**
     * {@return a token's type, one of {@code TYPE_*}}
     *
     * @param id the token id
     */
    public int type(int id) {
        return types[id];
    }

    /** {@return every token's score (a copy)} */
    public float[] scores() {
        return scores.clone();
    }

    /** {@return every token's type (a copy)} */
    public int[] types() {
        return types.clone();
    }

    /**
     * {@return the id of the token with exactly this text}
     *
     * @param text the token text
     */
    public OptionalInt id(String text) {
        Integer id = ids.get(text);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** Id of the token with this text, or -1; the allocation-free form of {@link #id(String)} for hot loops. */
    int idOrMinusOne(String text) {
        Integer id = ids.get(text);
        return id == null ? -1 : id;
    }

    /** {@return length in chars of the longest token text} */
    public int maxTokenLength() {
        return maxTokenLength;
    }

    /** {@return the BOS id, or -1} */
    public int bos() {
        return bos;
    }

    /** {@return the EOS id, or -1} */
    public int eos() {
        return eos;
    }

    /** {@return the unknown-token id, or -1} */
    public int unk() {
        return unk;
    }

    /** {@return the end-of-turn id, or -1} */
    public int eot() {
        return eot;
    }

    /** {@return the end-of-message id, or -1} */
    public int eom() {
        return eom;
    }

    /** {@return whether encoding adds BOS} */
    public boolean addBos() {
        return addBos;
    }

    /** {@return whether encoding adds EOS} */
    public boolean addEos() {
        return addEos;
    }

    /** {@return whether SentencePiece encoding puts a space in front of the text} */
    public boolean addSpacePrefix() {
        return addSpacePrefix;
    }

    @Override
    public String toString() {
        return "Vocabulary[model=" + model + (pre.isEmpty() ? "" : ", pre=" + pre) + ", name=" + name + ", size=" + size() + ", bos=" + bos + ", eos=" + eos
                + ", unk=" + unk + ", addBos=" + addBos + ", addEos=" + addEos + ", addSpacePrefix=" + addSpacePrefix + "]";
    }
}
