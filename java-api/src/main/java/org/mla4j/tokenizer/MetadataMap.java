package org.mla4j.tokenizer;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * GGUF-style metadata held in memory, in insertion order: String, Boolean, Long (any integer), float[], int[]
 * and List&lt;String&gt; values. What {@link HuggingFaceImport} produces, readable by {@link Vocabulary#fromMetadata}.
 */
public final class MetadataMap implements MetadataSource {
    private final Map<String, Object> values;

    /**
     * A copy of the values.
     *
     * @param values the metadata by key
     */
    public MetadataMap(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** {@return the keys and values, in order} */
    public Map<String, Object> asMap() {
        return values;
    }

    private <T> Optional<T> get(String key, Class<T> type) {
        Object value = values.get(key);
        return type.isInstance(value) ? Optional.of(type.cast(value)) : Optional.empty();
    }

    @Override
    public Optional<String> getString(String key) {
        return get(key, String.class);
    }

    @Override
    public OptionalLong getLong(String key) {
        return get(key, Long.class).map(OptionalLong::of).orElse(OptionalLong.empty());
    }

    @Override
    public Optional<Boolean> getBoolean(String key) {
        return get(key, Boolean.class);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Optional<List<String>> getStringArray(String key) {
        return get(key, List.class).map(list -> (List<String>) list);
    }

    @Override
    public Optional<float[]> getFloatArray(String key) {
        return get(key, float[].class).map(float[]::clone);
    }

    @Override
    public Optional<int[]> getIntArray(String key) {
        return get(key, int[].class).map(int[]::clone);
    }
}
