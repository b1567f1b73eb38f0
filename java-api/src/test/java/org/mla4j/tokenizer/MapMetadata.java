package org.mla4j.tokenizer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/** A fluent builder of {@link MetadataMap} for tests: {@code new MapMetadata().put(k, v).put(...)}. */
final class MapMetadata implements MetadataSource {
    private final Map<String, Object> values = new LinkedHashMap<>();

    MapMetadata put(String key, Object value) {
        values.put(key, value);
        return this;
    }

    private MetadataMap view() {
        return new MetadataMap(values);
    }

    @Override
    public Optional<String> getString(String key) {
        return view().getString(key);
    }

    @Override
    public OptionalLong getLong(String key) {
        return view().getLong(key);
    }

    @Override
    public Optional<Boolean> getBoolean(String key) {
        return view().getBoolean(key);
    }

    @Override
    public Optional<List<String>> getStringArray(String key) {
        return view().getStringArray(key);
    }

    @Override
    public Optional<float[]> getFloatArray(String key) {
        return view().getFloatArray(key);
    }

    @Override
    public Optional<int[]> getIntArray(String key) {
        return view().getIntArray(key);
    }
}
