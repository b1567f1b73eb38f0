package org.mla4j.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.gguf.TensorSource;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;
import org.mla4j.tokenizer.Tokenizer;

/** GGUF -> Hugging Face directory -> GGUF gives back the same tensors, the same logits and the same tokenizer. */
class HfRoundTripTest {
    @TempDir
    Path tmp;

    static final int[] TOKENS = {1, 300, 17, 299, 450, 2, 261, 400, 333, 12, 280, 501};
    static final List<String> TEXTS = List.of("hello world", "Once upon a time, there was a cat.", "  two  spaces",
            "zq xj 123 !?", "\u00e9t\u00e9 \u2603 emoji \uD83D\uDE00");

    @Test
    void llamaTiny() throws IOException {
        roundTrip(synth(SynthSpec.preset("tiny")), Long.MAX_VALUE);
    }

    @Test
    void qwen2Tiny() throws IOException {
        roundTrip(synth(SynthSpec.preset("qwen2-tiny")), Long.MAX_VALUE);
    }

    /**
     * With rms_norm_eps 1e-6 a deepseek2 model exports without rescaling (docs/FORMAT.md, "Hugging Face export"), so
     * its round trip is byte-exact; other epsilons are covered by {@link #deepseek2NormEpsCompensation}.
     */
    @Test
    void deepseek2TinyAndQLora() throws IOException {
        MlaSynthSpec t = MlaSynthSpec.preset("deepseek2-tiny");
        Path a = tmp.resolve("ds.gguf");
        Synth.write(deepseek2(t, t.qLoraRank(), t.vDim(), 1e-6f), GgmlType.F32, 7, a, ProgressListener.NONE);
        roundTrip(a, Long.MAX_VALUE);
        Path q = tmp.resolve("dsq.gguf");
        Synth.write(deepseek2(t, 48, 24, 1e-6f), GgmlType.F32, 8, q, ProgressListener.NONE);
        roundTrip(q, Long.MAX_VALUE);
    }

    /**
     * rms_norm_eps 1e-5, tied embeddings: config.json says 1e-6 and exactly the tensors docs/FORMAT.md lists are
     * scaled, by a = sqrt(1e-6 / 1e-5) (the KV latent rows only, not the rope rows; the final norm by 1/a as the
     * embeddings are tied); every other tensor is copied bit for bit; and the float64 reference reading of the
     * export (both eps semantics) gives mla4j's logits of the GGUF.
     */
    @Test
    void deepseek2NormEpsCompensation() throws IOException {
        MlaSynthSpec t = MlaSynthSpec.preset("deepseek2-tiny");
        Path untied = tmp.resolve("ds-eps-untied.gguf");
        Synth.write(deepseek2(t, 48, 24, 1e-5f), GgmlType.F32, 9, untied, ProgressListener.NONE);
        Path a = tmp.resolve("ds-eps.gguf");
        try (GgufFile g = GgufFile.open(untied); GgufWriter w = GgufWriter.create(a)) {
            for (String k : g.keys()) if (!k.equals("general.alignment")) w.copyFrom(g, k);
            for (GgufTensorInfo x : g.tensors()) {
                if (!x.name().equals("output.weight")) w.addTensor(x.name(), x.type(), x.shape(), TensorSource.of(g.tensorData(x)));
            }
            w.commit();
        }
        Path dir = tmp.resolve("ds-eps-hf");
        double f = Math.sqrt(1e-6 / 1e-5f);
        try (GgufFile g = GgufFile.open(a)) {
            assertTrue(g.tensor("output.weight").isEmpty(), "tied");
            GgufToHf.write(g, dir, GgmlType.F32, ProgressListener.NONE);
            assertTrue(Files.readString(dir.resolve(HfModelDir.CONFIG)).contains("\"rms_norm_eps\" : 1.0E-6"));
            try (SafetensorsFile st = SafetensorsFile.open(dir.resolve(HfModelDir.SINGLE))) {
                int checked = 0;
                for (String name : st.names()) {
                    String gguf = switch (name) {
                        case "model.embed_tokens.weight" -> "token_embd.weight";
                        case "model.norm.weight" -> "output_norm.weight";
                        default -> null;
                    };
                    String layer = name.replaceAll("^model\\.layers\\.(\\d+)\\..*", "$1");
                    String suffix = name.replaceAll("^model\\.layers\\.\\d+\\.", "");
                    if (gguf == null) {
                        gguf = "blk." + layer + "." + switch (suffix) {
                            case "self_attn.q_a_proj.weight" -> "attn_q_a.weight";
                            case "self_attn.kv_a_proj_with_mqa.weight" -> "attn_kv_a_mqa.weight";
                            case "self_attn.o_proj.weight" -> "attn_output.weight";
                            case "mlp.down_proj.weight" -> "ffn_down.weight";
                            default -> "-";
                        };
                    }
                    GgufTensorInfo info = g.tensor(gguf).orElse(null);
                    java.lang.foreign.MemorySegment hf = st.tensor(name).orElseThrow().data();
                    if (info == null) {
                        // copied tensors: compare with an unscaled export below
                        continue;
                    }
                    java.lang.foreign.MemorySegment src = g.tensorData(info);
                    long cols = info.shape()[0];
                    for (long i = 0; i < info.elementCount(); i++) {
                        double factor = switch (suffix) {
                            case "model.norm.weight" -> 1 / f;
                            case "self_attn.kv_a_proj_with_mqa.weight" -> i / cols < t.kvLoraRank() ? f : 1;
                            default -> f;
                        };
                        float x = src.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                        float y = hf.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                        assertEquals(x * factor, y, 1e-6 * Math.abs(x), name + " element " + i);
                    }
                    checked++;
                }
                assertEquals(2 + 4 * t.nLayer(), checked);
            }
        }
        // Every other tensor equals the unscaled export's, bit for bit.
        Path plain = tmp.resolve("ds-eps-plain-hf");
        try (GgufFile g = GgufFile.open(a)) {
            GgufToHf.write(g, plain, GgmlType.F32, GgufToHf.DEFAULT_SHARD_BYTES, false, ProgressListener.NONE);
        }
        try (SafetensorsFile x = SafetensorsFile.open(dir.resolve(HfModelDir.SINGLE));
                SafetensorsFile y = SafetensorsFile.open(plain.resolve(HfModelDir.SINGLE))) {
            int same = 0;
            for (String name : x.names()) {
                if (x.tensor(name).orElseThrow().data().mismatch(y.tensor(name).orElseThrow().data()) == -1) same++;
            }
            assertEquals(x.names().size() - (2 + 4 * t.nLayer()), same);
        }
        float[][] expected;
        try (Model m = Model.load(a);
                Session s = m.newSession(Session.Options.defaults().withThreads(1).withKvType(GgmlType.F32))) {
            expected = s.evalAllLogits(TOKENS);
        }
        for (DeepseekV3Reference.Semantics sem : DeepseekV3Reference.Semantics.values()) {
            double[][] ref = DeepseekV3Reference.logits(dir, TOKENS, sem);
            for (int i = 0; i < ref.length; i++) {
                for (int v = 0; v < ref[i].length; v++) assertEquals(expected[i][v], ref[i][v], 1e-4, sem + " " + i + " " + v);
            }
        }
    }

