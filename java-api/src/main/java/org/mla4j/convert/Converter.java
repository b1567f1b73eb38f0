package org.mla4j.convert;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.mla4j.Hyperparameters;
import org.mla4j.Model;
import org.mla4j.calib.CalibrationStats;
import org.mla4j.eval.TextSequences;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;

/**
 * {@code mla4j convert}: an original llama/qwen2 model (a GGUF file) to an MLA model (mha2mla or deepseek2 GGUF).
 * Steps: load the original, gather calibration statistics with its native forward pass (from a text file or from
 * text the model generates itself), resolve the choices left to calibration, then write the output layer by layer
 * to a temporary file that replaces the target only when complete.
 */
public final class Converter {
    /**
     * The progress listener of {@link #convert}: told how far the conversion has come, on the converting thread
     * (keep it quick). The stages, in order: "calibration text" (tokens the model writes itself, when no calibration
     * file is given), "calibration" (tokens run through the model), "search" (candidates measured, small models;
     * total 0: not known in advance), "refit" (layers fitted again on the converted model's inputs), "attention fit"
     * (layers, mha2mla on small models) and "layers" (layers written; once per candidate and for the output).
     */
    @FunctionalInterface
    public interface Progress {
        /** A listener that ignores every update. */
        Progress NONE = (stage, done, total) -> { };

        /**
         * Reports progress within a stage.
         *
         * @param stage the stage's name (see {@link Progress})
         * @param done  units of the stage done so far
         * @param total units of the stage in all, or 0 when not known in advance
         */
        void update(String stage, long done, long total);
    }

    /**
     * What was done.
     *
     * @param plan              the plan followed (auto choices resolved)
     * @param calibrationTokens the calibration token count
     */
    public record Result(ConversionPlan plan, long calibrationTokens) {
    }

    private Converter() {
    }

    /**
     * {@return the plan for a source model's hyperparameters (no weights needed; --dry-run)}
     *
     * @param hp the source model's hyperparameters
     * @param options the options
     */
    public static ConversionPlan plan(Hyperparameters hp, ConvertOptions options) {
        return ConversionPlan.of(hp, options);
    }

    /** Writes the conversion a plan describes (the statistics and weights are fixed; the search writes many). */
    interface Writer {
        void write(ConversionPlan plan, Path out) throws IOException;
    }

    /** What is done with a candidate conversion, loaded. */
    interface OnConverted<T> {
        T apply(Model converted) throws IOException;
    }

