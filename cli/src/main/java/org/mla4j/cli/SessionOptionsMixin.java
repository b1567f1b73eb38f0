package org.mla4j.cli;

import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.Simd;
import org.mla4j.gguf.GgmlType;

import picocli.CommandLine.Option;

/** Options shared by the commands that evaluate a model. */
final class SessionOptionsMixin {

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = all CPUs).")
    int threads;

    @Option(names = {"-c", "--ctx-size"}, defaultValue = "0",
            description = "Context size in tokens (0 = the model's training context).")
    int contextSize;

    @Option(names = {"-b", "--batch-size"}, defaultValue = "512", description = "Prompt tokens evaluated together.")
    int batchSize;

    @Option(names = {"--kv-type", "--cache-type"}, defaultValue = "f16",
            description = "KV cache type: f32 or f16; MLA models (latent cache) also q8_0 and q4_0.")
    String kvType;

    @Option(names = "--simd", defaultValue = "auto",
            description = "Kernels: auto, scalar, avx2, avx512 (x86-64), neon, neon-dotprod or neon-i8mm (ARM64).")
    String simd;

    @Option(names = "--mmap", negatable = true,
            description = "Memory-map the model file (--no-mmap: read it into memory). Default: read files that fit "
                    + "easily (a quarter of the available memory) into huge pages, map larger ones.")
    Boolean mmap;

    @Option(names = "--mlock", description = "Lock the model's weights in memory (as llama.cpp's --mlock).")
    boolean mlock;

    Model.LoadOptions loadOptions() {
        return loadOptions(mmap, mlock);
    }

    static Model.LoadOptions loadOptions(Boolean mmap, boolean mlock) {
        Model.Mmap mode = mmap == null ? Model.Mmap.AUTO : mmap ? Model.Mmap.ON : Model.Mmap.OFF;
        return new Model.LoadOptions(mode, mlock);
    }

    /** "weights: mapped 8.53 GiB (locked), RSS 9.10 GiB, KV cache 0.30 GiB": how the memory is used now. */
    static String memoryReport(Model m, Session s) {
        Model.MemoryInfo mi = m.memory();
        long rss = Model.residentSetSize();
        return String.format(java.util.Locale.ROOT, "memory: weights %s %s%s, RSS %s, KV cache %s",
                mi.mapped() ? "memory-mapped" : "in memory", Format.bytes(mi.bytes()), mi.locked() ? " (locked)" : "",
                rss < 0 ? "unknown" : Format.bytes(rss), s == null ? "-" : Format.bytes(s.kvBytes()));
    }

    /** A warning when --mlock was asked for and the system refused it. */
    static void warnIfNotLocked(Model m, boolean mlock) {
        if (mlock && !m.memory().locked()) {
            System.err.println("mla4j: warning: could not lock the model in memory (see ulimit -l); continuing");
        }
    }

    Session.Options toOptions() {
        GgmlType kv = parseKvType("--kv-type", kvType);
        Simd s;
        try {
            s = Simd.valueOf(simd.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--simd must be auto, scalar, avx2, avx512, neon, neon-dotprod or neon-i8mm, not '"
                    + simd + "'");
        }
        if (threads < 0 || contextSize < 0 || batchSize < 1) {
            throw new Main.UsageException("--threads and --ctx-size must be >= 0 and --batch-size >= 1");
        }
        return new Session.Options(contextSize, threads, batchSize, kv, s);
    }

    /** A KV cache type given to an option; anything else is a usage error naming the option. */
    static GgmlType parseKvType(String option, String value) {
        return switch (value.toLowerCase(java.util.Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            default -> throw new Main.UsageException(option + " must be f32, f16, q8_0 or q4_0, not '" + value + "'");
        };
    }
}
