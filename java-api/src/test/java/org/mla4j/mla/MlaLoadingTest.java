package org.mla4j.mla;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mla4j.Mla4jException;
import org.mla4j.MlaHyperparameters;
import org.mla4j.Model;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.gguf.TensorSource;
import org.mla4j.synth.MlaSynthSpec;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;

/** Loading deepseek2 and mha2mla: hyperparameters, KV bytes per token, and the files that must be refused. */
class MlaLoadingTest {

    @TempDir
    Path tmp;

    /** Copies a GGUF file with one key replaced (or added). */
    Path withKey(Path src, String name, String key, long value) throws Exception {
        Path out = tmp.resolve(name);
        try (GgufFile g = GgufFile.open(src); GgufWriter w = GgufWriter.create(out)) {
            for (String k : g.keys()) if (!k.equals(key) && !k.equals("general.alignment")) w.copyFrom(g, k);
            w.putUInt32(key, value);
            for (GgufTensorInfo t : g.tensors()) w.addTensor(t.name(), t.type(), t.shape(), TensorSource.of(g.tensorData(t)));
            w.commit();
        }
        return out;
    }

    @Test
    void deepseek2HyperparametersAndCacheSizes() throws Exception {
        Path file = tmp.resolve("ds.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-small"), GgmlType.Q8_0, 1, file, ProgressListener.NONE);
        try (Model m = Model.load(file)) {
            MlaHyperparameters x = m.mla().orElseThrow();
            assertEquals(new MlaHyperparameters(128, 96, 32, 32, 1, true, (float) (1 / Math.sqrt(64))), x);
            assertEquals(160, x.cacheWidth());
            assertEquals("deepseek2", m.hparams().architecture());
            assertEquals(4 * 160 * 2, m.kvBytesPerToken(GgmlType.F16));
        }
    }

    @Test
    void mha2mlaHyperparameters() throws Exception {
        Path file = tmp.resolve("mm.gguf");
        Synth.write(MlaSynthSpec.preset("mha2mla-small"), GgmlType.F16, 1, file, ProgressListener.NONE);
        try (Model m = Model.load(file)) {
            MlaHyperparameters x = m.mla().orElseThrow();
            // latent 96 shared + 4 KV heads x 8 rope dims; head dim 32 -> nope 24, scale 1/sqrt(32)
            assertEquals(new MlaHyperparameters(96, 0, 24, 8, 4, false, (float) (1 / Math.sqrt(32))), x);
            assertEquals(4 * 128 * 4, m.kvBytesPerToken(GgmlType.F32));
            assertEquals(4 * 4 * 34, m.kvBytesPerToken(GgmlType.Q8_0));
        }
    }

    @Test
    void fileClaimingExpertsWithoutThemIsRefusedClearly() throws Exception {
        Path file = tmp.resolve("ds-tiny.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-tiny"), GgmlType.F32, 1, file, ProgressListener.NONE);
        // Layer 1 becomes a MoE layer, but the file has no expert keys or tensors.
        Path moe = withKey(file, "moe.gguf", "deepseek2.leading_dense_block_count", 1);
        Mla4jException e = assertThrows(Mla4jException.class, () -> Model.load(moe));
        assertEquals("MLA4J_ERR_FORMAT", e.statusName());
        assertTrue(e.getMessage().contains("moe.gguf: missing required key 'deepseek2.expert_count'"), e.getMessage());
        Path counted = withKey(moe, "counted.gguf", "deepseek2.expert_count", 4);
        Path used = withKey(counted, "used.gguf", "deepseek2.expert_used_count", 2);
        e = assertThrows(Mla4jException.class, () -> Model.load(used));
        assertTrue(e.getMessage().contains("missing tensor 'blk.1.ffn_gate_inp.weight'"), e.getMessage());
        // An expert count on a model whose layers are all dense is not used (as in llama.cpp): it loads.
        Path experts = withKey(file, "experts.gguf", "deepseek2.expert_count", 4);
        try (Model m = Model.load(experts)) {
            assertEquals(2, m.hparams().layers());
        }
    }

    @Test
    void missingAbsorptionTensorsAreNamed() throws Exception {
        Path file = tmp.resolve("ds-tiny.gguf");
        Synth.write(MlaSynthSpec.preset("deepseek2-tiny"), GgmlType.F32, 1, file, ProgressListener.NONE);
        Path noQlora = withKey(file, "q.gguf", "deepseek2.attention.q_lora_rank", 8); // q_a/q_b tensors absent
        Mla4jException e = assertThrows(Mla4jException.class, () -> Model.load(noQlora));
        assertTrue(e.getMessage().contains("missing tensor 'blk.0.attn_q_a.weight'"), e.getMessage());
    }
}
