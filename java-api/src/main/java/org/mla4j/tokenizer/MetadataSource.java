package org.mla4j.tokenizer;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Read access to GGUF-style key/value metadata, as much as {@link Vocabulary#fromMetadata} needs.
 * Each method returns empty when the key is absent (or holds a value of another type).
 */
public interface MetadataSource {
    /**
     * {@return a string value}
     *
     * @param key the key
     */
    Optional<String> getString(String key);

    /**
     * {@return any integer-typed value, widened to long (unsigned 32-bit values stay non-negative)}
     *
     * @param key the key
     */
    OptionalLong getLong(String key);

    /**
     * {@return a boolean value}
     *
     * @param key the key
     */
    Optional<Boolean> getBoolean(String key);

    /**
     * {@return an array of strings}
     *
     * @param key the key
     */
    Optional<List<String>> getStringArray(String key);

    /**
     * {@return an array of FLOAT32}
     *
     * @param key the key
     */
    Optional<float[]> getFloatArray(String key);

    /**
     * {@return an array of INT32 or UINT32}
     *
     * @param key the key
     */
    Optional<int[]> getIntArray(String key);

}
