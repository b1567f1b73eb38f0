package org.mla4j.mla;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.Simd;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;

/**
 * Absorbed MLA decode and batched prefill against the plain reference (per-head keys and values decompressed
 * from the latent) for deepseek2 and mha2mla models of several shapes: q-LoRA on and off, rope dims 8, 16 and 64,
 * latent ranks 16 to 512, GQA groups 1 to 8, the attn_kv_b and attn_k_b/attn_v_b forms, latent norm on and off.
 * Batches below the native crossover (MLA_MHA_MIN_BATCH = 64 tokens) run the absorbed form, larger ones the
 * MHA (decompressed) form; both are checked, with every latent cache type.
 */
class MlaReferenceTest {

    @TempDir
    Path tmp;

    static final int TOKENS = 20; // crosses the native 4-token attention chunks and the 7-token batches
    /** Above the native crossover (64) and its 128-position key blocks: one batch of these runs the MHA form. */
    static final int LONG_TOKENS = 150;

    static MlaSynthSpec ds(String name, int e, int h, int c, int q, int r, int n, int dv, boolean legacy) {
        return new MlaSynthSpec("deepseek2", name, e, 2, h, 1, 2 * e, 300, 64, c, q, r, n, dv, legacy, true, false,
                10000f, 1e-5f);
    }

