package org.mla4j.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.mla4j.Hyperparameters;
import org.mla4j.convert.ConvertOptions.Method;

/** The KV-cache arithmetic of both papers (mla-conversion.md, "Cache contents" and TransMLA "Shapes"). */
class ConversionPlanTest {
    /** Llama-2-7B: d 4096, 32 heads, 32 KV heads, head dim 128, 11008 FFN. */
    static final Hyperparameters LLAMA2_7B = new Hyperparameters("llama", 32000, 4096, 4096, 32, 32, 32, 128, 128,
            11008, 128, false, 10000f, 1f, 1e-5f, false, false);

    @Test
    void mha2mlaLlama2PaperFigures() {
        int[] dkv = {64, 32, 16};
        double[] removed = {68.75, 81.25, 87.5};
        for (int i = 0; i < dkv.length; i++) {
            ConversionPlan p = ConversionPlan.of(LLAMA2_7B, ConvertOptions.defaults(Method.MHA2MLA).withRopeDims(16)
                    .withKvRank(dkv[i]));
            assertEquals(8192, p.sourceCacheValues());
            assertEquals(32 * (16 + dkv[i]), p.cacheValues());
            assertEquals(removed[i], p.reductionPercent(), 1e-9);
            assertEquals(dkv[i] * 32, p.latent());
            assertEquals(112, p.nope());
        }
    }

    @Test
    void transmlaLlama2PaperFigures() {
        ConversionPlan p = ConversionPlan.of(LLAMA2_7B, ConvertOptions.defaults(Method.TRANSMLA));
        assertEquals("deepseek2", p.arch());
        assertEquals(512, p.latent());
        assertEquals(64, p.ropeDims());
        assertEquals(576, p.cacheValues());
        assertEquals(92.97, p.reductionPercent(), 0.005);
        String text = p.describe();
        assertTrue(text.contains("8192 -> 576 (92.97% removed)"), text);
        assertTrue(text.contains("attn_q.weight                [4096, 6144]"), text);
        assertTrue(text.contains("attn_kv_a_mqa.weight         [4096, 576]"), text);
        assertTrue(text.contains("attn_k_b.weight              [128, 512, 32]"), text);
    }

    @Test
    void losslessKeepsTheWholeCache() {
        for (Method m : Method.values()) {
            ConversionPlan p = ConversionPlan.of(LLAMA2_7B, ConvertOptions.defaults(m).withLossless(true));
            assertEquals("mha2mla", p.arch());
            assertEquals(8192, p.cacheValues());
            assertEquals(0.0, p.reductionPercent(), 0.0);
        }
    }

    @Test
    void impossibleRequestsAreRefusedWithTheReason() {
        ConversionException e = assertThrows(ConversionException.class, () -> ConversionPlan.of(LLAMA2_7B,
                ConvertOptions.defaults(Method.MHA2MLA).withRopeDims(16).withKvRank(300)));
        assertTrue(e.getMessage().contains("larger than possible"), e.getMessage());
        e = assertThrows(ConversionException.class, () -> ConversionPlan.of(LLAMA2_7B,
                ConvertOptions.defaults(Method.MHA2MLA).withRopeDims(15)));
        assertTrue(e.getMessage().contains("must be even"), e.getMessage());
        e = assertThrows(ConversionException.class, () -> ConversionPlan.of(LLAMA2_7B,
                ConvertOptions.defaults(Method.TRANSMLA).withKvLoraRank(8129)));
        assertTrue(e.getMessage().contains("larger than possible"), e.getMessage());
        e = assertThrows(ConversionException.class, () -> ConversionPlan.of(LLAMA2_7B,
                ConvertOptions.defaults(Method.TRANSMLA).withRopeDim(48)));
        assertTrue(e.getMessage().contains("divide the head size"), e.getMessage());
        Hyperparameters qwen = new Hyperparameters("qwen2", 1000, 512, 64, 2, 4, 2, 16, 16, 128, 16, true, 1e6f, 1f,
                1e-6f, false, true);
        e = assertThrows(ConversionException.class, () -> ConversionPlan.of(qwen, ConvertOptions.defaults(Method.TRANSMLA)));
        assertTrue(e.getMessage().contains("biases"), e.getMessage());
    }

    @Test
    void cacheBudgetSplitsIntoRopeAndLatent() {
        Hyperparameters stories = new Hyperparameters("llama", 512, 2048, 64, 5, 8, 4, 8, 8, 172, 8, false, 10000f, 1f,
                1e-5f, true, false);
        ConversionPlan p = ConversionPlan.of(stories, ConvertOptions.defaults(Method.MHA2MLA).withCacheValues(32).withRopeDims(2));
        assertEquals(32, p.cacheValues());
        assertEquals(24, p.latent());
        ConversionPlan t = ConversionPlan.of(stories, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(16));
        assertEquals(16, t.cacheValues());
        assertEquals(8, t.ropeDims());
        assertEquals(8, t.latent());
    }

    /** kjv-gqa-4l's shape (n_embd 256, 4 heads, 2 KV heads of 64): GQA cache 256 values per token and layer. */
    static final Hyperparameters KJV_GQA = new Hyperparameters("llama", 260, 256, 256, 4, 4, 2, 64, 64, 688, 64, false,
            10000f, 1f, 1e-5f, false, false);

    @Test
    void everyExpressibleCacheBudgetWorksAlone() {
        // transmla caches rope dim m (even, dividing d_h) + latent C >= 1: every N from 3 to 2 x 2 x 64 = 256.
        for (int n = 3; n <= 256; n++) {
            ConversionPlan t = ConversionPlan.of(KJV_GQA, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(n));
            assertEquals(n, t.cacheValues(), "transmla --kv-cache " + n);
            assertTrue(t.latent() >= t.ropeDims() || t.ropeDims() == 2, "the latent keeps at least half: " + n);
        }
        assertEquals(32, ConversionPlan.of(KJV_GQA, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(64)).ropeDims());
        // mha2mla caches n_kv x (r + d_kv) with d_kv >= 1: every multiple of the 2 KV heads up to 2 x (64 + 128).
        for (int n = 2; n <= 256; n += 2) {
            ConversionPlan p = ConversionPlan.of(KJV_GQA, ConvertOptions.defaults(Method.MHA2MLA).withCacheValues(n));
            assertEquals(n, p.cacheValues(), "mha2mla --kv-cache " + n);
        }
    }

    @Test
    void tooSmallBudgetsSaySmaller() {
        for (int n : new int[] {1, 2}) {
            ConversionException e = assertThrows(ConversionException.class,
                    () -> ConversionPlan.of(KJV_GQA, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(n)));
            assertTrue(e.getMessage().contains("smaller than possible"), e.getMessage());
        }
        ConversionException e = assertThrows(ConversionException.class,
                () -> ConversionPlan.of(KJV_GQA, ConvertOptions.defaults(Method.TRANSMLA).withCacheValues(257)));
        assertTrue(e.getMessage().contains("larger than possible"), e.getMessage());
    }
}
