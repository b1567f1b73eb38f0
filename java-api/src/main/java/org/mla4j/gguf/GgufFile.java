package org.mla4j.gguf;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import org.mla4j.NativeLibrary;
import org.mla4j.bindings.Mla4jNative;
import org.mla4j.bindings.mla4j_tensor_info;
import org.mla4j.internal.Status;
import org.mla4j.internal.UseGuard;
import org.mla4j.tokenizer.MetadataSource;

/**
 * A GGUF file opened by the native reader: metadata and tensor infos, validated on open, with the tensor data
 * memory-mapped. Instances are immutable and may be shared by threads. Close releases the mapping once the calls in
 * progress on other threads have returned; afterwards every call throws {@link IllegalStateException}, and so does
 * any access to a tensor segment obtained before (they belong to this file's arena), instead of reading unmapped
 * memory.
 */
public final class GgufFile implements AutoCloseable, MetadataSource {

    private final Path path;
    private final MemorySegment handle;
    private final boolean owned;
    private final Map<String, Integer> keyIndex;
    private final List<GgufTensorInfo> tensors;
    private final Map<String, GgufTensorInfo> tensorsByName;
    private final int version;
    private final long alignment;
    private final long dataOffset;
    private final long fileSize;
    private final UseGuard guard;
    /** Segments handed out (tensor data, arrays) live in this arena, closed with the file. */
    private final Arena scope = Arena.ofShared();

    private GgufFile(Path path, MemorySegment handle, boolean owned) {
        this.path = path;
        this.handle = handle;
        this.owned = owned;
        this.guard = new UseGuard(() -> path + ": the GGUF file is closed");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment u32 = a.allocate(JAVA_INT);
            MemorySegment u64 = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_get_version(handle, u32));
            version = u32.get(JAVA_INT, 0);
            Status.check(Mla4jNative.mla4j_gguf_get_alignment(handle, u64));
            alignment = u64.get(JAVA_LONG, 0);
            Status.check(Mla4jNative.mla4j_gguf_get_data_offset(handle, u64));
            dataOffset = u64.get(JAVA_LONG, 0);
            Status.check(Mla4jNative.mla4j_gguf_get_file_size(handle, u64));
            fileSize = u64.get(JAVA_LONG, 0);

            Status.check(Mla4jNative.mla4j_gguf_kv_count(handle, u64));
            long nKv = u64.get(JAVA_LONG, 0);
            MemorySegment ptr = a.allocate(ADDRESS);
            Map<String, Integer> keys = new LinkedHashMap<>();
            for (int i = 0; i < nKv; i++) {
                Status.check(Mla4jNative.mla4j_gguf_kv_key(handle, i, ptr));
                keys.put(cString(ptr.get(ADDRESS, 0)), i);
            }
            keyIndex = Collections.unmodifiableMap(keys);

