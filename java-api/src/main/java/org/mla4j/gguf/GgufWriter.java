package org.mla4j.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a GGUF v3 file (layout in shared/docs/formats.md).
 *
 * <p>Metadata and tensor descriptions are collected first; {@link #commit()} then writes the header and asks each
 * {@link TensorSource} for its bytes in the order the tensors were added, so tensor data stream to disk one tensor
 * at a time. The file is written to a temporary file next to the target, synced and renamed over the target, so the
 * target is either the complete new file or untouched. {@link #close()} without a successful commit leaves the
 * target as it was.
 *
 * <pre>{@code
 * try (GgufWriter w = GgufWriter.create(path)) {
 *     w.putString("general.architecture", "llama");
 *     w.addTensor("token_embd.weight", GgmlType.F32, new long[] {64, 512}, source);
 *     w.commit();
 * }
 * }</pre>
 */
public final class GgufWriter implements AutoCloseable {
    private static final int VERSION = 3;
    private static final int DEFAULT_ALIGNMENT = 32;
    /** GGML_MAX_NAME: llama.cpp rejects tensor names of this many bytes or more. */
    private static final int MAX_NAME_BYTES = 64;
    private static final int MAX_DIMS = 4;
    static final String ALIGNMENT_KEY = "general.alignment";

    private record Tensor(String name, byte[] nameUtf8, GgmlType type, long[] shape, long byteSize,
            TensorSource source) {
    }

    private final Path target;
    /** Each key's type tag and value, already encoded. */
    private final Map<String, byte[]> metadata = new LinkedHashMap<>();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private int alignment = DEFAULT_ALIGNMENT;
    private Path temp;
    private boolean finished;

    private GgufWriter(Path target) {
        this.target = target;
    }

    /**
     * {@return a writer for {@code target}; nothing is written before {@link #commit()}}
     *
     * @param target the file to write (replaced only by a complete file)
     */
    public static GgufWriter create(Path target) {
        Objects.requireNonNull(target, "target");
        return new GgufWriter(target.toAbsolutePath());
    }

    // ---- metadata ------------------------------------------------------------------------------------------

    /**
     * Puts an UINT8 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value, in [0, 255]
     * @return this writer
     */
    public GgufWriter putUInt8(String key, int value) {
        return putValue(key, GgufType.UINT8, value);
    }

    /**
     * Puts an INT8 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value, in [-128, 127]
     * @return this writer
     */
    public GgufWriter putInt8(String key, int value) {
        return putValue(key, GgufType.INT8, value);
    }

    /**
     * Puts an UINT16 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value, in [0, 65535]
     * @return this writer
     */
    public GgufWriter putUInt16(String key, int value) {
        return putValue(key, GgufType.UINT16, value);
    }

    /**
     * Puts an INT16 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value, in [-32768, 32767]
     * @return this writer
     */
    public GgufWriter putInt16(String key, int value) {
        return putValue(key, GgufType.INT16, value);
    }

    /**
     * Puts an UINT32 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value, in [0, 2^32)
     * @return this writer
     */
    public GgufWriter putUInt32(String key, long value) {
        return putValue(key, GgufType.UINT32, value);
    }

    /**
     * Puts an INT32 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     */
    public GgufWriter putInt32(String key, int value) {
        return putValue(key, GgufType.INT32, value);
    }

    /**
     * Puts an UINT64 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value as its unsigned bit pattern
     * @return this writer
     */
    public GgufWriter putUInt64(String key, long value) {
        return putValue(key, GgufType.UINT64, value);
    }

    /**
     * Puts an INT64 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     */
    public GgufWriter putInt64(String key, long value) {
        return putValue(key, GgufType.INT64, value);
    }

    /**
     * Puts a FLOAT32 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     */
    public GgufWriter putFloat32(String key, float value) {
        return putValue(key, GgufType.FLOAT32, value);
    }

    /**
     * Puts a FLOAT64 value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     */
    public GgufWriter putFloat64(String key, double value) {
        return putValue(key, GgufType.FLOAT64, value);
    }

    /**
     * Puts a BOOL value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value
     * @return this writer
     */
    public GgufWriter putBool(String key, boolean value) {
        return putValue(key, GgufType.BOOL, value);
    }

    /**
     * Puts a STRING value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param value the value (UTF-8 in the file)
     * @return this writer
     */
    public GgufWriter putString(String key, String value) {
        return putValue(key, GgufType.STRING, value);
    }

    /**
     * Puts a array of STRING value (replacing any earlier value of the key).
     *
     * @param key   the key
     * @param values the values
     * @return this writer
     */
    public GgufWriter putStringArray(String key, List<String> values) {
        return putArray(key, GgufType.STRING, values);
    }

    /**
     * A scalar value of any type except ARRAY (for arrays use {@link #putArray}). Integer types take a Byte,
     * Short, Integer or Long that fits the type (UINT64: any long, as unsigned bits); floats any Number; BOOL a
     * Boolean; STRING a String.
     *
     * @param key the key
     * @param type the value's type
     * @param value the value
     * @return this writer
     */
    public GgufWriter putValue(String key, GgufType type, Object value) {
        Objects.requireNonNull(type, "type");
        if (ALIGNMENT_KEY.equals(key)) {
            checkAlignment(type, value);
        }
        LittleEndianBuilder b = new LittleEndianBuilder();
        b.u32(type.id());
        GgufValueEncoder.scalar(b, key, type, value);
        put(key, b);
        if (ALIGNMENT_KEY.equals(key)) {
            alignment = ((Number) value).intValue();
        }
        return this;
    }

    /**
     * An array value. {@code values} is a primitive array of the element type's width taken as raw bits (byte[]
     * for UINT8/INT8, short[], int[] for UINT32/INT32, long[], float[], double[], boolean[]), a String[], a List
     * whose elements follow the rules of {@link #putValue}, or for any numeric or bool element type a byte[] of
     * raw little-endian elements.
     *
     * @param key the key
     * @param elementType the elements' type
     * @param values the elements
     * @return this writer
     */
    public GgufWriter putArray(String key, GgufType elementType, Object values) {
        Objects.requireNonNull(elementType, "elementType");
        if (ALIGNMENT_KEY.equals(key)) {
            checkAlignment(GgufType.ARRAY, values);
        }
        LittleEndianBuilder b = new LittleEndianBuilder();
        b.u32(GgufType.ARRAY.id());
        GgufValueEncoder.array(b, key, elementType, values);
        put(key, b);
        return this;
    }

    /**
     * Copies key {@code key}, with its exact type, from another GGUF file.
     *
     * @param source the file to copy from
     * @param key the key
     * @return this writer
     */
    public GgufWriter copyFrom(GgufFile source, String key) {
        GgufType type = source.type(key).orElseThrow(() -> new IllegalArgumentException(
                source.path() + ": no key '" + key + "'"));
        if (type == GgufType.ARRAY) {
            return putArray(key, source.arrayElementType(key).orElseThrow(), source.getValue(key));
        }
        return putValue(key, type, source.getValue(key));
    }

    /**
     * {@return whether {@code key} has been put}
     *
     * @param key the key
     */
    public boolean containsKey(String key) {
        return metadata.containsKey(key);
    }

    private void put(String key, LittleEndianBuilder encodedValue) {
        checkOpen();
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("GGUF keys must be non-empty");
        }
        // Readers (mla4j, llama.cpp) hold keys as C strings and refuse a file whose key contains NUL.
        if (key.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("GGUF key '" + key.replace("\0", "\\0") + "' contains a NUL character");
        }
        if (metadata.containsKey(key)) {
            throw new IllegalArgumentException("duplicate GGUF key '" + key + "'");
        }
        metadata.put(key, encodedValue.toByteArray());
    }

    /** llama.cpp reads general.alignment with gguf_get_val_u32 and requires a non-zero power of 2. */
    private static void checkAlignment(GgufType type, Object value) {
        if (type != GgufType.UINT32) {
            throw new IllegalArgumentException(ALIGNMENT_KEY + " must be UINT32, not " + type);
        }
        if (value instanceof Number n) {
            long a = n.longValue();
            if (a <= 0 || Long.bitCount(a) != 1 || a > (1L << 30)) {
                throw new IllegalArgumentException(ALIGNMENT_KEY + " must be a power of 2 (at most 2^30), not " + a);
            }
        }
    }

    // ---- tensors -------------------------------------------------------------------------------------------

    /**
     * Adds a tensor; its data section offset follows the tensors added before it.
     *
     * @param shape ggml dimensions, innermost first (1 to 4 entries, each &ge; 0); shape[0] must be a multiple of
     *              the type's block size
     * @param source writes the tensor's {@code type.rowBytes(shape[0]) * shape[1] * ...} bytes during commit
     * @param name the tensor's name (unique)
     * @param type its element type
     * @return this writer
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorSource source) {
        checkOpen();
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(source, "source");
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("tensor names must be non-empty");
        }
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("tensor name '" + name.replace("\0", "\\0") + "' contains a NUL character");
        }
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length >= MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' is " + utf8.length
                    + " bytes; GGUF allows at most " + (MAX_NAME_BYTES - 1));
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        }
        if (shape.length < 1 || shape.length > MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + shape.length
                    + " dimensions; GGUF allows 1 to " + MAX_DIMS);
        }
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension: "
                        + Arrays.toString(shape));
            }
        }
        if (shape[0] % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': ne[0] = " + shape[0]
                    + " is not a multiple of the " + type + " block size " + type.blockSize());
        }
        long byteSize;
        try {
            byteSize = type.rowBytes(shape[0]);
            for (int i = 1; i < shape.length; i++) {
                byteSize = Math.multiplyExact(byteSize, shape[i]);
            }
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "' is too large: "
                    + Arrays.toString(shape));
        }
        tensors.put(name, new Tensor(name, utf8, type, shape.clone(), byteSize, source));
        return this;
    }

    /** {@return the tensors added so far with the offsets and sizes they will have in the file} */
    public List<GgufTensorInfo> tensorInfos() {
        List<GgufTensorInfo> infos = new ArrayList<>(tensors.size());
        long offset = 0;
        for (Tensor t : tensors.values()) {
            infos.add(new GgufTensorInfo(t.name, t.type, t.shape, offset, t.byteSize));
            offset += pad(t.byteSize, alignment);
        }
        return Collections.unmodifiableList(infos);
    }

    /** {@return the alignment in force: general.alignment if put, else 32} */
    public int alignment() {
        return alignment;
    }

    // ---- output --------------------------------------------------------------------------------------------

    /**
     * Writes the file: header, then each tensor's data produced by its source, each padded to the alignment. On any
     * failure the temporary file is removed, the target is left as it was, and the exception is rethrown.
     *
     * @throws IOException when a source fails or the file cannot be written
     */
    public void commit() throws IOException {
        checkOpen();
        finished = true;
        Path dir = target.getParent();
        temp = createTemp(dir);
        try {
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                writeFully(ch, header());
                for (Tensor t : tensors.values()) {
                    SizedChannel counted = new SizedChannel(ch, "tensor '" + t.name + "'", t.byteSize);
                    t.source.writeTo(counted, t.byteSize);
                    counted.checkComplete();
                    writeZeros(ch, pad(t.byteSize, alignment) - t.byteSize);
                }
                ch.force(true);
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            temp = null;
            syncDirectory(dir);
        } catch (IOException | RuntimeException | Error e) {
            deleteTemp(e);
            throw e;
        }
    }

    /** Removes the temporary file of an unfinished commit; the target is untouched unless commit succeeded. */
    @Override
    public void close() throws IOException {
        finished = true;
        if (temp != null) {
            Path t = temp;
            temp = null;
            Files.deleteIfExists(t);
        }
    }

    /** Magic, version, counts, key/values, tensor infos and (if there are tensors) padding to the alignment. */
    private ByteBuffer header() {
        LittleEndianBuilder b = new LittleEndianBuilder();
        b.bytes(new byte[] {'G', 'G', 'U', 'F'});
        b.u32(VERSION);
        b.u64(tensors.size());
        b.u64(metadata.size());
        for (Map.Entry<String, byte[]> kv : metadata.entrySet()) {
            b.string(kv.getKey());
            b.bytes(kv.getValue());
        }
        long offset = 0;
        for (Tensor t : tensors.values()) {
            b.string(t.nameUtf8);
            b.u32(t.shape.length);
            for (long d : t.shape) {
                b.u64(d);
            }
            b.u32(t.type.id());
            b.u64(offset);
            offset += pad(t.byteSize, alignment);
        }
        if (!tensors.isEmpty()) {
            b.zeros((int) (pad(b.size(), alignment) - b.size()));
        }
        return b.toByteBuffer();
    }

    static long pad(long x, long n) {
        return (x + n - 1) / n * n;
    }

    private void checkOpen() {
        if (finished) {
            throw new IllegalStateException("GgufWriter for " + target + " is already committed or closed");
        }
    }

    private void deleteTemp(Throwable cause) {
        try {
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
            temp = null;
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    /** Makes the rename durable; not every file system lets a directory be opened, which is harmless. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // best effort
        }
    }

    /**
     * A new empty file next to the target. Files.createFile (unlike createTempFile, which makes it private) gives it
     * the permissions the umask allows, as the target would get.
     */
    private Path createTemp(Path dir) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "."
                    + Long.toHexString(System.nanoTime()) + ".tmp");
            try {
                Path created = Files.createFile(p);
                created.toFile().deleteOnExit(); // Ctrl-C (SIGINT/SIGTERM) runs the JVM's exit hooks: no debris left
                return created;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) {
                    throw e;
                }
            }
        }
    }

    private static void writeZeros(WritableByteChannel ch, long n) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(n, 1 << 16));
        for (long left = n; left > 0; left -= zeros.capacity()) {
            writeFully(ch, zeros.clear().limit((int) Math.min(left, zeros.capacity())));
        }
    }

    private static void writeFully(WritableByteChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
