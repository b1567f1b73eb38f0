package org.mla4j.convert;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConvertOptions.Method;
import org.mla4j.convert.ConvertOptions.SvdMode;

/**
 * What a conversion will produce, resolved from the source hyperparameters and the options before any weight is
 * read: the output architecture, its attention dimensions, the attention tensors of each layer and the KV cache
 * size. {@code mla4j convert --dry-run} prints it; the converter follows it.
 *
 * @param source the source model's hyperparameters
 * @param options the conversion options
 * @param arch output architecture: "mha2mla" or "deepseek2"
 * @param ropeDims mha2mla: r per KV head; deepseek2: m (the one shared rope key)
 * @param latent latent size C (kv_lora_rank)
 * @param latentKey split factorisation: latent dims of the key part (the rest are the value part); else 0
 * @param nope key dims per head scored through the latent (mha2mla d_h - r, deepseek2 d_h)
 * @param freqFold transmla FreqFold F, or {@link ConvertOptions#AUTO} when it is chosen from calibration
 * @param identity the exact form (--lossless): RoPE on every key dim, a latent of all values (mha2mla: identity
 *     up-projection; deepseek2, a one-KV-head source only: the full-rank TransMLA construction); nothing to search
 * @param keptFrequencies mha2mla: [layer][KV head] frequency indices that keep RoPE, chosen by the search; null =
 *     options().ropeSelect()
 * @param keyBalance extra weight divisor of the keys against the values in the shared latent: transmla's BKV-PCA (1 =
 *     TransMLA's alpha), mha2mla's joint factorisation (1 = as the paper)
 */
