package org.mla4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import org.mla4j.Model;
import org.mla4j.NativeLibrary;
import org.mla4j.Session;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Measures prompt processing (ppN) and token generation (tgN) like llama.cpp's llama-bench: random tokens, a warm-up
 * run, then REPS timed runs on an emptied KV cache; tokens/s as mean ± sample standard deviation.
 */
@Command(name = "bench", description = "Benchmark prompt processing and generation (llama-bench compatible output).")
final class BenchCommand implements Callable<Integer> {

    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file.")
    Path model;

    @Option(names = {"-p", "--n-prompt"}, defaultValue = "512", description = "Prompt tokens of the pp test (0 = skip).")
    int nPrompt;

    @Option(names = {"-n", "--n-gen"}, defaultValue = "128", description = "Generated tokens of the tg test (0 = skip).")
    int nGen;

    @Option(names = {"-d", "--n-depth"}, defaultValue = "0",
            description = "Tokens already in the context (KV cache) before each test, like llama-bench's -d.")
    int depth;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5", description = "Timed repetitions of each test.")
    int reps;

    @Option(names = {"-o", "--output"}, defaultValue = "md", description = "Output format: md or json.")
    String output;

    @Mixin
    SessionOptionsMixin session;

    record Result(String test, int nPrompt, int nGen, long[] samplesNs) {
        int tokens() {
            return nPrompt + nGen;
        }

        double[] samplesTs() {
            double[] ts = new double[samplesNs.length];
            for (int i = 0; i < ts.length; i++) ts[i] = tokens() * 1e9 / samplesNs[i];
            return ts;
        }

        static double mean(double[] v) {
            double s = 0;
            for (double x : v) s += x;
            return s / v.length;
        }

        static double stddev(double[] v) {
            if (v.length < 2) return 0;
            double m = mean(v);
            double s = 0;
            for (double x : v) s += (x - m) * (x - m);
            return Math.sqrt(s / (v.length - 1));
        }
    }

    @Override
    public Integer call() {
        if (!output.equals("md") && !output.equals("json")) throw new Main.UsageException("-o must be md or json");
        if (reps < 1 || nPrompt < 0 || nGen < 0 || depth < 0) {
            throw new Main.UsageException("-r must be >= 1, -p, -n and -d >= 0");
        }
        Session.Options opts = session.toOptions();
        int nCtx = depth + Math.max(nPrompt, nGen) + 1;
        List<Result> results = new ArrayList<>();
        try (Model m = Model.load(model, session.loadOptions()); Session s = m.newSession(opts.withContextSize(Math.max(opts.contextSize(), nCtx)))) {
            SessionOptionsMixin.warnIfNotLocked(m, session.mlock);
            int vocab = m.hparams().vocabSize();
            SplittableRandom rng = new SplittableRandom(1234);
            String at = depth > 0 ? " @ d" + depth : "";
            if (depth > 0) {
                // The context is filled once; each run then truncates back to it (the cached rows stay valid).
                for (int done = 0; done < depth; done += opts.batchSize()) {
                    s.eval(randomTokens(rng, vocab, Math.min(opts.batchSize(), depth - done)));
                }
            }
            if (nPrompt > 0) {
                results.add(run(s, "pp" + nPrompt + at, nPrompt, 0, () -> s.eval(randomTokens(rng, vocab, nPrompt))));
            }
            if (nGen > 0) {
                results.add(run(s, "tg" + nGen + at, 0, nGen, () -> {
                    for (int i = 0; i < nGen; i++) s.eval(rng.nextInt(vocab));
                }));
            }
            ModelStats stats = ModelStats.of(m.gguf());
            String modelType = m.hparams().architecture() + " " + Format.count(stats.parameters()).replace(" ", "") + " "
                    + stats.typeLabel();
            int threads = opts.threads() == 0 ? Runtime.getRuntime().availableProcessors() : opts.threads();
            System.err.println(SessionOptionsMixin.memoryReport(m, s)); // stdout stays llama-bench's table
            if (output.equals("md")) {
                printMarkdown(System.out, modelType, stats, threads, results);
            } else {
                printJson(System.out, modelType, stats, threads, opts, results);
            }
        }
        return 0;
    }

