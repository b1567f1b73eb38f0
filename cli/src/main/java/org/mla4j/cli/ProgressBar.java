package org.mla4j.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on stderr, redrawn in place at most 10 times a second. When stderr is not a terminal
 * it stays silent, so logs and pipes get only the final summary lines.
 */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintStream err = System.err;
    private final String label;
    private final boolean enabled = System.console() != null;
    private long lastDraw;

    ProgressBar(String label) {
        this.label = label;
    }

    void update(long done, long total, String detail) {
        if (!enabled || total <= 0) return;
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        int filled = (int) (WIDTH * Math.min(done, total) / total);
        err.printf(Locale.ROOT, "\r%s [%s%s] %3d%% %-40.40s", label, "#".repeat(filled), " ".repeat(WIDTH - filled),
                100 * done / total, detail);
        err.flush();
    }

    void finish() {
        if (enabled) err.print("\r" + " ".repeat(WIDTH + label.length() + 50) + "\r");
    }
}
