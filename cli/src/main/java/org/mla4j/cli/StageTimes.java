package org.mla4j.cli;

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The wall and CPU time of each stage of a conversion (--verbose), summed over its spells (stages alternate: layers
 * and attention fit), printed at the end so
 * the plan's estimate (--dry-run) can be compared with what each step really cost. CPU time is the process's
 * (every thread, native work included), which is the honest figure on a machine shared with other jobs.
 */
final class StageTimes {
    /** The converter's logger, held so that its level and handler are not collected with it. */
    private static java.util.logging.Logger converterLog;
    private final PrintStream err;
    private final Map<String, long[]> totals = new LinkedHashMap<>();
    private String stage;
    private long wallStart;
    private long cpuStart;

    StageTimes(PrintStream err) {
        this.err = err;
    }

    /** Called on every progress update: closes the running stage's spell when another begins. */
    void update(String next) {
        if (next.equals(stage)) return;
        close();
        stage = next;
        wallStart = System.nanoTime();
        cpuStart = cpuNanos();
    }

    private void close() {
        if (stage == null) return;
        long[] t = totals.computeIfAbsent(stage, k -> new long[2]);
        t[0] += System.nanoTime() - wallStart;
        t[1] += cpuNanos() - cpuStart;
        stage = null;
    }

    /** Closes the running stage and prints every stage's totals. */
    void finish() {
        close();
        totals.forEach((name, t) -> err.printf(Locale.ROOT, "stage %-16s wall %7.1f s, cpu %7.1f s%n", name, t[0] / 1e9,
                t[1] / 1e9));
    }

    /** Shows the converter's DEBUG lines (what each fit did) on stderr, as bare messages. */
    static void showConverterLog() {
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("org.mla4j.convert");
        java.util.logging.ConsoleHandler h = new java.util.logging.ConsoleHandler();
        h.setLevel(java.util.logging.Level.FINE);
        h.setFormatter(new java.util.logging.Formatter() {
            @Override
            public String format(java.util.logging.LogRecord r) {
                return r.getMessage() + System.lineSeparator();
            }
        });
        log.setLevel(java.util.logging.Level.FINE);
        log.setUseParentHandlers(false);
        log.addHandler(h);
        converterLog = log;
    }

    /** Process CPU time (user + system, all threads), or 0 where the platform does not report it. */
    static long cpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }
}
