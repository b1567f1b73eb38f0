package org.mla4j.tokenizer;

import java.util.Arrays;

/** A fixed-capacity open-addressing map from non-negative long keys to int values, without boxing. */
final class LongIntMap {
    private static final long EMPTY = -1L;

    private final long[] keys;
    private final int[] values;
    private final int mask;

    LongIntMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected) * 2 - 1) * 2;
        keys = new long[capacity];
        values = new int[capacity];
        mask = capacity - 1;
        Arrays.fill(keys, EMPTY);
    }

    /** Stores the value unless the key is present (the first value wins); keys must be >= 0. */
    void putIfAbsent(long key, int value) {
        for (int i = slot(key); ; i = (i + 1) & mask) {
            if (keys[i] == EMPTY) {
                keys[i] = key;
                values[i] = value;
                return;
            }
            if (keys[i] == key) {
                return;
            }
        }
    }

    /** The value of the key, or -1. */
    int get(long key) {
        for (int i = slot(key); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return -1;
            }
        }
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
