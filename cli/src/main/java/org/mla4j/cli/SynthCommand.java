package org.mla4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.hf.GgufToHf;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "synth", description = "Write a random-weight model of a realistic shape (for benchmarks and tests).")
final class SynthCommand implements Callable<Integer> {

    @Option(names = "--arch", defaultValue = "llama", description = "Architecture: llama, qwen2, deepseek2 or mha2mla.")
    String arch;

    @Option(names = "--preset", defaultValue = "small",
            description = "Shape: tiny, small, 1b, 1b-mha (llama); tiny, small (qwen2); tiny, small, 1b (deepseek2); "
                    + "tiny, small (mha2mla).")
    String preset;

    @Option(names = "--type", defaultValue = "f32", description = "Weight type: f32, f16, bf16, q8_0 or q4_0.")
    String type;

    @Option(names = "--seed", defaultValue = "42", description = "Random seed (same seed, same file).")
    long seed;

    @Option(names = {"-o", "--output"}, required = true,
            description = "Output GGUF file, or directory with --format hf (written atomically).")
    Path out;

    @Option(names = "--format", defaultValue = "gguf",
            description = "Output format: gguf, or hf (a Hugging Face directory: safetensors in the --type dtype "
                    + "f32, f16 or bf16, config.json, tokenizer.json).")
    String format;

    @Override
    public Integer call() throws IOException {
        GgmlType t;
        try {
            t = GgmlType.valueOf(type.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--type must be f32, f16, bf16, q8_0 or q4_0, not '" + type + "'");
        }
        boolean hf = switch (format.toLowerCase(Locale.ROOT)) {
            case "gguf" -> false;
            case "hf" -> true;
            default -> throw new Main.UsageException("--format must be gguf or hf, not '" + format + "'");
        };
        if (hf && t != GgmlType.F32 && t != GgmlType.F16 && t != GgmlType.BF16) {
            throw new Main.UsageException("--format hf needs --type f32, f16 or bf16, not " + type);
        }
        Path gguf = hf ? Files.createTempFile("mla4j-synth-", ".gguf") : out;
        try {
            return write(t, gguf, hf);
        } finally {
            if (hf) Files.deleteIfExists(gguf);
        }
    }

    private int write(GgmlType t, Path gguf, boolean hf) throws IOException {
        ProgressBar bar = new ProgressBar("synth");
        long t0 = System.nanoTime();
        String shape;
        long params;
        if (MlaSynthSpec.ARCHITECTURES.contains(arch)) {
            MlaSynthSpec spec = MlaSynthSpec.preset(lookup(arch, MlaSynthSpec.presetNames()));
            Synth.write(spec, t, seed, gguf, (tensor, done, total) -> bar.update(done, total, tensor));
            shape = spec.arch() + " " + spec.name();
            params = spec.parameterCount();
        } else {
            SynthSpec spec = SynthSpec.preset(lookup(arch, SynthSpec.presetNames()));
            if (!spec.arch().equals(arch)) {
                throw new Main.UsageException("preset '" + preset + "' is a " + spec.arch() + " model, not " + arch);
            }
            Synth.write(spec, t, seed, gguf, (tensor, done, total) -> bar.update(done, total, tensor));
            shape = spec.arch() + " " + spec.name();
            params = spec.parameterCount();
        }
        bar.finish();
        long bytes = Files.size(gguf);
        if (hf) {
            ProgressBar hfBar = new ProgressBar("hf");
            try (GgufFile g = GgufFile.open(gguf)) {
                GgufToHf.write(g, out, t, (tensor, done, total) -> hfBar.update(done, total, tensor));
            }
            hfBar.finish();
        }
        System.err.printf(Locale.ROOT, "wrote %s: %s (%s parameters, %s%s) with RANDOM weights (seed %d) in %.1f s%n",
                out, shape, Format.count(params), Format.bytes(bytes), hf ? " as GGUF; Hugging Face safetensors "
                + t.name().toLowerCase(Locale.ROOT) : "", seed, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** The preset's registered name: llama presets are bare ("1b"), the others carry their architecture. */
    private String lookup(String architecture, java.util.Set<String> known) {
        String name = architecture.equals("llama") || preset.startsWith(architecture + "-") ? preset
                : architecture + "-" + preset;
        if (!known.contains(name)) {
            throw new Main.UsageException("unknown preset '" + preset + "' for " + architecture + "; known: " + known);
        }
        return name;
    }
}