    private static MlaSynthSpec deepseek2(MlaSynthSpec t, int qLora, int vDim, float eps) {
        return new MlaSynthSpec(t.arch(), qLora > 0 ? "q-lora" : t.name(), t.nEmbd(), t.nLayer(), t.nHead(), t.nHeadKv(),
                t.nFf(), t.nVocab(), t.nCtx(), t.kvLoraRank(), qLora, t.ropeDim(), t.nopeDim(), vDim, false, true,
                false, t.ropeBase(), eps);
    }

    @Test
    void shardedIntoTwoFiles() throws IOException {
        Path a = synth(SynthSpec.preset("tiny"));
        long total, last;
        try (GgufFile g = GgufFile.open(a)) {
            total = g.tensors().stream().mapToLong(GgufTensorInfo::byteSize).sum();
            last = g.tensor("output.weight").orElseThrow().byteSize();
        }
        Path dir = roundTrip(a, total - last);
        assertTrue(Files.isRegularFile(dir.resolve("model-00001-of-00002.safetensors")));
        assertTrue(Files.isRegularFile(dir.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.isRegularFile(dir.resolve(HfModelDir.INDEX)));
        assertFalse(Files.exists(dir.resolve(HfModelDir.SINGLE)));
        try (HfModelDir d = HfModelDir.open(dir)) {
            assertEquals(dir.resolve("model-00002-of-00002.safetensors"),
                    d.tensor("lm_head.weight").map(t -> shardOf(d, "lm_head.weight")).orElseThrow());
        }
    }

    @Test
    void bf16OutputOfAQuantizedModelLoadsAndRuns() throws IOException {
        Path a = tmp.resolve("q8.gguf");
        Synth.write(SynthSpec.preset("tiny"), GgmlType.Q8_0, 3, a, ProgressListener.NONE);
        Path dir = tmp.resolve("q8-hf");
        try (GgufFile g = GgufFile.open(a)) {
            assertEquals(GgmlType.BF16, GgufToHf.defaultDtype(g));
            GgufToHf.write(g, dir, null, ProgressListener.NONE);
        }
        try (HfModelDir d = HfModelDir.open(dir)) {
            assertEquals(SafetensorsDtype.BF16, d.tensor("model.layers.0.self_attn.q_proj.weight").orElseThrow().dtype());
            assertTrue(d.config().torchDtype().equals("bfloat16"));
        }
        // Q8_0 -> BF16 loses little: the logits of the directory stay close to the Q8_0 model's.
        try (Model q8 = Model.load(a); Model hf = Model.load(dir);
                Session s1 = q8.newSession(Session.Options.defaults().withThreads(1));
                Session s2 = hf.newSession(Session.Options.defaults().withThreads(1))) {
            float[] x = s1.eval(TOKENS), y = s2.eval(TOKENS);
            double num = 0, den = 0;
            for (int i = 0; i < x.length; i++) {
                num += (x[i] - y[i]) * (x[i] - y[i]);
                den += x[i] * x[i];
            }
            assertTrue(Math.sqrt(num / den) < 0.05, "relative logit error " + Math.sqrt(num / den));
        }
    }

    private Path synth(SynthSpec spec) throws IOException {
        Path p = tmp.resolve(spec.name() + ".gguf");
        Synth.write(spec, GgmlType.F32, 11, p, ProgressListener.NONE);
        return p;
    }

    /** a -> HF dir -> b; tensor bytes, tokenizer and logits of b equal a's. Returns the directory. */
    private Path roundTrip(Path a, long shardBytes) throws IOException {
        Path dir = tmp.resolve(a.getFileName() + "-hf");
        Path b = tmp.resolve(a.getFileName() + "-back.gguf");
        try (GgufFile g = GgufFile.open(a)) {
            assertEquals(GgmlType.F32, GgufToHf.defaultDtype(g));
            GgufToHf.write(g, dir, null, shardBytes, ProgressListener.NONE);
        }
        try (HfModelDir d = HfModelDir.open(dir)) {
            HfToGguf.write(d, b, ProgressListener.NONE);
        }
        try (GgufFile ga = GgufFile.open(a); GgufFile gb = GgufFile.open(b)) {
            assertEquals(ga.tensors().size(), gb.tensors().size());
            for (GgufTensorInfo t : ga.tensors()) {
                GgufTensorInfo u = gb.tensor(t.name()).orElseThrow(() -> new AssertionError("no " + t.name()));
                assertArrayEquals(t.shape(), u.shape(), t.name());
                assertEquals(t.type(), u.type(), t.name());
                assertEquals(-1L, ga.tensorData(t).mismatch(gb.tensorData(u)), t.name() + " bytes differ");
            }
            assertEquals(ga.getStringArray("tokenizer.ggml.tokens"), gb.getStringArray("tokenizer.ggml.tokens"));
            assertArrayEquals(ga.getIntArray("tokenizer.ggml.token_type").orElseThrow(),
                    gb.getIntArray("tokenizer.ggml.token_type").orElseThrow());
            for (String k : List.of("bos_token_id", "eos_token_id", "unknown_token_id", "add_bos_token")) {
                assertEquals(ga.contains("tokenizer.ggml." + k) ? ga.getValue("tokenizer.ggml." + k) : null,
                        gb.contains("tokenizer.ggml." + k) ? gb.getValue("tokenizer.ggml." + k) : null, k);
            }
        }
        try (Model ma = Model.load(a); Model mb = Model.load(b);
                Session sa = ma.newSession(Session.Options.defaults().withThreads(1));
                Session sb = mb.newSession(Session.Options.defaults().withThreads(1))) {
            assertEquals(ma.hparams(), mb.hparams());
            float[][] la = sa.evalAllLogits(TOKENS), lb = sb.evalAllLogits(TOKENS);
            for (int i = 0; i < la.length; i++) {
                for (int v = 0; v < la[i].length; v++) assertEquals(la[i][v], lb[i][v], 1e-5f, "token " + i + " logit " + v);
            }
            Tokenizer ta = ma.tokenizer(), tb = mb.tokenizer();
            for (String s : TEXTS) assertArrayEquals(ta.encode(s, true, false), tb.encode(s, true, false), s);
        }
        return dir;
    }

    /** The shard file that holds a tensor, by opening each shard. */
    static Path shardOf(HfModelDir d, String tensor) {
        try (var files = Files.list(d.dir())) {
            for (Path p : files.filter(f -> f.toString().endsWith(".safetensors")).toList()) {
                try (SafetensorsFile f = SafetensorsFile.open(p)) {
                    if (f.tensor(tensor).isPresent()) return p;
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        throw new AssertionError(tensor + " in no shard");
    }
}
