package org.mla4j.gguf;

import java.util.List;

/**
 * Encodes GGUF metadata values (the bytes after the value type tag) with the range checks that keep a value from
 * silently changing when it is narrowed to its declared type.
 *
 * <p>Scalars: integer types take a Byte, Short, Integer or Long whose value fits the type (UINT64 takes any long as
 * its unsigned bit pattern); FLOAT32/FLOAT64 take any Number; BOOL a Boolean; STRING a String.
 *
 * <p>Arrays: a primitive array of the element type's width, taken as raw bit patterns (byte[] for UINT8/INT8,
 * short[] for UINT16/INT16, int[] for UINT32/INT32, long[] for UINT64/INT64, float[], double[], boolean[]), a
 * String[] for STRING, or a List whose elements follow the scalar rules. A byte[] is also taken as the raw
 * little-endian elements of any numeric or bool element type, which is how GgufFile returns such arrays.
 */
final class GgufValueEncoder {
    private GgufValueEncoder() {
    }

    static void scalar(LittleEndianBuilder b, String key, GgufType type, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("key '" + key + "': null value");
        }
        switch (type) {
            case UINT8 -> b.u8((int) integer(key, type, value, 0, 0xFF));
            case INT8 -> b.u8((int) integer(key, type, value, Byte.MIN_VALUE, Byte.MAX_VALUE));
            case UINT16 -> b.u16((int) integer(key, type, value, 0, 0xFFFF));
            case INT16 -> b.u16((int) integer(key, type, value, Short.MIN_VALUE, Short.MAX_VALUE));
            case UINT32 -> b.u32((int) integer(key, type, value, 0, 0xFFFF_FFFFL));
            case INT32 -> b.u32((int) integer(key, type, value, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case UINT64, INT64 -> b.u64(integer(key, type, value, Long.MIN_VALUE, Long.MAX_VALUE));
            case FLOAT32 -> b.f32(number(key, type, value).floatValue());
            case FLOAT64 -> b.f64(number(key, type, value).doubleValue());
            case BOOL -> {
                if (!(value instanceof Boolean flag)) {
                    throw wrongJavaType(key, type, value);
                }
                b.u8(flag ? 1 : 0);
            }
            case STRING -> {
                if (!(value instanceof String s)) {
                    throw wrongJavaType(key, type, value);
                }
                b.string(s);
            }
            case ARRAY -> throw new IllegalArgumentException("key '" + key
                    + "': arrays need an element type; use putArray");
        }
    }

    /** Writes element type, count and elements of an array value. */
    static void array(LittleEndianBuilder b, String key, GgufType elementType, Object values) {
        if (elementType == GgufType.ARRAY) {
            throw new IllegalArgumentException("key '" + key + "': nested arrays are not allowed in GGUF");
        }
        if (values == null) {
            throw new IllegalArgumentException("key '" + key + "': null array");
        }
        b.u32(elementType.id());
        if (values instanceof byte[] raw && elementType != GgufType.STRING) {
            if (raw.length % elementType.size() != 0) {
                throw new IllegalArgumentException("key '" + key + "': " + raw.length
                        + " raw bytes are not a whole number of " + elementType + " elements");
            }
            b.u64(raw.length / elementType.size()).bytes(raw);
            return;
        }
        if (values instanceof List<?> list) {
            b.u64(list.size());
            for (Object v : list) {
                scalar(b, key, elementType, v);
            }
            return;
        }
        switch (elementType) {
            case UINT8, INT8 -> throw new IllegalArgumentException("key '" + key + "': an array of " + elementType
                    + " needs a byte[] or a List, got " + values.getClass().getSimpleName());
            case UINT16, INT16 -> {
                short[] a = (short[]) primitive(key, elementType, values, short[].class);
                b.u64(a.length);
                for (short v : a) {
                    b.u16(v);
                }
            }
            case UINT32, INT32 -> {
                int[] a = (int[]) primitive(key, elementType, values, int[].class);
                b.u64(a.length);
                for (int v : a) {
                    b.u32(v);
                }
            }
            case UINT64, INT64 -> {
                long[] a = (long[]) primitive(key, elementType, values, long[].class);
                b.u64(a.length);
                for (long v : a) {
                    b.u64(v);
                }
            }
            case FLOAT32 -> {
                float[] a = (float[]) primitive(key, elementType, values, float[].class);
                b.u64(a.length);
                for (float v : a) {
                    b.f32(v);
                }
            }
            case FLOAT64 -> {
                double[] a = (double[]) primitive(key, elementType, values, double[].class);
                b.u64(a.length);
                for (double v : a) {
                    b.f64(v);
                }
            }
            case BOOL -> {
                boolean[] a = (boolean[]) primitive(key, elementType, values, boolean[].class);
                b.u64(a.length);
                for (boolean v : a) {
                    b.u8(v ? 1 : 0);
                }
            }
            case STRING -> {
                String[] a = (String[]) primitive(key, elementType, values, String[].class);
                b.u64(a.length);
                for (String s : a) {
                    scalar(b, key, GgufType.STRING, s);
                }
            }
            case ARRAY -> throw new AssertionError("checked above");
        }
    }

    private static Object primitive(String key, GgufType elementType, Object values, Class<?> expected) {
        if (!expected.isInstance(values)) {
            throw new IllegalArgumentException("key '" + key + "': an array of " + elementType + " needs a "
                    + expected.getSimpleName() + " or a List, got " + values.getClass().getSimpleName());
        }
        return values;
    }

    private static long integer(String key, GgufType type, Object value, long min, long max) {
        if (!(value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte)) {
            throw wrongJavaType(key, type, value);
        }
        long v = ((Number) value).longValue();
        if (v < min || v > max) {
            throw new IllegalArgumentException("key '" + key + "': value " + v + " does not fit " + type);
        }
        return v;
    }

    private static Number number(String key, GgufType type, Object value) {
        if (!(value instanceof Number n)) {
            throw wrongJavaType(key, type, value);
        }
        return n;
    }

    private static IllegalArgumentException wrongJavaType(String key, GgufType type, Object value) {
        return new IllegalArgumentException("key '" + key + "': a " + value.getClass().getSimpleName()
                + " cannot be stored as " + type);
    }
}
