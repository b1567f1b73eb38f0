package org.mla4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.mla4j.EmbeddedModel;
import org.mla4j.Model;
import org.mla4j.convert.ConversionPlan;
import org.mla4j.convert.ConvertOptions;
import org.mla4j.convert.Converter;
import org.mla4j.eval.EvalResult;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.SampledText;
import org.mla4j.gguf.GgmlType;

/**
 * Converts a model to Multi-head Latent Attention with TransMLA at half its KV cache, reporting progress, then
 * measures how closely the converted model follows the original.
 *
 * <p>Usage: {@code ConvertAndEvaluate [MODEL.gguf [OUTPUT.gguf]]}; without arguments the embedded stories260K, written
 * to a temporary file. Conversion needs LAPACK/BLAS at run time (as {@code mla4j convert} does).
 */
public final class ConvertAndEvaluate {

    public static void main(String[] args) throws IOException {
        Path original = args.length > 0 ? Path.of(args[0]) : EmbeddedModel.path();
        Path output = args.length > 1 ? Path.of(args[1]) : Files.createTempFile("stories260K-mla-", ".gguf");
        try {
            ConvertOptions options = ConvertOptions.defaults(ConvertOptions.Method.TRANSMLA);
            try (Model model = Model.load(original)) {
                // Half the cache: the plan says how many values per token and layer the original caches.
                int half = Converter.plan(model.hparams(), options).sourceCacheValues() / 2;
                options = options.withCacheValues(half);
            }
            // The progress listener is told each stage ("calibration", "search", "layers", ...) and how far it has
            // come; this one prints a line when a stage completes and otherwise at most one a second.
            Converter.Progress progress = new Converter.Progress() {
                private long last;

                @Override
                public void update(String stage, long done, long total) {
                    long now = System.nanoTime();
                    // "layers" completes once per candidate the search writes: not worth a line each time.
                    boolean completed = total > 0 && done == total && !stage.equals("layers");
                    if (!completed && now - last < 1_000_000_000L) return;
                    last = now;
                    System.out.printf("  %-16s %s%n", stage, total > 0 ? done + " / " + total : done);
                }
            };
            System.out.println("converting " + original.getFileName() + " with TransMLA to " + options.cacheValues()
                    + " cached values per token and layer ...");
            Converter.Result result = Converter.convert(original, output, options, progress);
            ConversionPlan plan = result.plan();
            System.out.printf("wrote %s: %s, KV cache %d -> %d values per token and layer, %d calibration tokens%n",
                    output, plan.arch(), plan.sourceCacheValues(), plan.cacheValues(), result.calibrationTokens());

            try (Model reference = Model.load(original); Model converted = Model.load(output)) {
                System.out.printf("KV bytes per token (F16 cache): %d -> %d%n", reference.kvBytesPerToken(GgmlType.F16),
                        converted.kvBytesPerToken(GgmlType.F16));
                // Evaluation text: 512 tokens the original writes itself (seed 1234, not the calibration seed 42).
                List<int[]> text = SampledText.generate(reference, 512, SampledText.EVALUATION_SEED, 0, null);
                EvalResult r = Evaluator.evaluate(reference, converted, text, Evaluator.Options.defaults(), null);
                System.out.printf("mean KL %.4f nats, top-1 agreement %.2f%%, perplexity %.3f -> %.3f (%d positions)%n",
                        r.klMean(), 100 * r.top1Agreement(), r.pplReference(), r.pplConverted(), r.tokens());
            }
        } finally {
            if (args.length < 2) Files.deleteIfExists(output);
        }
    }
}