    static MlaSynthSpec mm(String name, int e, int h, int kv, int c, int r, int dh, boolean norm, boolean bias) {
        return new MlaSynthSpec("mha2mla", name, e, 2, h, kv, 2 * e, 300, 64, c, 0, r, dh - r, dh, false, norm, bias,
                10000f, 1e-5f);
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(ds("ds-r8-c16", 64, 4, 16, 0, 8, 8, 8, false)),
                Arguments.of(ds("ds-qlora-r16-c64-legacy", 64, 4, 64, 32, 16, 16, 16, true)),
                Arguments.of(ds("ds-qlora-r16-c48", 96, 3, 48, 24, 16, 24, 20, false)),
                Arguments.of(ds("ds-r64-c512", 128, 2, 512, 0, 64, 32, 32, false)),
                Arguments.of(mm("mm-g1-r8-c16-bias", 64, 4, 4, 16, 8, 16, true, true)),
                Arguments.of(mm("mm-g2-r16-c64", 64, 4, 2, 64, 16, 32, false, true)),
                Arguments.of(mm("mm-g8-r8-c32-norm", 64, 8, 1, 32, 8, 16, true, false)),
                Arguments.of(mm("mm-g4-r64-c128", 128, 8, 2, 128, 64, 96, false, false)));
    }

    static float maxRelDiff(float[] a, float[] ref) {
        float amax = 0, dmax = 0;
        for (int i = 0; i < a.length; i++) {
            amax = Math.max(amax, Math.abs(ref[i]));
            dmax = Math.max(dmax, Math.abs(a[i] - ref[i]));
        }
        return dmax / Math.max(amax, 1e-6f);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void absorbedDecodeAndPrefillMatchTheReference(MlaSynthSpec spec) throws Exception {
        Path file = tmp.resolve(spec.name() + ".gguf");
        Synth.write(spec, GgmlType.F32, 7, file, ProgressListener.NONE);
        int[] tokens = new int[TOKENS];
        for (int t = 0; t < TOKENS; t++) tokens[t] = t == 0 ? 1 : (t * 37 + 5) % 300;

        float[][] ref = new float[TOKENS][];
        try (GgufFile g = GgufFile.open(file)) {
            ReferenceMla reference = new ReferenceMla(g);
            for (int t = 0; t < TOKENS; t++) ref[t] = reference.step(tokens[t], t);
        }
        try (Model m = Model.load(file)) {
            for (Simd simd : new Simd[] {Simd.SCALAR, Simd.AUTO}) {
                Session.Options o = new Session.Options(64, 2, 512, GgmlType.F32, simd);
                try (Session decode = m.newSession(o); Session prefill = m.newSession(o);
                        Session chunked = m.newSession(o.withBatchSize(7))) {
                    float[][] batched = prefill.evalAllLogits(tokens);
                    float[][] inSevens = chunked.evalAllLogits(tokens);
                    for (int t = 0; t < TOKENS; t++) {
                        float[] one = decode.eval(tokens[t]);
                        float d1 = maxRelDiff(one, ref[t]), d2 = maxRelDiff(batched[t], ref[t]);
                        float d3 = maxRelDiff(inSevens[t], ref[t]);
                        assertTrue(d1 <= 1e-4f && d2 <= 1e-4f && d3 <= 1e-4f, spec.name() + " " + simd + " token " + t
                                + ": decode " + d1 + ", prefill " + d2 + ", prefill by 7 " + d3);
                    }
                }
            }
        }
    }

    static int[] tokens(int n) {
        int[] tokens = new int[n];
        for (int t = 0; t < n; t++) tokens[t] = t == 0 ? 1 : (t * 37 + 5) % 300;
        return tokens;
    }

    /** Values per cached row: the latent and the rope keys (one shared vector for deepseek2, one per KV head). */
    static int cacheWidth(MlaSynthSpec spec) {
        return spec.kvLoraRank() + (spec.arch().equals("deepseek2") ? 1 : spec.nHeadKv()) * spec.ropeDim();
    }

    /**
     * The MHA-form prefill (one batch of 150 tokens: a second, partial key block and a causal diagonal inside
     * blocks) against the reference with an F32 cache, and against the absorbed form for every cache type (F32 and
     * F16: both in float over the same rows, 1e-4 relative; Q8_0 and Q4_0: the absorbed form scores with int8
     * products, the queries quantized to Q8_0 as llama.cpp does for K*Q over a quantized cache, and sums the
     * latents in bf16 with AVX-512, a rounding of up to a few percent of the largest logit on these small random
     * models, so there the bound is a KL divergence of 1e-3 per token, acceptance 3's bound for the cache): after
     * the batch, positions are re-decoded one token at a time (the absorbed form) over the rows the batch cached,
     * latest first so that a re-decoded row is never read again. (Two sessions filled in different batch sizes
     * would differ by quantization flips of the cache rows, not by the attention form.)
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void mhaFormPrefillMatchesTheReferenceAndTheAbsorbedForm(MlaSynthSpec spec) throws Exception {
        Path file = tmp.resolve(spec.name() + ".gguf");
        Synth.write(spec, GgmlType.F32, 7, file, ProgressListener.NONE);
        int[] tokens = tokens(LONG_TOKENS);
        float[][] ref = new float[LONG_TOKENS][];
        try (GgufFile g = GgufFile.open(file)) {
            ReferenceMla reference = new ReferenceMla(g);
            for (int t = 0; t < LONG_TOKENS; t++) ref[t] = reference.step(tokens[t], t);
        }
        try (Model m = Model.load(file)) {
            for (GgmlType cache : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0}) {
                if (cache.blockSize() > 1 && cacheWidth(spec) % cache.blockSize() != 0) continue; // refused: tested elsewhere
                for (Simd simd : new Simd[] {Simd.SCALAR, Simd.AUTO}) {
                    Session.Options o = new Session.Options(2 * LONG_TOKENS, 2, 512, cache, simd);
                    try (Session s = m.newSession(o)) {
                        float[][] big = s.evalAllLogits(tokens);
                        for (int t = 0; t < LONG_TOKENS; t++) {
                            if (cache == GgmlType.F32) {
                                float dRef = maxRelDiff(big[t], ref[t]);
                                assertTrue(dRef <= 1e-4f, spec.name() + " " + simd + " token " + t + ": MHA form vs reference " + dRef);
                            }
                        }
                        float worst = 0;
                        for (int t = LONG_TOKENS - 1; t >= 0; t -= 7) {
                            s.setPosition(t);
                            float[] absorbedLogits = s.eval(tokens[t]);
                            String where = spec.name() + " " + cache + " " + simd + " token " + t;
                            if (cache == GgmlType.F32 || cache == GgmlType.F16) {
                                float dForms = maxRelDiff(big[t], absorbedLogits);
                                worst = Math.max(worst, dForms);
                                assertTrue(dForms <= 1e-4f, where + ": MHA form vs absorbed form " + dForms);
                            } else {
                                double kl = org.mla4j.eval.ReferenceMetrics.kl(big[t], absorbedLogits);
                                worst = Math.max(worst, (float) kl);
                                assertTrue(kl <= 1e-3, where + ": KL(MHA form || absorbed form) " + kl);
                            }
                        }
                        System.out.printf(java.util.Locale.ROOT, "%s %s %s: MHA form vs absorbed form, max %s %.2e%n",
                                spec.name(), cache, simd, cache.blockSize() > 1 ? "KL" : "rel. diff", worst);
                    }
                }
            }
        }
    }
}
