package org.mla4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Reads a SentencePiece-style Hugging Face tokenizer.json (BPE with byte_fallback, "▁" for spaces, as Llama 2,
 * Mistral and TinyLlama ship it) into the GGUF metadata of llama.cpp's SPM tokenizer ("llama"), the way
 * llama.cpp's converter does it for tokenizer.json-only models ({@code _set_vocab_llama_hf}, {@code LlamaHfVocab}):
 * tokens in id order, byte tokens {@code <0xXX>} of type byte, special tokens control (the unknown token type
 * unknown, as converting the tokenizer.model would give), other added tokens user-defined, pre "default".
 *
 * <p>One deliberate difference: LlamaHfVocab gives every token the placeholder score -1000, with which
 * score-greedy SPM merging (llama.cpp's and mla4j's) cannot reproduce the BPE. Here a token's score is minus the
 * rank of the first merge that produces it. SPM merging then picks the same pair as BPE at every step, provided
 * every pair of tokens whose concatenation is a (normal) token is a listed merge and the merges producing one
 * token are consecutive; both hold for tokenizers made from a SentencePiece model (transformers'
 * SentencePieceExtractor lists every split, ordered by the merged piece's score) and are checked: a tokenizer that
 * breaks them is refused, since its ids would differ.
 */
final class HuggingFaceSpmImport {
    static final String SPACE = "\u2581";
    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");
    private static final String P = "tokenizer.ggml.";

    private HuggingFaceSpmImport() {
    }

    static MetadataMap convert(JsonNode tokenizer, JsonNode config, String where) {
        JsonNode model = tokenizer.path("model");
        boolean prefix = spacePrefix(tokenizer, where);
        Map<Integer, String> byId = new HashMap<>();
        Map<String, Integer> ids = new HashMap<>();
        model.path("vocab").properties().forEach(e -> {
            byId.put(e.getValue().asInt(), e.getKey());
            ids.put(e.getKey(), e.getValue().asInt());
        });
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode a : tokenizer.path("added_tokens")) {
            int id = a.path("id").asInt();
            added.put(id, a);
            byId.put(id, a.path("content").asText());
            ids.putIfAbsent(a.path("content").asText(), id);
        }
        if (byId.isEmpty()) throw new IllegalArgumentException(where + ": model.vocab is empty");
        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        int unk = ids.getOrDefault(model.path("unk_token").asText(""), -1);
        List<String> tokens = new ArrayList<>(size);
        int[] types = new int[size];
        for (int i = 0; i < size; i++) {
            String text = byId.get(i);
            JsonNode a = added.get(i);
            if (text == null) {
                tokens.add("[PAD" + i + "]");
                types[i] = Vocabulary.TYPE_UNUSED;
                continue;
            }
            tokens.add(text);
            types[i] = i == unk ? Vocabulary.TYPE_UNKNOWN
                    : a != null ? (a.path("special").asBoolean(false) ? Vocabulary.TYPE_CONTROL : Vocabulary.TYPE_USER_DEFINED)
                    : BYTE_TOKEN.matcher(text).matches() ? Vocabulary.TYPE_BYTE : Vocabulary.TYPE_NORMAL;
        }
        float[] scores = scores(model.path("merges"), tokens, types, ids, where);

        Map<String, Object> out = new LinkedHashMap<>();
        out.put(P + "model", Vocabulary.MODEL_SPM);
        out.put(P + "pre", "default");
        out.put(P + "tokens", List.copyOf(tokens));
        out.put(P + "scores", scores);
        out.put(P + "token_type", types);
        for (String kind : List.of("bos", "eos", "unk", "pad")) {
            HuggingFaceImport.specialId(config, kind, ids).or(() -> kind.equals("unk") && unk >= 0
                    ? java.util.Optional.of(unk) : java.util.Optional.empty())
                    .ifPresent(id -> out.put(P + (kind.equals("unk") ? "unknown" : kind.equals("pad") ? "padding" : kind)
                            + "_token_id", (long) id));
        }
        for (String flag : List.of("add_bos_token", "add_eos_token")) {
            if (config.path(flag).isBoolean()) out.put(P + flag, config.path(flag).asBoolean());
        }
        // LlamaModel.set_vocab copies tokenizer_config's add_prefix_space; the json's own normalizer says it too.
        boolean addPrefix = config.path("add_prefix_space").isBoolean() ? config.path("add_prefix_space").asBoolean()
                : prefix;
        if (!addPrefix || config.path("add_prefix_space").isBoolean()) out.put(P + "add_space_prefix", addPrefix);
        HuggingFaceImport.chatTemplate(config.path("chat_template")).ifPresent(t -> out.put("tokenizer.chat_template", t));
        return new MetadataMap(out);
    }

    /**
     * Whether the tokenizer prefixes the text with "▁": the legacy normalizer Sequence[Prepend("▁"), Replace(" ",
     * "▁")] or a Metaspace pre-tokenizer ("▁", no splitting). Anything else is not SentencePiece's behaviour.
     */
    private static boolean spacePrefix(JsonNode tokenizer, String where) {
        JsonNode norm = tokenizer.path("normalizer");
        JsonNode pre = tokenizer.path("pre_tokenizer");
        if (pre.path("type").asText("").equals("Metaspace") && (norm.isNull() || norm.isMissingNode())) {
            if (!pre.path("replacement").asText("").equals(SPACE) || pre.path("split").asBoolean(true)) {
                throw new IllegalArgumentException(where + ": Metaspace pre-tokenizer with replacement '"
                        + pre.path("replacement").asText() + "' and split " + pre.path("split")
                        + " is not SentencePiece-style (expected \"▁\", split false)");
            }
            return !pre.path("prepend_scheme").asText("always").equals("never");
        }
        if (!pre.isNull() && !pre.isMissingNode()) {
            throw new IllegalArgumentException(where + ": byte_fallback BPE with pre-tokenizer '"
                    + pre.path("type").asText("?") + "' is not SentencePiece-style");
        }
        List<JsonNode> steps = new ArrayList<>();
        if (norm.path("type").asText("").equals("Sequence")) norm.path("normalizers").forEach(steps::add);
        else if (!norm.isNull() && !norm.isMissingNode()) steps.add(norm);
        boolean prepend = false, replace = false;
        for (JsonNode s : steps) {
            switch (s.path("type").asText("")) {
                case "Prepend" -> prepend = s.path("prepend").asText("").equals(SPACE) && !replace;
                case "Replace" -> replace = s.path("pattern").path("String").asText("").equals(" ")
                        && s.path("content").asText("").equals(SPACE);
                default -> throw new IllegalArgumentException(where + ": normalizer '" + s.path("type").asText("?")
                        + "' is not supported for a SentencePiece-style tokenizer");
            }
        }
        if (!replace) {
            throw new IllegalArgumentException(where + ": byte_fallback BPE without the Replace(\" \", \"▁\") "
                    + "normalizer or a Metaspace pre-tokenizer is not SentencePiece-style");
        }
        return prepend;
    }

    /**
     * Minus the rank of the first merge producing each token; tokens no merge produces score below every merge
     * (a control or byte token SPM could still assemble is then its last choice, as BPE never makes it). Checked.
     */
    private static float[] scores(JsonNode merges, List<String> tokens, int[] types, Map<String, Integer> ids,
            String where) {
        int n = tokens.size();
        int[] first = new int[n];
        int[] count = new int[n];
        java.util.Arrays.fill(first, -1);
        java.util.Set<String> pairs = new java.util.HashSet<>();
        int rank = 0;
        for (JsonNode m : merges) {
            String left, right;
            if (m.isArray()) {
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                String s = m.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0) throw new IllegalArgumentException(where + ": merge '" + s + "' has no space");
                left = s.substring(0, sp);
                right = s.substring(sp + 1);
            }
            Integer t = ids.get(left + right);
            if (t == null) {
                throw new IllegalArgumentException(where + ": merge '" + left + " " + right + "' makes '" + left + right
                        + "', which is not in the vocabulary");
            }
            if (first[t] < 0) first[t] = rank;
            count[t]++;
            if (first[t] + count[t] - 1 != rank) {
                throw new IllegalArgumentException(where + ": the merges producing '" + left + right + "' are not "
                        + "consecutive (ranks " + first[t] + " and " + rank + "); SentencePiece merging could not "
                        + "reproduce this BPE");
            }
            pairs.add(left + " " + right);
            rank++;
        }
        float[] scores = new float[n];
        for (int t = 0; t < n; t++) {
            scores[t] = first[t] < 0 ? (float) -(rank + 1) : (float) -first[t];
            if (types[t] != Vocabulary.TYPE_NORMAL) continue;
            String s = tokens.get(t);
            for (int i = s.offsetByCodePoints(0, 1); i < s.length(); i = s.offsetByCodePoints(i, 1)) {
                String a = s.substring(0, i), b = s.substring(i);
                if (ids.containsKey(a) && ids.containsKey(b) && !pairs.contains(a + " " + b)) {
                    throw new IllegalArgumentException(where + ": token '" + s + "' can be formed from '" + a + "' + '"
                            + b + "' but that merge is not listed; SentencePiece merging could not reproduce this BPE");
                }
            }
        }
        return scores;
    }
}
