package org.mla4j.convert;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.mla4j.Hyperparameters;
import org.mla4j.Model;
import org.mla4j.eval.Evaluator;
import org.mla4j.eval.SampledText;
import org.mla4j.gguf.GgmlType;

/**
 * The choices the papers leave open, settled by measurement: candidate conversions are written to a temporary file
 * and scored by their mean KL(original || converted) on held-out text the original samples (seed + 1, so neither the
 * calibration text nor the default evaluation text). Searched: mha2mla's split of the cache budget between RoPE dims
 * and latent, then the kept frequencies of every (layer, KV head) by coordinate descent (small heads only), then the
 * key/value balance; transmla's rope dim m and FreqFold F for the budget, and the key/value balance of BKV-PCA. Each candidate is a whole conversion, so the search
 * is for small models (Mode.AUTO: under {@value #AUTO_MAX_PARAMS} parameters).
 */
public final class Search {
    /** Whether the search runs. */
    public enum Mode {
        /** For models under 50M parameters. */
        AUTO,
        /** Always. */
        ON,
        /** Never: the options' own choices. */
        OFF
    }

    static final long AUTO_MAX_PARAMS = 50_000_000L;
    static final int HELD_OUT_TOKENS = 1024;

    private final Model model;
    private final Converter.Writer writer;
    private final List<int[]> heldOut;
    private final Evaluator.Options evalOptions;
    private final Converter.Progress progress;
    private int evaluated;

    private Search(Model model, Converter.Writer writer, ConvertOptions o, Converter.Progress progress) {
        this.model = model;
        this.writer = writer;
        this.progress = progress;
        int length = Math.min(o.calibSequence(), model.hparams().contextLength());
        this.heldOut = SampledText.generate(model, HELD_OUT_TOKENS, o.seed() + 1, length, o.threads(), null);
        this.evalOptions = Evaluator.Options.defaults().withThreads(o.threads()).withReferenceKvType(GgmlType.F32)
                .withConvertedKvType(GgmlType.F32);
    }

    static boolean enabled(Mode mode, Hyperparameters hp) {
        if (mode != Mode.AUTO) return mode == Mode.ON;
        long attn = (long) hp.embeddingLength() * hp.headDimK() * (2L * hp.heads() + 2L * hp.kvHeads());
        long ffn = 3L * hp.embeddingLength() * hp.feedForwardLength();
        return (long) hp.layers() * (attn + ffn) + 2L * hp.vocabSize() * hp.embeddingLength() < AUTO_MAX_PARAMS;
    }

    /**
     * @param selection the rope selection's kept frequencies [layer][KV head] for a plan (the descent's start)
     */
    static ConversionPlan tune(Model model, Converter.Writer writer, ConversionPlan plan,
            java.util.function.Function<ConversionPlan, int[][][]> selection, Converter.Progress progress)
            throws IOException {
        if (plan.identity()) return plan;
        Search s = new Search(model, writer, plan.options(), progress);
        s.selection = selection;
        return plan.arch().equals("deepseek2") ? s.transmla(plan) : s.mha2mla(plan);
    }

    private java.util.function.Function<ConversionPlan, int[][][]> selection;

    private record Scored(ConversionPlan plan, double kl) {
    }

    private Scored best(List<ConversionPlan> candidates) throws IOException {
        Scored best = null;
        for (ConversionPlan p : candidates) {
            double kl = score(p);
            if (best == null || kl < best.kl) best = new Scored(p, kl);
        }
        return best;
    }

    /** Mean KL of the conversion on the held-out text. */
    private double score(ConversionPlan p) throws IOException {
        return Converter.withConverted(writer, p, converted -> {
            double kl = Evaluator.evaluate(model, converted, heldOut, evalOptions, null).klMean();
            progress.update("search", ++evaluated, 0);
            return Double.isFinite(kl) ? kl : Double.MAX_VALUE;
        });
    }