    /**
     * Writes the plan's conversion to a temporary file (deleted afterwards, also on Ctrl-C), loads it and applies fn:
     * how the search scores a candidate and the refit measures the converted model.
     */
    static <T> T withConverted(Writer writer, ConversionPlan plan, OnConverted<T> fn) throws IOException {
        Path tmp = Files.createTempFile("mla4j-candidate-", ".gguf");
        tmp.toFile().deleteOnExit();
        try {
            writer.write(plan, tmp);
            try (Model converted = Model.load(tmp)) {
                return fn.apply(converted);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Converts a model, settling the choices left open by measurement on small models ({@link Search.Mode#AUTO}).
     *
     * @param input    the original model: a llama or qwen2 GGUF file or Hugging Face directory
     * @param output   the GGUF file to write (replaced only by a complete file)
     * @param options  the conversion options
     * @param progress told how far the conversion has come ({@link Progress#NONE} for nothing)
     * @return the plan followed and the calibration token count
     * @throws IOException when a file cannot be read or written
     */
    public static Result convert(Path input, Path output, ConvertOptions options, Progress progress) throws IOException {
        return convert(input, output, options, Search.Mode.AUTO, progress);
    }

    /**
     * Converts a model.
     *
     * @param input    the original model: a llama or qwen2 GGUF file or Hugging Face directory
     * @param output   the GGUF file to write (replaced only by a complete file)
     * @param options  the conversion options
     * @param search whether the choices left open are settled by measurement, and each layer is then fitted again on
     *     the converted model's own inputs (AUTO: for models under 50M parameters; both cost whole conversions)
     * @param progress told how far the conversion has come ({@link Progress#NONE} for nothing)
     * @return the plan followed and the calibration token count
     * @throws IOException when a file cannot be read or written
     */
    public static Result convert(Path input, Path output, ConvertOptions options, Search.Mode search, Progress progress)
            throws IOException {
        if (Files.isDirectory(output)) throw new ConversionException(output + " is a directory; give an output file name");
        try (Model model = Model.load(input)) {
            Hyperparameters hp = model.hparams();
            GgufFile gguf = model.gguf();
            ConvertOptions o = options.outType() == null ? options.withOutType(sourceType(gguf)) : options;
            ConversionPlan plan = ConversionPlan.of(hp, o);
            checkExpressible(plan, gguf);
            List<int[]> sequences = CalibrationText.sequences(model, o, progress);
            long calibTokens = TextSequences.totalTokens(sequences);
            boolean measured = Search.enabled(search, hp);
            // Models too large for the search get the attention fit on their original inputs (no whole-model
            // conversions to measure the converted inputs), on a token sample sized to the time budget per layer.
            boolean fitLarge = largeModelFit(search, plan);
            boolean keep = QueryFit.applies(plan) || AttentionFit.applies(plan);
            long kept = measured && keep ? Math.min(calibTokens, QueryFit.MAX_TOKENS)
                    : fitLarge ? AttentionFit.tokensForLargeModel(plan, calibTokens, o.calibSequence()) : 0;
            try (CalibrationStats stats = CalibrationStats.collect(model, sequences, o.threads(), kept,
                    done -> progress.update("calibration", done, calibTokens))) {
                SourceWeights weights = new SourceWeights(gguf, hp);
                Measured[] ofConverted = new Measured[hp.layers()];
                int[] positions = kept > 0 ? QueryFit.positions(sequences, (int) kept) : null;
                // The attention fit is made once per layer, in order, after the search (it is too slow for every
                // candidate): layers below fitBelow[0] are fitted on their converted inputs and kept in `fitted`.
                Map<Integer, Map<String, Object>> fitted = new HashMap<>();
                int[] fitBelow = {fitLarge ? hp.layers() : 0};
                Writer writer = (p, out) -> {
                    MlaGgufOutput.LayerConverter layers = (arena, il) -> {
                        Map<String, Object> memo = fitted.get(il);
                        if (memo != null) return onArena(arena, memo);
                        progress.update("layers", il, hp.layers());
                        LayerStats ls = withConverted(arena, layerStats(arena, stats, il, hp, positions), ofConverted[il], hp);
                        Map<String, Object> m = convertLayer(arena, weights, gguf, il, p, ls, o.calibSequence());
                        if (il < fitBelow[0] && AttentionFit.applies(p) && ls.tokens() != null) {
                            progress.update("attention fit", il, hp.layers());
                            AttentionFit.fit(arena, weights, il, p, m, ls.tokens(), weights.thetas());
                            progress.update("attention fit", il + 1, hp.layers());
                            // Kept for the candidates written after it; the large-model path writes once.
                            if (!fitLarge) fitted.put(il, onHeap(m));
                        }
                        return m;
                    };
                    new MlaGgufOutput(gguf, p, layers, il -> progress.update("layers", il + 1, hp.layers())).write(out);
                };
                ConversionPlan resolved = plan;
                if (measured) {
                    resolved = Search.tune(model, writer, plan, p -> selectedFrequencies(p, stats, weights), progress);
                }
                if (resolved.arch().equals("deepseek2") && resolved.freqFold() == ConvertOptions.AUTO) {
                    resolved = resolved.withFreqFold(FreqFoldChoice.choose(resolved));
                }
                if (measured && !resolved.identity()) {
                    recalibrate(resolved, writer, sequences, o.threads(), kept, ofConverted, il -> fitBelow[0] = il, progress);
                    fitBelow[0] = hp.layers();
                }
                writer.write(resolved, output);
                return new Result(resolved, stats.tokens());
            }
        }
    }

    /**
     * Whether the attention fit runs on the original model's inputs, without search or in-order refit: models too
     * large for the search (Mode.AUTO), where the plan gets the fit.
     */
    static boolean largeModelFit(Search.Mode search, ConversionPlan plan) {
        return search == Search.Mode.AUTO && !Search.enabled(search, plan.source()) && AttentionFit.applies(plan);
    }

    /** What the in-order refit measures of one layer of the converted model: its input moment and kept inputs. */
    record Measured(double[] moment, float[][] kept) {
    }

    /**
     * Layer by layer, in order: converts, measures the converted model's own inputs of layer il on the calibration
     * text (moment, and the kept tokens where the query fit is made), and fits layer il again on them (so each layer
     * is fitted to the inputs the layers before it, already refitted, really give it).
     */
    static void recalibrate(ConversionPlan plan, Writer writer, List<int[]> sequences, int threads, long kept,
            Measured[] ofConverted, java.util.function.IntConsumer beforeLayer, Progress progress) throws IOException {
        Hyperparameters hp = plan.source();
        for (int il = 1; il < hp.layers(); il++) {
            int layer = il;
            beforeLayer.accept(il);
            ofConverted[il] = withConverted(writer, plan, converted -> {
                try (CalibrationStats s = CalibrationStats.collect(converted, sequences, threads, kept, null);
                     Arena a = Arena.ofConfined()) {
                    return new Measured(s.moment(a, layer).segment().toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE),
                            kept > 0 ? s.keptInputs(layer) : null);
                }
            });
            progress.update("refit", il, hp.layers() - 1);
        }
    }

    /** A layer's tensors copied to the heap (Matrix -> double[][]; vectors as they are). */
    private static Map<String, Object> onHeap(Map<String, Object> m) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v instanceof org.mla4j.linalg.Matrix mm ? mm.toArray() : ((double[]) v).clone()));
        return out;
    }

    /** The tensors of {@link #onHeap} back as matrices in arena. */
    private static Map<String, Object> onArena(Arena arena, Map<String, Object> m) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v instanceof double[][] rows ? org.mla4j.linalg.Matrix.of(arena, rows) : ((double[]) v).clone()));
        return out;
    }

