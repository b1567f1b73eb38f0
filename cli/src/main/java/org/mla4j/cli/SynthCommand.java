package org.mla4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.gguf.GgmlType;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synth", description = "Write a random-weight model of a realistic shape (for benchmarks and tests).")
final class SynthCommand implements Callable<Integer> {

    @Option(names = "--arch", defaultValue = "llama", description = "Architecture: llama or qwen2.")
    String arch;

    @Option(names = "--preset", defaultValue = "small",
            description = "Shape: tiny, small, 1b, 1b-mha (llama); qwen2-tiny, qwen2-small (qwen2).")
    String preset;

    @Option(names = "--type", defaultValue = "f32", description = "Weight type: f32, f16, bf16, q8_0 or q4_0.")
    String type;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (same seed, same file).")
    long seed;

    @Option(names = {"-o", "--output"}, required = true, description = "Output GGUF file (written atomically).")
    Path out;

    @Override
    public Integer call() throws IOException {
        GgmlType t;
        try {
            t = GgmlType.valueOf(type.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--type must be f32, f16, bf16, q8_0 or q4_0, not '" + type + "'");
        }
        String name = preset;
        if (arch.equals("qwen2") && !name.startsWith("qwen2-")) name = "qwen2-" + name;
        SynthSpec spec;
        try {
            spec = SynthSpec.preset(name);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        if (!spec.arch().equals(arch)) {
            throw new Main.UsageException("preset '" + preset + "' is a " + spec.arch() + " model, not " + arch);
        }
        ProgressBar bar = new ProgressBar("synth");
        long t0 = System.nanoTime();
        Synth.write(spec, t, seed, out, (tensor, done, total) -> bar.update(done, total, tensor));
        bar.finish();
        System.err.printf(Locale.ROOT, "wrote %s: %s %s (%s parameters, %s) with RANDOM weights (seed %d) in %.1f s%n",
                out, spec.arch(), spec.name(), Format.count(spec.parameterCount()), Format.bytes(Files.size(out)), seed,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
