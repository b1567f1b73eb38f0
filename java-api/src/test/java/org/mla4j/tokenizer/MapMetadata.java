package org.mla4j.tokenizer;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** MetadataSource over a map, for tests; a value of another type reads as absent, as the interface specifies. */
final class MapMetadata implements MetadataSource {
    private final Map<String, Object> values = new HashMap<>();

    MapMetadata put(String key, Object value) {
        values.put(key, value);
        return this;
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
        return get(key, float[].class);
    }

    @Override
    public Optional<int[]> getIntArray(String key) {
        return get(key, int[].class);
    }
}