public record ConversionPlan(Hyperparameters source, ConvertOptions options, String arch, int ropeDims, int latent,
        int latentKey, int nope, int freqFold, boolean identity, int[][][] keptFrequencies, double keyBalance) {

    /**
     * {@return this plan with another split of the budget}
     *
     * @param r rope dims (see {@link #ropeDims})
     * @param c latent size
     */
    public ConversionPlan withRope(int r, int c) {
        return new ConversionPlan(source, options, arch, r, c, latentKey, arch.equals("deepseek2") ? nope : source.headDimK() - r,
                freqFold, identity, null, keyBalance);
    }

    /**
     * {@return this plan with another FreqFold}
     *
     * @param f FreqFold F
     */
    public ConversionPlan withFreqFold(int f) {
        return new ConversionPlan(source, options, arch, ropeDims, latent, latentKey, nope, f, identity, keptFrequencies,
                keyBalance);
    }

    /**
     * {@return this plan with chosen frequencies}
     *
     * @param kept [layer][KV head] frequency indices that keep RoPE
     */
    public ConversionPlan withKeptFrequencies(int[][][] kept) {
        return new ConversionPlan(source, options, arch, ropeDims, latent, latentKey, nope, freqFold, identity, kept,
                keyBalance);
    }

    /**
     * {@return this plan with another key/value balance}
     *
     * @param b the balance (see {@link #keyBalance})
     */
    public ConversionPlan withKeyBalance(double b) {
        return new ConversionPlan(source, options, arch, ropeDims, latent, latentKey, nope, freqFold, identity,
                keptFrequencies, b);
    }

    /**
     * One attention tensor of the output.
     *
     * @param name  the tensor's name within its block, e.g. "attn_kv_a_mqa.weight"
     * @param shape ggml dimensions, innermost first
     * @param note  what it holds
     */
    public record TensorSpec(String name, long[] shape, String note) {
    }

    /**
     * {@return the plan for a source model and options}
     *
     * @param hp the source model's hyperparameters
     * @param o  the options
     * @throws ConversionException when the source or the options cannot be converted (the message says why)
     */
    public static ConversionPlan of(Hyperparameters hp, ConvertOptions o) {
        checkSource(hp);
        int dh = hp.headDimK(), hkv = hp.kvHeads(), lat = hkv * dh;
        if (o.lossless() && o.method() == Method.TRANSMLA && hp.kvHeads() == 1 && !hp.qkvBias()) {
            // One KV head: its whole key is deepseek2's single shared rope key (m = d_h, the same frequencies, no
            // FreqFold) and the latent holds the d_h values at full rank, so TransMLA's construction is exact and
            // the model stays a stock deepseek2 (llama.cpp, Hugging Face export). Query compression and the
            // calibrated latent norm would not be exact: the lossless form uses neither.
            ConvertOptions exact = o.withQLoraRank(0).withLatentNorm(ConvertOptions.LatentNorm.EXACT);
            return new ConversionPlan(hp, exact, "deepseek2", dh, dh, 0, dh, 1, true, null, 1.0);
        }
        if (o.lossless()) {
            // Several KV heads each rotate their own key: deepseek2's one shared rope key cannot hold that.
            return new ConversionPlan(hp, o, "mha2mla", dh, lat, 0, 0, 0, true, null, 1.0);
        }
        return o.method() == Method.MHA2MLA ? mha2mla(hp, o) : transmla(hp, o);
    }

    private static void checkSource(Hyperparameters hp) {
        if (!hp.architecture().equals("llama") && !hp.architecture().equals("qwen2")) {
            throw new ConversionException("the input's architecture is '" + hp.architecture()
                    + "'; conversion reads llama and qwen2 models (MHA or GQA)");
        }
        if (hp.headDimK() != hp.headDimV() || hp.ropeDims() != hp.headDimK()) {
            throw new ConversionException("conversion needs equal key and value head sizes with RoPE on the whole "
                    + "head (key " + hp.headDimK() + ", value " + hp.headDimV() + ", rope " + hp.ropeDims() + ")");
        }
    }

    private static ConversionPlan mha2mla(Hyperparameters hp, ConvertOptions o) {
        int dh = hp.headDimK(), hkv = hp.kvHeads(), e = hp.embeddingLength();
        int r = o.ropeDims(), dkv = o.kvRank();
        if (o.cacheValues() != ConvertOptions.AUTO) {
            if (o.cacheValues() % hkv != 0) {
                throw new ConversionException("--kv-cache " + o.cacheValues() + " is not a multiple of the "
                        + hkv + " KV heads (mha2mla caches r + d_kv values per KV head)");
            }
            int perHead = o.cacheValues() / hkv;
            if (r == ConvertOptions.AUTO && dkv != ConvertOptions.AUTO) r = perHead - dkv;
            if (r == ConvertOptions.AUTO) {
                // A quarter of the budget for RoPE dims, the rest latent; at least one latent dim, at most the rank.
                int rows = hkv * (2 * dh), maxPerHead = Math.min(e, rows) / hkv;
                r = Math.min(dh, 2 * (perHead / 4));
                if (perHead - r < 1) r = Math.max(0, (perHead - 1) / 2 * 2);
                if (perHead - r > maxPerHead) r = Math.min(dh, (perHead - maxPerHead + 1) / 2 * 2);
            }
            if (dkv == ConvertOptions.AUTO) dkv = perHead - r;
            if (r + dkv != perHead) {
                throw new ConversionException("--rope-dims " + r + " + --kv-rank " + dkv + " = " + (r + dkv)
                        + " values per KV head, but --kv-cache " + o.cacheValues() + " asks for " + perHead);
            }
        }
        if (r == ConvertOptions.AUTO) r = Math.max(2, dh / 8 / 2 * 2);
        if (dkv == ConvertOptions.AUTO) dkv = Math.max(1, dh / 4);
        if (r < 0 || r > dh || r % 2 != 0) {
            throw new ConversionException("--rope-dims " + r + " must be even and between 0 and the head size " + dh);
        }
        int nope = dh - r;
        int rows = hkv * (nope + dh);
        int c = dkv * hkv;
        int latentKey = 0;
        if (dkv < 1) throw new ConversionException("--kv-rank " + dkv + " must be at least 1");
        if (o.svd() == SvdMode.SPLIT) {
            if (nope == 0) throw new ConversionException("--svd split needs key dims without RoPE (--rope-dims < " + dh + ")");
            latentKey = c / 2;
            int maxK = Math.min(e, hkv * nope), maxV = Math.min(e, hkv * dh);
            if (latentKey > maxK || c - latentKey > maxV || latentKey < 1) {
                throw new ConversionException("--kv-rank " + dkv + " is larger than possible for --svd split: the key "
                        + "and value latents of " + latentKey + " and " + (c - latentKey) + " dims exceed their ranks "
                        + maxK + " and " + maxV);
            }
        } else if (c > Math.min(e, rows)) {
            throw new ConversionException("--kv-rank " + dkv + " (latent " + c + " = " + dkv + " x " + hkv
                    + " KV heads) is larger than possible: [W_k,nope ; W_v] has rank at most " + Math.min(e, rows)
                    + " (" + Math.min(e, rows) / hkv + " per KV head)");
        }
        if (o.ropeSelect() == ConvertOptions.RopeSelect.UNIFORM && r > 0 && (dh / 2) % (dh / r) != 0) {
            throw new ConversionException("--rope-select uniform needs (d_h/2) divisible by d_h/r (d_h " + dh + ", r " + r + ")");
        }
        return new ConversionPlan(hp, o, "mha2mla", r, c, latentKey, nope, 0, false, null, 1.0);
    }

    private static ConversionPlan transmla(Hyperparameters hp, ConvertOptions o) {
        int dh = hp.headDimK(), lat = hp.kvHeads() * dh;
        if (hp.qkvBias()) {
            throw new ConversionException("the input has attention biases (qwen2), which a stock deepseek2 file cannot "
                    + "express (formats.md, 'What cannot be expressed'); use --method mha2mla or --lossless");
        }
        int m = o.ropeDim();
        if (m == ConvertOptions.AUTO) {
            // min(64, d_h), or for a cache budget the largest rope dim dividing d_h that leaves the latent at least
            // half the budget (the search, where it runs, then measures the others).
            m = Math.min(64, dh);
            if (o.cacheValues() != ConvertOptions.AUTO) {
                int most = Math.max(2, o.cacheValues() / 2);
                while (m > 2 && (m > most || dh % m != 0)) m -= 2;
            }
        }
        if (m < 2 || m > dh || m % 2 != 0 || dh % m != 0) {
            throw new ConversionException("--rope-dim " + m + " must be even and divide the head size " + dh);
        }
        int c; // (a budget of 1 gives c = -1: not to be read as AUTO)
        if (o.cacheValues() != ConvertOptions.AUTO) c = o.cacheValues() - m;
        else if (o.kvLoraRank() != ConvertOptions.AUTO) c = o.kvLoraRank();
        else c = Math.min(512, 2 * lat - m);
        if (c < 1 || c > 2 * lat - m) {
            String what = o.cacheValues() != ConvertOptions.AUTO
                    ? "--kv-cache " + o.cacheValues() + " (kv-lora-rank " + c + " + rope-dim " + m + ")"
                    : "--kv-lora-rank " + c;
            throw new ConversionException(what + " is " + (c < 1 ? "smaller" : "larger") + " than possible: the latent "
                    + "must be between 1 and 2 x " + hp.kvHeads() + " x " + dh + " - " + m + " = " + (2 * lat - m));
        }
        int q = o.qLoraRank();
        if (q < 0 || q > Math.min(hp.embeddingLength(), hp.heads() * dh)) {
            throw new ConversionException("--q-lora-rank " + q + " is larger than possible: at most min(n_embd, n_head x d_h) = "
                    + Math.min(hp.embeddingLength(), hp.heads() * dh));
        }
        if (q > 0 && (hp.layers() == 26 || hp.layers() == 27)) {
            throw new ConversionException("--q-lora-rank: llama.cpp reads deepseek2 models of " + hp.layers()
                    + " layers as 'lite' models without query compression (formats.md); leave it 0");
        }
        int collapse = dh / m, f = o.freqFold();
        if (f != ConvertOptions.AUTO && (f < 1 || f % collapse != 0 || (dh / 2) % f != 0)) {
            throw new ConversionException("--freqfold " + f + " must be a multiple of d_h/m = " + collapse
                    + " that divides d_h/2 = " + dh / 2);
        }
        return new ConversionPlan(hp, o, "deepseek2", m, c, 0, dh, f, false, null, 1.0);
    }

    /** {@return KV cache values per token and layer of the source (2 x n_kv x d_h)} */
    public int sourceCacheValues() {
        return 2 * source.kvHeads() * source.headDimK();
    }

    /** {@return KV cache values per token and layer of the output: latent + rope keys} */
    public int cacheValues() {
        return latent + (arch.equals("deepseek2") ? ropeDims : source.kvHeads() * ropeDims);
    }

    /** {@return the share of the KV cache removed, in percent} */
    public double reductionPercent() {
        return 100.0 * (1.0 - (double) cacheValues() / sourceCacheValues());
    }

    /**
     * {@return the attention tensors of one layer, ggml shapes (innermost first)}
     *
     * @param layer the layer
     */
    public List<TensorSpec> layerTensors(int layer) {
        Hyperparameters hp = source;
        long e = hp.embeddingLength(), h = hp.heads(), hkv = hp.kvHeads(), dh = hp.headDimK();
        String p = "blk." + layer + ".";
        List<TensorSpec> t = new ArrayList<>();
        if (arch.equals("deepseek2")) {
            long m = ropeDims;
            long q = options.qLoraRank();
            if (q > 0) {
                t.add(new TensorSpec(p + "attn_q_a.weight", new long[] {e, q}, "query compression, F32/BF16"));
                t.add(new TensorSpec(p + "attn_q_a_norm.weight", new long[] {q}, "query latent RMSNorm"));
                t.add(new TensorSpec(p + "attn_q_b.weight", new long[] {q, h * (dh + m)}, "per head [q_nope d_h | q_pe m]"));
            } else {
                t.add(new TensorSpec(p + "attn_q.weight", new long[] {e, h * (dh + m)}, "per head [q_nope d_h | q_pe m]"));
            }
            t.add(new TensorSpec(p + "attn_kv_a_mqa.weight", new long[] {e, latent + m}, "[latent C | k_pe m], F32/BF16"));
            t.add(new TensorSpec(p + "attn_kv_a_norm.weight", new long[] {latent}, "latent RMSNorm"));
            t.add(new TensorSpec(p + "attn_k_b.weight", new long[] {dh, latent, h}, "W_UK per head, transposed"));
            t.add(new TensorSpec(p + "attn_v_b.weight", new long[] {latent, dh, h}, "W_UV per head"));
        } else {
            long r = ropeDims;
            t.add(new TensorSpec(p + "attn_q.weight", new long[] {e, h * dh}, "per head [q_nope " + nope + " | q_rope " + r + "]"));
            if (hp.qkvBias()) t.add(new TensorSpec(p + "attn_q.bias", new long[] {h * dh}, ""));
            if (r > 0) {
                t.add(new TensorSpec(p + "attn_k_rope.weight", new long[] {e, hkv * r}, "kept rope rows"));
                if (hp.qkvBias()) t.add(new TensorSpec(p + "attn_k_rope.bias", new long[] {hkv * r}, ""));
                t.add(new TensorSpec(p + "attn_rope_freqs", new long[] {r / 2, hkv}, "F32 frequencies"));
            }
            t.add(new TensorSpec(p + "attn_kv_a.weight", new long[] {e, latent}, identity ? "= W_v" : "W_DKV"));
            if (nope > 0) t.add(new TensorSpec(p + "attn_k_b.weight", new long[] {nope, latent, hkv}, "W_UK, transposed"));
            t.add(new TensorSpec(p + "attn_v_b.weight", new long[] {latent, dh, hkv}, identity ? "identity" : "W_UV"));
            if (hp.qkvBias()) t.add(new TensorSpec(p + "attn_v_b.bias", new long[] {hkv * dh}, "value bias"));
        }
        return t;
    }

    /** {@return the plan as printed by --dry-run} */
    public String describe() {
        Hyperparameters hp = source;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "source: %s, %d layers, n_embd %d, %d heads, %d KV heads, head dim %d%n",
                hp.architecture(), hp.layers(), hp.embeddingLength(), hp.heads(), hp.kvHeads(), hp.headDimK()));
        String method = options.lossless() ? options.method().name().toLowerCase(Locale.ROOT) + " (lossless)"
                : options.method().name().toLowerCase(Locale.ROOT);
        b.append("method: ").append(method).append(" -> ").append(arch).append('\n');
        if (arch.equals("deepseek2")) {
            b.append(String.format(Locale.ROOT, "  kv_lora_rank %d, q_lora_rank %d, rope dim %d (collapse %d), freqfold %s, "
                    + "latent norm %s, BKV-PCA from %s%n", latent, options.qLoraRank(), ropeDims, hp.headDimK() / ropeDims,
                    freqFold == ConvertOptions.AUTO ? "auto" : Integer.toString(freqFold),
                    options.latentNorm().name().toLowerCase(Locale.ROOT),
                    options.pcaFromActivations() ? "activations" : "weights"));
        } else if (identity) {
            b.append(String.format(Locale.ROOT, "  RoPE on all %d key dims per KV head, latent = the %d values (identity up-projection)%n",
                    ropeDims, latent));
        } else {
            b.append(String.format(Locale.ROOT, "  rope dims r %d per KV head (%s), d_kv %d per KV head (latent %d), svd %s%s%s%n",
                    ropeDims, options.ropeSelect().name().toLowerCase(Locale.ROOT).replace('_', '-'),
                    latent / hp.kvHeads(), latent, options.svd().name().toLowerCase(Locale.ROOT),
                    options.whiten() ? ", whitened" : "", options.refit() ? ", least-squares refit" : ""));
        }
        b.append("tensors of each layer (ggml shapes; the rest is copied):\n");
        for (TensorSpec t : layerTensors(0)) {
            StringBuilder shape = new StringBuilder("[");
            for (int i = 0; i < t.shape().length; i++) shape.append(i == 0 ? "" : ", ").append(t.shape()[i]);
            b.append(String.format(Locale.ROOT, "  %-28s %-20s %s%n", t.name().substring(t.name().indexOf('.', 4) + 1),
                    shape.append(']'), t.note()));
        }
        b.append(String.format(Locale.ROOT, "KV cache values per token per layer: %d -> %d (%.2f%% removed)%n",
                sourceCacheValues(), cacheValues(), reductionPercent()));
        b.append(ConversionCost.describe(this));
        return b.toString();
    }
}
