package org.mla4j.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * Produces the bytes of one tensor when {@link GgufWriter#commit()} reaches it, so that tensors are generated or
 * copied one at a time and a large model never has to be held in memory.
 *
 * <p>The source must write exactly {@code byteSize} bytes (the tensor's unpadded size) to {@code out}; the writer
 * checks the count and fails the whole commit otherwise. Each {@code write} call on {@code out} writes its buffer
 * completely.
 */
@FunctionalInterface
public interface TensorSource {
    /**
     * Writes the tensor's bytes.
     *
     * @param out      where to write them
     * @param byteSize how many to write (the tensor's unpadded size)
     * @throws IOException when they cannot be produced or written
     */
    void writeTo(WritableByteChannel out, long byteSize) throws IOException;

    /**
     * {@return a source that writes the remaining bytes of {@code data} (its position is not changed)}
     *
     * @param data the bytes
     */
    static TensorSource of(ByteBuffer data) {
        ByteBuffer copy = data.duplicate();
        return (out, byteSize) -> out.write(copy.duplicate());
    }

    /**
     * {@return a source that writes the bytes of {@code data}, e.g. a tensor of a memory-mapped file, in 16 MiB pieces}
     *
     * @param data the bytes
     */
    static TensorSource of(MemorySegment data) {
        return (out, byteSize) -> {
            long chunk = 16L << 20;
            for (long off = 0; off < data.byteSize(); off += chunk) {
                out.write(data.asSlice(off, Math.min(chunk, data.byteSize() - off)).asByteBuffer());
            }
        };
    }
}