    private ConversionPlan mha2mla(ConversionPlan plan) throws IOException {
        Hyperparameters hp = plan.source();
        ConvertOptions o = plan.options();
        int dh = hp.headDimK(), hkv = hp.kvHeads();
        // 1. The budget split between RoPE dims and latent, when the user gave a budget and left the split open.
        if (o.cacheValues() != ConvertOptions.AUTO && o.ropeDims() == ConvertOptions.AUTO && o.kvRank() == ConvertOptions.AUTO) {
            List<ConversionPlan> splits = new ArrayList<>();
            int maxRank = Math.min(hp.embeddingLength(), hkv * (2 * dh));
            for (int r = 2; r < dh; r += 2) {
                // Every r on small heads; else 2, 4, 6, 8, 12, 16, 24, 32, 48, ... (each candidate is a whole conversion).
                if (dh > 16 && r > 8 && !isRoughlyGeometric(r)) continue;
                int c = o.cacheValues() - hkv * r;
                if (c >= hkv && c <= Math.min(maxRank, hkv * (2 * dh - r))) splits.add(plan.withRope(r, c));
            }
            if (!splits.isEmpty()) plan = best(splits).plan;
        }
        int r = plan.ropeDims();
        if (r == 0 || r == dh) return plan;
        // 2. Coordinate descent over the kept frequencies of each (layer, KV head), from the rotation-aware choice: only
        // where every subset can be tried (at most 16 per KV head, small heads). At d_h 64 the single swaps alone are
        // ~100 whole conversions per KV head and layer (it ran > 21 minutes on a 3M-parameter model).
        int[][][] kept = selection.apply(plan);
        double current = score(plan.withKeptFrequencies(kept));
        boolean descend = binomial(dh / 2, r / 2) <= 16;
        for (int layer = 0; descend && layer < hp.layers(); layer++) {
            for (int j = 0; j < hkv; j++) {
                int[] start = kept[layer][j];
                for (int[] cand : neighbours(start, dh / 2)) {
                    kept[layer][j] = cand;
                    double kl = score(plan.withKeptFrequencies(kept));
                    if (kl < current) {
                        current = kl;
                        start = cand;
                    }
                }
                kept[layer][j] = start;
            }
        }
        // 3. The key/value balance of the shared latent (the joint factorisation).
        ConversionPlan chosen = plan.withKeptFrequencies(kept);
        if (o.svd() != ConvertOptions.SvdMode.JOINT) return chosen;
        List<ConversionPlan> balances = new ArrayList<>();
        for (double b : new double[] {0.5, 2.0}) balances.add(chosen.withKeyBalance(b));
        Scored b = best(balances);
        return b.kl < current ? b.plan : chosen;
    }

    /** r = 2^k or 3 x 2^k: the split candidates on large heads. */
    static boolean isRoughlyGeometric(int r) {
        int odd = r >> Integer.numberOfTrailingZeros(r);
        return odd == 1 || odd == 3;
    }

    /** All r/2-subsets of [0, half) when there are at most 16, else the single swaps of one kept index. */
    static List<int[]> neighbours(int[] kept, int half) {
        int k = kept.length;
        List<int[]> out = new ArrayList<>();
        if (binomial(half, k) <= 16) {
            combos(half, k, 0, new int[k], 0, out);
            out.removeIf(c -> java.util.Arrays.equals(c, kept));
            return out;
        }
        java.util.Set<Integer> in = new java.util.HashSet<>();
        for (int v : kept) in.add(v);
        for (int i = 0; i < k; i++) {
            for (int v = 0; v < half; v++) {
                if (in.contains(v)) continue;
                int[] c = kept.clone();
                c[i] = v;
                java.util.Arrays.sort(c);
                out.add(c);
            }
        }
        return out;
    }

    private static void combos(int n, int k, int from, int[] cur, int depth, List<int[]> out) {
        if (depth == k) {
            out.add(cur.clone());
            return;
        }
        for (int v = from; v < n; v++) {
            cur[depth] = v;
            combos(n, k, v + 1, cur, depth + 1, out);
        }
    }

    static long binomial(int n, int k) {
        long b = 1;
        for (int i = 1; i <= k; i++) b = b * (n - k + i) / i;
        return b;
    }

    private ConversionPlan transmla(ConversionPlan plan) throws IOException {
        Hyperparameters hp = plan.source();
        ConvertOptions o = plan.options();
        int dh = hp.headDimK(), lat = hp.kvHeads() * dh;
        List<ConversionPlan> shapes = new ArrayList<>();
        List<Integer> ms = new ArrayList<>();
        if (o.ropeDim() == ConvertOptions.AUTO && o.cacheValues() != ConvertOptions.AUTO) {
            for (int m = 2; m <= dh; m += 2) if (dh % m == 0) ms.add(m);
        } else {
            ms.add(plan.ropeDims());
        }
        for (int m : ms) {
            int c = o.cacheValues() != ConvertOptions.AUTO ? o.cacheValues() - m : plan.latent();
            if (c < 1 || c > 2 * lat - m) continue;
            int collapse = dh / m;
            List<Integer> fs = new ArrayList<>();
            if (o.freqFold() != ConvertOptions.AUTO) {
                fs.add(o.freqFold());
            } else {
                for (int f = collapse; f <= dh / 2; f *= 2) if ((dh / 2) % f == 0) fs.add(f);
            }
            for (int f : fs) shapes.add(plan.withRope(m, c).withFreqFold(f));
        }
        ConversionPlan shape = shapes.size() == 1 ? shapes.get(0) : best(shapes).plan;
        List<ConversionPlan> balances = new ArrayList<>();
        for (double b : new double[] {0.5, 1.0, 2.0}) balances.add(shape.withKeyBalance(b));
        return best(balances).plan;
    }
}
