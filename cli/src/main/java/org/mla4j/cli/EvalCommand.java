package org.mla4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.Model;
import org.mla4j.eval.EvalResult;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.SampledText;
import org.mla4j.eval.TextSequences;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Compares a converted model with its original on a text file or on text the original samples itself (with a seed
 * other than the converter's calibration seed, so the text is not the calibration text).
 */
@Command(name = "eval", description = "Measure how closely a converted model follows its original: perplexity of "
        + "both, KL(original || converted), top-1 agreement, largest logit difference.")
final class EvalCommand implements Callable<Integer> {

    static final int DEFAULT_GENERATE = 512;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "CONVERTED", description = "Converted GGUF model.")
    Path model;

    @Option(names = "--reference", paramLabel = "ORIGINAL", description = "Original GGUF model (default: the "
            + "embedded stories260K model).")
    Path reference;

    @Option(names = "--text", paramLabel = "FILE",
            description = "Evaluate on this UTF-8 text, tokenized by the original's tokenizer.")
    Path text;

    @Option(names = "--generate", paramLabel = "N", description = "Evaluate on N tokens the original samples from BOS "
            + "(temperature 1, no truncation); the default when --text is not given, with N = " + DEFAULT_GENERATE + ".")
    Integer generate;

    @Option(names = "--seed", defaultValue = "" + SampledText.EVALUATION_SEED,
            description = "Seed of --generate (default ${DEFAULT-VALUE}; the converter calibrates with seed "
                    + SampledText.CALIBRATION_SEED + ").")
    long seed;

    @Option(names = {"-c", "--ctx"}, defaultValue = "0",
            description = "Tokens per sequence and context size (0 = min(512, the original's training context)).")
    int ctx;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Compute threads (0 = all CPUs).")
    int threads;

    @Option(names = {"--cache-type", "--kv-type"}, defaultValue = "f16",
            description = "KV cache type of the converted model: f32 or f16; MLA models also q8_0 and q4_0.")
    String cacheType;

    @Option(names = "--reference-cache-type", defaultValue = "f16", description = "KV cache type of the original.")
    String referenceCacheType;

    @Option(names = "--mmap", negatable = true,
            description = "Memory-map the model files (--no-mmap: read them into memory); default by size.")
    Boolean mmap;

    @Option(names = "--mlock", description = "Lock the models' weights in memory.")
    boolean mlock;

    @Option(names = "--json", description = "Print one JSON object (ppl_reference, ppl_converted, kl_mean, kl_max, "
            + "top1_agreement, max_abs_logit_diff, tokens).")
    boolean json;

    @Override
    public Integer call() throws IOException {
        if (text != null && generate != null) throw new Main.UsageException("give either --text or --generate, not both");
        int nGenerate = generate == null ? DEFAULT_GENERATE : generate;
        if (nGenerate < 2) throw new Main.UsageException("--generate must be >= 2 (one token predicted after BOS)");
        if (ctx < 0 || ctx == 1) throw new Main.UsageException("--ctx must be 0 (default) or >= 2");
        if (threads < 0) throw new Main.UsageException("--threads must be >= 0");
        Evaluator.Options options = new Evaluator.Options(threads, 0,
                SessionOptionsMixin.parseKvType("--reference-cache-type", referenceCacheType),
                SessionOptionsMixin.parseKvType("--cache-type", cacheType));
        Path reference = DefaultModel.orEmbedded(this.reference, "--reference");
        Model.LoadOptions load = SessionOptionsMixin.loadOptions(mmap, mlock);
        try (Model ref = Model.load(reference, load); Model conv = Model.load(model, load)) {
            Evaluator.checkCompatible(ref, conv); // before sampling: a mismatch should not cost a generation
            int length = ctx == 0 ? SampledText.defaultMaxLength(ref) : ctx;
            List<int[]> sequences;
            long t0 = System.nanoTime();
            if (text != null) {
                sequences = TextSequences.fromFile(ref, text, length);
                System.err.printf(Locale.ROOT, "text: %s, %d tokens in %d sequences of at most %d%n", text,
                        TextSequences.totalTokens(sequences), sequences.size(), length);
            } else {
                ProgressBar bar = new ProgressBar("sampling");
                sequences = SampledText.generate(ref, nGenerate, seed, length, threads,
                        done -> bar.update(done, nGenerate, done + " tokens"));
                bar.finish();
                System.err.printf(Locale.ROOT, "text: %d tokens sampled from %s (seed %d) in %d sequences of at most %d "
                        + "(%.1f s)%n", nGenerate, reference, seed, sequences.size(), length,
                        (System.nanoTime() - t0) / 1e9);
            }
            long positions = TextSequences.totalTokens(sequences) - sequences.size();
            ProgressBar bar = new ProgressBar("eval");
            long t1 = System.nanoTime();
            EvalResult r = Evaluator.evaluate(ref, conv, sequences, options,
                    done -> bar.update(done, positions, done + " positions"));
            bar.finish();
            System.err.printf(Locale.ROOT, "evaluated %d positions in %.1f s%n", r.tokens(), (System.nanoTime() - t1) / 1e9);
            PrintStream out = System.out;
            if (json) {
                out.println(r.toJson());
            } else {
                printTable(out, r);
            }
        }
        return 0;
    }

    private static void printTable(PrintStream out, EvalResult r) {
        String row = "%-22s %s%n";
        out.printf(Locale.ROOT, row, "positions", r.tokens());
        out.printf(Locale.ROOT, row, "perplexity original", String.format(Locale.ROOT, "%.4f", r.pplReference()));
        out.printf(Locale.ROOT, row, "perplexity converted", String.format(Locale.ROOT, "%.4f", r.pplConverted()));
        out.printf(Locale.ROOT, row, "KL mean (nats)", String.format(Locale.ROOT, "%.4e", r.klMean()));
        out.printf(Locale.ROOT, row, "KL max (nats)", String.format(Locale.ROOT, "%.4e", r.klMax()));
        out.printf(Locale.ROOT, row, "top-1 agreement", String.format(Locale.ROOT, "%.2f%%", 100 * r.top1Agreement()));
        out.printf(Locale.ROOT, row, "max |logit diff|", String.format(Locale.ROOT, "%.4g", r.maxAbsLogitDiff()));
        out.flush();
    }
}
