package org.mla4j.hf;

import java.util.Optional;

import org.mla4j.gguf.GgmlType;

/** The safetensors element types mla4j reads and writes, with the ggml type of the same byte layout. */
public enum SafetensorsDtype {
    /** 32-bit IEEE float. */
    F32(4, GgmlType.F32),
    /** 16-bit IEEE float. */
    F16(2, GgmlType.F16),
    /** bfloat16. */
    BF16(2, GgmlType.BF16);

    /** Every dtype name the safetensors format defines, so that a known but unsupported one gets its own message. */
    static final java.util.Set<String> KNOWN = java.util.Set.of("BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16",
            "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
            "C64");

    private final int size;
    private final GgmlType ggml;

    SafetensorsDtype(int size, GgmlType ggml) {
        this.size = size;
        this.ggml = ggml;
    }

    /** {@return bytes per element} */
    public int size() {
        return size;
    }

    /** {@return the ggml type whose bytes are the same (little-endian IEEE binary32/binary16, bfloat16)} */
    public GgmlType ggml() {
        return ggml;
    }

    static Optional<SafetensorsDtype> named(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) return Optional.of(d);
        }
        return Optional.empty();
    }

    /**
     * {@return the dtype of a ggml float type}
     *
     * @param t F32, F16 or BF16
     */
    public static SafetensorsDtype of(GgmlType t) {
        return switch (t) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            default -> throw new IllegalArgumentException("safetensors output is F32, F16 or BF16, not " + t);
        };
    }
}
