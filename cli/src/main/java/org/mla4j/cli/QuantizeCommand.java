package org.mla4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.gguf.GgmlType;
import org.mla4j.quant.GgufQuantizer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "quantize", description = {"Quantize a GGUF model's weight matrices to one type, with the bytes "
        + "llama-quantize --pure writes without an imatrix (norms, 1-D tensors and MoE routers are kept).",
    WeightTypes.FALLBACK})
final class QuantizeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "IN", description = "Input GGUF file.")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "Output GGUF file (written atomically).")
    Path out;

    @Option(names = "--type", required = true, description = "Target type: " + WeightTypes.NAMES + ".")
    String type;

    @Override
    public Integer call() throws IOException {
        GgmlType target = WeightTypes.parse(type);
        if (in.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new Main.UsageException("IN and OUT must be different files");
        }
        long t0 = System.nanoTime();
        List<GgufQuantizer.Decision> decisions = GgufQuantizer.quantize(in, out, target, d -> {
            if (d.fallback()) {
                System.err.printf(Locale.ROOT, "note: %s: rows are not whole %s blocks; written as %s%n",
                        d.tensor(), target, d.to());
            }
        });
        long converted = decisions.stream().filter(d -> d.to() != d.from() && !d.fallback()).count();
        long fallbacks = decisions.stream().filter(GgufQuantizer.Decision::fallback).count();
        System.err.printf(Locale.ROOT, "quantized %s -> %s (%s): %d tensors converted, %d fell back, %d kept; %s -> %s in %.1f s%n",
                in, out, target, converted, fallbacks, decisions.size() - converted - fallbacks,
                Format.bytes(Files.size(in)), Format.bytes(Files.size(out)), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