    /** The layer's statistics with what was measured on the converted model, when there is something. */
    private static LayerStats withConverted(Arena a, LayerStats s, Measured measured, Hyperparameters hp) {
        if (measured == null) return s;
        int n = hp.embeddingLength() + 1;
        org.mla4j.linalg.Matrix m = org.mla4j.linalg.Matrix.allocate(a, n, n);
        java.lang.foreign.MemorySegment.copy(measured.moment(), 0, m.segment(), java.lang.foreign.ValueLayout.JAVA_DOUBLE, 0,
                measured.moment().length);
        LayerStats out = s.withMoment(m);
        return measured.kept() != null && s.tokens() != null ? out.withTokens(s.tokens().withConverted(measured.kept())) : out;
    }

    /** The kept frequencies of every (layer, KV head) that the plan's rope selection gives (mha2mla). */
    static int[][][] selectedFrequencies(ConversionPlan plan, CalibrationStats stats, SourceWeights weights) {
        Hyperparameters hp = plan.source();
        double[] theta = weights.thetas();
        int[][][] kept = new int[hp.layers()][][];
        for (int il = 0; il < hp.layers(); il++) {
            // The selection reads only the pair norms: no copy of the layer's (E+1)^2 moment.
            double[][][] norms = pairNormMeans(stats, il);
            kept[il] = RopeSelection.select(plan.options().ropeSelect(), hp, plan.ropeDims(),
                    new LayerStats(null, norms[0], norms[1], null), theta, plan.options().calibSequence());
        }
        return kept;
    }

    static java.util.Map<String, Object> convertLayer(Arena arena, SourceWeights w, GgufFile gguf, int il,
            ConversionPlan plan, LayerStats stats, int context) {
        if (plan.arch().equals("deepseek2")) {
            return TransMlaLayer.convert(arena, w, il, plan, stats, plan.freqFold(), w.attentionNorm(il));
        }
        return Mha2MlaLayer.convert(arena, w, il, plan, stats, context);
    }

    /** positions: of the kept calibration tokens in their sequences, or null when none are kept. */
    static LayerStats layerStats(Arena arena, CalibrationStats stats, int il, Hyperparameters hp, int[] positions) {
        double[][][] norms = pairNormMeans(stats, il);
        float[][] kept = positions != null ? stats.keptInputs(il) : null;
        QueryFit.Tokens tokens = kept != null ? new QueryFit.Tokens(kept, kept, positions) : null;
        return new LayerStats(stats.moment(arena, il), norms[0], norms[1], tokens);
    }

    /** The mean pre-RoPE pair norms of a layer: {query [head][i], key [KV head][i]}. */
    private static double[][][] pairNormMeans(CalibrationStats stats, int il) {
        double n = stats.tokens();
        double[][] q = stats.queryPairNormSums(il), k = stats.keyPairNormSums(il);
        for (double[] row : q) for (int i = 0; i < row.length; i++) row[i] /= n;
        for (double[] row : k) for (int i = 0; i < row.length; i++) row[i] /= n;
        return new double[][][] {q, k};
    }

    /** deepseek2 cannot hold biases, per-frequency rope factors or rope scaling (formats.md). */
    private static void checkExpressible(ConversionPlan plan, GgufFile gguf) {
        if (!plan.arch().equals("deepseek2")) return;
        if (gguf.tensor("rope_freqs.weight").isPresent()) {
            throw new ConversionException(gguf.path() + " has llama3-style rope scaling (rope_freqs.weight), which "
                    + "deepseek2 cannot express; use --method mha2mla (it stores every frequency explicitly)");
        }
        if (plan.source().ropeFreqScale() != 1.0f) {
            throw new ConversionException(gguf.path() + " has linear rope scaling, which mla4j's deepseek2 reader does "
                    + "not support yet; use --method mha2mla");
        }
    }

    /** The type most of the source's matrices have (the output's default), among those the writer encodes. */
    static GgmlType sourceType(GgufFile gguf) {
        GgmlType t = gguf.tensor("blk.0.attn_q.weight").map(GgufTensorInfo::type).orElse(GgmlType.F32);
        return switch (t) {
            case F32, F16, BF16, Q8_0, Q4_0 -> t;
            default -> GgmlType.F16;
        };
    }
}