            Status.check(Mla4jNative.mla4j_gguf_tensor_count(handle, u64));
            long nTensors = u64.get(JAVA_LONG, 0);
            MemorySegment info = mla4j_tensor_info.allocate(a);
            List<GgufTensorInfo> list = new ArrayList<>();
            Map<String, GgufTensorInfo> byName = new LinkedHashMap<>();
            for (int i = 0; i < nTensors; i++) {
                Status.check(Mla4jNative.mla4j_gguf_tensor_get_info(handle, i, info));
                int nDims = Math.max(1, mla4j_tensor_info.n_dims(info));
                long[] shape = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    shape[d] = mla4j_tensor_info.ne(info, d);
                }
                GgufTensorInfo t = new GgufTensorInfo(cString(mla4j_tensor_info.name(info)),
                        GgmlType.fromId(mla4j_tensor_info.type(info)), shape, mla4j_tensor_info.offset(info),
                        mla4j_tensor_info.nbytes(info));
                list.add(t);
                byName.put(t.name(), t);
            }
            tensors = Collections.unmodifiableList(list);
            tensorsByName = Collections.unmodifiableMap(byName);
        }
    }

    /**
     * Opens and validates a GGUF file; a malformed file throws {@link org.mla4j.Mla4jException} naming the problem.
     *
     * @param path the file
     * @return the open file, to be closed by the caller
     */
    public static GgufFile open(Path path) {
        NativeLibrary.load();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            Status.check(Mla4jNative.mla4j_gguf_open(a.allocateFrom(path.toString()), out));
            MemorySegment handle = out.get(ADDRESS, 0);
            try {
                return new GgufFile(path, handle, true);
            } catch (RuntimeException e) {
                Mla4jNative.mla4j_gguf_free(handle);
                throw e;
            }
        }
    }

    /**
     * {@return a view of a handle owned by someone else (a model); closing the view does not free it}
     *
     * @param path the file's path (for messages)
     * @param handle the native mla4j_gguf handle
     */
    public static GgufFile borrow(Path path, MemorySegment handle) {
        return new GgufFile(path, handle, false);
    }

    /** {@return the file's path} */
    public Path path() {
        return path;
    }

    /** {@return the GGUF version (2 or 3)} */
    public int version() {
        return version;
    }

    /** {@return the tensor data alignment (general.alignment, default 32)} */
    public long alignment() {
        return alignment;
    }

    /** {@return offset of the tensor data section from the start of the file} */
    public long dataOffset() {
        return dataOffset;
    }

    /** {@return the file's size in bytes} */
    public long fileSize() {
        return fileSize;
    }

    /** {@return metadata keys in file order} */
    public List<String> keys() {
        return List.copyOf(keyIndex.keySet());
    }

    /**
     * {@return whether the metadata has this key}
     *
     * @param key the key
     */
    public boolean contains(String key) {
        return keyIndex.containsKey(key);
    }

    /**
     * {@return the value type of a key (ARRAY for arrays), or empty when absent}
     *
     * @param key the key
     */
    public Optional<GgufType> type(String key) {
        Integer i = keyIndex.get(key);
        return i == null ? Optional.empty() : Optional.of(typeOf(i)[0]);
    }

    /**
     * {@return the element type of an array key, or empty when absent or not an array}
     *
     * @param key the key
     */
    public Optional<GgufType> arrayElementType(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) return Optional.empty();
        GgufType[] t = typeOf(i);
        return Optional.ofNullable(t[1]);
    }

    @Override
    public Optional<String> getString(String key) {
        Integer i = index(key, GgufType.STRING);
        if (i == null) return Optional.empty();
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocate(ADDRESS);
            MemorySegment len = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_kv_get_string(handle, i, data, len), path.toString());
            return Optional.of(utf8(data.get(ADDRESS, 0), len.get(JAVA_LONG, 0)));
        }
    }

    /** Any integer (or bool) scalar; UINT64 values above Long.MAX_VALUE come back negative (bit pattern). */
    @Override
    public OptionalLong getLong(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) return OptionalLong.empty();
        GgufType t = typeOf(i)[0];
        if (!t.isInteger() && t != GgufType.BOOL) throw wrongType(key, t, "an integer");
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_kv_get_int(handle, i, out), path.toString());
            return OptionalLong.of(out.get(JAVA_LONG, 0));
        }
    }

    /**
     * {@return a FLOAT32 or FLOAT64 scalar}
     *
     * @param key the key
     */
    public Optional<Double> getDouble(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) return Optional.empty();
        GgufType t = typeOf(i)[0];
        if (t != GgufType.FLOAT32 && t != GgufType.FLOAT64) throw wrongType(key, t, "a float");
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_DOUBLE);
            Status.check(Mla4jNative.mla4j_gguf_kv_get_float(handle, i, out), path.toString());
            return Optional.of(out.get(JAVA_DOUBLE, 0));
        }
    }

    @Override
    public Optional<Boolean> getBoolean(String key) {
        Integer i = index(key, GgufType.BOOL);
        return i == null ? Optional.empty() : Optional.of(getLong(key).getAsLong() != 0);
    }

    @Override
    public Optional<List<String>> getStringArray(String key) {
        Integer i = arrayIndex(key, GgufType.STRING);
        if (i == null) return Optional.empty();
        long count = count(i);
        List<String> out = new ArrayList<>((int) Math.min(count, Integer.MAX_VALUE));
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocate(ADDRESS);
            MemorySegment len = a.allocate(JAVA_LONG);
            for (long j = 0; j < count; j++) {
                Status.check(Mla4jNative.mla4j_gguf_kv_get_array_string(handle, i, j, data, len), path.toString());
                out.add(utf8(data.get(ADDRESS, 0), len.get(JAVA_LONG, 0)));
            }
        }
        return Optional.of(Collections.unmodifiableList(out));
    }

    @Override
    public Optional<float[]> getFloatArray(String key) {
        Integer i = arrayIndex(key, GgufType.FLOAT32);
        if (i == null) return Optional.empty();
        MemorySegment raw = arrayData(i);
        float[] out = new float[(int) (raw.byteSize() / 4)];
        MemorySegment.copy(raw, JAVA_FLOAT_UNALIGNED, 0, out, 0, out.length);
        return Optional.of(out);
    }

    /** An array of INT32 or UINT32 (UINT32 values above Integer.MAX_VALUE come back negative). */
    @Override
    public Optional<int[]> getIntArray(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) return Optional.empty();
        GgufType[] t = typeOf(i);
        if (t[0] != GgufType.ARRAY || (t[1] != GgufType.INT32 && t[1] != GgufType.UINT32)) {
            throw wrongType(key, t[0], "an array of 32-bit integers");
        }
        MemorySegment raw = arrayData(i);
        int[] out = new int[(int) (raw.byteSize() / 4)];
        MemorySegment.copy(raw, JAVA_INT_UNALIGNED, 0, out, 0, out.length);
        return Optional.of(out);
    }

    /**
     * {@return the raw little-endian bytes of a numeric or bool array}
     *
     * @param key the key
     */
    public Optional<byte[]> getArrayBytes(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) return Optional.empty();
        GgufType[] t = typeOf(i);
        if (t[0] != GgufType.ARRAY || t[1] == GgufType.STRING) throw wrongType(key, t[0], "an array of numbers");
        return Optional.of(arrayData(i).toArray(JAVA_BYTE));
    }

    /**
     * The value of a key as a Java object: String, Long (integers), Double (floats), Boolean, List&lt;String&gt;,
     * float[], int[], or byte[] (raw little-endian bytes of other numeric arrays).
     *
     * @param key the key (it must exist)
     * @return the value
     */
    public Object getValue(String key) {
        GgufType[] t = typeOf(requireIndex(key));
        return switch (t[0]) {
            case STRING -> getString(key).orElseThrow();
            case BOOL -> getBoolean(key).orElseThrow();
            case FLOAT32, FLOAT64 -> getDouble(key).orElseThrow();
            case ARRAY -> switch (t[1]) {
                case STRING -> getStringArray(key).orElseThrow();
                case FLOAT32 -> getFloatArray(key).orElseThrow();
                case INT32, UINT32 -> getIntArray(key).orElseThrow();
                default -> getArrayBytes(key).orElseThrow();
            };
            default -> getLong(key).orElseThrow();
        };
    }

    /**
     * {@return number of elements of an array key (1 for scalars)}
     *
     * @param key the key (it must exist)
     */
    public long arrayLength(String key) {
        return count(requireIndex(key));
    }

    /** {@return the tensors, in file order} */
    public List<GgufTensorInfo> tensors() {
        return tensors;
    }

    /**
     * {@return the tensor of that name, or empty}
     *
     * @param name the tensor's name
     */
    public Optional<GgufTensorInfo> tensor(String name) {
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /**
     * {@return the bytes of a tensor, read-only, valid until this file (or the model owning it) is closed}
     *
     * @param t one of this file's tensors
     */
    public MemorySegment tensorData(GgufTensorInfo t) {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment idx = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_tensor_find(handle, a.allocateFrom(t.name()), idx));
            long i = idx.get(JAVA_LONG, 0);
            if (i < 0) throw new IllegalArgumentException(path + ": no tensor named '" + t.name() + "'");
            MemorySegment info = mla4j_tensor_info.allocate(a);
            Status.check(Mla4jNative.mla4j_gguf_tensor_get_info(handle, i, info));
            return mla4j_tensor_info.data(info).reinterpret(mla4j_tensor_info.nbytes(info), scope, null).asReadOnly();
        }
    }

    /** {@return whether {@link #close()} has been called} */
    public boolean isClosed() {
        return guard.isClosed();
    }

    /** Waits for calls in progress on other threads, then releases the file. Closing twice is harmless. */
    @Override
    public void close() {
        guard.close(() -> {
            try {
                scope.close();
            } catch (IllegalStateException e) {
                // A segment of this file is passed to a native call right now (by the application): keep the
                // memory mapped rather than unmap it under that call.
                return;
            }
            if (owned) Mla4jNative.mla4j_gguf_free(handle);
        });
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + keyIndex.size() + " keys, " + tensors.size() + " tensors]";
    }

    // ---------------------------------------------------------------------------------------------------------

    private int requireIndex(String key) {
        Integer i = keyIndex.get(key);
        if (i == null) throw new IllegalArgumentException(path + ": no key '" + key + "'");
        return i;
    }

    /** Index of key when present and of the given scalar type; null when absent. */
    private Integer index(String key, GgufType want) {
        Integer i = keyIndex.get(key);
        if (i == null) return null;
        GgufType t = typeOf(i)[0];
        if (t != want) throw wrongType(key, t, want.name());
        return i;
    }

    private Integer arrayIndex(String key, GgufType elem) {
        Integer i = keyIndex.get(key);
        if (i == null) return null;
        GgufType[] t = typeOf(i);
        if (t[0] != GgufType.ARRAY || t[1] != elem) throw wrongType(key, t[0], "an array of " + elem);
        return i;
    }

    private GgufType[] typeOf(int i) {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment type = a.allocate(JAVA_INT);
            MemorySegment elem = a.allocate(JAVA_INT);
            Status.check(Mla4jNative.mla4j_gguf_kv_type(handle, i, type, elem, MemorySegment.NULL));
            int e = elem.get(JAVA_INT, 0);
            return new GgufType[] {GgufType.fromId(type.get(JAVA_INT, 0)), e < 0 ? null : GgufType.fromId(e)};
        }
    }

    private long count(int i) {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_kv_type(handle, i, MemorySegment.NULL, MemorySegment.NULL, count));
            return count.get(JAVA_LONG, 0);
        }
    }

    /** The raw elements of array i, as a segment of this file's arena (reads after close throw). */
    private MemorySegment arrayData(int i) {
        try (UseGuard.Use u = guard.enter(); Arena a = Arena.ofConfined()) {
            MemorySegment data = a.allocate(ADDRESS);
            MemorySegment len = a.allocate(JAVA_LONG);
            Status.check(Mla4jNative.mla4j_gguf_kv_get_array_data(handle, i, data, len), path.toString());
            return data.get(ADDRESS, 0).reinterpret(len.get(JAVA_LONG, 0), scope, null);
        }
    }

    private IllegalArgumentException wrongType(String key, GgufType actual, String wanted) {
        return new IllegalArgumentException(path + ": key '" + key + "' is " + actual + ", not " + wanted);
    }

    static String cString(MemorySegment p) {
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    static String utf8(MemorySegment p, long len) {
        if (len == 0) return "";
        if (len > Integer.MAX_VALUE) throw new IllegalArgumentException("string of " + len + " bytes is too long");
        return new String(p.reinterpret(len).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
    }
}
