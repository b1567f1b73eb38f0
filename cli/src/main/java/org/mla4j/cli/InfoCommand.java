package org.mla4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.mla4j.Hyperparameters;
import org.mla4j.Mla4jException;
import org.mla4j.Model;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufType;
import org.mla4j.hf.HfModelDir;
import org.mla4j.hf.HfToGguf;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "info", description = "Show a GGUF model's architecture, hyperparameters, tensors and KV cache size.")
final class InfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or Hugging Face model directory.")
    Path model;

    @Option(names = "--keys", description = "Also list every metadata key and value.")
    boolean keys;

    @Option(names = "--no-tensors", description = "Do not list the tensors.")
    boolean noTensors;

    @Override
    public Integer call() throws java.io.IOException {
        if (!HfModelDir.isModelDir(model)) return show(model);
        // A Hugging Face directory: shown as the GGUF it converts to (what Model.load runs).
        Path shown = model;
        model = HfToGguf.toTemporaryGguf(shown);
        try {
            System.out.printf(Locale.ROOT, "directory:       %s (Hugging Face, converted to GGUF for inspection)%n", shown);
            return show(model);
        } finally {
            java.nio.file.Files.deleteIfExists(model);
        }
    }

    private int show(Path file) {
        PrintStream out = System.out;
        try (GgufFile gguf = GgufFile.open(file)) {
            ModelStats stats = ModelStats.of(gguf);
            out.printf(Locale.ROOT, "file:            %s (%s, %d bytes)%n", model, Format.bytes(gguf.fileSize()),
                    gguf.fileSize());
            out.printf(Locale.ROOT, "gguf:            version %d, alignment %d, %d keys, %d tensors%n", gguf.version(),
                    gguf.alignment(), gguf.keys().size(), gguf.tensors().size());
            out.printf(Locale.ROOT, "architecture:    %s%n", gguf.getString("general.architecture").orElse("(none)"));
            gguf.getString("general.name").ifPresent(n -> out.printf("name:            %s%n", n));
            out.printf(Locale.ROOT, "parameters:      %s (%d)%n", Format.count(stats.parameters()), stats.parameters());
            out.printf(Locale.ROOT, "tensor data:     %s; types: %s%n", Format.bytes(stats.tensorBytes()),
                    stats.typeSummary());
            out.printf(Locale.ROOT, "type mix:        %s%n", stats.typeMix());
            if (!stats.refusedTypes().isEmpty()) {
                out.printf(Locale.ROOT, "refused types:   %s (mla4j cannot compute with them; this model does not load)%n",
                        stats.refusedTypes());
            }
            gguf.getString("tokenizer.ggml.model").ifPresent(m -> out.printf(Locale.ROOT,
                    "tokenizer:       %s, %d tokens%n", m, gguf.contains("tokenizer.ggml.tokens")
                            ? gguf.arrayLength("tokenizer.ggml.tokens") : 0));
            printHyperparameters(out);
            if (keys) printKeys(out, gguf);
            if (!noTensors) printTensors(out, gguf.tensors());
        }
        return 0;
    }

    private void printHyperparameters(PrintStream out) {
        try (Model m = Model.load(model)) {
            Hyperparameters h = m.hparams();
            out.printf(Locale.ROOT, "hyperparameters: vocab %d, context %d, embedding %d, layers %d, heads %d, kv heads %d "
                    + "(group %d), head dim %d/%d, ffn %d%n", h.vocabSize(), h.contextLength(), h.embeddingLength(),
                    h.layers(), h.heads(), h.kvHeads(), h.groupSize(), h.headDimK(), h.headDimV(),
                    h.feedForwardLength());
            out.printf(Locale.ROOT, "rope:            %d dims, %s, base %g, scale %g; rms eps %g; output %s; qkv bias %s%n",
                    h.ropeDims(), h.ropeNeox() ? "NEOX" : "NORM", h.ropeFreqBase(), h.ropeFreqScale(), h.rmsEps(),
                    h.tiedOutput() ? "tied to token_embd" : "own", h.qkvBias() ? "yes" : "no");
            m.mla().ifPresent(x -> out.printf(Locale.ROOT, "latent attention: kv_lora_rank %d, q_lora_rank %d, nope %d, rope %d "
                    + "x %d head(s), latent norm %s, kq_scale %g; %d values cached per token and layer%n", x.kvLoraRank(),
                    x.qLoraRank(), x.headDimNope(), x.ropeDim(), x.ropeHeads(), x.latentNorm() ? "yes" : "no", x.kqScale(),
                    x.cacheWidth()));
            printExperts(out, m);
            StringBuilder kv = new StringBuilder();
            long f16 = 0;
            for (GgmlType t : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0}) {
                try {
                    long bytes = m.kvBytesPerToken(t);
                    if (t == GgmlType.F16) f16 = bytes;
                    kv.append(kv.isEmpty() ? "" : ", ").append(bytes).append(" (").append(t).append(')');
                } catch (Mla4jException | IllegalArgumentException e) {
                    // not available for this model (GQA caches are F32/F16 only; quantized rows need 32 values)
                }
            }
            out.printf(Locale.ROOT, "kv cache:        bytes/token: %s; %s (F16) at the training context of %d%n", kv,
                    Format.bytes(f16 * h.contextLength()), h.contextLength());
        } catch (Mla4jException e) {
            out.printf("runnable:        no (%s)%n", e.getMessage());
        }
    }

    private static void printKeys(PrintStream out, GgufFile gguf) {
        out.println("metadata:");
        for (String k : gguf.keys()) {
            GgufType t = gguf.type(k).orElseThrow();
            String value;
            if (t == GgufType.ARRAY) {
                value = "[" + gguf.arrayElementType(k).orElseThrow() + " x " + gguf.arrayLength(k) + "]";
            } else {
                value = String.valueOf(gguf.getValue(k));
                if (value.length() > 80) value = value.substring(0, 77) + "...";
            }
            out.printf(Locale.ROOT, "  %-48s %-8s %s%n", k, t, value);
        }
    }

    private static void printTensors(PrintStream out, List<GgufTensorInfo> tensors) {
        out.printf(Locale.ROOT, "tensors:%n  %-36s %-6s %-24s %14s%n", "name", "type", "shape", "bytes");
        for (GgufTensorInfo t : tensors) {
            out.printf(Locale.ROOT, "  %-36s %-6s %-24s %14d%n", t.name(), t.type(), t.shapeString(), t.byteSize());
        }
    }

    /** YaRN scaling, and deepseek2 Mixture-of-Experts keys (as the loader reads them; a model whose layers are all dense prints none). */
    private static void printExperts(java.io.PrintStream out, Model m) {
        org.mla4j.gguf.GgufFile g = m.gguf();
        String a = m.hparams().architecture() + ".";
        long layers = m.hparams().layers(), dense = g.getLong(a + "leading_dense_block_count").orElse(0);
        g.getString(a + "rope.scaling.type").filter(t -> t.equals("yarn")).ifPresent(t -> out.printf(Locale.ROOT,
                "yarn:            factor %g over %d positions, log multiplier %g%n",
                g.getDouble(a + "rope.scaling.factor").orElse(0.0),
                g.getLong(a + "rope.scaling.original_context_length").orElse(m.hparams().contextLength()),
                g.getDouble(a + "rope.scaling.yarn_log_multiplier").orElse(0.0)));
        if (!m.hparams().architecture().equals("deepseek2") || dense >= layers) return;
        long gating = g.getLong(a + "expert_gating_func").orElse(1);
        long groups = g.getLong(a + "expert_group_count").orElse(0);
        out.printf(Locale.ROOT, "experts:         %d MoE layers (from layer %d): %d routed, top %d, %d shared, expert ffn %d; "
                + "%s gating%s%s, weights %s, scale %g%n", layers - dense, dense,
                g.getLong(a + "expert_count").orElse(0), g.getLong(a + "expert_used_count").orElse(0),
                g.getLong(a + "expert_shared_count").orElse(0), g.getLong(a + "expert_feed_forward_length").orElse(0),
                gating == 2 ? "sigmoid" : "softmax", g.tensor("blk." + dense + ".exp_probs_b.bias").isPresent()
                        ? " with selection bias" : "",
                groups > 1 ? ", " + groups + " groups (" + g.getLong(a + "expert_group_used_count").orElse(0) + " used)"
                        : "",
                g.getBoolean(a + "expert_weights_norm").orElse(false) ? "normalised" : "not normalised",
                g.getDouble(a + "expert_weights_scale").orElse(0.0));
    }
}
