package org.mla4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConversionException;
import org.mla4j.convert.ConversionPlan;
import org.mla4j.convert.ConvertOptions;
import org.mla4j.convert.ConvertOptions.LatentNorm;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.convert.ConvertOptions.RopeSelect;
import org.mla4j.convert.ConvertOptions.SvdMode;
import org.mla4j.convert.Converter;
import org.mla4j.convert.Search;
import org.mla4j.convert.SourceHparams;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.hf.GgufToHf;
import org.mla4j.hf.HfConfig;
import org.mla4j.hf.HfModelDir;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "convert", description = "Convert a llama/qwen2 model (MHA or GQA) to Multi-head Latent Attention: "
        + "MHA2MLA (arch mha2mla) or TransMLA (arch deepseek2, runs in llama.cpp too).")
final class ConvertCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "INPUT", description = "A GGUF file (llama, qwen2) or "
            + "a Hugging Face directory; for --dry-run also a config.json alone (default: the embedded stories260K "
            + "model).")
    Path input;

    @Option(names = {"-o", "--output"}, description = "Output GGUF file (written to a temporary file, then renamed).")
    Path output;

    @Option(names = "--method", required = true, description = "mha2mla or transmla.")
    String method;

    @Option(names = "--lossless", description = "The exact form (RoPE on every key dim, a latent of all values): "
            + "logits unchanged, no cache reduction.")
    boolean lossless;

    @Option(names = "--kv-cache", paramLabel = "N", description = "Cache values per token and layer to aim for "
            + "(mha2mla: n_kv x (r + d_kv); transmla: kv-lora-rank + rope-dim).")
    Integer kvCache;

    @Option(names = "--rope-select", description = "mha2mla: high, low, uniform, 2-norm or rotation-aware (default).")
    String ropeSelect;

    @Option(names = "--rope-dims", paramLabel = "r", description = "mha2mla: RoPE dims kept per KV head (even).")
    Integer ropeDims;

    @Option(names = "--svd", description = "mha2mla: joint (default) or split.")
    String svd;

    @Option(names = "--kv-rank", paramLabel = "d_kv", description = "mha2mla: latent dims per KV head.")
    Integer kvRank;

    @Option(names = "--whiten", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "mha2mla: activation-aware SVD (whitened by the calibration covariance); --no-whiten for the "
                    + "paper's weight SVD.")
    boolean whiten;

    @Option(names = "--refit", description = "mha2mla: least-squares refit of the up-projections on calibration data.")
    boolean refit;

    @Option(names = "--query-fit", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "mha2mla: fit the queries to the original's rotated attention scores on calibration tokens "
                    + "(made where the converter searches, i.e. small models; --no-query-fit to skip).")
    boolean queryFit;

    @Option(names = "--attention-fit", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "After the closed form, fit each converted layer's attention matrices jointly to the "
                    + "original attention's outputs on the calibration sequences (mha2mla; transmla with the exact "
                    + "latent norm and no --q-lora-rank; made where the converter searches, i.e. models under 50M "
                    + "parameters; --no-attention-fit to skip).")
    boolean attentionFit;

    @Option(names = "--fit-seconds", paramLabel = "S",
            description = "Time budget of the attention fit per layer in seconds (default 25; the steps are cut to it).")
    Double fitSeconds;

    @Option(names = "--freqfold", description = "transmla: FreqFold F, or auto.")
    String freqFold;

    @Option(names = "--kv-lora-rank", paramLabel = "C", description = "transmla: latent size (default min(512, max)).")
    Integer kvLoraRank;

    @Option(names = "--rope-dim", paramLabel = "m", description = "transmla: shared rope key dims (default min(64, d_h)).")
    Integer ropeDim;

    @Option(names = "--q-lora-rank", paramLabel = "Q", description = "transmla: compress the query to Q dims "
            + "(attn_q_a/attn_q_b, as DeepSeek-V2); default 0 (a plain attn_q).")
    Integer qLoraRank;

    @Option(names = "--pca", description = "transmla: BKV-PCA from activations (default) or weights.")
    String pca;

    @Option(names = "--latent-norm", description = "transmla: exact (default; identity by construction) or calibrated.")
    String latentNorm;

    @Option(names = "--paper-baseline", description = "The papers' own choices: 2-norm + joint weight SVD (mha2mla); "
            + "RoRoPE + FreqFold + weight-only PCA (transmla); no search.")
    boolean paperBaseline;

    @Option(names = "--type", description = "Weight type of the output matrices: " + WeightTypes.NAMES
            + " (default: the source's). Rows that are not whole blocks get llama-quantize's fallback, else F32.")
    String type;

    @Option(names = "--calibration", paramLabel = "FILE", description = "Plain-text calibration file (default: text "
            + "the model generates from BOS, seed --seed).")
    Path calibration;

    @Option(names = "--calib-tokens", defaultValue = "2048", description = "Calibration tokens (default 2048).")
    int calibTokens;

    @Option(names = "--calib-seq", defaultValue = "256", description = "Tokens per calibration sequence (default 256).")
    int calibSeq;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the generated calibration text (default 42).")
    long seed;

    @Option(names = {"-t", "--threads"}, defaultValue = "0", description = "Threads (default: all cores).")
    int threads;

    @Option(names = "--dry-run", description = "Print the plan (tensor shapes, KV cache before and after) and stop.")
    boolean dryRun;

    @Option(names = "--search", defaultValue = "auto", description = "Settle the choices left open (budget split, "
            + "kept frequencies, FreqFold, K/V balance) by measuring candidates on held-out text: on, off, or auto "
            + "(on for models under 50M parameters).")
    String search;

    @Option(names = "--format", defaultValue = "gguf", description = "gguf (default), or hf: also write a Hugging Face "
            + "directory (safetensors + DeepSeek-V3 config.json, exact in transformers, vLLM and SGLang; --method "
            + "transmla without --lossless) next to the GGUF, named OUTPUT-hf.")
    String format;

    @Override
    public Integer call() throws IOException {
        ConvertOptions o = options();
        if (output == null && !dryRun) throw new Main.UsageException("-o OUTPUT is required (or --dry-run)");
        input = DefaultModel.orEmbedded(input, "INPUT");
        if (dryRun) {
            System.out.print(Converter.plan(sourceHparams(), o).describe());
            return 0;
        }
        if (!format.equals("gguf") && !format.equals("hf")) {
            throw new Main.UsageException("--format must be gguf or hf, not '" + format + "'");
        }
        if (!Files.isRegularFile(input) && !HfModelDir.isModelDir(input)) {
            throw new ConversionException(input + ": no such file (give a GGUF file or a Hugging Face directory)");
        }
        if (format.equals("hf")) checkHfExportable(Converter.plan(sourceHparams(), o));
        ProgressBar bar = new ProgressBar("convert");
        long t0 = System.nanoTime();
        Search.Mode mode = switch (search) {
            case "auto" -> paperBaseline ? Search.Mode.OFF : Search.Mode.AUTO; // the papers search nothing
            case "on" -> Search.Mode.ON;
            case "off" -> Search.Mode.OFF;
            default -> throw new Main.UsageException("--search must be on, off or auto, not '" + search + "'");
        };
        // --verbose (the global option) prints each stage's wall and CPU time, to set against --dry-run's estimate.
        StageTimes times = spec.commandLine().getParseResult().hasMatchedOption("--verbose") ? new StageTimes(System.err) : null;
        if (times != null) StageTimes.showConverterLog();
        long cpu0 = StageTimes.cpuNanos();
        Converter.Result r = Converter.convert(input, output, o, mode, (stage, done, total) -> {
            if (times != null) times.update(stage);
            bar.update(done, total > 0 ? total : done + 1, stage);
        });
        bar.finish();
        if (times != null) {
            times.finish();
            System.err.printf(Locale.ROOT, "cpu %.1f s in all%n", (StageTimes.cpuNanos() - cpu0) / 1e9);
        }
        ConversionPlan p = r.plan();
        System.err.printf(Locale.ROOT, "wrote %s: %s, KV cache %d -> %d values per token per layer (%.2f%% removed), "
                + "%d calibration tokens, %.1f s%n", output, p.arch(), p.sourceCacheValues(), p.cacheValues(),
                p.reductionPercent(), r.calibrationTokens(), (System.nanoTime() - t0) / 1e9);
        if (format.equals("hf")) {
            Path dir = hfDirectory(output);
            try (GgufFile g = GgufFile.open(output)) {
                GgufToHf.write(g, dir, null, (tensor, done, total) -> bar.update(done, total, tensor));
            }
            bar.finish();
            System.err.println("wrote " + dir + ": Hugging Face directory (safetensors, DeepSeek-V3 config.json)");
        }
        return 0;
    }

    /**
     * Only deepseek2 output has a Hugging Face form (DeepSeek-V3); refused before any work is done. The mha2mla
     * architecture, which --method mha2mla and --lossless of a model with several KV heads write, keeps one RoPE key
     * per KV head on that head's own frequencies, while DeepSeek-V3 has one RoPE key shared by all heads.
     */
    static void checkHfExportable(ConversionPlan plan) {
        if (plan.arch().equals("deepseek2")) return;
        String what = plan.options().lossless() ? "--lossless of a model with " + plan.source().kvHeads()
                + " KV heads" : "--method mha2mla";
        throw new Main.UsageException("--format hf: " + what + " writes the mha2mla architecture (a RoPE key per KV "
                + "head), which a DeepSeek-V3 Hugging Face model cannot express; --method transmla without --lossless "
                + "exports to Hugging Face (--lossless exports only for a model with one KV head)");
    }

    /** OUTPUT.gguf -> OUTPUT-hf */
    static Path hfDirectory(Path output) {
        String name = output.getFileName().toString();
        if (name.endsWith(".gguf")) name = name.substring(0, name.length() - 5);
        return output.resolveSibling(name + "-hf");
    }

    /** From a GGUF file's metadata, or a Hugging Face config.json (or the directory holding it): no weights read. */
    private Hyperparameters sourceHparams() throws IOException {
        if (!Files.exists(input)) throw new ConversionException(input + ": no such file");
        Path config = Files.isDirectory(input) ? input.resolve(HfModelDir.CONFIG)
                : input.getFileName().toString().endsWith(".json") ? input : null;
        if (config != null) return SourceHparams.fromHfConfig(HfConfig.read(config));
        try (GgufFile g = GgufFile.open(input)) {
            return SourceHparams.fromGguf(g);
        }
    }

    private ConvertOptions options() {
        Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "mha2mla" -> Method.MHA2MLA;
            case "transmla" -> Method.TRANSMLA;
            default -> throw new Main.UsageException("--method must be mha2mla or transmla, not '" + method + "'");
        };
        ConvertOptions o = paperBaseline ? ConvertOptions.paperBaseline(m) : ConvertOptions.defaults(m);
        o = o.withLossless(lossless).withThreads(threads).withCalibration(calibration, calibTokens, calibSeq, seed)
                .withOutType(type == null ? null : outType(type));
        if (!paperBaseline || !whiten) o = o.withWhiten(whiten && !paperBaseline);
        if (kvCache != null) {
            if (kvCache < 1) throw new Main.UsageException("--kv-cache must be at least 1, not " + kvCache);
            o = o.withCacheValues(kvCache);
        }
        if (ropeSelect != null) o = o.withRopeSelect(ropeSelect(ropeSelect));
        if (ropeDims != null) o = o.withRopeDims(ropeDims);
        if (svd != null) o = o.withSvd(switch (svd) {
            case "joint" -> SvdMode.JOINT;
            case "split" -> SvdMode.SPLIT;
            default -> throw new Main.UsageException("--svd must be joint or split, not '" + svd + "'");
        });
        if (kvRank != null) o = o.withKvRank(kvRank);
        if (refit) o = o.withRefit(true);
        if (!queryFit) o = o.withQueryFit(false);
        if (!attentionFit) o = o.withAttentionFit(false);
        if (fitSeconds != null) {
            if (!(fitSeconds > 0) || fitSeconds > 86400) throw new Main.UsageException("--fit-seconds must be above 0 and at most 86400, not " + fitSeconds);
            o = o.withFitSeconds(fitSeconds);
        }
        if (freqFold != null && !freqFold.equals("auto")) o = o.withFreqFold(positive("--freqfold", freqFold));
        if (kvLoraRank != null) o = o.withKvLoraRank(kvLoraRank);
        if (ropeDim != null) o = o.withRopeDim(ropeDim);
        if (qLoraRank != null) o = o.withQLoraRank(qLoraRank);
        if (pca != null) o = o.withPcaFromActivations(switch (pca) {
            case "activations" -> true;
            case "weights" -> false;
            default -> throw new Main.UsageException("--pca must be activations or weights, not '" + pca + "'");
        });
        if (latentNorm != null) o = o.withLatentNorm(switch (latentNorm) {
            case "exact" -> LatentNorm.EXACT;
            case "calibrated" -> LatentNorm.CALIBRATED;
            default -> throw new Main.UsageException("--latent-norm must be exact or calibrated, not '" + latentNorm + "'");
        });
        if (calibTokens < 1 || calibSeq < 2) throw new Main.UsageException("--calib-tokens and --calib-seq must be positive");
        return o;
    }

    private static RopeSelect ropeSelect(String s) {
        return switch (s) {
            case "high" -> RopeSelect.HIGH;
            case "low" -> RopeSelect.LOW;
            case "uniform" -> RopeSelect.UNIFORM;
            case "2-norm" -> RopeSelect.TWO_NORM;
            case "rotation-aware" -> RopeSelect.ROTATION_AWARE;
            default -> throw new Main.UsageException("--rope-select must be high, low, uniform, 2-norm or rotation-aware, "
                    + "not '" + s + "'");
        };
    }

    private static GgmlType outType(String s) {
        return WeightTypes.parse(s);
    }

    private static int positive(String option, String v) {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) return n;
        } catch (NumberFormatException e) {
            // falls through
        }
        throw new Main.UsageException(option + " must be a positive integer or auto, not '" + v + "'");
    }
}
