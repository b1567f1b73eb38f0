package org.mla4j.hf;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors file, memory-mapped and validated on open: an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and {@code data_offsets} [begin, end) in the data section that follows, then
 * the data. As in the reference implementation (huggingface/safetensors), the tensors must tile the data section
 * exactly: sorted by offset, each begins where the previous one ends, and the last ends at the end of the file.
 * Tensor data are views of the mapping (nothing is copied); they are valid until {@link #close()}.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** The reference implementation's limit on the header (100 MB). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /**
     * One tensor.
     *
     * @param name  its name
     * @param dtype its element type
     * @param shape PyTorch shape, outermost first
     * @param data  its bytes in the mapping
     */
    public record Tensor(String name, SafetensorsDtype dtype, long[] shape, MemorySegment data) {
        /** Copies the shape, so that the record stays immutable. */
        public Tensor {
            shape = shape.clone();
        }

        /** {@return the shape (a copy)} */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** {@return the number of dimensions} */
        public int rank() {
            return shape.length;
        }

        /**
         * {@return one dimension}
         *
         * @param i its index, outermost first
         */
        public long dim(int i) {
            return shape[i];
        }

        /** {@return the number of elements} */
        public long elementCount() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    private final Path path;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Maps and validates a file.
     *
     * @throws IllegalArgumentException naming the file and the problem when the file is not valid safetensors or
     *     holds a dtype other than F32, F16 and BF16
     * @param path the file
     * @return the open file, to be closed by the caller
     * @throws IOException when the file cannot be read
     */
    public static SafetensorsFile open(Path path) throws IOException {

        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "the file is " + size + " bytes, too short for the 8-byte header length");
            }
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = map.get(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8) {
                throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " is "
                        + (Long.compareUnsigned(headerLen, size - 8) > 0 ? "past the end of the " + size + "-byte file"
                                : "not a plausible JSON header size"));
            }
            byte[] header = map.asSlice(8, headerLen).toArray(JAVA_BYTE);
            MemorySegment data = map.asSlice(8 + headerLen);
            SafetensorsFile f = parse(path, arena, header, data);
            return f;
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, Arena arena, byte[] header, MemorySegment data) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw bad(path, "the header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw bad(path, "the header cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "the header is not a JSON object");
        }
        record Span(String name, long begin, long end) {}
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Span> spans = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) root.properties()::iterator) {
            String name = e.getKey();
            JsonNode t = e.getValue();
            if (name.equals("__metadata__")) {
                if (!t.isObject()) throw bad(path, "__metadata__ is not an object");
                t.properties().forEach(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String where = "tensor '" + name + "'";
            if (!t.isObject()) throw bad(path, where + " is not described by an object");
            JsonNode dtypeNode = t.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) throw bad(path, where + " has no dtype string");
            String dtypeName = dtypeNode.asText();
            SafetensorsDtype dtype = SafetensorsDtype.named(dtypeName).orElseThrow(() -> bad(path, where
                    + " has dtype " + dtypeName + (SafetensorsDtype.KNOWN.contains(dtypeName)
                            ? ", which mla4j does not support (F32, F16, BF16 only)" : ", which is not a safetensors dtype")));
            JsonNode shapeNode = t.get("shape");
            if (shapeNode == null || !shapeNode.isArray()) throw bad(path, where + " has no shape array");
            long[] shape = new long[shapeNode.size()];
            long bytes = dtype.size();
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = shapeNode.get(i);
                if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
                    throw bad(path, where + " has an invalid dimension " + d + " in shape " + shapeNode);
                }
                shape[i] = d.asLong();
                try {
                    bytes = Math.multiplyExact(bytes, shape[i]);
                } catch (ArithmeticException x) {
                    throw bad(path, where + " has a shape " + shapeNode + " too large to address");
                }
            }
            JsonNode off = t.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2 || !offsetValue(off.get(0)) || !offsetValue(off.get(1))) {
                throw bad(path, where + " has no valid data_offsets [begin, end] (got " + off + ")");
            }
            long begin = off.get(0).asLong(), end = off.get(1).asLong();
            if (end < begin) throw bad(path, where + " has data_offsets " + off + " that end before they begin");
            if (end > data.byteSize()) {
                throw bad(path, where + " has data_offsets " + off + " past the end of the data section ("
                        + data.byteSize() + " bytes; the file may be truncated)");
            }
            if (end - begin != bytes) {
                throw bad(path, where + " has " + (end - begin) + " bytes of data, but its shape " + shapeNode
                        + " of " + dtypeName + " needs " + bytes);
            }
            spans.add(new Span(name, begin, end));
            tensors.put(name, new Tensor(name, dtype, shape, data.asSlice(begin, end - begin).asReadOnly()));
        }
        spans.sort(Comparator.comparingLong(Span::begin).thenComparingLong(Span::end));
        long at = 0;
        for (Span s : spans) {
            if (s.begin < at) throw bad(path, "tensor '" + s.name + "' overlaps the tensor before it (data_offsets ["
                    + s.begin + ", " + s.end + "], previous ends at " + at + ")");
            if (s.begin > at) throw bad(path, "tensor '" + s.name + "' begins at " + s.begin + ", leaving a gap after "
                    + at + " in the data section");
            at = s.end;
        }
        if (at != data.byteSize()) {
            throw bad(path, "the tensors cover " + at + " bytes but the data section has " + data.byteSize());
        }
        return new SafetensorsFile(path, arena, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    private static boolean offsetValue(JsonNode n) {
        return n != null && n.canConvertToExactIntegral() && n.canConvertToLong() && n.asLong() >= 0;
    }

    private static IllegalArgumentException bad(Path path, String problem) {
        return new IllegalArgumentException(path + ": " + problem);
    }

    /** {@return the file's path} */
    public Path path() {
        return path;
    }

    /** {@return tensor names in header order} */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    /**
     * {@return the tensor of that name, or empty}
     *
     * @param name the tensor's name
     */
    public Optional<Tensor> tensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** {@return the string values of {@code __metadata__}} */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Unmaps the file; tensor segments must not be used afterwards (reading one throws). */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
