package org.mla4j.quant;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.mla4j.gguf.GgmlType;

/** A RowEncoder that applies a one-block function block after block. */
final class BlockEncoder implements RowEncoder {
    /** Encodes one block starting at x[off] at dst's position. */
    @FunctionalInterface
    interface Block {
        void encode(float[] x, int off, ByteBuffer dst);
    }

    private final GgmlType type;
    private final Block block;

    BlockEncoder(GgmlType type, Block block) {
        this.type = type;
        this.block = block;
    }

    @Override
    public GgmlType type() {
        return type;
    }

    @Override
    public void encode(float[] src, int off, int n, ByteBuffer dst) {
        if (dst.order() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalArgumentException("ggml data are little-endian; the destination buffer is "
                    + dst.order());
        }
        long bytes = type.rowBytes(n); // checks the block size
        if (dst.remaining() < bytes) {
            throw new IllegalArgumentException(n + " elements of " + type + " need " + bytes + " bytes; "
                    + dst.remaining() + " remain");
        }
        int blockSize = type.blockSize();
        for (int i = off; i < off + n; i += blockSize) {
            block.encode(src, i, dst);
        }
    }

    @Override
    public String toString() {
        return type + " encoder";
    }
}
