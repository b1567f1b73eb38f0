package org.mla4j.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Hugging Face model directory: {@code config.json}, the weights ({@code model.safetensors}, or the shards named
 * by {@code model.safetensors.index.json}), and the tokenizer files. Every shard is mapped and validated on open,
 * and every tensor the index names must be in its shard. Tensor data stay views of the mappings until close.
 */
public final class HfModelDir implements AutoCloseable {
    /** The model configuration's file name. */
    public static final String CONFIG = "config.json";
    /** The weights' file name when they are in one file. */
    public static final String SINGLE = "model.safetensors";
    /** The index of sharded weights. */
    public static final String INDEX = "model.safetensors.index.json";
    /** The tokenizer's file name. */
    public static final String TOKENIZER = "tokenizer.json";
    /** The tokenizer configuration's file name. */
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final HfConfig config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile.Tensor> tensors;

    private HfModelDir(Path dir, HfConfig config, List<SafetensorsFile> files, Map<String, SafetensorsFile.Tensor> tensors) {
        this.dir = dir;
        this.config = config;
        this.files = files;
        this.tensors = tensors;
    }

    /**
     * {@return whether {@code path} is a directory holding a config.json (what {@code Model.load} takes for a HF model)}
     *
     * @param path any path
     */
    public static boolean isModelDir(Path path) {

        return Files.isDirectory(path) && Files.isRegularFile(path.resolve(CONFIG));
    }

    /**
     * Opens a model directory: reads config.json and maps and validates every safetensors file.
     *
     * @param dir the directory
     * @return the open directory, to be closed by the caller
     * @throws IOException when a file cannot be read
     */
    public static HfModelDir open(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a directory");
        Path configFile = dir.resolve(CONFIG);
        if (!Files.isRegularFile(configFile)) throw new IllegalArgumentException(dir + ": no " + CONFIG);
        HfConfig config = HfConfig.read(configFile);
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile.Tensor> tensors = new LinkedHashMap<>();
        try {
            Path index = dir.resolve(INDEX);
            if (Files.isRegularFile(index)) {
                readSharded(dir, index, files, tensors);
            } else if (Files.isRegularFile(dir.resolve(SINGLE))) {
                SafetensorsFile f = SafetensorsFile.open(dir.resolve(SINGLE));
                files.add(f);
                for (String n : f.names()) tensors.put(n, f.tensor(n).orElseThrow());
            } else {
                throw new IllegalArgumentException(dir + ": no " + SINGLE + " or " + INDEX
                        + " (only safetensors weights are read)");
            }
        } catch (IOException | RuntimeException | Error e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new HfModelDir(dir, config, List.copyOf(files), Collections.unmodifiableMap(tensors));
    }

    private static void readSharded(Path dir, Path index, List<SafetensorsFile> files,
            Map<String, SafetensorsFile.Tensor> tensors) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(index));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new IllegalArgumentException(index + ": no weight_map object");
        }
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) map.properties()::iterator) {
            String shard = e.getValue().asText("");
            if (!e.getValue().isTextual() || shard.isEmpty() || shard.contains("/") || shard.contains("\\")
                    || shard.equals("..") || shard.equals(".")) {
                throw new IllegalArgumentException(index + ": tensor '" + e.getKey() + "' maps to '" + e.getValue()
                        + "', not a file name in the directory");
            }
            SafetensorsFile f = shards.get(shard);
            if (f == null) {
                Path p = dir.resolve(shard);
                if (!Files.isRegularFile(p)) {
                    throw new IllegalArgumentException(index + ": shard '" + shard + "' (of tensor '" + e.getKey()
                            + "') does not exist");
                }
                f = SafetensorsFile.open(p);
                files.add(f);
                shards.put(shard, f);
            }
            SafetensorsFile owner = f;
            tensors.put(e.getKey(), f.tensor(e.getKey()).orElseThrow(() -> new IllegalArgumentException(index
                    + ": tensor '" + e.getKey() + "' is not in its shard " + owner.path())));
        }
    }

    /** {@return the directory} */
    public Path dir() {
        return dir;
    }

    /** {@return the parsed config.json} */
    public HfConfig config() {
        return config;
    }

    /** {@return tensor names: the weight_map's, or the single file's header order} */
    public List<String> tensorNames() {
        return List.copyOf(tensors.keySet());
    }

    /**
     * {@return the tensor of that name, or empty}
     *
     * @param name the tensor's name
     */
    public Optional<SafetensorsFile.Tensor> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** {@return tokenizer.json, when present} */
    public Optional<Path> tokenizerJson() {
        Path p = dir.resolve(TOKENIZER);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** {@return tokenizer_config.json, when present} */
    public Optional<Path> tokenizerConfig() {
        Path p = dir.resolve(TOKENIZER_CONFIG);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