    private Result run(Session s, String name, int np, int ng, Runnable body) {
        s.setPosition(depth);
        body.run(); // warm-up, as llama-bench does
        long[] samples = new long[reps];
        for (int r = 0; r < reps; r++) {
            s.setPosition(depth);
            long t0 = System.nanoTime();
            body.run();
            samples[r] = System.nanoTime() - t0;
        }
        return new Result(name, np, ng, samples);
    }

    private static int[] randomTokens(SplittableRandom rng, int vocab, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.nextInt(vocab);
        return t;
    }

    private static void printMarkdown(PrintStream out, String modelType, ModelStats stats, int threads, List<Result> results) {
        out.println("| model                          |       size |     params | backend    | threads |            test |                  t/s |");
        out.println("| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |");
        for (Result r : results) {
            double[] ts = r.samplesTs();
            out.printf(Locale.ROOT, "| %-30s | %10s | %10s | %-10s | %7d | %15s | %20s |%n", modelType,
                    Format.bytes(stats.tensorBytes()), Format.count(stats.parameters()), "CPU (mla4j)", threads, r.test(),
                    String.format(Locale.ROOT, "%.2f ± %.2f", Result.mean(ts), Result.stddev(ts)));
        }
        out.println();
        out.println("build: mla4j " + NativeLibrary.apiVersion());
    }

    private void printJson(PrintStream out, String modelType, ModelStats stats, int threads, Session.Options opts,
            List<Result> results) {
        String testTime = Instant.now().toString();
        List<String> objects = new ArrayList<>();
        for (Result r : results) {
            double[] ts = r.samplesTs();
            double[] ns = new double[r.samplesNs().length];
            for (int i = 0; i < ns.length; i++) ns[i] = r.samplesNs()[i];
            objects.add(String.format(Locale.ROOT, "  {\n    \"build_commit\": \"mla4j-%s\",\n    \"backends\": \"CPU\",\n"
                    + "    \"model_filename\": \"%s\",\n    \"model_type\": \"%s\",\n    \"model_size\": %d,\n"
                    + "    \"model_n_params\": %d,\n    \"n_batch\": %d,\n    \"n_threads\": %d,\n    \"type_k\": \"%s\",\n"
                    + "    \"type_v\": \"%s\",\n    \"n_prompt\": %d,\n    \"n_gen\": %d,\n    \"n_depth\": %d,\n"
                    + "    \"test_time\": \"%s\",\n"
                    + "    \"avg_ns\": %d,\n    \"stddev_ns\": %d,\n    \"avg_ts\": %.6f,\n    \"stddev_ts\": %.6f,\n"
                    + "    \"samples_ns\": [ %s ],\n    \"samples_ts\": [ %s ]\n  }",
                    NativeLibrary.apiVersion(), jsonEscape(model.toString()), modelType, stats.tensorBytes(),
                    stats.parameters(), opts.batchSize(), threads, opts.kvType().name().toLowerCase(Locale.ROOT),
                    opts.kvType().name().toLowerCase(Locale.ROOT), r.nPrompt(), r.nGen(), depth, testTime,
                    (long) Result.mean(ns), (long) Result.stddev(ns), Result.mean(ts), Result.stddev(ts),
                    java.util.Arrays.stream(r.samplesNs()).mapToObj(Long::toString).collect(Collectors.joining(", ")),
                    java.util.Arrays.stream(ts).mapToObj(v -> String.format(Locale.ROOT, "%.6f", v))
                            .collect(Collectors.joining(", "))));
        }
        out.println("[\n" + String.join(",\n", objects) + "\n]");
    }

    private static String jsonEscape(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
