package org.mla4j.moe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.mla4j.Model;
import org.mla4j.Session;
import org.mla4j.gguf.GgmlType;
import org.mla4j.gguf.GgufFile;
import org.mla4j.gguf.GgufTensorInfo;
import org.mla4j.gguf.GgufWriter;
import org.mla4j.gguf.TensorSource;
import org.mla4j.synth.ProgressListener;
import org.mla4j.synth.Synth;
import org.mla4j.synth.SynthSpec;

/**
 * YaRN RoPE scaling in llama (NORM rope) and qwen2 (NEOX) files: llama.cpp's logits within 1e-4 and its greedy
 * tokens. The files are the tiny synth presets (seed 7, F32; the hash recorded with the data proves the same
 * weights) with rope.scaling.type yarn, factor 4 and original context 64 added (moe-reference/README.md).
 */
class YarnLlamaCppTest {

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"yarn-llama", "yarn-qwen2"})
    void matchesLlamaCpp(String name) throws Exception {
        String line = Arrays.stream(MoeLlamaCppTest.read("yarn-index.txt").split("\n")).filter(l -> l.startsWith(name + " "))
                .findFirst().orElseThrow();
        String[] f = line.trim().split("\\s+");
        Path base = tmp.resolve("base.gguf"), file = tmp.resolve(name + ".gguf");
        Synth.write(SynthSpec.preset(f[1]), GgmlType.F32, 7, base, ProgressListener.NONE);
        assertEquals(f[2], MoeLlamaCppTest.sha256(base), "the synthesizer no longer writes the file llama.cpp read");
        try (GgufFile g = GgufFile.open(base); GgufWriter w = GgufWriter.create(file)) {
            String arch = g.getString("general.architecture").orElseThrow();
            for (String k : g.keys()) if (!k.equals("general.alignment")) w.copyFrom(g, k);
            w.putString(arch + ".rope.scaling.type", "yarn");
            w.putFloat32(arch + ".rope.scaling.factor", Float.parseFloat(f[3]));
            w.putUInt32(arch + ".rope.scaling.original_context_length", Long.parseLong(f[4]));
            for (GgufTensorInfo t : g.tensors()) w.addTensor(t.name(), t.type(), t.shape(), TensorSource.of(g.tensorData(t)));
            w.commit();
        }
        ByteBuffer b = ByteBuffer.wrap(MoeLlamaCppTest.readBytes(name + ".bin")).order(ByteOrder.LITTLE_ENDIAN);
        int nVocab = b.getInt(), nPrompt = b.getInt(), nTotal = b.getInt();
        int[] tokens = new int[nTotal];
        for (int i = 0; i < nTotal; i++) tokens[i] = b.getInt();
        float[][] ref = new float[nTotal][nVocab];
        for (float[] row : ref) for (int v = 0; v < nVocab; v++) row[v] = b.getFloat();
        try (Model m = Model.load(file);
                Session s = m.newSession(Session.Options.defaults().withContextSize(64).withThreads(2)
                        .withKvType(GgmlType.F32))) {
            float[][] batch = s.evalAllLogits(Arrays.copyOf(tokens, nPrompt));
            float[] last = null;
            for (int i = 0; i < nTotal; i++) {
                if (i >= nPrompt) {
                    assertEquals(tokens[i], MoeLlamaCppTest.argmax(last), name + ": greedy token " + i);
                }
                last = i < nPrompt ? batch[i] : s.eval(tokens[i]).clone();
                double d = MoeLlamaCppTest.maxDiff(last, ref[i]);
                assertTrue(d <= MoeLlamaCppTest.TOLERANCE, name + ": position " + i + " differs from llama.cpp by " + d);
            }
        }
    }
}
