package org.mla4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a GGUF vocabulary as Hugging Face {@code tokenizer.json} + {@code tokenizer_config.json}, the inverse of
 * {@link HuggingFaceImport}: byte-level BPE ("gpt2": vocab, merges, the pre-tokenizer of the same family) or
 * SentencePiece ("llama": BPE with byte_fallback and "▁", merges derived from the scores as transformers'
 * SentencePiece converter does it). Reading the files back with HuggingFaceImport gives the same tokens, types,
 * merges and special ids, and a tokenizer that encodes text to the same ids.
 */
public final class HuggingFaceExport {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String P = "tokenizer.ggml.";

    private HuggingFaceExport() {
    }

    /**
     * Writes the tokenizer of GGUF metadata as Hugging Face tokenizer.json and tokenizer_config.json.
     *
     * @param m the metadata ({@code tokenizer.ggml.*})
     * @param where the metadata's file, for messages
     * @param dir the directory to write into
     * @param contextLength written as model_max_length
     * @throws IllegalArgumentException for a tokenizer model other than gpt2 and llama, or a pre-tokenizer with no
     *     Hugging Face equivalent
     * @throws IOException when a file cannot be written
     */
    public static void write(MetadataSource m, String where, long contextLength, Path dir) throws IOException {
        String model = m.getString(P + "model").orElseThrow(() -> new IllegalArgumentException(where
                + ": no tokenizer.ggml.model; a Hugging Face tokenizer cannot be written"));
        List<String> tokens = m.getStringArray(P + "tokens").orElseThrow(() -> new IllegalArgumentException(where
                + ": no tokenizer.ggml.tokens"));
        int[] types = m.getIntArray(P + "token_type").orElseGet(() -> {
            int[] t = new int[tokens.size()];
            Arrays.fill(t, Vocabulary.TYPE_NORMAL);
            return t;
        });
        ObjectNode tok = JSON.createObjectNode();
        ObjectNode config = JSON.createObjectNode();
        tok.put("version", "1.0");
        tok.putNull("truncation");
        tok.putNull("padding");
        boolean spm = model.equals(Vocabulary.MODEL_SPM);
        if (!spm && !model.equals(Vocabulary.MODEL_BPE)) {
            throw new IllegalArgumentException(where + ": tokenizer model '" + model
                    + "' cannot be written as tokenizer.json (gpt2 and llama only)");
        }
        ArrayNode added = tok.putArray("added_tokens");
        ObjectNode vocab = JSON.createObjectNode();
        for (int i = 0; i < tokens.size(); i++) {
            int type = types[i];
            if (!spm && type == Vocabulary.TYPE_UNUSED && tokens.get(i).equals("[PAD" + i + "]")) continue; // a gap
            vocab.put(tokens.get(i), i);
            if (type == Vocabulary.TYPE_CONTROL || type == Vocabulary.TYPE_USER_DEFINED
                    || (spm && type == Vocabulary.TYPE_UNKNOWN)) {
                ObjectNode a = added.addObject();
                a.put("id", i).put("content", tokens.get(i)).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", type == Vocabulary.TYPE_USER_DEFINED)
                        .put("special", type != Vocabulary.TYPE_USER_DEFINED);
            }
        }
        boolean addBos = m.getBoolean(P + "add_bos_token").orElse(spm);
        boolean addEos = m.getBoolean(P + "add_eos_token").orElse(false);
        Optional<String> bos = special(m, "bos", tokens), eos = special(m, "eos", tokens);
        if (spm) {
            spmParts(tok, m, tokens, types);
        } else {
            bpeParts(tok, m, where);
        }
        tok.set("post_processor", postProcessor(addBos ? bos : Optional.empty(), addEos ? eos : Optional.empty(),
                tokens));
        ObjectNode bpe = (ObjectNode) tok.get("model");
        bpe.set("vocab", vocab);
        bpe.set("merges", spm ? spmMerges(m, tokens, types) : bpeMerges(m, where));

        config.put("add_bos_token", addBos);
        config.put("add_eos_token", addEos);
        bos.ifPresent(t -> config.put("bos_token", t));
        eos.ifPresent(t -> config.put("eos_token", t));
        special(m, "unknown", tokens).ifPresent(t -> config.put("unk_token", t));
        special(m, "padding", tokens).ifPresent(t -> config.put("pad_token", t));
        m.getString("tokenizer.chat_template").ifPresent(t -> config.put("chat_template", t));
        config.put("clean_up_tokenization_spaces", false);
        config.put("model_max_length", contextLength);
        config.put("tokenizer_class", spm ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast");
        Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tok));
        Files.writeString(dir.resolve("tokenizer_config.json"), JSON.writeValueAsString(config));
    }

    private static Optional<String> special(MetadataSource m, String kind, List<String> tokens) {
        var id = m.getLong(P + kind + "_token_id");
        return id.isPresent() && id.getAsLong() >= 0 && id.getAsLong() < tokens.size()
                ? Optional.of(tokens.get((int) id.getAsLong())) : Optional.empty();
    }

    /** SentencePiece as transformers' LlamaConverter (legacy) writes it. */
    private static void spmParts(ObjectNode tok, MetadataSource m, List<String> tokens, int[] types) {
        ObjectNode norm = tok.putObject("normalizer");
        norm.put("type", "Sequence");
        ArrayNode steps = norm.putArray("normalizers");
        if (m.getBoolean(P + "add_space_prefix").orElse(true)) {
            steps.addObject().put("type", "Prepend").put("prepend", HuggingFaceSpmImport.SPACE);
        }
        ObjectNode replace = steps.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", HuggingFaceSpmImport.SPACE);
        tok.putNull("pre_tokenizer");
        ObjectNode dec = tok.putObject("decoder").put("type", "Sequence");
        ArrayNode ds = dec.putArray("decoders");
        ObjectNode r = ds.addObject().put("type", "Replace");
        r.putObject("pattern").put("String", HuggingFaceSpmImport.SPACE);
        r.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = tok.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        var unk = m.getLong(P + "unknown_token_id");
        if (unk.isPresent() && unk.getAsLong() >= 0 && unk.getAsLong() < tokens.size()) {
            model.put("unk_token", tokens.get((int) unk.getAsLong()));
        } else {
            model.putNull("unk_token");
        }
        model.putNull("continuing_subword_prefix").putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true).put("ignore_merges", false);
    }

    /**
     * transformers' SentencePieceExtractor: for every piece, each split into two pieces of the vocabulary (ordered
     * by their ids), all ordered by the merged piece's score, highest first (a stable sort, so ties keep id order).
     */
    private static ArrayNode spmMerges(MetadataSource m, List<String> tokens, int[] types) {
        float[] scores = m.getFloatArray(P + "scores").orElse(new float[tokens.size()]);
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.size(); i++) ids.putIfAbsent(tokens.get(i), i);
        record Merge(int left, int right, float score) {}
        List<Merge> merges = new ArrayList<>();
        for (int t = 0; t < tokens.size(); t++) {
            String s = tokens.get(t);
            List<Merge> local = new ArrayList<>();
            for (int i = s.isEmpty() ? 0 : s.offsetByCodePoints(0, 1); i > 0 && i < s.length();
                    i = s.offsetByCodePoints(i, 1)) {
                Integer a = ids.get(s.substring(0, i)), b = ids.get(s.substring(i));
                if (a != null && b != null) local.add(new Merge(a, b, scores[t]));
            }
            local.sort(Comparator.comparingInt(Merge::left).thenComparingInt(Merge::right));
            merges.addAll(local);
        }
        merges.sort(Comparator.comparingDouble((Merge x) -> x.score).reversed());
        ArrayNode out = JSON.createArrayNode();
        for (Merge x : merges) out.addArray().add(tokens.get(x.left)).add(tokens.get(x.right));
        return out;
    }

    private static void bpeParts(ObjectNode tok, MetadataSource m, String where) {
        String pre = m.getString(P + "pre").orElse("default");
        Map.Entry<List<String>, Boolean> def = PreTokenizer.hfDefinition(pre).orElseThrow(() ->
                new IllegalArgumentException(where + ": pre-tokenizer '" + pre + "' has no Hugging Face equivalent "
                        + "mla4j can write (gpt-2, starcoder, llama-bpe, qwen2, deepseek-llm, deepseek-coder families)"));
        tok.putNull("normalizer");
        ObjectNode seq = tok.putObject("pre_tokenizer").put("type", "Sequence");
        ArrayNode steps = seq.putArray("pretokenizers");
        for (String regex : def.getKey()) {
            if (regex.equals("\\p{N}")) {
                steps.addObject().put("type", "Digits").put("individual_digits", true);
            } else {
                ObjectNode split = steps.addObject().put("type", "Split");
                split.putObject("pattern").put("Regex", regex);
                split.put("behavior", "Isolated").put("invert", false);
            }
        }
        steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", def.getValue());
        tok.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = tok.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix");
        model.put("fuse_unk", false).put("byte_fallback", false)
                .put("ignore_merges", PreTokenizer.forName(pre).ignoreMerges());
    }

    private static ArrayNode bpeMerges(MetadataSource m, String where) {
        ArrayNode out = JSON.createArrayNode();
        for (String merge : m.getStringArray(P + "merges").orElseThrow(() -> new IllegalArgumentException(where
                + ": a gpt2 tokenizer without tokenizer.ggml.merges"))) {
            int sp = merge.indexOf(' ', 1);
            if (sp < 0) throw new IllegalArgumentException(where + ": merge '" + merge + "' has no space");
            out.addArray().add(merge.substring(0, sp)).add(merge.substring(sp + 1));
        }
        return out;
    }

    /** TemplateProcessing that adds bos and/or eos, as transformers' converters write it. */
    private static ObjectNode postProcessor(Optional<String> bos, Optional<String> eos, List<String> tokens) {
        ObjectNode p = JSON.createObjectNode().put("type", "TemplateProcessing");
        ObjectNode specials = JSON.createObjectNode();
        for (String field : List.of("single", "pair")) {
            ArrayNode a = p.putArray(field);
            for (String seq : field.equals("single") ? List.of("A") : List.of("A", "B")) {
                bos.ifPresent(t -> a.addObject().putObject("SpecialToken").put("id", t).put("type_id", 0));
                a.addObject().putObject("Sequence").put("id", seq).put("type_id", seq.equals("A") ? 0 : 1);
                eos.ifPresent(t -> a.addObject().putObject("SpecialToken").put("id", t).put("type_id", 0));
            }
        }
        for (Optional<String> t : List.of(bos, eos)) {
            t.ifPresent(text -> {
                ObjectNode e = specials.putObject(text).put("id", text);
                e.putArray("ids").add(tokens.indexOf(text));
                e.putArray("tokens").add(text);
            });
        }
        p.set("special_tokens", specials);
        return p;
    }
}
