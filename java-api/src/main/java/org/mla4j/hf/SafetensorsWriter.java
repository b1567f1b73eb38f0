package org.mla4j.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import org.mla4j.gguf.TensorSource;

/**
 * Writes one safetensors file: the header (padded with spaces to a multiple of 8, as the reference writer does),
 * then each tensor's bytes, produced by its {@link TensorSource} in the order the tensors were added, so a large
 * tensor is streamed and never held in memory. The caller writes into a temporary directory and renames it.
 */
final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Entry(String name, SafetensorsDtype dtype, long[] shape, TensorSource source) {
        long byteSize() {
            long n = dtype.size();
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    private final List<Entry> entries = new ArrayList<>();

    /** Adds a tensor with its PyTorch shape (outermost dimension first). */
    void add(String name, SafetensorsDtype dtype, long[] shape, TensorSource source) {
        entries.add(new Entry(name, dtype, shape.clone(), source));
    }

    /** Bytes of tensor data added so far. */
    long dataBytes() {
        return entries.stream().mapToLong(Entry::byteSize).sum();
    }

    boolean isEmpty() {
        return entries.isEmpty();
    }

    List<String> names() {
        return entries.stream().map(Entry::name).toList();
    }

    void write(Path file) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name);
            t.put("dtype", e.dtype.name());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.shape) shape.add(d);
            long end = offset + e.byteSize();
            t.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (head.hasRemaining()) ch.write(head);
            for (Entry e : entries) {
                org.mla4j.gguf.SizedChannel c = new org.mla4j.gguf.SizedChannel(ch, file + ": tensor '" + e.name + "'",
                        e.byteSize());
                e.source.writeTo(c, e.byteSize());
                c.checkComplete();
            }
            ch.force(true);
        }
    }
}
