package org.mla4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads a Hugging Face byte-level BPE tokenizer ({@code tokenizer.json}, optionally with
 * {@code tokenizer_config.json}) into the GGUF metadata llama.cpp's converter writes for it
 * ({@code convert_hf_to_gguf.py}, {@code _set_vocab_gpt2}): model "gpt2", the pre-tokenizer name, tokens in id
 * order (gaps become "[PADi]", unused), token types (added tokens: control when special or when they look special,
 * else user-defined), merges, special token ids, add_bos/add_eos and the chat template. A SentencePiece-style
 * tokenizer.json (BPE with byte_fallback, as Llama 2 and Mistral ship it) goes to {@link HuggingFaceSpmImport}.
 */
public final class HuggingFaceImport {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String P = "tokenizer.ggml.";

    private HuggingFaceImport() {}

    /**
     * Reads a Hugging Face byte-level BPE tokenizer as {@code tokenizer.ggml.*} metadata.
     *
     * @param tokenizerJson the tokenizer.json file
     * @param tokenizerConfig the tokenizer_config.json file, or null
     * @throws IllegalArgumentException when the tokenizer is not byte-level BPE, is malformed, or its
     *     pre-tokenizer is none that llama.cpp knows (the message lists what it found)
     * @return the metadata, as llama.cpp's converter would write it
     * @throws IOException when a file cannot be read or is not JSON
     */
    public static MetadataMap read(Path tokenizerJson, Path tokenizerConfig) throws IOException {
        JsonNode tokenizer = parse(tokenizerJson);
        JsonNode config = tokenizerConfig == null ? JSON.createObjectNode() : parse(tokenizerConfig);
        return convert(tokenizer, config, tokenizerJson.toString());
    }

    static JsonNode parse(Path file) throws IOException {
        try {
            return JSON.readTree(Files.readString(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    static MetadataMap convert(JsonNode tokenizer, JsonNode config, String where) {
        JsonNode model = tokenizer.path("model");
        if (!model.path("type").asText("").equals("BPE")) {
            throw new IllegalArgumentException(where + ": model type '" + model.path("type").asText("?")
                    + "' is not supported (only byte-level BPE)");
        }
        if (model.path("byte_fallback").asBoolean(false)) {
            return HuggingFaceSpmImport.convert(tokenizer, config, where);
        }
        Map<Integer, String> byId = new HashMap<>();
        model.path("vocab").properties().forEach(e -> byId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, JsonNode> added = new HashMap<>();
        for (JsonNode a : tokenizer.path("added_tokens")) {
            added.put(a.path("id").asInt(), a);
            byId.put(a.path("id").asInt(), a.path("content").asText());
        }
        if (byId.isEmpty()) {
            throw new IllegalArgumentException(where + ": model.vocab is empty");
        }
        int size = byId.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        List<String> tokens = new ArrayList<>(size);
        int[] types = new int[size];
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < size; i++) {
            String text = byId.get(i);
            if (text == null) {
                tokens.add("[PAD" + i + "]");
                types[i] = Vocabulary.TYPE_UNUSED;
                continue;
            }
            JsonNode a = added.get(i);
            types[i] = a == null ? Vocabulary.TYPE_NORMAL
                    : a.path("special").asBoolean(false) || looksSpecial(text) ? Vocabulary.TYPE_CONTROL
                    : Vocabulary.TYPE_USER_DEFINED;
            tokens.add(text);
            ids.putIfAbsent(text, i);
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            // Older files write "a b", newer ones ["a", "b"].
            merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }

        Map<String, Object> out = new LinkedHashMap<>();
        out.put(P + "model", Vocabulary.MODEL_BPE);
        out.put(P + "pre", preTokenizerName(tokenizer.path("pre_tokenizer"), where));
        out.put(P + "tokens", List.copyOf(tokens));
        out.put(P + "token_type", types);
        out.put(P + "merges", List.copyOf(merges));
        for (String kind : List.of("bos", "eos", "unk", "pad")) {
            specialId(config, kind, ids).ifPresent(id -> out.put(P + (kind.equals("unk") ? "unknown" : kind.equals("pad")
                    ? "padding" : kind) + "_token_id", (long) id));
        }
        for (String flag : List.of("add_bos_token", "add_eos_token")) {
            if (config.path(flag).isBoolean()) {
                out.put(P + flag, config.path(flag).asBoolean());
            }
        }
        chatTemplate(config.path("chat_template")).ifPresent(t -> out.put("tokenizer.chat_template", t));
        return new MetadataMap(out);
    }

    /** convert_hf_to_gguf.py's does_token_look_special. */
    static boolean looksSpecial(String text) {
        return text.equals("<pad>") || text.equals("<mask>") || text.equals("<2mass>") || text.equals("[@BOS@]")
                || (text.startsWith("<|") && text.endsWith("|>"))
                || (text.startsWith("<\uFF5C") && text.endsWith("\uFF5C>"))
                || (text.startsWith("<unused") && text.endsWith(">"));
    }

    /** The llama.cpp name of the pre-tokenizer that tokenizer.json defines. */
    static String preTokenizerName(JsonNode preTokenizer, String where) {
        List<String> splits = new ArrayList<>();
        boolean[] byteLevelRegex = {false};
        collect(preTokenizer, splits, byteLevelRegex, where);
        return PreTokenizer.identify(splits, byteLevelRegex[0]).orElseThrow(() -> new IllegalArgumentException(where
                + ": pre-tokenizer not recognised (splits " + splits + ", ByteLevel use_regex " + byteLevelRegex[0]
                + "); known families: gpt-2, starcoder, llama-bpe, qwen2, deepseek-llm, deepseek-coder"));
    }

    private static void collect(JsonNode node, List<String> splits, boolean[] byteLevelRegex, String where) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return;
        }
        switch (node.path("type").asText("")) {
            case "Sequence" -> node.path("pretokenizers").forEach(n -> collect(n, splits, byteLevelRegex, where));
            case "ByteLevel" -> byteLevelRegex[0] = node.path("use_regex").asBoolean(true);
            case "Split" -> {
                JsonNode pattern = node.path("pattern");
                String regex = pattern.has("Regex") ? pattern.path("Regex").asText()
                        : java.util.regex.Pattern.quote(pattern.path("String").asText());
                splits.add(regex);
            }
            case "Digits" -> {
                if (!node.path("individual_digits").asBoolean(false)) {
                    throw new IllegalArgumentException(where + ": Digits pre-tokenizer without individual_digits "
                            + "is not supported");
                }
                splits.add("\\p{N}");
            }
            default -> throw new IllegalArgumentException(where + ": pre-tokenizer type '"
                    + node.path("type").asText("?") + "' is not supported");
        }
    }

    static Optional<Integer> specialId(JsonNode config, String kind, Map<String, Integer> ids) {
        JsonNode token = config.path(kind + "_token");
        String text = token.isTextual() ? token.asText() : token.path("content").asText(null);
        return text == null ? Optional.empty() : Optional.ofNullable(ids.get(text));
    }

    /** A string, or the "default" entry of a list of {name, template}. */
    static Optional<String> chatTemplate(JsonNode node) {
        if (node.isTextual()) {
            return Optional.of(node.asText());
        }
        for (JsonNode named : node) {
            if (named.path("name").asText("").equals("default")) {
                return Optional.of(named.path("template").asText());
            }
        }
        return Optional.empty();
    }
}
