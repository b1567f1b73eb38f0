package org.mla4j.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * The channel a {@link TensorSource} writes one tensor into: passes writes through, counts them, refuses to write
 * past the tensor's size, and after the source returns checks it wrote exactly that size (GGUF and safetensors
 * writers). Closing it leaves the underlying channel open: the file belongs to the writer.
 */
public final class SizedChannel implements WritableByteChannel {
    private final WritableByteChannel out;
    private final String what;
    private final long size;
    private long written;

    /**
     * A channel for one tensor.
     *
     * @param out  the file's channel
     * @param what names the tensor in messages, e.g. "tensor 'blk.0.attn_q.weight'"
     * @param size the tensor's size in bytes
     */
    public SizedChannel(WritableByteChannel out, String what, long size) {
        this.out = out;
        this.what = what;
        this.size = size;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        if (written + n > size) throw new IOException(what + ": its source wrote more than the expected " + size + " bytes");
        while (src.hasRemaining()) out.write(src);
        written += n;
        return n;
    }

    /**
     * Throws unless exactly the expected size was written.
     *
     * @throws IOException when the source wrote fewer bytes
     */
    public void checkComplete() throws IOException {
        if (written != size) throw new IOException(what + ": its source wrote " + written + " bytes, expected " + size);
    }

    @Override
    public boolean isOpen() {
        return out.isOpen();
    }

    @Override
    public void close() {
    }
}
