package org.mla4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.EmbeddedModel;
import org.mla4j.Generation;
import org.mla4j.Hyperparameters;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.convert.ConversionPlan;
import org.mla4j.convert.ConvertOptions;
import org.mla4j.convert.Converter;
import org.mla4j.eval.EvalResult;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.SampledText;
import org.mla4j.eval.TextSequences;
import org.mla4j.gguf.GgmlType;
import org.mla4j.sampling.SamplerConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The project's main job on a real model, in one command: the embedded stories260K (a GQA llama) is converted to
 * MLA with TransMLA at half its KV cache, the result is evaluated against the original, and both generate the same
 * prompt greedily. Needs nothing but this jar (and LAPACK for the conversion): no network, no fixtures.
 */
@Command(name = "demo", description = "Convert the embedded real model (stories260K, GQA) to Multi-head Latent "
        + "Attention with TransMLA at half its KV cache, evaluate it against the original and generate with both.")
final class DemoCommand implements Callable<Integer> {

    static final String DEFAULT_PROMPT = "Once upon a time";
    static final int SPEED_RUNS = 5;

    @Option(names = {"-p", "--prompt"}, defaultValue = DEFAULT_PROMPT, description = "Prompt both models continue "
            + "(default \"${DEFAULT-VALUE}\").")
    String prompt;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "48", description = "Tokens each model generates "
            + "(default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--generate", paramLabel = "N", defaultValue = "" + EvalCommand.DEFAULT_GENERATE,
            description = "Tokens the original samples (seed " + SampledText.EVALUATION_SEED + ") to evaluate on "
                    + "(default ${DEFAULT-VALUE}).")
    int evalTokens;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Threads (default: all cores to convert "
            + "and evaluate, one to generate: a model this small is fastest on one).")
    int threads;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Keep the converted model in FILE "
            + "(default: a temporary file, deleted at the end).")
    Path output;

    /** One model's greedy continuation of the prompt and its generation speed. */
    record Continuation(String text, int tokens, double tokensPerSecond) {
    }

    @Override
    public Integer call() throws IOException {
        if (maxTokens < 1) throw new Main.UsageException("-n must be >= 1");
        if (evalTokens < 2) throw new Main.UsageException("--generate must be >= 2");
        if (threads < 0) throw new Main.UsageException("--threads must be >= 0");
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Path original = EmbeddedModel.path();
        Path converted = output != null ? output : Files.createTempFile("mla4j-demo-", ".gguf");
        if (output == null) converted.toFile().deleteOnExit();
        try {
            run(out, original, converted);
        } finally {
            if (output == null) Files.deleteIfExists(converted);
        }
        return 0;
    }

    private void run(PrintStream out, Path original, Path convertedPath) throws IOException {
        out.println("mla4j demo: a real model converted to Multi-head Latent Attention, then run next to the original");
        out.println("model:      " + EmbeddedModel.DESCRIPTION);
        ConversionPlan plan;
        double convertSeconds;
        try (Model ref = Model.load(original)) {
            Hyperparameters h = ref.hparams();
            out.printf(Locale.ROOT, "original:   %s, %d layers, %d heads, %d KV heads (%s), head dim %d%n",
                    h.architecture(), h.layers(), h.heads(), h.kvHeads(), h.kvHeads() < h.heads() ? "GQA" : "MHA",
                    h.headDimK());
            // The attention fit gets 2 s per layer instead of 25: the demo shows the pipeline, not the last digit of KL.
            ConvertOptions options = ConvertOptions.defaults(ConvertOptions.Method.TRANSMLA).withThreads(threads).withFitSeconds(2);
            int half = Converter.plan(h, options).sourceCacheValues() / 2;
            options = options.withCacheValues(half);
            out.printf(Locale.ROOT, "converting: TransMLA (RoRoPE, FreqFold, BKV-PCA) to half the KV cache (mla4j convert "
                    + "--method transmla --kv-cache %d), calibrated on %d tokens the model writes itself ...%n", half,
                    options.calibTokens());
            ProgressBar bar = new ProgressBar("convert");
            long t0 = System.nanoTime();
            Converter.Result r = Converter.convert(original, convertedPath, options,
                    (stage, done, total) -> bar.update(done, total > 0 ? total : done + 1, stage));
            bar.finish();
            convertSeconds = (System.nanoTime() - t0) / 1e9;
            plan = r.plan();
        }
        try (Model ref = Model.load(original); Model conv = Model.load(convertedPath)) {
            var mla = conv.mla().orElseThrow(() -> new IllegalStateException(convertedPath + " is not an MLA model"));
            out.printf(Locale.ROOT, "converted:  %s, latent %d + shared rope key %d = %d values per token and layer "
                    + "(was %d), in %.1f s%s%n", conv.hparams().architecture(), mla.kvLoraRank(), mla.ropeDim(),
                    plan.cacheValues(), plan.sourceCacheValues(), convertSeconds,
                    output != null ? "; written to " + output : "");
            long before = ref.kvBytesPerToken(GgmlType.F16);
            long after = conv.kvBytesPerToken(GgmlType.F16);
            out.println();
            out.printf(Locale.ROOT, "KV cache:   %d bytes per token before, %d after (F16 cache, all layers): %.2fx "
                    + "smaller%n", before, after, (double) before / after);

            int length = SampledText.defaultMaxLength(ref);
            List<int[]> text = SampledText.generate(ref, evalTokens, SampledText.EVALUATION_SEED, length, threads, null);
            EvalResult e = Evaluator.evaluate(ref, conv, text, Evaluator.Options.defaults().withThreads(threads), null);
            out.printf(Locale.ROOT, "fidelity:   on %d tokens the original samples (seed %d, not the calibration "
                    + "text), %d positions predicted%n", TextSequences.totalTokens(text), SampledText.EVALUATION_SEED,
                    e.tokens());
            out.printf(Locale.ROOT, "  mean KL(original || converted)  %.4f nats per token%n", e.klMean());
            out.printf(Locale.ROOT, "  top-1 agreement                 %.2f%%%n", 100 * e.top1Agreement());
            out.printf(Locale.ROOT, "  perplexity                      original %.4f, converted %.4f%n",
                    e.pplReference(), e.pplConverted());

            Continuation a = greedy(ref);
            Continuation b = greedy(conv);
            // A few milliseconds per run: the first is mostly JIT warm-up and any run can meet a busy core, so the
            // speed is the best of SPEED_RUNS runs of each, taken in turns.
            double speedA = a.tokensPerSecond();
            double speedB = b.tokensPerSecond();
            for (int i = 1; i < SPEED_RUNS; i++) {
                speedA = Math.max(speedA, greedy(ref).tokensPerSecond());
                speedB = Math.max(speedB, greedy(conv).tokensPerSecond());
            }
            out.println();
            out.printf(Locale.ROOT, "greedy, %d tokens after \"%s\":%n", maxTokens, oneLine(prompt));
            out.println("  original:  " + oneLine(prompt + a.text()));
            out.println("  converted: " + oneLine(prompt + b.text()));
            out.printf(Locale.ROOT, "speed:      generation %.0f tokens/s original, %.0f tokens/s converted (%s, best of "
                    + "%d)%n", speedA, speedB, generationThreads() + (generationThreads() == 1 ? " thread" : " threads"),
                    SPEED_RUNS);
        }
    }

    /** The model's greedy continuation of the prompt (BOS added, stopping early at end of text). */
    private Continuation greedy(Model model) {
        Session.Options options = Session.Options.defaults().withThreads(generationThreads());
        try (Session s = model.newSession(options)) {
            Generation g = new Generation(s, model.tokenizer(), prompt, Generation.Options.of(maxTokens,
                    SamplerConfig.greedy()));
            StringBuilder sb = new StringBuilder();
            Generation.Stats stats = g.run(t -> {
                sb.append(t.text());
                return true;
            });
            sb.append(g.flush());
            return new Continuation(sb.toString(), stats.generatedTokens(), stats.generationTokensPerSecond());
        }
    }

    /** Its 300K parameters take microseconds per token: more threads cost more in handing out work than they save. */
    private int generationThreads() {
        return threads == 0 ? 1 : threads;
    }

    /** Line breaks shown as \n, so that each continuation stays on its line. */
    static String oneLine(String s) {
        return s.replace("\r", "\\r").replace("\n", "\\n");
    }
}
