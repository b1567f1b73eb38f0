package org.mla4j.tokenizer;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Read access to GGUF-style key/value metadata, as much as {@link Vocabulary#fromMetadata} needs.
 * Each method returns empty when the key is absent (or holds a value of another type).
 */
public interface MetadataSource {
    Optional<String> getString(String key);

    /** {@return any integer-typed value, widened to long (unsigned 32-bit values stay non-negative)} */
    OptionalLong getLong(String key);

    Optional<Boolean> getBoolean(String key);

    Optional<List<String>> getStringArray(String key);

    Optional<float[]> getFloatArray(String key);

    Optional<int[]> getIntArray(String key);
}
