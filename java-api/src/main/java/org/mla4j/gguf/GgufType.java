package org.mla4j.gguf;

/** GGUF metadata value types, by their on-disk ids. */
public enum GgufType {
    /** Unsigned 8-bit integer. */
    UINT8(0, 1),
    /** Signed 8-bit integer. */
    INT8(1, 1),
    /** Unsigned 16-bit integer. */
    UINT16(2, 2),
    /** Signed 16-bit integer. */
    INT16(3, 2),
    /** Unsigned 32-bit integer. */
    UINT32(4, 4),
    /** Signed 32-bit integer. */
    INT32(5, 4),
    /** 32-bit IEEE float. */
    FLOAT32(6, 4),
    /** Boolean (one byte, 0 or 1). */
    BOOL(7, 1),
    /** UTF-8 string with a 64-bit length. */
    STRING(8, -1),
    /** Array of values of one other type. */
    ARRAY(9, -1),
    /** Unsigned 64-bit integer. */
    UINT64(10, 8),
    /** Signed 64-bit integer. */
    INT64(11, 8),
    /** 64-bit IEEE float. */
    FLOAT64(12, 8);

    private final int id;
    private final int size;

    GgufType(int id, int size) {
        this.id = id;
        this.size = size;
    }

    /** {@return the type's id in the file} */
    public int id() {
        return id;
    }

    /** {@return size in bytes of one value, or -1 for STRING and ARRAY} */
    public int size() {
        return size;
    }

    /** {@return whether this is one of the integer types} */
    public boolean isInteger() {
        return this == UINT8 || this == INT8 || this == UINT16 || this == INT16 || this == UINT32 || this == INT32
                || this == UINT64 || this == INT64;
    }

    /**
     * {@return the type with this id}
     *
     * @param id the id in the file
     * @throws IllegalArgumentException for an unknown id
     */
    public static GgufType fromId(int id) {
        for (GgufType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown GGUF value type id " + id);
    }
}
