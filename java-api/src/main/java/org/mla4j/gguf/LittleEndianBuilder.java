package org.mla4j.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A growable byte array written in little-endian order: the GGUF header is assembled in one of these. */
final class LittleEndianBuilder {
    private byte[] bytes = new byte[256];
    private int size;

    int size() {
        return size;
    }

    LittleEndianBuilder u8(int v) {
        ensure(1);
        bytes[size++] = (byte) v;
        return this;
    }

    LittleEndianBuilder u16(int v) {
        return u8(v).u8(v >>> 8);
    }

    LittleEndianBuilder u32(int v) {
        return u16(v).u16(v >>> 16);
    }

    LittleEndianBuilder u64(long v) {
        return u32((int) v).u32((int) (v >>> 32));
    }

    LittleEndianBuilder f32(float v) {
        return u32(Float.floatToRawIntBits(v));
    }

    LittleEndianBuilder f64(double v) {
        return u64(Double.doubleToRawLongBits(v));
    }

    /** A gguf_string: u64 byte length, then the UTF-8 bytes without a terminating NUL. */
    LittleEndianBuilder string(String s) {
        return string(s.getBytes(StandardCharsets.UTF_8));
    }

    LittleEndianBuilder string(byte[] utf8) {
        u64(utf8.length);
        return bytes(utf8);
    }

    LittleEndianBuilder bytes(byte[] b) {
        ensure(b.length);
        System.arraycopy(b, 0, bytes, size, b.length);
        size += b.length;
        return this;
    }

    LittleEndianBuilder zeros(int n) {
        ensure(n);
        size += n; // the array is zero-filled past size
        return this;
    }

    byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    ByteBuffer toByteBuffer() {
        return ByteBuffer.wrap(bytes, 0, size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private void ensure(int more) {
        if (size + more > bytes.length) {
            long want = Math.max((long) bytes.length * 2, (long) size + more);
            if (want > Integer.MAX_VALUE - 16) {
                throw new IllegalStateException("GGUF header larger than 2 GiB");
            }
            bytes = Arrays.copyOf(bytes, (int) want);
        }
    }
}
