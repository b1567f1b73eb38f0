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
            description = "Shape: tiny, small, 1b, 1b-mha (llama); tiny, small (qwen2); tiny, small, 1b, v2-lite "
                    + "(DeepSeek-V2-Lite's full shape: MoE, YaRN), moe-small (V3-style routing) (deepseek2); "
                    + "tiny, small (mha2mla).")
    String preset;

    // deepseek2 variants (tests switch one feature at a time; unset = the preset's value).
    @Option(names = "--experts", description = "deepseek2: routed experts per MoE layer (0 = a dense model).")
    Integer experts;

    @Option(names = "--experts-used", description = "deepseek2: experts chosen per token (top-k).")
    Integer expertsUsed;

    @Option(names = "--shared-experts", description = "deepseek2: shared experts (0 = none).")
    Integer sharedExperts;

    @Option(names = "--expert-ff", description = "deepseek2: FFN size of one expert.")
    Integer expertFf;

    @Option(names = "--dense-layers", description = "deepseek2: leading dense layers before the MoE layers.")
    Integer denseLayers;

    @Option(names = "--gating", description = "deepseek2: expert gating, softmax (V2) or sigmoid (V3).")
    String gating;

    @Option(names = "--expert-bias", negatable = true, description = "deepseek2: the selection bias exp_probs_b.")
    Boolean expertBias;

    @Option(names = "--groups", description = "deepseek2: expert groups (0 = none) and --groups-used of them.")
    Integer groups;

    @Option(names = "--groups-used", description = "deepseek2: expert groups the router may choose from.")
    Integer groupsUsed;

    @Option(names = "--norm-weights", negatable = true, description = "deepseek2: normalise the chosen weights.")
    Boolean normWeights;

    @Option(names = "--weights-scale", description = "deepseek2: scale of the expert weights.")
    Float weightsScale;

    @Option(names = "--q-lora", description = "deepseek2: q-LoRA rank (0 = a plain attn_q).")
    Integer qLora;

    @Option(names = "--yarn", description = "deepseek2: YaRN factor (0 = no rope scaling); --yarn-orig-ctx, --yarn-mscale.")
    Float yarnFactor;

    @Option(names = "--yarn-orig-ctx", description = "deepseek2: YaRN original context length.")
    Integer yarnOrigCtx;

    @Option(names = "--yarn-mscale", description = "deepseek2: YaRN mscale_all_dim (0.1 x it is the log multiplier).")
    Float yarnMscale;

    @Option(names = "--type", defaultValue = "f32", description = "Weight type of the matrices: " + WeightTypes.NAMES
            + " (quantized as llama-quantize does without an imatrix). " + WeightTypes.FALLBACK)
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
        GgmlType t = WeightTypes.parse(type);
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
            MlaSynthSpec spec = variant(MlaSynthSpec.preset(lookup(arch, MlaSynthSpec.presetNames())));
            Synth.write(spec, t, seed, gguf, (tensor, done, total) -> bar.update(done, total, tensor));
            shape = spec.arch() + " " + spec.name();
            params = spec.parameterCount();
        } else {
            if (anyVariant()) {
                throw new Main.UsageException("the expert, q-LoRA and YaRN options are for --arch deepseek2");
            }
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

    private boolean anyVariant() {
        return experts != null || expertsUsed != null || sharedExperts != null || expertFf != null || denseLayers != null
                || gating != null || expertBias != null || groups != null || groupsUsed != null || normWeights != null
                || weightsScale != null || qLora != null || yarnFactor != null || yarnOrigCtx != null || yarnMscale != null;
    }

    /** The preset with the deepseek2 variant options applied. */
    private MlaSynthSpec variant(MlaSynthSpec s) {
        if (!anyVariant()) return s;
        if (!s.isDeepseek2()) throw new Main.UsageException("the expert, q-LoRA and YaRN options are for --arch deepseek2");
        try {
            if (qLora != null) s = s.withQLoraRank(qLora);
            MlaSynthSpec.MoeShape m = s.moe() != null ? s.moe()
                    : new MlaSynthSpec.MoeShape(8, 2, 1, s.nFf() / 4, 1, MlaSynthSpec.MoeShape.SOFTMAX, false, 0, 0,
                            false, 1f);
            boolean wantMoe = experts == null ? s.moe() != null || moeOptionGiven() : experts > 0;
            if (!wantMoe) {
                s = s.withMoe(null);
            } else {
                int g = gating == null ? m.gating() : switch (gating.toLowerCase(Locale.ROOT)) {
                    case "softmax" -> MlaSynthSpec.MoeShape.SOFTMAX;
                    case "sigmoid" -> MlaSynthSpec.MoeShape.SIGMOID;
                    default -> throw new Main.UsageException("--gating must be softmax or sigmoid, not '" + gating + "'");
                };
                s = s.withMoe(new MlaSynthSpec.MoeShape(experts != null ? experts : m.experts(),
                        expertsUsed != null ? expertsUsed : m.used(), sharedExperts != null ? sharedExperts : m.shared(),
                        expertFf != null ? expertFf : m.expertFf(), denseLayers != null ? denseLayers : m.denseLayers(), g,
                        expertBias != null ? expertBias : m.bias(), groups != null ? groups : m.groups(),
                        groupsUsed != null ? groupsUsed : m.groupsUsed(),
                        normWeights != null ? normWeights : m.normWeights(),
                        weightsScale != null ? weightsScale : m.weightsScale()));
            }
            if (yarnFactor != null && yarnFactor == 0f) {
                s = s.withYarn(null);
            } else if (yarnFactor != null || yarnOrigCtx != null || yarnMscale != null) {
                MlaSynthSpec.YarnScaling y = s.yarn() != null ? s.yarn()
                        : new MlaSynthSpec.YarnScaling(4f, Math.max(1, s.nCtx() / 4), 1f);
                s = s.withYarn(new MlaSynthSpec.YarnScaling(yarnFactor != null ? yarnFactor : y.factor(),
                        yarnOrigCtx != null ? yarnOrigCtx : y.originalContext(),
                        yarnMscale != null ? yarnMscale : y.mscaleAllDim()));
            }
            return s;
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    private boolean moeOptionGiven() {
        return expertsUsed != null || sharedExperts != null || expertFf != null || denseLayers != null || gating != null
                || expertBias != null || groups != null || groupsUsed != null || normWeights != null
                || weightsScale != null;
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
