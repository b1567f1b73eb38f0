package org.mla4j.cli;

import java.util.Locale;

/** Human-readable sizes and counts, formatted like llama.cpp prints them. */
final class Format {
    private Format() {
    }

    /** "727.75 MiB", "1.20 GiB". */
    static String bytes(long n) {
        if (n >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
        if (n >= 1L << 20) return String.format(Locale.ROOT, "%.2f MiB", n / (double) (1L << 20));
        if (n >= 1L << 10) return String.format(Locale.ROOT, "%.2f KiB", n / (double) (1L << 10));
        return n + " B";
    }

    /** "1.24 B", "292.35 K", like llama-bench's params column. */
    static String count(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2f B", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.2f M", n / 1e6);
        if (n >= 1_000L) return String.format(Locale.ROOT, "%.2f K", n / 1e3);
        return Long.toString(n);
    }
}
